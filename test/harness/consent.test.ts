// Scenarios that, on a kernel with the defect they look for, leave a task
// asleep in the kernel holding a VF until reboot ask for consent on a shared
// machine (src/harness/steps.ts requireDestructiveConsent): without
// --allow-destructive they skip citing `destructive`, before touching a VF.
import { describe, expect, it } from 'vitest';
import type { Backend, ProcessBackend } from '../../src/backend/types.js';
import { DEFAULT_POLICY } from '../../src/harness/caps.js';
import { runScenarios } from '../../src/harness/runner.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import type { MockBackend } from '../../src/mock/backend.js';
import type { ScenarioResult } from '../../src/report/model.js';
import { declaredMock, scenarioOptions } from './evidence-helpers.js';

/** The mock as the native backend presents a machine: shared (a person's machine), its processes too. */
function shared(b: MockBackend): Backend {
  const share = <T extends ProcessBackend>(x: T): T => ({ ...x, traits: { ...x.traits, shared: true } });
  return { ...share(b), spawnProcess: (comm, inherit) => share(b.spawnProcess(comm, inherit)) };
}

const IDS = ['bugs/ttm-attach-uaf', 'bugs/opath-stale-file', 'lifecycle/close-while-revoked', 'bugs/revoke-hang-reset'];

/** The four on the shared mock, with `policy` (the default: no --allow-destructive). */
async function runShared(policy = DEFAULT_POLICY): Promise<ScenarioResult[]> {
  const b = declaredMock('upstream-7.1');
  try {
    const run = await runScenarios(
      scenarioOptions(
        shared(b),
        IDS.map((id) => scenarioById(id)!),
        { want: { pf: null, vf: null, policy } },
      ),
    );
    return run.scenarios.slice(1);
  } finally {
    b.close();
  }
}

describe('destructive scenarios on a shared machine', () => {
  it('skip citing destructive without --allow-destructive, saying what would happen', async () => {
    const results = await runShared();
    expect(results.map((r) => r.id)).toEqual(IDS);
    for (const r of results) {
      expect([r.id, r.status, r.skip]).toEqual([
        r.id,
        'skip',
        { capability: 'destructive', enable: expect.stringMatching(/^run with --allow-destructive/) },
      ]);
      expect(r.reason).toMatch(/until reboot|until the importer lets go|use-after-free/);
    }
  });

  it('run with --allow-destructive (none of them skips for consent)', async () => {
    const results = await runShared({ ...DEFAULT_POLICY, allowDestructive: true });
    for (const r of results) expect([r.id, r.skip?.capability]).not.toEqual([r.id, 'destructive']);
  });
});
