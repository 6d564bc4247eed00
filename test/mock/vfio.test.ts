// vfio-pci: container, group, device, regions, mmap, features, revoke and
// its waits (docs/kernel.md §1-§4, §3.5, §11.5, §11.6).
import { describe, expect, it } from 'vitest';
import type { Attachment, ImporterOps, SgTable } from '../../src/mock/contracts.js';
import { O, VFIO, vfioRegionOffset } from '../../src/uapi/constants.js';
import {
  closeVfio,
  enableVfs,
  expectErrno,
  expectReject,
  exportBar2,
  groupOf,
  kmsg,
  MiB,
  mock,
  openVfio,
  PF,
  topology,
  VF0,
  VF1,
} from './helpers.js';

function setup(profile: 'upstream-7.1' | 'rfc-v1' | 'fixed' = 'fixed') {
  const b = mock({ profile });
  enableVfs(b, 2);
  return b;
}

/** A P2P, revocable importer on the PF that keeps its map after invalidate (xe's deferred unmap). */
function deferringImporter(b: ReturnType<typeof mock>, fd: number) {
  const k = b.kernel.platform;
  const dmabuf = k.dmabuf.get(fd);
  const invalidations: number[] = [];
  const ops: ImporterOps = { allowPeer2peer: true, invalidateMappings: () => invalidations.push(invalidations.length) };
  const att: Attachment = k.dmabuf.attach(dmabuf, PF, k.pci.device(PF)!, ops);
  const sgt: SgTable = k.dmabuf.mapAttachment(att);
  return { att, sgt, invalidations, unmap: () => k.dmabuf.unmapAttachment(att, sgt), core: k.dmabuf };
}

