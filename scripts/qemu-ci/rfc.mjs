// @ts-check
// The IOV interconnect series in the QEMU CI (docs/rfc-kernel.md): the
// kernel with kernel/patches/rfc-v1 applied (cached like every built kernel;
// on a fresh machine built after the default kernel, so ccache serves every
// object the series does not touch), the stand-in importer and the mock
// GPU's PF driver built against it, and one guest on iovh's mock GPU machine
// (mock-gpu-intel-iommu: iovh's QEMU build, the mock SR-IOV GPU and QEMU's
// ivshmem-plain) running `iovh run --filter 'rfc/*' --filter 'edge/*'`
// through the guest program of `iovh qemu` (dist/qemu/guest.js). rfc/* is
// judged here by the shipped baseline of the kernel's shape and compared
// scenario by scenario with the mock's rfc-v1 profile on a machine with the
// functions rfc/* uses (rfcTopology); edge/* (real bytes through the mock
// GPU) by scripts/qemu-ci/mock-gpu-ci.mjs edgeChecks, the mock replaying the
// guest's capture. One boot of the series serves both.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IGB_TOPOLOGY } from './conformance.mjs';
import { pinnedShare, runRows } from './coverage.mjs';
import { buildKernel, buildMockGpuDriver, buildStandIn, kernelParameters, parseDotConfig } from './kbuild.mjs';
import { repoRoot } from './paths.mjs';
import { replayOnMock } from './replay-run.mjs';
import { EXTRA_DEVICES, MOCK_GPU_VARIANT } from './variants.mjs';
import { parseSerial } from './verdict.mjs';
import { unexplained } from './windows.mjs';

export const RFC_SERIES = join(repoRoot, 'kernel', 'patches', 'rfc-v1');
/** The mock profile (and shipped baseline) of the same series. */
export const RFC_PROFILE = 'rfc-v1';
export const RFC_VARIANT = 'mock-gpu-intel-iommu';
export const RFC_FILTER = 'rfc/*';
/** What the same boot runs besides rfc/*: the translation's corners on the mock GPU (mock-gpu-ci.mjs edgeChecks). */
export const EDGE_FILTER = 'edge/*';
/** Boot labels of this guest (not `kasan-`: the conformance and `record` take those as the default kernel's). */
export const RFC_LABEL = `rfc-v1-${RFC_VARIANT}`;
/** `iovh qemu`'s guest program: brings up the VFs, binds the extras, runs iovh run with the shape's baseline. */
export const GUEST_PROGRAM = join(repoRoot, 'dist', 'qemu', 'guest.js');

/**
 * @typedef {object} RfcKernel
 * @property {import('./kbuild.mjs').BuiltKernel} built
 * @property {string} importer      the stand-in importer's .ko
 * @property {string} driver        the mock GPU's PF driver's .ko (loaded after the importer: it installs its
 *                                  translation there)
 * @property {number | null} cpuSeconds  the kernel build's (as recorded when it was built)
 */

/**
 * Build (or take from the cache) the rfc-v1 kernel, the importer and the mock GPU's PF driver against it.
 * @param {{ source: import('./ksource.mjs').KernelSource, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void, onProgress?: (p: import('./kbuild.mjs').BuildProgress) => void }} o
 * @returns {Promise<RfcKernel>}
 */
