// @ts-check
// QEMU built from source for iovh's guests, with iovh's own device patches
// (qemu/patches/: the mock SR-IOV GPU), cached like the built kernels:
//
//   node scripts/qemu-ci/qemu-build.mjs [--patches DIR] [--refresh] [--json]
//
// prints JSON {qemu, key, cached, version, patches, configure, timing} (or,
// without --json, the path of qemu-system-x86_64 on the last line).
//
// - Source: Debian's upstream QEMU tarball, version pinned (QEMU_SOURCE), from
//   `apt-get source --download-only` through a private apt configuration with
//   a deb-src entry for this system's backports (scripts/qemu-ci/apt.mjs reads
//   the archive's address from /etc/apt). Debian's packaging files of the
//   backport are not served, so only the .orig tarball is used; apt checks it
//   against the signed Sources index, and this script against QEMU_SOURCE's
//   SHA-256.
// - Build dependencies: Debian packages (BUILD_DEPS), installed through the
//   same configuration when missing and run as root; otherwise each missing
//   one is named with its package.
// - Patches: each file of the series applied with `patch -p1` to a copy of the
//   pristine tree; a patch that does not apply names the patch, file and hunk.
// - Build: x86_64-softmmu only, --without-default-devices plus the device set
//   the guests use (configs/devices/x86_64-softmmu/iovh.mak, added by the
//   series), ccache, `nice -n 10`.
// - Cache: $IOVH_QEMU_BUILD_CACHE, else $XDG_CACHE_HOME/iovh/qemu-build, else
//   ~/.cache/iovh/qemu-build: src/ (tarball, pristine tree), ccache/,
//   builds/<key>/{qemu-10.0.2,build,build.log,manifest.json}; key = tarball hash + patch texts +
//   configure line + compiler version.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { PrivateApt, releaseArchive, systemCodename, systemSources, backportsSourcesText, which } from './apt.mjs';
import { cacheKey, sha256File } from './kcache.mjs';
import { repoRoot } from './paths.mjs';

/** The QEMU source iovh builds: Debian's bookworm backport of 10.0.2, upstream tarball. */
export const QEMU_SOURCE = /** @type {const} */ ({
  package: 'qemu',
  version: '1:10.0.2+ds-2+deb13u1~bpo12+1',
  upstream: '10.0.2',
  orig: 'qemu_10.0.2+ds.orig.tar.xz',
  sha256: '0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1',
  dir: 'qemu-10.0.2',
});

/**
 * Debian packages the build needs, with what needs them. `check` says how to
 * see the need is met without asking dpkg (a tool on PATH, a pkg-config module).
 * meson >= 1.5 (QEMU 10.0's pythondeps.toml) is in bookworm-backports only.
 * @type {{ pkg: string, why: string, target?: 'backports', check: { tool?: string, pc?: string, py?: string, header?: string } }[]}
 */
export const BUILD_DEPS = [
  { pkg: 'gcc', why: 'the C compiler', check: { tool: 'gcc' } },
  { pkg: 'ninja-build', why: 'the build tool meson drives', check: { tool: 'ninja' } },
  {
    pkg: 'meson',
    why: 'QEMU 10.0 needs meson >= 1.5 (bookworm-backports)',
    target: 'backports',
    check: { tool: 'meson' },
  },
  { pkg: 'python3-venv', why: "configure's Python virtual environment", check: { py: 'venv' } },
  {
    pkg: 'python3-pycotap',
    why: "the 'meson' group of pythondeps.toml",
    target: 'backports',
    check: { py: 'pycotap' },
  },
  { pkg: 'pkgconf', why: 'dependency lookup', check: { tool: 'pkg-config' } },
  { pkg: 'libglib2.0-dev', why: 'GLib, required by QEMU', check: { pc: 'glib-2.0' } },
  { pkg: 'zlib1g-dev', why: 'zlib, required by QEMU', check: { pc: 'zlib' } },
  { pkg: 'flex', why: 'the dtc/lexer generators', check: { tool: 'flex' } },
  { pkg: 'bison', why: 'the parser generators', check: { tool: 'bison' } },
  { pkg: 'libattr1-dev', why: 'virtio-9p (virtfs) on Linux', check: { header: '/usr/include/attr/xattr.h' } },
];

/** Minimum meson version of QEMU 10.0 (pythondeps.toml). */
export const MIN_MESON = [1, 5, 0];

/** The configure line (the prefix only says where the firmware is: the system's QEMU data). */
export const CONFIGURE_ARGS = Object.freeze([
  '--target-list=x86_64-softmmu',
  '--without-default-features',
  '--without-default-devices',
  '--with-devices-x86_64=iovh',
  '--enable-tcg',
  '--enable-attr',
  '--enable-virtfs',
  '--disable-docs',
  '--disable-tools',
  '--disable-user',
  '--disable-guest-agent',
  '--disable-download',
  '--disable-install-blobs',
  '--python=/usr/bin/python3',
  '--prefix=/usr',
]);

