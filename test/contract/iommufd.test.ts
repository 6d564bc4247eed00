// iommufd as a dma-buf importer, one contract for both backends (docs/iommufd.md):
// what IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_UNMAP, IOMMU_IOAS_IOVA_RANGES and
// IOMMU_DESTROY answer for a VFIO dma-buf must be the same on the mock
// (`upstream` profile, a kernel built with IOMMUFD and VFIO_DEVICE_CDEV) and on
// a real kernel. On native the cases need IOVH_VF (a VF on vfio-pci) and a
// kernel with /dev/iommu; without them they skip and say which is missing.
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, Fd } from '../../src/backend/types.js';
import type { SystemError } from '../../src/uapi/errors.js';
import { IOMMU, O, PROT, VFIO } from '../../src/uapi/constants.js';
import { parseBufinfo } from '../../src/uapi/bufinfo.js';
import { parseDmaBufFdinfo } from '../../src/uapi/fdinfo.js';
import { createMockBackend } from '../../src/mock/backend.js';
import { mockTarget, NATIVE_SKIP, nativeTarget, type Target } from './targets.js';

const RW = IOMMU.IOAS_MAP_READABLE | IOMMU.IOAS_MAP_WRITEABLE;
const FIXED = IOMMU.IOAS_MAP_FIXED_IOVA;
const U64_MAX = (1n << 64n) - 1n;

function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    const err = e as SystemError;
    if (typeof err.code !== 'string') throw e;
    return err.code;
  }
  return 'OK';
}

async function errnoOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    const err = e as SystemError;
    if (typeof err.code !== 'string') throw e;
    return err.code;
  }
  return 'OK';
}

