// @ts-check
// The QEMU CI as a function: setup (cached), initramfs, the variants' guests
// side by side, model conformance, and one summary with counts. main.mjs is
// its command line; the benchmark suite imports measureWallTime().
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cachePaths, repoRoot } from './paths.mjs';
import { setup } from './setup.mjs';
import { buildInitramfs } from './initramfs.mjs';
import { boot } from './boot.mjs';
import { pickVariants, DEFAULT_VARIANTS } from './variants.mjs';
import {
  compareResults,
  describeDisagreement,
  mockUnavailable,
  runOnMock,
  topologyDifferences,
  CONFORMANCE_DEVICE,
  GUEST_DIR,
  IGB_TOPOLOGY,
  kernelConfigFrom,
} from './conformance.mjs';
import { describeShare, pinnedShare, totalShare } from './coverage.mjs';

/**
 * @typedef {{ kernel: string, share: number, pinned: number, total: number, counted: number, units: number, hits: number[] }} PinnedShare
 */

/**
 * @typedef {object} CiOptions
 * @property {string[]} [variants]        names, or ['all']
 * @property {number} [timeoutSeconds]    per guest
 * @property {boolean} [conformance]      default true
 * @property {boolean} [refresh]          re-resolve and download the sid packages
 * @property {number} [parallel]          guests at once (default: cores)
 * @property {(s: string) => void} [log]
 * @property {import('./paths.mjs').CachePaths} [paths]
 *
 * @typedef {{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }} Check
 *
 * @typedef {object} CiSummary
 * @property {number} passed
 * @property {number} failed
 * @property {number} skipped
 * @property {import('./boot.mjs').BootReport[]} boots
 * @property {{ status: 'pass' | 'fail' | 'skip', detail: string, disagreements: string[], compared: number, against: string | null, rows: Array<{ id: string, agree: boolean, line: string }>, log?: string, pinned?: PinnedShare }} conformance
 * @property {{ kernels: PinnedShare[], total: { pinned: number, total: number, share: number } | null }} pinned
 *   how much of the mock the real kernels pin (scripts/qemu-ci/coverage.mjs), per kernel and their union
 * @property {Check[]} checks            every counted item
 * @property {{ setupSeconds: number, setupCached: boolean, initramfsSeconds: number, bootsSeconds: number, totalSeconds: number }} timing
 * @property {{ kernel: string, qemu: string, kernelConfig?: Record<string, 'y' | 'n'> }} versions
 */

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

/**
 * Keep the newest `keep` entries of a folder of per-run outputs.
 * @param {string} dir @param {number} keep
 */
function prune(dir, keep) {
  let names;
  try {
    names = readdirSync(dir).filter((n) => !n.endsWith('.latest.log'));
  } catch {
    return;
  }
  const byAge = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { n } of byAge.slice(keep)) rmSync(join(dir, n), { recursive: true, force: true });
}

/**
 * Run `items` through `fn`, at most `limit` at a time, keeping order.
 * @template T, R
 * @param {T[]} items @param {number} limit @param {(t: T) => Promise<R>} fn
 */
