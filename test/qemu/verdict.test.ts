import { describe, expect, it } from 'vitest';
import {
  classify,
  parseSerial,
  checkResults,
  tail,
  type BootOutcome,
  type GuestScenario,
} from '../../scripts/qemu-ci/verdict.mjs';
import { baselineJudge } from '../../scripts/qemu-ci/boot.mjs';

const NONCE = '0123456789abcdef';

function outcome(log: string, extra: Partial<BootOutcome> = {}): BootOutcome {
  return {
    log,
    nonce: NONCE,
    timedOut: false,
    timeoutSeconds: 60,
    exitCode: 0,
    signal: null,
    qemuStderr: '',
    ...extra,
  };
}

const goodResults = {
  nonce: NONCE,
  scenarios: [
    { id: 'a', status: 'pass', path: null, errno: null, detail: 'ok' },
    { id: 'b', status: 'skip', path: null, errno: null, detail: 'no vgem' },
  ],
};

const bootLog = [
  '[    2.1] Run /init as init process',
  'IOVH-QEMU 4.18 init variant=igb-intel-iommu kernel=7.2.13+deb14-amd64',
  'IOVH-QEMU 6.49 run /work/main/test/qemu/guest/main.mjs',
].join('\r\n');

describe('parseSerial', () => {
  it('reads progress, errors and the verdict of this boot only', () => {
    const log = `${bootLog}\r\nIOVH-VERDICT ffffffffffffffff rc=0\r\nIOVH-QEMU-ERROR run: oops\r\nIOVH-VERDICT ${NONCE} rc=3\r\n`;
    const s = parseSerial(log, NONCE);
    expect(s.verdict).toEqual({ kind: 'rc', rc: 3 });
    expect(s.progress).toEqual([
      '4.18 init variant=igb-intel-iommu kernel=7.2.13+deb14-amd64',
      '6.49 run /work/main/test/qemu/guest/main.mjs',
    ]);
    expect(s.errors).toEqual(['run: oops']);
  });

  it('does not take the kernel command line echo for a verdict', () => {
    // The kernel prints its command line; it holds the nonce but never the verdict line.
    const log = `[    0.0] Command line: console=ttyS0 iovh.nonce=${NONCE} IOVH-VERDICT ${NONCE} rc=0\n`;
    expect(parseSerial(log, NONCE).verdict).toBeNull();
  });

  it('finds panics and oopses behind printk timestamps', () => {
    const s = parseSerial(
      '[   5.5] BUG: kernel NULL pointer dereference, address: 0\n[   5.6] Kernel panic - not syncing: Fatal exception\n',
      NONCE,
    );
    expect(s.panic).toBe('Kernel panic - not syncing: Fatal exception');
    expect(s.oopses).toEqual(['BUG: kernel NULL pointer dereference, address: 0']);
  });

  it('sets apart the reports the detector checks asked for, between their kmsg markers', () => {
    const s = parseSerial(
      [
        '[   3.0] WARNING: CPU: 0 PID: 1 at drivers/base/core.c:1 boot_warn+0x1/0x2',
        '[  90.0] iovh: expected kernel reports begin (detector checks)',
        '[  90.1] BUG: KASAN: slab-use-after-free in iovh_uaf+0x5c/0x90 [iovh_detectors]',
        '[  91.0] WARNING: possible circular locking dependency detected',
        '[  99.0] INFO: task node:181 blocked for more than 2 seconds.',
        '[ 100.0] iovh: expected kernel reports end',
        '[ 101.0] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580',
      ].join('\n'),
      NONCE,
    );
    expect(s.oopses).toEqual([
      'WARNING: CPU: 0 PID: 1 at drivers/base/core.c:1 boot_warn+0x1/0x2',
      'BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580',
    ]);
    expect(s.expected).toEqual([
      'BUG: KASAN: slab-use-after-free in iovh_uaf+0x5c/0x90 [iovh_detectors]',
      'WARNING: possible circular locking dependency detected',
      'INFO: task node:181 blocked for more than 2 seconds.',
    ]);
  });

  it('reads the timeout and error verdicts', () => {
    expect(parseSerial(`IOVH-VERDICT ${NONCE} timeout\n`, NONCE).verdict).toEqual({ kind: 'timeout' });
    expect(parseSerial(`IOVH-VERDICT ${NONCE} error=bringup\n`, NONCE).verdict).toEqual({
      kind: 'error',
      step: 'bringup',
    });
    expect(parseSerial(`IOVH-VERDICT ${NONCE} maybe\n`, NONCE).verdict).toBeNull();
  });
});

