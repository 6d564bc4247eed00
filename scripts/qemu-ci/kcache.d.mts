// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * The kernel cache root: $IOVH_KERNEL_CACHE, else $XDG_CACHE_HOME/iovh/kernels,
 * else ~/.cache/iovh/kernels (the XDG base directory default).
 * @param {NodeJS.ProcessEnv} [env]
 */
export function kernelCacheRoot(env?: NodeJS.ProcessEnv): string;
/** @param {string} root */
export function kernelCachePaths(root: string): {
    root: string;
    sources: string;
    builds: string;
    ccache: string;
    aptSid: string;
};
/** @typedef {ReturnType<typeof kernelCachePaths>} KernelCachePaths */
/**
 * A cache key: the first `length` hex digits of the SHA-256 of `parts` in
 * order. Every input that changes what is built must be one of the parts; a
 * changed key is a new build (the old one is pruned in time).
 * @param {Array<string | Uint8Array>} parts @param {number} [length]
 */
export function cacheKey(parts: Array<string | Uint8Array>, length?: number): string;
/** @param {string} file */
export function sha256File(file: string): string;
/**
 * Take `lock` (a file holding the owner's pid), wait while a live process
 * holds it, take it over from a dead one. Resolves to a release function.
 * @param {string} lock
 * @param {{ what: string, log?: (s: string) => void, timeoutMs?: number }} o
 * @returns {Promise<() => void>}
 */
export function acquireLock(lock: string, o: {
    what: string;
    log?: (s: string) => void;
    timeoutMs?: number;
}): Promise<() => void>;
/**
 * Hold `lock` while `fn` runs.
 * @template T
 * @param {string} lock @param {{ what: string, log?: (s: string) => void, timeoutMs?: number }} o @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export function withLock<T>(lock: string, o: {
    what: string;
    log?: (s: string) => void;
    timeoutMs?: number;
}, fn: () => Promise<T>): Promise<T>;
/** Bytes free for an unprivileged writer on the filesystem holding `dir` (null when unknown). */
/** @param {string} dir */
export function freeBytes(dir: string): number | null;
/** @param {number} n */
export function gib(n: number): string;
/**
 * Fail before starting when the cache's filesystem cannot hold what comes next.
 * @param {string} dir @param {number} need bytes @param {string} what
 */
export function requireSpace(dir: string, need: number, what: string): void;
/**
 * Remove the oldest complete builds beyond `keep` (by last use: the
 * manifest's mtime, touched on every cache hit). Builds in progress (a lock
 * file) and incomplete ones used in the last day (created, or retried: their
 * build.log written) are left alone.
 * @param {KernelCachePaths} paths @param {number} keep @param {string[]} [protect] keys never removed
 */
export function pruneBuilds(paths: KernelCachePaths, keep: number, protect?: string[]): string[];
export class NoSpaceError extends Error {
    /** @param {string} message */
    constructor(message: string);
}
export type KernelCachePaths = ReturnType<typeof kernelCachePaths>;
