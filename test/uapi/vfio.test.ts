import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Errno, SystemError } from '../../src/uapi/errors.js';
import { O, VFIO } from '../../src/uapi/constants.js';
import {
  RegionCapParseError,
  VfioDevice,
  VfioSetupError,
  isBdf,
  openVfioDevice,
  packRanges,
  parseRegionCaps,
} from '../../src/uapi/vfio.js';
import { FakeBackend, type FakeTree, type Handlers } from './fake-backend.js';

const BDF = '0000:03:00.1';
const DEV = `/sys/devices/pci0000:00/0000:00:01.0/${BDF}`;

function sysfs(
  opts: { group?: number | null; driver?: string | null; node?: string | null; cdev?: boolean } = {},
): FakeTree {
  const group = opts.group === undefined ? 12 : opts.group;
  const driver = opts.driver === undefined ? 'vfio-pci' : opts.driver;
  const files: Record<string, string> = { [`${DEV}/vendor`]: '0x8086\n', '/dev/vfio/vfio': '' };
  const links: Record<string, string> = {
    [`/sys/bus/pci/devices/${BDF}`]: `../../../devices/pci0000:00/0000:00:01.0/${BDF}`,
  };
  if (group !== null) {
    links[`${DEV}/iommu_group`] = `../../../kernel/iommu_groups/${group}`;
    const node = opts.node === undefined ? `/dev/vfio/${group}` : opts.node;
    if (node) files[node] = '';
  }
  if (driver) links[`${DEV}/driver`] = `../../../bus/pci/drivers/${driver}`;
  const dirs = ['/sys/kernel/iommu_groups/12'];
  if (opts.cdev) {
    dirs.push(`${DEV}/vfio-dev/vfio0`);
    files['/dev/vfio/devices/vfio0'] = '';
    files['/dev/iommu'] = '';
  }
  return { files, links, dirs };
}

function legacy(overrides: Handlers = {}): Handlers {
  return {
    vfioGetApiVersion: () => 0,
    vfioCheckExtension: (_fd, ext) => (ext === VFIO.TYPE1v2_IOMMU || ext === VFIO.TYPE1_IOMMU ? 1 : 0),
    vfioGroupGetStatus: () => ({ flags: VFIO.GROUP_FLAGS_VIABLE }),
    vfioGroupSetContainer: () => undefined,
    vfioSetIommu: () => undefined,
    ...overrides,
  };
}

