// @ts-check
// Kernel source trees for source-built guests: Debian's newest `linux-source`
// package (fetched through a private apt configuration that sees sid, from
// the archive this system's own apt sources name), or a tree the user points
// at. A tree gets an identity string that changes whenever its content may
// have: the Debian package and version, or for a user's tree a hash of every
// file's path, size and mtime (git HEAD alone would miss uncommitted edits).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  PrivateApt,
  dependsNames,
  releaseArchive,
  requireTools,
  run,
  sidSourcesText,
  systemCodename,
  systemSources,
  unpackDebs,
} from './apt.mjs';
import { requireSpace, withLock } from './kcache.mjs';

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
  constructor(message) {
    super(message);
    this.name = 'KernelInputError';
  }
}

/**
 * VERSION.PATCHLEVEL.SUBLEVEL from a top-level kernel Makefile, or null.
 * @param {string} text
 */
export function makefileVersion(text) {
  const get = (/** @type {string} */ k) => new RegExp(`^${k}\\s*=\\s*(\\d+)\\s*$`, 'm').exec(text)?.[1];
  const v = get('VERSION');
  const p = get('PATCHLEVEL');
  const s = get('SUBLEVEL');
  if (v === undefined || p === undefined) return null;
  return `${v}.${p}${s !== undefined && s !== '0' ? `.${s}` : ''}`;
}

/**
 * Why `dir` cannot be built out of tree, or null: not a kernel tree, not
 * x86, or configured in place (kbuild refuses O= builds of such a tree:
 * "source directory is not clean, please run 'make mrproper'").
 * @param {string} dir
 */
export function treeProblem(dir) {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    return `${dir}: ${/** @type {NodeJS.ErrnoException} */ (e).code === 'ENOENT' ? 'no such directory' : /** @type {Error} */ (e).message}`;
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  let makefile;
  try {
    makefile = readFileSync(join(dir, 'Makefile'), 'utf8');
  } catch {
    return `${dir} is not a kernel source tree (no top-level Makefile)`;
  }
  if (!makefileVersion(makefile))
    return `${dir} is not a kernel source tree (its Makefile sets no VERSION and PATCHLEVEL)`;
  for (const need of ['Kconfig', 'arch/x86/Kconfig', 'scripts/kconfig', 'kernel/configs/tiny.config']) {
    if (!existsSync(join(dir, need))) return `${dir} is not a complete x86 kernel source tree (no ${need})`;
  }
  for (const built of ['.config', 'include/config/auto.conf', 'include/generated']) {
    if (existsSync(join(dir, built)))
      return `kernel tree ${dir} was configured or built in place (it has ${built}); an out-of-tree build needs a clean tree: run 'make mrproper' there, or pass a clean copy`;
  }
  return null;
}

/**
 * Identity of a user's tree: sha256 over every entry's path, type, size and
 * mtime (and a symlink's target), .git excluded. `find` lists 95,000 files in
 * well under a second, where walking them from JavaScript takes several.
 * @param {string} dir
 */
