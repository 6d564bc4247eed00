// @ts-check
// Where the QEMU CI keeps things. Everything downloaded or built lives under
// one git-ignored cache directory (default `.cache/qemu-ci/` of the checkout,
// or $IOVH_QEMU_CACHE), so a second run reuses it and `rm -rf` resets it.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The checkout's root (this file is scripts/qemu-ci/paths.mjs). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @param {string} [cache] */
export function cachePaths(cache = process.env.IOVH_QEMU_CACHE || join(repoRoot, '.cache', 'qemu-ci')) {
  const root = resolve(cache);
  return {
    root,
    /** private apt configuration seeing Debian sid */
    aptSid: join(root, 'apt', 'sid'),
    /** private apt configuration seeing this system's release and its backports */
    aptHost: join(root, 'apt', 'host'),
    debs: join(root, 'debs'),
    /** extracted kernel packages: kernel/usr/lib/modules/<release>/{vmlinuz,kernel/...} */
    kernel: join(root, 'kernel'),
    busybox: join(root, 'busybox'),
    kmod: join(root, 'kmod'),
    /** written last by setup: what the cache holds */
    manifest: join(root, 'manifest.json'),
    initramfs: join(root, 'initramfs'),
    logs: join(root, 'logs'),
    /** one directory per guest run, shared writable over 9p */
    results: join(root, 'results'),
    lock: join(root, 'setup.lock'),
  };
}

/** @typedef {ReturnType<typeof cachePaths>} CachePaths */

/**
 * A module of the library as the checkout built it (`dist/<rel>`, from
 * src/): the scripts are built on the library, never the other way round. A
 * checkout without dist/ gets one line saying how to build it.
 * @param {string} rel  e.g. 'qemu/markers.js'
 * @returns {Promise<unknown>}
 */
export async function fromDist(rel) {
  try {
    return await import(pathToFileURL(join(repoRoot, 'dist', rel)).href);
  } catch (e) {
    throw new Error(
      `dist/ is not built (no dist/${rel}: run \`npm run build:ts\`): ${/** @type {Error} */ (e).message}`,
    );
  }
}

/** What must be built in the checkout before a guest can use it. */
export function checkoutProblems(repo = repoRoot) {
  const problems = [];
  for (const f of ['backend/native.js', 'cli/main.js']) {
    if (!existsSync(join(repo, 'dist', f))) {
      problems.push(`dist/ is not built (no dist/${f}: run \`npm run build:ts\`)`);
      break;
    }
  }
  if (!existsSync(join(repo, 'build', 'Release', 'iovh.node')))
    problems.push('the native addon is not built (run `npm run build:addon`; needs cmake and g++)');
  return problems;
}
