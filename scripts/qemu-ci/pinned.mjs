// @ts-check
// The pinned share (coverage.mjs) without booting: what real kernels answered,
// replayed on the mock under V8 coverage, counting only the steps the kernel
// answered (not skipped) and the mock matched. Four guests, each replayed the
// way the CI replays it:
//   - Debian's stock kernel and the source-built sanitizer kernel on igb: the
//     CI's guest program on the mock (conformance.mjs runOnMock), step by step;
//   - the rfc-v1 kernel's rfc/*: `iovh run --filter 'rfc/*'` on the mock's
//     rfc-v1 profile on igb + ivshmem (rfc.mjs rfcOnMock: the functions rfc/*
//     uses are the same on the mock GPU machine the CI boots it on);
//   - the rfc-v1 kernel's edge/* on iovh's mock GPU (the same guest): `iovh
//     run --filter 'edge/*'` on the mock loaded with the guest's capture
//     (mock-gpu-ci.mjs).
// From the fixtures the tests replay (test/qemu/fixtures/), or from the
// results of a CI run (`--from <its .cache/qemu-ci>`):
//   node scripts/qemu-ci/main.mjs pinned [--from DIR]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  compareResults,
  GUEST_DIR,
  IGB_TOPOLOGY,
  KASAN_FIXTURE,
  KERNEL_FIXTURE,
  kernelConfigFrom,
  runOnMock,
  topologyDifferences,
} from './conformance.mjs';
import { pinnedShare, runRows } from './coverage.mjs';
import { EDGE, edgeOnMock, replayTopology } from './mock-gpu-ci.mjs';
import { repoRoot } from './paths.mjs';
import { RFC_PROFILE, rfcOnMock } from './rfc.mjs';

export const RFC_FIXTURE = join(repoRoot, 'test', 'qemu', 'fixtures', 'rfc-v1-ivshmem.json');
export const MOCK_GPU_FIXTURE = join(repoRoot, 'test', 'qemu', 'fixtures', 'mock-gpu-rfc-v1.json');

/**
 * @typedef {import('./coverage.mjs').Share & { source: string, disagree: string[] }} Measured
 * @typedef {import('./coverage.mjs').RunScenario} RunScenario
 */

/** @param {string} file */
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/**
 * The CI's guest program on the mock against one kernel's step results.
 * `topology`: the guest's captured topology, compared with topology-igb.json
 * as the CI does (the `boot` unit counts only when they agree); null: not
 * compared, `boot` not counted, unless a fixture recorded the comparison (`topologyDifferences`).
 * @param {{ kernel: string, source: string, scenarios: import('./conformance.mjs').ScenarioResult[], kernelConfig?: Record<string, 'y' | 'n'>, modules?: string[], topology: { devices: import('./conformance.mjs').TopoDevice[] } | null, topologyDifferences?: string[] | null, work: string }} o
 * @returns {Promise<Measured>}
 */
async function guestProgramShare(o) {
  const { RULES } = await import(pathToFileURL(join(GUEST_DIR, 'scenarios.mjs')).href);
  const { FLOW_RULES } = await import(pathToFileURL(join(GUEST_DIR, 'flow.mjs')).href);
  const coverage = join(o.work, 'coverage.json');
  const model = await runOnMock({
    outDir: o.work,
    log: join(o.work, 'mock.log'),
    coverage,
    ...(o.kernelConfig ? { kernelConfig: o.kernelConfig } : {}),
    ...(o.modules?.length ? { modules: o.modules } : {}),
  });
  /** @type {import('./coverage.mjs').Row[]} */
  const rows = compareResults(o.scenarios, model, { ...FLOW_RULES, ...RULES });
  const differences = o.topology
    ? topologyDifferences(o.topology, readJson(fileURLToPath(IGB_TOPOLOGY)))
    : (o.topologyDifferences ?? null);
  if (differences) rows.push({ id: 'topology', agree: differences.length === 0, real: null });
  const share = pinnedShare(o.kernel, readJson(coverage), rows);
  return { ...share, source: o.source, disagree: rows.filter((r) => !r.agree).map((r) => r.id) };
}

