// The igb-switch QEMU machine (`iovh qemu --variant igb-switch`: igb behind an
// xio3130 switch, whose ports have no ACS capability) as the real 7.2.13
// kernel answered (test/qemu/fixtures/igb-switch-7.2.13.json) and as the mock
// answers on the topology that machine describes (topology-igb-switch.json).
// Without ACS between them the VFs join their PF's IOMMU group
// (drivers/iommu/iommu.c pci_device_group), and with igb owning the PF that
// group is not viable for VFIO: every scenario that opens the VF skips, on
// both sides.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGuestRun } from '../../src/qemu/run.js';
import { stateScratchDir } from '../support/scratch.js';
import { runGuestOnMock } from './guest-on-mock.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const real = JSON.parse(readFileSync(join(fixtures, 'igb-switch-7.2.13.json'), 'utf8')) as {
  pf: { bdf: string; iommuGroup: number };
  vfs: { bdf: string; iommuGroup: number }[];
  scenarios: { id: string; status: string; reason: string }[];
};

const dir = stateScratchDir('iovh-switch-');

describe('the igb-switch machine: the mock against the real 7.2.13 guest', () => {
  it("puts the VFs in their PF's IOMMU group and skips every scenario that opens the VF, as the kernel did", async () => {
    const topology = join(fixtures, 'topology-igb-switch.json');
    const ids = real.scenarios.map((s) => s.id).filter((id) => id !== 'caps/kernel');
    const { results } = await runGuestOnMock(dir(), {
      topology,
      profile: 'upstream-7.1',
      variant: 'igb-switch-intel-iommu',
      numvfs: real.vfs.length,
      filters: ids,
    });
    const { run } = readGuestRun(results);
    const pf = (run!.topology as { pfs: { bdf: string; vfs: { bdf: string; iommuGroup: number }[] }[] }).pfs[0]!;
    expect(pf.bdf).toBe(real.pf.bdf);
    // The real guest's capture: the PF and its VFs in one group.
    expect(real.vfs.map((v) => v.iommuGroup)).toEqual(real.vfs.map(() => real.pf.iommuGroup));
    // The capture of the bring-up: the VFs' groups, which the run's topology records before the last run.
    expect(pf.vfs.map((v) => ({ bdf: v.bdf, iommuGroup: v.iommuGroup }))).toEqual(real.vfs);
    const got = new Map(run!.scenarios.map((s) => [s.id, s]));
    for (const want of real.scenarios) {
      if (want.id === 'caps/kernel') continue;
      const s = got.get(want.id);
      expect(s, want.id).toBeDefined();
      expect([want.id, s!.status]).toEqual([want.id, want.status]);
      // The reason names the group and the fix, as the real guest's did.
      expect(s!.reason).toBe(want.reason);
    }
  }, 120_000);
});