async function pool(items, limit, fn) {
  /** @type {R[]} */
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * @param {CiOptions} [o]
 * @returns {Promise<CiSummary>}
 */
export async function runCi(o = {}) {
  const t0 = performance.now();
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  const paths = o.paths ?? cachePaths();
  const variants = pickVariants(o.variants ?? DEFAULT_VARIANTS);
  const problems = checkoutProblems();
  if (problems.length) throw new Error(`the checkout is not ready for the guest: ${problems.join('; ')}`);

  const s = setup({ paths, refresh: o.refresh ?? false, log });
  const tSetup = performance.now();
  const ir = buildInitramfs({ paths, manifest: s.manifest, variants });
  const tInitramfs = performance.now();
  log(
    `qemu-ci: kernel ${s.manifest.kernel.release} (${s.cached ? 'cached' : `downloaded in ${s.seconds.toFixed(1)} s`}), QEMU ${s.qemu.version}, initramfs ${ir.cached ? 'cached' : 'built'}`,
  );

  prune(paths.logs, 40);
  prune(paths.results, 20);
  const parallel = o.parallel ?? Math.max(1, availableParallelism());
  log(
    `qemu-ci: booting ${variants.map((v) => v.name).join(', ')} (${Math.min(parallel, variants.length)} at a time, -smp 1 each)`,
  );
  const boots = await pool(variants, parallel, (v) =>
    boot({
      variant: v,
      qemu: s.qemu.path,
      kernel: s.manifest.kernel.vmlinuz,
      initrd: ir.path,
      paths,
      timeoutSeconds: o.timeoutSeconds,
      extraAppend: process.env.IOVH_QEMU_APPEND,
    }),
  );
  const tBoots = performance.now();

  /** @type {Check[]} */
  const checks = [];
  for (const b of boots) {
    checks.push({
      name: `${b.variant}: boot and verdict`,
      status: b.status === 'pass' ? 'pass' : 'fail',
      detail: `${b.status}: ${b.reason}`,
    });
    for (const r of b.results?.scenarios ?? []) {
      const status = r.status === 'pass' ? 'pass' : r.status === 'skip' ? 'skip' : 'fail';
      checks.push({
        name: `${b.variant}: ${r.id}`,
        status,
        detail: `${r.status}${r.errno ? ` ${r.errno}` : ''}: ${r.detail ?? ''}`,
      });
    }
  }

  /** @type {CiSummary['conformance']} */
  let conformance = {
    status: 'skip',
    detail: 'not requested (--no-conformance)',
    disagreements: [],
    compared: 0,
    against: null,
    rows: [],
  };
  // How the stock kernel was built, for the options the mock models (its packaged config).
  /** @type {Record<string, 'y' | 'n'> | undefined} */
  let kernelConfig;
  try {
    const release = s.manifest.kernel.release;
    kernelConfig = kernelConfigFrom(
      readFileSync(join(s.manifest.kernel.modulesRoot, 'lib', 'modules', release, 'config'), 'utf8'),
    );
  } catch (e) {
    log(
      `qemu-ci: the kernel's config is unreadable (${e instanceof Error ? e.message : String(e)}): the mock keeps its profile's`,
    );
  }
  if (o.conformance ?? true) conformance = await conform(boots, variants, paths, log, kernelConfig);
  if (conformance.status === 'skip')
    checks.push({ name: 'model conformance', status: 'skip', detail: conformance.detail });
  else if (conformance.compared === 0)
    checks.push({ name: 'model conformance', status: 'fail', detail: conformance.detail });
  else {
    for (const row of conformance.rows) {
      checks.push({
        name: `conformance: ${row.id}`,
        status: row.agree ? 'pass' : 'fail',
        detail: row.agree ? 'kernel and mock agree' : row.line,
      });
    }
  }

  const shares = conformance.pinned ? [conformance.pinned] : [];
  const pinned = {
    kernels: shares,
    total: shares.length
      ? totalShare(shares.map((p) => ({ ...p, hits: new Set(p.hits), units: p.units, kernel: p.kernel })))
      : null,
  };
  const count = (/** @type {Check['status']} */ st) => checks.filter((c) => c.status === st).length;
  return {
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skip'),
    boots,
    conformance,
    pinned,
    checks,
    timing: {
      setupSeconds: (tSetup - t0) / 1000,
      setupCached: s.cached,
      initramfsSeconds: (tInitramfs - tSetup) / 1000,
      bootsSeconds: (tBoots - tInitramfs) / 1000,
      totalSeconds: (performance.now() - t0) / 1000,
    },
    versions: { kernel: s.manifest.kernel.release, qemu: s.qemu.version, ...(kernelConfig ? { kernelConfig } : {}) },
  };
}

/**
 * @param {import('./boot.mjs').BootReport[]} boots
 * @param {import('./variants.mjs').Variant[]} variants
 * @param {import('./paths.mjs').CachePaths} paths
 * @param {(s: string) => void} log
 * @param {Record<string, 'y' | 'n'>} [kernelConfig] how the kernel was built (the options the mock models)
 * @returns {Promise<CiSummary['conformance']>}
 */
async function conform(boots, variants, paths, log, kernelConfig) {
  const device = new Map(variants.map((v) => [v.name, v.device]));
  const real = boots.find((b) => device.get(b.variant) === CONFORMANCE_DEVICE && b.results);
  if (!real?.results) {
    const ran = boots.some((b) => device.get(b.variant) === CONFORMANCE_DEVICE);
    return {
      status: ran ? 'fail' : 'skip',
      detail: ran
        ? 'the igb guest left no results to compare with the mock'
        : 'no igb variant ran (the mock topology is igb-like)',
      disagreements: [],
      compared: 0,
      against: null,
      rows: [],
    };
  }
  const why = mockUnavailable();
  if (why) {
    return {
      status: 'fail',
      detail: `${why}; the kernel's results are in ${real.resultsDir}`,
      disagreements: [],
      compared: 0,
      against: real.variant,
      rows: [],
    };
  }
  log(
    `qemu-ci: model conformance: the scenarios on the mock (upstream profile, igb-like topology) against ${real.variant}`,
  );
  const { RULES } = await import(pathToFileURL(join(GUEST_DIR, 'scenarios.mjs')).href);
  const { FLOW_RULES } = await import(pathToFileURL(join(GUEST_DIR, 'flow.mjs')).href);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const mockLog = join(paths.logs, `mock-upstream-igb-${stamp}.log`);
  const outDir = join(paths.results, `mock-upstream-igb-${stamp}`);
  const coverageFile = join(outDir, 'coverage.json');
  let model;
  try {
    model = await runOnMock({
      outDir,
      log: mockLog,
      coverage: coverageFile,
      ...(kernelConfig ? { kernelConfig } : {}),
    });
  } catch (e) {
    return {
      status: 'fail',
      detail: `the scenarios could not run on the mock: ${e instanceof Error ? e.message : String(e)}`,
      disagreements: [],
      compared: 0,
      against: real.variant,
      rows: [],
      log: mockLog,
    };
  }
  const rows = compareResults(real.results.scenarios, model, { ...FLOW_RULES, ...RULES });
  // The mock's topology must still be the machine the guest is: a QEMU whose
  // igb changed shape makes the comparison meaningless until the file follows.
  let topoDiffs;
  try {
    const captured = JSON.parse(readFileSync(join(real.resultsDir, 'topology.json'), 'utf8'));
    topoDiffs = topologyDifferences(captured, JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8')));
  } catch (e) {
    topoDiffs = [`the guest's captured topology could not be read (${e instanceof Error ? e.message : String(e)})`];
  }
  rows.push({
    id: 'topology',
    agree: topoDiffs.length === 0,
    real: null,
    model: null,
    diffs: topoDiffs,
    rule: "scripts/qemu-ci/topology-igb.json describes the igb guest (update it from the guest's topology.json)",
  });
  /** @type {PinnedShare | undefined} */
  let pinned;
  try {
    const share = pinnedShare(
      real.results.kernel ?? real.variant,
      JSON.parse(readFileSync(coverageFile, 'utf8')),
      rows,
    );
    pinned = { ...share, hits: [...share.hits] };
    log(`qemu-ci: pinned share (${share.kernel}): ${describeShare(share)}, from ${share.counted} agreeing steps`);
  } catch (e) {
    log(`qemu-ci: no pinned share: ${e instanceof Error ? e.message : String(e)}`);
  }
  const disagreements = rows
    .filter((r) => !r.agree)
    .map((r) => (r.id === 'topology' ? `topology: ${r.diffs.join('; ')}. Fix: ${r.rule}` : describeDisagreement(r)));
  return {
    status: disagreements.length ? 'fail' : 'pass',
    detail: disagreements.length
      ? `${disagreements.length} of ${rows.length} scenarios disagree`
      : `all ${rows.length} scenarios agree`,
    disagreements,
    compared: rows.length,
    against: real.variant,
    rows: rows.map((r) => ({
      id: r.id,
      agree: r.agree,
      line: r.agree ? '' : r.id === 'topology' ? `topology: ${r.diffs.join('; ')}` : describeDisagreement(r),
    })),
    log: mockLog,
    ...(pinned ? { pinned } : {}),
  };
}

/**
 * Wall time from start to verdict with the packages cached, for the
 * benchmark suite: setup (cache check), initramfs, and the default variants
 * booted side by side. Conformance is left out: it does not boot anything.
 * @param {{ variants?: string[], timeoutSeconds?: number, log?: (s: string) => void }} [o]
 */
export async function measureWallTime(o = {}) {
  const summary = await runCi({
    variants: o.variants,
    timeoutSeconds: o.timeoutSeconds,
    conformance: false,
    log: o.log ?? (() => {}),
  });
  return {
    name: 'qemu-ci: start to verdict',
    cached: summary.timing.setupCached,
    totalSeconds: summary.timing.totalSeconds,
    setupSeconds: summary.timing.setupSeconds,
    initramfsSeconds: summary.timing.initramfsSeconds,
    variants: summary.boots.map((b) => ({
      name: b.variant,
      status: b.status,
      wallSeconds: b.wallSeconds,
      verdictSeconds: b.verdictSeconds,
    })),
    ok: summary.failed === 0,
  };
}
