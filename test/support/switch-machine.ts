// The igb machine behind QEMU's xio3130 switch (test/qemu/fixtures/topology-igb-switch.json),
// as the VF-token tests of the mock and of openVfioDevice use it: its command line with or
// without vfio_pci.enable_sriov=1, its PF and VFs in one IOMMU group or each in its own,
// and the PF moved from igb to vfio-pci.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FileOps } from '../../src/backend/types.js';
import type { Topology } from '../../src/mock/topology.js';

const SWITCH = join(import.meta.dirname, '..', 'qemu', 'fixtures', 'topology-igb-switch.json');
export const PF = '0000:03:00.0';
export const VF0 = '0000:03:10.0';
export const VF1 = '0000:03:10.2';
export const SYS = '/sys/bus/pci/devices';

/** The switch machine, its cmdline with or without vfio_pci.enable_sriov=1, PF and VFs in one group or not. */
export function switchTopology(o: { enableSriov: boolean; ownGroups?: boolean }): Topology {
  const t = JSON.parse(readFileSync(SWITCH, 'utf8')) as Topology;
  t.kernel = {
    ...t.kernel,
    cmdline: `BOOT_IMAGE=/vmlinuz root=/dev/vda intel_iommu=on${o.enableSriov ? ' vfio_pci.enable_sriov=1' : ''}`,
  };
  // Own groups: ACS on the switch's downstream port above the PF (src/mock/pcie.ts), which QEMU's xio3130 lacks.
  if (o.ownGroups) t.bridges!.find((x) => x.bdf === '0000:02:00.0')!.acs = '0x5f';
  return t;
}

/**
 * PF from igb to vfio-pci; with `vfs`, then that many VFs written to its
 * sriov_numvfs (vfio-pci's sriov_configure; the bus notifier binds them).
 */
export function pfOnVfio(b: { fs: FileOps }, vfs?: number): void {
  b.fs.writeFile(`${SYS}/${PF}/driver/unbind`, PF);
  b.fs.writeFile(`${SYS}/${PF}/driver_override`, 'vfio-pci');
  b.fs.writeFile('/sys/bus/pci/drivers_probe', PF);
  if (vfs !== undefined) b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, String(vfs));
}
