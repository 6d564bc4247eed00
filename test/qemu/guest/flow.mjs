// @ts-check
// What the QEMU guest does from its first sysfs read to putting the machine
// back, and what the model conformance check repeats on the mock: iovh's own
// commands bring the PF's VFs up and bind VF 0 to vfio-pci (`iovh capture`,
// `vfs enable`, `bind`), the scenarios of scenarios.mjs run on the
// Backend seam, `iovh run` runs the harness catalog, and `iovh restore`
// undoes the bring-up, checked against what sysfs said before. The commands
// run in this process through the CLI's main() (dist/cli/main.js), as
// bin/iovh.js runs them: under TCG each new node process costs seconds.
// `iovh doctor` runs once, after the bring-up (cli.doctor): the kernel shape it
// names from /proc/kallsyms and the release is compared with the mock's (on
// Debian's stock 7.2 both must say upstream-7.1: issue 12). It reads all of
// /proc/kallsyms (9.8 MB in the guest, 1-2 s under TCG).
//
// Every step becomes a result like a scenario's ({ id, status, path, errno,
// detail }), so the host compares the guest's and the mock's step by step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScenarios } from './scenarios.mjs';
import { IOMMUFD_RULES, runIommufdScenarios } from './iommufd.mjs';
import { RULE_RULES, runRuleScenarios } from './rules.mjs';
import { detectorsArmed, runDetectorChecks } from './detectors.mjs';

/**
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {import('./iommufd.mjs').Lib} Lib
 * @typedef {import('../../../src/backend/types.js').Backend} Backend
 *
 * @typedef {object} FlowOptions
 * @property {Lib & { steps: typeof import('../../../src/qemu/steps.js'), last: typeof import('../../../src/qemu/last.js') }} lib  steps: fromHarness; last: the last run (bugs/*); both shared with `iovh qemu`'s guest (src/qemu/guest.ts)
 * @property {(argv: string[]) => Promise<number>} cli   src/cli/main.ts main()
 * @property {() => Backend} open                        a backend on the same kernel the CLI acts on
 * @property {string[]} backendArgs                      what selects that kernel on the CLI
 * @property {number} numvfs
 * @property {boolean} [standIn]                       iovh's stand-in importer module is loaded (rules-more.mjs)
 * @property {string} outDir                             where artifacts go (topology.json, iovh-run.json)
 * @property {(r: Result) => void} [onResult]
 * @property {import('./detectors.mjs').Harness} [harness]   the harness's runner, for the detector checks
 */

const SYS = '/sys/bus/pci/devices';

/**
 * The kernel rule each step relies on, as the mock must model it (see RULES
 * in scenarios.mjs; the conformance check names it on a disagreement).
 * @type {Record<string, string>}
 */
export const FLOW_RULES = {
  'cli.find-pf': 'an SR-IOV PF has sriov_totalvfs in /sys/bus/pci/devices/<PF> (docs/kernel.md §9)',
  'cli.capture':
    "an SR-IOV PF's sysfs: vendor, device, class, resource, driver and iommu_group links, sriov_{totalvfs,numvfs,offset,stride,vf_device} (docs/kernel.md §9)",
  'cli.vfs-enable':
    'sriov_drivers_autoprobe=0 then sriov_numvfs=N creates N VFs and sriov_numvfs reads N back (docs/kernel.md §9)',
  'cli.topology':
    'after sriov_numvfs=N, the PF lists N virtfnK links and its sriov_* files read back what iovh wrote (docs/kernel.md §9)',
  'cli.doctor':
    "iovh doctor names the kernel's shape from /proc/kallsyms and the release (src/shape/table.ts): 7.1's dma_buf_invalidate_mappings and dma_buf_attach_revocable without the RFC's symbols is upstream-7.1 (docs/profiles.md)",
  'cli.bind':
    'driver_override=vfio-pci then drivers_probe=<VF> binds exactly that VF; its driver link names vfio-pci (docs/kernel.md §4, §9)',
  'cli.run': 'iovh run ends with exit 0 (nothing unexpected) or 77 (everything skipped) on a kernel that behaves',
  'cli.restore':
    "unbind, driver_override cleared, sriov_numvfs=0, sriov_drivers_autoprobe back: the PF's files read as before the bring-up (docs/kernel.md §9)",
  'pf.bind-vfio':
    'driver_override=vfio-pci, unbind from the PF driver, drivers_probe: the PF is bound to vfio-pci (drivers/base/bus.c, dd.c; docs/kernel.md §4)',
  'pf.rebind':
    'unbind from vfio-pci, driver_override cleared, drivers_probe: the PF is back on the driver it had (drivers/base/dd.c)',
  ...IOMMUFD_RULES,
  ...RULE_RULES,
};

