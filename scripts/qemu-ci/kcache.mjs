// @ts-check
// Where source-built kernels live and how two processes share them: the cache
// root (outside any checkout), an inter-process lock with a stale-owner check,
// a free-space check, and pruning of old builds. Its cache keys are also those
// of QEMU's source builds (qemu-build.mjs): one way to name a build by what
// went into it.
//
//   <root>/sources/<package>_<version>/linux-source-X.Y   Debian source trees
//   <root>/builds/<key>/                                   one build per key
//       manifest.json   written last: the build is complete when it exists
//       obj/            the out-of-tree object tree (make O=), kept for `make M=`
//       src/            the patched scratch copy of the tree (only with patches)
//       build.log       make's output
//   <root>/ccache/                                         CCACHE_DIR
//   <root>/apt/sid/                                        private apt lists
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The kernel cache root: $IOVH_KERNEL_CACHE, else $XDG_CACHE_HOME/iovh/kernels,
 * else ~/.cache/iovh/kernels (the XDG base directory default).
 * @param {NodeJS.ProcessEnv} [env]
 */
export function kernelCacheRoot(env = process.env) {
  if (env.IOVH_KERNEL_CACHE) return resolve(env.IOVH_KERNEL_CACHE);
  const xdg = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'iovh', 'kernels');
}

/** @param {string} root */
export function kernelCachePaths(root) {
  return {
    root,
    sources: join(root, 'sources'),
    builds: join(root, 'builds'),
    ccache: join(root, 'ccache'),
    aptSid: join(root, 'apt', 'sid'),
  };
}

/** @typedef {ReturnType<typeof kernelCachePaths>} KernelCachePaths */

/**
 * A cache key: the first `length` hex digits of the SHA-256 of `parts` in
 * order. Every input that changes what is built must be one of the parts; a
 * changed key is a new build (the old one is pruned in time).
 * @param {Array<string | Uint8Array>} parts @param {number} [length]
 */
export function cacheKey(parts, length = 20) {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, length);
}

/** @param {string} file */
export function sha256File(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {string} file */
function safeRead(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** @param {number} pid */
function alive(pid) {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return /** @type {NodeJS.ErrnoException} */ (e).code === 'EPERM';
  }
}

/**
 * Take `lock` (a file holding the owner's pid), wait while a live process
 * holds it, take it over from a dead one. Resolves to a release function.
 * @param {string} lock
 * @param {{ what: string, log?: (s: string) => void, timeoutMs?: number }} o
 * @returns {Promise<() => void>}
 */
export async function acquireLock(lock, o) {
  const deadline = Date.now() + (o.timeoutMs ?? 90 * 60_000);
  let told = false;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e;
    }
    const text = safeRead(lock);
    if (text === null) continue; // released between our open and our read
    let pid = Number.parseInt(text, 10);
    if (Number.isNaN(pid)) {
      // The owner is between its open and its write: look again shortly.
      await sleep(100);
      pid = Number.parseInt(safeRead(lock) ?? '', 10);
    }
    if (!alive(pid)) {
      // Left by a process that died. Take it aside atomically; if what we took
      // turns out to be a live owner's fresh lock (another waiter replaced the
      // stale one meanwhile), put it back with link(), which never overwrites.
      const aside = `${lock}.stale-${process.pid}`;
      try {
        renameSync(lock, aside);
      } catch {
        continue;
      }
      const taken = Number.parseInt(safeRead(aside) ?? '', 10);
      if (taken !== pid && alive(taken)) {
        try {
          linkSync(aside, lock);
        } catch {
          // a third process holds it now; the owner we displaced keeps running unlocked
        }
      }
      rmSync(aside, { force: true });
      continue;
    }
    if (pid === process.pid) throw new Error(`${o.what}: lock ${lock} is already held by this process`);
    if (Date.now() > deadline) throw new Error(`${o.what}: lock ${lock} still held by pid ${pid}; giving up`);
    if (!told) {
      o.log?.(`${o.what}: waiting for pid ${pid}, which holds ${lock}`);
      told = true;
    }
    await sleep(1000);
  }
}

/**
 * Hold `lock` while `fn` runs.
 * @template T
 * @param {string} lock @param {{ what: string, log?: (s: string) => void, timeoutMs?: number }} o @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withLock(lock, o, fn) {
  const release = await acquireLock(lock, o);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Bytes free for an unprivileged writer on the filesystem holding `dir` (null when unknown). */
/** @param {string} dir */
export function freeBytes(dir) {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** @param {number} n */
export function gib(n) {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

/**
 * Fail before starting when the cache's filesystem cannot hold what comes next.
 * @param {string} dir @param {number} need bytes @param {string} what
 */
export function requireSpace(dir, need, what) {
  mkdirSync(dir, { recursive: true });
  const free = freeBytes(dir);
  if (free !== null && free < need)
    throw new NoSpaceError(
      `no space left in the kernel cache ${dir}: ${what} needs about ${gib(need)}, ${gib(free)} free (set IOVH_KERNEL_CACHE to a bigger filesystem, or remove old builds there)`,
    );
}

export class NoSpaceError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'NoSpaceError';
  }
}

/** @param {string} file @param {number} fallback */
function mtimeOr(file, fallback) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return fallback;
  }
}

/**
 * Remove the oldest complete builds beyond `keep` (by last use: the
 * manifest's mtime, touched on every cache hit). Builds in progress (a lock
 * file) and incomplete ones used in the last day (created, or retried: their
 * build.log written) are left alone.
 * @param {KernelCachePaths} paths @param {number} keep @param {string[]} [protect] keys never removed
 */
export function pruneBuilds(paths, keep, protect = []) {
  let names;
  try {
    names = readdirSync(paths.builds);
  } catch {
    return [];
  }
  const now = Date.now();
  /** @type {{ key: string, used: number }[]} */
  const complete = [];
  const removed = [];
  for (const key of names) {
    if (key.endsWith('.lock') || protect.includes(key)) continue;
    const dir = join(paths.builds, key);
    if (names.includes(`${key}.lock`)) continue;
    try {
      complete.push({ key, used: statSync(join(dir, 'manifest.json')).mtimeMs });
    } catch {
      try {
        // Incomplete (failed or stopped): a retry resumes it and appends to its build.log without touching the
        // directory itself, so the newer of the two says when it was last used.
        const used = Math.max(statSync(dir).mtimeMs, mtimeOr(join(dir, 'build.log'), 0));
        if (now - used > 86_400_000) {
          rmSync(dir, { recursive: true, force: true });
          removed.push(key);
        }
      } catch {
        // raced with another pruner
      }
    }
  }
  complete.sort((a, b) => b.used - a.used);
  for (const { key } of complete.slice(keep)) {
    rmSync(join(paths.builds, key), { recursive: true, force: true });
    removed.push(key);
  }
  return removed;
}