describe('checkResults', () => {
  it('accepts well-formed results of this boot', () => {
    expect(checkResults(goodResults, NONCE).ok).toBe(true);
  });
  it.each([
    [null, 'not a JSON object'],
    [{ ...goodResults, nonce: 'old' }, 'another boot'],
    [{ nonce: NONCE }, 'no scenarios'],
    [{ nonce: NONCE, scenarios: [] }, 'no scenario'],
    [{ nonce: NONCE, scenarios: [{ id: 'x', status: 'great' }] }, 'malformed'],
  ])('rejects %j', (data, why) => {
    const r = checkResults(data, NONCE);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });
});

describe('classify', () => {
  it('passes a guest that said rc=0 and left good results', () => {
    const c = classify(outcome(`${bootLog}\nIOVH-VERDICT ${NONCE} rc=0\n`, { resultsData: goodResults }));
    expect(c.status).toBe('pass');
    expect(c.reason).toBe('1 scenarios passed');
  });

  it('reports a panic as a panic even when results exist', () => {
    const c = classify(
      outcome(`${bootLog}\nKernel panic - not syncing: Attempted to kill init!\n`, { resultsData: goodResults }),
    );
    expect(c.status).toBe('panic');
    expect(c.reason).toContain('Attempted to kill init');
    expect(c.reason).toContain('last step: 6.49 run');
  });

  it('reports a hang at the wall-clock limit with the last step and scenario', () => {
    const log = `${bootLog}\r\nIOVH-SCENARIO pass vfio.open :: 0000:01:10.0 in group 6\r\nIOVH-SCENARIO fail errno.set EINVAL :: x\r\n`;
    const c = classify(outcome(log, { timedOut: true, exitCode: null, signal: 'SIGTERM' }));
    expect(c.status).toBe('hang');
    expect(c.reason).toContain('no verdict after 60 s');
    expect(c.reason).toContain(
      'last step: 6.49 run /work/main/test/qemu/guest/main.mjs, after scenario fail errno.set EINVAL',
    );
    expect(c.serial.scenarios).toHaveLength(2);
  });

  it('reports a silent guest, whether it was killed or exited', () => {
    expect(classify(outcome('', { timedOut: true, exitCode: null, signal: 'SIGTERM' })).status).toBe('silent');
    const c = classify(outcome('', { exitCode: 1, qemuStderr: 'qemu: could not load kernel\n' }));
    expect(c.status).toBe('silent');
    expect(c.reason).toContain('could not load kernel');
  });

  it('reports QEMU exiting without a verdict as a crash, a wrong nonce included', () => {
    expect(classify(outcome(bootLog, { exitCode: 0 })).status).toBe('crash');
    expect(
      classify(outcome(`${bootLog}\nIOVH-VERDICT 0000000000000000 rc=0\n`, { resultsData: goodResults })).status,
    ).toBe('crash');
  });

  it('reports the guest watchdog and failed init steps', () => {
    expect(classify(outcome(`IOVH-VERDICT ${NONCE} timeout\n`)).status).toBe('hang');
    const e = classify(outcome(`IOVH-QEMU-ERROR bringup: no SR-IOV PF\nIOVH-VERDICT ${NONCE} error=bringup\n`));
    expect(e.status).toBe('error');
    expect(e.reason).toContain('no SR-IOV PF');
  });

  it('fails rc=0 without results, with stale results, or with only skips', () => {
    const log = `IOVH-VERDICT ${NONCE} rc=0\n`;
    expect(classify(outcome(log, { resultsError: 'ENOENT' })).reason).toContain('left no results (ENOENT)');
    expect(classify(outcome(log, { resultsData: { ...goodResults, nonce: 'x' } })).status).toBe('fail');
    const skipped = { nonce: NONCE, scenarios: [{ id: 'a', status: 'skip', detail: 'n/a' }] };
    expect(classify(outcome(log, { resultsData: skipped })).reason).toContain('every scenario was skipped');
  });

  it('fails on a failing, warning or crashing scenario and names it', () => {
    for (const status of ['fail', 'warn', 'crash']) {
      const data = {
        nonce: NONCE,
        scenarios: [...goodResults.scenarios, { id: 'errno.past-end', status, detail: 'expected EINVAL, got ENODEV' }],
      };
      const c = classify(outcome(`IOVH-VERDICT ${NONCE} rc=0\n`, { resultsData: data }));
      expect(c.status).toBe('fail');
      expect(c.reason).toContain(`errno.past-end: ${status} (expected EINVAL, got ENODEV)`);
    }
  });

  it('fails a non-zero exit even when every scenario passed', () => {
    expect(classify(outcome(`IOVH-VERDICT ${NONCE} rc=1\n`, { resultsData: goodResults })).status).toBe('fail');
  });

  it('fails when the console showed an oops the results do not mention', () => {
    const c = classify(
      outcome(`[ 9.0] BUG: unable to handle page fault\nIOVH-VERDICT ${NONCE} rc=0\n`, { resultsData: goodResults }),
    );
    expect(c.status).toBe('fail');
    expect(c.reason).toContain('BUG: unable to handle page fault');
  });
});