describe('container and group', () => {
  it('container: API version 0, type1 extensions, SET_IOMMU needs a group and a known type', () => {
    const b = setup();
    const c = b.dev.open('/dev/vfio/vfio', O.RDWR);
    expect(b.dev.vfioGetApiVersion(c)).toBe(0);
    expect(b.dev.vfioCheckExtension(c, VFIO.TYPE1v2_IOMMU)).toBe(1);
    expect(b.dev.vfioCheckExtension(c, VFIO.TYPE1_IOMMU)).toBe(1);
    expect(b.dev.vfioCheckExtension(c, VFIO.NOIOMMU_IOMMU)).toBe(0); // no CONFIG_VFIO_NOIOMMU (docs/kernel.md §4)
    expectErrno(() => b.dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU), 'EINVAL');
    const g = b.dev.open(`/dev/vfio/${groupOf(b, VF0)}`, O.RDWR);
    b.dev.vfioGroupSetContainer(g, c);
    expectErrno(() => b.dev.vfioSetIommu(c, VFIO.NOIOMMU_IOMMU), 'ENODEV');
    b.dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU);
    expectErrno(() => b.dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU), 'EINVAL');
  });

  it('a group opens once (EBUSY), reports VIABLE / CONTAINER_SET, and checks its container fd', () => {
    const b = setup();
    const path = `/dev/vfio/${groupOf(b, VF0)}`;
    const g = b.dev.open(path, O.RDWR);
    const e = expectErrno(() => b.dev.open(path, O.RDWR), 'EBUSY');
    expect(e.syscall).toBe('open');
    expect(b.dev.vfioGroupGetStatus(g).flags).toBe(VFIO.GROUP_FLAGS_VIABLE);
    expectErrno(() => b.dev.vfioGroupSetContainer(g, 999), 'EBADF');
    // vfio_group_ioctl_set_container: a file that is neither a container nor an iommufd is EBADFD.
    expectErrno(() => b.dev.vfioGroupSetContainer(g, g), 'EBADFD');
    expectErrno(() => b.dev.vfioGroupUnsetContainer(g), 'EINVAL');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, VF0), 'EINVAL'); // no container yet
    const c = b.dev.open('/dev/vfio/vfio', O.RDWR);
    b.dev.vfioGroupSetContainer(g, c);
    expectErrno(() => b.dev.vfioGroupSetContainer(g, c), 'EINVAL');
    expect(b.dev.vfioGroupGetStatus(g).flags).toBe(VFIO.GROUP_FLAGS_VIABLE | VFIO.GROUP_FLAGS_CONTAINER_SET);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, VF0), 'EINVAL'); // no IOMMU set
    b.dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, VF1), 'ENODEV'); // another group's device
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=2ab74924-c335-45f4-9b16-8569e5b08258`), 'EINVAL'); // PF is on xe
    const dev = b.dev.vfioGroupGetDeviceFd(g, VF0);
    expectErrno(() => b.dev.vfioGroupUnsetContainer(g), 'EBUSY');
    b.dev.close(dev);
    b.dev.vfioGroupUnsetContainer(g);
    b.dev.close(g);
    b.dev.open(path, O.RDWR); // free again
  });

  it('a group with a device owned by a kernel driver is not viable: SET_CONTAINER fails EBUSY', () => {
    const t = topology((t) => {
      const s = t.devices[0]!.sriov!;
      s.numvfs = 2;
      s.vfs = [
        { index: 0, driver: 'vfio-pci', driverOverride: 'vfio-pci', iommuGroup: 30 },
        { index: 1, driver: 'xe', driverOverride: null, iommuGroup: 30 },
      ];
    });
    const b = mock({ topology: t });
    const g = b.dev.open('/dev/vfio/30', O.RDWR);
    expect(b.dev.vfioGroupGetStatus(g).flags).toBe(0);
    const c = b.dev.open('/dev/vfio/vfio', O.RDWR);
    expectErrno(() => b.dev.vfioGroupSetContainer(g, c), 'EBUSY');
    b.fs.writeFile('/sys/bus/pci/drivers/xe/unbind', VF1);
    expect(b.dev.vfioGroupGetStatus(g).flags).toBe(VFIO.GROUP_FLAGS_VIABLE);
    b.dev.vfioGroupSetContainer(g, c);
  });

  it('the cdev/iommufd ioctls do not exist on a Debian 7.2 kernel (ENOTTY, no /dev/iommu)', () => {
    // Debian's 7.2 is built without IOMMUFD (docs/kernel.md §4): the default topology's lab kernel has it.
    const b = mock({ profile: 'fixed', kernelConfig: { IOMMUFD: 'n', VFIO_DEVICE_CDEV: 'n' } });
    enableVfs(b, 2);
    const v = openVfio(b);
    expectErrno(() => b.dev.vfioDeviceBindIommufd(v.device, v.container), 'ENOTTY');
    expectErrno(() => b.dev.iommuIoasAlloc(v.container), 'ENOTTY');
    expectErrno(() => b.dev.open('/dev/iommu', O.RDWR), 'ENOENT');
    expect(b.fs.exists('/dev/vfio/devices')).toBe(false);
  });
});

describe('device', () => {
  it('reports info and every region as 7.2 does for an xe VF', () => {
    const b = setup();
    const { device } = openVfio(b);
    expect(b.dev.vfioDeviceGetInfo(device)).toEqual({ flags: 3, numRegions: 9, numIrqs: 5, capOffset: 0 });
    const bar0 = b.dev.vfioDeviceGetRegionInfo(device, 0);
    expect(bar0).toMatchObject({ flags: 0xf, capOffset: 32, size: 16n * MiB, offset: 0n });
    expect(Array.from(bar0.caps)).toEqual([3, 0, 1, 0, 0, 0, 0, 0]); // MSIX_MAPPABLE v1, header only
    expect(b.dev.vfioDeviceGetRegionInfo(device, 1)).toMatchObject({ flags: 0, size: 0n, offset: vfioRegionOffset(1) });
    expect(b.dev.vfioDeviceGetRegionInfo(device, 2)).toMatchObject({
      flags: 7,
      size: 8n << 30n,
      offset: 0x20000000000n,
    });
    expect(b.dev.vfioDeviceGetRegionInfo(device, 6)).toMatchObject({ flags: 0, size: 0n });
    expect(b.dev.vfioDeviceGetRegionInfo(device, 7)).toMatchObject({ flags: 3, size: 4096n, offset: 0x70000000000n });
    expectErrno(() => b.dev.vfioDeviceGetRegionInfo(device, 8), 'EINVAL');
    expectErrno(() => b.dev.vfioDeviceGetRegionInfo(device, 9), 'EINVAL');
  });

  it('pread/pwrite of BAR2 reach the VF LMEM; config space shows the VF ids; bounds are EINVAL', () => {
    const b = setup();
    const { device } = openVfio(b);
    const bar2 = vfioRegionOffset(2);
    expect(b.dev.vfioRegionWrite(device, bar2 + 4096n, Uint8Array.from([1, 2, 3]))).toBe(3);
    expect(b.dev.vfioRegionRead(device, bar2 + 4096n, 3)).toEqual(Uint8Array.from([1, 2, 3]));
    const cfg = b.dev.vfioRegionRead(device, vfioRegionOffset(7), 4);
    expect(cfg).toEqual(Uint8Array.from([0x86, 0x80, 0x0b, 0xe2]));
    expectErrno(() => b.dev.vfioRegionRead(device, bar2 + (8n << 30n), 4), 'EINVAL');
    expectErrno(() => b.dev.vfioRegionRead(device, vfioRegionOffset(1), 4), 'EINVAL');
    expectErrno(() => b.dev.vfioRegionRead(device, vfioRegionOffset(9), 4), 'EINVAL');
    const e = expectErrno(() => b.dev.vfioRegionRead(device, vfioRegionOffset(6), 4), 'EINVAL');
    expect(e.syscall).toBe('pread');
  });

  it('mmap covers BARs only, within the BAR; a mapping keeps the device open after close', () => {
    const b = setup();
    const v = openVfio(b);
    expectErrno(() => b.dev.mmap(v.device, vfioRegionOffset(7), 4096, 3), 'EINVAL');
    expectErrno(() => b.dev.mmap(v.device, vfioRegionOffset(1), 4096, 3), 'EINVAL');
    expectErrno(() => b.dev.mmap(v.device, vfioRegionOffset(2) + (8n << 30n) - 4096n, 8192, 3), 'EINVAL');
    expectErrno(() => b.dev.mmap(v.device, vfioRegionOffset(2) + 17n, 4096, 3), 'EINVAL');
    const m = b.dev.mmap(v.device, vfioRegionOffset(2) + (1n << 20n), 1 << 20, 3);
    m.fill(0, 1 << 20, 42n, 1n << 20n);
    expect(m.verify(0, 1 << 20, 42n, 1n << 20n)).toBeNull();
    expect(b.dev.vfioRegionRead(v.device, vfioRegionOffset(2) + (1n << 20n), 8)).toEqual(m.read(0, 8));
    b.dev.close(v.device);
    expect(b.kernel.live().vfioDevicesOpen).toBe(1);
    m.unmap();
    expect(b.kernel.live().vfioDevicesOpen).toBe(0);
    expect(() => m.read(0, 8)).toThrow();
  });

  it('a closed fd is EBADF; a vfio ioctl on another file is ENOTTY; unknown features are ENOTTY', () => {
    const b = setup();
    const v = openVfio(b);
    expectErrno(() => b.dev.vfioDeviceGetInfo(12345), 'EBADF');
    expectErrno(() => b.dev.vfioDeviceGetInfo(v.group), 'ENOTTY');
    expectErrno(() => b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_GET | 99), 'ENOTTY');
    expectErrno(() => b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_MIGRATION), 'ENOTTY');
    expectErrno(
      () => b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_PCI_VF_TOKEN, new Uint8Array(16)),
      'ENOTTY',
    );
    expectErrno(
      () => b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF, undefined, 4),
      'EINVAL',
    );
    expectErrno(() => b.dev.vfioDeviceFeature(v.device, (1 << 20) | VFIO.FEATURE_DMA_BUF), 'EINVAL');
    expectErrno(
      () => b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_DMA_BUF),
      'EINVAL',
    );
    expect(
      b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF),
    ).toBe(0);
    expectErrno(
      () =>
        b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_DMA_BUF),
      'EINVAL',
    );
    expect(
      b.dev.vfioDeviceFeature(
        v.device,
        VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY,
      ),
    ).toBe(0);
  });
});

describe('revoke', () => {
  it('VFIO_DEVICE_RESET revokes, waits for the importer to unmap, then un-revokes (a pending promise meanwhile)', async () => {
    const b = setup();
    const v = openVfio(b);
    const fd = exportBar2(b, v.device);
    const imp = deferringImporter(b, fd);
    let done = false;
    const reset = b.dev.vfioDeviceReset(v.device).then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    expect(imp.invalidations).toHaveLength(1);
    expect(b.kernel.live().pendingWaits).toBe(1);
    // while revoked a new map fails ENODEV (docs/kernel.md §3.4)
    expect(() => imp.core.mapAttachment(imp.att)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    imp.unmap();
    await reset;
    expect(imp.invalidations).toHaveLength(2); // the un-revoke invalidates once more
    imp.core.mapAttachment(imp.att); // usable again
  });

  it('closing the device with a map outstanding logs a hung task, completes at unmap, and revokes for good', () => {
    const b = setup();
    const v = openVfio(b);
    const fd = exportBar2(b, v.device);
    const imp = deferringImporter(b, fd);
    b.dev.close(v.device);
    expect(kmsg(b)).toContain(`INFO: task node:${b.kernel.platform.kernel.pid} blocked for more than 122 seconds.`);
    expect(kmsg(b)).toContain('vfio_pci_dma_buf_cleanup');
    expect(b.kernel.live().vfioDevicesOpen).toBe(1);
    imp.unmap();
    expect(b.kernel.live().vfioDevicesOpen).toBe(0);
    // the dma-buf fd stays valid but attach and map are ENODEV
    expect(() => imp.core.mapAttachment(imp.att)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    const k = b.kernel.platform;
    expect(() =>
      k.dmabuf.attach(k.dmabuf.get(fd), PF, k.pci.device(PF)!, {
        allowPeer2peer: true,
        invalidateMappings: () => undefined,
      }),
    ).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    expect(b.fs.readText(`/proc/self/fdinfo/${fd}`)).toContain('exp_name:\tvfio_pci_core');
  });

  it('clearing PCI_COMMAND.MEMORY on a VF only invalidates and un-revokes at once (docs/kernel.md §11.5)', () => {
    const b = setup();
    const v = openVfio(b);
    const fd = exportBar2(b, v.device);
    const k = b.kernel.platform;
    const seen: number[] = [];
    const att = k.dmabuf.attach(k.dmabuf.get(fd), PF, k.pci.device(PF)!, {
      allowPeer2peer: true,
      invalidateMappings: (a) => seen.push(a === att ? 1 : 0),
    });
    b.dev.vfioRegionWrite(v.device, vfioRegionOffset(7) + 4n, Uint8Array.from([0x04, 0x00]));
    expect(seen).toEqual([1, 1]);
    k.dmabuf.mapAttachment(att); // not revoked
  });

  it('LOW_POWER_ENTRY revokes until LOW_POWER_EXIT; a region read resumes the device; WITH_WAKEUP needs an eventfd', async () => {
    const b = setup();
    const v = openVfio(b);
    const fd = exportBar2(b, v.device);
    const k = b.kernel.platform;
    const att = k.dmabuf.attach(k.dmabuf.get(fd), PF, k.pci.device(PF)!, {
      allowPeer2peer: true,
      invalidateMappings: () => undefined,
    });
    const SET = VFIO.DEVICE_FEATURE_SET;
    expect(b.dev.vfioDeviceFeature(v.device, SET | VFIO.FEATURE_LOW_POWER_ENTRY)).toBe(0);
    expectErrno(() => b.dev.vfioDeviceFeature(v.device, SET | VFIO.FEATURE_LOW_POWER_ENTRY), 'EINVAL');
    expect(() => k.dmabuf.mapAttachment(att)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    // vfio_pci_rw runtime-resumes the device before the access (pm_runtime_resume_and_get).
    b.dev.vfioRegionRead(v.device, vfioRegionOffset(2), 4);
    expect(b.dev.vfioDeviceFeature(v.device, SET | VFIO.FEATURE_LOW_POWER_EXIT)).toBe(0);
    k.dmabuf.mapAttachment(att);
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setInt32(0, 777, true);
    expectErrno(
      () => b.dev.vfioDeviceFeature(v.device, SET | VFIO.FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, payload),
      'EBADF',
    );
    new DataView(payload.buffer).setInt32(0, fd, true);
    expectErrno(
      () => b.dev.vfioDeviceFeature(v.device, SET | VFIO.FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, payload),
      'EINVAL',
    );
    await expectReject(b.dev.vfioDeviceReset(99), 'EBADF');
  });

  it('unbinding a VF whose device is open waits for the close (vfio_unregister_group_dev)', () => {
    const b = setup();
    const v = openVfio(b);
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', VF0);
    expect(kmsg(b)).toContain('Device is currently in use');
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF0}/driver`)).toMatch(/vfio-pci$/);
    closeVfio(b, v);
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}/driver`)).toBe(false);
  });

  it('disabling VFs while a VF device is open completes when it is closed', () => {
    const b = setup();
    const v = openVfio(b);
    b.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_numvfs`, '0');
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}`)).toBe(true);
    expectErrno(() => b.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_numvfs`, '1'), 'EBUSY');
    closeVfio(b, v);
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}`)).toBe(false);
    expect(b.fs.readText(`/sys/bus/pci/devices/${PF}/sriov_numvfs`)).toBe('0\n');
  });
});

describe('range checks: the Number fast path agrees with the BigInt reference', () => {
  it('same errno, phys and length for random requests', async () => {
    const fc = (await import('fast-check')).default;
    const { checkRanges, checkRangesBig, inclusiveRanges } = await import('../../src/mock/vfio.js');
    const outcome = (fn: () => { phys: BigUint64Array; length: bigint }) => {
      try {
        const r = fn();
        return { phys: Array.from(r.phys), length: r.length };
      } catch (e) {
        return { errno: (e as { errno: number }).errno };
      }
    };
    const value = fc.oneof(
      fc.constantFrom(0n, 4096n, 100n, 1n << 20n, 8n << 30n),
      fc.bigInt({ min: 0n, max: 1n << 36n }).map((v) => v & ~0xfffn),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 20 }), fc.boolean(), (pairs, io) => {
        const ranges = BigUint64Array.from(pairs.flat());
        const start = 0x4400000000n;
        const size = 8n << 30n;
        const fast = outcome(() => checkRanges(ranges, pairs.length, start, size, io, 2));
        const big = outcome(() => checkRangesBig(ranges, pairs.length, start, size, io, 2));
        expect(fast).toEqual(big);
        if ('phys' in big && big.phys) {
          const phys = big.phys;
          const inc = inclusiveRanges(BigUint64Array.from(phys));
          for (let i = 0; i < pairs.length; i++) expect(inc[2 * i + 1]).toBe(phys[2 * i]! + phys[2 * i + 1]! - 1n);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('the vfio-dev class', () => {
  it('exists from boot, before any device cdev is added (vfio_main.c vfio_init: class_create)', () => {
    const b = mock();
    expect(b.fs.readdir('/sys/class/vfio-dev')).toEqual([]);
  });
});