function suite(t: Target, openKernel: () => Backend): void {
  const opened: Backend[] = [];
  const open = (): Backend => {
    const b = openKernel();
    opened.push(b);
    t.prepare(b);
    return b;
  };
  afterEach(() => {
    for (const b of opened.splice(0)) b.close();
  });
  const vf = t.vf ?? '';

  /** The VF through the legacy group path: container, group, device (docs/kernel.md §4). */
  function groupDevice(b: Backend): { dev: Fd; group: Fd; container: Fd } {
    const n = Number(b.fs.readlink(`/sys/bus/pci/devices/${vf}/iommu_group`).split('/').pop());
    const container = b.dev.open('/dev/vfio/vfio', O.RDWR | O.CLOEXEC);
    const group = b.dev.open(`/dev/vfio/${n}`, O.RDWR | O.CLOEXEC);
    b.dev.vfioGroupSetContainer(group, container);
    b.dev.vfioSetIommu(container, VFIO.TYPE1v2_IOMMU);
    return { dev: b.dev.vfioGroupGetDeviceFd(group, vf), group, container };
  }

  /** The first mmap-able memory BAR of at least 8 KiB. */
  function bar(b: Backend, dev: Fd): number {
    for (let i = 0; i < 6; i++) {
      const info = b.dev.vfioDeviceGetRegionInfo(dev, i);
      if (info.size >= 8192n && info.flags & VFIO.REGION_INFO_FLAG_MMAP) return i;
    }
    throw new Error(`${vf} has no mappable BAR of 8 KiB or more`);
  }

  function exportPages(b: Backend, dev: Fd, region: number, pages: number[]): Fd {
    const ranges = BigUint64Array.from(pages.flatMap((p) => [BigInt(p) * 4096n, 4096n]));
    return b.dev.vfioDmaBufGet(dev, { regionIndex: region, openFlags: O.RDWR | O.CLOEXEC, ranges });
  }

  const map = (b: Backend, iommufd: Fd, ioasId: number, fd: Fd, length = 4096n, iova?: bigint, flags = RW) =>
    b.dev.iommuIoasMapFile(iommufd, {
      ioasId,
      flags: iova === undefined ? flags : flags | FIXED,
      fd,
      start: 0n,
      length,
      iova: iova ?? 0n,
    });

  const attachedTo = (b: Backend, fd: Fd): string[] => {
    const ino = parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${fd}`)).ino;
    const o = parseBufinfo(b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo')).objects.find((x) => x.ino === ino);
    return o?.attached ?? [];
  };

  it('a single-range VFIO dma-buf maps (automatic and fixed IOVA) through the legacy group path', () => {
    const b = open();
    const { dev } = groupDevice(b);
    const region = bar(b, dev);
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    // A fresh IOAS with no device attached: all of IOVA space, any alignment (iopt_init_table).
    expect(b.dev.iommuIoasIovaRanges(iommufd, ioas)).toEqual({ ranges: [{ start: 0n, last: U64_MAX }], alignment: 1n });
    const buf = exportPages(b, dev, region, [0]);
    const before = parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${buf}`)).count;
    // iopt_alloc_iova: the first hole above PAGE_SIZE.
    expect(map(b, iommufd, ioas, buf)).toBe(0x1000n);
    expect(map(b, iommufd, ioas, buf, 4096n, 0x40000000n)).toBe(0x40000000n);
    // Each mapping holds the dma-buf's file (dma_buf_get; put at unmap), and iommufd attached with its own device.
    expect(parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${buf}`)).count).toBe(before + 2);
    expect(attachedTo(b, buf)).toEqual(['iommu', 'iommu']);
    // Fixed IOVA over a mapping: EEXIST; unmapping part of one: ENOENT; all of it: its length.
    expect(errnoOf(() => map(b, iommufd, ioas, buf, 4096n, 0x40000000n))).toBe('EEXIST');
    expect(b.dev.iommuIoasUnmap(iommufd, ioas, 0x40000000n, 4096n)).toBe(4096n);
    expect(errnoOf(() => b.dev.iommuIoasUnmap(iommufd, ioas, 0x40000000n, 4096n))).toBe('ENOENT');
    expect(b.dev.iommuIoasUnmap(iommufd, ioas, 0n, U64_MAX)).toBe(4096n);
    expect(b.dev.iommuIoasUnmap(iommufd, ioas, 0n, U64_MAX)).toBe(0n); // unmap all of nothing
    expect(parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${buf}`)).count).toBe(before);
    expect(attachedTo(b, buf)).toEqual([]);
    b.dev.iommuDestroy(iommufd, ioas);
    expect(errnoOf(() => b.dev.iommuIoasIovaRanges(iommufd, ioas))).toBe('ENOENT');
    b.dev.close(buf);
    b.dev.close(iommufd);
  });

  it('MAP_FILE refuses, in the kernel order: flags, sizes, the IOAS, the file, then the exporter', () => {
    const b = open();
    const { dev } = groupDevice(b);
    const region = bar(b, dev);
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    const one = exportPages(b, dev, region, [0]);
    const two = exportPages(b, dev, region, [0, 1]);
    const req = (o: Partial<Parameters<Backend['dev']['iommuIoasMapFile']>[1]>) =>
      errnoOf(() =>
        b.dev.iommuIoasMapFile(iommufd, { ioasId: ioas, flags: RW, fd: one, start: 0n, length: 4096n, iova: 0n, ...o }),
      );
    expect(req({ flags: RW | 8 })).toBe('EOPNOTSUPP'); // unknown flag
    expect(req({ length: U64_MAX })).toBe('EOVERFLOW');
    expect(req({ flags: 0 })).toBe('EINVAL'); // neither readable nor writeable
    expect(req({ ioasId: ioas + 1000 })).toBe('ENOENT');
    expect(req({ length: 0n })).toBe('EINVAL');
    expect(req({ start: U64_MAX - 10n, length: 4096n })).toBe('EOVERFLOW');
    expect(req({ fd: 1023 })).toBe('EBADF');
    expect(req({ length: 8192n })).toBe('EINVAL'); // beyond the one-page dma-buf
    expect(req({ start: 4096n })).toBe('EINVAL');
    // The private interconnect takes one physical range only (vfio_pci_dma_buf_iommufd_map).
    expect(req({ fd: two })).toBe('EOPNOTSUPP');
    expect(req({ fd: two, length: 8192n })).toBe('EOPNOTSUPP');
    expect(errnoOf(() => b.dev.iommuIoasAlloc(iommufd, 1))).toBe('EOPNOTSUPP');
    expect(errnoOf(() => b.dev.iommuDestroy(iommufd, ioas + 1000))).toBe('ENOENT');
    // Nothing was left attached by the refusals.
    expect(attachedTo(b, one)).toEqual([]);
    expect(attachedTo(b, two)).toEqual([]);
    for (const fd of [one, two, iommufd]) b.dev.close(fd);
  });

  it('a memfd maps too (the file path); mmap of the dma-buf stays refused', () => {
    const b = open();
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    const memfd = b.dev.memfdCreate('iovh-contract', 1);
    b.dev.ftruncate(memfd, 8192n);
    // iopt_alloc_iova aligns to the length's power of two, capped at a huge page with
    // CONFIG_TRANSPARENT_HUGEPAGE and at a page without: 0x2000 or 0x1000.
    expect([0x1000n, 0x2000n]).toContain(map(b, iommufd, ioas, memfd, 8192n));
    const { dev } = groupDevice(b);
    const buf = exportPages(b, dev, bar(b, dev), [0]);
    expect(errnoOf(() => b.dev.mmap(buf, 0n, 4096, PROT.READ))).toBe('EINVAL');
    for (const fd of [buf, memfd, iommufd]) b.dev.close(fd);
  });

  it('VFIO_DEVICE_RESET revokes only for its duration; closing the device revokes for good (ENODEV)', async () => {
    const b = open();
    const { dev, group, container } = groupDevice(b);
    const region = bar(b, dev);
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    const old = exportPages(b, dev, region, [0]);
    const first = map(b, iommufd, ioas, old);
    expect(await errnoOfAsync(() => b.dev.vfioDeviceReset(dev))).toBe('OK');
    // vfio_pci_ioctl_reset un-revokes when memory is enabled: the old dma-buf maps again, and a new one.
    const second = map(b, iommufd, ioas, old);
    expect(second).not.toBe(first);
    const fresh = exportPages(b, dev, region, [0]);
    map(b, iommufd, ioas, fresh);
    // The last close of the device: vfio_pci_dma_buf_cleanup revokes for good.
    b.dev.close(dev);
    b.dev.close(group);
    b.dev.close(container);
    expect(errnoOf(() => map(b, iommufd, ioas, old))).toBe('ENODEV');
    expect(errnoOf(() => map(b, iommufd, ioas, fresh))).toBe('ENODEV');
    // The revoked mappings are still areas of the IOAS: unmapping them gives their length back.
    expect(b.dev.iommuIoasUnmap(iommufd, ioas, first, 4096n)).toBe(4096n);
    expect(b.dev.iommuIoasUnmap(iommufd, ioas, 0n, U64_MAX)).toBe(8192n);
    for (const fd of [old, fresh, iommufd]) b.dev.close(fd);
  });

  it('the IOAS keeps the dma-buf alive after its fd is closed; closing /dev/iommu lets it go', () => {
    const b = open();
    const { dev } = groupDevice(b);
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    const buf = exportPages(b, dev, bar(b, dev), [0]);
    b.dev.dmaBufSetName(buf, 'iovh-ioas-held');
    map(b, iommufd, ioas, buf);
    b.dev.close(buf);
    const named = () =>
      parseBufinfo(b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo')).objects.filter(
        (o) => o.name === 'iovh-ioas-held',
      );
    expect(named().map((o) => o.attached)).toEqual([['iommu']]);
    // iommufd_fops_release destroys the IOAS, which unmaps, detaches and puts the dma-buf.
    b.dev.close(iommufd);
    expect(named()).toEqual([]);
  });

  it('the cdev path: EINVAL before BIND_IOMMUFD, then bind, attach, map into the device IOAS', () => {
    const b = open();
    const dir = `/sys/bus/pci/devices/${vf}/vfio-dev`;
    const name = b.fs.readdir(dir).find((n) => /^vfio\d+$/.test(n));
    expect(name).toBeDefined();
    const cdev = b.dev.open(`/dev/vfio/devices/${name}`, O.RDWR | O.CLOEXEC);
    const iommufd = b.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    // Before BIND every other ioctl is EINVAL (vfio_device_fops_unl_ioctl: access not granted).
    expect(errnoOf(() => b.dev.vfioDeviceGetInfo(cdev))).toBe('EINVAL');
    expect(
      errnoOf(() =>
        b.dev.vfioDmaBufGet(cdev, { regionIndex: 0, openFlags: O.RDWR, ranges: BigUint64Array.of(0n, 4096n) }),
      ),
    ).toBe('EINVAL');
    expect(errnoOf(() => b.dev.vfioDeviceBindIommufd(cdev, cdev))).toBe('EBADFD'); // not an iommufd
    const devid = b.dev.vfioDeviceBindIommufd(cdev, iommufd);
    expect(errnoOf(() => b.dev.vfioDeviceBindIommufd(cdev, iommufd))).toBe('EINVAL'); // bound twice
    const ioas = b.dev.iommuIoasAlloc(iommufd);
    expect(ioas).not.toBe(devid);
    const free = b.dev.iommuIoasIovaRanges(iommufd, ioas);
    b.dev.vfioDeviceAttachIommufdPt(cdev, ioas);
    // The attached domain narrows the IOAS: page alignment, and reserved holes (the interrupt window).
    const attached = b.dev.iommuIoasIovaRanges(iommufd, ioas);
    expect(attached.alignment).toBe(4096n);
    expect(attached.ranges.length).toBeGreaterThan(free.ranges.length);
    // The automatic domain holds the IOAS, and VFIO holds the device: neither can be destroyed.
    expect(errnoOf(() => b.dev.iommuDestroy(iommufd, ioas))).toBe('EBUSY');
    expect(errnoOf(() => b.dev.iommuDestroy(iommufd, devid))).toBe('EBUSY');
    // While bound through its cdev the device's group cannot be opened (vfio_group_fops_open).
    const group = Number(b.fs.readlink(`/sys/bus/pci/devices/${vf}/iommu_group`).split('/').pop());
    expect(errnoOf(() => b.dev.open(`/dev/vfio/${group}`, O.RDWR))).toBe('EBUSY');
    const buf = exportPages(b, cdev, bar(b, cdev), [0]);
    const iova = map(b, iommufd, ioas, buf);
    expect(iova % 4096n).toBe(0n);
    expect(attached.ranges.some((r) => r.start <= iova && iova + 4095n <= r.last)).toBe(true);
    b.dev.vfioDeviceDetachIommufdPt(cdev);
    b.dev.close(cdev);
    // Closing the device revoked its dma-buf and unbound it; the IOAS can go now.
    expect(errnoOf(() => map(b, iommufd, ioas, buf))).toBe('ENODEV');
    b.dev.iommuDestroy(iommufd, ioas);
    b.dev.close(buf);
    b.dev.close(iommufd);
  });
}

/** The mock as the kernel this contract is about: 7.2 (`upstream`) built with IOMMUFD and the VFIO cdev. */
const mockKernel = () =>
  createMockBackend({ profile: 'upstream-7.1', kernelConfig: { IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' } });

describe(`iommufd contract: ${mockTarget.name}`, () => suite(mockTarget, mockKernel));

const noIommu = (t: Target): string | null => {
  const b = t.open();
  try {
    return b.fs.exists('/dev/iommu') ? null : 'no /dev/iommu: the kernel is built without CONFIG_IOMMUFD';
  } finally {
    b.close();
  }
};

if (nativeTarget?.vf) {
  const target = nativeTarget;
  const why = noIommu(target);
  if (why)
    describe.skip(`iommufd contract: ${target.name}: skipped, ${why}`, () => it('needs /dev/iommu', () => undefined));
  else describe(`iommufd contract: ${target.name}`, () => suite(target, () => target.open()));
} else {
  describe.skip(`iommufd contract: ${nativeTarget ? 'native: skipped, set IOVH_VF=<VF BDF on vfio-pci>' : NATIVE_SKIP}`, () => {
    it('runs the same cases against the kernel of this machine', () => undefined);
  });
}
