// The mock's iommufd (src/mock/iommufd.ts) where the contract suite cannot
// look: object ids and references, revoke as iommufd's invalidate_mappings
// sees it (a kprobe on iopt_revoke_notify), the PCI_COMMAND memory bit on a
// PF and on a VF, the RFC's closed-device oops, and that closing everything
// releases everything.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { IOMMU, O, VFIO } from '../../src/uapi/constants.js';
import type { Topology } from '../../src/mock/topology.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { enableVfs, expectErrno, mock, openVfio, PF, VF0 } from './helpers.js';

const RW = IOMMU.IOAS_MAP_READABLE | IOMMU.IOAS_MAP_WRITEABLE;
const WITH_IOMMUFD = { IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' } as const;
const T = '/sys/kernel/tracing';

function map(b: MockBackend, iommufd: number, ioasId: number, fd: number, iova?: bigint): bigint {
  return b.dev.iommuIoasMapFile(iommufd, {
    ioasId,
    flags: iova === undefined ? RW : RW | IOMMU.IOAS_MAP_FIXED_IOVA,
    fd,
    start: 0n,
    length: 4096n,
    iova: iova ?? 0n,
  });
}

function exportPage(b: MockBackend, device: number, region: number): number {
  return b.dev.vfioDmaBufGet(device, { regionIndex: region, openFlags: O.RDWR, ranges: BigUint64Array.of(0n, 4096n) });
}

/** Hits of a kprobe on iopt_revoke_notify while `fn` runs. */
async function revokeNotifications(b: MockBackend, fn: () => unknown): Promise<number> {
  b.fs.writeFile(`${T}/kprobe_events`, 'p:iovh_t/revoke iopt_revoke_notify', { append: true });
  b.fs.mkdir(`${T}/instances/iovh_t`);
  b.fs.writeFile(`${T}/instances/iovh_t/events/iovh_t/revoke/enable`, '1');
  try {
    await fn();
    return b.fs
      .readText(`${T}/instances/iovh_t/trace`)
      .split('\n')
      .filter((l) => l.includes('revoke: (iopt_revoke_notify+')).length;
  } finally {
    b.fs.writeFile(`${T}/instances/iovh_t/events/iovh_t/revoke/enable`, '0');
    b.fs.rmdir(`${T}/instances/iovh_t`);
    b.fs.writeFile(`${T}/kprobe_events`, '-:iovh_t/revoke', { append: true });
  }
}

function writeCommand(b: MockBackend, device: number, value: number): void {
  const off = BigInt(VFIO.PCI_CONFIG_REGION_INDEX) << 40n;
  b.dev.vfioRegionWrite(device, off + 4n, Uint8Array.of(value & 0xff, value >> 8));
}

describe('objects', () => {
  it('ids are the lowest free from 1; the cdev device, its IOAS and the automatic HWPT each take one', () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1, []);
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    const cdev = b.dev.open('/dev/vfio/devices/vfio0', O.RDWR);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    expect(b.dev.vfioDeviceBindIommufd(cdev, fd)).toBe(1);
    expect(b.dev.iommuIoasAlloc(fd)).toBe(2);
    b.dev.vfioDeviceAttachIommufdPt(cdev, 2);
    // The automatic domain is object 3: the next IOAS gets 4; destroy frees an id for reuse.
    expect(b.dev.iommuIoasAlloc(fd)).toBe(4);
    b.dev.iommuDestroy(fd, 4);
    expect(b.dev.iommuIoasAlloc(fd)).toBe(4);
    // Detach drops the automatic domain (id 3 free again) and the IOAS is no longer busy.
    b.dev.vfioDeviceDetachIommufdPt(cdev);
    expect(b.dev.iommuIoasAlloc(fd)).toBe(3);
    b.dev.iommuDestroy(fd, 2);
    // Closing /dev/iommu while a device is bound: the device keeps the context until its fd closes.
    b.dev.close(fd);
    expect(b.kernel.live().iommufdContexts).toBe(1);
    b.dev.close(cdev);
    expect(b.kernel.live().iommufdContexts).toBe(0);
    b.close();
  });

  it('attach refuses an IOAS holding a mapping its domain cannot take: EADDRINUSE (iopt_reserve_iova, iopt_check_iova_alignment)', () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1, []);
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    const cdev = b.dev.open('/dev/vfio/devices/vfio0', O.RDWR);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const memfd = b.dev.memfdCreate('m', 0);
    b.dev.ftruncate(memfd, 8192n);
    b.dev.vfioDeviceBindIommufd(cdev, fd);
    const msi = b.dev.iommuIoasAlloc(fd);
    const half = b.dev.iommuIoasAlloc(fd);
    const fixed = RW | IOMMU.IOAS_MAP_FIXED_IOVA;
    b.dev.iommuIoasMapFile(fd, { ioasId: msi, flags: fixed, fd: memfd, start: 0n, length: 4096n, iova: 0xfee00000n });
    b.dev.iommuIoasMapFile(fd, { ioasId: half, flags: fixed, fd: memfd, start: 0n, length: 2048n, iova: 0x800n });
    expectErrno(() => b.dev.vfioDeviceAttachIommufdPt(cdev, msi), 'EADDRINUSE');
    expectErrno(() => b.dev.vfioDeviceAttachIommufdPt(cdev, half), 'EADDRINUSE');
    for (const f of [memfd, cdev, fd]) b.dev.close(f);
    b.close();
  });

  it('IOVA ranges of an attached Intel VT-d domain: the interrupt window and beyond 48 bits are reserved', () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1, []);
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    const cdev = b.dev.open('/dev/vfio/devices/vfio0', O.RDWR);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    b.dev.vfioDeviceBindIommufd(cdev, fd);
    const ioas = b.dev.iommuIoasAlloc(fd);
    b.dev.vfioDeviceAttachIommufdPt(cdev, ioas);
    expect(b.dev.iommuIoasIovaRanges(fd, ioas)).toEqual({
      ranges: [
        { start: 0n, last: 0xfedfffffn },
        { start: 0xfef00000n, last: (1n << 48n) - 1n },
      ],
      alignment: 4096n,
    });
    const buf = exportPage(b, cdev, 2);
    expectErrno(() => map(b, fd, ioas, buf, 0xfee00000n), 'EINVAL'); // reserved
    expectErrno(() => map(b, fd, ioas, buf, 0x1800n), 'EINVAL'); // not page aligned
    expect(map(b, fd, ioas, buf, 0xfef00000n)).toBe(0xfef00000n);
    b.dev.close(buf);
    b.dev.close(cdev);
    b.dev.close(fd);
    b.close();
  });

  it('an automatic IOVA is aligned to the length up to a page, or a huge page with TRANSPARENT_HUGEPAGE', () => {
    for (const [thp, want] of [
      ['n', 0x1000n],
      ['y', 0x10000n],
    ] as const) {
      const b = mock({ profile: 'upstream-7.1', kernelConfig: { TRANSPARENT_HUGEPAGE: thp } });
      enableVfs(b, 1);
      const v = openVfio(b);
      const fd = b.dev.open('/dev/iommu', O.RDWR);
      const ioas = b.dev.iommuIoasAlloc(fd);
      const buf = b.dev.vfioDmaBufGet(v.device, {
        regionIndex: 2,
        openFlags: O.RDWR,
        ranges: BigUint64Array.of(0n, 0x10000n),
      });
      const iova = b.dev.iommuIoasMapFile(fd, {
        ioasId: ioas,
        flags: RW,
        fd: buf,
        start: 0n,
        length: 0x10000n,
        iova: 0n,
      });
      expect(iova, `THP ${thp}`).toBe(want);
      b.close();
    }
  });
});

