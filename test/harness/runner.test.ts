import { describe, expect, it } from 'vitest';
import { runScenarios, type RunnerOptions } from '../../src/harness/runner.js';
import type { Scenario, ScenarioContext } from '../../src/harness/scenario.js';
import { SystemError } from '../../src/uapi/errors.js';
import { parseBaseline } from '../../src/harness/baseline.js';
import { FakeKernel } from './fake-backend.js';

const timing = { stallMs: 10, kmemleakAgeMs: 0, graceMs: 50 };

function scenario(id: string, run: (ctx: ScenarioContext) => Promise<void>): Scenario {
  return { id, title: id, description: `${id} description`, expectedPath: null, run };
}

function options(k: FakeKernel, scenarios: Scenario[], over: Partial<RunnerOptions> = {}): RunnerOptions {
  return {
    backend: k.backend(),
    backendInfo: { name: 'mock', reason: 'test', profile: null },
    scenarios,
    timeoutMs: 60_000,
    timing,
    want: { pf: null, vf: null },
    baseline: null,
    filters: [],
    setup: [],
    toolVersion: '0.0.0-test',
    ...over,
  };
}

describe('runner statuses', () => {
  it('pass, fail (check), skip (with how to enable), kernel errno and harness errors are recorded; the run goes on', async () => {
    const k = new FakeKernel();
    const run = await runScenarios(
      options(k, [
        scenario('t/pass', async (ctx) => ctx.note('proved it')),
        scenario('t/check', async (ctx) => {
          ctx.check(1 + 1 === 3, 'arithmetic is off');
          ctx.check(false, 'second failure');
        }),
        scenario('t/skip', async (ctx) => ctx.skip('vgem', 'no vgem render node', 'modprobe vgem')),
        scenario('t/errno', async () => {
          throw new SystemError({
            errno: 22,
            syscall: 'ioctl',
            request: 'DRM_IOCTL_XE_VM_BIND',
            path: '/dev/dri/renderD128',
          });
        }),
        scenario('t/bug', async () => {
          throw new TypeError('x is undefined');
        }),
        scenario('t/quirk', async (ctx) => ctx.quirk('last-page', 'no translation for the last page')),
      ]),
    );
    const by = new Map(run.scenarios.map((r) => [r.id, r]));
    expect(by.get('t/pass')).toMatchObject({ status: 'pass', reason: 'proved it' });
    expect(by.get('t/check')).toMatchObject({ status: 'fail', reason: 'arithmetic is off (+1 more)' });
    expect(by.get('t/skip')).toMatchObject({
      status: 'skip',
      reason: 'no vgem render node',
      skip: { capability: 'vgem', enable: 'modprobe vgem' },
    });
    expect(by.get('t/errno')!.status).toBe('fail');
    expect(by.get('t/errno')!.error).toMatchObject({ kind: 'kernel', code: 'EINVAL' });
    expect(by.get('t/errno')!.reason).toMatch(/^unexpected EINVAL: .*DRM_IOCTL_XE_VM_BIND/);
    expect(by.get('t/bug')!.error).toMatchObject({ kind: 'harness' });
    expect(by.get('t/bug')!.reason).toBe('harness error: TypeError: x is undefined');
    expect(by.get('t/quirk')!.quirks).toEqual([
      {
        id: 'last-page',
        number: 1,
        title: 'last page of the VF BAR is not recognised',
        evidence: 'no translation for the last page',
      },
    ]);
    expect(by.get('t/quirk')!.reason).toMatch(/^RFC quirk 1 \(docs\/profiles.md\)/);
    expect(run.summary.exitCode).toBe(1);
    expect(run.summary.unexpected).toEqual(['t/check', 't/errno', 't/bug', 't/quirk']);
  });

  it('cleanups run newest first after a pass, a failure and a throw, and a failing cleanup turns a pass into warn', async () => {
    const k = new FakeKernel();
    const order: string[] = [];
    const run = await runScenarios(
      options(k, [
        scenario('t/a', async (ctx) => {
          ctx.defer('first', () => void order.push('a1'));
          ctx.defer('second', async () => void order.push('a2'));
        }),
        scenario('t/b', async (ctx) => {
          ctx.defer('only', () => void order.push('b1'));
          throw new Error('boom');
        }),
        scenario('t/c', async (ctx) => {
          ctx.defer('broken', () => {
            throw new Error('EBUSY restoring sriov_numvfs');
          });
        }),
      ]),
    );
    expect(order).toEqual(['a2', 'a1', 'b1']);
    expect(run.scenarios[0]!.cleanup).toEqual({ ran: 2, failed: [] });
    expect(run.scenarios[2]).toMatchObject({
      status: 'warn',
      reason: 'cleanup failed: broken: EBUSY restoring sriov_numvfs',
    });
  });
});

