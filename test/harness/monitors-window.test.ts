// The monitors' window: what could not be measured is reported as
// unavailable, never left out (a clean-looking result must mean "measured and
// clean").
import { describe, expect, it } from 'vitest';
import { runScenarios } from '../../src/harness/runner.js';
import { BUFINFO } from '../../src/harness/monitors.js';
import { FakeKernel } from './fake-backend.js';

const BUFINFO_TEXT =
  'Dma-buf Objects:\nsize    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n\nTotal 0 objects, 0 bytes\n';

describe('monitor window', () => {
  it('bufinfo readable when the scenario starts and not at its end: the dma-buf check is reported unavailable', async () => {
    const k = new FakeKernel();
    k.files.set(BUFINFO, BUFINFO_TEXT);
    const run = await runScenarios({
      backend: k.backend(),
      backendInfo: { name: 'mock', reason: 'test', profile: null },
      scenarios: [
        {
          id: 't/debugfs-goes',
          title: 'debugfs unmounted mid-scenario',
          description: 'bufinfo disappears',
          expectedPath: null,
          run: async (ctx) => {
            k.files.delete(BUFINFO);
            ctx.note('done');
          },
        },
      ],
      timeoutMs: 60_000,
      timing: { stallMs: 10, kmemleakAgeMs: 0, graceMs: 50 },
      want: { pf: null, vf: null },
      baseline: null,
      filters: [],
      setup: [],
      toolVersion: 'test',
    });
    const r = run.scenarios[0]!;
    expect(r.cleanliness.dmabufsLeft).toEqual([]);
    expect(r.cleanliness.unavailable).toContain(
      `${BUFINFO} unreadable at the end of the scenario: dma-buf objects left behind were not checked`,
    );
  });
});
