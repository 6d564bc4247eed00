// A stand-in importer module built from another iovh (another ABI version of
// core/uapi/iovh_ic.h) is a capability the machine lacks until it is
// rebuilt, not a wrong answer: every scenario that opens it skips, naming
// both versions and the rebuild (src/harness/standin.ts openStandIn).
import { describe, expect, it } from 'vitest';
import { runScenarios } from '../../src/harness/runner.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import { IOVH_IC } from '../../src/uapi/iovh-ic.js';
import { declaredMock, scenarioOptions } from './evidence-helpers.js';

describe('a stand-in importer of another ABI version', () => {
  it.each([
    ['rfc-v1', 'rfc/negotiate'],
    ['upstream-7.1', 'import/p2p-route'],
  ] as const)('%s %s: skips citing standIn with both versions and the rebuild', async (profile, id) => {
    const b = declaredMock(profile);
    try {
      b.kernel.platform.iovhIc.abi = IOVH_IC.ABI_VERSION + 1;
      const run = await runScenarios(scenarioOptions(b, [scenarioById(id)!]));
      const r = run.scenarios[1]!;
      expect([r.id, r.status, r.skip?.capability]).toEqual([id, 'skip', 'standIn']);
      expect(r.reason).toContain(
        `built from another iovh: its /dev/iovh-ic speaks ABI ${IOVH_IC.ABI_VERSION + 1} of core/uapi/iovh_ic.h, this iovh ABI ${IOVH_IC.ABI_VERSION}`,
      );
      expect(r.skip?.enable).toMatch(/^rmmod iovh_ic_importer, .*`iovh qemu` builds the module from this iovh/);
    } finally {
      b.close();
    }
  });

  it('this ABI version: the scenario runs (rfc-v1 rfc/negotiate passes on the mock)', async () => {
    const b = declaredMock('rfc-v1');
    try {
      const run = await runScenarios(scenarioOptions(b, [scenarioById('rfc/negotiate')!]));
      expect(run.scenarios[1]!.status).toBe('pass');
    } finally {
      b.close();
    }
  });
});
