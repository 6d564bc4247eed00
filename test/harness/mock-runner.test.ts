// The runner against the real mock kernel: leftovers are reported, a kernel
// wait blocked by an importer times out and its cleanups unblock it, an
// interrupt still runs every cleanup.
import { declaredMock, scenarioOptions } from './evidence-helpers.js';
import { describe, expect, it } from 'vitest';
import { runScenarios } from '../../src/harness/runner.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import type { Scenario, ScenarioContext } from '../../src/harness/scenario.js';
import { exportDmaBuf, openVf, PAGE, requireCaps } from '../../src/harness/steps.js';
import { openVfioDevice } from '../../src/uapi/vfio.js';
import { Gpu } from '../../src/harness/gpu.js';
import { importAndBind } from '../../src/harness/imports.js';

const leaky: Scenario = {
  id: 'test/leaky',
  title: 'leaves a dma-buf open',
  description: 'exports and forgets to close',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireCaps(ctx, 'target');
    const device = openVfioDevice(ctx.backend, ctx.target!.vf.bdf);
    ctx.defer('close the device', () => device.close());
    device.exportDmaBuf({ region: 2, ranges: [{ offset: 0n, length: PAGE }] });
  },
};

describe('a process killed while the kernel log cannot be read', () => {
  it('on a kernel already tainted D: unknown whether the kernel killed it, a kernel-interface failure, not a harness bug', async () => {
    // Found by the full fault sweep: /dev/kmsg failing (EPERM) as edge/unprovisioned-vf oopses on rfc-v1, after an
    // earlier oops had left taint D set, was reported as "the kernel log shows no oops, BUG or taint".
    const b = declaredMock('rfc-v1');
    try {
      const first = await runScenarios(scenarioOptions(b, [scenarioById('edge/unprovisioned-vf')!]));
      expect(first.scenarios[1]!.status).toBe('crash');
      b.kernel.injectFault({ nth: 1, kind: 'readRecords', errno: 'EPERM' });
      const run = await runScenarios(
        scenarioOptions(b, [scenarioById('edge/unprovisioned-vf')!], {
          scenarios: [scenarioById('edge/unprovisioned-vf')!],
        }),
      );
      const r = run.scenarios[0]!;
      expect(r.status).toBe('fail');
      expect(r.error?.kind).toBe('kernel');
      expect(r.reason).toMatch(
        /was killed \(SIGKILL.*\); the kernel log could not be read \(.*EPERM.*\) and the kernel was tainted .*D.* before this scenario \(an earlier crash\), so a new one cannot show in the taint mask, so whether the kernel killed it is unknown$/,
      );
    } finally {
      b.close();
    }
  });
});

describe('the runner on the mock kernel', () => {
  it('a scenario that leaves a dma-buf fd open is reported with the fd and the buffer, not hidden', async () => {
    const b = declaredMock('fixed');
    try {
      const run = await runScenarios(scenarioOptions(b, [leaky]));
      const r = run.scenarios[1]!;
      expect(r.status).toBe('warn');
      expect(r.cleanliness.fdsLeft).toHaveLength(1);
      expect(r.cleanliness.fdsLeft[0]).toMatch(/^fd \d+ -> .*dmabuf/);
      expect(r.cleanliness.dmabufsLeft).toHaveLength(1);
      expect(r.cleanliness.dmabufsLeft[0]).toMatch(/vfio_pci_core 4096 bytes/);
      expect(r.reason).toMatch(/^left 1 fd open .*; left 1 dma-buf behind/);
      expect(run.summary.exitCode).toBe(1);
    } finally {
      b.close();
    }
  });

  it('a VFIO reset blocked by an xe import times out; the cleanups unblock it and the run goes on', async () => {
    const b = declaredMock('upstream-7.1');
    const blocked: Scenario = {
      id: 'test/blocked-reset',
      title: 'reset under an import, no stall watch',
      description: 'docs/kernel.md §11.6 without the harness precaution',
      expectedPath: null,
      async run(ctx: ScenarioContext) {
        const gpu = Gpu.open(ctx);
        const device = openVf(ctx, ctx.target!.vf.bdf);
        const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
        const imp = importAndBind(ctx, gpu, null, buf, PAGE, 'import');
        ctx.check(imp.bound !== null, 'bound');
        await device.reset();
        ctx.record('resetReturned', true);
      },
    };
    try {
      const run = await runScenarios(
        scenarioOptions(b, [blocked, scenarioById('export/single-range')!], { timeoutMs: 1000 }),
      );
      const r = run.scenarios[1]!;
      expect(r.status).toBe('timeout');
      expect(r.reason).toBe('no result after 1 s; cleanups ran');
      expect(r.evidence.resetReturned).toBe(true);
      expect(run.scenarios[2]!.status).toBe('pass');
      expect(b.kernel.live()).toMatchObject({ dmabufs: 0 });
    } finally {
      b.close();
    }
  });

  it('an interrupt mid-scenario runs every cleanup: nothing stays open in the kernel', async () => {
    const b = declaredMock('fixed');
    const interrupt = new AbortController();
    const stopper: Scenario = {
      id: 'test/interrupted',
      title: 'opens everything, then the user presses Ctrl-C',
      description: 'interrupt',
      expectedPath: null,
      async run(ctx: ScenarioContext) {
        const gpu = Gpu.open(ctx);
        const device = openVf(ctx, ctx.target!.vf.bdf);
        const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
        importAndBind(ctx, gpu, null, buf, PAGE, 'import');
        interrupt.abort('SIGINT');
        await new Promise<void>(() => undefined);
      },
    };
    try {
      const before = b.kernel.live();
      const run = await runScenarios(
        scenarioOptions(b, [stopper, scenarioById('export/single-range')!], { interrupt: interrupt.signal }),
      );
      expect(run.interrupted).toEqual({ signal: 'SIGINT' });
      expect(run.scenarios.map((s) => s.status)).toEqual(['pass', 'skip', 'skip']);
      expect(run.scenarios[1]!.cleanup.failed).toEqual([]);
      expect(run.summary.exitCode).toBe(130);
      expect(b.kernel.live()).toEqual(before);
    } finally {
      b.close();
    }
  });
});
