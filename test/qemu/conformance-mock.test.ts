// Model conformance without QEMU: the guest program on the mock (upstream
// profile, igb-like topology) against what each real kernel answered in its
// last recorded QEMU run (test/qemu/fixtures/kernel-igb.json: Debian's stock
// kernel; kernel-kasan-igb.json: the source-built sanitizer kernel, with
// iommufd, the VFIO cdev and kmemleak), the mock built as that kernel was
// (the fixture's kernelConfig). `npm run test:qemu` makes the same
// comparison against fresh guests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  compareResults,
  describeDisagreement,
  KASAN_FIXTURE,
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

// The stock kernel's fixture is always there; the sanitizer kernel's once a run of it was recorded.
const FIXTURES = [KERNEL_FIXTURE, KASAN_FIXTURE].filter((f) => f === KERNEL_FIXTURE || existsSync(f));

describe.each(FIXTURES.map((f) => [f.replace(/.*\//, ''), f]))(
  'the mock against the recorded kernel (%s)',
  (_, file) => {
    it('agrees scenario by scenario on status, path and errno', async () => {
      // dist/ is what the guest program loads; `npm test` builds it first (pretest).
      expect(mockUnavailable()).toBeNull();
      const fixture = JSON.parse(readFileSync(file, 'utf8')) as {
        kernel: string;
        kernelConfig?: Record<string, 'y' | 'n'>;
        modules?: string[];
        scenarios: Array<{ id: string; status: string; path: string | null; errno: string | null }>;
      };
      const out = join(dir, file.replace(/.*\//, '').replace(/\.json$/, ''));
      const log = `${out}.log`;
      // The mock is the kernel the fixture came from, built the same way.
      const model = await runOnMock({
        outDir: out,
        log,
        ...(fixture.kernelConfig ? { kernelConfig: fixture.kernelConfig } : {}),
        ...(fixture.modules ? { modules: fixture.modules } : {}),
      });
      // Each step once (both harness runs of the flow probe caps/kernel first).
      const ids = model.map((m) => m.id);
      expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
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
  },
);
