#!/usr/bin/env node
// `npm run bench`: a table-driven runner. Every figure is a ratio: what iovh
// does, against a baseline measured in the same run on the same machine (C
// against C, the addon against the same C loop, the mock against its own
// cheapest operation or smallest case, a guest's run against its own boot).
// Some figures also have a goal; a missed goal is reported, not an error.
//
// Figures that hold: each figure is measured in rounds (IOVH_BENCH_ROUNDS,
// default 9; fewer for the expensive mock and QEMU figures), the two sides
// of a round back to back and taking turns going first, so that both see the
// same moment of a shared machine. A figure's ratio is the median of its
// rounds' ratios, shown with their spread (min-max); its measured and
// baseline values are the medians of each side. A goal is 'met' when the
// whole spread meets it, 'MISSED' when the median does not, and 'crosses'
// when the median meets it but part of the spread does not.
//
// Prints a table (or Markdown with --markdown) and writes bench/results.json
// with the machine it ran on and the load average around the run. With
// --markdown it also rewrites the generated tables of README.md and
// bench/README.md (between their `bench:begin` and `bench:end` markers) from
// the results, so those tables are never typed by hand; --report --markdown
// regenerates them from bench/results.json without measuring.
//
// A partial run (--only, --skip, or a figure added since) merges into
// bench/results.json: the figures measured now replace those with the same
// id, the others are kept with their own measuredAt and machine line and the
// table marks them as from an earlier run. Earlier figures from a different
// machine line are dropped, with one line saying so.
//
// Usage: npm run bench [-- --only <id,...>] [--skip <id,...>] [--markdown]
//        npm run bench -- --report [--markdown]   (print bench/results.json again)
//   ids match by prefix: --skip qemu, --only boundary,pattern
// Environment: IOVH_BENCH_MB (pattern buffer, default 256), IOVH_BENCH_ROUNDS
// (rounds per figure, default 9), CC (C compiler, default cc).
//
// Importing this file runs nothing: judge, summarize, mergeResults,
// machineLine, isEarlier and replaceGenerated are exported for test/bench/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Table from 'cli-table3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache', 'bench');
const resultsFile = join(root, 'bench', 'results.json');
const mib = Number(process.env.IOVH_BENCH_MB ?? 256);
const rounds = Number(process.env.IOVH_BENCH_ROUNDS ?? 9);
/** Rounds for figures that cost seconds each (fresh mock processes): at least 3, so there is a median and a spread. */
const fewRounds = Math.max(3, Math.min(rounds, 5));

function parseArgs(argv) {
  const opts = { only: null, skip: [], markdown: false, report: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const list = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) {
        console.error(`bench: ${a} needs a comma-separated list of figure ids (prefixes)`);
        process.exit(2);
      }
      return v.split(',').filter(Boolean);
    };
    if (a === '--only') opts.only = list();
    else if (a === '--skip') opts.skip = list();
    else if (a === '--markdown') opts.markdown = true;
    else if (a === '--report') opts.report = true;
    else {
      console.error(`bench: unknown option '${a}' (use --only <ids>, --skip <ids>, --markdown, --report)`);
      process.exit(2);
    }
  }
  return opts;
}

