// @ts-check
// The checkout's runtime files, as a cpio archive appended to the guest's
// initramfs: dist/, bin/, package.json, the guest program, the built addon
// (build/Release/iovh.node) and the npm packages dist/ imports. The guest's
// /init bind-mounts them over the checkout's path inside the 9p host root, so
// node (this host's, over 9p) loads iovh from memory: under TCG every 9p
// lookup is a round trip through QEMU, and Node's module loading makes
// hundreds of them (measured here: 12 s for dist/ over 9p).
//
// The kernel unpacks concatenated cpio archives, each compressed or not
// (Documentation/driver-api/early-userspace/buffer-format.rst), so the bundle
// is written as a second archive after the cached base initramfs.
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpioNewc } from './cpio.mjs';

/** Where the bundle sits in the initramfs; /init bind-mounts BUNDLE_ROOT + <checkout> over /host + <checkout>. */
export const BUNDLE_ROOT = '/iovh-bundle';

/**
 * Bare module specifiers (npm packages) imported by the JavaScript under
 * `dir`: `from 'x'`, `import('x')`, `require('x')`; node: builtins excluded.
 * @param {string} dir
 * @returns {Set<string>}
 */
export function importedPackages(dir) {
  /** @type {Set<string>} */
  const out = new Set();
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"./][^'"]*)['"]/g;
  for (const file of walk(dir)) {
    if (!file.endsWith('.js') && !file.endsWith('.mjs')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(re)) {
      const spec = m[1];
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      out.add(name);
    }
  }
  return out;
}

/**
 * Packages needed at run time: `roots` and, transitively, their
 * dependencies and installed optional dependencies, as node_modules folders.
 * @param {string} repo
 * @param {Iterable<string>} roots
 */
export function packageClosure(repo, roots) {
  /** @type {Map<string, string>} name -> folder */
  const found = new Map();
  const queue = [...roots];
  while (queue.length) {
    const name = /** @type {string} */ (queue.shift());
    if (found.has(name)) continue;
    const dir = join(repo, 'node_modules', name);
    if (!existsSync(join(dir, 'package.json'))) {
      throw new Error(`dist/ imports the package '${name}', which is not installed in node_modules (run npm install)`);
    }
    found.set(name, dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push(dep);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      if (existsSync(join(repo, 'node_modules', dep, 'package.json'))) queue.push(dep);
    }
  }
  return found;
}

/** @param {string} dir @returns {Generator<string>} */
function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) yield* walk(p);
    else if (st.isFile()) yield p;
  }
}

/**
 * The bundle's files, relative to the checkout: what the guest program loads.
 * Source maps and declarations stay out.
 * @param {string} repo
 */
export function bundleFiles(repo) {
  const files = [];
  const keep = (/** @type {string} */ f) => !f.endsWith('.map') && !f.endsWith('.d.ts') && !f.endsWith('.d.mts');
  for (const top of ['dist', 'bin', join('test', 'qemu', 'guest')]) {
    for (const f of walk(join(repo, top))) if (keep(f)) files.push(relative(repo, f));
  }
  files.push('package.json');
  const addon = join('build', 'Release', 'iovh.node');
  if (existsSync(join(repo, addon))) files.push(addon);
  for (const dir of packageClosure(repo, importedPackages(join(repo, 'dist'))).values()) {
    for (const f of walk(dir)) if (keep(f)) files.push(relative(repo, f));
  }
  return files;
}

/**
 * The bundle as a gzip'd newc archive, its files under BUNDLE_ROOT + repo.
 * @param {string} repo
 * @returns {{ archive: Buffer, files: number, bytes: number }}
 */
export function buildBundle(repo) {
  const files = bundleFiles(repo);
  /** @type {import('./cpio.mjs').CpioEntry[]} */
  const entries = [];
  const dirs = new Set();
  const addDir = (/** @type {string} */ d) => {
    if (d === '/' || d === '.' || dirs.has(d)) return;
    addDir(dirname(d));
    dirs.add(d);
    entries.push({ type: 'dir', path: d });
  };
  let bytes = 0;
  for (const f of files) {
    const inside = join(BUNDLE_ROOT, repo, f);
    addDir(dirname(inside));
    const data = readFileSync(join(repo, f));
    bytes += data.byteLength;
    const mode = lstatSync(join(repo, f)).mode & 0o777;
    entries.push({ type: 'file', path: inside, data, mode });
  }
  return { archive: gzipSync(cpioNewc(entries), { level: 1 }), files: files.length, bytes };
}
