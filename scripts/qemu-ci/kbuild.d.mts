// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Parse a config fragment: `CONFIG_X=value` and `# CONFIG_X is not set`
 * lines; other comments and blank lines are ignored; anything else is an error.
 * @param {string} text @param {string} file
 * @returns {FragmentOption[]}
 */
export function parseFragment(text: string, file: string): FragmentOption[];
/**
 * A .config as name -> value (null for "is not set").
 * @param {string} text
 * @returns {Map<string, string | null>}
 */
export function parseDotConfig(text: string): Map<string, string | null>;
/**
 * Merge fragment options over a .config text, later options winning (what
 * scripts/kconfig/merge_config.sh does before olddefconfig).
 * @param {string} dotConfig @param {FragmentOption[]} options
 */
export function mergeConfig(dotConfig: string, options: FragmentOption[]): string;
/**
 * Options whose final value is not what a fragment asked for. An option
 * asked "not set" may be absent (not visible means n); n is the same as not set.
 * @param {FragmentOption[]} options  the last word per name counts
 * @param {Map<string, string | null>} config
 */
export function unmetOptions(options: FragmentOption[], config: Map<string, string | null>): (FragmentOption & {
    actual: string | null | undefined;
})[];
/**
 * Where `config NAME` is defined and its dependency lines, with each
 * symbol's current value ("depends on PCI [=y] && ZONE_DEVICE [=n]"), as
 * menuconfig's help shows them. Null when no Kconfig file defines it.
 * @param {string} srctree @param {string} name @param {Map<string, string | null>} config
 */
export function kconfigDependencies(srctree: string, name: string, config: Map<string, string | null>): {
    where: string;
    deps: string[];
} | null;
/**
 * One line per unmet option: what was asked, what came out, and why.
 * @param {string} srctree @param {ReturnType<typeof unmetOptions>} unmet @param {Map<string, string | null>} config
 */
export function explainUnmet(srctree: string, unmet: ReturnType<typeof unmetOptions>, config: Map<string, string | null>): string[];
/**
 * Patch files in order: a directory gives its `series` file's order when it
 * has one (quilt), else its *.patch and *.diff files sorted by name.
 * @param {string[]} items files or directories
 */
export function patchList(items: string[]): string[];
/**
 * What GNU patch's output says went wrong, as one line naming file and hunk.
 * @param {string} patchName @param {string} output
 */
export function describePatchFailure(patchName: string, output: string): string;
/**
 * A scratch copy of `tree` at `dest`: hard links (cp -al) when both are on
 * one filesystem, so the copy costs inodes rather than 1.8 GB. GNU patch
 * writes each patched file to a new file and renames it into place, which
 * breaks the link; applyPatch() checks that it did for every file it touched.
 * Across filesystems a full copy is made only when `allowCopy` (there are
 * patches to apply); otherwise 'none': build the tree in place, out of tree.
 * @param {string} tree @param {string} dest @param {{ allowCopy: boolean }} o
 * @returns {'hardlinks' | 'copy' | 'none'}
 */
export function scratchCopy(tree: string, dest: string, o: {
    allowCopy: boolean;
}): "hardlinks" | "copy" | "none";
/**
 * Apply one patch (-p1, no fuzz: a hunk whose context moved by lines is
 * applied, one whose context differs is a failure) to the scratch tree.
 * @param {string} scratch @param {string} patch @param {string} original the user's tree
 */
export function applyPatch(scratch: string, patch: string, original: string): string[];
/** Missing tools and headers, as "tool (package)". */
export function missingBuildTools(): string[];
export function toolchain(): {
    cc: string;
    ld: string;
    ccache: string | null;
};
/**
 * ccache's hit and miss counters for `dir` (`ccache --print-stats`, ccache >= 4.4), or null.
 * @param {string} dir
 */
