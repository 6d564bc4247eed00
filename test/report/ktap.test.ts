import { describe, expect, it } from 'vitest';
import { renderKtap, ktapText } from '../../src/report/ktap.js';
import { parseKtap, KtapError } from './ktap-parser.js';
import { mixedRun, run, scenario } from './fixture.js';
import { emptyCleanliness } from '../../src/report/model.js';

describe('KTAP', () => {
  it('parses as KTAP version 1 with one result per scenario', () => {
    const r = mixedRun();
    const doc = parseKtap(renderKtap(r));
    expect(doc.version).toBe('KTAP version 1');
    expect(doc.plan).toBe(r.scenarios.length);
    expect(doc.results.map((x) => x.description)).toEqual(r.scenarios.map((s) => s.id));
  });

  it('uses SKIP, XFAIL, TIMEOUT and ERROR the way the spec defines them', () => {
    const doc = parseKtap(renderKtap(mixedRun()));
    const byId = new Map(doc.results.map((x) => [x.description, x]));
    expect(byId.get('export/single-range')).toMatchObject({ ok: true, directive: null });
    expect(byId.get('import/iov-single-range')).toMatchObject({ ok: true, directive: 'SKIP' });
    // A known defect is never `ok` (kselftest's `ok # XFAIL` is a pass to kunit.py): `not ok # XFAIL`.
    expect(byId.get('edge/last-page')).toMatchObject({ ok: false, directive: 'XFAIL' });
    expect(byId.get('edge/last-page')!.diagnostic).toMatch(/^fail: /);
    expect(byId.get('edge/unprovisioned-vf')).toMatchObject({ ok: false, directive: 'XFAIL' });
    expect(byId.get('edge/unprovisioned-vf')!.diagnostic).toMatch(/^crash: /);
    // A crash, expected or not, is a subtest that planned a result and never gave it.
    expect(byId.get('edge/unprovisioned-vf')!.subtests).toMatchObject({
      plan: 1,
      missing: 1,
      header: ['Subtest: edge/unprovisioned-vf'],
    });
    expect(byId.get('edge/npot-ranges')).toMatchObject({ ok: true, directive: null });
    expect(byId.get('edge/npot-ranges')!.diagnostic).toBe('XPASS expected fail, now passes');
    expect(byId.get('data/gpu-write-cpu-read')).toMatchObject({ ok: false, directive: null });
    expect(byId.get('lifecycle/revoke-on-reset')).toMatchObject({ ok: false, directive: 'TIMEOUT' });
    expect(byId.get('lifecycle/revoke-on-reset')!.diagnostic).toMatch(/^30 seconds/);
    expect(byId.get('leak/fds-and-buffers')).toMatchObject({ ok: false, directive: null });
    expect(byId.get('leak/fds-and-buffers')!.diagnostic).toMatch(/^warn: /);
    expect(byId.get('stress/max-ranges')).toMatchObject({ ok: false, directive: 'ERROR' });
    // diagnostics about a scenario precede its result line
    expect(byId.get('edge/last-page')!.diagnostics.join('\n')).toContain('quirk 1 last-page');
  });

  it('keeps # and newlines out of descriptions and diagnostic data', () => {
    expect(ktapText('a # b\nc')).toBe('a no. b c');
    const doc = parseKtap(renderKtap(mixedRun()));
    for (const res of doc.results) expect(res.description).not.toContain('#');
  });

  it("ends with kselftest's totals line", () => {
    const lines = renderKtap(mixedRun()).trimEnd().split('\n');
    // pass: caps, export; xfail: last-page, unprovisioned-vf; fail: gpu-write (fail), revoke-on-reset (timeout),
    // fds-and-buffers (warn); xpass: npot-ranges; skip: iov-single-range; error: max-ranges (harness).
    expect(lines.at(-1)).toBe('# Totals: pass:2 fail:3 xfail:2 xpass:1 skip:1 error:1');
  });

  it('an unexpected crash says so in a diagnostic line inside its subtest block', () => {
    const text = renderKtap(
      run([
        scenario({
          id: 'edge/unprovisioned-vf',
          status: 'crash',
          reason: 'kernel oops',
          cleanliness: {
            ...emptyCleanliness(),
            kernelComplaints: ['BUG: kernel NULL pointer dereference, address: 0000000000000008'],
          },
        }),
      ]),
    );
    expect(text).toContain(
      [
        '  KTAP version 1',
        '  # Subtest: edge/unprovisioned-vf',
        '  1..1',
        '  # edge/unprovisioned-vf: crash: the kernel crashed during this scenario: BUG: kernel NULL pointer dereference, address: 0000000000000008',
        'not ok 1 edge/unprovisioned-vf # crash: kernel oops',
      ].join('\n'),
    );
    expect(parseKtap(text).results[0]!.subtests!.missing).toBe(1);
  });

  it('an empty run is a valid plan of zero', () => {
    const doc = parseKtap(renderKtap(run([])));
    expect(doc.plan).toBe(0);
    expect(doc.results).toEqual([]);
  });
});

describe('the KTAP parser rejects what the spec forbids', () => {
  it.each([
    ['no version line', '1..1\nok 1 a\n'],
    ['wrong numbering', 'KTAP version 1\n1..2\nok 1 a\nok 3 b\n'],
    ['more results than planned', 'KTAP version 1\n1..1\nok 1 a\nok 2 b\n'],
    ['TIMEOUT on ok', 'KTAP version 1\n1..1\nok 1 a # TIMEOUT 3 seconds\n'],
    ['orphan subtest', 'KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 x\n'],
  ])('%s', (_name, text) => {
    expect(() => parseKtap(text)).toThrow(KtapError);
  });

  it('records planned results that never came as missing', () => {
    expect(parseKtap('KTAP version 1\n1..3\nok 1 a\nok 2 b\n').missing).toBe(1);
  });

  it('accepts the nested example of ktap.rst', () => {
    const text = [
      'KTAP version 1',
      '1..1',
      '  KTAP version 1',
      '  1..2',
      '  ok 1 test_1',
      '  not ok 2 test_2',
      '# example failed',
      'not ok 1 example',
      '',
    ].join('\n');
    const doc = parseKtap(text);
    expect(doc.results[0]!.subtests!.results.map((r) => r.ok)).toEqual([true, false]);
    expect(doc.results[0]!.diagnostics).toEqual(['example failed']);
  });
});
