// Resuming a run that did not finish: what runs again, what does not (the
// scenario the machine went down in), and how the two runs merge.
import { describe, expect, it } from 'vitest';
import { mergeResumed, planResume, type ResumeContext } from '../../src/api/resume.js';
import { loadBaseline, shippedBaselinePath } from '../../src/harness/baseline.js';
import { InputError } from '../../src/host/errors.js';
import type { RunResult } from '../../src/report/model.js';
import { run, scenario } from '../report/fixture.js';

const BOOT = '11111111-1111-4111-8111-111111111111';
const OTHER_BOOT = '22222222-2222-4222-8222-222222222222';

/** A run that died in edge/unprovisioned-vf, with two scenarios after it. */
function died(over: Partial<RunResult> = {}): RunResult {
  const r = run([scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'edge/last-page', status: 'fail' })], {
    complete: false,
    pending: ['edge/unprovisioned-vf', 'leak/map-ranges', 'stress/max-ranges'],
    running: 'edge/unprovisioned-vf',
    ...over,
  });
  r.kernel = { ...r.kernel, bootId: BOOT };
  return r;
}

function ctx(over: Partial<ResumeContext> = {}): ResumeContext {
  return {
    backend: 'mock',
    profile: 'rfc-v1',
    release: '7.2.0-rfc-v1',
    bootId: BOOT,
    baseline: null,
    pstore: [],
    ...over,
  };
}

describe('planResume', () => {
  it('same boot: iovh died, the kernel did not; everything unfinished runs, the one that was running too', () => {
    const plan = planResume(died(), ctx());
    expect(plan.todo).toEqual(['edge/unprovisioned-vf', 'leak/map-ranges', 'stress/max-ranges']);
    expect(plan.made).toEqual([]);
    expect(plan.notices).toEqual([
      'edge/unprovisioned-vf was running when the run stopped and the machine kept running (same boot): running it again',
    ]);
  });

  it('another boot: the scenario the machine went down in is a crash, not run again', () => {
    const plan = planResume(died(), ctx({ bootId: OTHER_BOOT }));
    expect(plan.todo).toEqual(['leak/map-ranges', 'stress/max-ranges']);
    expect(plan.made).toHaveLength(1);
    expect(plan.made[0]).toMatchObject({
      id: 'edge/unprovisioned-vf',
      status: 'crash',
      evidence: { diedDuring: true, bootIdBefore: BOOT, bootIdAfter: OTHER_BOOT },
    });
    expect(plan.made[0]!.reason).toMatch(/^the machine went down while it ran \(boot id 1111.* then 2222.*\)/);
  });

  it("names the known defect from the previous boot's oops in pstore, so a baseline expecting it agrees", () => {
    const pstore = [
      'Panic#1 Part1',
      '<1>[  812.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008',
      '<4>[  812.000010] Oops: 0000 [#1] PREEMPT SMP NOPTI',
      '<4>[  812.000020] RIP: 0010:xe_bo_addr+0x1c/0x80 [xe]',
      '<4>[  812.000030] ---[ end trace 0000000000000000 ]---',
    ];
    const baseline = loadBaseline(shippedBaselinePath('rfc-v1'));
    const plan = planResume(died(), ctx({ bootId: OTHER_BOOT, pstore, baseline }));
    const r = plan.made[0]!;
    expect(r.quirks.map((q) => q.id)).toEqual(['unprovisioned-oops']);
    expect(r.baseline?.verdict).toBe('expected');
    expect(r.cleanliness.kernelComplaints[0]).toContain('BUG: kernel NULL pointer dereference');
    expect(r.reason).toContain('pstore: <1>[  812.000001] BUG: kernel NULL pointer dereference');
    expect(r.log).toEqual(pstore);
  });

  it('no boot id to compare: not run again (it may have taken the machine down)', () => {
    expect(planResume(died(), ctx({ bootId: null })).made[0]!.reason).toMatch(/cannot tell whether it went down/);
  });

  it('an interrupted run resumes its not-run scenarios', () => {
    const interrupted = run(
      [
        scenario({ id: 'caps/kernel', status: 'pass' }),
        scenario({ id: 'leak/map-ranges', status: 'skip', evidence: { notRun: true } }),
      ],
      { interrupted: { signal: 'SIGINT' } },
    );
    expect(planResume(interrupted, ctx()).todo).toEqual(['leak/map-ranges']);
  });

  it('refuses another backend, profile or kernel: a resumed run finishes that run', () => {
    expect(() => planResume(died(), ctx({ backend: 'native', profile: null }))).toThrow(
      new InputError(
        'the results were made on the mock backend; this run would use native: resume with --backend mock',
      ),
    );
    expect(() => planResume(died(), ctx({ profile: 'fixed' }))).toThrow(
      /mock profile rfc-v1; this run would use fixed/,
    );
    expect(() => planResume(died(), ctx({ release: '7.3.0' }))).toThrow(
      /made on kernel 7\.2\.0-rfc-v1; this is 7\.3\.0: resume on the kernel the run judged$/,
    );
  });

  it('a finished run has nothing to resume', () => {
    const done = run([scenario({ id: 'caps/kernel', status: 'pass' })]);
    const plan = planResume(done, ctx());
    expect(plan.todo).toEqual([]);
    expect(plan.notices).toEqual(['nothing to resume: every scenario of the run has a result']);
    expect(mergeResumed(plan, null)).toBe(done);
  });
});

describe('mergeResumed', () => {
  it("keeps the first run's order, recounts the summary and records the resumption", () => {
    const prev = died();
    const plan = planResume(prev, ctx({ bootId: OTHER_BOOT }));
    const now = run([
      scenario({ id: 'leak/map-ranges', status: 'pass' }),
      scenario({ id: 'stress/max-ranges', status: 'pass' }),
    ]);
    const merged = mergeResumed(plan, now);
    expect(merged.scenarios.map((r) => `${r.id} ${r.status}`)).toEqual([
      'caps/kernel pass',
      'edge/last-page fail',
      'edge/unprovisioned-vf crash',
      'leak/map-ranges pass',
      'stress/max-ranges pass',
    ]);
    expect(merged).toMatchObject({ complete: true, pending: [], running: null, startedAt: prev.startedAt });
    expect(merged.summary.byStatus).toMatchObject({ pass: 3, fail: 1, crash: 1 });
    expect(merged.summary.exitCode).toBe(1);
    expect(merged.durationMs).toBe(prev.durationMs + now.durationMs);
    expect(merged.resumed).toEqual([
      {
        startedAt: plan.startedAt,
        bootId: OTHER_BOOT,
        scenarios: ['leak/map-ranges', 'stress/max-ranges'],
        wentDown: ['edge/unprovisioned-vf'],
      },
    ]);
  });

  it('a resumed run that dies again leaves a file that resumes again', () => {
    const plan = planResume(died(), ctx());
    const partial = run([scenario({ id: 'edge/unprovisioned-vf', status: 'crash' })], {
      complete: false,
      pending: ['leak/map-ranges', 'stress/max-ranges'],
      running: 'leak/map-ranges',
    });
    const merged = mergeResumed(plan, partial);
    expect(merged).toMatchObject({
      complete: false,
      pending: ['leak/map-ranges', 'stress/max-ranges'],
      running: 'leak/map-ranges',
    });
    merged.kernel = { ...merged.kernel, bootId: BOOT };
    expect(planResume(merged, ctx({ bootId: OTHER_BOOT })).todo).toEqual(['stress/max-ranges']);
  });
});
