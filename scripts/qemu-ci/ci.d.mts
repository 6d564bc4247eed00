// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * The out-of-tree modules the sanitizer guest's /init loads, built with make M= against its kernel: the
 * detector checks' test module (test/qemu/guest/detectors.mjs) and the stand-in importer (rules-more.mjs
 * standin.*). A module that does not build is a failed check saying why; the guest boots without it.
 * @param {{ built: import('./kbuild.mjs').BuiltKernel, kpaths: import('./kcache.mjs').KernelCachePaths, paths: import('./paths.mjs').CachePaths, log: (s: string) => void }} o
 * @returns {Promise<{ ko: string[], checks: Check[] }>}
 */
export function guestModules(o: {
    built: import("./kbuild.mjs").BuiltKernel;
    kpaths: import("./kcache.mjs").KernelCachePaths;
    paths: import("./paths.mjs").CachePaths;
    log: (s: string) => void;
}): Promise<{
    ko: string[];
    checks: Check[];
}>;
/**
 * @param {CiOptions} [o]
 * @returns {Promise<CiSummary>}
 */
export function runCi(o?: CiOptions): Promise<CiSummary>;
/**
 * Wall time from start to verdict with the packages cached, for the
 * benchmark suite: setup (cache check), initramfs, and the default variants
 * booted side by side. Conformance is left out: it does not boot anything.
 * @param {{ variants?: string[], timeoutSeconds?: number, log?: (s: string) => void }} [o]
 */
export function measureWallTime(o?: {
    variants?: string[];
    timeoutSeconds?: number;
    log?: (s: string) => void;
}): Promise<{
    name: string;
    cached: boolean;
    totalSeconds: number;
    setupSeconds: number;
    initramfsSeconds: number;
    variants: {
        name: string;
        status: import("./verdict.mjs").BootStatus;
        wallSeconds: number;
        verdictSeconds: number | null;
        resultsDir: string;
        xfail: string[];
    }[];
    ok: boolean;
}>;
/** The machine a figure was measured on. */
export function machine(): {
    cpus: number;
    model: string;
    memoryGiB: number;
    accel: string;
    devKvm: boolean;
    loadAverage: number[];
};
/**
 * The sanitizer kernel's figures (issue 11 "Performance"): a warm build (the
 * same inputs into a fresh object tree with ccache warm: what a patched tree
 * costs), a cold one when asked (fresh object tree and an empty ccache: about
 * 25 CPU-minutes), and the sanitizer guest's boot to /init and to its verdict.
 * The cache's own build is made first if missing (then it is the cold figure).
 * @param {{ cold?: boolean, kernelCache?: string, timeoutSeconds?: number, log?: (s: string) => void }} [o]
 */
export function measureSanitizer(o?: {
    cold?: boolean;
    kernelCache?: string;
    timeoutSeconds?: number;
    log?: (s: string) => void;
}): Promise<{
    name: string;
    kernel: string;
    source: string;
    recorded: {
        note: string;
        createdAt: string;
        wallSeconds: number;
        cpuSeconds: number | null;
        objects: number;
        ccache: {
            hits: number;
            misses: number;
        } | null;
    };
    warmBuild: {
        wallSeconds: number;
        cpuSeconds: number | null;
        objects: number;
        ccache: {
            hits: number;
            misses: number;
        } | null;
    };
    coldBuild: {
        wallSeconds: number;
        cpuSeconds: number | null;
        objects: number;
        ccache: {
            hits: number;
            misses: number;
        } | null;
    } | null;
    boot: {
        status: import("./verdict.mjs").BootStatus;
        reason: string;
        toInitSeconds: number | null;
        toVerdictSeconds: number | null;
        wallSeconds: number;
        scenarios: number;
        resultsDir: string;
        xfail: string[];
    };
    machine: {
        before: {
            cpus: number;
            model: string;
            memoryGiB: number;
            accel: string;
            devKvm: boolean;
            loadAverage: number[];
        };
        after: {
            cpus: number;
            model: string;
            memoryGiB: number;
            accel: string;
            devKvm: boolean;
            loadAverage: number[];
        };
    };
    ok: boolean;
}>;
export { checkoutProblems };
/**
 * @typedef {{ kernel: string, share: number, pinned: number, total: number, counted: number, units: number, hits: number[] }} PinnedShare
 */
