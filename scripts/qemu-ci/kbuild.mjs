// @ts-check
// Build a guest kernel from source, out of tree, and cache it by what went
// into it. Inputs: a source tree (ksource.mjs), a patch series applied to a
// scratch copy (never to the tree itself), and config fragments merged over
// tinyconfig + kvm_guest.config (kconfig/iovh-guest.config first, then the
// caller's). After `make olddefconfig` every line of every fragment is
// checked; one that did not stick is an error naming the option and what it
// depends on. The build runs with fixed KBUILD_BUILD_* values so ccache (used
// when installed) hits across builds and trees. See docs/kernels.md.
import { spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from './apt.mjs';
import { NoSpaceError, cacheKey, pruneBuilds, requireSpace, sha256File, withLock } from './kcache.mjs';
import { KernelInputError } from './ksource.mjs';
import { repoRoot } from './paths.mjs';

/** The fragment shipped with iovh: what the guest needs, the sanitizers, tracing. */
export const DEFAULT_FRAGMENT = fileURLToPath(new URL('../../kconfig/iovh-guest.config', import.meta.url));

/** Bumped when the build recipe changes in a way that changes the output. */
export const KBUILD_FORMAT = 1;

/**
 * Fixed so that two builds of the same inputs compile identical command
 * lines (ccache hits) and produce the same `uname -v`.
 */
export const KBUILD_ENV = {
  KBUILD_BUILD_TIMESTAMP: '2026-01-01 00:00:00 UTC',
  KBUILD_BUILD_USER: 'iovh',
  KBUILD_BUILD_HOST: 'iovh',
  KBUILD_BUILD_VERSION: '1',
};

/** Object files of a build of the default fragment (measured: 7.2.13), until this cache has built one. */
const DEFAULT_OBJECTS_ESTIMATE = 1700;

/** Builds kept in the cache (each object tree is about 0.7 GB). */
const KEEP_BUILDS = 6;

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
export class KernelConfigError extends KernelInputError {}

/** make failed: `excerpt` holds the last lines of the failing command. */
export class KernelBuildError extends Error {
  /** @param {string} message @param {string[]} excerpt @param {string} log */
  constructor(message, excerpt, log) {
    super(message);
    this.name = 'KernelBuildError';
    this.excerpt = excerpt;
    this.log = log;
  }
}

// ------------------------------------------------------------------ fragments

/**
 * Parse a config fragment: `CONFIG_X=value` and `# CONFIG_X is not set`
 * lines; other comments and blank lines are ignored; anything else is an error.
 * @param {string} text @param {string} file
 * @returns {FragmentOption[]}
 */
export function parseFragment(text, file) {
  /** @type {FragmentOption[]} */
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    let m;
    if ((m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line))) out.push({ name: m[1], value: m[2], file, line: i + 1 });
    else if ((m = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line)))
      out.push({ name: m[1], value: null, file, line: i + 1 });
    else if (line === '' || line.startsWith('#')) continue;
    else
      throw new KernelConfigError(
        `${file}:${i + 1}: not a kernel config line: ${JSON.stringify(lines[i].slice(0, 80))}`,
      );
  }
  return out;
}

/**
 * A .config as name -> value (null for "is not set").
 * @param {string} text
 * @returns {Map<string, string | null>}
 */
export function parseDotConfig(text) {
  /** @type {Map<string, string | null>} */
  const out = new Map();
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line))) out.set(m[1], m[2]);
    else if ((m = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line))) out.set(m[1], null);
  }
  return out;
}

/**
 * Merge fragment options over a .config text, later options winning (what
 * scripts/kconfig/merge_config.sh does before olddefconfig).
 * @param {string} dotConfig @param {FragmentOption[]} options
 */
