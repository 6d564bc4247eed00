import { describe, expect, it } from 'vitest';
import { fromHarness, FLOW_RULES } from './guest/flow.mjs';
import { IOMMUFD_SCENARIOS } from './guest/iommufd.mjs';
import { RULE_SCENARIOS } from './guest/rules.mjs';

const base = {
  id: 'export/invalid-args',
  title: 'invalid export requests',
  path: null,
  reason: 'ok',
  error: null,
  durationMs: 12.345,
};

describe('fromHarness', () => {
  it('keeps status, path and the errno of the error that ended the scenario', () => {
    expect(fromHarness({ ...base, status: 'pass' })).toEqual({
      id: 'run:export/invalid-args',
      title: 'invalid export requests',
      status: 'pass',
      path: null,
      errno: null,
      detail: 'ok',
      ms: 12.3,
    });
    const r = fromHarness({
      ...base,
      id: 'import/non-p2p-importer',
      status: 'fail',
      path: 'refused',
      reason: 'EINVAL at import',
      error: { code: 'EINVAL' },
    });
    expect([r.status, r.path, r.errno]).toEqual(['fail', 'refused', 'EINVAL']);
  });

  it('counts a harness timeout as a failure and says so', () => {
    const r = fromHarness({ ...base, status: 'timeout', reason: 'no answer in 60 s' });
    expect(r.status).toBe('fail');
    expect(r.detail).toBe('timeout: no answer in 60 s');
  });
});

describe('FLOW_RULES', () => {
  it('names a sysfs rule for every bring-up step', () => {
    expect(
      Object.keys(FLOW_RULES)
        .filter((id) => !id.startsWith('iommufd.') && !id.startsWith('rules.'))
        .sort(),
    ).toEqual([
      'cli.bind',
      'cli.capture',
      'cli.find-pf',
      'cli.restore',
      'cli.run',
      'cli.topology',
      'cli.vfs-enable',
      'pf.bind-vfio',
      'pf.rebind',
    ]);
    // Every iommufd scenario, for the VF and for the PF, with its kernel rule.
    expect(Object.keys(FLOW_RULES).filter((id) => id.startsWith('iommufd.')).length).toBe(2 * IOMMUFD_SCENARIOS.length);
    expect(Object.keys(FLOW_RULES).filter((id) => id.startsWith('rules.')).length).toBe(RULE_SCENARIOS.length);
    for (const rule of Object.values(FLOW_RULES)) expect(rule.length).toBeGreaterThan(20);
  });
});
