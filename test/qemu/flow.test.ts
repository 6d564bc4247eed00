import { describe, expect, it } from 'vitest';
import { FLOW_RULES } from './guest/flow.mjs';
import { IOMMUFD_SCENARIOS } from './guest/iommufd.mjs';
import { RULE_SCENARIOS } from './guest/rules.mjs';

describe('FLOW_RULES', () => {
  it('names a sysfs rule for every bring-up step', () => {
    expect(
      Object.keys(FLOW_RULES)
        .filter((id) => !id.startsWith('iommufd.') && !id.startsWith('rules.'))
        .sort(),
    ).toEqual([
      'cli.bind',
      'cli.capture',
      'cli.doctor',
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
