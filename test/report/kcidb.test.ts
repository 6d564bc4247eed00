import { describe, expect, it } from 'vitest';
import { renderKcidb, kcidbPath, kcidbStatus } from '../../src/report/kcidb.js';
import { mixedRun, run, scenario } from './fixture.js';

interface KTest {
  id: string;
  build_id: string;
  origin: string;
  path: string;
  status: string;
  waived: boolean;
  log_excerpt: string;
  duration: number;
  misc: Record<string, unknown>;
}

function tests(text: string): KTest[] {
  const doc = JSON.parse(text) as { version: { major: number; minor: number }; tests: KTest[] };
  expect(doc.version).toEqual({ major: 4, minor: 5 });
  return doc.tests;
}

describe('KCIDB', () => {
  it('one test per scenario, with KCIDB statuses and waived known failures', () => {
    const t = tests(renderKcidb(mixedRun()));
    const by = new Map(t.map((x) => [x.path, x]));
    expect(by.get('iovh.caps.kernel')).toMatchObject({ status: 'PASS', waived: false });
    expect(by.get('iovh.import.iov-single-range')).toMatchObject({ status: 'SKIP' });
    expect(by.get('iovh.edge.last-page')).toMatchObject({ status: 'FAIL', waived: true });
    expect(by.get('iovh.edge.unprovisioned-vf')).toMatchObject({ status: 'FAIL', waived: true });
    expect(by.get('iovh.data.gpu-write-cpu-read')).toMatchObject({ status: 'FAIL', waived: false });
    expect(by.get('iovh.lifecycle.revoke-on-reset')).toMatchObject({ status: 'ERROR', waived: false });
    expect(by.get('iovh.stress.max-ranges')).toMatchObject({ status: 'ERROR' });
    for (const x of t) {
      expect(x.id).toMatch(/^iovh:/);
      expect(x.build_id).toBe('iovh:7.2.0-rfc-v1');
      expect(x.path).toMatch(/^[.a-zA-Z0-9_-]*$/);
      expect(JSON.stringify(x)).not.toContain('null');
    }
    expect(by.get('iovh.edge.last-page')!.log_excerpt).toContain('quirk 1 last-page');
  });

  it('a scenario the run never reached is MISS', () => {
    const r = scenario({ id: 'stress/many-buffers', status: 'skip', evidence: { notRun: true } });
    expect(kcidbStatus(r)).toBe('MISS');
  });

  it('caps log_excerpt at 16 KiB of UTF-8', () => {
    const big = scenario({
      id: 'leak/map-ranges',
      status: 'fail',
      log: Array.from({ length: 2000 }, (_, i) => `line ${i} ✓✓✓✓✓✓✓✓✓✓`),
    });
    const [t] = tests(renderKcidb(run([big])));
    expect(Buffer.byteLength(t!.log_excerpt, 'utf8')).toBeLessThanOrEqual(16384);
    expect(t!.log_excerpt.length).toBeGreaterThan(1000);
  });

  it('validates origin and build id', () => {
    expect(() => renderKcidb(run([]), { origin: 'Bad Origin' })).toThrow(/origin/);
    expect(() => renderKcidb(run([]), { origin: 'lab1', buildId: 'other:1' })).toThrow(/build id/);
    expect(
      tests(renderKcidb(run([scenario({ id: 'a/b', status: 'pass' })]), { origin: 'lab1', buildId: 'lab1:abc' }))[0]!
        .build_id,
    ).toBe('lab1:abc');
    expect(kcidbPath('edge/vf-next-bus')).toBe('iovh.edge.vf-next-bus');
  });
});
