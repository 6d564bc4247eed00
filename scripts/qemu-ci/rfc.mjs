// @ts-check
// The IOV interconnect series in the QEMU CI (docs/rfc-kernel.md): the
// kernel with kernel/patches/rfc-v1 applied (cached like every built kernel;
// on a fresh machine built after the default kernel, so ccache serves every
// object the series does not touch), the stand-in importer built against it,
// one guest on igb + ivshmem running `iovh run --filter 'rfc/*'` through the
// guest program of `iovh qemu` (dist/qemu/guest.js), judged by the shipped
// baseline of the kernel's shape, and compared scenario by scenario with the
// mock's rfc-v1 profile. Devices are the variant's (variants.mjs extras): a
// machine carrying more (another QEMU build with more devices) changes
// RFC_VARIANT and the boot's qemu, nothing here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildKernel, buildStandIn, kernelParameters, parseDotConfig } from './kbuild.mjs';
import { repoRoot } from './paths.mjs';
import { pickVariants } from './variants.mjs';
import { parseSerial } from './verdict.mjs';
import { unexplained } from './windows.mjs';

export const RFC_SERIES = join(repoRoot, 'kernel', 'patches', 'rfc-v1');
/** The mock profile (and shipped baseline) of the same series. */
export const RFC_PROFILE = 'rfc-v1';
export const RFC_VARIANT = 'igb-ivshmem-intel-iommu';
export const RFC_FILTER = 'rfc/*';
/** Boot labels of this guest (not `kasan-`: the conformance and `record` take those as the default kernel's). */
export const RFC_LABEL = `rfc-v1-${RFC_VARIANT}`;
/** `iovh qemu`'s guest program: brings up the VFs, binds the extras, runs iovh run with the shape's baseline. */
export const GUEST_PROGRAM = join(repoRoot, 'dist', 'qemu', 'guest.js');

/**
 * @typedef {object} RfcKernel
 * @property {import('./kbuild.mjs').BuiltKernel} built
 * @property {string} importer      the stand-in importer's .ko
 * @property {number | null} cpuSeconds  the kernel build's (as recorded when it was built)
 */

/**
 * Build (or take from the cache) the rfc-v1 kernel and the importer against it.
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
  return { built, importer, cpuSeconds: built.manifest.timing.cpuSeconds ?? null };
}

/** The machine of this guest. */
export function rfcVariant() {
  return pickVariants([RFC_VARIANT])[0];
}

/**
 * The boot of this guest (boot.mjs): the kernel built with the series, the
 * importer loaded by /init, `iovh qemu`'s guest program running rfc/*.
 * @param {{ kernel: RfcKernel, qemu: string, initrd: string, paths: import('./paths.mjs').CachePaths, timeoutSeconds: number }} o
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
    insmod: [o.kernel.importer],
    entry: GUEST_PROGRAM,
    guestArgs: ['--filter', RFC_FILTER],
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
 * The rfc/* scenarios on the mock's rfc-v1 profile (its own machine, the
 * default topology): what the model predicts for this kernel.
 * @param {{ log?: (s: string) => void }} [o]
 * @returns {RunReport}
 */
export function rfcOnMock(o = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iovh-rfc-mock-'));
  try {
    const out = join(dir, 'run.json');
    const r = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'bin', 'iovh.js'),
        'run',
        '--backend',
        'mock',
        '--profile',
        RFC_PROFILE,
        '--filter',
        RFC_FILTER,
        '--json',
        out,
      ],
      { encoding: 'utf8', env: { ...process.env, IOVH_STATE_DIR: join(dir, 'state'), NO_COLOR: '1' } },
    );
    if (!existsSync(out))
      throw new Error(
        `iovh run on the mock (${RFC_PROFILE}) exited ${r.status} without a report: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`,
      );
    o.log?.(`qemu-ci: rfc-v1 on the mock: exit ${r.status}`);
    return JSON.parse(readFileSync(out, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** @param {RunScenario} r */
function defects(r) {
  return [...r.quirks.map((q) => q.id), ...(r.bugs ?? []).map((b) => b.id)].sort();
}

/**
 * Scenario by scenario: the same status and the same defects named. The path
 * is shown, not compared: the machines differ in the function the stand-in
 * offers as "another device" (the guest's host bridge, which vfio refuses
 * outright; the mock's other VF, which it maps scatter-gather), and the
 * scenario accepts either.
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
    const agree = r.status === m.status && dr.join() === dm.join();
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
 * run (rfcOnMock), whose failure to run is a failed check.
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log?: (s: string) => void }} [o]
 * @returns {import('./ci.mjs').Check[]}
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
  return rfcChecks(b, model, modelError);
}