describe('timeouts', () => {
  it('a scenario blocked in the kernel times out, its cleanups run and unblock it, and the run goes on', async () => {
    const k = new FakeKernel();
    let release: () => void = () => undefined;
    const unwound: string[] = [];
    const run = await runScenarios(
      options(
        k,
        [
          scenario('t/blocked', async (ctx) => {
            // Models VFIO_DEVICE_RESET waiting for the importer to unmap (docs/kernel.md §11.6).
            const reset = new Promise<void>((resolve) => {
              release = resolve;
            });
            ctx.defer('close the GEM handle', () => release());
            await reset;
            unwound.push('reset returned');
            ctx.defer('late cleanup', () => void unwound.push('late cleanup ran'));
          }),
          scenario('t/after', async (ctx) => ctx.note('still runs')),
        ],
        // Long enough for t/after to finish within it on a loaded machine (a scenario past it is a timeout too).
        { timeoutMs: 250 },
      ),
    );
    expect(run.scenarios[0]).toMatchObject({ status: 'timeout', timeoutMs: 250 });
    expect(run.scenarios[0]!.reason).toBe('no result after 250 ms; cleanups ran');
    expect(unwound).toEqual(['reset returned', 'late cleanup ran']);
    expect(run.scenarios[1]).toMatchObject({ status: 'pass', reason: 'still runs' });
  });

  it('a scenario that stays blocked after its cleanups is reported as such', async () => {
    const k = new FakeKernel();
    const run = await runScenarios(
      options(k, [scenario('t/wedged', () => new Promise<void>(() => undefined))], { timeoutMs: 20 }),
    );
    expect(run.scenarios[0]!.status).toBe('timeout');
    expect(run.scenarios[0]!.reason).toMatch(/still blocked after them/);
    expect(run.scenarios[0]!.evidence.stillRunning).toBeDefined();
  });
});