/**
 * The harness scenarios that need iovh's stand-in importer module: where it is
 * not loaded (the stock kernel's guest) they are left out of the run, on the
 * mock too, rather than skipped on one side and run on the other.
 */
export const STAND_IN_SCENARIOS = ['bugs/revoke-hang-*', 'bugs/p2p-sgt-leak', 'import/p2p-route'];

/**
 * @param {FlowOptions} o
 * @returns {Promise<{ results: Result[], pf: string | null, vf: string | null, shape: string | null, standIn: boolean | null }>}
 */
export async function runFlow(o) {
  /** @type {Result[]} */
  const results = [];
  /** @param {string} id @param {string} title @param {() => Promise<Omit<Result, 'id' | 'title' | 'ms'>>} fn */
  const step = async (id, title, fn) => {
    const t0 = performance.now();
    /** @type {Omit<Result, 'id' | 'title' | 'ms'>} */
    let out;
    try {
      out = await fn();
    } catch (e) {
      const err = /** @type {Error & { code?: unknown }} */ (e);
      out = {
        status: 'fail',
        path: null,
        errno: typeof err.code === 'string' ? err.code : null,
        detail: `${err.name}: ${err.message}`,
      };
    }
    const r = { id, title, ...out, ms: Math.round((performance.now() - t0) * 10) / 10 };
    results.push(r);
    o.onResult?.(r);
    return r;
  };
  /** @param {string} detail */
  const ok = (detail) => ({ status: /** @type {const} */ ('pass'), path: null, errno: null, detail });
  /** @param {string} detail */
  const bad = (detail) => ({ status: /** @type {const} */ ('fail'), path: null, errno: null, detail });
  /** @param {string} detail */
  const skipped = (detail) => ({ status: /** @type {const} */ ('skip'), path: null, errno: null, detail });
  /** @template T @param {(b: Backend) => T} fn */
  const withBackend = (fn) => {
    const b = o.open();
    try {
      return fn(b);
    } finally {
      b.close();
    }
  };
  /** @param {string[]} argv */
  const iovh = async (argv) => o.cli([...argv, ...o.backendArgs]);
  // The mock always has /dev/iovh-ic: main.mjs says whether the real guest had the module (its `modules`).
  const standIn = o.standIn ?? false;
  /** `--filter !<glob>` for each harness scenario that needs the stand-in, when it is not loaded (on both sides). */
  const withoutStandIn = standIn ? [] : STAND_IN_SCENARIOS.flatMap((g) => ['--filter', `!${g}`]);

  // Before anything: are the kernel's detectors on? A kernel tainted while booting has lockdep off for the whole run.
  await step('detector.armed', "the kernel's detectors are on before the run (lockdep, no taint)", async () => {
    const r = withBackend((b) => detectorsArmed({ backend: b, monitors: o.lib.monitors }));
    return { ...r, path: null, errno: null };
  });

  // The PF: the first device with sriov_totalvfs (docs/kernel.md §9), and what
  // its SR-IOV files say before iovh touches anything.
  const before = withBackend((b) => {
    const pf =
      b.fs
        .readdir(SYS)
        .sort()
        .find((d) => b.fs.exists(`${SYS}/${d}/sriov_totalvfs`)) ?? null;
    if (!pf) return null;
    const read = (/** @type {string} */ f) => b.fs.readText(`${SYS}/${pf}/${f}`).trim();
    return {
      pf,
      numvfs: read('sriov_numvfs'),
      autoprobe: read('sriov_drivers_autoprobe'),
      totalvfs: Number(read('sriov_totalvfs')),
    };
  });
  if (!before) {
    await step('cli.find-pf', 'an SR-IOV PF to bring up', async () =>
      bad('no device with sriov_totalvfs under /sys/bus/pci/devices'),
    );
    return { results, pf: null, vf: null, shape: null, standIn: null };
  }
  const pf = before.pf;

  await step('cli.capture', 'iovh capture records the PF as a topology', async () => {
    const file = join(o.outDir, 'topology.json');
    const code = await iovh(['capture', '--out', file]);
    if (code !== 0) return bad(`iovh capture exited ${code}`);
    const t = JSON.parse(readFileSync(file, 'utf8'));
    const dev = Array.isArray(t.devices)
      ? t.devices.find((/** @type {{ bdf?: string }} */ d) => d.bdf === pf)
      : undefined;
    if (t.schema !== 'iovh-topology/1' || !dev)
      return bad(`${file}: schema ${t.schema}, ${pf} ${dev ? 'present' : 'missing'}`);
    return ok(`${pf} ${dev.vendor}:${dev.device} with ${dev.sriov?.totalvfs} VFs, in ${file}`);
  });

  const enabled = await step('cli.vfs-enable', `iovh vfs enable ${pf} ${o.numvfs}`, async () => {
    const code = await iovh(['vfs', 'enable', pf, String(o.numvfs)]);
    if (code !== 0) return bad(`exited ${code}`);
    const n = withBackend((b) => b.fs.readText(`${SYS}/${pf}/sriov_numvfs`).trim());
    return n === String(o.numvfs) ? ok(`sriov_numvfs reads ${n}`) : bad(`exit 0 but sriov_numvfs reads ${n}`);
  });

  /**
   * The CLI runs in this process: its stdout is the serial console, so take what it prints off it for this call.
   * @param {string[]} argv
   */
  const iovhOutput = async (argv) => {
    let text = '';
    const write = process.stdout.write;
    process.stdout.write = /** @type {typeof write} */ (
      (chunk, ...rest) => {
        text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
        const cb = rest.find((r) => typeof r === 'function');
        if (cb) process.nextTick(cb);
        return true;
      }
    );
    try {
      const code = await iovh(argv);
      return { code, text };
    } finally {
      process.stdout.write = write;
    }
  };

  await step('cli.topology', 'iovh topology --json lists the PF with its VFs', async () => {
    if (enabled.status !== 'pass') return skipped('needs cli.vfs-enable to pass');
    const { code, text } = await iovhOutput(['topology', '--json']);
    if (code !== 0) return bad(`exited ${code}`);
    const t = JSON.parse(text);
    const p = Array.isArray(t.pfs) ? t.pfs.find((/** @type {{ bdf?: string }} */ d) => d.bdf === pf) : undefined;
    if (!p) return bad(`${pf} missing from iovh topology --json`);
    const problems = [];
    if (p.numvfs !== o.numvfs) problems.push(`numvfs ${p.numvfs}, expected ${o.numvfs}`);
    if (p.totalvfs !== before.totalvfs) problems.push(`totalvfs ${p.totalvfs}, sysfs says ${before.totalvfs}`);
    if (!Array.isArray(p.vfs) || p.vfs.length !== o.numvfs)
      problems.push(`${Array.isArray(p.vfs) ? p.vfs.length : 'no'} VFs listed`);
    if (p.autoprobe !== false) problems.push(`autoprobe ${p.autoprobe} after vfs enable turned it off`);
    if (problems.length) return bad(problems.join('; '));
    return ok(
      `${pf} ${p.vendor}:${p.device} ${p.driver}: ${p.numvfs}/${p.totalvfs} VFs (${p.vfs.map((/** @type {{ bdf: string }} */ v) => v.bdf).join(', ')})`,
    );
  });

  // Issue 12: doctor names the kernel's shape. Its other checks (modules, xe, provisioning) differ between a guest
  // and the mock by design; the shape is what both must agree on, so it is the step's `observed`.
  await step('cli.doctor', 'iovh doctor names the kernel shape', async () => {
    const { code, text } = await iovhOutput(['doctor', '--json']);
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      return bad(`exited ${code} without a JSON document`);
    }
    const check = Array.isArray(doc.checks)
      ? doc.checks.find((/** @type {{ id?: string }} */ c) => c.id === 'kernel.shape')
      : undefined;
    if (!check) return bad(`exited ${code}; no kernel.shape check`);
    const name = /^kernel shape: (\S+)/.exec(String(check.detail))?.[1] ?? null;
    if (!name) return bad(`kernel.shape says '${check.detail}'`);
    // A shape that matches no row is a finding about the symbol table, not a pass.
    const out = name === 'unknown' ? bad(String(check.detail)) : ok(`${check.detail} (doctor exit ${code})`);
    return { ...out, observed: name };
  });

  /** @type {string | null} */
  let vf = null;
  /** @type {string | null} */
  let shape = null;
  const bound = await step('cli.bind', 'iovh bind VF 0 vfio-pci', async () => {
    if (enabled.status !== 'pass') return skipped('needs cli.vfs-enable to pass');
    vf = withBackend((b) => b.fs.readlink(`${SYS}/${pf}/virtfn0`).split('/').pop() ?? null);
    if (!vf) return bad(`${pf}/virtfn0 links nowhere`);
    const code = await iovh(['bind', vf, 'vfio-pci']);
    if (code !== 0) return bad(`exited ${code}`);
    const target = /** @type {string} */ (vf);
    const driver = withBackend((b) => b.fs.readlink(`${SYS}/${target}/driver`).split('/').pop());
    return driver === 'vfio-pci' ? ok(`${vf} bound to vfio-pci`) : bad(`exit 0 but ${vf} is bound to ${driver}`);
  });

  if (bound.status === 'pass' && vf) {
    const target = /** @type {string} */ (vf);
    const backend = o.open();
    try {
      results.push(...(await runScenarios({ backend, lib: o.lib, vf: target, pf, onResult: o.onResult })));
      results.push(
        ...(await runIommufdScenarios({ backend, lib: o.lib, bdf: target, role: 'vf', onResult: o.onResult })),
      );
      results.push(
        ...(await runRuleScenarios({
          backend,
          lib: o.lib,
          pf,
          vf: target,
          standIn: o.standIn ?? false,
          onResult: o.onResult,
        })),
      );
    } finally {
      backend.close();
    }
    await step('cli.run', `iovh run --pf ${pf} --vf ${vf}`, async () => {
      const file = join(o.outDir, 'iovh-run.json');
      // --allow-destructive: the guest is a throwaway machine, so the scenarios that could wedge a shared one
      // (lifecycle/close-while-revoked on a kernel without the kref fix) run here as they do on the mock.
      // bugs/* are left for the very end (lastPhase): on a kernel with the bug bugs/opath-stale-file writes
      // into a freed struct file (docs/bugs.md), so every step after it would run on a kernel it corrupted.
      const code = await iovh([
        'run',
        '--no-baseline',
        '--allow-destructive',
        '--filter',
        `!${o.lib.last.LAST_FILTER}`,
        ...withoutStandIn,
        '--pf',
        pf,
        '--vf',
        target,
        '--json',
        file,
      ]);
      const report = JSON.parse(readFileSync(file, 'utf8'));
      shape = report.kernel?.shape?.name ?? null;
      const harness = /** @type {import('../../../src/qemu/steps.js').HarnessScenario[]} */ (report.scenarios);
      for (const s of harness) {
        const r = o.lib.steps.fromHarness(s);
        results.push(r);
        o.onResult?.(r);
      }
      // 0: nothing unexpected; 77: everything skipped (README.md, exit status).
      if (code !== 0 && code !== 77) return bad(`exited ${code}: ${report.summary?.exitReason ?? 'no summary'}`);
      return ok(`exit ${code}: ${harness.length} scenarios, ${report.summary?.exitReason ?? ''}`);
    });
  } else {
    await step('cli.run', 'iovh run', async () => skipped('needs cli.bind to pass'));
  }

  await step('cli.restore', 'iovh restore puts the PF back as it was', async () => {
    const code = await iovh(['restore']);
    if (code !== 0) return bad(`exited ${code}`);
    const after = withBackend((b) => ({
      numvfs: b.fs.readText(`${SYS}/${pf}/sriov_numvfs`).trim(),
      autoprobe: b.fs.readText(`${SYS}/${pf}/sriov_drivers_autoprobe`).trim(),
      vfGone: vf === null || !b.fs.exists(`${SYS}/${vf}`),
    }));
    const diffs = [];
    if (after.numvfs !== before.numvfs) diffs.push(`sriov_numvfs ${after.numvfs}, was ${before.numvfs}`);
    if (after.autoprobe !== before.autoprobe)
      diffs.push(`sriov_drivers_autoprobe ${after.autoprobe}, was ${before.autoprobe}`);
    if (!after.vfGone) diffs.push(`${vf} still exists`);
    return diffs.length
      ? bad(`after restore: ${diffs.join('; ')}`)
      : ok(`sriov_numvfs ${after.numvfs}, autoprobe ${after.autoprobe}: as before`);
  });

  await pfPhase(o, pf, step, results);

  // Last: the detector checks are deliberate kernel bugs (lockdep turns itself off after one).
  const detectorBackend = o.open();
  try {
    results.push(
      ...(await runDetectorChecks({
        backend: detectorBackend,
        monitors: o.lib.monitors,
        ...(o.harness ? { harness: o.harness } : {}),
        onResult: o.onResult,
      })),
    );
  } finally {
    detectorBackend.close();
  }

  if (bound.status === 'pass') {
    const excludes = standIn ? [] : STAND_IN_SCENARIOS.map((g) => `!${g}`);
    shape = (await lastPhase(o, pf, results, o.lib.last.splitFilters(excludes).last)) ?? shape;
  }

  return { results, pf, vf, shape, standIn };
}