export function mergeConfig(dotConfig, options) {
  const wanted = new Map(options.map((o) => [o.name, o.value]));
  const kept = dotConfig.split('\n').filter((line) => {
    const m = /^(?:CONFIG_([A-Za-z0-9_]+)=|# CONFIG_([A-Za-z0-9_]+) is not set$)/.exec(line);
    return !(m && wanted.has(m[1] ?? m[2]));
  });
  while (kept.length && kept[kept.length - 1] === '') kept.pop();
  const added = [...wanted].map(([name, value]) =>
    value === null ? `# CONFIG_${name} is not set` : `CONFIG_${name}=${value}`,
  );
  return `${[...kept, ...added].join('\n')}\n`;
}

/**
 * Options whose final value is not what a fragment asked for. An option
 * asked "not set" may be absent (not visible means n); n is the same as not set.
 * @param {FragmentOption[]} options  the last word per name counts
 * @param {Map<string, string | null>} config
 */
export function unmetOptions(options, config) {
  /** @type {Map<string, FragmentOption>} */
  const last = new Map();
  for (const o of options) last.set(o.name, o);
  /** @type {Array<FragmentOption & { actual: string | null | undefined }>} */
  const out = [];
  const off = (/** @type {string | null | undefined} */ v) => v === undefined || v === null || v === 'n';
  for (const o of last.values()) {
    const actual = config.get(o.name);
    const ok = o.value === null || o.value === 'n' ? off(actual) : actual === o.value;
    if (!ok) out.push({ ...o, actual });
  }
  return out;
}

/**
 * Where `config NAME` is defined and its dependency lines, with each
 * symbol's current value ("depends on PCI [=y] && ZONE_DEVICE [=n]"), as
 * menuconfig's help shows them. Null when no Kconfig file defines it.
 * @param {string} srctree @param {string} name @param {Map<string, string | null>} config
 */
export function kconfigDependencies(srctree, name, config) {
  const r = spawnSync(
    'grep',
    ['-rnE', '--include=Kconfig*', `^[[:space:]]*(menu)?config[[:space:]]+${name}[[:space:]]*$`, '.'],
    { cwd: srctree, encoding: 'utf8', maxBuffer: 16 << 20 },
  );
  const hits = (r.stdout ?? '').split('\n').filter(Boolean);
  if (!hits.length) return null;
  const [file, lineNo] = hits[0].split(':');
  const lines = readFileSync(join(srctree, file), 'utf8').split('\n');
  /** @type {string[]} */
  const deps = [];
  for (let i = Number(lineNo); i < lines.length; i++) {
    const l = lines[i];
    if (/^\S/.test(l) && !/^\s*$/.test(l)) break; // the next top-level statement
    const t = l.trim();
    const m = /^(depends on|def_bool|def_tristate|select|default)\s+(.*)$/.exec(t);
    if (!m || m[1] === 'select' || m[1] === 'default') continue;
    let expr = m[2];
    while (expr.endsWith('\\') && i + 1 < lines.length) expr = `${expr.slice(0, -1).trimEnd()} ${lines[++i].trim()}`;
    // Symbols are upper case and may start with a digit (64BIT, 9P_FS).
    const shown = expr.replace(/\b(?=[A-Z0-9_]*[A-Z])[A-Z0-9_]+\b/g, (s) => {
      const v = config.get(s);
      return `${s} [=${v === undefined || v === null ? 'n' : v}]`;
    });
    deps.push(`${m[1]} ${shown}`);
  }
  return { where: `${file.replace(/^\.\//, '')}:${lineNo}`, deps };
}

/**
 * One line per unmet option: what was asked, what came out, and why.
 * @param {string} srctree @param {ReturnType<typeof unmetOptions>} unmet @param {Map<string, string | null>} config
 */
export function explainUnmet(srctree, unmet, config) {
  return unmet.map((o) => {
    const asked = o.value === null ? 'not set' : `=${o.value}`;
    const got = o.actual === undefined ? 'absent' : o.actual === null ? 'not set' : `=${o.actual}`;
    const head = `CONFIG_${o.name} ${asked} (${basename(o.file)}:${o.line}) came out ${got}`;
    const k = kconfigDependencies(srctree, o.name, config);
    if (!k) return `${head}: this tree has no option ${o.name} (no Kconfig defines it)`;
    return `${head}: ${k.where}${k.deps.length ? ` ${k.deps.join('; ')}` : ' (no dependency line; check the menus and if-blocks around it, and the choices it belongs to)'}`;
  });
}

// ------------------------------------------------------------------ patches

/**
 * Patch files in order: a directory gives its `series` file's order when it
 * has one (quilt), else its *.patch and *.diff files sorted by name.
 * @param {string[]} items files or directories
 */
export function patchList(items) {
  /** @type {string[]} */
  const out = [];
  for (const item of items) {
    let st;
    try {
      st = statSync(item);
    } catch {
      throw new KernelInputError(`patch ${item}: no such file or directory`);
    }
    if (st.isDirectory()) {
      const series = join(item, 'series');
      /** @type {string[]} */
      let names;
      if (existsSync(series)) {
        names = readFileSync(series, 'utf8')
          .split('\n')
          .map((l) => l.replace(/#.*$/, '').trim().split(/\s+/)[0])
          .filter(Boolean);
      } else {
        names = readdirSorted(item).filter((n) => /\.(patch|diff)$/.test(n));
      }
      if (!names.length)
        throw new KernelInputError(`patch directory ${item} holds no *.patch or *.diff file and no series file`);
      for (const n of names) {
        const f = join(item, n);
        if (!existsSync(f)) throw new KernelInputError(`${series} names ${n}, which does not exist`);
        out.push(f);
      }
    } else if (st.isFile()) out.push(item);
    else throw new KernelInputError(`patch ${item} is not a regular file or a directory`);
  }
  return out;
}

/** @param {string} dir */
function readdirSorted(dir) {
  return readdirSync(dir).sort();
}

/**
 * What GNU patch's output says went wrong, as one line naming file and hunk.
 * @param {string} patchName @param {string} output
 */
export function describePatchFailure(patchName, output) {
  const lines = output.split('\n');
  let file = '';
  /** @type {string[]} */
  const failed = [];
  for (const l of lines) {
    let m;
    if ((m = /^patching file (.+)$/.exec(l))) file = m[1].replace(/^'(.*)'$/, '$1');
    else if ((m = /^Hunk #(\d+) FAILED at (\d+)/.exec(l))) failed.push(`${file} hunk #${m[1]} (at line ${m[2]})`);
    else if ((m = /^can't find file to patch at input line (\d+)/.exec(l))) {
      // GNU patch quotes the patch's header after this line, each line behind a '|'.
      const named = lines
        .slice(lines.indexOf(l) + 1)
        .map((x) => /^\|(?:---|\+\+\+) (?:[ab]\/)?(\S+)/.exec(x)?.[1])
        .find((x) => x && x !== '/dev/null');
      failed.push(`${named ?? 'a file'} does not exist in the tree (patch input line ${m[1]})`);
    } else if (/Reversed \(or previously applied\) patch detected/.test(l))
      failed.push(`${file || 'a file'} already has this change (reversed or previously applied)`);
    else if (/Only garbage was found in the patch input/.test(l)) failed.push('it contains no diff');
    else if ((m = /malformed patch at line (\d+)/.exec(l))) failed.push(`malformed at line ${m[1]}`);
  }
  return `patch ${patchName} does not apply: ${failed.length ? failed.join('; ') : lines.filter(Boolean).slice(-2).join(' | ')}`;
}

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
export function scratchCopy(tree, dest, o) {
  rmSync(dest, { recursive: true, force: true });
  const linked = spawnSync('cp', ['-al', tree, dest], { encoding: 'utf8' });
  if (linked.status === 0) return 'hardlinks';
  rmSync(dest, { recursive: true, force: true });
  const err = (linked.stderr || '').trim().split('\n').slice(-1)[0] ?? '';
  if (/No space left/.test(err)) throw new NoSpaceError(`no space left making a scratch copy of ${tree} in ${dest}`);
  if (!o.allowCopy) return 'none';
  const copied = spawnSync('cp', ['-a', tree, dest], { encoding: 'utf8' });
  if (copied.status !== 0) {
    const e2 = (copied.stderr || '').trim().split('\n').slice(-1)[0] ?? '';
    rmSync(dest, { recursive: true, force: true });
    if (/No space left/.test(e2)) throw new NoSpaceError(`no space left copying ${tree} to ${dest}`);
    throw new Error(`cp -a ${tree} ${dest} failed: ${e2}`);
  }
  return 'copy';
}

/**
 * Apply one patch (-p1, no fuzz: a hunk whose context moved by lines is
 * applied, one whose context differs is a failure) to the scratch tree.
 * @param {string} scratch @param {string} patch @param {string} original the user's tree
 */
export function applyPatch(scratch, patch, original) {
  const r = spawnSync(
    'patch',
    [
      '-p1',
      '--forward',
      '--batch',
      '--fuzz=0',
      '--no-backup-if-mismatch',
      '--reject-file=-',
      '-d',
      scratch,
      '-i',
      patch,
    ],
    { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  if (r.error) throw new Error(`patch: ${r.error.message} (install GNU patch)`);
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new KernelConfigError(describePatchFailure(basename(patch), output));
  const touched = [...output.matchAll(/^patching file (.+)$/gm)].map((m) => m[1].replace(/^'(.*)'$/, '$1'));
  if (!touched.length)
    throw new KernelConfigError(`patch ${basename(patch)} changed no file (does it contain a diff?)`);
  for (const f of touched) {
    let a;
    let b;
    try {
      a = statSync(join(scratch, f));
      b = statSync(join(original, f));
    } catch {
      continue; // created or deleted by the patch
    }
    if (a.ino === b.ino && a.dev === b.dev)
      throw new Error(
        `patching ${f} wrote through a hard link into ${original}; refusing to go on (report this: the patch tool must replace files, not rewrite them)`,
      );
  }
  return touched;
}

// ------------------------------------------------------------------ toolchain

/** @param {string} cmd @param {string[]} args */
function firstLine(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || '').split('\n')[0].trim();
}

/** Build tools the kernel's make needs, with the Debian package that provides each. */
export const BUILD_TOOLS = /** @type {const} */ ([
  ['make', 'make'],
  ['gcc', 'gcc'],
  ['ld', 'binutils'],
  ['bc', 'bc'],
  ['bison', 'bison'],
  ['flex', 'flex'],
  ['perl', 'perl'],
  ['patch', 'patch'],
]);

/** Missing tools and headers, as "tool (package)". */
export function missingBuildTools() {
  const missing = BUILD_TOOLS.filter(([t]) => !which(t)).map(([t, p]) => `${t} (${p})`);
  if (!existsSync('/usr/include/libelf.h') && !existsSync('/usr/include/gelf.h'))
    missing.push('libelf headers (libelf-dev)');
  if (!existsSync('/usr/include/openssl/ssl.h')) missing.push('OpenSSL headers (libssl-dev)');
  return missing;
}

export function toolchain() {
  const cc = firstLine('gcc', ['--version']);
  const ld = firstLine('ld', ['--version']);
  if (!cc) throw new Error('no gcc on PATH (Debian: apt-get install gcc)');
  return { cc, ld: ld ?? 'unknown', ccache: which('ccache') ? firstLine('ccache', ['--version']) : null };
}

/**
 * ccache's hit and miss counters for `dir` (`ccache --print-stats`, ccache >= 4.4), or null.
 * @param {string} dir
 */
export function ccacheCounters(dir) {
  const r = spawnSync('ccache', ['--print-stats'], { encoding: 'utf8', env: { ...process.env, CCACHE_DIR: dir } });
  if (r.error || r.status !== 0) return null;
  /** @type {Record<string, number>} */
  const c = {};
  for (const line of r.stdout.split('\n')) {
    const [k, v] = line.split('\t');
    if (k && v !== undefined) c[k] = Number(v);
  }
  if (c.cache_miss === undefined) return null;
  return { hits: (c.direct_cache_hit ?? 0) + (c.preprocessed_cache_hit ?? 0), misses: c.cache_miss };
}

/**
 * The cache key: everything that changes the built image.
 * @param {{ identity: string, patches: Array<{ sha256: string }>, fragments: Array<{ sha256: string }>, toolchain: { cc: string, ld: string } }} o
 */
export function buildKey(o) {
  return cacheKey([
    JSON.stringify({
      format: KBUILD_FORMAT,
      arch: 'x86_64',
      identity: o.identity,
      patches: o.patches.map((p) => p.sha256),
      fragments: o.fragments.map((f) => f.sha256),
      cc: o.toolchain.cc,
      ld: o.toolchain.ld,
      env: KBUILD_ENV,
    }),
  ]);
}

// ------------------------------------------------------------------ make

/** Object lines of kbuild's quiet output ("  CC      mm/slub.o", "  AS      arch/x86/entry/entry_64.o"). */
const OBJECT_LINE = /^\s+(?:CC|AS)(?: \[M\])?\s+\S+\.o$/;

/**
 * The lines that say why make failed: the compiler's diagnostics (from the
 * first "error:" back to its "In function" header) and make's own *** line.
 * @param {string[]} lines stderr and stdout of the build, in order
 */
export function failureExcerpt(lines) {
  const firstError = lines.findIndex((l) =>
    /(?:^|\s)(?:fatal )?error:|: undefined reference to|No rule to make target/.test(l),
  );
  const stars = lines.filter((l) => /^make(?:\[\d+\])?: \*\*\*/.test(l));
  const target = stars.length ? (/\[(?:[^\]:]+:\d+: )?([^\]]+)\] Error/.exec(stars[0])?.[1] ?? null) : null;
  if (firstError < 0) return { excerpt: lines.slice(-12), target, summary: stars[0] ?? lines[lines.length - 1] ?? '' };
  let start = firstError;
  // Walk back over the diagnostic's own context: "In function", "In file included from", "from", notes.
  while (
    start > 0 &&
    firstError - start < 6 &&
    /: In function|In file included from|^\s+from |: note:/.test(lines[start - 1])
  )
    start--;
  const excerpt = lines
    .slice(start, Math.min(lines.length, firstError + 8))
    .filter((l) => !/^make(\[\d+\])?: \*\*\*/.test(l));
  if (stars[0]) excerpt.push(stars[0]);
  return { excerpt, target, summary: lines[firstError].trim() };
}

/**
 * Run make with kbuild's quiet output; count objects for the progress line.
 * @param {{ args: string[], env: NodeJS.ProcessEnv, log: import('node:fs').WriteStream, onObject?: () => void, nice?: number }} o
 * @returns {Promise<{ code: number | null, lines: string[], cpuSeconds: number | null }>}
 */
function make(o) {
  return new Promise((resolvePromise, reject) => {
    const useTime = existsSync('/usr/bin/time');
    const argv = ['make', ...o.args];
    const cmd = useTime ? '/usr/bin/time' : argv[0];
    const args = useTime ? ['-f', 'IOVH-TIME %U %S', ...argv] : argv.slice(1);
    const child = spawn(cmd, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    /** @type {string[]} */
    const tailLines = [];
    let cpu = /** @type {number | null} */ (null);
    const take = (/** @type {NodeJS.ReadableStream} */ stream) => {
      let rest = '';
      stream.on('data', (chunk) => {
        o.log.write(chunk);
        const parts = (rest + chunk.toString('utf8')).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) {
          const t = /^IOVH-TIME ([\d.]+) ([\d.]+)$/.exec(l);
          if (t) {
            // user + sys of the make, to the hundredth (two floats' sum prints as 88.72999999999999 otherwise).
            cpu = Math.round((Number(t[1]) + Number(t[2])) * 100) / 100;
            continue;
          }
          if (OBJECT_LINE.test(l)) o.onObject?.();
          tailLines.push(l);
          if (tailLines.length > 400) tailLines.splice(0, 100);
        }
      });
    };
    take(child.stdout);
    take(child.stderr);
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, lines: tailLines, cpuSeconds: cpu }));
  });
}

/**
 * The make arguments and environment of every step of one build.
 * @param {{ srctree: string, objtree: string, ccacheDir: string, useCcache: boolean, jobs: number }} o
 */
export function makeInvocation(o) {
  const cc = o.useCcache ? 'ccache gcc' : 'gcc';
  const args = ['-C', o.srctree, `O=${o.objtree}`, `CC=${cc}`, `HOSTCC=${cc}`];
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    ...KBUILD_ENV,
    LC_ALL: 'C',
    // ccache: one directory per cache root; paths hashed relative to the
    // build directory so another tree or object tree still hits.
    CCACHE_DIR: o.ccacheDir,
    CCACHE_BASEDIR: '/',
    CCACHE_NOHASHDIR: '1',
  };
  // Settings from the caller's environment that would change what make builds.
  for (const v of [
    'ARCH',
    'CROSS_COMPILE',
    'LLVM',
    'KCONFIG_CONFIG',
    'KBUILD_OUTPUT',
    'KBUILD_EXTMOD',
    'KCFLAGS',
    'KAFLAGS',
    'KCPPFLAGS',
    'MAKEFLAGS',
    'MFLAGS',
    'MAKELEVEL',
  ])
    delete env[v];
  return { args, env, jobs: o.jobs };
}

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
export async function buildKernel(o) {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  const patchFiles = patchList(o.patches ?? []);
  const fragmentFiles = [DEFAULT_FRAGMENT, ...(o.fragments ?? [])];
  /** @type {FragmentOption[]} */
  const options = [];
  for (const f of fragmentFiles) {
    let text;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new KernelInputError(
        `config fragment ${f}: ${/** @type {NodeJS.ErrnoException} */ (e).code === 'ENOENT' ? 'no such file' : /** @type {Error} */ (e).message}`,
      );
    }
    options.push(...parseFragment(text, f));
  }
  const tc = toolchain();
  const useCcache = (o.ccache ?? true) && tc.ccache !== null;
  const patches = patchFiles.map((file) => ({ file, sha256: sha256File(file) }));
  const fragments = fragmentFiles.map((file) => ({ file, sha256: sha256File(file) }));
  const key = buildKey({ identity: o.source.identity, patches, fragments, toolchain: tc });
  const dir = join(o.paths.builds, key);
  const manifestPath = join(dir, 'manifest.json');
  mkdirSync(o.paths.builds, { recursive: true });

  const hit = readBuilt(manifestPath);
  if (hit) return { ...hit, cached: true, seconds: (Date.now() - t0) / 1000 };

  return withLock(`${dir}.lock`, { what: 'kernel build', log }, async () => {
    const again = readBuilt(manifestPath);
    if (again) return { ...again, cached: true, seconds: (Date.now() - t0) / 1000 };
    pruneBuilds(o.paths, KEEP_BUILDS - 1, [key]);
    requireSpace(o.paths.builds, 1.5 * 2 ** 30, 'a kernel build');
    mkdirSync(dir, { recursive: true });

    // The tree is built from a scratch copy at <dir>/src, next to the object
    // tree at <dir>/obj: patches never touch the user's tree, and every build
    // compiles with the same relative paths (ccache's base_dir turns the
    // absolute -I paths into ../src/...), so one tree's objects hit for another's.
    let srctree = join(dir, 'src');
    const marker = join(dir, 'src.done');
    if (!existsSync(marker)) {
      const how = scratchCopy(o.source.dir, srctree, { allowCopy: patches.length > 0 });
      if (how === 'none') {
        srctree = o.source.dir;
      } else {
        // A .git in the tree would make scripts/setlocalversion add a suffix
        // and run git in a copy whose index no longer matches its inodes.
        rmSync(join(srctree, '.git'), { recursive: true, force: true });
        if (patches.length)
          log(`kernel build: applying ${patches.length} patch(es) to a scratch copy (${how}) of ${o.source.label}`);
        try {
          for (const p of patches) applyPatch(srctree, p.file, o.source.dir);
        } catch (e) {
          // Nothing of this attempt stays: the next one starts from a fresh copy.
          rmSync(dir, { recursive: true, force: true });
          throw e;
        }
      }
      writeFileSync(marker, `${srctree}\n${patches.map((p) => `${p.sha256}  ${p.file}`).join('\n')}\n`);
    } else {
      srctree = readFileSync(marker, 'utf8').split('\n')[0] || srctree;
    }

    const missing = missingBuildTools();
    if (missing.length)
      throw new Error(
        `building a kernel needs ${missing.join(', ')}; install them (Debian: apt-get install make gcc bc bison flex libelf-dev libssl-dev)`,
      );
    const objtree = join(dir, 'obj');
    mkdirSync(objtree, { recursive: true });
    const jobs = o.jobs ?? availableParallelism();
    const inv = makeInvocation({ srctree, objtree, ccacheDir: o.paths.ccache, useCcache, jobs });
    const logPath = join(dir, 'build.log');
    const logStream = createWriteStream(logPath, { flags: 'a' });
    const step = async (
      /** @type {string} */ what,
      /** @type {string[]} */ targets,
      /** @type {(() => void) | undefined} */ onObject = undefined,
    ) => {
      logStream.write(`\n# ${new Date().toISOString()} make ${[...inv.args, ...targets].join(' ')}\n`);
      const r = await make({ args: [...inv.args, ...targets], env: inv.env, log: logStream, onObject });
      if (r.code !== 0) {
        await new Promise((res) => logStream.end(res));
        const f = failureExcerpt(r.lines);
        if (r.lines.some((l) => /No space left on device/.test(l)))
          throw new NoSpaceError(`no space left in the kernel cache ${o.paths.root} while ${what} (log: ${logPath})`);
        throw new KernelBuildError(
          `kernel build failed ${what}${f.target ? ` at ${f.target}` : ''}: ${f.summary} (full log: ${logPath})`,
          f.excerpt,
          logPath,
        );
      }
      return r;
    };

    const tConfig = Date.now();
    const configDone = join(dir, 'config.done');
    if (!existsSync(configDone)) {
      log(
        `kernel build: configuring ${o.source.label} (tinyconfig + kvm_guest.config + ${fragmentFiles.map((f) => basename(f)).join(' + ')})`,
      );
      await step('configuring (tinyconfig)', ['tinyconfig']);
      await step('configuring (kvm_guest.config)', ['kvm_guest.config']);
      const dotConfig = join(objtree, '.config');
      writeFileSync(dotConfig, mergeConfig(readFileSync(dotConfig, 'utf8'), options));
      await step('configuring (olddefconfig)', ['olddefconfig']);
      const config = parseDotConfig(readFileSync(dotConfig, 'utf8'));
      const unmet = unmetOptions(options, config);
      if (unmet.length) {
        await new Promise((res) => logStream.end(res));
        throw new KernelConfigError(
          `${unmet.length} config option(s) did not hold after olddefconfig (${dotConfig}): ${explainUnmet(srctree, unmet, config).join(' | ')}`,
        );
      }
      writeFileSync(configDone, `${key}\n`);
    }
    const configSeconds = (Date.now() - tConfig) / 1000;

    const previous = objectsEstimate(o.paths, fragments);
    const ccacheBefore = useCcache ? ccacheCounters(o.paths.ccache) : null;
    const tBuild = Date.now();
    let done = 0;
    let lastTick = 0;
    const tick = (/** @type {boolean} */ force) => {
      const now = Date.now();
      if (!force && now - lastTick < 1000) return;
      lastTick = now;
      o.onProgress?.({
        phase: 'build',
        done,
        total: Math.max(previous.total, done),
        estimated: previous.estimated,
        elapsedSeconds: (now - tBuild) / 1000,
      });
    };
    const timer = setInterval(() => tick(true), 15_000);
    let built;
    try {
      log(`kernel build: make -j${jobs}${useCcache ? ' with ccache' : ''} in ${objtree}`);
      built = await step('compiling', [`-j${jobs}`, 'all'], () => {
        done++;
        tick(false);
      });
    } finally {
      clearInterval(timer);
    }
    tick(true);
    const buildSeconds = (Date.now() - tBuild) / 1000;
    const ccacheAfter = ccacheBefore ? ccacheCounters(o.paths.ccache) : null;
    await new Promise((res) => logStream.end(res));
    const rel = spawnSync('make', [...inv.args, '-s', 'kernelrelease'], { env: inv.env, encoding: 'utf8' });
    const release = (rel.stdout || '').trim().split('\n').pop() ?? '';
    const bzImage = join(objtree, 'arch', 'x86', 'boot', 'bzImage');
    if (!existsSync(bzImage)) throw new Error(`make succeeded but left no ${relative(dir, bzImage)}`);
    if (done > 0) recordObjects(o.paths, fragments, done);

    /** @type {KernelManifest} */
    const manifest = {
      format: KBUILD_FORMAT,
      key,
      createdAt: new Date().toISOString(),
      source: {
        kind: o.source.kind,
        dir: o.source.dir,
        identity: o.source.identity,
        label: o.source.label,
        version: o.source.version,
      },
      patches,
      fragments,
      toolchain: tc,
      release,
      objects: done,
      ccache:
        ccacheBefore && ccacheAfter
          ? { hits: ccacheAfter.hits - ccacheBefore.hits, misses: ccacheAfter.misses - ccacheBefore.misses }
          : null,
      timing: {
        configSeconds,
        buildSeconds,
        wallSeconds: (Date.now() - t0) / 1000,
        cpuSeconds: built.cpuSeconds,
        jobs,
      },
      bzImage,
      vmlinux: join(objtree, 'vmlinux'),
      config: join(objtree, '.config'),
      objtree,
      srctree,
    };
    const tmp = `${manifestPath}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(tmp, manifestPath);
    return { ...fromManifest(manifest), cached: false, seconds: (Date.now() - t0) / 1000 };
  });
}

/** @param {KernelManifest} m */
function fromManifest(m) {
  return {
    key: m.key,
    dir: join(m.objtree, '..'),
    bzImage: m.bzImage,
    vmlinux: m.vmlinux,
    config: m.config,
    objtree: m.objtree,
    srctree: m.srctree,
    release: m.release,
    manifest: m,
  };
}

/**
 * A complete cached build, its manifest touched (pruning keeps the recently used).
 * @param {string} manifestPath
 */
function readBuilt(manifestPath) {
  try {
    const m = /** @type {KernelManifest} */ (JSON.parse(readFileSync(manifestPath, 'utf8')));
    if (m.format !== KBUILD_FORMAT || !existsSync(m.bzImage) || !existsSync(m.config)) return null;
    const now = new Date();
    utimesSync(manifestPath, now, now);
    return fromManifest(m);
  } catch {
    return null;
  }
}

/** @param {Array<{ sha256: string }>} fragments */
function fragmentsKey(fragments) {
  return cacheKey([fragments.map((f) => f.sha256).join(',')], 16);
}

/**
 * How many objects a build of these fragments compiled last time in this
 * cache (the progress line's total), or the default fragment's measured count.
 * @param {import('./kcache.mjs').KernelCachePaths} paths @param {Array<{ sha256: string }>} fragments
 */
function objectsEstimate(paths, fragments) {
  try {
    const all = JSON.parse(readFileSync(join(paths.builds, 'objects.json'), 'utf8'));
    const n = all[fragmentsKey(fragments)];
    if (Number.isInteger(n) && n > 0) return { total: n, estimated: false };
  } catch {
    // first build in this cache
  }
  return { total: DEFAULT_OBJECTS_ESTIMATE, estimated: true };
}

/** @param {import('./kcache.mjs').KernelCachePaths} paths @param {Array<{ sha256: string }>} fragments @param {number} n */
function recordObjects(paths, fragments, n) {
  const file = join(paths.builds, 'objects.json');
  /** @type {Record<string, number>} */
  let all = {};
  try {
    all = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    all = {};
  }
  // Only a build from scratch counts all objects; an incremental one compiles fewer.
  if ((all[fragmentsKey(fragments)] ?? 0) < n) all[fragmentsKey(fragments)] = n;
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
  renameSync(tmp, file);
}

/**
 * "kernel build: 812/~1700 objects, 6:41" (the total is ~ until this cache has built these fragments once).
 * @param {BuildProgress} p
 */
export function progressLine(p) {
  const m = Math.floor(p.elapsedSeconds / 60);
  const s = Math.floor(p.elapsedSeconds % 60);
  return `kernel build: ${p.done}/${p.estimated ? '~' : ''}${p.total} objects, ${m}:${String(s).padStart(2, '0')} elapsed`;
}

/**
 * An onProgress for a log that is not a terminal: progressLine at most once per `ms`.
 * @param {(s: string) => void} log @param {number} ms
 * @returns {(p: BuildProgress) => void}
 */
export function progressEvery(log, ms) {
  let last = 0;
  return (p) => {
    if (Date.now() - last < ms) return;
    last = Date.now();
    log(progressLine(p));
  };
}

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
export async function buildExternalModule(o) {
  const src = o.dir;
  if (!existsSync(join(src, 'Kbuild')) && !existsSync(join(src, 'Makefile')))
    throw new KernelInputError(`${src} has no Kbuild or Makefile: not an out-of-tree module directory`);
  const files = [
    ...readdirSorted(src).map((name) => ({ name, from: join(src, name) })),
    ...(o.extraFiles ?? []).map((from) => ({ name: basename(from), from })),
  ];
  const sources = files.flatMap((f) => [f.name, '\0', readFileSync(f.from)]);
  const out = join(o.kernel.dir, 'ext', `${basename(src)}-${cacheKey(sources, 12)}`);
  const kos = () =>
    readdirSync(out)
      .filter((n) => n.endsWith('.ko'))
      .map((n) => join(out, n));
  if (existsSync(join(out, '.iovh-built'))) return kos();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of files) writeFileSync(join(out, f.name), readFileSync(f.from));
  const inv = makeInvocation({
    srctree: o.kernel.srctree,
    objtree: o.kernel.objtree,
    ccacheDir: o.paths.ccache,
    useCcache: which('ccache') !== null,
    jobs: availableParallelism(),
  });
  const logStream = createWriteStream(join(out, 'build.log'));
  o.log?.(`kernel build: module ${basename(src)} against ${o.kernel.release}`);
  const r = await make({ args: [...inv.args, `M=${out}`, 'modules'], env: inv.env, log: logStream });
  await new Promise((res) => logStream.end(res));
  if (r.code !== 0) {
    const f = failureExcerpt(r.lines);
    throw new KernelBuildError(
      `module ${basename(src)} failed to build${f.target ? ` at ${f.target}` : ''}: ${f.summary} (log: ${join(out, 'build.log')})`,
      f.excerpt,
      join(out, 'build.log'),
    );
  }
  const built = kos();
  if (!built.length) throw new Error(`make M=${out} succeeded but built no .ko`);
  writeFileSync(join(out, '.iovh-built'), `${built.map((k) => basename(k)).join('\n')}\n`);
  return built;
}

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
export function kernelParameters(config) {
  const out = [];
  if (config.get('KASAN') === 'y') {
    out.push('kasan_multi_shot');
    if (config.get('PGTABLE_LEVELS') === '5' || config.get('X86_5LEVEL') === 'y') out.push('no5lvl');
  }
  return out.join(' ');
}

/** The stand-in importer's sources (kernel/iovh-ic-importer) and its uAPI header, shipped with the package. */
export const IMPORTER_DIR = join(repoRoot, 'kernel', 'iovh-ic-importer');
export const IMPORTER_UAPI = join(repoRoot, 'core', 'uapi', 'iovh_ic.h');

/**
 * The stand-in importer (kernel/iovh-ic-importer, its uAPI header copied
 * beside it) built against a kernel with make M=, cached under that kernel's
 * build by the sources' hash: the one build of it that the CI's guests and
 * `iovh qemu` (src/qemu/run.ts buildImporter) load. Throws KernelBuildError
 * with the compiler's lines when it does not build.
 * @param {{ kernel: import('./kbuild.mjs').BuiltKernel, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void }} o
 * @returns {Promise<string>} its .ko
 */
export async function buildStandIn(o) {
  const kos = await buildExternalModule({
    kernel: o.kernel,
    dir: IMPORTER_DIR,
    extraFiles: [IMPORTER_UAPI],
    paths: o.paths,
    ...(o.log ? { log: o.log } : {}),
  });
  const ko = kos.find((k) => k.endsWith('/iovh_ic_importer.ko'));
  if (!ko) throw new Error(`the stand-in importer's build made no iovh_ic_importer.ko (${kos.join(', ')})`);
  return ko;
}

/** The mock GPU's PF driver (kernel/iovh-mock-gpu, docs/mock-gpu.md) and the importer's header its translation step includes. */
export const MOCK_GPU_DRIVER_DIR = join(repoRoot, 'kernel', 'iovh-mock-gpu');
export const IMPORTER_XLATE_H = join(IMPORTER_DIR, 'xlate.h');

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
export async function buildMockGpuDriver(o) {
  const kos = await buildExternalModule({
    kernel: o.kernel,
    dir: MOCK_GPU_DRIVER_DIR,
    extraFiles: [IMPORTER_XLATE_H],
    paths: o.paths,
    ...(o.log ? { log: o.log } : {}),
  });
  const ko = kos.find((k) => k.endsWith('/iovh_mock_gpu.ko'));
  if (!ko) throw new Error(`the mock GPU PF driver's build made no iovh_mock_gpu.ko (${kos.join(', ')})`);
  return ko;
}