export function ccacheCounters(dir: string): {
    hits: number;
    misses: number;
} | null;
/**
 * The cache key: everything that changes the built image.
 * @param {{ identity: string, patches: Array<{ sha256: string }>, fragments: Array<{ sha256: string }>, toolchain: { cc: string, ld: string } }} o
 */
export function buildKey(o: {
    identity: string;
    patches: Array<{
        sha256: string;
    }>;
    fragments: Array<{
        sha256: string;
    }>;
    toolchain: {
        cc: string;
        ld: string;
    };
}): string;
/**
 * The lines that say why make failed: the compiler's diagnostics (from the
 * first "error:" back to its "In function" header) and make's own *** line.
 * @param {string[]} lines stderr and stdout of the build, in order
 */
export function failureExcerpt(lines: string[]): {
    excerpt: string[];
    target: string | null;
    summary: string;
};
/**
 * The make arguments and environment of every step of one build.
 * @param {{ srctree: string, objtree: string, ccacheDir: string, useCcache: boolean, jobs: number }} o
 */
export function makeInvocation(o: {
    srctree: string;
    objtree: string;
    ccacheDir: string;
    useCcache: boolean;
    jobs: number;
}): {
    args: string[];
    env: NodeJS.ProcessEnv;
    jobs: number;
};
/**
 * Build (or find in the cache) the kernel for these inputs.
 * @param {{
 *   source: import('./ksource.mjs').KernelSource,
 *   patches?: string[],
 *   fragments?: string[],
 *   paths: import('./kcache.mjs').KernelCachePaths,
 *   jobs?: number,
 *   ccache?: boolean,
 *   log?: (s: string) => void,
 *   onProgress?: (p: BuildProgress) => void,
 * }} o
 * @returns {Promise<BuiltKernel>}
 */
export function buildKernel(o: {
    source: import("./ksource.mjs").KernelSource;
    patches?: string[];
    fragments?: string[];
    paths: import("./kcache.mjs").KernelCachePaths;
    jobs?: number;
    ccache?: boolean;
    log?: (s: string) => void;
    onProgress?: (p: BuildProgress) => void;
}): Promise<BuiltKernel>;
/**
 * "kernel build: 812/~1700 objects, 6:41" (the total is ~ until this cache has built these fragments once).
 * @param {BuildProgress} p
 */
export function progressLine(p: BuildProgress): string;
/**
 * An onProgress for a log that is not a terminal: progressLine at most once per `ms`.
 * @param {(s: string) => void} log @param {number} ms
 * @returns {(p: BuildProgress) => void}
 */
export function progressEvery(log: (s: string) => void, ms: number): (p: BuildProgress) => void;
/**
 * Build an out-of-tree module against a built kernel (`make M=`): the
 * module's sources (a directory with a Kbuild or Makefile) are copied under
 * the build's cache directory first, so nothing is written next to them.
 * Returns the .ko files built. Its compiles go through the same ccache.
 * `extraFiles` (headers kept elsewhere, e.g. a uAPI header shared with
 * userspace) are copied next to the sources: a `#include "name.h"` finds
 * them in the including file's own directory, whatever -I the Kbuild adds.
 * @param {{ kernel: BuiltKernel, dir: string, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void, extraFiles?: string[] }} o
 * @returns {Promise<string[]>}
 */
export function buildExternalModule(o: {
    kernel: BuiltKernel;
    dir: string;
    paths: import("./kcache.mjs").KernelCachePaths;
    log?: (s: string) => void;
    extraFiles?: string[];
}): Promise<string[]>;
/**
 * Kernel parameters a kernel's own config asks for under QEMU.
 * - kasan_multi_shot: KASAN reports only its first finding otherwise (mm/kasan/report.c).
 * - no5lvl on a KASAN kernel that can run 5-level paging (QEMU's -cpu max has LA57): identify_cpu
 *   (arch/x86/kernel/cpu/common.c) zeroes the boot CPU's capability words and reads them back, and
 *   while they are zero pgtable_l5_enabled() is false, so KASAN's idea of the kernel's address
 *   space (__VIRTUAL_MASK_SHIFT, arch/x86/include/asm/pgtable_64_types.h) shrinks to 4 levels. An
 *   interrupt taken in that window reports "BUG: KASAN: wild-memory-access" on a 5-level direct-map
 *   address (seen at boot in 1 of 3 boots: do_raw_spin_lock <- handle_edge_irq, interrupting
 *   identify_cpu); the report taints the kernel, and the taint turns lockdep off for the whole run
 *   (kernel/panic.c add_taint). With 4-level paging the window does not exist.
 * @param {Map<string, string | null>} config
 * @returns {string}
 */
