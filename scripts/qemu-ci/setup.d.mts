// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/** @param {string} text  `qemu-system-x86_64 --version` output */
export function parseQemuVersion(text: string): {
    major: number;
    minor: number;
    patch: number;
    text: string;
} | null;
/**
 * Upstream major of a Debian version string (`1:10.0.2+ds-2~bpo12+1` -> 10).
 * @param {string} version
 */
export function debianUpstreamMajor(version: string): number;
/**
 * From `apt-cache show linux-image-amd64` and a lookup of other packages,
 * the kernel ABI name (`7.2.13+deb14-amd64`) and the packages to download.
 * Debian 7.x splits the image into linux-{binary,modules,base}-<abi> behind a
 * tiny linux-image-<abi> metapackage; older layouts put everything in
 * linux-image-<abi> itself. Both are handled: every dependency named
 * linux-*-<abi> is taken, plus the image package.
 * @param {Record<string, string>} meta  fields of linux-image-amd64
 * @param {(pkg: string) => Record<string, string>} show
 */
export function resolveKernelPackages(meta: Record<string, string>, show: (pkg: string) => Record<string, string>): {
    release: string;
    version: string;
    packages: string[];
};
/**
 * `CONFIG_X=y` lines of a kernel config, as a map X -> value (unset options absent).
 * @param {string} text
 */
export function parseKernelConfig(text: string): Record<string, string>;
/**
 * Names of REQUIRED_CONFIG options the config lacks, with what it has.
 * @param {Record<string, string>} config
 */
export function missingConfig(config: Record<string, string>): string[];
/**
 * @param {import('./paths.mjs').CachePaths} paths
 * @returns {Manifest | null}
 */
export function readManifest(paths: import("./paths.mjs").CachePaths): Manifest | null;
/**
 * The QEMU binary, installed when missing or older than 8.0.
 * @param {import('./paths.mjs').CachePaths} paths
 * @param {(s: string) => void} log
 */
export function ensureQemu(paths: import("./paths.mjs").CachePaths, log: (s: string) => void): {
    path: string;
    version: string;
};
/**
 * Everything the guest needs, from the cache when it is complete.
 * @param {{ paths: import('./paths.mjs').CachePaths, refresh?: boolean, log?: (s: string) => void }} options
 * @returns {{ manifest: Manifest, qemu: { path: string, version: string }, cached: boolean, seconds: number }}
 */
export function setup({ paths, refresh, log }: {
    paths: import("./paths.mjs").CachePaths;
    refresh?: boolean;
    log?: (s: string) => void;
}): {
    manifest: Manifest;
    qemu: {
        path: string;
        version: string;
    };
    cached: boolean;
    seconds: number;
};
/**
 * A tool of the cached kmod (depmod, modprobe, modinfo).
 * @param {import('./paths.mjs').CachePaths} paths @param {'depmod' | 'modprobe' | 'modinfo'} tool
 */
export function kmodTool(paths: import("./paths.mjs").CachePaths, tool: "depmod" | "modprobe" | "modinfo"): string;
/**
 * What every guest needs besides its kernel: QEMU (installed when missing)
 * and busybox-static, reused from the stock kernel's setup when that has run,
 * else downloaded alone (a source-built kernel needs no kernel packages).
 * @param {{ paths: import('./paths.mjs').CachePaths, log?: (s: string) => void }} options
 * @returns {{ qemu: { path: string, version: string }, busybox: { path: string, version: string }, cached: boolean, seconds: number }}
 */
export function setupTools({ paths, log }: {
    paths: import("./paths.mjs").CachePaths;
    log?: (s: string) => void;
}): {
    qemu: {
        path: string;
        version: string;
    };
    busybox: {
        path: string;
        version: string;
    };
    cached: boolean;
    seconds: number;
};
/**
 * Kernel options the guest needs (README.md, "What it does", step 1); a sid
 * kernel that drops one fails setup with its name instead of a confusing boot.
 * `m` accepts y or m.
 */
export const REQUIRED_CONFIG: {
    readonly VFIO: "m";
    readonly VFIO_PCI: "m";
    readonly VFIO_PCI_DMABUF: "y";
    readonly VFIO_GROUP: "y";
    readonly VFIO_CONTAINER: "y";
    readonly VFIO_IOMMU_TYPE1: "m";
    readonly PCI_IOV: "y";
    readonly PCI_P2PDMA: "y";
    readonly DMA_SHARED_BUFFER: "y";
    readonly UDMABUF: "y";
    readonly DRM_VGEM: "m";
    readonly NET_9P_VIRTIO: "m";
    readonly '9P_FS': "m";
    readonly INTEL_IOMMU: "y";
    readonly VIRTIO_IOMMU: "m";
    readonly IGB: "m";
    readonly BLK_DEV_NVME: "m";
    readonly DEBUG_FS: "y";
};
/** QEMU's first version with the igb device model. */
export const MIN_QEMU_MAJOR: 8;
export type Manifest = {
    format: number;
    createdAt: string;
    kernel: {
        release: string;
        version: string;
        packages: string[];
        vmlinuz: string;
        modulesRoot: string;
        config: Record<string, string>;
    };
    busybox: {
        version: string;
        path: string;
    };
    kmod: {
        version: string;
        path: string;
    };
};
