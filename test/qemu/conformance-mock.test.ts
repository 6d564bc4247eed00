// Model conformance without QEMU: the guest program on the mock (upstream
// profile, igb-like topology) against what the real kernel answered in the
// last recorded QEMU run (test/qemu/fixtures/kernel-igb.json). `npm run
// test:qemu` makes the same comparison against a fresh guest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareResults,
  describeDisagreement,
  KERNEL_FIXTURE,
  mockUnavailable,
  runOnMock,
} from '../../scripts/qemu-ci/conformance.mjs';
import { RULES } from './guest/scenarios.mjs';
import { FLOW_RULES } from './guest/flow.mjs';
import { scratchDir } from '../support/scratch.js';

let dir = '';
beforeAll(() => {
  dir = scratchDir('iovh-conformance-');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the mock against the recorded kernel', () => {
  it('agrees scenario by scenario on status, path and errno', async () => {
    // dist/ is what the guest program loads; `npm test` builds it first (pretest).
    expect(mockUnavailable()).toBeNull();
    const fixture = JSON.parse(readFileSync(KERNEL_FIXTURE, 'utf8')) as {
      kernel: string;
      kernelConfig?: Record<string, 'y' | 'n'>;
      scenarios: Array<{ id: string; status: string; path: string | null; errno: string | null }>;
    };
    const log = join(dir, 'mock.log');
    // The mock is the kernel the fixture came from, built the same way.
    const model = await runOnMock({
      outDir: dir,
      log,
      ...(fixture.kernelConfig ? { kernelConfig: fixture.kernelConfig } : {}),
    });
    // Harness scenarios added since the recording have no kernel answer yet; every recorded one must still run.
    const recorded = new Set(fixture.scenarios.map((s) => s.id));
    const rows = compareResults(
      fixture.scenarios,
      model.filter((m) => recorded.has(m.id) || !m.id.startsWith('run:')),
      { ...FLOW_RULES, ...RULES },
    );
    const disagreements = rows.filter((r) => !r.agree).map(describeDisagreement);
    expect(disagreements, `kernel ${fixture.kernel} vs the mock (log: ${log})`).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(fixture.scenarios.length);
  });
});