export async function prepareRfcKernel(o) {
  const built = await buildKernel({
    source: o.source,
    patches: [RFC_SERIES],
    paths: o.paths,
    ...(o.log ? { log: o.log } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const importer = await buildStandIn({ kernel: built, paths: o.paths, ...(o.log ? { log: o.log } : {}) });
  const driver = await buildMockGpuDriver({ kernel: built, paths: o.paths, ...(o.log ? { log: o.log } : {}) });
  // Whole CPU-seconds, as the other build lines print them (manifests written before kbuild rounded hold 88.7299...).
  const cpu = built.manifest.timing.cpuSeconds;
  return { built, importer, driver, cpuSeconds: cpu == null ? null : Math.round(cpu) };
}

/**
 * The machine of this guest: the mock GPU (only iovh's QEMU build has it,
 * scripts/qemu-ci/qemu-build.mjs) with ivshmem-plain beside it.
 * @returns {import('./variants.mjs').Variant}
 */
export function rfcVariant() {
  return MOCK_GPU_VARIANT;
}

/**
 * The boot of this guest (boot.mjs): the kernel built with the series, the
 * importer then the PF driver loaded by /init (as `iovh qemu --device
 * mock-gpu` loads them), `iovh qemu`'s guest program running rfc/* and
 * edge/* (rfc/* alone with `edge: false`). `qemu` is iovh's QEMU build (the
 * mock GPU is not in Debian's).
 * @param {{ kernel: RfcKernel, qemu: string, initrd: string, paths: import('./paths.mjs').CachePaths, timeoutSeconds: number, edge?: boolean }} o
 * @returns {import('./boot.mjs').BootOptions}
 */
export function rfcBootOptions(o) {
  const append = kernelParameters(parseDotConfig(readFileSync(o.kernel.built.config, 'utf8')));
  return {
    variant: rfcVariant(),
    label: RFC_LABEL,
    qemu: o.qemu,
    kernel: o.kernel.built.bzImage,
    initrd: o.initrd,
    paths: o.paths,
    timeoutSeconds: o.timeoutSeconds,
    // KASAN's shadow is an eighth of memory; kmemleak and lockdep want their share.
    memory: '1G',
    ...(append ? { kernelAppend: append } : {}),
    insmod: [o.kernel.importer, o.kernel.driver],
    entry: GUEST_PROGRAM,
    guestArgs: ['--filter', RFC_FILTER, ...(o.edge === false ? [] : ['--filter', EDGE_FILTER])],
    ...(process.env.IOVH_QEMU_APPEND ? { extraAppend: process.env.IOVH_QEMU_APPEND } : {}),
  };
}

/**
 * @typedef {{ id: string, status: string, quirks: { id: string }[], bugs?: { id: string }[], path: string | null,
 *   reason: string, log: string[], cleanliness: { kernelComplaints: string[] },
 *   baseline: { verdict: string, expected: string, note: string | null } | null }} RunScenario
 * @typedef {{ scenarios: RunScenario[], summary: { exitCode: number, exitReason: string }, kernel: { shape?: { name: string } | null } }} RunReport
 */

/**
 * The rfc-v1 guest's machine as the mock's topology (docs/topology.md): the
 * igb guest's, as `iovh capture` saw it there (topology-igb.json; this guest
 * has the same igb on the same root port), plus what variants.mjs adds:
 * q35's host bridge (the "other device" rfc/refuse-device offers, as in the
 * guest) and QEMU's ivshmem-plain on a root port of its own, bound to vfio-pci
 * as the guest program binds it: BAR 0 its registers (IVSHMEM_REG_BAR_SIZE,
 * 256 bytes), BAR 2 the 4 MiB memory backend, 64-bit prefetchable
 * (hw/misc/ivshmem.c ivshmem_common_realize). The addresses are the mock's
 * own; the scenarios compare ranges with the BAR's start, whatever it is.
 * The CI boots this guest on the mock GPU machine (RFC_VARIANT), not on igb:
 * rfc/* uses only ivshmem-plain (the exporter, and its own importer) and the
 * first other function by address (src/harness/standin.ts: q35's host
 * bridge, 00:00.0, on either machine), which both machines have alike.
 * @returns {Record<string, unknown> & { devices: Record<string, unknown>[] }}
 */
export function rfcTopology() {
  const igb = JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8'));
  const ivshmem = EXTRA_DEVICES.ivshmem;
  const hex = (/** @type {number} */ n) => `0x${n.toString(16).padStart(4, '0')}`;
  return {
    ...igb,
    // q35's host bridge is a device of this machine: it leaves the bridges list, which names it for the igb machine.
    bridges: (igb.bridges ?? []).filter((/** @type {{ bdf: string }} */ b) => b.bdf !== '0000:00:00.0'),
    devices: [
      {
        bdf: '0000:00:00.0',
        vendor: '0x8086',
        device: '0x29c0',
        class: '0x060000',
        subsystemVendor: '0x1af4',
        subsystemDevice: '0x1100',
        revision: '0x00',
        driver: null,
        driverOverride: null,
        iommuGroup: 0,
        parent: 'pci0000:00',
        bars: [],
      },
      ...igb.devices,
      {
        bdf: '0000:02:00.0',
        vendor: hex(ivshmem.vendor),
        device: hex(ivshmem.device),
        class: '0x050000',
        subsystemVendor: '0x1af4',
        subsystemDevice: '0x1100',
        revision: '0x01',
        driver: ivshmem.bind,
        driverOverride: ivshmem.bind,
        iommuGroup: 20,
        parent: 'pci0000:00/0000:00:02.0',
        bars: [
          { index: 0, start: '0xfe600000', size: '0x100', kind: 'mem32', prefetchable: false },
          { index: 2, start: '0xfc000000', size: '0x400000', kind: 'mem64', prefetchable: true },
        ],
      },
    ],
  };
}

/**
 * The rfc/* scenarios on the mock's rfc-v1 profile, on the guest's machine
 * (rfcTopology): what the model predicts for this kernel. With `coverage`,
 * the run is under V8 coverage per scenario (replay-run.mjs; the pinned share).
 * @param {{ log?: (s: string) => void, coverage?: string | null }} [o]
 * @returns {RunReport}
 */
export function rfcOnMock(o = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iovh-rfc-mock-'));
  try {
    const r = replayOnMock({
      work: dir,
      topology: rfcTopology(),
      profile: RFC_PROFILE,
      args: ['--filter', RFC_FILTER],
      coverage: o.coverage ?? null,
    });
    if (!r.report)
      throw new Error(
        `iovh run on the mock (${RFC_PROFILE}) exited ${r.status} without a report: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    o.log?.(`qemu-ci: rfc-v1 on the mock: exit ${r.status}`);
    return r.report;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** @param {RunScenario} r */
function defects(r) {
  return [...r.quirks.map((q) => q.id), ...(r.bugs ?? []).map((b) => b.id)].sort();
}

/**
 * Scenario by scenario: the same status, the same path and the same defects
 * named (the mock replays the guest's machine, rfcTopology).
 * @param {RunReport} real @param {RunReport} model
 * @returns {{ id: string, agree: boolean, line: string }[]}
 */
export function compareRfc(real, model) {
  const mine = (/** @type {RunReport} */ run) =>
    new Map(run.scenarios.filter((s) => s.id.startsWith('rfc/')).map((s) => [s.id, s]));
  const a = mine(real);
  const b = mine(model);
  return [...new Set([...b.keys(), ...a.keys()])].map((id) => {
    const r = a.get(id);
    const m = b.get(id);
    if (!r || !m) return { id, agree: false, line: `${id}: ${r ? 'the mock' : 'the kernel'} did not run it` };
    const dr = defects(r);
    const dm = defects(m);
    const agree = r.status === m.status && (r.path ?? null) === (m.path ?? null) && dr.join() === dm.join();
    const show = (/** @type {RunScenario} */ s, /** @type {string[]} */ d) =>
      `${s.status}${d.length ? ` naming ${d.join(', ')}` : ''}${s.path ? ` (path ${s.path})` : ''}`;
    return {
      id,
      agree,
      line: `${id}: kernel ${show(r, dr)}, mock ${show(m, dm)}${agree ? '' : `; kernel said: ${r.reason}`}`,
    };
  });
}

/**
 * The checks of the rfc-v1 guest: it reached its verdict, its run report is
 * there and names the shape rfc-v1, nothing failed that no baseline speaks
 * for (a bring-up step, a kernel report outside every scenario), every rfc/*
 * result is what baselines/rfc-v1.json expects (a known defect is expected,
 * never a pass), the series' defects were found for real (not skipped), and
 * the mock's rfc-v1 profile agrees scenario by scenario.
 * @param {import('./boot.mjs').BootReport} b
 * @param {RunReport | null} model   null: the mock could not run (`modelError` says why)
 * @param {string | null} [modelError]
 * @returns {import('./ci.mjs').Check[]}
 */
export function rfcChecks(b, model, modelError = null) {
  /** @type {import('./ci.mjs').Check[]} */
  const checks = [];
  const name = (/** @type {string} */ s) => `${RFC_LABEL}: ${s}`;
  const reached = b.status === 'pass' || b.status === 'fail';
  checks.push({
    name: name('boot and verdict'),
    status: reached ? 'pass' : 'fail',
    detail: `${b.status}: ${b.reason}`,
  });
  if (!reached) return checks;
  /** @type {RunReport | null} */
  let run = null;
  try {
    run = JSON.parse(readFileSync(join(b.resultsDir, 'iovh-run.json'), 'utf8'));
  } catch (e) {
    checks.push({ name: name('iovh run report'), status: 'fail', detail: /** @type {Error} */ (e).message });
    return checks;
  }
  const r = /** @type {RunReport} */ (run);
  const shape = r.kernel.shape?.name ?? 'unknown';
  checks.push({
    name: name('kernel shape'),
    status: shape === RFC_PROFILE ? 'pass' : 'fail',
    detail: `the run detected ${shape}`,
  });
  let consoleLog = '';
  try {
    consoleLog = readFileSync(b.logPath, 'latin1');
  } catch {
    // an unreadable log leaves only the steps to judge
  }
  const why = unexplained(b.results?.scenarios ?? [], parseSerial(consoleLog, '').oopses, r);
  checks.push({
    name: name('nothing outside the scenarios'),
    status: why.length ? 'fail' : 'pass',
    detail: why.length ? why.slice(0, 3).join('; ') : 'no failed bring-up step, no kernel report outside a scenario',
  });
  const rfc = r.scenarios.filter((s) => s.id.startsWith('rfc/'));
  if (rfc.length === 0) checks.push({ name: name('rfc/*'), status: 'fail', detail: 'the run ran no rfc/* scenario' });
  for (const s of rfc) {
    const v = s.baseline?.verdict ?? 'no baseline';
    // A skip is never what this guest is for (every rfc/* scenario can run on it), and a defect the baseline
    // predicts that the kernel does not show ('fixed') is the model being wrong: only 'expected' passes.
    const ok = s.status !== 'skip' && v === 'expected';
    const named = defects(s);
    checks.push({
      name: name(s.id),
      status: ok ? 'pass' : 'fail',
      detail: `${s.status}${named.length ? ` naming ${named.join(', ')}` : ''}: ${v}${s.baseline?.note ? ` (${s.baseline.note})` : ''}; ${s.reason}`,
    });
  }
  if (!model) {
    checks.push({ name: name('agrees with the mock'), status: 'fail', detail: `the mock did not run: ${modelError}` });
    return checks;
  }
  for (const c of compareRfc(r, model))
    checks.push({
      name: name(`mock ${RFC_PROFILE} agrees: ${c.id}`),
      status: c.agree ? 'pass' : 'fail',
      detail: c.line,
    });
  return checks;
}

/**
 * The checks of a boot of this guest (rfcChecks), against the mock's rfc-v1
 * run (rfcOnMock), whose failure to run is a failed check; with `coverage` (a
 * file for the replay's coverage), also the pinned share of this kernel: the
 * branches of the mock its rfc/* replay ran in the scenarios the kernel
 * answered (not skipped) and the mock agreed with (coverage.mjs runRows).
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log?: (s: string) => void, coverage?: string | null }} [o]
 * @returns {{ checks: import('./ci.mjs').Check[], pinned: import('./coverage.mjs').Share | null }}
 */
export function judgeRfcBoot(b, o = {}) {
  /** @type {RunReport | null} */
  let model = null;
  let modelError = null;
  try {
    model = rfcOnMock(o);
  } catch (e) {
    modelError = e instanceof Error ? e.message : String(e);
  }
  const checks = rfcChecks(b, model, modelError);
  let pinned = null;
  if (model && o.coverage && existsSync(o.coverage)) {
    try {
      /** @type {RunReport} */
      const real = JSON.parse(readFileSync(join(b.resultsDir, 'iovh-run.json'), 'utf8'));
      // The same guest runs edge/* too (mockGpuChecks): each share names the scenarios it replays.
      const kernel = `${b.results?.kernel ?? 'unknown'} (${RFC_PROFILE}, ${RFC_VARIANT}, rfc/*)`;
      pinned = pinnedShare(
        kernel,
        JSON.parse(readFileSync(o.coverage, 'utf8')),
        runRows(real.scenarios, model.scenarios, (id) => id.startsWith('rfc/')),
      );
    } catch (e) {
      o.log?.(`qemu-ci: no pinned share for ${RFC_LABEL}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { checks, pinned };
}

/**
 * The fixture test/qemu/rfc-conformance.test.ts and the pinned share replay
 * (pinned.mjs), from the rfc-v1 guest's run report:
 *   node scripts/qemu-ci/rfc.mjs record <its results folder>/iovh-run.json
 * @param {RunReport & { startedAt?: string, kernel: { release?: string } }} run
 * @param {{ recorded: string, kernel: string }} about
 */
export function rfcFixtureFrom(run, about) {
  return {
    ...about,
    variant: RFC_LABEL,
    command: `iovh run --filter '${RFC_FILTER}' (dist/qemu/guest.js in the ${RFC_VARIANT} guest)`,
    profile: RFC_PROFILE,
    notes: [
      "the mock replays these on rfcTopology() (scripts/qemu-ci/rfc.mjs): the igb guest's capture, q35's host bridge and ivshmem-plain on vfio-pci",
    ],
    scenarios: run.scenarios
      .filter((s) => s.id === 'caps/kernel' || s.id.startsWith('rfc/'))
      .map((s) => ({
        id: s.id,
        status: s.status,
        path: s.path ?? null,
        quirks: s.quirks.map((q) => q.id).sort(),
        bugs: (s.bugs ?? []).map((b) => b.id).sort(),
        reason: s.reason,
      })),
  };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === 'record') {
  const report = process.argv[3];
  if (!report) {
    process.stderr.write("usage: rfc.mjs record <the rfc-v1 guest's iovh-run.json>\n");
    process.exit(2);
  }
  const run = JSON.parse(readFileSync(report, 'utf8'));
  const fixture = rfcFixtureFrom(run, {
    recorded: run.startedAt ?? new Date().toISOString(),
    kernel: `${run.kernel?.release ?? '?'}: Debian linux-source-7.2 + kernel/patches/rfc-v1 + kconfig/iovh-guest.config (KASAN)`,
  });
  const out = join(repoRoot, 'test', 'qemu', 'fixtures', 'rfc-v1-ivshmem.json');
  writeFileSync(out, `${JSON.stringify(fixture, null, 2)}\n`);
  process.stdout.write(`rfc: wrote ${out}\n`);
}
