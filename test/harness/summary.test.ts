import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/harness/summary.js';
import { scenario } from '../report/fixture.js';

const expected = { expected: 'fail' as const, quirks: [], bugs: [], verdict: 'expected' as const, note: null };

describe('exit status', () => {
  it('0 when every bad status is expected by the baseline', () => {
    const s = summarize(
      [
        scenario({ id: 'caps/kernel', status: 'pass' }),
        scenario({ id: 'edge/last-page', status: 'fail', baseline: expected }),
      ],
      null,
    );
    expect(s.exitCode).toBe(0);
    expect(s.exitReason).toMatch(/1 known failure/);
  });

  it('1 on an unexpected fail, warn, crash or timeout; the list names them', () => {
    for (const status of ['fail', 'warn', 'crash', 'timeout'] as const) {
      const s = summarize([scenario({ id: 'a/b', status })], null);
      expect(s.exitCode).toBe(1);
      expect(s.unexpected).toEqual(['a/b']);
    }
  });

  it('77 when everything but the capability probe was skipped', () => {
    expect(
      summarize([scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'a/b', status: 'skip' })], null)
        .exitCode,
    ).toBe(77);
    expect(
      summarize(
        [
          scenario({ id: 'caps/kernel', status: 'pass' }),
          scenario({ id: 'a/b', status: 'pass' }),
          scenario({ id: 'a/c', status: 'skip' }),
        ],
        null,
      ).exitCode,
    ).toBe(0);
  });

  it('an interrupted run never exits 0', () => {
    expect(summarize([scenario({ id: 'a/b', status: 'pass' })], { signal: 'SIGINT' }).exitCode).toBe(130);
    expect(summarize([scenario({ id: 'a/b', status: 'pass' })], { signal: 'SIGTERM' }).exitCode).toBe(143);
  });

  it('counts statuses and verdicts', () => {
    const s = summarize(
      [scenario({ id: 'a/b', status: 'fail', baseline: expected }), scenario({ id: 'a/c', status: 'pass' })],
      null,
    );
    expect(s.byStatus).toMatchObject({ pass: 1, fail: 1, skip: 0 });
    expect(s.byVerdict).toMatchObject({ expected: 1, regression: 0 });
  });
});

describe('skips the baseline does not expect', () => {
  const pass = {
    expected: 'pass' as const,
    quirks: [],
    bugs: [],
    verdict: 'changed' as const,
    note: 'expected pass, got skip',
  };

  it('a scenario expected to pass that skips makes the run exit 1, unless skips are allowed', () => {
    const results = [
      scenario({ id: 'caps/kernel', status: 'pass' }),
      scenario({ id: 'a/b', status: 'pass' }),
      scenario({ id: 'a/c', status: 'skip', baseline: pass }),
    ];
    const s = summarize(results, null);
    expect(s).toMatchObject({ exitCode: 1, unexpected: [], skippedPasses: ['a/c'], skipsAllowed: false });
    const allowed = summarize(results, null, { allowSkips: true });
    expect(allowed).toMatchObject({ exitCode: 0, skippedPasses: ['a/c'], skipsAllowed: true });
    expect(allowed.exitReason).toMatch(/accepted by --allow-skips/);
  });

  it('a skip the baseline expects, or a scenario an interrupt never reached, is not counted', () => {
    const skip = { expected: 'skip' as const, quirks: [], bugs: [], verdict: 'expected' as const, note: null };
    const results = [
      scenario({ id: 'a/b', status: 'pass' }),
      scenario({ id: 'a/c', status: 'skip', baseline: skip }),
      scenario({ id: 'a/d', status: 'skip', baseline: pass, evidence: { notRun: true } }),
    ];
    expect(summarize(results, null).skippedPasses).toEqual([]);
  });
});

describe('partial runs', () => {
  it('a report written before the run ended never says exit 0', () => {
    const s = summarize([scenario({ id: 'caps/kernel', status: 'pass' })], null, { pending: ['a/b', 'a/c'] });
    expect(s.exitCode).toBe(1);
    expect(s.exitReason).toBe(
      'incomplete: 2 of 3 scenarios have no result (the run had not finished when this was written)',
    );
  });
});
