#!/usr/bin/env node
// `npm run bench`: a small table-driven runner. Each entry of `figures`
// measures one number (optionally against a goal); the runner prints a table
// and writes bench/results.json. Add a figure by adding an entry.
//
// Environment: IOVH_BENCH_MB (buffer size, default 256), IOVH_BENCH_REPS
// (timed passes per side, default 8), CC (C compiler, default cc).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(root, '.cache', 'bench');
const mib = Number(process.env.IOVH_BENCH_MB ?? 256);
const reps = Number(process.env.IOVH_BENCH_REPS ?? 8);
if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(reps) || reps < 1) {
  console.error('bench: IOVH_BENCH_MB and IOVH_BENCH_REPS must be positive integers');
  process.exit(2);
}

/** Build bench/<name>.c with the C core it measures, at the addon's optimisation level (CMake Release: -O3). */
function buildC(name, sources) {
  mkdirSync(cache, { recursive: true });
  const exe = join(cache, name);
  const cc = process.env.CC ?? 'cc';
  execFileSync(cc, ['-std=c11', '-O3', '-DNDEBUG', '-Wall', '-I', join(root, 'native'), join(root, 'bench', `${name}.c`), ...sources.map((s) => join(root, s)), '-o', exe], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return exe;
}

const once = new Map();
function memo(key, f) {
  if (!once.has(key)) once.set(key, f());
  return once.get(key);
}

/** One run of bench/pattern.c serves two figures: same buffer, same run. */
const patternRun = (size = mib, passes = 1) =>
  memo(`pattern ${size} ${passes}`, () =>
    JSON.parse(execFileSync(buildC('pattern', ['native/mem.c']), [String(size), String(reps), String(passes)], { encoding: 'utf8' })),
  );
const fmt = (r, a, b) => `${a} ${r[`${a}_gbps`].toFixed(1)} GB/s, ${b} ${r[`${b}_gbps`].toFixed(1)} GB/s over ${r.bytes >> 20} MiB`;

async function loadAddon() {
  try {
    const { loadAddon: load } = await import(join(root, 'dist', 'native', 'addon.js'));
    return load();
  } catch (e) {
    return { addon: null, error: `dist/ not built (${e.message.split('\n')[0]}); run npm run build:ts` };
  }
}

/** Best-of timing of a synchronous call, in seconds. */
function best(f, n) {
  let t = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t = Math.min(t, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

const figures = [
  {
    id: 'pattern.verify_vs_memcmp',
    title: 'pattern verify throughput / memcmp throughput (C, same buffer, same run)',
    goal: { op: '>=', value: 0.8 },
    run() {
      const r = patternRun();
      // memcmp reads two buffers to check one; verify reads one: in memory, verify can pass it.
      return { value: r.verify_gbps / r.memcmp_gbps, unit: 'ratio', detail: fmt(r, 'verify', 'memcmp') };
    },
  },
  {
    id: 'pattern.verify_vs_memcmp_cached',
    title: 'the same, 1 MiB buffer (cache-resident: compute, not memory, bound)',
    run() {
      const r = patternRun(1, 64);
      return { value: r.verify_gbps / r.memcmp_gbps, unit: 'ratio', detail: fmt(r, 'verify', 'memcmp') };
    },
  },
  {
    id: 'pattern.fill_vs_memset',
    title: 'pattern fill throughput / memset throughput (C, same buffer, same run)',
    goal: { op: '>=', value: 0.8 },
    run() {
      const r = patternRun();
      return { value: r.fill_gbps / r.memset_gbps, unit: 'ratio', detail: fmt(r, 'fill', 'memset') };
    },
  },
  {
    id: 'pattern.addon_verify_vs_buffer_compare',
    title: 'addon patternVerify / Buffer.compare, from JS',
    async run() {
      const load = await loadAddon();
      if (!load.addon) return { skip: `native addon unavailable (${load.error}); run npm rebuild iovh` };
      const len = mib << 20;
      const a = Buffer.alloc(len);
      load.addon.patternFill(a, 7n, 0n);
      const b = Buffer.from(a);
      const tv = best(() => load.addon.patternVerify(a, 7n, 0n), reps);
      const tc = best(() => Buffer.compare(a, b), reps);
      return { value: tc / tv, unit: 'ratio', detail: `patternVerify ${(len / tv / 1e9).toFixed(1)} GB/s, Buffer.compare ${(len / tc / 1e9).toFixed(1)} GB/s` };
    },
  },
  {
    id: 'harness.catalog_mock_seconds',
    title: 'iovh run: the whole catalog on the mock (rfc-v1), wall time of the command',
    goal: { op: '<=', value: 10 },
    run() {
      if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) return { skip: 'dist/ not built; run npm run build:ts' };
      mkdirSync(cache, { recursive: true });
      const report = join(cache, 'catalog-mock.json');
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [join(root, 'bin', 'iovh.js'), 'run', '--backend', 'mock', '--profile', 'rfc-v1', '--json', report], { encoding: 'utf8' });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.status !== 0) throw new Error(`iovh run exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
      const j = JSON.parse(readFileSync(report, 'utf8'));
      return { value: seconds, unit: 's', detail: `${j.scenarios.length} scenarios (${j.summary.exitReason}); ${(j.durationMs / 1000).toFixed(1)} s inside the harness` };
    },
  },
];

const results = [];
for (const f of figures) {
  try {
    const r = await f.run();
    const met = r.skip || !f.goal ? null : f.goal.op === '>=' ? r.value >= f.goal.value : r.value <= f.goal.value;
    results.push({ id: f.id, title: f.title, ...r, goal: f.goal ?? null, met });
  } catch (e) {
    results.push({ id: f.id, title: f.title, error: e instanceof Error ? e.message : String(e), goal: f.goal ?? null, met: false });
  }
}

const table = new Table({ head: ['figure', 'value', 'goal', '', 'detail'], wordWrap: true, colWidths: [44, 10, 9, 8, 60], style: { head: [], border: [] } });
for (const r of results) {
  const value = r.skip || r.error ? '-' : `${r.value.toFixed(2)}${r.unit === 'ratio' ? 'x' : ` ${r.unit}`}`;
  const goal = r.goal ? `${r.goal.op} ${r.goal.value}` : '';
  const verdict = r.error ? 'ERROR' : r.skip ? 'skip' : r.met === null ? '' : r.met ? 'met' : 'MISSED';
  table.push([r.title, value, goal, verdict, r.error ?? r.skip ?? r.detail]);
}
console.log(table.toString());

const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cpus: cpus().length,
  bufferMiB: mib,
  reps,
  figures: results,
};
writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');
console.log('bench: wrote bench/results.json');
process.exit(results.some((r) => r.error) ? 1 : 0);