describe('openVfioDevice, group/container path (docs/kernel.md §4)', () => {
  it('walks the documented sequence and closes device, group, container in that order', () => {
    const b: FakeBackend = new FakeBackend(
      legacy({ vfioGroupGetDeviceFd: (_g, bdf) => b.newFd(`device ${bdf}`) }),
      sysfs(),
    );
    const dev = openVfioDevice(b, BDF);
    expect(dev.access).toBe('group');
    expect(b.calls.map((c) => [c.op, ...c.args])).toEqual([
      ['open', '/dev/vfio/vfio', O.RDWR | O.CLOEXEC],
      ['vfioGetApiVersion', 10],
      ['vfioCheckExtension', 10, VFIO.TYPE1v2_IOMMU],
      ['open', '/dev/vfio/12', O.RDWR | O.CLOEXEC],
      ['vfioGroupGetStatus', 11],
      ['vfioGroupSetContainer', 11, 10],
      ['vfioSetIommu', 10, VFIO.TYPE1v2_IOMMU],
      ['vfioGroupGetDeviceFd', 11, BDF],
    ]);
    b.calls.length = 0;
    dev.close();
    dev.close();
    expect(b.calls.map((c) => [c.op, ...c.args])).toEqual([
      ['close', 12],
      ['close', 11],
      ['close', 10],
    ]);
    expect(b.open.size).toBe(0);
  });

  it('falls back to TYPE1 when TYPE1v2 is not offered', () => {
    const b: FakeBackend = new FakeBackend(
      legacy({
        vfioCheckExtension: (_fd, ext) => (ext === VFIO.TYPE1_IOMMU ? 1 : 0),
        vfioGroupGetDeviceFd: () => b.newFd('dev'),
      }),
      sysfs(),
    );
    openVfioDevice(b, BDF).close();
    expect(b.calls.find((c) => c.op === 'vfioSetIommu')?.args[1]).toBe(VFIO.TYPE1_IOMMU);
  });

  it('uses the noiommu group node with VFIO_NOIOMMU_IOMMU', () => {
    const b: FakeBackend = new FakeBackend(
      legacy({
        vfioCheckExtension: (_fd, ext) => (ext === VFIO.NOIOMMU_IOMMU ? 1 : 0),
        vfioGroupGetDeviceFd: () => b.newFd('dev'),
      }),
      sysfs({ node: '/dev/vfio/noiommu-12' }),
    );
    openVfioDevice(b, BDF).close();
    expect(b.calls.find((c) => c.op === 'open' && c.args[0] === '/dev/vfio/noiommu-12')).toBeDefined();
    expect(b.calls.find((c) => c.op === 'vfioSetIommu')?.args[1]).toBe(VFIO.NOIOMMU_IOMMU);
  });

  it('refuses a group that is not viable, naming the group, and closes what it opened', () => {
    const b = new FakeBackend(legacy({ vfioGroupGetStatus: () => ({ flags: 0 }) }), sysfs());
    expect(() => openVfioDevice(b, BDF)).toThrow(/IOMMU group 12 is not viable/);
    expect(b.open.size).toBe(0);
    expect(b.ops().slice(-2)).toEqual(['close', 'close']);
  });

  it('says which driver holds the device when GET_DEVICE_FD fails', () => {
    const b = new FakeBackend(
      legacy({
        vfioGroupGetDeviceFd: () => {
          throw new SystemError({
            errno: Errno.EINVAL,
            syscall: 'ioctl',
            request: 'VFIO_GROUP_GET_DEVICE_FD',
            path: '/dev/vfio/12',
          });
        },
      }),
      sysfs({ driver: 'xe' }),
    );
    const e = (() => {
      try {
        openVfioDevice(b, BDF);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(VfioSetupError);
    expect((e as Error).message).toContain('EINVAL');
    expect((e as Error).message).toContain('bound to xe, not vfio-pci');
    expect((e as Error).cause).toBeInstanceOf(SystemError);
    expect(b.open.size).toBe(0);
  });

  it('explains a missing group node', () => {
    const b = new FakeBackend(legacy(), sysfs({ node: null, driver: null }));
    expect(() => openVfioDevice(b, BDF)).toThrow(/\/dev\/vfio\/12 does not exist; 0000:03:00.1 has no driver/);
    expect(b.open.size).toBe(0);
  });

  it('explains a device without an IOMMU group, and an unknown device', () => {
    expect(() => openVfioDevice(new FakeBackend(legacy(), sysfs({ group: null })), BDF)).toThrow(
      /no IOMMU group: enable the IOMMU/,
    );
    expect(() => openVfioDevice(new FakeBackend(legacy(), sysfs()), '0000:04:00.0')).toThrow(
      /no PCI device 0000:04:00.0/,
    );
  });

  it('rejects a container with the wrong API version or no type1', () => {
    expect(() => openVfioDevice(new FakeBackend(legacy({ vfioGetApiVersion: () => 1 }), sysfs()), BDF)).toThrow(
      /API version 1/,
    );
    expect(() => openVfioDevice(new FakeBackend(legacy({ vfioCheckExtension: () => 0 }), sysfs()), BDF)).toThrow(
      /neither TYPE1v2 nor TYPE1/,
    );
  });

  it('refuses a malformed PCI address before touching anything', () => {
    const b = new FakeBackend(legacy(), sysfs());
    expect(() => openVfioDevice(b, '3:00.1')).toThrow(RangeError);
    expect(b.calls).toEqual([]);
  });
});

describe('openVfioDevice, cdev + iommufd path (docs/kernel.md §4)', () => {
  it('binds, allocates an IOAS, attaches; close() closes the device then the iommufd', () => {
    const b = new FakeBackend(
      { vfioDeviceBindIommufd: () => 7, iommuIoasAlloc: () => 3, vfioDeviceAttachIommufdPt: () => undefined },
      sysfs({ group: null, cdev: true }),
    );
    const dev = openVfioDevice(b, BDF);
    expect(dev.access).toBe('cdev');
    expect(dev.devid).toBe(7);
    expect(dev.ioasId).toBe(3);
    expect(b.calls.map((c) => [c.op, ...c.args])).toEqual([
      ['open', '/dev/vfio/devices/vfio0', O.RDWR | O.CLOEXEC],
      ['open', '/dev/iommu', O.RDWR | O.CLOEXEC],
      ['vfioDeviceBindIommufd', 10, 11, 0],
      ['iommuIoasAlloc', 11, 0],
      ['vfioDeviceAttachIommufdPt', 10, 3],
    ]);
    b.calls.length = 0;
    dev.close();
    expect(b.calls.map((c) => [c.op, ...c.args])).toEqual([
      ['close', 10],
      ['close', 11],
    ]);
  });

  it('closes both fds when BIND fails', () => {
    const b = new FakeBackend({}, sysfs({ group: null, cdev: true }));
    expect(() => openVfioDevice(b, BDF, { access: 'cdev' })).toThrow(SystemError);
    expect(b.open.size).toBe(0);
  });

  it('reports a kernel without IOMMUFD', () => {
    const tree = sysfs({ group: null, cdev: true });
    delete tree.files!['/dev/iommu'];
    const b = new FakeBackend({}, tree);
    expect(() => openVfioDevice(b, BDF, { access: 'cdev' })).toThrow(/no \/dev\/iommu/);
    expect(b.open.size).toBe(0);
  });
});

// A region info reply with a capability chain: sparse mmap (2 areas) -> type -> MSI-X mappable.
function chain(): Uint8Array {
  const caps = new Uint8Array(48 + 16 + 8);
  const dv = new DataView(caps.buffer);
  // sparse mmap at struct offset 32 (caps offset 0), next 80
  dv.setUint16(0, VFIO.REGION_INFO_CAP_SPARSE_MMAP, true);
  dv.setUint16(2, 1, true);
  dv.setUint32(4, 80, true);
  dv.setUint32(8, 2, true);
  dv.setBigUint64(16, 0n, true);
  dv.setBigUint64(24, 0x1000n, true);
  dv.setBigUint64(32, 0x3000n, true);
  dv.setBigUint64(40, 0x1000n, true);
  // type at 80 (caps 48), next 96
  dv.setUint16(48, VFIO.REGION_INFO_CAP_TYPE, true);
  dv.setUint16(50, 1, true);
  dv.setUint32(52, 96, true);
  dv.setUint32(56, 0x80008086, true);
  dv.setUint32(60, 1, true);
  // MSI-X mappable at 96 (caps 64), end
  dv.setUint16(64, VFIO.REGION_INFO_CAP_MSIX_MAPPABLE, true);
  dv.setUint16(66, 1, true);
  dv.setUint32(68, 0, true);
  return caps;
}

describe('parseRegionCaps', () => {
  it('walks sparse mmap, type and MSI-X mappable capabilities', () => {
    expect(parseRegionCaps(chain(), 32)).toEqual([
      {
        id: 1,
        version: 1,
        kind: 'sparse-mmap',
        areas: [
          { offset: 0n, size: 0x1000n },
          { offset: 0x3000n, size: 0x1000n },
        ],
      },
      { id: 2, version: 1, kind: 'type', type: 0x80008086, subtype: 1 },
      { id: 3, version: 1, kind: 'msix-mappable' },
    ]);
  });

  it('is empty without a chain', () => {
    expect(parseRegionCaps(new Uint8Array(0), 0)).toEqual([]);
  });

  it('keeps unknown capabilities as bytes', () => {
    const caps = new Uint8Array(16);
    new DataView(caps.buffer).setUint16(0, 99, true);
    expect(parseRegionCaps(caps, 32)).toEqual([{ id: 99, version: 0, kind: 'unknown', bytes: caps }]);
  });

  it('rejects loops, offsets outside the reply and truncated capabilities', () => {
    const loop = chain();
    new DataView(loop.buffer).setUint32(68, 32, true);
    expect(() => parseRegionCaps(loop, 32)).toThrow(/loops/);
    expect(() => parseRegionCaps(chain(), 200)).toThrow(RegionCapParseError);
    expect(() => parseRegionCaps(chain(), 16)).toThrow(RegionCapParseError);
    expect(() => parseRegionCaps(chain().subarray(0, 40), 32)).toThrow(/needs 48 bytes/);
  });
});

describe('packRanges and isBdf', () => {
  it('interleaves offsets and lengths, numbers or bigints', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ offset: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), length: fc.nat() }), {
          maxLength: 50,
        }),
        (ranges) => {
          const packed = packRanges(ranges);
          expect(packed.length).toBe(ranges.length * 2);
          ranges.forEach((r, i) => {
            expect(packed[2 * i]).toBe(r.offset);
            expect(packed[2 * i + 1]).toBe(BigInt(r.length));
          });
        },
      ),
    );
  });

  it('passes a BigUint64Array through and rejects bad input', () => {
    const a = new BigUint64Array([0n, 4096n]);
    expect(packRanges(a)).toBe(a);
    expect(() => packRanges(new BigUint64Array(3))).toThrow(RangeError);
    expect(() => packRanges([{ offset: -1, length: 4096 }])).toThrow(RangeError);
    expect(() => packRanges([{ offset: 1.5, length: 4096 }])).toThrow(RangeError);
    expect(() => packRanges([{ offset: 1n << 64n, length: 0n }])).toThrow(RangeError);
    expect(() => packRanges('x' as never)).toThrow(TypeError);
  });

  it('accepts exactly the sysfs form of a PCI address', () => {
    const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        (d, b, s, f) => {
          expect(isBdf(`${hex(d, 4)}:${hex(b, 2)}:${hex(s, 2)}.${f}`)).toBe(true);
        },
      ),
    );
    for (const bad of [
      '03:00.1',
      '0000:03:00.8',
      '0000:03:20.0',
      '0000:3:00.1',
      '0000:03:00.1 ',
      '0000:0G:00.1',
      'ABCD:03:00.1',
    ])
      expect(isBdf(bad), bad).toBe(false);
  });
});