/**
 * The last scenarios (bugs/*), after the detector checks, as `iovh qemu`'s
 * guest runs them (src/qemu/last.ts runLast: the PF's VFs enabled and VF 0
 * bound again, restore took them away; one `iovh run`; no restore after it).
 * Only their results are added, as `run:<id>` (a bring-up that fails is a
 * failure of each of them), so the steps a recorded kernel answered stay the
 * same.
 * @param {FlowOptions} o @param {string} pf
 * @param {Result[]} results
 * @param {string[]} filters  splitFilters(...).last: bugs/* but the stand-in's scenarios where it is not loaded
 * @returns {Promise<string | null>} the kernel's shape, as that run detected it
 */
async function lastPhase(o, pf, results, filters) {
  const t0 = performance.now();
  const { report, failed } = await o.lib.last.runLast({
    cli: o.cli,
    open: o.open,
    backendArgs: o.backendArgs,
    pf,
    numvfs: o.numvfs,
    filters,
    runArgs: ['--no-baseline'],
    file: join(o.outDir, 'iovh-run-last.json'),
  });
  if (report) {
    // Every `iovh run` probes first (caps/kernel, whatever the filter): the first run's result stands, so that
    // each step is one result and one line on the channel.
    const seen = new Set(results.map((r) => r.id));
    for (const s of /** @type {import('../../../src/qemu/steps.js').HarnessScenario[]} */ (report.scenarios)) {
      const r = o.lib.steps.fromHarness(s);
      if (!seen.has(r.id)) {
        results.push(r);
        o.onResult?.(r);
      }
    }
    return report.kernel?.shape?.name ?? null;
  }
  /** @type {Result} */
  const r = {
    id: `run:${o.lib.last.LAST_FILTER}`,
    title: 'the last scenarios, in a bring-up of their own',
    status: 'fail',
    path: null,
    errno: null,
    detail: failed ?? 'no report',
    ms: Math.round((performance.now() - t0) * 10) / 10,
  };
  results.push(r);
  o.onResult?.(r);
  return null;
}