export function kernelParameters(config: Map<string, string | null>): string;
/**
 * The stand-in importer (kernel/iovh-ic-importer, its uAPI header copied
 * beside it) built against a kernel with make M=, cached under that kernel's
 * build by the sources' hash: the one build of it that the CI's guests and
 * `iovh qemu` (src/qemu/run.ts buildImporter) load. Throws KernelBuildError
 * with the compiler's lines when it does not build.
 * @param {{ kernel: import('./kbuild.mjs').BuiltKernel, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void }} o
 * @returns {Promise<string>} its .ko
 */
export function buildStandIn(o: {
    kernel: import("./kbuild.mjs").BuiltKernel;
    paths: import("./kcache.mjs").KernelCachePaths;
    log?: (s: string) => void;
}): Promise<string>;
/**
 * The mock GPU's PF driver with its translation step (xlate.c, built because
 * the importer's xlate.h is copied beside it), built against a kernel with
 * make M= and cached under that kernel's build by the sources' hash, like
 * buildStandIn: the one build the CI's mock GPU guest and `iovh qemu
 * --device mock-gpu` (src/qemu/run.ts prepareMockGpu) load, after the
 * importer. Throws KernelBuildError with the compiler's lines.
 * @param {{ kernel: import('./kbuild.mjs').BuiltKernel, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void }} o
 * @returns {Promise<string>} its .ko
 */
export function buildMockGpuDriver(o: {
    kernel: import("./kbuild.mjs").BuiltKernel;
    paths: import("./kcache.mjs").KernelCachePaths;
    log?: (s: string) => void;
}): Promise<string>;
/** The fragment shipped with iovh: what the guest needs, the sanitizers, tracing. */
export const DEFAULT_FRAGMENT: string;
/** Bumped when the build recipe changes in a way that changes the output. */
export const KBUILD_FORMAT: 1;
export namespace KBUILD_ENV {
    let KBUILD_BUILD_TIMESTAMP: string;
    let KBUILD_BUILD_USER: string;
    let KBUILD_BUILD_HOST: string;
    let KBUILD_BUILD_VERSION: string;
}
/**
 * @typedef {{ name: string, value: string | null, file: string, line: number }} FragmentOption
 *   value null: "# CONFIG_X is not set"
 *
 * @typedef {object} BuiltKernel
 * @property {string} key
 * @property {string} dir            the build's cache directory
 * @property {string} bzImage
 * @property {string} vmlinux
 * @property {string} config         the final .config
 * @property {string} objtree        make O= (kept: `make -C <srctree> O=<objtree> M=<dir>` builds modules against it)
 * @property {string} srctree        the tree that was built (the patched copy when there were patches)
 * @property {string} release        `make kernelrelease`
 * @property {boolean} cached
 * @property {number} seconds        this call's time
 * @property {KernelManifest} manifest
 *
 * @typedef {object} KernelManifest
 * @property {number} format
 * @property {string} key
 * @property {string} createdAt
 * @property {{ kind: string, dir: string, identity: string, label: string, version: string }} source
 * @property {Array<{ file: string, sha256: string }>} patches
 * @property {Array<{ file: string, sha256: string }>} fragments
 * @property {{ cc: string, ld: string, ccache: string | null }} toolchain
 * @property {string} release
 * @property {number} objects        objects compiled or assembled by the build that filled this entry
 * @property {{ hits: number, misses: number } | null} ccache  ccache's counters over that build (null
 *                                    without ccache; another build sharing the cache at the same time adds to them)
 * @property {{ configSeconds: number, buildSeconds: number, wallSeconds: number, cpuSeconds: number | null, jobs: number }} timing
 * @property {string} bzImage
 * @property {string} vmlinux
 * @property {string} config
 * @property {string} objtree
 * @property {string} srctree
 *
 * @typedef {{ phase: string, done: number, total: number, estimated: boolean, elapsedSeconds: number }} BuildProgress
 */
