// The edge/* checks of the QEMU CI's rfc-v1 guest on the mock GPU
// (scripts/qemu-ci/mock-gpu-ci.mjs edgeChecks): from a boot's results folder
// (the run report and the topology the guest captured), every edge/*
// scenario must have run, and the mock, replaying the capture, must agree.
// The boot here is the recorded one (test/qemu/fixtures/mock-gpu-rfc-v1.json).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { edgeChecks } from '../../scripts/qemu-ci/mock-gpu-ci.mjs';
import type { BootReport } from '../../scripts/qemu-ci/boot.mjs';
import { scratchDir } from '../support/scratch.js';
import { loadMockGpuFixture, type RecordedScenario } from './mock-gpu-fixture.js';

/** A results folder as the guest leaves it, from the recorded run; `edit` changes its scenarios. */
function recordedBoot(edit: (s: RecordedScenario) => RecordedScenario = (s) => s): BootReport {
  const fixture = loadMockGpuFixture();
  const dir = scratchDir('iovh-test-edge-');
  const scenarios = fixture.scenarios.map(edit).map((s) => ({ ...s, quirks: s.quirks.map((id) => ({ id })) }));
  writeFileSync(join(dir, 'iovh-run.json'), JSON.stringify({ complete: true, scenarios }));
  // What the guest captured carries its kernel line; the replay drops it (replayTopology).
  writeFileSync(join(dir, 'topology.json'), JSON.stringify({ ...fixture.topology, kernel: { release: 'x' } }));
  return { variant: 'rfc-v1-mock-gpu-intel-iommu', status: 'fail', reason: 'r', resultsDir: dir } as BootReport;
}

describe('edgeChecks: edge/* of the rfc-v1 guest on the mock GPU', () => {
  it('passes the recorded boot: all six ran, the mock replaying its capture agrees', async () => {
    const { checks, pinned } = await edgeChecks(recordedBoot(), { log: () => {} });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['rfc-v1-mock-gpu-intel-iommu: edge/* ran on the mock GPU with real bytes', 'pass'],
      ['rfc-v1-mock-gpu-intel-iommu: the mock (rfc-v1) agrees on edge/* (status, path, quirks)', 'pass'],
    ]);
    expect(pinned).toBeNull(); // no coverage asked for
  });

  it('fails a skipped scenario, and a guest whose verdict the mock does not give', async () => {
    const { checks } = await edgeChecks(
      recordedBoot((s) =>
        s.id === 'edge/vf-next-bus'
          ? { ...s, status: 'skip', quirks: [] }
          : s.id === 'edge/npot-ranges'
            ? { ...s, status: 'pass', quirks: [] }
            : s,
      ),
      { log: () => {} },
    );
    expect(checks[0]).toMatchObject({ status: 'fail', detail: 'not run or skipped: edge/vf-next-bus (skip)' });
    expect(checks[1]!.status).toBe('fail');
    expect(checks[1]!.detail).toMatch(/edge\/npot-ranges: kernel .*"status":"pass".*, mock .*order-from-length/);
  });

  it('fails a boot that left no run report', async () => {
    const dir = scratchDir('iovh-test-edge-');
    const { checks } = await edgeChecks(
      { variant: 'v', status: 'hang', reason: 'killed', resultsDir: dir } as unknown as BootReport,
      { log: () => {} },
    );
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ status: 'fail' });
    expect(checks[0]!.detail).toMatch(/^no run report \(hang: killed\)/);
  });
});
