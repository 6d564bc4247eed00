// Shared setup for the mock platform's tests: a backend, VFs enabled, a VF
// on vfio-pci and its device fd, through the same DeviceOps/FileOps the
// harness uses.
import { expect } from 'vitest';
import { createMockBackend, type MockBackend, type MockOptions } from '../../src/mock/backend.js';
import { defaultTopology, type Topology } from '../../src/mock/topology.js';
import { O, VFIO } from '../../src/uapi/constants.js';
import type { SystemError } from '../../src/uapi/errors.js';

export const PF = '0000:03:00.0';
export const PF_DIR = `/sys/bus/pci/devices/${PF}`;
export const VF0 = '0000:03:00.1';
export const VF1 = '0000:03:00.2';
export const GiB = 1n << 30n;
export const MiB = 1n << 20n;

export function mock(options: MockOptions = {}): MockBackend {
  return createMockBackend(options);
}

/** A copy of the default topology with edits applied to the PF. */
export function topology(edit: (t: Topology) => void): Topology {
  const t = defaultTopology();
  edit(t);
  return t;
}

/** What a call throws: its SystemError, or fails the test. */
export function errOf(fn: () => unknown): SystemError {
  try {
    fn();
  } catch (e) {
    return e as SystemError;
  }
  throw new Error('expected an error, got none');
}

export function expectErrno(fn: () => unknown, code: string): SystemError {
  const e = errOf(fn);
  expect(e.code, `${e.message}`).toBe(code);
  return e;
}

export async function expectReject(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/** Autoprobe off, `n` VFs, and VF `index` bound to vfio-pci through driver_override + drivers_probe. */
export function enableVfs(b: MockBackend, n: number, vfio: number[] = [0]): void {
  b.fs.writeFile(`${PF_DIR}/sriov_drivers_autoprobe`, '0');
  b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, String(n));
  for (const i of vfio) {
    const vf = b.fs.readlink(`${PF_DIR}/virtfn${i}`).split('/').pop()!;
    b.fs.writeFile(`/sys/bus/pci/devices/${vf}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', vf);
  }
}

export function groupOf(b: MockBackend, bdf: string): number {
  return Number(b.fs.readlink(`/sys/bus/pci/devices/${bdf}/iommu_group`).split('/').pop());
}

export interface VfioOpen {
  container: number;
  group: number;
  device: number;
}

/** The legacy group/container sequence (docs/kernel.md §4). */
export function openVfio(b: MockBackend, bdf = VF0): VfioOpen {
  const d = b.dev;
  const container = d.open('/dev/vfio/vfio', O.RDWR);
  const group = d.open(`/dev/vfio/${groupOf(b, bdf)}`, O.RDWR);
  d.vfioGroupSetContainer(group, container);
  d.vfioSetIommu(container, VFIO.TYPE1v2_IOMMU);
  const device = d.vfioGroupGetDeviceFd(group, bdf);
  return { container, group, device };
}

export function closeVfio(b: MockBackend, v: VfioOpen): void {
  b.dev.close(v.device);
  b.dev.close(v.group);
  b.dev.close(v.container);
}

export function ranges(...pairs: [bigint, bigint][]): BigUint64Array {
  return BigUint64Array.from(pairs.flat());
}

export function exportBar2(b: MockBackend, device: number, pairs: [bigint, bigint][] = [[0n, 2n * MiB]]): number {
  return b.dev.vfioDmaBufGet(device, { regionIndex: 2, openFlags: O.RDWR | O.CLOEXEC, ranges: ranges(...pairs) });
}

export function kmsg(b: MockBackend): string {
  return b.fs.readRecords('/dev/kmsg').join('');
}