describe('a scenario that never yields', () => {
  it('and runs past its timeout is a timeout, though no timer could stop it', async () => {
    const k = new FakeKernel();
    const run = await runScenarios(
      options(
        k,
        [
          scenario('t/busy', async (ctx) => {
            const until = performance.now() + 60;
            while (performance.now() < until);
            ctx.note('finished');
          }),
        ],
        { timeoutMs: 20 },
      ),
    );
    expect(run.scenarios[0]!.status).toBe('timeout');
    expect(run.scenarios[0]!.reason).toMatch(
      /^no result after 20 ms; it ran \d+ ms without once yielding to the timer \(the mock's kernel calls are synchronous\), so it finished and its cleanups ran before it could be stopped$/,
    );
    expect(run.summary.exitCode).toBe(1);
  });
});

describe('interrupts', () => {
  it('SIGINT mid-scenario: its cleanups run, the rest is recorded as not run, exit 130', async () => {
    const k = new FakeKernel();
    const interrupt = new AbortController();
    const cleaned: string[] = [];
    const run = await runScenarios(
      options(
        k,
        [
          scenario('t/first', async (ctx) => ctx.note('done')),
          scenario('t/second', async (ctx) => {
            ctx.defer('restore', () => void cleaned.push('restored'));
            interrupt.abort('SIGINT');
            await new Promise<void>(() => undefined);
          }),
          scenario('t/third', async () => undefined),
        ],
        { interrupt: interrupt.signal },
      ),
    );
    expect(cleaned).toEqual(['restored']);
    expect(run.interrupted).toEqual({ signal: 'SIGINT' });
    expect(run.scenarios.map((r) => r.status)).toEqual(['pass', 'skip', 'skip']);
    expect(run.scenarios[1]!.reason).toMatch(/interrupted by SIGINT/);
    expect(run.scenarios[2]!.evidence).toEqual({ notRun: true });
    expect(run.summary.exitCode).toBe(130);
  });
});

describe('kernel monitors', () => {
  it('a WARN during a passing scenario makes it warn; an oops makes it crash; a taint is named', async () => {
    const k = new FakeKernel();
    k.files.set('/proc/sys/kernel/tainted', '0\n');
    k.log(6, 'boot noise before the run');
    const run = await runScenarios(
      options(k, [
        scenario('t/warns', async () => {
          k.log(4, 'WARNING: CPU: 1 PID: 42 at drivers/gpu/drm/xe/xe_res_cursor.h:90 xe_res_first+0x1c/0x80 [xe]');
          k.files.set('/proc/sys/kernel/tainted', String(1 << 9));
        }),
        scenario('t/oops', async (ctx) => {
          k.log(1, 'BUG: kernel NULL pointer dereference, address: 0000000000000008');
          k.log(4, 'Oops: 0000 [#1] PREEMPT SMP NOPTI');
          k.files.set('/proc/sys/kernel/tainted', String((1 << 9) | (1 << 7)));
          ctx.fail('bind failed with EFAULT');
        }),
        scenario('t/quiet', async () => undefined),
      ]),
    );
    const [warns, oops, quiet] = run.scenarios;
    expect(warns!.status).toBe('warn');
    expect(warns!.reason).toMatch(/^kernel complained: WARNING: CPU: 1 PID: 42/);
    expect(warns!.cleanliness.taint.added).toEqual(['W']);
    expect(warns!.log).toHaveLength(1);
    expect(oops!.status).toBe('crash');
    expect(oops!.reason).toBe(
      'kernel crashed: BUG: kernel NULL pointer dereference, address: 0000000000000008; bind failed with EFAULT',
    );
    expect(oops!.cleanliness.taint.added).toEqual(['D']);
    expect(quiet!.status).toBe('pass');
    expect(run.kernelLog.length).toBe(3);
  });

  it('an fd left open is reported, not hidden', async () => {
    const k = new FakeKernel();
    k.fds.set(0, '/dev/null');
    k.fds.set(3, '/dev/vfio/vfio');
    const run = await runScenarios(
      options(k, [
        scenario('t/leaky', async () => {
          k.fds.set(7, 'anon_inode:dmabuf');
          k.fds.set(8, 'pipe:[1234]');
        }),
      ]),
    );
    expect(run.scenarios[0]!.status).toBe('warn');
    expect(run.scenarios[0]!.cleanliness.fdsLeft).toEqual(['fd 7 -> anon_inode:dmabuf']);
    expect(run.scenarios[0]!.reason).toBe('left 1 fd open (fd 7 -> anon_inode:dmabuf)');
  });

  it('what cannot be measured is listed as unavailable, not as clean', async () => {
    const k = new FakeKernel();
    const run = await runScenarios(options(k, [scenario('t/x', async () => undefined)]));
    expect(run.scenarios[0]!.cleanliness.unavailable.join('\n')).toMatch(/tainted unreadable[\s\S]*bufinfo unreadable/);
  });
});

describe('baselines', () => {
  it('known failures are expected, exit 0; a different quirk is a regression', async () => {
    const k = new FakeKernel();
    const baseline = parseBaseline(
      JSON.stringify({
        schema: 'iovh-baseline/1',
        name: 'test',
        scenarios: { 't/a': { status: 'fail', quirks: ['last-page'] }, 't/b': 'pass' },
      }),
      'b.json',
    );
    const ok = await runScenarios(
      options(
        k,
        [scenario('t/a', async (ctx) => ctx.quirk('last-page', 'x')), scenario('t/b', async () => undefined)],
        { baseline },
      ),
    );
    expect(ok.scenarios.map((r) => r.baseline?.verdict)).toEqual(['expected', 'expected']);
    expect(ok.summary.exitCode).toBe(0);
    const bad = await runScenarios(
      options(k, [scenario('t/a', async (ctx) => ctx.quirk('contiguity', 'y'))], { baseline }),
    );
    expect(bad.scenarios[0]!.baseline).toMatchObject({ verdict: 'regression' });
    expect(bad.summary.exitCode).toBe(1);
  });
});

describe('kmemleak window', () => {
  it("a skipped scenario's window ends without the closing scans (nothing it made can leak); a run one scans", async () => {
    const k = new FakeKernel();
    const KMEMLEAK = '/sys/kernel/debug/kmemleak';
    k.files.set(KMEMLEAK, '');
    const writes: string[] = [];
    const backend = k.backend();
    const fs = backend.fs;
    const spied = {
      ...backend,
      fs: {
        ...fs,
        writeFile: (p: string, d: string, o?: { append?: boolean }) => {
          if (p === KMEMLEAK) writes.push(d);
          return fs.writeFile(p, d, o);
        },
      },
    };
    const leaky = (id: string, run: (ctx: ScenarioContext) => Promise<void>): Scenario => ({
      ...scenario(id, run),
      kmemleak: true,
    });
    await runScenarios(
      options(k, [leaky('t/skips', async (ctx) => ctx.skip('xe', 'no xe', 'a lab machine'))], { backend: spied }),
    );
    // The window's opening: two scans and a clear; no closing scans.
    expect(writes).toEqual(['scan', 'scan', 'clear']);
    writes.length = 0;
    await runScenarios(options(k, [leaky('t/runs', async (ctx) => ctx.note('ran'))], { backend: spied }));
    expect(writes).toEqual(['scan', 'scan', 'clear', 'scan', 'scan']);
  });
});
