// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/** @param {string} [cache] */
export function cachePaths(cache?: string): {
    root: string;
    /** private apt configuration seeing Debian sid */
    aptSid: string;
    /** private apt configuration seeing this system's release and its backports */
    aptHost: string;
    debs: string;
    /** extracted kernel packages: kernel/usr/lib/modules/<release>/{vmlinuz,kernel/...} */
    kernel: string;
    busybox: string;
    kmod: string;
    /** written last by setup: what the cache holds */
    manifest: string;
    initramfs: string;
    logs: string;
    /** one directory per guest run, shared writable over 9p */
    results: string;
    lock: string;
};
/** @typedef {ReturnType<typeof cachePaths>} CachePaths */
/**
 * A module of the library as the checkout built it (`dist/<rel>`, from
 * src/): the scripts are built on the library, never the other way round. A
 * checkout without dist/ gets one line saying how to build it.
 * @param {string} rel  e.g. 'qemu/markers.js'
 * @returns {Promise<unknown>}
 */
export function fromDist(rel: string): Promise<unknown>;
/** What must be built in the checkout before a guest can use it. */
export function checkoutProblems(repo?: string): string[];
/** The checkout's root (this file is scripts/qemu-ci/paths.mjs). */
export const repoRoot: string;
export type CachePaths = ReturnType<typeof cachePaths>;
