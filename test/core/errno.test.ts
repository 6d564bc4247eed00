// Every device call, made for real on /dev/null and on a memfd (neither is a
// VFIO, DRM or dma-buf file), must come back with the kernel's errno in
// Node's shape, the ioctl's name and the path of the fd. This is the native
// half of "errors look the same on both backends".
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { createNativeBackend } from '../../src/backend/native.js';
import type { Backend, DeviceOps } from '../../src/backend/types.js';
import { expectingErrno, SystemError } from '../../src/uapi/errors.js';
import { F_SEAL, MFD, O, VFIO } from '../../src/uapi/constants.js';
import { IOVH_IC } from '../../src/uapi/iovh-ic.js';
import { itNative } from './support.js';

let backend: Backend;
beforeEach(() => {
  backend = createNativeBackend({ reason: 'test' });
});
afterEach(() => backend.close());

type Call = [request: string, call: (dev: DeviceOps, fd: number) => unknown];

// One entry per ioctl DeviceOps can make on an fd.
const ioctls: Call[] = [
  ['VFIO_GET_API_VERSION', (d, fd) => d.vfioGetApiVersion(fd)],
  ['VFIO_CHECK_EXTENSION', (d, fd) => d.vfioCheckExtension(fd, VFIO.TYPE1v2_IOMMU)],
  ['VFIO_SET_IOMMU', (d, fd) => d.vfioSetIommu(fd, VFIO.TYPE1v2_IOMMU)],
  ['VFIO_GROUP_GET_STATUS', (d, fd) => d.vfioGroupGetStatus(fd)],
  ['VFIO_GROUP_SET_CONTAINER', (d, fd) => d.vfioGroupSetContainer(fd, fd)],
  ['VFIO_GROUP_UNSET_CONTAINER', (d, fd) => d.vfioGroupUnsetContainer(fd)],
  ['VFIO_GROUP_GET_DEVICE_FD', (d, fd) => d.vfioGroupGetDeviceFd(fd, '0000:03:00.1')],
  ['VFIO_DEVICE_GET_INFO', (d, fd) => d.vfioDeviceGetInfo(fd)],
  ['VFIO_DEVICE_GET_REGION_INFO', (d, fd) => d.vfioDeviceGetRegionInfo(fd, VFIO.PCI_BAR2_REGION_INDEX)],
  [
    'VFIO_DEVICE_FEATURE',
    (d, fd) => d.vfioDeviceFeature(fd, VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF),
  ],
  [
    'VFIO_DEVICE_FEATURE',
    (d, fd) =>
      d.vfioDmaBufGet(fd, { regionIndex: 2, openFlags: O.RDWR, ranges: new BigUint64Array([0n, 4096n, 8192n, 4096n]) }),
  ],
  // nr_ranges beyond the ranges given: the request ends at a guard page, and still reaches the kernel.
  [
    'VFIO_DEVICE_FEATURE',
    (d, fd) =>
      d.vfioDmaBufGet(fd, {
        regionIndex: 2,
        openFlags: O.RDWR,
        ranges: new BigUint64Array([0n, 4096n]),
        nrRanges: 1000,
      }),
  ],
  ['VFIO_DEVICE_BIND_IOMMUFD', (d, fd) => d.vfioDeviceBindIommufd(fd, fd)],
  ['VFIO_DEVICE_BIND_IOMMUFD', (d, fd) => d.vfioDeviceBindIommufd(fd, fd, 1, new Uint8Array(16))],
  ['IOMMU_IOAS_ALLOC', (d, fd) => d.iommuIoasAlloc(fd)],
  ['IOMMU_DESTROY', (d, fd) => d.iommuDestroy(fd, 1)],
  ['IOMMU_IOAS_IOVA_RANGES', (d, fd) => d.iommuIoasIovaRanges(fd, 1)],
  [
    'IOMMU_IOAS_MAP_FILE',
    (d, fd) => d.iommuIoasMapFile(fd, { ioasId: 1, flags: 6, fd, start: 0n, length: 4096n, iova: 0n }),
  ],
  ['IOMMU_IOAS_UNMAP', (d, fd) => d.iommuIoasUnmap(fd, 1, 0n, (1n << 64n) - 1n)],
  ['VFIO_DEVICE_ATTACH_IOMMUFD_PT', (d, fd) => d.vfioDeviceAttachIommufdPt(fd, 1)],
  ['VFIO_DEVICE_DETACH_IOMMUFD_PT', (d, fd) => d.vfioDeviceDetachIommufdPt(fd)],
  ['DRM_IOCTL_VERSION', (d, fd) => d.drmVersion(fd)],
  ['DRM_IOCTL_GET_CAP', (d, fd) => d.drmGetCap(fd, 5n)],
  ['DRM_IOCTL_PRIME_FD_TO_HANDLE', (d, fd) => d.drmPrimeFdToHandle(fd, fd)],
  ['DRM_IOCTL_PRIME_HANDLE_TO_FD', (d, fd) => d.drmPrimeHandleToFd(fd, 1, O.CLOEXEC | O.RDWR)],
  ['DRM_IOCTL_GEM_CLOSE', (d, fd) => d.drmGemClose(fd, 1)],
  ['DRM_IOCTL_SYNCOBJ_CREATE', (d, fd) => d.drmSyncobjCreate(fd, 0)],
  ['DRM_IOCTL_SYNCOBJ_DESTROY', (d, fd) => d.drmSyncobjDestroy(fd, 1)],
  ['DRM_IOCTL_XE_DEVICE_QUERY', (d, fd) => d.xeDeviceQuerySize(fd, 0)],
  ['DRM_IOCTL_XE_DEVICE_QUERY', (d, fd) => d.xeDeviceQuery(fd, 1, 64)],
  ['DRM_IOCTL_XE_GEM_CREATE', (d, fd) => d.xeGemCreate(fd, { size: 4096n, placement: 1 })],
  ['DRM_IOCTL_XE_GEM_MMAP_OFFSET', (d, fd) => d.xeGemMmapOffset(fd, 1)],
  ['DRM_IOCTL_XE_VM_CREATE', (d, fd) => d.xeVmCreate(fd, 0)],
  ['DRM_IOCTL_XE_VM_DESTROY', (d, fd) => d.xeVmDestroy(fd, 1)],
  [
    'DRM_IOCTL_XE_VM_BIND',
    (d, fd) =>
      d.xeVmBind(fd, {
        vmId: 1,
        binds: [
          { obj: 1, patIndex: 2, objOffset: 0n, range: 4096n, addr: 0x100000n, op: 0 },
          { obj: 2, patIndex: 2, objOffset: 0n, range: 4096n, addr: 0x200000n, op: 0 },
        ],
        syncs: [
          { type: 0, flags: 1, handle: 3 },
          { type: 2, flags: 1, addr: 0x300000n, timelineValue: 1n },
        ],
      }),
  ],
  [
    'DRM_IOCTL_XE_EXEC_QUEUE_CREATE',
    (d, fd) =>
      d.xeExecQueueCreate(fd, { vmId: 1, width: 1, instances: [{ engineClass: 1, engineInstance: 0, gtId: 0 }] }),
  ],
  ['DRM_IOCTL_XE_EXEC_QUEUE_DESTROY', (d, fd) => d.xeExecQueueDestroy(fd, 1)],
  [
    'DRM_IOCTL_XE_EXEC',
    (d, fd) => d.xeExec(fd, { execQueueId: 1, address: 0x1000n, syncs: [{ type: 0, flags: 1, handle: 1 }] }),
  ],
  ['DMA_BUF_SET_NAME_B', (d, fd) => d.dmaBufSetName(fd, 'iovh')],
  ['DMA_BUF_IOCTL_SYNC', (d, fd) => d.dmaBufSync(fd, 0n)],
  ['UDMABUF_CREATE', (d, fd) => d.udmabufCreate(fd, { memfd: fd, offset: 0n, size: 4096n })],
  ['IOVH_IC_VERSION', (d, fd) => d.icVersion(fd)],
  [
    'IOVH_IC_IMPORT',
    (d, fd) => d.icImport(fd, { dmabufFd: fd, flags: IOVH_IC.IMPORT_XE, segment: 0, bus: 3, devfn: 1, bar: 2 }),
  ],
  ['IOVH_IC_MAP', (d, fd) => d.icMap(fd, 1)],
  ['IOVH_IC_INFO', (d, fd) => d.icInfo(fd, 1, 64)],
  ['IOVH_IC_RW', (d, fd) => d.icRead(fd, 1, 0n, 4096)],
  ['IOVH_IC_RW', (d, fd) => d.icWrite(fd, 1, 0n, new Uint8Array(4096))],
  ['IOVH_IC_RELEASE', (d, fd) => d.icRelease(fd, 1)],
  // Sizes are the module's to refuse (main.c iovh_ic_rw: EINVAL for 0 or more than
  // IOVH_IC_RW_MAX; iovh_ic_info copies at most IOVH_IC_INFO_MAX): they reach it.
  ['IOVH_IC_RW', (d, fd) => d.icRead(fd, 1, 0n, IOVH_IC.RW_MAX + 1)],
  ['IOVH_IC_RW', (d, fd) => d.icWrite(fd, 1, 0n, new Uint8Array(IOVH_IC.RW_MAX + 1))],
  ['IOVH_IC_RW', (d, fd) => d.icRead(fd, 1, 0n, 0)],
  ['IOVH_IC_INFO', (d, fd) => d.icInfo(fd, 1, IOVH_IC.INFO_MAX + 1)],
];

