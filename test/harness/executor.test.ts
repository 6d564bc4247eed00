// Each scenario in a process of its own (src/harness/executor.ts), on the mock:
// a process of the simulated kernel. An oops in the scenario's system call
// kills that process (TaskKilledError), and the runner handles it as IGT's
// runner handles a child killed by a signal: a crash with the log excerpt,
// naming the quirk from the oops, what the process had recorded up to then,
// its tracefs leftovers removed, and the run goes on.
import { declaredMock, scenarioOptions } from './evidence-helpers.js';
import { describe, expect, it } from 'vitest';
import { runScenarios } from '../../src/harness/runner.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import { loadBaseline, shippedBaselinePath } from '../../src/harness/baseline.js';
import type { Scenario, ScenarioContext } from '../../src/harness/scenario.js';
import { SIMULATED_KERNEL_TIMING } from '../../src/harness/timing.js';
import type { RunResult, ScenarioResult } from '../../src/report/model.js';
import type { MockBackend } from '../../src/mock/backend.js';

const TRACEFS = '/sys/kernel/tracing';

describe('a scenario process killed by an oops (rfc-v1, edge/unprovisioned-vf)', () => {
  it('is a crash with the oops excerpt naming quirk 4; its tracefs leftovers go; the next scenario runs; reports follow each scenario', async () => {
    const b = declaredMock('rfc-v1');
    try {
      const partials: RunResult[] = [];
      const run = await runScenarios(
        scenarioOptions(b, [scenarioById('edge/unprovisioned-vf')!, scenarioById('export/single-range')!], {
          baseline: loadBaseline(shippedBaselinePath('rfc-v1')),
          onPartial: (r) => partials.push(r),
        }),
      );
      const [, oops, next] = run.scenarios;
      expect(oops!.status).toBe('crash');
      expect(oops!.reason).toMatch(
        /^kernel crashed: BUG: kernel NULL pointer dereference.*; the scenario's process \d+ was killed \(SIGKILL: oops: BUG: kernel NULL pointer dereference/,
      );
      expect(oops!.quirks.map((q) => q.id)).toEqual(['unprovisioned-oops']);
      expect(oops!.quirks[0]!.evidence).toMatch(
        /^the scenario's process \d+ was killed .* by the oops: BUG: kernel NULL pointer dereference/,
      );
      expect(oops!.baseline?.verdict).toBe('expected');
      expect(oops!.cleanliness.taint.added).toContain('D');
      expect(oops!.log.join('\n')).toMatch(/Oops: /);
      // What the scenario recorded before it died is kept.
      expect(oops!.evidence.vf).toBe('0000:03:00.4');
      expect(oops!.evidence.process).toMatchObject({ killed: 'SIGKILL' });
      // Its kprobes were armed when it died: the runner removed them, named after the dead process.
      const pid = (oops!.evidence.process as { pid: number }).pid;
      expect(oops!.evidence.tracefsLeftovers).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^instance iovh_${pid}_\\d+$`)),
          expect.stringMatching(new RegExp(`^kprobe group iovh_${pid}_\\d+ \\(\\d+ probes?\\)$`)),
        ]),
      );
      expect(b.fs.readText(`${TRACEFS}/kprobe_events`)).not.toMatch(/iovh_/);
      expect(b.fs.readdir(`${TRACEFS}/instances`)).toEqual([]);
      // The run went on, on the same kernel, and only the runner's own process is left.
      expect(next!.status, next!.reason).toBe('pass');
      expect(run.summary.exitCode).toBe(0);
      expect(b.kernel.live()).toMatchObject({ processes: 1, fds: 0, dmabufs: 0 });
      // A report after every scenario, marked incomplete until the last.
      expect(partials.map((p) => [p.complete, p.scenarios.length, p.pending])).toEqual([
        [false, 1, ['edge/unprovisioned-vf', 'export/single-range']],
        [false, 2, ['export/single-range']],
        [true, 3, []],
      ]);
      expect(partials[1]!.summary.exitReason).toMatch(/^incomplete: 1 of 3 scenarios have no result/);
      expect(partials[1]!.scenarios[1]!.status).toBe('crash');
    } finally {
      b.close();
    }
  });

  it('keeps what the scenario recorded before the kill, and nothing its code did after', async () => {
    const b = declaredMock('rfc-v1');
    const unprovisioned = scenarioById('edge/unprovisioned-vf')!;
    const wrapper: Scenario = {
      id: 'test/dies-midway',
      title: 'records, dies in the kernel, goes on regardless',
      description: 'test',
      expectedPath: null,
      async run(ctx: ScenarioContext) {
        ctx.record('before', 'recorded while alive');
        try {
          await unprovisioned.run(ctx);
        } catch (e) {
          // Scenario code may swallow the error; the process is dead all the same.
          ctx.record('after', e instanceof Error ? e.name : String(e));
          ctx.note('carried on');
        }
      },
    };
    try {
      const run = await runScenarios(scenarioOptions(b, [wrapper]));
      const r = run.scenarios[1]!;
      expect(r.status).toBe('crash');
      expect(r.evidence.before).toBe('recorded while alive');
      expect(r.evidence.after).toBeUndefined();
      expect(r.reason).not.toMatch(/carried on/);
    } finally {
      b.close();
    }
  });
});

describe('a scenario process that does not stop', () => {
  it('is killed killMs after the stop request: a timeout saying so, its files released by its exit, and the run goes on', async () => {
    const b = declaredMock('fixed');
    const stuck: Scenario = {
      id: 'test/stuck-cleanup',
      title: 'blocks, and its cleanup blocks too',
      description: 'test',
      expectedPath: null,
      async run(ctx: ScenarioContext) {
        ctx.backend.dev.open('/dev/vfio/vfio', 2);
        ctx.defer('a cleanup that never returns', () => new Promise<void>(() => undefined));
        await new Promise<void>(() => undefined);
      },
    };
    try {
      const run = await runScenarios(
        scenarioOptions(b, [stuck, scenarioById('export/single-range')!], {
          timeoutMs: 1000,
          timing: { ...SIMULATED_KERNEL_TIMING, graceMs: 20, killMs: 100 },
        }),
      );
      const r = run.scenarios[1]!;
      expect(r.status).toBe('timeout');
      expect(r.reason).toMatch(
        /^no result after 1 s; its process \d+ had not finished its cleanups 100 ms later and was killed \(SIGKILL\)$/,
      );
      expect(run.scenarios[2]!.status).toBe('pass');
      expect(b.kernel.live()).toMatchObject({ processes: 1, fds: 0 });
    } finally {
      b.close();
    }
  });
});

describe('an oops that kills only the thread in the system call (a real node process lives on)', () => {
  /**
   * A scenario whose system call died in an oops: the oops's lines in the log, with `dead` what oops_end() does after
   * the splat (taint D, and make_task_dead() counts it in /sys/kernel/oops_count: arch/x86/kernel/dumpstack.c,
   * kernel/exit.c); the calling thread never returns.
   */
  const oopsThread = (b: MockBackend, lines: string[], dead: boolean): Scenario => ({
    id: 'test/oops-thread',
    title: 'an oops, then nothing',
    description: 'test',
    expectedPath: null,
    async run() {
      const k = b.kernel.platform.kernel;
      for (const l of lines) k.log(4, null, l);
      if (dead) k.taskDead();
      await new Promise<void>(() => undefined);
    },
  });
  const SHORT_OOPS = [
    'Oops: general protection fault, probably for non-canonical address 0xdffffc0000000098',
    'RIP: 0010:vfio_pci_dma_buf_attach+0xfc/0x2b0',
  ];
  /** The oops thread's result with a timeout and kill time far beyond the test's: only the oops watch can end it. */
  const watched = async (b: MockBackend): Promise<ScenarioResult> => {
    const run = await runScenarios(
      scenarioOptions(b, [oopsThread(b, SHORT_OOPS, true)], {
        timeoutMs: 60_000,
        timing: { ...SIMULATED_KERNEL_TIMING, killMs: 60_000 },
      }),
    );
    return run.scenarios[1]!;
  };

  it('is a crash naming the quirk of the oops site, after the timeout ends the process', async () => {
    const b = declaredMock('rfc-v1');
    // What RFC v1's closed-device import printed on the KASAN 7.2.13 guest: the thread died in the ioctl, and node's
    // other threads kept the process alive until the runner's SIGKILL.
    const lines = [
      'Oops: general protection fault, probably for non-canonical address 0xdffffc0000000098: 0000 [#1] SMP KASAN',
      'KASAN: null-ptr-deref in range [0x00000000000004c0-0x00000000000004c7]',
      'RIP: 0010:vfio_pci_dma_buf_attach+0xfc/0x2b0',
      '---[ end trace 0000000000000000 ]---',
    ];
    try {
      const run = await runScenarios(
        scenarioOptions(b, [oopsThread(b, lines, false)], {
          timeoutMs: 1000,
          timing: { ...SIMULATED_KERNEL_TIMING, graceMs: 20, killMs: 100 },
        }),
      );
      const r = run.scenarios[1]!;
      expect(r.status).toBe('crash');
      expect(r.reason).toMatch(/^kernel crashed: Oops: general protection fault/);
      expect(r.quirks.map((q) => q.id)).toEqual(['closed-vdev-oops']);
      expect(r.quirks[0]!.evidence).toMatch(/^the scenario's system call died in the oops: Oops: general protection/);
    } finally {
      b.close();
    }
  });

  it.each([
    { how: 'as soon as the kernel shows the oops (oops_count), not at its timeout', oopsCount: true },
    { how: 'without /sys/kernel/oops_count (before Linux 6.2), as soon as the taint gains D', oopsCount: false },
  ])('ends the scenario $how', async ({ oopsCount }) => {
    const b = declaredMock('rfc-v1');
    if (!oopsCount) b.kernel.platform.removeFile('/sys/kernel/oops_count');
    try {
      const r = await watched(b);
      expect(r.status).toBe('crash');
      expect(r.reason).toMatch(
        /^kernel crashed: Oops: general protection fault.*killed \(SIGKILL: by iovh as soon as the kernel oopsed/,
      );
      expect(r.quirks.map((q) => q.id)).toEqual(['closed-vdev-oops']);
      // Not the timeout's path (a stop request, then SIGKILL after killMs): the watch ended it.
      expect(r.reason).not.toMatch(/no result after/);
    } finally {
      b.close();
    }
  });
});