describe('revoke as iommufd sees it (iopt_revoke_notify)', () => {
  it('reset: revoke then un-revoke notify twice, the second a no-op; close: once, for good', async () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1);
    const v = openVfio(b);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const ioas = b.dev.iommuIoasAlloc(fd);
    const buf = exportPage(b, v.device, 2);
    map(b, fd, ioas, buf);
    expect(await revokeNotifications(b, () => b.dev.vfioDeviceReset(v.device))).toBe(2);
    map(b, fd, ioas, buf);
    // Two live attachments now: the first was revoked for good by the reset, the second not.
    expect(await revokeNotifications(b, () => b.dev.close(v.device))).toBe(2);
    expectErrno(() => map(b, fd, ioas, buf), 'ENODEV');
    b.close();
  });

  it('VF: every COMMAND write with MEMORY clear revokes and at once un-revokes (no_command_memory)', async () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1);
    const v = openVfio(b);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const ioas = b.dev.iommuIoasAlloc(fd);
    const buf = exportPage(b, v.device, 2);
    map(b, fd, ioas, buf);
    expect(await revokeNotifications(b, () => writeCommand(b, v.device, 0x0004))).toBe(2);
    // The new mapping works (un-revoked), and a second MEMORY-clear write invalidates again.
    map(b, fd, ioas, buf);
    expect(await revokeNotifications(b, () => writeCommand(b, v.device, 0x0004))).toBe(4);
    map(b, fd, ioas, buf);
    b.close();
  });

  it('PF: MEMORY clear revokes until it is set again; a dma-buf exported meanwhile starts revoked', () => {
    const igb = JSON.parse(
      readFileSync(new URL('../../scripts/qemu-ci/topology-igb.json', import.meta.url), 'utf8'),
    ) as Topology;
    const b = mock({ profile: 'upstream-7.1', topology: igb, kernelConfig: WITH_IOMMUFD });
    const pf = '0000:01:00.0';
    b.fs.writeFile(`/sys/bus/pci/devices/${pf}/driver_override`, 'vfio-pci');
    b.fs.writeFile(`/sys/bus/pci/devices/${pf}/driver/unbind`, pf);
    b.fs.writeFile('/sys/bus/pci/drivers_probe', pf);
    const v = openVfio(b, pf);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const ioas = b.dev.iommuIoasAlloc(fd);
    const before = exportPage(b, v.device, 0);
    map(b, fd, ioas, before);
    writeCommand(b, v.device, 0x0001); // I/O only: memory decode off
    expectErrno(() => map(b, fd, ioas, before), 'ENODEV');
    const during = exportPage(b, v.device, 0);
    expectErrno(() => map(b, fd, ioas, during), 'ENODEV');
    writeCommand(b, v.device, 0x0003);
    map(b, fd, ioas, before);
    map(b, fd, ioas, during);
    b.close();
  });
});