function caught(f: () => unknown): SystemError {
  try {
    f();
  } catch (e) {
    if (e instanceof SystemError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe.each([
  ['/dev/null', (b: Backend) => b.dev.open('/dev/null', O.RDWR | O.CLOEXEC)],
  ['memfd:iovh-errno', (b: Backend) => b.dev.memfdCreate('iovh-errno', MFD.CLOEXEC)],
])('ioctls on %s', (path, open) => {
  for (const [request, call] of ioctls) {
    itNative(`${request} is ENOTTY with the request name and path`, () => {
      const fd = open(backend);
      const e = caught(() => call(backend.dev, fd));
      expect(e).toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'ioctl', request, path });
      expect(e.message).toBe(`ENOTTY: Inappropriate ioctl for device, ioctl ${request} '${path}'`);
    });
  }
});

describe('blocking calls reject off the JS thread with the same shape', () => {
  const waits: Array<[string, (d: DeviceOps, fd: number) => Promise<unknown>]> = [
    ['VFIO_DEVICE_RESET', (d, fd) => d.vfioDeviceReset(fd)],
    ['DRM_IOCTL_SYNCOBJ_WAIT', (d, fd) => d.drmSyncobjWait(fd, [1, 2], 0n, 0)],
    [
      'DRM_IOCTL_XE_WAIT_USER_FENCE',
      (d, fd) =>
        d.xeWaitUserFence(fd, { addr: 0x1000n, op: 0, value: 1n, mask: ~0n & 0xffffffffffffffffn, timeout: 0n }),
    ],
  ];
  for (const [request, call] of waits) {
    itNative(`${request} rejects with ENOTTY, the path and the caller's stack`, async () => {
      const fd = backend.dev.open('/dev/null', O.RDWR);
      const err = await call(backend.dev, fd).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SystemError);
      expect(err).toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'ioctl', request, path: '/dev/null' });
      expect((err as Error).stack).toContain('errno.test.ts');
    });
  }
});