/**
 * @typedef {object} CiOptions
 * @property {string[]} [variants]        names, or ['all']
 * @property {number} [timeoutSeconds]    per guest
 * @property {boolean} [conformance]      default true
 * @property {boolean} [refresh]          re-resolve and download the sid packages
 * @property {number} [parallel]          guests at once (default: cores)
 * @property {boolean} [sourceKernel]     also build Debian's linux-source with kconfig/iovh-guest.config
 *                                        (KASAN, lockdep, kmemleak, ...) and boot it (default true)
 * @property {string} [kernelCache]       where built kernels are kept (default kcache.mjs kernelCacheRoot())
 * @property {number} [sourceTimeoutSeconds] per sanitizer guest (default 1800: KASAN and lockdep under TCG on a loaded machine,
 *   with the stand-in importer's revoke triggers and p2p routes in its run)
 * @property {boolean} [qemuCommand]      also run `iovh qemu` as a user does (default true; needs the source kernel)
 * @property {boolean} [rfc]              also build the rfc-v1 kernel (kernel/patches/rfc-v1, after the default one so
 *                                        ccache is warm), the stand-in importer and the mock GPU's PF driver, and boot
 *                                        it on the mock GPU machine (iovh's QEMU build) running rfc/* and edge/*
 *                                        (scripts/qemu-ci/rfc.mjs; default true; needs the source kernel)
 * @property {boolean} [mockGpu]          the mock GPU's checks: edge/* in the rfc-v1 guest, judged and replayed on the
 *                                        mock, and `iovh qemu --device` refusing a bad property (default true;
 *                                        scripts/qemu-ci/mock-gpu-ci.mjs); false: that guest runs rfc/* alone
 * @property {(s: string) => void} [log]
 * @property {import('./paths.mjs').CachePaths} [paths]
 *
 * @typedef {{ name: string, status: 'pass' | 'fail' | 'skip' | 'xfail', detail: string }} Check
 *   `xfail`: an expected failure (a known bug the baseline of the kernel's shape expects): neither passed nor failed
 *
 * @typedef {object} CiSummary
 * @property {number} passed
 * @property {number} failed
 * @property {number} skipped
 * @property {number} xfailed             expected failures (known bugs of the kernel, by its baseline)
 * @property {import('./boot.mjs').BootReport[]} boots
 * @property {{ status: 'pass' | 'fail' | 'skip', detail: string, disagreements: string[], compared: number, against: string | null, rows: Array<{ id: string, agree: boolean, line: string }>, log?: string, pinned?: PinnedShare }} conformance
 * @property {{ kernels: PinnedShare[], total: { pinned: number, total: number, share: number } | null }} pinned
 *   how much of the mock the real kernels pin (scripts/qemu-ci/coverage.mjs), per kernel and their union
 * @property {Check[]} checks            every counted item
 * @property {Conformance[]} conformances  one per igb guest: the stock kernel's, then the source-built one's
 * @property {SourceKernel | null} source  the source-built kernel, null when not asked for (--no-source-kernel)
 * @property {{ status: 'built' | 'cached' | 'failed' | 'off', detail: string, cpuSeconds: number | null, buildSeconds: number | null } | null} [rfc]
 *   the rfc-v1 kernel and its guest (scripts/qemu-ci/rfc.mjs)
 * @property {{ setupSeconds: number, setupCached: boolean, initramfsSeconds: number, kernelBuildSeconds: number, bootsSeconds: number, qemuCommandSeconds: number, totalSeconds: number }} timing
 * @property {{ kernel: string, qemu: string, kernelConfig?: Record<string, 'y' | 'n'> }} versions
 *
 * @typedef {CiSummary['conformance']} Conformance
 *
 * @typedef {object} SourceKernel
 * @property {'built' | 'cached' | 'failed'} status
 * @property {string} detail
 * @property {string | null} release
 * @property {string | null} bzImage
 * @property {string | null} objtree
 * @property {string | null} label     the source package
 * @property {number | null} buildSeconds  this run's (0 from the cache)
 * @property {number | null} cpuSeconds    the build's, as recorded when it was built
 */
