// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * VERSION.PATCHLEVEL.SUBLEVEL from a top-level kernel Makefile, or null.
 * @param {string} text
 */
export function makefileVersion(text: string): string | null;
/**
 * Why `dir` cannot be built out of tree, or null: not a kernel tree, not
 * x86, or configured in place (kbuild refuses O= builds of such a tree:
 * "source directory is not clean, please run 'make mrproper'").
 * @param {string} dir
 */
export function treeProblem(dir: string): string | null;
/**
 * Identity of a user's tree: sha256 over every entry's path, type, size and
 * mtime (and a symlink's target), .git excluded. `find` lists 95,000 files in
 * well under a second, where walking them from JavaScript takes several.
 * @param {string} dir
 */
export function treeIdentity(dir: string): {
    hash: string;
    files: number;
};
/**
 * A tree the user named: checked, versioned, identified.
 * @param {string} dirIn
 * @returns {KernelSource}
 */
export function userTree(dirIn: string): KernelSource;
/**
 * The `linux-source-X.Y` package and version behind the `linux-source`
 * metapackage (never a version written here).
 * @param {(pkg: string) => Record<string, string>} show
 */
export function resolveSourcePackage(show: (pkg: string) => Record<string, string>): {
    name: string;
    version: string;
    size: number;
};
/**
 * The newest linux-source as the private lists in `dir` say, remembered
 * beside them: asking costs two apt-cache runs of seconds each (apt builds
 * its cache of sid's lists in memory every time: PrivateApt keeps none), and
 * every kernel-source step asks (the CI, each `iovh qemu`). The answer stands
 * while the lists are the same files (names, sizes, mtimes).
 * @param {{ show: (pkg: string) => Record<string, string> }} apt @param {string} dir
 * @returns {{ name: string, version: string, size: number }}
 */
export function newestSource(apt: {
    show: (pkg: string) => Record<string, string>;
}, dir: string): {
    name: string;
    version: string;
    size: number;
};
/**
 * Debian's newest linux-source, downloaded and unpacked once into the cache
 * (about 1.8 GB unpacked; the .deb is removed afterwards).
 * @param {{ paths: import('./kcache.mjs').KernelCachePaths, refresh?: boolean, log?: (s: string) => void }} o
 * @returns {Promise<KernelSource>}
 */
export function debianSource({ paths, refresh, log }: {
    paths: import("./kcache.mjs").KernelCachePaths;
    refresh?: boolean;
    log?: (s: string) => void;
}): Promise<KernelSource>;
/**
 * @typedef {object} KernelSource
 * @property {'debian' | 'tree'} kind
 * @property {string} dir          the source tree (top-level Makefile)
 * @property {string} identity     changes whenever the tree's content may have
 * @property {string} label        for humans: "linux-source-7.2 7.2.13-1 (Debian)" or the path
 * @property {string} version      the Makefile's VERSION.PATCHLEVEL.SUBLEVEL
 */
/** A usage problem with what the user named (exit 2). */
export class KernelInputError extends Error {
    /** @param {string} message */
    constructor(message: string);
}
export type KernelSource = {
    kind: "debian" | "tree";
    /**
     * the source tree (top-level Makefile)
     */
    dir: string;
    /**
     * changes whenever the tree's content may have
     */
    identity: string;
    /**
     * for humans: "linux-source-7.2 7.2.13-1 (Debian)" or the path
     */
    label: string;
    /**
     * the Makefile's VERSION.PATCHLEVEL.SUBLEVEL
     */
    version: string;
};