describe('other syscalls', () => {
  itNative('open of a missing node is ENOENT with the path', () => {
    const e = caught(() => backend.dev.open('/dev/iovh-does-not-exist', O.RDWR));
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/dev/iovh-does-not-exist' });
  });

  itNative('a closed fd is EBADF', () => {
    const fd = backend.dev.open('/dev/null', O.RDWR);
    backend.dev.close(fd);
    expect(caught(() => backend.dev.vfioDeviceGetInfo(fd))).toMatchObject({ code: 'EBADF', errno: -9 });
    expect(caught(() => backend.dev.close(fd))).toMatchObject({ code: 'EBADF', syscall: 'close' });
  });

  itNative(
    "stand-in buffers larger than any the addon allocates are a RangeError, not V8's fatal out-of-memory",
    () => {
      const fd = backend.dev.open('/dev/null', O.RDWR);
      // kMaxTransfer (core/binding.cc), as for pread; 2^40 bytes used to end the process
      expect(() => backend.dev.icRead(fd, 1, 0n, 2 ** 40)).toThrow(
        /iovhIcRead: argument 4 exceeds the 1 GiB read limit/,
      );
      // IOVH_IC_INFO's room likewise (16 bytes a range): 2^32 - 1 ranges would be 64 GiB, zeroed
      expect(() => backend.dev.icInfo(fd, 1, 2 ** 32 - 1)).toThrow(
        /iovhIcInfo: argument 3 needs more than the 1 GiB buffer limit/,
      );
    },
  );

  itNative('mmap of /dev/null is ENODEV (it has no mmap)', () => {
    const fd = backend.dev.open('/dev/null', O.RDWR);
    expect(caught(() => backend.dev.mmap(fd, 0n, 4096, 3))).toMatchObject({
      code: 'ENODEV',
      syscall: 'mmap',
      path: '/dev/null',
    });
  });

  itNative('region read and write go through pread/pwrite at the given offset', () => {
    const fd = backend.dev.memfdCreate('iovh-region', MFD.CLOEXEC);
    backend.dev.ftruncate(fd, 8192n);
    expect(backend.dev.vfioRegionWrite(fd, 4096n, new Uint8Array([1, 2, 3]))).toBe(3);
    expect([...backend.dev.vfioRegionRead(fd, 4095n, 5)]).toEqual([0, 1, 2, 3, 0]);
    // Reading at the end gives fewer bytes, as pread does.
    expect(backend.dev.vfioRegionRead(fd, 8190n, 16).length).toBe(2);
    // u64 offsets reach the kernel unchanged: one with bit 63 set is a negative off_t.
    expect(caught(() => backend.dev.vfioRegionWrite(fd, 1n << 63n, new Uint8Array(8)))).toMatchObject({
      code: 'EINVAL',
      syscall: 'pwrite',
    });
    expect(caught(() => backend.dev.vfioRegionRead(fd, 1n << 63n, 8))).toMatchObject({
      code: 'EINVAL',
      syscall: 'pread',
    });
  });

  itNative("a DMA_BUF request with 262,144 ranges (the kernel's kmalloc cap) reaches the kernel", () => {
    const fd = backend.dev.open('/dev/null', O.RDWR);
    const ranges = new BigUint64Array(2 * 262_144);
    for (let i = 0; i < 262_144; i++) {
      ranges[2 * i] = BigInt(i) * 4096n;
      ranges[2 * i + 1] = 4096n;
    }
    expect(caught(() => backend.dev.vfioDmaBufGet(fd, { regionIndex: 2, openFlags: O.RDWR, ranges }))).toMatchObject({
      code: 'ENOTTY',
    });
    expect(
      caught(() => backend.dev.vfioDmaBufGet(fd, { regionIndex: 2, openFlags: O.RDWR, ranges, nrRanges: 300_000 })),
    ).toMatchObject({ code: 'ENOTTY' });
  });

  itNative('a sealed memfd refuses to shrink (EPERM from ftruncate)', () => {
    const fd = backend.dev.memfdCreate('iovh-seal', MFD.CLOEXEC | MFD.ALLOW_SEALING);
    backend.dev.ftruncate(fd, 65536n);
    backend.dev.addSeals(fd, F_SEAL.SHRINK);
    expect(caught(() => backend.dev.ftruncate(fd, 4096n))).toMatchObject({
      code: 'EPERM',
      syscall: 'ftruncate',
      path: 'memfd:iovh-seal',
    });
    backend.dev.ftruncate(fd, 131072n);
  });

  itNative('sealing a memfd created without ALLOW_SEALING is EPERM', () => {
    const fd = backend.dev.memfdCreate('iovh-noseal', MFD.CLOEXEC);
    expect(caught(() => backend.dev.addSeals(fd, F_SEAL.SHRINK))).toMatchObject({ code: 'EPERM', syscall: 'fcntl' });
  });
});