export function treeIdentity(dir) {
  const r = spawnSync(
    'find',
    [
      '.',
      '-path',
      './.git',
      '-prune',
      '-o',
      '(',
      '-type',
      'f',
      '-o',
      '-type',
      'l',
      ')',
      '-printf',
      '%P\\0%y\\0%s\\0%T@\\0%l\\0',
    ],
    { cwd: dir, maxBuffer: 1 << 30 },
  );
  if (r.error) throw new Error(`find: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`find in ${dir} failed: ${r.stderr.toString().trim().split('\n').slice(-2).join(' | ')}`);
  // find's order follows the directory's, which is stable for an unchanged tree;
  // sort anyway so a copy of the same tree hashes the same.
  const records = r.stdout.toString('latin1').split('\0');
  /** @type {string[]} */
  const entries = [];
  for (let i = 0; i + 4 < records.length; i += 5) entries.push(records.slice(i, i + 5).join('\u0001'));
  entries.sort();
  const h = createHash('sha256');
  for (const e of entries) h.update(e).update('\n');
  return { hash: h.digest('hex'), files: entries.length };
}

/**
 * A tree the user named: checked, versioned, identified.
 * @param {string} dirIn
 * @returns {KernelSource}
 */
export function userTree(dirIn) {
  const dir = resolve(dirIn);
  const problem = treeProblem(dir);
  if (problem) throw new KernelInputError(problem);
  const version = makefileVersion(readFileSync(join(dir, 'Makefile'), 'utf8')) ?? '?';
  const id = treeIdentity(dir);
  return { kind: 'tree', dir, identity: `tree:${dir}:${id.files}:${id.hash}`, label: dir, version };
}

/**
 * The `linux-source-X.Y` package and version behind the `linux-source`
 * metapackage (never a version written here).
 * @param {(pkg: string) => Record<string, string>} show
 */
export function resolveSourcePackage(show) {
  const meta = show('linux-source');
  const name = dependsNames(meta.Depends).find((n) => /^linux-source-\d+\.\d+$/.test(n));
  if (!name)
    throw new Error(
      `linux-source ${meta.Version ?? ''} depends on no linux-source-<version> package (Depends: ${meta.Depends ?? 'none'})`,
    );
  const fields = show(name);
  if (!fields.Version) throw new Error(`apt shows no version of ${name}`);
  return { name, version: fields.Version, size: Number(fields.Size ?? 0) };
}

/** Lists older than this are refreshed before resolving "newest". */
const LISTS_MAX_AGE_MS = 24 * 3600_000;

/** @param {string} dir */
function listsAge(dir) {
  try {
    const names = readdirSync(join(dir, 'lists')).filter((n) => n.includes('_Packages'));
    if (!names.length) return Infinity;
    return Date.now() - Math.max(...names.map((n) => statSync(join(dir, 'lists', n)).mtimeMs));
  } catch {
    return Infinity;
  }
}

/**
 * The newest linux-source as the private lists in `dir` say, remembered
 * beside them: asking costs two apt-cache runs of seconds each (apt builds
 * its cache of sid's lists in memory every time: PrivateApt keeps none), and
 * every kernel-source step asks (the CI, each `iovh qemu`). The answer stands
 * while the lists are the same files (names, sizes, mtimes).
 * @param {{ show: (pkg: string) => Record<string, string> }} apt @param {string} dir
 * @returns {{ name: string, version: string, size: number }}
 */
export function newestSource(apt, dir) {
  let stamp = '';
  try {
    const lists = join(dir, 'lists');
    stamp = readdirSync(lists)
      .sort()
      .map((n) => {
        const st = statSync(join(lists, n));
        return st.isFile() ? `${n} ${st.size} ${st.mtimeMs}` : '';
      })
      .join('\n');
  } catch {
    // no lists: nothing to remember by
  }
  const memo = join(dir, 'linux-source.json');
  try {
    const m = JSON.parse(readFileSync(memo, 'utf8'));
    if (stamp && m.stamp === stamp) return m.pkg;
  } catch {
    // not asked yet
  }
  const pkg = resolveSourcePackage((p) => apt.show(p));
  if (stamp) writeFileSync(memo, `${JSON.stringify({ stamp, pkg })}\n`);
  return pkg;
}

/**
 * Debian's newest linux-source, downloaded and unpacked once into the cache
 * (about 1.8 GB unpacked; the .deb is removed afterwards).
 * @param {{ paths: import('./kcache.mjs').KernelCachePaths, refresh?: boolean, log?: (s: string) => void }} o
 * @returns {Promise<KernelSource>}
 */
export async function debianSource({ paths, refresh = false, log = () => {} }) {
  mkdirSync(paths.sources, { recursive: true });
  const codename = systemCodename();
  if (!codename) throw new Error('cannot read VERSION_CODENAME from /etc/os-release to find the Debian archive');
  requireTools(['apt-get', 'apt-cache', 'dpkg-deb', 'tar', 'xz'], "fetching Debian's kernel source");
  const apt = new PrivateApt(paths.aptSid, sidSourcesText(releaseArchive(systemSources(), codename)));
  const pkg = await withLock(join(paths.sources, 'apt.lock'), { what: 'kernel source', log }, async () => {
    if (refresh || listsAge(paths.aptSid) > LISTS_MAX_AGE_MS) {
      log('kernel source: updating a private package list for Debian sid');
      apt.update();
    }
    return newestSource(apt, paths.aptSid);
  });
  const slot = join(paths.sources, `${pkg.name}_${pkg.version}`);
  const tree = join(slot, pkg.name);
  const done = join(slot, '.iovh-complete');
  const source = () => ({
    kind: /** @type {const} */ ('debian'),
    dir: tree,
    identity: `debian:${pkg.name}=${pkg.version}`,
    label: `${pkg.name} ${pkg.version} (Debian)`,
    version: makefileVersion(readFileSync(join(tree, 'Makefile'), 'utf8')) ?? '?',
  });
  if (existsSync(done)) return source();
  return withLock(`${slot}.lock`, { what: 'kernel source', log }, async () => {
    if (existsSync(done)) return source();
    // The .deb (~165 MB) plus the unpacked tree (~1.8 GB).
    requireSpace(paths.sources, 2.2 * 2 ** 30, `unpacking ${pkg.name} ${pkg.version}`);
    const stage = `${slot}.tmp-${process.pid}`;
    rmSync(stage, { recursive: true, force: true });
    rmSync(slot, { recursive: true, force: true });
    mkdirSync(join(stage, 'deb'), { recursive: true });
    const t0 = Date.now();
    log(
      `kernel source: downloading ${pkg.name} ${pkg.version}${pkg.size ? ` (${(pkg.size / 2 ** 20).toFixed(0)} MiB)` : ''}`,
    );
    apt.download(join(stage, 'deb'), [`${pkg.name}=${pkg.version}`]);
    unpackDebs(join(stage, 'deb'), [pkg.name], join(stage, 'pkg'));
    rmSync(join(stage, 'deb'), { recursive: true, force: true });
    const usrSrc = join(stage, 'pkg', 'usr', 'src');
    const tarball = readdirSync(usrSrc).find((f) => f.startsWith(`${pkg.name}.tar`));
    if (!tarball)
      throw new Error(`${pkg.name} holds no ${pkg.name}.tar.* in /usr/src (has: ${readdirSync(usrSrc).join(', ')})`);
    log(`kernel source: unpacking ${tarball}`);
    run('tar', ['-xf', join(usrSrc, tarball), '-C', stage]);
    rmSync(join(stage, 'pkg'), { recursive: true, force: true });
    if (!existsSync(join(stage, pkg.name, 'Makefile')))
      throw new Error(`${tarball} did not unpack to ${pkg.name}/ with a Makefile`);
    writeFileSync(join(stage, '.iovh-complete'), `${pkg.name} ${pkg.version} ${new Date().toISOString()}\n`);
    renameSync(stage, slot);
    log(`kernel source: ${pkg.name} ${pkg.version} ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return source();
  });
}
