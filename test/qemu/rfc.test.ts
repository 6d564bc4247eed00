// The rfc-v1 guest's checks in the QEMU CI (scripts/qemu-ci/rfc.mjs): judged
// by the series' baseline, compared with the mock's rfc-v1 profile.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRfc, rfcChecks, type RunReport } from '../../scripts/qemu-ci/rfc.mjs';
import type { BootReport } from '../../scripts/qemu-ci/boot.mjs';

type Row = RunReport['scenarios'][number];

function row(id: string, status: string, quirks: string[], verdict = 'expected', log: string[] = []): Row {
  return {
    id,
    status,
    quirks: quirks.map((q) => ({ id: q })),
    bugs: [],
    path: null,
    reason: `${status} reason`,
    log,
    cleanliness: { kernelComplaints: log },
    baseline: { verdict, expected: status, note: null },
  };
}

const OOPS =
  'Oops: general protection fault, probably for non-canonical address 0xdffffc0000000098: 0000 [#1] SMP KASAN';

function run(rows: Row[]): RunReport {
  return { scenarios: rows, summary: { exitCode: 0, exitReason: '' }, kernel: { shape: { name: 'rfc-v1' } } };
}

describe('the rfc-v1 guest against the mock', () => {
  it('agrees on status, path and the defects named (the mock replays the guest machine)', () => {
    const refused = { ...row('rfc/refuse-device', 'pass', []), path: 'refused' };
    const real = run([
      row('rfc/negotiate', 'pass', []),
      row('rfc/closed-device', 'crash', ['closed-vdev-oops']),
      refused,
    ]);
    const model = run([
      row('rfc/negotiate', 'pass', []),
      row('rfc/closed-device', 'fail', ['revoked-attach-bypass']),
      { ...refused, path: 'p2p' },
    ]);
    const rows = compareRfc(real, model);
    expect(rows.map((r) => [r.id, r.agree])).toEqual([
      ['rfc/negotiate', true],
      ['rfc/closed-device', false],
      ['rfc/refuse-device', false],
    ]);
    expect(rows[1]!.line).toMatch(/kernel crash naming closed-vdev-oops, mock fail naming revoked-attach-bypass/);
    expect(rows[2]!.line).toMatch(/kernel pass \(path refused\), mock pass \(path p2p\)/);
  });

  it('passes expected failures, fails a skip, a "fixed" defect and a report outside the scenarios', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iovh-test-rfc-'));
    try {
      const rows = [
        row('rfc/negotiate', 'pass', []),
        row('rfc/ranges-leak', 'pass', [], 'fixed'),
        row('rfc/multi-range', 'skip', [], 'changed'),
        row('rfc/closed-device', 'crash', ['closed-vdev-oops'], 'expected', [`[   88.100000] ${OOPS}`]),
      ];
      writeFileSync(join(dir, 'iovh-run.json'), JSON.stringify(run(rows)));
      writeFileSync(join(dir, 'console.log'), `[   88.100000] ${OOPS}\r\nWARNING: CPU: 0 PID: 1 at init\r\n`);
      const boot = {
        variant: 'rfc-v1-igb-ivshmem-intel-iommu',
        status: 'fail',
        reason: '2 scenario(s) failed',
        resultsDir: dir,
        logPath: join(dir, 'console.log'),
        results: { scenarios: [{ id: 'qemu.bind-extras', status: 'pass' }] },
      } as unknown as BootReport;
      const checks = rfcChecks(boot, run(rows));
      const by = (n: string) => checks.find((c) => c.name.endsWith(n))!;
      expect(by(': boot and verdict').status).toBe('pass');
      expect(by(': kernel shape').status).toBe('pass');
      expect(by(': nothing outside the scenarios')).toMatchObject({
        status: 'fail',
        detail: 'kernel report outside any scenario: WARNING: CPU: 0 PID: 1 at init',
      });
      expect(by(': rfc/negotiate').status).toBe('pass');
      expect(by(': rfc/closed-device').status).toBe('pass');
      expect(by(': rfc/ranges-leak').status).toBe('fail');
      expect(by(': rfc/multi-range').status).toBe('fail');
      expect(checks.filter((c) => c.name.includes('mock rfc-v1 agrees')).every((c) => c.status === 'pass')).toBe(true);
      expect(rfcChecks(boot, null, 'no dist').at(-1)).toMatchObject({
        status: 'fail',
        detail: 'the mock did not run: no dist',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