/** The test module that provokes the kernel's detectors for the detector checks. */
export const DETECTORS_MODULE: string;
/** The prefix of the boots of the source-built sanitizer kernel. */
export const SOURCE_PREFIX: "kasan-";
export type PinnedShare = {
    kernel: string;
    share: number;
    pinned: number;
    total: number;
    counted: number;
    units: number;
    hits: number[];
};
export type CiOptions = {
    /**
     * names, or ['all']
     */
    variants?: string[] | undefined;
    /**
     * per guest
     */
    timeoutSeconds?: number | undefined;
    /**
     * default true
     */
    conformance?: boolean | undefined;
    /**
     * re-resolve and download the sid packages
     */
    refresh?: boolean | undefined;
    /**
     * guests at once (default: cores)
     */
    parallel?: number | undefined;
    /**
     * also build Debian's linux-source with kconfig/iovh-guest.config
     *      (KASAN, lockdep, kmemleak, ...) and boot it (default true)
     */
    sourceKernel?: boolean | undefined;
    /**
     * where built kernels are kept (default kcache.mjs kernelCacheRoot())
     */
    kernelCache?: string | undefined;
    /**
     * per sanitizer guest (default 1800: KASAN and lockdep under TCG on a loaded machine,
     * with the stand-in importer's revoke triggers and p2p routes in its run)
     */
    sourceTimeoutSeconds?: number | undefined;
    /**
     * also run `iovh qemu` as a user does (default true; needs the source kernel)
     */
    qemuCommand?: boolean | undefined;
    /**
     * also build the rfc-v1 kernel (kernel/patches/rfc-v1, after the default one so
     *               ccache is warm), the stand-in importer and the mock GPU's PF driver, and boot
     *               it on the mock GPU machine (iovh's QEMU build) running rfc/* and edge/*
     *               (scripts/qemu-ci/rfc.mjs; default true; needs the source kernel)
     */
    rfc?: boolean | undefined;
    /**
     * the mock GPU's checks: edge/* in the rfc-v1 guest, judged and replayed on the
     *           mock, and `iovh qemu --device` refusing a bad property (default true;
     *           scripts/qemu-ci/mock-gpu-ci.mjs); false: that guest runs rfc/* alone
     */
    mockGpu?: boolean | undefined;
    log?: ((s: string) => void) | undefined;
    paths?: {
        root: string;
        aptSid: string;
        aptHost: string;
        debs: string;
        kernel: string;
        busybox: string;
        kmod: string;
        manifest: string;
        initramfs: string;
        logs: string;
        results: string;
        lock: string;
    } | undefined;
};
/**
 * `xfail`: an expected failure (a known bug the baseline of the kernel's shape expects): neither passed nor failed
 */
export type Check = {
    name: string;
    status: "pass" | "fail" | "skip" | "xfail";
    detail: string;
};
export type CiSummary = {
    passed: number;
    failed: number;
    skipped: number;
    /**
     * expected failures (known bugs of the kernel, by its baseline)
     */
    xfailed: number;
    boots: import("./boot.mjs").BootReport[];
    conformance: {
        status: "pass" | "fail" | "skip";
        detail: string;
        disagreements: string[];
        compared: number;
        against: string | null;
        rows: Array<{
            id: string;
            agree: boolean;
            line: string;
        }>;
        log?: string;
        pinned?: PinnedShare;
    };
    /**
     *  how much of the mock the real kernels pin (scripts/qemu-ci/coverage.mjs), per kernel and their union
     */
    pinned: {
        kernels: PinnedShare[];
        total: {
            pinned: number;
            total: number;
            share: number;
        } | null;
    };
    /**
     * every counted item
     */
    checks: Check[];
    /**
     * one per igb guest: the stock kernel's, then the source-built one's
     */
    conformances: Conformance[];
    /**
     * the source-built kernel, null when not asked for (--no-source-kernel)
     */
    source: SourceKernel | null;
    /**
     * the rfc-v1 kernel and its guest (scripts/qemu-ci/rfc.mjs)
     */
    rfc?: {
        status: "built" | "cached" | "failed" | "off";
        detail: string;
        cpuSeconds: number | null;
        buildSeconds: number | null;
    } | null | undefined;
    timing: {
        setupSeconds: number;
        setupCached: boolean;
        initramfsSeconds: number;
        kernelBuildSeconds: number;
        bootsSeconds: number;
        qemuCommandSeconds: number;
        totalSeconds: number;
    };
    versions: {
        kernel: string;
        qemu: string;
        kernelConfig?: Record<string, "y" | "n">;
    };
};
export type Conformance = CiSummary["conformance"];
export type SourceKernel = {
    status: "built" | "cached" | "failed";
    detail: string;
    release: string | null;
    bzImage: string | null;
    objtree: string | null;
    /**
     * the source package
     */
    label: string | null;
    /**
     * this run's (0 from the cache)
     */
    buildSeconds: number | null;
    /**
     * the build's, as recorded when it was built
     */
    cpuSeconds: number | null;
};
import { checkoutProblems } from './paths.mjs';