/**
 * The PF bound to vfio-pci for the iommufd scenarios that differ on a PF (a PF
 * has a memory-enable bit, a VF does not: docs/iommufd.md), then back on its
 * driver. Only where there is /dev/iommu; the PF has no VFs by now (restore).
 * @param {FlowOptions} o @param {string} pf
 * @param {(id: string, title: string, fn: () => Promise<Omit<Result, 'id' | 'title' | 'ms'>>) => Promise<Result>} step
 * @param {Result[]} results
 */
async function pfPhase(o, pf, step, results) {
  const dir = `${SYS}/${pf}`;
  const b = o.open();
  try {
    if (!o.lib.iommufd.Iommufd.present(b)) {
      results.push(
        ...(await runIommufdScenarios({ backend: b, lib: o.lib, bdf: pf, role: 'pf', onResult: o.onResult })),
      );
      return;
    }
    /** @type {string | null} */
    let driver = null;
    const driverOf = () =>
      b.fs.exists(`${dir}/driver`) ? (b.fs.readlink(`${dir}/driver`).split('/').pop() ?? null) : null;
    const bound = await step('pf.bind-vfio', `bind the PF ${pf} to vfio-pci`, async () => {
      driver = driverOf();
      b.fs.writeFile(`${dir}/driver_override`, 'vfio-pci');
      if (driver) b.fs.writeFile(`${dir}/driver/unbind`, pf);
      b.fs.writeFile('/sys/bus/pci/drivers_probe', pf);
      const now = driverOf();
      return now === 'vfio-pci'
        ? { status: 'pass', path: null, errno: null, detail: `${pf}: ${driver ?? 'no driver'} -> vfio-pci` }
        : { status: 'fail', path: null, errno: null, detail: `${pf} is on ${now ?? 'no driver'} after drivers_probe` };
    });
    if (bound.status === 'pass')
      results.push(
        ...(await runIommufdScenarios({ backend: b, lib: o.lib, bdf: pf, role: 'pf', onResult: o.onResult })),
      );
    await step('pf.rebind', `put the PF ${pf} back on its driver`, async () => {
      if (driverOf() === 'vfio-pci') b.fs.writeFile(`${dir}/driver/unbind`, pf);
      b.fs.writeFile(`${dir}/driver_override`, '\n');
      b.fs.writeFile('/sys/bus/pci/drivers_probe', pf);
      const now = driverOf();
      return now === driver
        ? { status: 'pass', path: null, errno: null, detail: `${pf} back on ${now ?? 'no driver'}` }
        : { status: 'fail', path: null, errno: null, detail: `${pf} is on ${now ?? 'no driver'}, was on ${driver}` };
    });
  } finally {
    b.close();
  }
}