/**
 * The rfc-v1 guest's rfc/* on the mock (its machine, its profile).
 * @param {{ kernel: string, source: string, scenarios: RunScenario[], work: string }} o
 * @returns {Measured}
 */
function rfcShare(o) {
  const coverage = join(o.work, 'coverage.json');
  const model = rfcOnMock({ coverage });
  const rows = runRows(o.scenarios, model.scenarios, (id) => id.startsWith('rfc/'));
  const share = pinnedShare(o.kernel, readJson(coverage), rows);
  return { ...share, source: o.source, disagree: rows.filter((r) => !r.agree).map((r) => r.id) };
}

/**
 * The mock GPU guest's edge/* on the mock loaded with its capture.
 * @param {{ kernel: string, source: string, scenarios: RunScenario[], topology: Record<string, unknown>, work: string }} o
 * @returns {Measured}
 */
function mockGpuShare(o) {
  const coverage = join(o.work, 'coverage.json');
  const m = edgeOnMock({ work: o.work, topology: o.topology, profile: RFC_PROFILE, coverage });
  if (!m.report) throw new Error(`iovh run on the mock wrote no report (exit ${m.status}): ${m.stderr.trim()}`);
  const rows = runRows(o.scenarios, m.report.scenarios, (id) => EDGE.includes(id));
  const share = pinnedShare(o.kernel, readJson(coverage), rows);
  return { ...share, source: o.source, disagree: rows.filter((r) => !r.agree).map((r) => r.id) };
}

/**
 * The shares of the four fixtures (test/qemu/fixtures/): what each real
 * kernel answered in its last recorded run.
 * @returns {Promise<Measured[]>}
 */