describe('rfc-v1', () => {
  it('MAP_FILE of a dma-buf whose device was closed oopses in the RFC attach (closed-vdev-oops)', () => {
    const b = mock({ profile: 'rfc-v1' });
    enableVfs(b, 1);
    const v = openVfio(b);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const ioas = b.dev.iommuIoasAlloc(fd);
    const buf = exportPage(b, v.device, 2);
    map(b, fd, ioas, buf);
    b.dev.close(v.device);
    expect(() => map(b, fd, ioas, buf)).toThrow(/killed|oops/i);
    expect(b.kernel.taint & 0x80).toBe(0x80); // D
    b.close();
  });
});

describe('release', () => {
  it('closing every fd releases every object: contexts, areas, attachments, dma-bufs', async () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1);
    const v = openVfio(b);
    const fd = b.dev.open('/dev/iommu', O.RDWR);
    const ioas = b.dev.iommuIoasAlloc(fd);
    const bufs = [exportPage(b, v.device, 2), exportPage(b, v.device, 2)];
    for (const buf of bufs) map(b, fd, ioas, buf);
    await b.dev.vfioDeviceReset(v.device);
    map(b, fd, ioas, bufs[0]!);
    expect(b.kernel.live()).toMatchObject({ iommufdContexts: 1, ioasMappings: 3, attachments: 3, dmabufs: 2 });
    for (const buf of bufs) b.dev.close(buf);
    b.dev.close(v.device);
    b.dev.close(v.group);
    b.dev.close(v.container);
    expect(b.kernel.live()).toMatchObject({ ioasMappings: 3, dmabufs: 2 });
    b.dev.close(fd);
    expect(b.kernel.live()).toMatchObject({
      iommufdContexts: 0,
      ioasMappings: 0,
      attachments: 0,
      dmabufs: 0,
      openFiles: 0,
    });
    b.close();
  });

  it('the process exit closes /dev/iommu and a bound cdev in any order', () => {
    const b = mock({ profile: 'upstream-7.1' });
    enableVfs(b, 1, []);
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    const p = b.kernel.spawnProcess('qemu');
    const cdev = p.dev.open('/dev/vfio/devices/vfio0', O.RDWR);
    const fd = p.dev.open('/dev/iommu', O.RDWR);
    p.dev.vfioDeviceBindIommufd(cdev, fd);
    const ioas = p.dev.iommuIoasAlloc(fd);
    p.dev.vfioDeviceAttachIommufdPt(cdev, ioas);
    const buf = exportPage(p as MockBackend, cdev, 2);
    map(p as MockBackend, fd, ioas, buf);
    p.close();
    expect(b.kernel.live()).toMatchObject({ iommufdContexts: 0, ioasMappings: 0, dmabufs: 0, vfioDevicesOpen: 0 });
    void PF;
    b.close();
  });
});