export const DEFAULT_PATCHES = join(repoRoot, 'qemu', 'patches');

/** @param {string} [env] */
export function cacheRoot(env = process.env.IOVH_QEMU_BUILD_CACHE) {
  if (env) return resolve(env);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'iovh', 'qemu-build');
}

/**
 * What went wrong, for callers that report it (`iovh qemu --device mock-gpu`):
 * `input` a patch series that is missing or does not apply (the user's to
 * fix), `deps` build dependencies missing (each named with its Debian
 * package), `build` anything else.
 */
export class BuildError extends Error {
  /** @param {string} message @param {'input' | 'deps' | 'build'} [kind] */
  constructor(message, kind = 'build') {
    super(message);
    this.name = 'QemuBuildError';
    this.kind = kind;
  }
}

/**
 * @param {string} cmd @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, inherit?: boolean, log?: string }} [o]
 */
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, {
    cwd: o.cwd,
    env: o.env ?? process.env,
    encoding: 'utf8',
    stdio: o.log ? ['ignore', openSync(o.log, 'a'), openSync(o.log, 'a')] : ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 << 20,
  });
  if (r.error) throw new BuildError(`${cmd}: ${r.error.message}`);
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Patch files of a series: DIR/series when present, else DIR's *.patch sorted. @param {string} dir */
export function seriesFiles(dir) {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st) throw new BuildError(`patches: ${dir} does not exist`, 'input');
  if (st.isFile()) return [resolve(dir)];
  const series = join(dir, 'series');
  const names = existsSync(series)
    ? readFileSync(series, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*$/, '').trim())
        .filter(Boolean)
    : readdirSync(dir)
        .filter((n) => n.endsWith('.patch'))
        .sort();
  return names.map((n) => {
    const f = join(dir, n);
    if (!existsSync(f)) throw new BuildError(`patches: ${series} names ${n}, which is not in ${dir}`, 'input');
    return f;
  });
}