/** Build bench/<name>.c with the C core sources it measures, at the addon's optimisation level (CMake Release: -O3). */
function buildC(name, sources) {
  mkdirSync(cache, { recursive: true });
  const exe = join(cache, name);
  const cc = process.env.CC ?? 'cc';
  execFileSync(
    cc,
    [
      '-std=c11',
      '-O3',
      '-DNDEBUG',
      '-Wall',
      '-I',
      join(root, 'core'),
      join(root, 'bench', `${name}.c`),
      ...sources.map((s) => join(root, s)),
      '-o',
      exe,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return exe;
}

/** bench/boundary.c as a Node addon (.cache/bench/boundary.node) with the C core files its loop calls: {addon} or {error}. */
function buildBoundaryAddon() {
  const headers = join(root, 'node_modules', 'node-api-headers', 'include');
  if (!existsSync(join(headers, 'node_api.h')))
    return { error: `no Node-API headers in ${headers} (npm ci installs them)` };
  mkdirSync(cache, { recursive: true });
  const out = join(cache, 'boundary.node');
  const cc = process.env.CC ?? 'cc';
  execFileSync(
    cc,
    [
      '-std=gnu11',
      '-O3',
      '-DNDEBUG',
      '-Wall',
      '-shared',
      '-fPIC',
      '-DNODE_GYP_MODULE_NAME=boundary',
      '-I',
      headers,
      '-I',
      join(root, 'core'),
      join(root, 'bench', 'boundary.c'),
      ...IOCTL_SOURCES.map((f) => join(root, f)),
      '-o',
      out,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return { addon: createRequire(import.meta.url)(out) };
}

const once = new Map();
function memo(key, f) {
  if (!once.has(key)) once.set(key, f());
  return once.get(key);
}

const PATTERN_SOURCES = ['core/mem.c', 'core/pattern.c'];

/** One run of bench/pattern.c serves several figures: same buffer, same rounds. */
const patternRun = (size = mib, passes = 1) =>
  memo(`pattern ${size} ${passes}`, () =>
    JSON.parse(
      execFileSync(buildC('pattern', PATTERN_SOURCES), [String(size), String(rounds), String(passes)], {
        encoding: 'utf8',
        maxBuffer: 16 << 20,
      }),
    ),
  );

async function loadAddon() {
  try {
    const { loadAddon: load } = await import(pathToFileURL(join(root, 'dist', 'core', 'addon.js')).href);
    return load();
  } catch (e) {
    return { addon: null, error: `dist/ not built (${e.message.split('\n')[0]}); run npm run build:ts` };
  }
}

/** The addon as a figure needs it: {addon}, or {skip} saying why it is not there and how to build it. */
async function addonOrSkip() {
  const load = await loadAddon();
  return load.addon
    ? { addon: load.addon }
    : { skip: `native addon unavailable (${load.error}); run npm rebuild iovh` };
}

function needDist() {
  if (!existsSync(join(root, 'dist', 'mock', 'backend.js')))
    throw new Error('dist/ is not built; run npm run build:ts');
}

const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);

/** Seconds one synchronous call takes, best of `n` (within one round: the least disturbed sample). */
function best(f, n) {
  let t = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

/** `node --expose-gc bench/mock.mjs <mode> <arg>`: one fresh process per measurement. */
function mockRun(mode, arg) {
  const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'bench', 'mock.mjs'), mode, String(arg)], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0)
    throw new Error(
      `bench/mock.mjs ${mode} ${arg} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`,
    );
  return JSON.parse(r.stdout);
}

/** Least-squares slope of log(y) against log(x): 1 is linear. */
function logSlope(points) {
  const xs = points.map((p) => Math.log(p.x));
  const ys = points.map((p) => Math.log(p.y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * A figure's rounds ([{measured, baseline, check?}], numbers in `units`)
 * as the runner reports them: the median of the rounds' ratios
 * (measured / baseline) and their spread, the median of each side, and the
 * median and spread of `check` when the rounds carry one (a slope, a step's
 * time).
 */
export function summarize(list, units) {
  if (!Array.isArray(list) || list.length === 0) throw new Error('a figure produced no rounds');
  const ratios = list.map((r) => r.measured / r.baseline);
  const out = {
    measured: { value: median(list.map((r) => r.measured)), unit: units.measured },
    baseline: { value: median(list.map((r) => r.baseline)), unit: units.baseline ?? units.measured },
    ratio: median(ratios),
    spread: { ratio: [Math.min(...ratios), Math.max(...ratios)], measured: minmax(list.map((r) => r.measured)) },
    rounds: list.length,
  };
  const checks = list.map((r) => r.check).filter((c) => typeof c === 'number');
  if (checks.length === list.length) {
    out.check = median(checks);
    out.spread.check = minmax(checks);
  }
  return out;
}
const minmax = (xs) => [Math.min(...xs), Math.max(...xs)];

/** Rounds of two sides, alternating which goes first: `first(r)` and `second(r)` each return one sample. */
function alternate(n, a, b) {
  const out = [];
  for (let r = 0; r < n; r++) {
    let x;
    let y;
    if (r % 2 === 0) {
      x = a(r);
      y = b(r);
    } else {
      y = b(r);
      x = a(r);
    }
    out.push([x, y]);
  }
  return out;
}

// ------------------------------------------------------------------ boundary

const IOCTL_SOURCES = ['core/fd.c', 'core/vfio.c', 'core/memfd.c'];
/** The C core calls bench/boundary.c's cLoop makes: its `kind` argument. */
const KIND = { apiVersion: 0, addSeals: 1 };

/** What the JS side of a boundary figure allocated, as the garbage collector saw it. */
const gcNote = (r) =>
  `; ${r.gcs === 0 ? 'no' : r.gcs} garbage collection${r.gcs === 1 ? '' : 's'} during the ${r.calls.toLocaleString('en')} timed JS calls`;

/**
 * Loops per side and round. Short loops, many of them, the fastest kept: on
 * a loaded machine a loop of tens of milliseconds is nearly always cut by
 * the scheduler, one of a millisecond or two often is not, so the best of
 * many short loops is the call's own cost on either side (the C loop
 * measured 95 ns per failing ioctl in loops of 20,000 calls and 350 ns in
 * loops of 200,000 under a load average of 19 on 2 CPUs).
 */
const LOOPS = 15;
/** Calls per C loop (a JS loop has the figure's own count: a thrown Error costs a hundred C calls). */
const C_CALLS = 5_000;

/**
 * `calls` calls of `once` in a loop of its own: `new Function` gives every
 * figure its own call site, which sees one callee and inlines it, as the C
 * loop's indirect call always goes to one place. One loop shared by all the
 * figures sees every figure's callee and calls through a megamorphic site
 * (3-5 ns a call more than the call itself, measured on Node 20).
 */
function freshLoop(once) {
  const loop = new Function('once', 'calls', 'for (let i = 0; i < calls; i++) once();');
  return (calls) => {
    const t0 = process.hrtime.bigint();
    loop(once, calls);
    return Number(process.hrtime.bigint() - t0) / calls;
  };
}

/** Fastest of LOOPS loops: ns per call. */
const fastest = (ns) => Math.min(...Array.from({ length: LOOPS }, () => ns()));

/** iovh's addon and bench/boundary.c's (built once per run): {addon, bench}, or {skip}. */
async function bothAddons() {
  const a = await addonOrSkip();
  if (a.skip) return a;
  const b = memo('boundary addon', buildBoundaryAddon);
  return b.error ? { skip: b.error } : { addon: a.addon, bench: b.addon };
}

/**
 * A boundary figure's rounds. Each round is LOOPS pairs of loops, the C
 * loop (bench/boundary.c's cLoop, in this process, on the figure's fd) and
 * the JS loop, taking turns going first pair by pair; a round's figure is
 * the fastest loop of each side. Both sides run in the same process and
 * thread on the same fd, so the kernel does the same work for both.
 * `setup(addon, bench)` returns {fd, once, close, note?}.
 */
async function boundaryRounds(kind, calls, setup) {
  const both = await bothAddons();
  if (both.skip) return both;
  const js = await setup(both.addon, both.bench);
  let gcs = 0;
  let timing = false;
  const observer = new PerformanceObserver((list) => {
    if (timing) gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const result = both.bench.cLoop(kind, js.fd, 0);
    const jsLoop = freshLoop(js.once);
    const cLoop = () => both.bench.cLoop(kind, js.fd, C_CALLS);
    const timed = () => {
      timing = true;
      const ns = jsLoop(calls);
      timing = false;
      return ns;
    };
    for (let i = 0; i < 3; i++) jsLoop(calls); // the JIT's warm-up, untimed
    const list = [];
    for (let r = 0; r < rounds; r++) {
      let c = Infinity;
      let j = Infinity;
      for (let l = 0; l < LOOPS; l++) {
        if ((r + l) % 2 === 0) {
          c = Math.min(c, cLoop());
          j = Math.min(j, timed());
        } else {
          j = Math.min(j, timed());
          c = Math.min(c, cLoop());
        }
      }
      list.push({ measured: j, baseline: c });
    }
    await new Promise((resolve) => setImmediate(resolve)); // gc entries arrive asynchronously
    return { rounds: list, result, gcs, calls: calls * LOOPS * rounds, note: js.note ?? '' };
  } finally {
    observer.disconnect();
    js.close();
  }
}

const NS = { measured: 'ns/call' };
const O_RDWR_CLOEXEC = 2 | 0x80000;
const MFD_CLOEXEC_ALLOW_SEALING = 1 | 2;
const ENOTTY = 25;

/** A memfd of the addon's: what the F_ADD_SEALS figures call on. */
const memfd = (a, once) => {
  const fd = a.memfdCreate('iovh-bench', MFD_CLOEXEC_ALLOW_SEALING);
  return { fd, once: once(fd), close: () => a.close(fd) };
};
/** /dev/null opened by the addon: the failing-ioctl figures' fd. */
const devNull = (a, once) => {
  const fd = a.open('/dev/null', O_RDWR_CLOEXEC);
  return { fd, once: once(fd), close: () => a.close(fd) };
};
/** The native backend, and a fd it opened: what the harness calls. */
async function backendOn(open, once) {
  needDist();
  const { createNativeBackend } = await dist('backend/native.js');
  const b = createNativeBackend({ reason: 'bench' });
  const fd = open(b.dev);
  return { fd, once: await once(b.dev, fd), close: () => b.close() };
}
const expectEnotty = (r) =>
  r.result === -ENOTTY ? null : `/dev/null answered ${r.result} to VFIO_GET_API_VERSION, expected -ENOTTY`;

/**
 * The boundary figures, one row each: the C call its loop makes (`kind`),
 * the JS calls per loop, `setup(addon, bench)` -> {fd, once, close, note?},
 * an optional `needs()` (a reason to skip, or null) and `check(r)` on the
 * first C call's result (a reason to skip, or null), and the detail.
 */
const boundaryRows = [
  {
    id: 'boundary.ioctl',
    title: 'boundary: VFIO_GET_API_VERSION on /dev/vfio/vfio, addon from JS / C loop',
    short: 'boundary: `VFIO_GET_API_VERSION` from JS / the same ioctl in a C loop',
    goal: { op: '<=', value: 1.2 },
    needs: () =>
      existsSync('/dev/vfio/vfio')
        ? null
        : 'no /dev/vfio/vfio on this machine (vfio not loaded), so the cheapest VFIO ioctl cannot succeed here; run on a machine with `modprobe vfio` (see boundary.syscall)',
    kind: KIND.apiVersion,
    calls: 5_000,
    setup: (a) => {
      const fd = a.open('/dev/vfio/vfio', O_RDWR_CLOEXEC);
      return { fd, once: () => a.vfioGetApiVersion(fd), close: () => a.close(fd) };
    },
    check: (r) => (r.result === 0 ? null : `VFIO_GET_API_VERSION answered ${r.result}, not 0: not a VFIO container`),
    detail: 'ioctl(fd, 0x3B64) returning 0; both sides call __vfio_get_api_version (core/vfio.c)',
  },
  {
    id: 'boundary.syscall',
    title: 'boundary: fcntl(F_ADD_SEALS, 0) on a memfd, addon from JS / C loop',
    short: 'boundary: `fcntl(F_ADD_SEALS)` on a memfd from JS / the same call in a C loop',
    goal: { op: '<=', value: 1.2 },
    kind: KIND.addSeals,
    calls: 5_000,
    setup: (a) => memfd(a, (fd) => () => a.addSeals(fd, 0)),
    detail:
      'the cheapest call the addon makes that succeeds on any Linux (same shape as an ioctl: fd, command, int result); both sides call __memfd_add_seals (core/memfd.c) on the same memfd in the same process (bench/boundary.c)',
  },
  {
    id: 'boundary.napi_floor',
    title: 'the same fcntl from a bare Node-API function (bench/boundary.c: two arguments read unchecked) / C loop',
    short: 'the same from a bare Node-API function of two arguments / C',
    kind: KIND.addSeals,
    calls: 5_000,
    setup: (a, bench) => memfd(a, (fd) => () => bench.addSeals(fd, 0)),
    detail:
      "what Node-API itself costs for a call of two arguments (V8's API call, the callback wrapper, napi_get_cb_info, two napi_get_value_int32); shown, not judged",
  },
  {
    id: 'boundary.napi_call',
    title: 'the same fcntl from a Node-API function of no arguments (bench/boundary.c) / C loop',
    short: 'the same from a Node-API function of no arguments (the floor of any binding) / C',
    kind: KIND.addSeals,
    calls: 5_000,
    setup: (a, bench) => {
      const m = memfd(a, () => () => bench.addSealsFixed());
      bench.setFd(m.fd);
      const empty = freshLoop(() => bench.empty());
      empty(C_CALLS);
      return {
        ...m,
        note: `; a Node-API function that does nothing costs ${fastest(() => empty(C_CALLS)).toFixed(1)} ns`,
      };
    },
    detail:
      "the least a Node-API call making this system call costs: V8's API call and the callback wrapper, no argument read; the floor of the addon's scalar forms (core/binding.cc); shown, not judged",
  },
  {
    id: 'boundary.ioctl_error',
    title: 'boundary, a failing ioctl: VFIO_GET_API_VERSION on /dev/null (ENOTTY), errno twin from JS / C loop',
    short: 'boundary, a failing ioctl (ENOTTY), `addon.errno` from JS / C',
    goal: { op: '<=', value: 5 },
    kind: KIND.apiVersion,
    calls: 5_000,
    setup: (a) =>
      devNull(a, (fd) => () => {
        if (a.errno.vfioGetApiVersion(fd) !== -ENOTTY) throw new Error('expected -ENOTTY');
      }),
    check: expectEnotty,
    detail:
      'a real ioctl the kernel refuses; the errno twin returns -25 where the throwing form throws (what the native backend calls, src/backend/native.ts); the C loop gets -errno back',
  },
  {
    id: 'boundary.ioctl_throw',
    title: 'the same failing ioctl through the throwing entry (a Node-shaped Error per call) / C loop',
    short: 'the same, as a thrown Node-shaped Error / C',
    kind: KIND.apiVersion,
    calls: 200,
    setup: (a) =>
      devNull(a, (fd) => () => {
        try {
          a.vfioGetApiVersion(fd);
        } catch (e) {
          if (e.code !== 'ENOTTY') throw e;
        }
      }),
    check: expectEnotty,
    detail:
      'what a failure costs where nobody expected it: the addon builds the Error (stack trace, errno, code, syscall, request) and V8 throws it; shown, not judged',
  },
  {
    id: 'boundary.expected_failure',
    title:
      'the same failing ioctl through the native backend inside expectingErrno (an invalid-argument sweep) / C loop',
    short: 'the same through the native backend in an expected-failure sweep / C',
    kind: KIND.apiVersion,
    calls: 500,
    setup: () =>
      backendOn(
        (dev) => dev.open('/dev/null', O_RDWR_CLOEXEC),
        async (dev, fd) => {
          const { expectingErrno, SystemError } = await dist('uapi/errors.js');
          const probe = () => dev.vfioGetApiVersion(fd);
          return () => {
            try {
              expectingErrno(probe);
            } catch (e) {
              if (!(e instanceof SystemError) || e.code !== 'ENOTTY') throw e;
            }
          };
        },
      ),
    check: expectEnotty,
    detail:
      "DeviceOps.vfioGetApiVersion as the harness's errnoOf makes it: the errno twin's -25 becomes a SystemError without a stack trace (src/uapi/errors.ts), thrown up to the sweep; shown, not judged",
  },
  {
    id: 'boundary.backend_syscall',
    title: 'fcntl(F_ADD_SEALS, 0) through the native backend (DeviceOps.addSeals) / C loop',
    short: '`F_ADD_SEALS` through the native backend (DeviceOps) / C',
    kind: KIND.addSeals,
    calls: 5_000,
    setup: () =>
      backendOn(
        (dev) => dev.memfdCreate('iovh-bench', MFD_CLOEXEC_ALLOW_SEALING),
        (dev, fd) => () => dev.addSeals(fd, 0),
      ),
    detail: 'what the harness pays per successful call: the errno twin plus NativeDevices.ok(); shown, not judged',
  },
];

/** A boundary row as a figure: its rounds, judged like any other. */
const boundaryFigure = ({ kind, calls, setup, needs, check, detail, ...figure }) => ({
  ...figure,
  async run() {
    const why = needs?.() ?? null;
    if (why) return { skip: why };
    const r = await boundaryRounds(kind, calls, setup);
    if (r.skip) return r;
    const bad = check?.(r) ?? null;
    if (bad) return { skip: bad };
    return { rounds: r.rounds, units: NS, note: gcNote(r) + r.note, detail };
  },
});

/**
 * The C loop of boundary.syscall as a program of its own (bench/ioctl.c:
 * one thread, which owns its file table) against the same loop in Node's
 * process: what the single-threaded process's fd lookup saves (fs/file.c
 * __fget_light), and why the baseline runs in Node's process.
 */
const cProcessFigure = {
  id: 'boundary.c_process',
  title: 'the C loop of boundary.syscall in a single-threaded C program (bench/ioctl.c) / in the Node process',
  short: 'the same C loop in its own single-threaded process / in the Node process',
  async run() {
    const both = await bothAddons();
    if (both.skip) return both;
    const exe = buildC('ioctl', IOCTL_SOURCES);
    const { fd, close } = memfd(both.addon, () => null);
    try {
      const pairs = alternate(
        rounds,
        () =>
          JSON.parse(execFileSync(exe, ['add-seals', String(C_CALLS), String(LOOPS)], { encoding: 'utf8' }))
            .ns_per_call,
        () => fastest(() => both.bench.cLoop(KIND.addSeals, fd, C_CALLS)),
      );
      return {
        rounds: pairs.map(([own, node]) => ({ measured: own, baseline: node })),
        units: NS,
        detail:
          'a process whose one thread owns its file table looks a fd up without taking a reference on the file (fs/file.c __fget_light); Node always has threads, so a C program alone would be a baseline no JS call can have; shown, not judged',
      };
    } finally {
      close();
    }
  },
};

const boundaryFigures = [...boundaryRows.map(boundaryFigure), cProcessFigure];

// ------------------------------------------------------------------ pattern

/** Per-round GB/s of two sides of one bench/pattern.c run. */
function patternRounds(r, measured, baseline) {
  const bytes = r.bytes * r.passes;
  return r[measured].map((t, i) => ({ measured: bytes / t / 1e9, baseline: bytes / r[baseline][i] / 1e9 }));
}
const GBS = { measured: 'GB/s' };

const patternFigures = [
  {
    id: 'pattern.verify_vs_memcmp',
    title: 'pattern verify / memcmp (C, same buffer, same run)',
    short: 'pattern verify / `memcmp`, 256 MiB (memcmp reads two buffers, verify one)',
    goal: { op: '>=', value: 0.8 },
    run() {
      const r = patternRun();
      // memcmp reads two buffers to check one; verify reads one: in memory, verify can pass it.
      return {
        rounds: patternRounds(r, 'verify', 'memcmp'),
        units: GBS,
        detail: `${r.bytes >> 20} MiB, ${r.isa} kernel`,
      };
    },
  },
  {
    id: 'pattern.verify_vs_read',
    title: 'pattern verify / a one-buffer read (C, same buffer, same run)',
    short: 'pattern verify / a one-buffer read of the same 256 MiB (equal work: memory speed)',
    goal: { op: '>=', value: 0.95 },
    run() {
      const r = patternRun();
      // Equal work in memory: both read the one buffer once; the read only XORs
      // each word into four vector accumulators (bench/pattern.c, read_xor).
      return {
        rounds: patternRounds(r, 'verify', 'read'),
        units: GBS,
        detail: `${r.bytes >> 20} MiB, ${r.isa} kernel; the read XOR-reduces the buffer verify reads, with the same instruction set`,
      };
    },
  },
  {
    id: 'pattern.verify_vs_memcmp_cached',
    title: 'the same, 1 MiB buffer (cache-resident: compute bound)',
    short: 'pattern verify / `memcmp`, 1 MiB (in cache: compute bound)',
    run() {
      const r = patternRun(1, 64);
      return { rounds: patternRounds(r, 'verify', 'memcmp'), units: GBS, detail: `1 MiB x 64 passes, ${r.isa} kernel` };
    },
  },
  {
    id: 'pattern.fill_vs_memset',
    title: 'pattern fill / memset (C, same buffer, same run)',
    short: 'pattern fill / `memset`, 256 MiB',
    goal: { op: '>=', value: 0.9 },
    run() {
      const r = patternRun();
      return {
        rounds: patternRounds(r, 'fill', 'memset'),
        units: GBS,
        detail: `${r.bytes >> 20} MiB, ${r.isa} kernel, streaming stores from ${r.nt_threshold >> 20} MiB`,
      };
    },
  },
  {
    id: 'pattern.fill_streaming',
    title:
      'pattern fill with streaming stores / with plain stores, 256 MiB; the crossover behind the default threshold',
    short: 'pattern fill, streaming / plain stores, 256 MiB',
    run() {
      const out = JSON.parse(
        execFileSync(buildC('pattern', PATTERN_SOURCES), ['sweep', String(fewRounds)], {
          encoding: 'utf8',
          maxBuffer: 16 << 20,
        }),
      );
      const per = out.sizes.map((s) => {
        const gbs = (t) => (s.bytes * s.passes) / t / 1e9;
        const list = s.stream.map((t, i) => ({ measured: gbs(t), baseline: gbs(s.plain[i]) }));
        return { bytes: s.bytes, ...summarize(list, GBS), list };
      });
      const last = per[per.length - 1];
      const size = (b) => (b >= 1 << 20 ? `${b >> 20} MiB` : `${b >> 10} KiB`);
      return {
        rounds: last.list,
        units: GBS,
        detail: `${out.isa}; streaming / plain by size: ${per.map((p) => `${size(p.bytes)} ${p.ratio.toFixed(2)}x`).join(', ')}; fill streams from ${size(out.nt_threshold)} (core/pattern.c)`,
        extra: { sizes: per.map(({ list, ...p }) => p), ntThreshold: out.nt_threshold },
      };
    },
  },
  {
    id: 'pattern.addon_verify_vs_buffer_compare',
    title: 'addon patternVerify / Buffer.compare, from JS',
    short: 'addon `patternVerify` / `Buffer.compare`, from JS',
    async run() {
      const load = await addonOrSkip();
      if (load.skip) return load;
      const len = mib << 20;
      const a = Buffer.alloc(len);
      load.addon.patternFill(a, 7n, 0n);
      const b = Buffer.from(a);
      const pairs = alternate(
        rounds,
        () => best(() => load.addon.patternVerify(a, 7n, 0n), 1),
        () => best(() => Buffer.compare(a, b), 1),
      );
      return {
        rounds: pairs.map(([tv, tc]) => ({ measured: len / tv / 1e9, baseline: len / tc / 1e9 })),
        units: GBS,
        detail: `${mib} MiB, ${load.addon.patternKernels().isa} kernel`,
      };
    },
  },
];

// ------------------------------------------------------------------ mock and QEMU

/** The ranges series: one fresh process per size, `fewRounds` series. */
const rangeSeries = () =>
  memo('ranges', () =>
    Array.from({ length: fewRounds }, () => {
      const points = [];
      for (let e = 10; e <= 18; e++) points.push(mockRun('ranges', 2 ** e));
      return points;
    }),
  );

const mockFigures = [
  {
    id: 'mock.cycle',
    title:
      "cycle on the mock: export, import, bind, GPU write, verify, release / its kernel ops at the cheapest op's cost",
    short: 'mock cycle: export, import, bind, GPU write, verify, release / its kernel ops at the cheapest op',
    run() {
      needDist();
      const runs = Array.from({ length: fewRounds }, () => mockRun('cycle', 5));
      const list = runs.map((r) => ({ measured: r.msPerCycle, baseline: r.opsPerCycle * r.cheapestOpMs }));
      const ratios = list.map((x) => x.measured / x.baseline);
      const mid = runs[ratios.indexOf(median(ratios))] ?? runs[0];
      const top = mid.profile
        .slice(0, 4)
        .map((p) => `${p.op} ${(p.share * 100).toFixed(0)}%`)
        .join(', ');
      return {
        rounds: list,
        units: { measured: 'ms/cycle', baseline: 'ms' },
        detail: `${mid.cyclesPerSecond.toFixed(0)} cycles/s (1 page, profile fixed); ${mid.opsPerCycle} kernel ops per cycle, the cheapest (DRM_IOCTL_GET_CAP) ${(mid.cheapestOpMs * 1000).toFixed(1)} us; time: ${top}`,
        extra: {
          cyclesPerSecond: mid.cyclesPerSecond,
          profile: mid.profile,
          opsPerCycle: mid.opsPerCycle,
          cheapestOpUs: mid.cheapestOpMs * 1000,
        },
      };
    },
  },
  {
    id: 'mock.catalog_vfs',
    title: 'catalog wall time at 24 VFs / at 8 VFs (mock, rfc-v1); goal on the log-log slope from 8 to 24 (1 = linear)',
    short: 'catalog wall time, 24 VFs / 8 VFs (log-log slope)',
    goal: { op: '<=', value: 1.1, on: 'slope' },
    run() {
      needDist();
      // The slope that matters is 8 -> 24: at 1 VF the scenarios that need
      // several VFs skip, so the catalog does less work there (shown, not judged).
      const series = Array.from({ length: Math.min(fewRounds, 3) }, () => [1, 8, 24].map((n) => mockRun('catalog', n)));
      const list = series.map(([, eight, many]) => ({
        measured: many.seconds,
        baseline: eight.seconds,
        check: Math.log(many.seconds / eight.seconds) / Math.log(many.vfs / eight.vfs),
      }));
      const mid = series[list.map((x) => x.check).indexOf(median(list.map((x) => x.check)))] ?? series[0];
      const [one, eight, many] = mid;
      const slow = many.slowest[0];
      return {
        rounds: list,
        units: { measured: 's' },
        detail:
          `${mid.map((p) => `${p.vfs} VF${p.vfs > 1 ? 's' : ''}: ${p.seconds.toFixed(1)} s (${p.byStatus.skip} skipped)`).join(', ')}; ` +
          `slope 1->8 ${(Math.log(eight.seconds / one.seconds) / Math.log(8)).toFixed(2)}; slowest at 24: ${slow.id} ${(slow.ms / 1000).toFixed(1)} s`,
        extra: { points: mid },
      };
    },
  },
  {
    id: 'mock.ranges_slope',
    title: 'max-ranges import 2^10 .. 2^18 ranges: export + import + bind; log-log slope (1 = linear)',
    short: 'max-ranges import, 2^10 .. 2^18 ranges (log-log slope)',
    goal: { op: '<=', value: 1.1, on: 'slope' },
    run() {
      needDist();
      const list = rangeSeries().map((points) => {
        const first = points[0];
        const last = points[points.length - 1];
        return {
          measured: last.totalMs,
          baseline: (first.totalMs * last.ranges) / first.ranges,
          check: logSlope(points.map((p) => ({ x: p.ranges, y: p.totalMs }))),
        };
      });
      const points = rangeSeries()[0];
      return {
        rounds: list,
        units: { measured: 'ms' },
        detail: `2^18 ranges vs 2^10 scaled linearly; first series: ${points.map((p) => `2^${Math.log2(p.ranges)} ${p.totalMs.toFixed(0)} ms`).join(', ')}`,
        extra: { series: rangeSeries().map((ps) => ps.map((p) => ({ ranges: p.ranges, totalMs: p.totalMs }))) },
      };
    },
  },
  {
    id: 'mock.max_ranges',
    title: '262,144-range export imported, bound and translated (mock); goal < 2 s',
    short: '262,144-range export imported, bound and translated (mock)',
    goal: { op: '<', value: 2, on: 'measured' },
    run() {
      needDist();
      const series = rangeSeries();
      const list = series.map((ps) => ({
        measured: ps[ps.length - 1].totalMs / 1000,
        baseline: (ps[0].totalMs * 256) / 1000,
      }));
      const big = series[0][series[0].length - 1];
      return {
        rounds: list,
        units: { measured: 's' },
        detail: `first series: export ${big.exportMs.toFixed(0)} ms, PRIME import ${big.importMs.toFixed(0)} ms, VM bind (translation) ${big.bindMs.toFixed(0)} ms; baseline: 1,024 ranges x 256; last range GPU-written and read back`,
      };
    },
  },
  {
    id: 'mock.memory',
    title: 'mock with 24 VFs and 16 GiB VRAM: resident size / the same process before it; goal < 200 MB',
    short: 'mock with 24 VFs and 16 GiB VRAM: resident size',
    goal: { op: '<', value: 200, on: 'measured' },
    run() {
      needDist();
      const runs = Array.from({ length: fewRounds }, () => mockRun('memory', 24));
      const r = runs[0];
      return {
        rounds: runs.map((x) => ({ measured: x.afterMiB, baseline: x.beforeMiB })),
        units: { measured: 'MiB' },
        detail: `RSS after GC; ${BigInt(r.provisioned) >> 20n} MiB of VRAM provisioned to the VFs by xe, first and last page of each written through BAR 2 (model holds ${(r.modelResidentBytes / 2 ** 20).toFixed(1)} MiB)`,
        extra: r,
      };
    },
  },
  {
    id: 'qemu.boot_to_verdict',
    title: 'QEMU (npm run test:qemu guests, packages cached): boot to verdict / boot to harness start',
    short: 'QEMU guests, packages cached: boot to verdict / boot to harness start',
    // Both variants together under 60 s on 2 cores, packages cached:
    // judged on the whole step's wall time (setup, initramfs, both guests).
    goal: { op: '<', value: 60, on: 'step', unit: 's' },
    async run() {
      return qemuFigure();
    },
  },
];

const figures = [...boundaryFigures, ...patternFigures, ...mockFigures];

async function qemuFigure() {
  const qemuDir = join(root, 'scripts', 'qemu-ci');
  const mod = (f) => import(pathToFileURL(join(qemuDir, f)).href);
  const { cachePaths } = await mod('paths.mjs');
  const { readManifest, parseQemuVersion, MIN_QEMU_MAJOR } = await mod('setup.mjs');
  const { checkoutProblems, runCi } = await mod('ci.mjs');
  const enable =
    'run `node scripts/qemu-ci/main.mjs setup` once (installs qemu-system-x86 >= 8.0 and caches the sid kernel)';
  const v = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  const version = v.status === 0 ? parseQemuVersion(v.stdout) : null;
  if (!version || version.major < MIN_QEMU_MAJOR)
    return { skip: `QEMU is not set up: no qemu-system-x86_64 >= ${MIN_QEMU_MAJOR}.0; ${enable}` };
  if (!readManifest(cachePaths()))
    return { skip: `QEMU is not set up: no cached sid kernel in .cache/qemu-ci; ${enable}` };
  const problems = checkoutProblems();
  if (problems.length > 0) return { skip: `the checkout is not built for the guest: ${problems.join('; ')}` };
  // One round by default: a step takes half a minute of both cores (IOVH_BENCH_QEMU_ROUNDS for more).
  const n = Number(process.env.IOVH_BENCH_QEMU_ROUNDS ?? 1);
  const list = [];
  let last = null;
  for (let r = 0; r < n; r++) {
    last = await qemuRound(runCi);
    list.push({
      measured: last.slowest.verdictSeconds,
      baseline: last.slowest.harnessAt,
      check: last.summary.timing.totalSeconds,
    });
  }
  const { boots, summary } = last;
  const caveats = [
    ...(summary.timing.setupCached ? [] : ['setup was not cached, so the step includes fetching packages']),
    ...(cpus().length === 2 ? [] : [`the goal is stated for 2 cores, this machine has ${cpus().length}`]),
    ...(n === 1 ? ['one run (IOVH_BENCH_QEMU_ROUNDS for more), so no spread'] : []),
  ];
  return {
    rounds: list,
    units: { measured: 's' },
    detail:
      `${boots.map((b) => `${b.variant}: verdict at ${b.verdictSeconds.toFixed(0)} s, harness started at ${b.harnessAt.toFixed(0)} s of guest uptime`).join('; ')}; whole step ${summary.timing.totalSeconds.toFixed(0)} s (guests in parallel, TCG, no conformance)` +
      (caveats.length > 0 ? `; ${caveats.join('; ')}` : ''),
    extra: { boots, timing: summary.timing },
  };
}

/** One `npm run test:qemu` step without conformance: its boots and the slowest guest. */
async function qemuRound(runCi) {
  const summary = await runCi({ conformance: false, sourceKernel: false, qemuCommand: false, log: () => undefined });
  const boots = summary.boots.map((b) => {
    let harnessAt = null;
    try {
      const m = /IOVH-QEMU\s+([\d.]+)\s+run\b/.exec(readFileSync(b.logPath, 'utf8'));
      if (m) harnessAt = Number(m[1]);
    } catch {
      harnessAt = null;
    }
    return { variant: b.variant, status: b.status, verdictSeconds: b.verdictSeconds, harnessAt };
  });
  const bad = boots.find((b) => b.status !== 'pass' || b.verdictSeconds === null || b.harnessAt === null);
  if (bad)
    throw new Error(`guest ${bad.variant} did not reach a passing verdict (${bad.status}); see npm run test:qemu`);
  const slowest = boots.reduce((a, b) => (b.verdictSeconds > a.verdictSeconds ? b : a));
  return { boots, slowest, summary };
}

const num = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtQ = (x) => (x ? `${num(x.value)} ${x.unit}` : '-');
const VERDICT = { met: 'met', crosses: 'spread crosses', MISSED: 'MISSED' };
const verdictOf = (r) =>
  r.error
    ? 'ERROR'
    : r.skip
      ? 'skip'
      : (VERDICT[r.verdict] ?? (r.met === null || r.met === undefined ? '' : r.met ? 'met' : 'MISSED'));
const GOAL_ON = { measured: 'measured', slope: 'slope', step: 'whole step' };

/** The ratio cell: the median ratio and, when measured in rounds, their spread. */
function fmtRatio(r) {
  if (r.ratio === undefined) return '-';
  const spread = r.spread?.ratio;
  return spread && r.rounds > 1 ? `${num(r.ratio)}x (${num(spread[0])}-${num(spread[1])})` : `${num(r.ratio)}x`;
}

/** The goal cell: what is judged and, when no other column shows it, the value judged (with its spread). */
function fmtGoal(g, r) {
  if (!g) return '';
  const unit = g.unit ? ` ${g.unit}` : '';
  let cell = `${GOAL_ON[g.on] ?? 'ratio'} ${g.op} ${g.value}${unit}`;
  const checked = r.checked;
  if (typeof checked === 'number' && (g.on === 'slope' || g.on === 'step')) {
    const f = (v) => (g.on === 'slope' ? v.toFixed(2) : `${v.toFixed(0)}${unit}`);
    const range = r.range && r.rounds > 1 ? ` [${f(r.range[0])}-${f(r.range[1])}]` : '';
    cell += ` (${f(checked)}${range})`;
  }
  return cell;
}

const COMPARE = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/**
 * Judge a figure's result against its goal. The value judged is the ratio
 * (no `on`), the measured value (`on: 'measured'`) or the figure's own check
 * value (`on: 'slope'`, `on: 'step'`: a log-log slope, a whole step's wall
 * time), each the median of the figure's rounds. With the spread of that
 * value over the rounds (`r.spread`), the verdict is 'met' when the whole
 * spread meets the goal, 'MISSED' when the median does not, and 'crosses'
 * when the median meets it and part of the spread does not; `met` is true
 * only for 'met'. No goal: `{checked: null, met: null, verdict: null}`. A
 * goal on a value the figure did not produce throws (the figure is then an
 * error, not a silent pass).
 */
export function judge(goal, r) {
  if (!goal) return { checked: null, met: null, verdict: null };
  const on = goal.on ?? 'ratio';
  const checked =
    on === 'measured'
      ? r.measured?.value
      : on === 'slope' || on === 'step'
        ? r.check
        : on === 'ratio'
          ? r.ratio
          : undefined;
  const cmp = COMPARE[goal.op];
  if (!cmp) throw new Error(`bench: unknown goal operator '${goal.op}'`);
  if (typeof checked !== 'number' || Number.isNaN(checked))
    throw new Error(`the figure has a goal on ${on} but produced no ${on} value`);
  const range = r.spread?.[on === 'slope' || on === 'step' ? 'check' : on];
  let verdict;
  if (!cmp(checked, goal.value)) verdict = 'MISSED';
  else if (Array.isArray(range) && !(cmp(range[0], goal.value) && cmp(range[1], goal.value))) verdict = 'crosses';
  else verdict = 'met';
  return { checked, met: verdict === 'met', verdict, ...(Array.isArray(range) ? { range } : {}) };
}

/** The one-line description of a machine that figures carry (`machine`) and that decides whether they may be merged. */
export function machineLine(machine) {
  if (!machine || typeof machine !== 'object') return 'unknown machine';
  return `${machine.cpu}, ${machine.cpus} CPUs, ${machine.memGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}`;
}

/**
 * Merge this run into the previous bench/results.json. Figures measured now
 * (including ones that skipped or failed now) replace those with the same id.
 * An earlier figure not measured now is kept, with its own `measuredAt` and
 * `machine` (a file written before figures carried them lends its top-level
 * date and machine), when its machine line is this run's; otherwise it is
 * dropped (`dropped`: one entry per other machine). Ids that are no longer
 * figures are dropped too (`retired`). Figures come out in `ids` order; the
 * top level (date, machine, load, bufferMiB, rounds) is this run's.
 */
export function mergeResults(previous, current, ids) {
  const now = new Set(current.figures.map((f) => f.id));
  const here = machineLine(current.machine);
  const kept = [];
  const retired = [];
  const others = new Map();
  const earlier = [];
  const prev = previous && typeof previous === 'object' && Array.isArray(previous.figures) ? previous : { figures: [] };
  for (const f of prev.figures) {
    if (!f || typeof f !== 'object' || typeof f.id !== 'string' || now.has(f.id)) continue;
    if (!ids.includes(f.id)) {
      retired.push(f.id);
      continue;
    }
    const machine = typeof f.machine === 'string' ? f.machine : machineLine(prev.machine);
    const measuredAt =
      typeof f.measuredAt === 'string' ? f.measuredAt : typeof prev.date === 'string' ? prev.date : 'unknown';
    if (machine !== here) {
      if (!others.has(machine)) others.set(machine, []);
      others.get(machine).push(f.id);
      continue;
    }
    const { id, title, ...rest } = f;
    earlier.push({ id, title, ...rest, measuredAt, machine });
    kept.push(f.id);
  }
  const figures = [...current.figures, ...earlier].sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
  return {
    out: { ...current, figures },
    kept,
    dropped: [...others].map(([machine, dropIds]) => ({ machine, ids: dropIds })),
    retired,
  };
}

/** True when a figure of `out` was kept from an earlier run rather than measured by the run that wrote `out`. */
export const isEarlier = (out, r) => typeof r.measuredAt === 'string' && r.measuredAt !== out.date;
const when = (iso) =>
  /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC` : String(iso);

/** The sentence a table opens with: when, where, under what load, and how ratios are taken. */
function preamble(out) {
  const load = out.load
    ? `; load average ${out.load.before.toFixed(1)} when the run started and ${out.load.after.toFixed(1)} when it ended (${out.machine.cpus} CPUs)`
    : '';
  const earlierRows = out.figures.filter((r) => isEarlier(out, r)).length;
  const earlier =
    earlierRows === 0
      ? ''
      : ` ${earlierRows === 1 ? 'One row, marked' : `${earlierRows} rows, marked`} [earlier run: <when>], ${earlierRows === 1 ? 'comes' : 'come'} from an earlier run on the same machine (a partial run merges into bench/results.json).`;
  return {
    line: `Measured ${when(out.date)} on ${machineLine(out.machine)}${load}.${earlier}`,
    method:
      'Each ratio is the median of the rounds of that figure (the two sides of a round run back to back, taking turns going first), with the spread over the rounds in parentheses; a goal is met when the whole spread meets it, "spread crosses" when the median meets it and part of the spread does not.',
  };
}

const rowTitle = (out, r, short) => {
  const t = (short && r.short) || r.title;
  return isEarlier(out, r) ? `${t} [earlier run: ${when(r.measuredAt)}]` : t;
};

function cycleProfile(out, markdown) {
  const cycle = out.figures.find((r) => r.id === 'mock.cycle' && r.extra);
  if (!cycle) return [];
  const from = isEarlier(out, cycle) ? ` (earlier run: ${when(cycle.measuredAt)})` : '';
  const lines = [
    markdown ? `\nWhere a mock cycle spends its time${from}:\n` : `\nwhere a mock cycle spends its time${from}:`,
  ];
  for (const p of cycle.extra.profile.slice(0, 8)) {
    const pl = `${(p.share * 100).toFixed(1).padStart(5)}%  ${p.usPerCycle.toFixed(0).padStart(6)} us  ${p.op}${p.callsPerCycle ? ` (${num(p.callsPerCycle)} per cycle)` : ''}`;
    lines.push(markdown ? `    ${pl}` : `  ${pl}`);
  }
  return lines;
}

/**
 * The Markdown tables of a results object: `full` (bench/README.md: every
 * column and the cycle profile) and `summary` (README.md: short titles, no
 * detail column).
 */
export function markdownTables(out) {
  const esc = (s) => String(s).replace(/\|/g, '\\|');
  const { line, method } = preamble(out);
  const table = (short) => {
    const head = short
      ? ['| figure | measured | baseline | ratio | goal | |', '|---|---|---|---|---|---|']
      : ['| figure | measured | baseline | ratio | goal | | detail |', '|---|---|---|---|---|---|---|'];
    const rows = out.figures.map((r) => {
      const cells = [
        rowTitle(out, r, short),
        fmtQ(r.measured),
        fmtQ(r.baseline),
        fmtRatio(r),
        fmtGoal(r.goal, r),
        verdictOf(r),
      ];
      if (!short) cells.push(r.error ?? r.skip ?? r.detail);
      else if (r.skip || r.error) cells[1] = r.skip ? `skipped: ${r.skip.split(';')[0]}` : `error: ${r.error}`;
      return `| ${cells.map(esc).join(' | ')} |`;
    });
    return [...head, ...rows].join('\n');
  };
  return {
    full: [line, '', method, '', table(false), ...cycleProfile(out, true)].join('\n'),
    summary: [line, '', method, '', table(true)].join('\n'),
  };
}

const BEGIN = /^<!-- bench:begin\b.*-->$/m;
const END = /^<!-- bench:end -->$/m;

/**
 * `text` with what stands between its `<!-- bench:begin ... -->` and
 * `<!-- bench:end -->` lines replaced by `generated`; throws when the markers
 * are missing or out of order (a README someone restructured: say so rather
 * than append a second table).
 */
export function replaceGenerated(text, generated) {
  const b = BEGIN.exec(text);
  const e = END.exec(text);
  if (!b || !e || e.index < b.index) throw new Error('no <!-- bench:begin --> ... <!-- bench:end --> markers');
  const start = b.index + b[0].length;
  return `${text.slice(0, start)}\n${generated}\n${text.slice(e.index)}`;
}

const GENERATED = [
  ['README.md', 'summary'],
  [join('bench', 'README.md'), 'full'],
];

/**
 * Write the generated tables into README.md and bench/README.md. Biome
 * formats bench/ (npm run lint), Markdown tables included, so the file is
 * handed to its formatter after the table is replaced: the generated table is
 * then what `npm run format` would make of it, and a second run changes
 * nothing.
 */
function writeTables(out) {
  const tables = markdownTables(out);
  const biome = join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
  for (const [file, which] of GENERATED) {
    const path = join(root, file);
    try {
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, replaceGenerated(text, tables[which]));
      if (file.startsWith('bench') && existsSync(biome)) {
        const f = spawnSync(process.execPath, [biome, 'format', '--write', path], { encoding: 'utf8' });
        if (f.status !== 0) process.stderr.write(`bench: ${file}: biome format failed; run npm run format\n`);
      }
      const next = readFileSync(path, 'utf8');
      process.stderr.write(`bench: ${file}: ${next === text ? 'table already current' : 'table rewritten'}\n`);
    } catch (e) {
      process.stderr.write(`bench: ${file}: table not written (${e.message})\n`);
    }
  }
}

/** Print the table of a results object (this run's, or bench/results.json with --report). */
function render(out, markdown) {
  if (markdown) {
    console.log(markdownTables(out).full);
    return;
  }
  const table = new Table({
    head: ['figure', 'measured', 'baseline', 'ratio', 'goal', '', 'detail'],
    wordWrap: true,
    colWidths: [36, 13, 13, 16, 18, 10, 48],
    style: { head: [], border: [] },
  });
  for (const r of out.figures) {
    table.push([
      rowTitle(out, r, false),
      fmtQ(r.measured),
      fmtQ(r.baseline),
      fmtRatio(r),
      fmtGoal(r.goal, r),
      verdictOf(r),
      r.error ?? r.skip ?? r.detail,
    ]);
  }
  console.log(table.toString());
  const { line, method } = preamble(out);
  console.log(line);
  console.log(method);
  for (const l of cycleProfile(out, false)) console.log(l);
}

async function main() {
  if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(rounds) || rounds < 1) {
    console.error('bench: IOVH_BENCH_MB and IOVH_BENCH_ROUNDS must be positive integers');
    process.exit(2);
  }
  const opts = parseArgs(process.argv.slice(2));

  if (opts.report) {
    let saved;
    try {
      saved = JSON.parse(readFileSync(resultsFile, 'utf8'));
    } catch (e) {
      console.error(`bench: cannot read ${resultsFile} (${e.code ?? e.message}); run npm run bench first`);
      process.exit(2);
    }
    render(saved, opts.markdown);
    if (opts.markdown) writeTables(saved);
    process.exit(0);
  }

  const chosen = figures.filter(
    (f) => (!opts.only || opts.only.some((p) => f.id.startsWith(p))) && !opts.skip.some((p) => f.id.startsWith(p)),
  );
  if (chosen.length === 0) {
    console.error('bench: no figure matches --only/--skip');
    process.exit(2);
  }

  const loadBefore = loadavg()[0];
  const results = [];
  for (const f of chosen) {
    process.stderr.write(`bench: ${f.id} ...\n`);
    const goal = f.goal ?? null;
    const head = { id: f.id, title: f.title, ...(f.short ? { short: f.short } : {}) };
    try {
      const r = await f.run();
      if (r.skip) {
        results.push({ ...head, skip: r.skip, goal, met: null });
        continue;
      }
      const s = summarize(r.rounds, r.units);
      const { checked, met, verdict, range } = judge(goal, s);
      results.push({
        ...head,
        measured: s.measured,
        baseline: s.baseline,
        ratio: s.ratio,
        rounds: s.rounds,
        spread: s.spread,
        ...(s.check !== undefined ? { check: s.check } : {}),
        goal,
        checked,
        ...(range ? { range } : {}),
        met,
        verdict,
        detail: `${s.rounds} round${s.rounds === 1 ? '' : 's'}; ${r.detail}${r.note ?? ''}`,
        ...(r.extra ? { extra: r.extra } : {}),
      });
    } catch (e) {
      results.push({ ...head, error: e instanceof Error ? e.message : String(e), goal, met: false });
    }
  }

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
  const date = new Date().toISOString();
  const line = machineLine(machine);
  const current = {
    date,
    machine,
    load: { before: loadBefore, after: loadavg()[0] },
    bufferMiB: mib,
    rounds,
    figures: results.map((r) => ({ id: r.id, title: r.title, measuredAt: date, machine: line, ...r })),
  };

  let previous = null;
  if (existsSync(resultsFile)) {
    try {
      previous = JSON.parse(readFileSync(resultsFile, 'utf8'));
    } catch (e) {
      process.stderr.write(
        `bench: bench/results.json is unreadable (${e.message.split('\n')[0]}); it is replaced by this run's figures only\n`,
      );
    }
  }
  const merged = mergeResults(
    previous,
    current,
    figures.map((f) => f.id),
  );
  for (const d of merged.dropped) {
    process.stderr.write(
      `bench: dropped ${d.ids.length} earlier figure${d.ids.length === 1 ? '' : 's'} measured on a different machine (${d.machine}), not mixed with this one's: ${d.ids.join(', ')}\n`,
    );
  }
  if (merged.retired.length > 0)
    process.stderr.write(`bench: dropped ${merged.retired.join(', ')} from bench/results.json: no longer figures\n`);
  if (merged.kept.length > 0)
    process.stderr.write(
      `bench: kept ${merged.kept.length} figure${merged.kept.length === 1 ? '' : 's'} from earlier runs on this machine: ${merged.kept.join(', ')}\n`,
    );

  render(merged.out, opts.markdown);
  writeFileSync(resultsFile, `${JSON.stringify(merged.out, null, 2)}\n`);
  process.stderr.write(
    `bench: wrote bench/results.json (${results.length} measured now${merged.kept.length > 0 ? `, ${merged.kept.length} kept from earlier runs` : ''})\n`,
  );
  if (opts.markdown) writeTables(merged.out);
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

const self = fileURLToPath(import.meta.url);
const invoked = (() => {
  try {
    return process.argv[1] ? realpathSync(process.argv[1]) : null;
  } catch {
    return null;
  }
})();
if (invoked === realpathSync(self)) await main();