describe('VfioDevice', () => {
  function device(handlers: Handlers): { b: FakeBackend; dev: VfioDevice } {
    const b = new FakeBackend(handlers, { files: { '/dev/x': '' } });
    const fd = b.dev.open('/dev/x', 0);
    b.calls.length = 0;
    return { b, dev: new VfioDevice(b, fd, BDF, 'group') };
  }

  const bar2 = { index: 2, flags: 7, capOffset: 0, size: 1n << 30n, offset: 2n << 40n, caps: new Uint8Array(0) };

  it('asks region info once per index and parses its capabilities', () => {
    const { b, dev } = device({
      vfioDeviceGetRegionInfo: (_fd, i) =>
        i === 2 ? bar2 : { ...bar2, index: i, flags: 15, capOffset: 32, caps: chain() },
    });
    expect(dev.regionInfo(2).capabilities).toEqual([]);
    expect(dev.regionInfo(2).size).toBe(1n << 30n);
    expect(dev.regionInfo(0).capabilities.map((c) => c.kind)).toEqual(['sparse-mmap', 'type', 'msix-mappable']);
    expect(b.ops()).toEqual(['vfioDeviceGetRegionInfo', 'vfioDeviceGetRegionInfo']);
  });

  it('lists every region GET_INFO reports, leaving out the ones the kernel says are absent (EINVAL)', () => {
    const { dev } = device({
      vfioDeviceGetInfo: () => ({ flags: 3, numRegions: 9, numIrqs: 5, capOffset: 0 }),
      vfioDeviceGetRegionInfo: (_fd, i) => {
        if (i === VFIO.PCI_VGA_REGION_INDEX)
          throw new SystemError({ errno: Errno.EINVAL, syscall: 'ioctl', request: 'VFIO_DEVICE_GET_REGION_INFO' });
        return { ...bar2, index: i };
      },
    });
    expect(dev.regionInfos().map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not hide other region info errors', () => {
    const { dev } = device({
      vfioDeviceGetInfo: () => ({ flags: 3, numRegions: 9, numIrqs: 5, capOffset: 0 }),
      vfioDeviceGetRegionInfo: () => {
        throw new SystemError({ errno: Errno.EFAULT, syscall: 'ioctl', request: 'VFIO_DEVICE_GET_REGION_INFO' });
      },
    });
    expect(() => dev.regionInfos()).toThrow(/EFAULT/);
  });

  it('reads, writes and maps at the region offset the kernel reported', () => {
    const { b, dev } = device({
      vfioDeviceGetRegionInfo: () => bar2,
      vfioRegionRead: (_fd, _off, len) => new Uint8Array(len),
      vfioRegionWrite: (_fd, _off, data) => data.length,
      mmap: () => ({}) as never,
    });
    dev.read(2, 0x1000, 4);
    dev.write(2, 0x2000n, new Uint8Array(8));
    dev.mmapRegion(2, { offset: 0x10000n });
    expect(b.calls.filter((c) => c.op !== 'vfioDeviceGetRegionInfo').map((c) => [c.op, c.args[1], c.args[2]])).toEqual([
      ['vfioRegionRead', (2n << 40n) + 0x1000n, 4],
      ['vfioRegionWrite', (2n << 40n) + 0x2000n, new Uint8Array(8)],
      ['mmap', (2n << 40n) + 0x10000n, (1 << 30) - 0x10000],
    ]);
  });

  it('exports a dma-buf with packed ranges, O_RDWR|O_CLOEXEC, and raw overrides passed through', () => {
    const requests: unknown[] = [];
    const { b, dev } = device({
      vfioDmaBufGet: (_fd, req) => {
        requests.push(req);
        return b.newFd('dmabuf');
      },
    });
    const buf = dev.exportDmaBuf({
      region: 2,
      ranges: [
        { offset: 0, length: 0x200000 },
        { offset: 0x400000n, length: 0x1000n },
      ],
    });
    expect(buf.source).toBe(`vfio ${BDF} region 2`);
    dev.exportDmaBuf({
      region: 2,
      ranges: [{ offset: 0, length: 4096 }],
      flags: 1,
      nrRanges: 0,
      featureFlags: 0x2000b,
      argsz: 8,
    });
    expect(requests).toEqual([
      {
        regionIndex: 2,
        openFlags: O.RDWR | O.CLOEXEC,
        ranges: new BigUint64Array([0n, 0x200000n, 0x400000n, 0x1000n]),
      },
      {
        regionIndex: 2,
        openFlags: O.RDWR | O.CLOEXEC,
        ranges: new BigUint64Array([0n, 4096n]),
        flags: 1,
        nrRanges: 0,
        featureFlags: 0x2000b,
        argsz: 8,
      },
    ]);
    buf.close();
    buf.close();
    expect(b.ops().filter((o) => o === 'close')).toHaveLength(1);
  });

  it('probes a feature: supported, not known (ENOTTY), not implemented (EOPNOTSUPP), or a real error', () => {
    let answer: number | null = 0;
    const { b, dev } = device({
      vfioDeviceFeature: () => {
        if (answer === null) return 0;
        if (answer === 0) return 0;
        throw new SystemError({ errno: answer, syscall: 'ioctl', request: 'VFIO_DEVICE_FEATURE' });
      },
    });
    expect(dev.probeFeature(VFIO.FEATURE_DMA_BUF)).toEqual({ supported: true });
    expect(b.calls[0]!.args[1]).toBe(0x5000b);
    answer = Errno.ENOTTY;
    expect(dev.probeFeature(VFIO.FEATURE_DMA_BUF)).toMatchObject({ supported: false, error: { code: 'ENOTTY' } });
    answer = Errno.EOPNOTSUPP;
    expect(dev.probeFeature(VFIO.FEATURE_DMA_BUF)).toMatchObject({ supported: false, error: { code: 'EOPNOTSUPP' } });
    answer = Errno.EINVAL;
    expect(() => dev.probeFeature(VFIO.FEATURE_DMA_BUF)).toThrow(/EINVAL/);
  });

  it('resets through the backend (a Promise)', async () => {
    const { dev } = device({ vfioDeviceReset: () => Promise.resolve() });
    await expect(dev.reset()).resolves.toBeUndefined();
  });
});
