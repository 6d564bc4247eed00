import { describe, expect, it } from 'vitest';
import { BaselineError, judge, parseBaseline } from '../../src/harness/baseline.js';

const ok = JSON.stringify({
  schema: 'iovh-baseline/1',
  name: 'rfc-v1',
  profile: 'rfc-v1',
  scenarios: {
    'caps/kernel': 'pass',
    'edge/last-page': { status: 'fail', quirks: ['silent-untranslated', 'last-page'], note: 'quirk 1' },
    'import/iov-single-range': 'skip',
  },
});

describe('baseline files', () => {
  it('parses statuses and entries with quirks (sorted)', () => {
    const b = parseBaseline(ok, 'b.json');
    expect(b.name).toBe('rfc-v1');
    expect(b.scenarios.get('caps/kernel')).toEqual({ status: 'pass', quirks: [], bugs: [], note: null });
    expect(b.scenarios.get('edge/last-page')!.quirks).toEqual(['last-page', 'silent-untranslated']);
  });

  it.each([
    ['not json', '{', /not valid JSON/],
    ['wrong schema', '{"schema":"x","name":"a","scenarios":{}}', /field "schema"/],
    ['no name', '{"schema":"iovh-baseline/1","scenarios":{}}', /field "name"/],
    [
      'bad status',
      '{"schema":"iovh-baseline/1","name":"a","scenarios":{"a/b":"passed"}}',
      /scenarios\["a\/b"\] must be a status/,
    ],
    [
      'bad entry status',
      '{"schema":"iovh-baseline/1","name":"a","scenarios":{"a/b":{"status":"ok"}}}',
      /\.status must be one of/,
    ],
    [
      'bad quirks',
      '{"schema":"iovh-baseline/1","name":"a","scenarios":{"a/b":{"status":"fail","quirks":[1]}}}',
      /\.quirks must be/,
    ],
    [
      'unknown field',
      '{"schema":"iovh-baseline/1","name":"a","scenarios":{"a/b":{"status":"fail","why":"x"}}}',
      /unknown field "why"/,
    ],
  ])('rejects %s with a one-line message naming the file', (_n, text, re) => {
    let err: unknown;
    try {
      parseBaseline(text, 'f.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BaselineError);
    expect((err as Error).message).toMatch(/^baseline f\.json: /);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('verdicts', () => {
  const entry = (status: 'pass' | 'fail' | 'skip' | 'crash', quirks: string[] = [], bugs: string[] = []) => ({
    status,
    quirks,
    bugs,
    note: null,
  });
  it.each([
    [entry('pass'), 'pass', [], 'expected'],
    [entry('pass'), 'fail', [], 'regression'],
    [entry('pass'), 'warn', [], 'regression'],
    [entry('pass'), 'skip', [], 'changed'],
    [entry('skip'), 'pass', [], 'changed'],
    [entry('fail'), 'pass', [], 'fixed'],
    [entry('fail'), 'crash', [], 'regression'],
    [entry('crash'), 'fail', [], 'regression'],
    [entry('fail', ['last-page']), 'fail', ['last-page'], 'expected'],
    [entry('fail', ['last-page']), 'fail', ['contiguity'], 'regression'],
    [entry('fail', ['last-page']), 'fail', [], 'regression'],
    [entry('fail'), 'fail', ['anything'], 'expected'],
    [undefined, 'fail', [], 'unlisted'],
    // Bugs of the merged path (src/harness/bugs.ts) are judged with the quirks: a crash naming another bug is a regression.
    [entry('crash', [], ['opath-stale-file']), 'crash', ['opath-stale-file'], 'expected'],
    [entry('crash', [], ['opath-stale-file']), 'crash', [], 'regression'],
    [entry('fail', ['last-page'], ['kref-underflow']), 'fail', ['kref-underflow', 'last-page'], 'expected'],
  ] as const)('%j then %s naming %j is %s', (e, status, quirks, verdict) => {
    expect(judge(e, status, quirks).verdict).toBe(verdict);
  });

  it('a regression says what was expected', () => {
    expect(judge(entry('fail', ['last-page']), 'fail', ['contiguity']).note).toBe(
      'expected fail naming last-page, got fail naming contiguity',
    );
  });
});
