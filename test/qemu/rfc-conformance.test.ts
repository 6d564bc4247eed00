// The mock against the RFC v1 kernel on igb + ivshmem, without QEMU: the
// rfc/* scenarios the CI's rfc-v1 guest ran (test/qemu/fixtures/rfc-v1-ivshmem.json,
// recorded from its iovh-run.json by `node scripts/qemu-ci/rfc.mjs record`) run
// again on the mock's rfc-v1 profile on that guest's machine (rfcTopology:
// ivshmem-plain exporting its own BAR 2, q35's host bridge as the other
// device), and must agree scenario by scenario: status, path and the defects
// named. `npm run test:qemu` makes the same comparison against a fresh guest.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRfc, rfcOnMock, type RunReport } from '../../scripts/qemu-ci/rfc.mjs';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'rfc-v1-ivshmem.json');

interface Recorded {
  id: string;
  status: string;
  path: string | null;
  quirks: string[];
  bugs: string[];
  reason: string;
}

describe('the mock against the RFC v1 kernel on igb + ivshmem (rfc-v1-ivshmem.json)', () => {
  it('agrees on every rfc/* scenario: status, path and the defects named', () => {
    const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { scenarios: Recorded[] };
    const real = {
      scenarios: fixture.scenarios.map((s) => ({
        ...s,
        quirks: s.quirks.map((id) => ({ id })),
        bugs: s.bugs.map((id) => ({ id })),
        log: [],
        cleanliness: { kernelComplaints: [] },
        baseline: null,
      })),
      summary: { exitCode: 0, exitReason: '' },
      kernel: { shape: { name: 'rfc-v1' } },
    } as RunReport;
    // The IOV match, the interconnect map and the data through it on a function that is its own PF.
    expect(real.scenarios.find((s) => s.id === 'rfc/negotiate')).toMatchObject({ status: 'pass', path: 'iov' });
    const rows = compareRfc(real, rfcOnMock());
    expect(rows.length).toBe(7);
    expect(rows.filter((r) => !r.agree).map((r) => r.line)).toEqual([]);
  }, 120_000);
});
