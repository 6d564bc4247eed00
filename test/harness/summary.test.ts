import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/harness/summary.js';
import { scenario } from '../report/fixture.js';

const expected = { expected: 'fail' as const, quirks: [], verdict: 'expected' as const, note: null };

describe('exit status', () => {
  it('0 when every bad status is expected by the baseline', () => {
    const s = summarize([scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'edge/last-page', status: 'fail', baseline: expected })], null);
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
    expect(summarize([scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'a/b', status: 'skip' })], null).exitCode).toBe(77);
    expect(summarize([scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'a/b', status: 'pass' }), scenario({ id: 'a/c', status: 'skip' })], null).exitCode).toBe(0);
  });

  it('an interrupted run never exits 0', () => {
    expect(summarize([scenario({ id: 'a/b', status: 'pass' })], { signal: 'SIGINT' }).exitCode).toBe(130);
    expect(summarize([scenario({ id: 'a/b', status: 'pass' })], { signal: 'SIGTERM' }).exitCode).toBe(143);
  });

  it('counts statuses and verdicts', () => {
    const s = summarize([scenario({ id: 'a/b', status: 'fail', baseline: expected }), scenario({ id: 'a/c', status: 'pass' })], null);
    expect(s.byStatus).toMatchObject({ pass: 1, fail: 1, skip: 0 });
    expect(s.byVerdict).toMatchObject({ expected: 1, regression: 0 });
  });
});