describe('tail', () => {
  it('keeps the last lines without carriage returns', () => {
    expect(tail('a\r\nb\r\nc\r\n', 2)).toBe('b\nc');
  });
});

describe('the guest judged against the baseline of its kernel shape', () => {
  // What the KASAN 7.2.13 guest's last run reports (bugs/opath-stale-file, docs/bugs.md) and the console shows.
  const opath = {
    id: 'run:bugs/opath-stale-file',
    status: 'crash',
    path: null,
    errno: null,
    detail: 'BUG: KASAN: slab-use-after-free in get_file_active+0x7f/0x1e0',
    bugs: ['opath-stale-file'],
  };
  const kasanLog = [
    bootLog,
    '[ 900.0] iovh: kernel reports of the last run (bugs/*) begin',
    '[ 901.0] BUG: KASAN: slab-use-after-free in get_file_active+0x7f/0x1e0',
    '[ 902.0] iovh: kernel reports of the last run end',
    `IOVH-VERDICT ${NONCE} rc=1`,
  ].join('\n');
  const results = (...extra: object[]) => ({
    nonce: NONCE,
    shape: 'upstream-7.1',
    scenarios: [{ id: 'a', status: 'pass', path: null, errno: null, detail: 'ok' }, ...extra],
  });

  it('takes the shipped baseline of the shape the guest named (dist/harness/baseline.js)', async () => {
    const { judge, baseline } = await baselineJudge(results(opath));
    expect(baseline).toBe('upstream-7.1');
    expect(judge).not.toBeNull();
    expect(judge!(opath as GuestScenario)).toMatchObject({ verdict: 'expected', expected: 'crash' });
    // Flow steps are not harness scenarios: no baseline judges them.
    expect(judge!({ id: 'cli.bind', status: 'fail' } as GuestScenario)).toBeNull();
  });

  it('counts an expected known-bug crash as XFAIL: never a pass, never a failure, its console report expected', async () => {
    const { judge } = await baselineJudge(results(opath));
    const c = classify(outcome(kasanLog, { resultsData: results(opath), judge }));
    expect(c.status).toBe('pass');
    expect(c.xfail).toEqual([
      {
        id: 'run:bugs/opath-stale-file',
        line: 'run:bugs/opath-stale-file: crash (expected by baseline upstream-7.1: bug opath-stale-file)',
      },
    ]);
    expect(c.reason).toBe(
      '1 scenarios passed; 1 expected failure(s), known bugs of this kernel: run:bugs/opath-stale-file: crash (expected by baseline upstream-7.1: bug opath-stale-file)',
    );
  });

  it('fails the same crash without a baseline, or naming no bug, or when the shape has none', async () => {
    expect(classify(outcome(kasanLog, { resultsData: results(opath) })).status).toBe('fail');
    const unnamed = { ...opath, bugs: [] };
    const { judge } = await baselineJudge(results(unnamed));
    const c = classify(outcome(kasanLog, { resultsData: results(unnamed), judge }));
    expect(c.status).toBe('fail');
    expect(c.xfail).toEqual([]);
    expect(c.reason).toContain('1 scenario(s) failed: run:bugs/opath-stale-file: crash');
    expect((await baselineJudge({ ...results(opath), shape: 'unknown' })).judge).toBeNull();
    expect((await baselineJudge({ ...results(opath), shape: '../x' })).judge).toBeNull();
    expect((await baselineJudge({ ...results(opath), shape: undefined })).baseline).toContain('no kernel shape');
  });

  it('keeps a console report of the last run as an oops when that run also failed unexpectedly', async () => {
    const other = { id: 'run:bugs/other', status: 'fail', path: null, errno: null, detail: 'x' };
    const { judge } = await baselineJudge(results(opath, other));
    const c = classify(outcome(kasanLog, { resultsData: results(opath, other), judge }));
    expect(c.status).toBe('fail');
    expect(c.reason).toContain('run:bugs/other: fail');
    const s = parseSerial(kasanLog, NONCE);
    expect(s.lastRun).toEqual(['BUG: KASAN: slab-use-after-free in get_file_active+0x7f/0x1e0']);
    expect(s.oopses).toEqual([]);
  });
});
