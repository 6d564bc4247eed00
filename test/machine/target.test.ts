import { describe, expect, it } from 'vitest';
import type { FileOps } from '../../src/backend/types.js';
import { wantedProblem } from '../../src/machine/target.js';
import type { HostTopology, PfInfo } from '../../src/machine/topology.js';

const pf: PfInfo = {
  bdf: '0000:03:00.0',
  vendor: 0x8086,
  device: 0xe20b,
  class: 0x030000,
  driver: 'xe',
  iommuGroup: 4,
  totalvfs: 2,
  numvfs: 1,
  autoprobe: false,
  offset: 1,
  stride: 1,
  vfDevice: 0xe20b,
  bars: [],
  vfBars: [],
  provisioning: null,
  provisioningNote: 'test',
  quotas: [],
  vfs: [
    {
      id: 1,
      bdf: '0000:03:00.1',
      vendor: 0x8086,
      device: 0xe20b,
      driver: 'vfio-pci',
      override: 'vfio-pci',
      iommuGroup: 5,
      bars: [],
      vramQuota: null,
      vramQuotaTiles: null,
    },
  ],
};
const machine = (...pfs: PfInfo[]): HostTopology => ({ pfs, iommuGroups: 6, drmNodes: [] });
const present = new Set([
  '/sys/bus/pci/devices/0000:00:02.0',
  '/sys/bus/pci/devices/0000:03:00.0',
  '/sys/bus/pci/devices/0000:03:00.1',
]);
const fs = { exists: (p: string) => present.has(p) } as unknown as FileOps;

describe('--pf/--vf against discovery', () => {
  it.each([
    [{ pf: '0000:03:00.0' }, null],
    [{ vf: '0000:03:00.1' }, null],
    [{ pf: '0000:03:00.0', vf: '0000:03:00.1' }, null],
    [{ pf: '0000:00:02.0' }, '--pf 0000:00:02.0 is not an SR-IOV PF (no sriov_totalvfs); see `iovh topology`'],
    [{ vf: '0000:00:02.0' }, '--vf 0000:00:02.0 is not a VF of any SR-IOV PF on this machine; see `iovh topology`'],
    [{ pf: '0000:03:00.1' }, '--pf 0000:03:00.1 is a VF (of PF 0000:03:00.0), not a PF'],
    [{ vf: '0000:03:00.0' }, '--vf 0000:03:00.0 is a PF, not a VF (use --pf)'],
    [{ pf: '0000:04:00.0' }, '--pf 0000:04:00.0: no PCI device at that address; see `iovh topology`'],
    [
      { pf: '0000:00:02.0', vf: '0000:03:00.1' },
      '--pf 0000:00:02.0 is not an SR-IOV PF (no sriov_totalvfs); see `iovh topology`',
    ],
  ])('%j', (want, problem) => {
    expect(wantedProblem(fs, machine(pf), want)).toBe(problem);
  });

  it('a VF of another PF than --pf', () => {
    const other: PfInfo = { ...pf, bdf: '0000:13:00.0', vfs: [{ ...pf.vfs[0]!, bdf: '0000:13:00.1' }] };
    expect(wantedProblem(fs, machine(pf, other), { pf: '0000:03:00.0', vf: '0000:13:00.1' })).toBe(
      '--vf 0000:13:00.1 belongs to PF 0000:13:00.0, not to --pf 0000:03:00.0',
    );
  });
});