export async function pinnedFromFixtures() {
  const work = mkdtempSync(join(tmpdir(), 'iovh-pinned-'));
  try {
    /** @type {Measured[]} */
    const out = [];
    for (const [name, file] of /** @type {const} */ ([
      ['stock', KERNEL_FIXTURE],
      ['kasan', KASAN_FIXTURE],
    ])) {
      const f = readJson(file);
      const dir = join(work, name);
      mkdirSync(dir);
      out.push(
        await guestProgramShare({
          kernel: `${f.kernel} (${f.variant})`,
          source: `${file.replace(`${repoRoot}/`, '')}, recorded ${f.recordedAt}`,
          scenarios: f.scenarios,
          ...(f.kernelConfig ? { kernelConfig: f.kernelConfig } : {}),
          ...(f.modules ? { modules: f.modules } : {}),
          topologyDifferences: f.topologyDifferences ?? null,
          topology: null,
          work: dir,
        }),
      );
    }
    const rfc = readJson(RFC_FIXTURE);
    mkdirSync(join(work, 'rfc'));
    out.push(
      rfcShare({
        kernel: `${rfc.kernel.split(':')[0]} (${rfc.variant}, rfc/*)`,
        source: `${RFC_FIXTURE.replace(`${repoRoot}/`, '')}, recorded ${rfc.recorded}`,
        scenarios: rfc.scenarios,
        work: join(work, 'rfc'),
      }),
    );
    const gpu = readJson(MOCK_GPU_FIXTURE);
    mkdirSync(join(work, 'gpu'));
    out.push(
      mockGpuShare({
        kernel: `${gpu.kernel.split(':')[0]} (rfc-v1, mock-gpu-intel-iommu, edge/*)`,
        source: `${MOCK_GPU_FIXTURE.replace(`${repoRoot}/`, '')}, recorded ${gpu.recorded}`,
        scenarios: gpu.scenarios,
        topology: gpu.topology,
        work: join(work, 'gpu'),
      }),
    );
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The shares of a CI run's guests, from its cache (`.cache/qemu-ci` of the
 * checkout that ran it): summary.json names the boots; the mock GPU guest's
 * results are the newest mock-gpu-intel-iommu-* folder with a report and a
 * capture. A guest the run did not boot is left out.
 * @param {string} root
 * @returns {Promise<Measured[]>}
 */
export async function pinnedFromRun(root) {
  /** @type {import('./ci.mjs').CiSummary} */
  const summary = readJson(join(root, 'summary.json'));
  const work = mkdtempSync(join(tmpdir(), 'iovh-pinned-'));
  try {
    /** @type {Measured[]} */
    const out = [];
    const ran = (/** @type {import('./boot.mjs').BootReport} */ b) => `${b.resultsDir} (${b.variant})`;
    const stock = summary.boots.find((b) => b.variant === 'igb-intel-iommu' && b.results);
    const kasan = summary.boots.find((b) => b.variant === 'kasan-igb-intel-iommu' && b.results);
    const topo = (/** @type {string} */ dir) =>
      existsSync(join(dir, 'topology.json')) ? readJson(join(dir, 'topology.json')) : null;
    if (stock?.results) {
      mkdirSync(join(work, 'stock'));
      out.push(
        await guestProgramShare({
          kernel: `${stock.results.kernel ?? summary.versions.kernel} (${stock.variant})`,
          source: ran(stock),
          scenarios: stock.results.scenarios,
          ...(summary.versions.kernelConfig ? { kernelConfig: summary.versions.kernelConfig } : {}),
          ...(stock.results.modules?.length ? { modules: stock.results.modules } : {}),
          topology: topo(stock.resultsDir),
          work: join(work, 'stock'),
        }),
      );
    }
    if (kasan?.results && summary.source?.objtree) {
      mkdirSync(join(work, 'kasan'));
      out.push(
        await guestProgramShare({
          kernel: `${kasan.results.kernel ?? summary.source.release} (${kasan.variant})`,
          source: ran(kasan),
          scenarios: kasan.results.scenarios,
          kernelConfig: kernelConfigFrom(readFileSync(join(summary.source.objtree, '.config'), 'utf8')),
          ...(kasan.results.modules?.length ? { modules: kasan.results.modules } : {}),
          topology: topo(kasan.resultsDir),
          work: join(work, 'kasan'),
        }),
      );
    }
    const rfc = summary.boots.find((b) => b.variant.startsWith(`${RFC_PROFILE}-`) && b.results);
    if (rfc && existsSync(join(rfc.resultsDir, 'iovh-run.json'))) {
      mkdirSync(join(work, 'rfc'));
      out.push(
        rfcShare({
          kernel: `${rfc.results?.kernel ?? 'unknown'} (${rfc.variant}, rfc/*)`,
          source: ran(rfc),
          scenarios: readJson(join(rfc.resultsDir, 'iovh-run.json')).scenarios,
          work: join(work, 'rfc'),
        }),
      );
    }
    // The rfc-v1 guest runs edge/* on the mock GPU too (rfc.mjs); a run from before that booted
    // `iovh qemu --device mock-gpu` for them, whose results are the newest mock-gpu-intel-iommu-* folder.
    const results = join(root, 'results');
    const usable = (/** @type {string} */ d) =>
      existsSync(join(d, 'iovh-run.json')) && existsSync(join(d, 'topology.json'));
    const gpuDir =
      rfc && usable(rfc.resultsDir)
        ? rfc.resultsDir
        : (existsSync(results) ? readdirSync(results) : [])
            .filter((d) => d.startsWith('mock-gpu-intel-iommu-'))
            .sort()
            .reverse()
            .map((d) => join(results, d))
            .find(usable);
    if (gpuDir) {
      const run = readJson(join(gpuDir, 'iovh-run.json'));
      mkdirSync(join(work, 'gpu'));
      out.push(
        mockGpuShare({
          kernel: `${run.kernel?.release ?? 'unknown'} (rfc-v1, mock-gpu-intel-iommu, edge/*)`,
          source: `${gpuDir} (mock-gpu-intel-iommu)`,
          scenarios: run.scenarios,
          topology: replayTopology(readJson(join(gpuDir, 'topology.json'))),
          work: join(work, 'gpu'),
        }),
      );
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