describe('expected failures (expectingErrno)', () => {
  itNative('are the same SystemError, without the stack trace, and only inside the scope', () => {
    const fd = backend.dev.open('/dev/null', O.RDWR | O.CLOEXEC);
    const inside = caught(() => expectingErrno(() => backend.dev.vfioGetApiVersion(fd)));
    const outside = caught(() => backend.dev.vfioGetApiVersion(fd));
    for (const e of [inside, outside]) {
      expect(e).toMatchObject({ code: 'ENOTTY', errno: -25, syscall: 'ioctl', request: 'VFIO_GET_API_VERSION' });
      expect(e.message).toBe("ENOTTY: Inappropriate ioctl for device, ioctl VFIO_GET_API_VERSION '/dev/null'");
    }
    expect(inside.stack).toBe(`SystemError: ${inside.message}`);
    expect(outside.stack).toContain('errno.test.ts');
    // The scope ends with the call, also when it throws.
    expect(caught(() => backend.dev.vfioGetApiVersion(fd)).stack).toContain('errno.test.ts');
  });

  itNative('return what the call returns when it succeeds', () => {
    const fd = backend.dev.memfdCreate('iovh-expect', MFD.CLOEXEC | MFD.ALLOW_SEALING);
    expect(expectingErrno(() => backend.dev.addSeals(fd, 0))).toBeUndefined();
    expect(expectingErrno(() => backend.dev.vfioRegionWrite(fd, 0n, new Uint8Array(3)))).toBe(3);
  });
});