/** [major, minor, patch] of `meson --version`, or null. */
function mesonVersion() {
  const r = run('meson', ['--version']);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(r.stdout.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** @param {number[]} a @param {number[]} b */
function versionAtLeast(a, b) {
  for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) > b[i];
  return true;
}

/** Build dependencies not met now, each with its package. */
export function missingDeps() {
  /** @type {typeof BUILD_DEPS} */
  const missing = [];
  for (const d of BUILD_DEPS) {
    const c = d.check;
    let ok = true;
    if (c.tool) ok = which(c.tool) !== null;
    if (ok && c.pc) ok = run('pkg-config', ['--exists', c.pc]).status === 0;
    if (ok && c.py) ok = run('/usr/bin/python3', ['-c', `import ${c.py}`]).status === 0;
    if (ok && c.header) ok = existsSync(c.header);
    if (ok && d.pkg === 'meson') {
      const v = mesonVersion();
      ok = v !== null && versionAtLeast(v, MIN_MESON);
    }
    if (!ok) missing.push(d);
  }
  return missing;
}

/** The private apt configuration: this system's sources, its backports, and the backports' sources. */
/** @param {string} root */
function privateApt(root) {
  const codename = systemCodename();
  if (!codename)
    throw new BuildError("cannot read VERSION_CODENAME from /etc/os-release to find this system's backports");
  const sources = systemSources();
  const a = releaseArchive(sources, codename);
  const opt = a.signedBy ? `[signed-by=${a.signedBy}] ` : '';
  const text = `${backportsSourcesText(sources, codename)}deb-src ${opt}${a.uri} ${codename}-backports main\n`;
  const apt = new PrivateApt(join(root, 'apt'), text);
  return { apt, codename };
}

/**
 * Install the missing build dependencies (root), or name them.
 * @param {string} root @param {(s: string) => void} log
 */
function ensureDeps(root, log) {
  let missing = missingDeps();
  if (missing.length === 0) return;
  const names = missing.map((d) => `${d.pkg} (${d.why})`).join(', ');
  if (process.getuid?.() !== 0)
    throw new BuildError(
      `missing QEMU build dependencies: ${names}; install these Debian packages, or run this as root once`,
      'deps',
    );
  const { apt, codename } = privateApt(root);
  log(`qemu-build: installing ${missing.map((d) => d.pkg).join(' ')}`);
  apt.update();
  const plain = missing.filter((d) => !d.target).map((d) => d.pkg);
  const bpo = missing.filter((d) => d.target === 'backports').map((d) => d.pkg);
  if (plain.length) apt.install(plain, undefined);
  if (bpo.length) apt.install(bpo, `${codename}-backports`);
  missing = missingDeps();
  if (missing.length)
    throw new BuildError(
      `still missing after apt-get install: ${missing.map((d) => `${d.pkg} (${d.why})`).join(', ')}`,
      'deps',
    );
}

/**
 * The pristine source tree (downloaded and unpacked once).
 * @param {string} root @param {(s: string) => void} log
 */
function ensureSource(root, log) {
  const srcDir = join(root, 'src');
  const tree = join(srcDir, `${QEMU_SOURCE.sha256.slice(0, 16)}`, QEMU_SOURCE.dir);
  if (existsSync(join(tree, 'VERSION'))) return tree;
  const dl = join(srcDir, 'dl');
  mkdirSync(dl, { recursive: true });
  const tarball = join(dl, QEMU_SOURCE.orig);
  if (!existsSync(tarball) || sha256File(tarball) !== QEMU_SOURCE.sha256) {
    const { apt } = privateApt(root);
    log(`qemu-build: fetching ${QEMU_SOURCE.package} ${QEMU_SOURCE.version} (source)`);
    apt.update();
    // The backport's .dsc and .debian.tar.xz are not served (404), so apt
    // exits non-zero after fetching the .orig tarball; the tarball is what counts.
    const r = run(
      'apt-get',
      [...apt.args, '-q', 'source', '--download-only', `${QEMU_SOURCE.package}=${QEMU_SOURCE.version}`],
      {
        cwd: dl,
      },
    );
    if (!existsSync(tarball))
      throw new BuildError(
        `apt-get source did not fetch ${QEMU_SOURCE.orig}: ${(r.stderr || r.stdout).trim().split('\n').slice(-4).join(' | ')}`,
      );
  }
  const sum = sha256File(tarball);
  if (sum !== QEMU_SOURCE.sha256)
    throw new BuildError(
      `${tarball}: SHA-256 ${sum}, expected ${QEMU_SOURCE.sha256} (QEMU_SOURCE in ${basename(import.meta.url)})`,
    );
  const stage = `${tree}.partial`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  log(`qemu-build: unpacking ${QEMU_SOURCE.orig}`);
  const t = run('tar', ['-xf', tarball, '-C', stage, '--no-same-owner']);
  if (t.status !== 0) throw new BuildError(`tar -xf ${tarball}: ${t.stderr.trim()}`);
  renameSync(join(stage, QEMU_SOURCE.dir), tree);
  rmSync(stage, { recursive: true, force: true });
  return tree;
}

/**
 * Apply each patch; the first that does not apply is named with its hunk.
 * @param {string} tree @param {string[]} patches
 */
export function applyPatches(tree, patches) {
  for (const p of patches) {
    const dry = run('patch', ['-p1', '--forward', '--batch', '--dry-run', '-i', p], { cwd: tree });
    if (dry.status !== 0) {
      const out = `${dry.stdout}\n${dry.stderr}`;
      /** @type {string[]} */
      const failed = [];
      let file = '?';
      for (const line of out.split('\n')) {
        const f = /^(?:checking|patching) file (.*)$/.exec(line);
        if (f) file = f[1];
        const h = /^Hunk #(\d+) FAILED at (\d+)/.exec(line);
        if (h) failed.push(`${file} hunk #${h[1]} (at line ${h[2]})`);
        if (/Reversed \(or previously applied\) patch detected/.test(line)) failed.push(`${file}: already applied`);
        if (/can't find file to patch/.test(line)) failed.push(`a file the patch names is missing (${line.trim()})`);
      }
      throw new BuildError(
        `${basename(p)} does not apply to ${QEMU_SOURCE.package} ${QEMU_SOURCE.upstream}: ${failed.length ? failed.join('; ') : out.trim().split('\n').slice(-3).join(' | ')}`,
        'input',
      );
    }
    const r = run('patch', ['-p1', '--forward', '--batch', '--quiet', '-i', p], { cwd: tree });
    if (r.status !== 0)
      throw new BuildError(`${basename(p)}: patch failed after a clean dry run: ${r.stdout}${r.stderr}`);
  }
}

/** gcc's version line (part of the key: another compiler is another build). */
function compilerId() {
  return run('gcc', ['--version']).stdout.split('\n')[0] ?? 'unknown';
}

/** @param {string[]} patches */
export function buildKey(patches, compiler = compilerId()) {
  return cacheKey([
    `qemu ${QEMU_SOURCE.sha256}\n`,
    ...patches.flatMap((p) => [`patch ${basename(p)}\n`, readFileSync(p)]),
    `configure ${CONFIGURE_ARGS.join(' ')}\n`,
    `cc ${compiler}\n`,
  ]);
}

/** CPU seconds of this process's waited-for children (utime + stime, /proc/self/stat). */
function childCpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 16 and 17 (cutime, cstime) are 14 and 15 after the ')'; clock ticks of 1/100 s.
  return (Number(f[13]) + Number(f[14])) / 100;
}

/**
 * @param {{ patches?: string, refresh?: boolean, log?: (s: string) => void, jobs?: number }} [o]
 */
export function buildQemu(o = {}) {
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  const root = cacheRoot();
  const patches = seriesFiles(o.patches ?? DEFAULT_PATCHES);
  ensureDeps(root, log);
  const key = buildKey(patches);
  const dir = join(root, 'builds', key);
  const manifestFile = join(dir, 'manifest.json');
  const binary = join(dir, 'build', 'qemu-system-x86_64');
  if (!o.refresh && existsSync(manifestFile) && existsSync(binary)) {
    const m = JSON.parse(readFileSync(manifestFile, 'utf8'));
    return { ...m, cached: true };
  }
  const pristine = ensureSource(root, log);
  mkdirSync(join(root, 'builds'), { recursive: true });
  const lock = `${dir}.lock`;
  let fd;
  try {
    fd = openSync(lock, 'wx');
  } catch {
    throw new BuildError(`another build of ${key} holds ${lock} (remove it if no build runs)`);
  }
  try {
    rmSync(dir, { recursive: true, force: true });
    const src = join(dir, QEMU_SOURCE.dir);
    log(`qemu-build: ${key}: copying the source and applying ${patches.length} patches`);
    cpSync(pristine, src, { recursive: true });
    applyPatches(src, patches);
    const build = join(dir, 'build');
    mkdirSync(build, { recursive: true });
    const buildLog = join(dir, 'build.log');
    // Paths relative to the build's own directory and no working directory in the hash: another key (a
    // changed patch) finds the objects its patches do not change in ccache.
    const env = { ...process.env, CCACHE_DIR: join(root, 'ccache'), CCACHE_BASEDIR: dir, CCACHE_NOHASHDIR: '1' };
    const cc = which('ccache') ? ['--cc=ccache gcc', '--cxx=ccache g++'] : [];
    const t0 = Date.now();
    const c0 = childCpuSeconds();
    log(`qemu-build: configure (log: ${buildLog})`);
    const conf = run('nice', ['-n', '10', join(src, 'configure'), ...cc, ...CONFIGURE_ARGS], {
      cwd: build,
      env,
      log: buildLog,
    });
    if (conf.status !== 0) throw new BuildError(`configure failed (exit ${conf.status}): ${tail(buildLog)}`);
    const jobs = o.jobs ?? 2;
    log(`qemu-build: ninja -j${jobs} qemu-system-x86_64`);
    const nin = run('nice', ['-n', '10', 'ninja', `-j${jobs}`, 'qemu-system-x86_64'], {
      cwd: build,
      env,
      log: buildLog,
    });
    if (nin.status !== 0) throw new BuildError(`the build failed (exit ${nin.status}): ${tail(buildLog)}`);
    const version = run(binary, ['--version']).stdout.split('\n')[0];
    const manifest = {
      format: 1,
      key,
      createdAt: new Date().toISOString(),
      qemu: binary,
      version,
      source: { ...QEMU_SOURCE },
      patches: patches.map((p) => ({ file: basename(p), sha256: sha256File(p) })),
      configure: [...cc, ...CONFIGURE_ARGS],
      compiler: compilerId(),
      timing: { wallSeconds: (Date.now() - t0) / 1000, cpuSeconds: childCpuSeconds() - c0 },
    };
    writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    // The copied source is needed only while building (objects keep paths to it for debugging).
    return { ...manifest, cached: false };
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

/** Last lines of a log, one line. @param {string} file */
function tail(file) {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const errs = lines.filter((l) => /error|ERROR/.test(l));
    return (errs.length ? errs.slice(-3) : lines.slice(-3)).join(' | ');
  } catch {
    return '(no log)';
  }
}

async function main() {
  const args = process.argv.slice(2);
  /** @type {{ patches?: string, refresh?: boolean }} */
  const o = {};
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--patches' && args[i + 1]) o.patches = resolve(args[++i]);
    else if (a === '--refresh') o.refresh = true;
    else if (a === '--json') json = true;
    else {
      process.stderr.write(
        `qemu-build: unknown argument ${a}\nusage: qemu-build.mjs [--patches DIR|FILE] [--refresh] [--json]\n`,
      );
      process.exit(2);
    }
  }
  try {
    const r = buildQemu(o);
    process.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : `${r.qemu}\n`);
  } catch (e) {
    if (e instanceof BuildError || !process.env.IOVH_DEBUG) {
      process.stderr.write(`qemu-build: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