/** An input that cannot be built (exit 2 in the CLI): a patch that does not apply, a fragment option the tree lacks. */
export class KernelConfigError extends KernelInputError {
}
/** make failed: `excerpt` holds the last lines of the failing command. */
export class KernelBuildError extends Error {
    /** @param {string} message @param {string[]} excerpt @param {string} log */
    constructor(message: string, excerpt: string[], log: string);
    excerpt: string[];
    log: string;
}
/** Build tools the kernel's make needs, with the Debian package that provides each. */
export const BUILD_TOOLS: readonly [readonly ["make", "make"], readonly ["gcc", "gcc"], readonly ["ld", "binutils"], readonly ["bc", "bc"], readonly ["bison", "bison"], readonly ["flex", "flex"], readonly ["perl", "perl"], readonly ["patch", "patch"]];
/** The stand-in importer's sources (kernel/iovh-ic-importer) and its uAPI header, shipped with the package. */
export const IMPORTER_DIR: string;
export const IMPORTER_UAPI: string;
/** The mock GPU's PF driver (kernel/iovh-mock-gpu, docs/mock-gpu.md) and the importer's header its translation step includes. */
export const MOCK_GPU_DRIVER_DIR: string;
export const IMPORTER_XLATE_H: string;
/**
 * value null: "# CONFIG_X is not set"
 */
export type FragmentOption = {
    name: string;
    value: string | null;
    file: string;
    line: number;
};
export type BuiltKernel = {
    key: string;
    /**
     * the build's cache directory
     */
    dir: string;
    bzImage: string;
    vmlinux: string;
    /**
     * the final .config
     */
    config: string;
    /**
     * make O= (kept: `make -C <srctree> O=<objtree> M=<dir>` builds modules against it)
     */
    objtree: string;
    /**
     * the tree that was built (the patched copy when there were patches)
     */
    srctree: string;
    /**
     * `make kernelrelease`
     */
    release: string;
    cached: boolean;
    /**
     * this call's time
     */
    seconds: number;
    manifest: KernelManifest;
};
export type KernelManifest = {
    format: number;
    key: string;
    createdAt: string;
    source: {
        kind: string;
        dir: string;
        identity: string;
        label: string;
        version: string;
    };
    patches: Array<{
        file: string;
        sha256: string;
    }>;
    fragments: Array<{
        file: string;
        sha256: string;
    }>;
    toolchain: {
        cc: string;
        ld: string;
        ccache: string | null;
    };
    release: string;
    /**
     * objects compiled or assembled by the build that filled this entry
     */
    objects: number;
    /**
     * ccache's counters over that build (null
     * without ccache; another build sharing the cache at the same time adds to them)
     */
    ccache: {
        hits: number;
        misses: number;
    } | null;
    timing: {
        configSeconds: number;
        buildSeconds: number;
        wallSeconds: number;
        cpuSeconds: number | null;
        jobs: number;
    };
    bzImage: string;
    vmlinux: string;
    config: string;
    objtree: string;
    srctree: string;
};
export type BuildProgress = {
    phase: string;
    done: number;
    total: number;
    estimated: boolean;
    elapsedSeconds: number;
};
import { KernelInputError } from './ksource.mjs';
