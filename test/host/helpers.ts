// Shared setup for the src/host/ unit tests: the mock kernel (src/mock/) with
// one xe PF (8 VFs, like the fake this replaced) beside an igb PF without
// provisioning and a device without SR-IOV, and the plan context over it.
import { rmSync } from 'node:fs';
import type { FileOps } from '../../src/backend/types.js';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { defaultTopology, type Topology } from '../../src/mock/topology.js';
import { PlanState } from '../../src/host/state.js';
import { SysReader } from '../../src/machine/sysfs.js';
import { discover } from '../../src/machine/topology.js';
import type { PlanContext } from '../../src/host/planner.js';
import { scratchDir } from '../support/scratch.js';

export const XE_PF = '0000:03:00.0';
export const IGB_PF = '0000:01:00.0';
export const OTHER = '0000:00:02.0';

export interface MachineShape {
  /** the xe PF's IOMMU group (null: none, vfio-pci cannot bind its VFs) */
  xeGroup?: number | null;
  /** the xe PF's driver at boot (null: unbound) */
  xeDriver?: string | null;
}

/** The topology: the default xe PF with 8 VFs, an igb PF (7 VFs, VF RID offset 0x80, stride 2), a plain device. */
export function hostTopology(shape: MachineShape = {}): Topology {
  const t = defaultTopology();
  const xe = t.devices[0]!;
  xe.sriov!.totalvfs = 8;
  if (shape.xeGroup !== undefined) xe.iommuGroup = shape.xeGroup;
  if (shape.xeDriver !== undefined) xe.driver = shape.xeDriver;
  t.devices.push(
    {
      bdf: IGB_PF,
      vendor: '0x8086',
      device: '0x10c9',
      class: '0x020000',
      driver: 'igb',
      driverOverride: null,
      iommuGroup: 14,
      parent: 'pci0000:00/0000:00:1c.0',
      bars: [{ index: 0, start: '0xd0000000', size: '0x20000', kind: 'mem32', prefetchable: false }],
      sriov: {
        totalvfs: 7,
        numvfs: 0,
        offset: 0x80,
        stride: 2,
        vfDevice: '0x10ca',
        autoprobe: true,
        vfBars: [{ index: 0, start: '0xd1000000', size: '0x4000', kind: 'mem64', prefetchable: true }],
        vfs: [],
      },
    },
    {
      bdf: OTHER,
      vendor: '0x8086',
      device: '0x1234',
      class: '0x030000',
      driver: null,
      driverOverride: null,
      iommuGroup: 3,
      bars: [{ index: 0, start: '0xd2000000', size: '0x1000000', kind: 'mem32', prefetchable: false }],
    },
  );
  // The igb PF takes the BDF of the card's upstream port on the xe PF's path: a bridge entry may not name a device,
  // so that port goes unlisted (an upstream port's default, no ACS, is what the entry said).
  t.bridges = t.bridges!.filter((b) => !t.devices.some((d) => d.bdf === b.bdf));
  return t;
}

/** A mock machine of that shape; state kept in memory only. */
export function mockMachine(shape: MachineShape = {}): MockBackend {
  return createMockBackend({ profile: 'fixed', topology: hostTopology(shape) });
}

/**
 * Autoprobe off and `n` VFs with 1 GiB of VRAM each: the quotas written before
 * the count, so xe keeps them instead of sharing out all its VRAM.
 */
export function withVfs(b: MockBackend, n: number, quota = 1n << 30n): void {
  const pf = `/sys/bus/pci/devices/${XE_PF}`;
  b.fs.writeFile(`${pf}/sriov_drivers_autoprobe`, '0\n');
  for (let vf = 1; vf <= n; vf++) b.fs.writeFile(`${pf}/sriov_admin/vf${vf}/profile/vram_quota`, `${quota}\n`);
  b.fs.writeFile(`${pf}/sriov_numvfs`, `${n}\n`);
}

export function contextOf(fs: FileOps): PlanContext {
  return { state: PlanState.from(discover(fs)), reader: new SysReader(fs) };
}

/** Everything a bring-up can change (sysfs without debugfs and tracefs), as text, for before/after comparisons. */
export function snapshot(b: MockBackend): string {
  return [...b.kernel.snapshotSysfs()].map(([p, v]) => `${p} ${v}`).join('\n');
}

export interface Recorded extends FileOps {
  /** Every writeFile made through this FileOps, in order. */
  readonly writes: { path: string; data: string }[];
}

/** The backend's FileOps with each write recorded (test instrumentation: what the code under test wrote). */
export function recording(fs: FileOps): Recorded {
  const writes: { path: string; data: string }[] = [];
  return Object.assign(Object.create(null) as object, fs, {
    writes,
    writeFile: (path: string, data: string, options?: Parameters<FileOps['writeFile']>[2]) => {
      writes.push({ path, data });
      fs.writeFile(path, data, options);
    },
  }) as Recorded;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = scratchDir(prefix);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
