// The topology format (docs/topology.md): validation messages, the VF BAR2
// sizing rule, VF routing IDs, and the building blocks under the platform
// (kstrto parsers, the buddy allocator, sparse memory, path walks).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  defaultTopology,
  formatBdf,
  parseBdf,
  parseTopology,
  vfBarSize,
  type Topology,
} from '../../src/mock/topology.js';
import { kstrtobool, kstrtoull, kstrtouint } from '../../src/mock/kstrto.js';
import { BuddyAllocator } from '../../src/mock/vram.js';
import { ChunkedMemory } from '../../src/mock/memory.js';
import { Vfs, relativeLink } from '../../src/mock/vfs.js';
import type { KernelErrno } from '../../src/mock/errno.js';
import { createMockBackend } from '../../src/mock/backend.js';
import { O, VFIO } from '../../src/uapi/constants.js';

const GiB = 1n << 30n;

function bad(edit: (t: Topology) => void): string {
  const t = defaultTopology();
  edit(t);
  try {
    parseTopology(t, 'topology t.json');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('topology validated');
}

describe('topology validation', () => {
  it('accepts the default and names the field of every problem', () => {
    expect(parseTopology(defaultTopology()).devices).toHaveLength(1);
    expect(bad((t) => ((t as { schema: string }).schema = 'x'))).toBe(
      'topology t.json: schema: expected "iovh-topology/1", got "x"',
    );
    expect(bad((t) => (t.devices[0]!.vendor = '8086'))).toMatch(
      /^topology t\.json: devices\[0\]\.vendor: expected a PCI vendor ID as a hex string of at most 4 digits, like "0x0001", got "8086"$/,
    );
    expect(bad((t) => (t.devices[0]!.bars[1]!.size = '0x3000'))).toBe(
      'topology t.json: devices[0].bars[1].size: a BAR size is a non-zero power of two',
    );
    expect(bad((t) => (t.devices[0]!.bars[1]!.start = '0x4000001000'))).toMatch(
      /devices\[0\]\.bars\[1\]\.start: must be aligned/,
    );
    expect(bad((t) => (t.devices[0]!.sriov!.numvfs = 2))).toBe(
      'topology t.json: devices[0].sriov.vfs: lists 0 VFs but numvfs is 2',
    );
    expect(bad((t) => (t.devices[0]!.sriov!.totalvfs = 0))).toMatch(
      /sriov\.totalvfs: expected a VF count from 1 to 65535, got 0/,
    );
    expect(bad((t) => (t.devices[0]!.xe!.vramBlockSize = '0x1000'))).toMatch(
      /xe\.vramBlockSize: must be a power of two of at least 2 MiB/,
    );
    expect(bad((t) => (t.devices[0]!.xe!.provisioning = 'magic' as 'legacy'))).toMatch(/xe\.provisioning: expected/);
    expect(bad((t) => (t.devices[0]!.sriov!.offset = 0xffff))).toMatch(
      /sriov\.offset: VF \d+ would land beyond bus 0xff/,
    );
    expect(
      bad((t) =>
        t.devices.push({ ...t.devices[0]!, bdf: '0000:03:00.1', sriov: undefined as never, xe: undefined as never }),
      ),
    ).toMatch(/VF 0 would be 0000:03:00\.1, which is another device/);
    expect(bad((t) => (t.devices[0]!.bars[0]!.start = '0x100000000'))).toMatch(/overlaps ram\[1\]/);
    expect(bad((t) => (t.devices[0]!.driver = 'bad driver'))).toMatch(
      /devices\[0\]\.driver: expected a driver name such as "vfio-pci"/,
    );
    expect(bad((t) => (t.bridges![1]!.acs = 'maybe'))).toMatch(/^topology t\.json: bridges\[1\]\.acs: /);
  });

  it('refuses the per-machine P2P and VF-group settings by name, saying what replaces them', () => {
    const loose = (t: Topology) => t as unknown as Record<string, unknown> & { devices: { sriov: object }[] };
    expect(bad((t) => (loose(t).p2p = 'switch'))).toBe(
      "topology t.json: p2p: no longer a setting: the P2P route is derived per pair of devices from the ports' ACS and the host bridge (bridges[], docs/topology.md); remove the field",
    );
    expect(bad((t) => Object.assign(loose(t).devices[0]!.sriov, { vfIommuGroup: 'pf' }))).toMatch(
      /^topology t\.json: devices\[0\]\.sriov\.vfIommuGroup: no longer a setting: .* for "pf" list those ports in bridges\[\] with "acs": null/,
    );
  });

  it("bridges: each is on a device's parent path or is the host bridge at 00.0 of a root bus, listed once", () => {
    expect(bad((t) => t.bridges!.push({ bdf: '0000:09:00.0', acs: null }))).toBe(
      'topology t.json: bridges[4].bdf: 0000:09:00.0 is on no device\'s parent path and is not a host bridge (00.0 of a root bus a device sits on) or a root-bus device with "rootPort"',
    );
    // Another device of a root bus (pci_host_bridge_dev's first device when there is no 00.0) says what it is.
    expect(bad((t) => t.bridges!.push({ bdf: '0000:00:02.0' }))).toMatch(/bridges\[4\]\.bdf: 0000:00:02\.0 is on no/);
    expect(bad((t) => t.bridges!.push({ bdf: '0000:00:02.0', rootPort: true, acs: null }))).toMatch(
      /bridges\[4\]\.acs: 0000:00:02\.0 is off every device's path/,
    );
    expect(bad((t) => (t.bridges![1]!.rootPort = true))).toMatch(
      /bridges\[1\]\.rootPort: 0000:00:01\.0 is on a device's parent path: its kind follows its depth/,
    );
    const t = defaultTopology();
    t.bridges!.push({ bdf: '0000:00:02.0', vendor: '0x8086', device: '0x3456', rootPort: false });
    expect(parseTopology(t, 't').bridges.at(-1)).toMatchObject({
      bdf: '0000:00:02.0',
      root: 'pci0000:00',
      rootPort: false,
    });
    expect(bad((t) => (t.bridges![0]!.acs = '0x1f'))).toMatch(/bridges\[0\]\.acs: 0000:00:00\.0 is a host bridge/);
    expect(bad((t) => t.bridges!.push({ bdf: '0000:00:01.0' }))).toMatch(
      /bridges\[4\]\.bdf: 0000:00:01\.0 listed twice/,
    );
    expect(bad((t) => t.bridges!.push({ bdf: '0000:03:00.0' }))).toMatch(
      /bridges\[4\]\.bdf: 0000:03:00\.0 is also in devices/,
    );
  });

  it('refuses a field the format does not define, naming its path: a typo must not take the default', () => {
    const unknown = (edit: (t: Record<string, unknown>) => void) =>
      bad((t) => edit(t as unknown as Record<string, unknown>));
    const at = (o: unknown) => o as Record<string, unknown>;
    expect(unknown((t) => (t.comment = 'lab 1'))).toMatch(
      /^topology t\.json: comment: unknown field \(expected one of schema, machine, kernel, ram, bridges, devices\)$/,
    );
    expect(unknown((t) => (at(t.kernel ?? (t.kernel = {})).version = '7.2'))).toMatch(
      /^topology t\.json: kernel\.version: unknown field/,
    );
    expect(unknown((t) => (at(at(t.ram)[0]).end = '0x1000'))).toMatch(
      /^topology t\.json: ram\[0\]\.end: unknown field/,
    );
    const dev = (t: Record<string, unknown>) => at((t.devices as unknown[])[0]);
    expect(unknown((t) => (dev(t).drivers = 'xe'))).toMatch(/^topology t\.json: devices\[0\]\.drivers: unknown field/);
    expect(unknown((t) => (at((dev(t).bars as unknown[])[1]).resizableSizes = '0x1'))).toMatch(
      /^topology t\.json: devices\[0\]\.bars\[1\]\.resizableSizes: unknown field/,
    );
    expect(unknown((t) => (at(dev(t).sriov).totalVfs = 8))).toMatch(
      /^topology t\.json: devices\[0\]\.sriov\.totalVfs: unknown field \(expected one of totalvfs, numvfs/,
    );
    expect(unknown((t) => (at((at(dev(t).sriov).vfBars as unknown[])[0]).sizeMb = 16))).toMatch(
      /sriov\.vfBars\[0\]\.sizeMb: unknown field/,
    );
    expect(unknown((t) => (at(dev(t).xe).vramQuota = '0x1000'))).toMatch(
      /^topology t\.json: devices\[0\]\.xe\.vramQuota: unknown field/,
    );
    const s = defaultTopology();
    s.devices[0]!.sriov!.numvfs = 1;
    s.devices[0]!.sriov!.vfs = [{ index: 0, driver: null, quota: '0x1000' } as never];
    expect(() => parseTopology(s, 'topology t.json')).toThrow(
      /^topology t\.json: devices\[0\]\.sriov\.vfs\[0\]\.quota: unknown field/,
    );
  });

  it('sriov.totalvfs is the 16-bit TotalVFs field: 256 (an E810) and 65535 are accepted, 65536 is not', () => {
    const nic = (totalvfs: number, bdf: string) => {
      const t = defaultTopology();
      const d = t.devices[0]!;
      d.bdf = bdf;
      d.sriov!.totalvfs = totalvfs;
      d.sriov!.vfBars = [{ index: 0, start: '0x8000000000', size: '0x4000', kind: 'mem64', prefetchable: true }];
      delete d.xe;
      d.driver = 'ice';
      // A function the devices list names is not also a bridge.
      t.bridges = t.bridges!.filter((b) => b.bdf !== bdf);
      return t;
    };
    expect(parseTopology(nic(256, '0000:03:00.0')).devices[0]!.sriov!.totalvfs).toBe(256);
    expect(parseTopology(nic(65535, '0000:00:00.0')).devices[0]!.sriov!.totalvfs).toBe(65535);
    expect(() => parseTopology(nic(65536, '0000:00:00.0'), 'topology t.json')).toThrow(
      /sriov\.totalvfs: expected a VF count from 1 to 65535, got 65536/,
    );
    // 256 VFs boot and enable on a driver that only binds
    const b = createMockBackend({ topology: nic(256, '0000:03:00.0') });
    expect(b.fs.readText('/sys/bus/pci/devices/0000:03:00.0/sriov_totalvfs')).toBe('256\n');
    b.fs.writeFile('/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs', '256');
    expect(b.fs.readdir('/sys/bus/pci/devices').length).toBeGreaterThanOrEqual(257);
    b.close();
  });

  it('current VFs carry driver, override, group and quota', () => {
    const t = defaultTopology();
    const s = t.devices[0]!.sriov!;
    s.numvfs = 1;
    s.vfs = [{ index: 0, driver: 'vfio-pci', driverOverride: 'vfio-pci', iommuGroup: 40, vramQuota: '0x40000000' }];
    const p = parseTopology(t);
    expect(p.devices[0]!.sriov!.vfs[0]).toEqual({
      index: 0,
      driver: 'vfio-pci',
      driverOverride: 'vfio-pci',
      iommuGroup: 40,
      vramQuota: GiB,
    });
  });
});

describe('SR-IOV arithmetic', () => {
  it('VF BAR2 size: the largest supported power of two that fits reservation / numvfs', () => {
    const bar = parseTopology(defaultTopology()).devices[0]!.sriov!.vfBars.find((b) => b.index === 2)!;
    expect(vfBarSize(bar, 24, 24)).toBe(GiB);
    expect(vfBarSize(bar, 24, 3)).toBe(8n * GiB);
    expect(vfBarSize(bar, 24, 2)).toBe(8n * GiB);
    expect(vfBarSize(bar, 24, 1)).toBe(16n * GiB); // 24 GiB fits, but 16 GiB is the largest size bit
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), (n) => {
        const s = vfBarSize(bar, 24, n);
        return s * BigInt(n) <= 24n * GiB && (s & (s - 1n)) === 0n;
      }),
    );
  });

  it('BDFs round-trip (VF placement is uapi/bdf.ts vfAddress: test/host/bdf.test.ts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xff }),
        (d, bus, devfn) => {
          const s = formatBdf(d, bus, devfn);
          expect(parseBdf(s)).toEqual({ domain: d, bus, devfn });
        },
      ),
    );
  });
});

describe('kstrto parsers', () => {
  const errno = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as KernelErrno).errno;
    }
    return 0;
  };
  it('accept one number with an optional single newline; EINVAL otherwise, ERANGE on overflow', () => {
    expect(kstrtoull('0x10\n')).toBe(16n);
    expect(kstrtoull('010')).toBe(8n);
    expect(kstrtoull('+7')).toBe(7n);
    expect(errno(() => kstrtoull('7\n\n'))).toBe(22);
    expect(errno(() => kstrtoull(' 7'))).toBe(22);
    expect(errno(() => kstrtoull(''))).toBe(22);
    expect(errno(() => kstrtoull('0x1ffffffffffffffff'))).toBe(34);
    expect(errno(() => kstrtouint('65536', 16))).toBe(34);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (v) => kstrtoull(`${v}\n`) === v && kstrtoull(`0x${v.toString(16)}`) === v,
      ),
    );
  });
  it('kstrtobool looks at the first characters only', () => {
    for (const s of ['1', 'y', 'Yes', 'true', 'on\n', 'enable', 'E']) expect(kstrtobool(s)).toBe(true);
    for (const s of ['0', 'n', 'No', 'false', 'off', 'disable', 'D']) expect(kstrtobool(s)).toBe(false);
    expect(errno(() => kstrtobool('o'))).toBe(22);
    expect(errno(() => kstrtobool('2'))).toBe(22);
    expect(errno(() => kstrtobool(''))).toBe(22);
  });
});

describe('buddy allocator', () => {
  it('allocations are disjoint, inside the pool, sized as asked, and freeing restores everything', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2048 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 3 }),
        (sizes, capLog) => {
          const MB2 = 2 * 1024 * 1024;
          const POOL = 8192 * MB2; // 16 GiB: offsets beyond 2^31
          const a = new BuddyAllocator(0, POOL);
          const cap = capLog === 0 ? Infinity : MB2 << (capLog - 1);
          const got: { dpa: bigint; size: bigint }[][] = [];
          for (const s of sizes) {
            const blocks = a.alloc(s * MB2, MB2, cap);
            if (!blocks) continue;
            expect(blocks.reduce((x, b) => x + b.size, 0n)).toBe(BigInt(s * MB2));
            if (Number.isFinite(cap)) for (const b of blocks) expect(b.size).toBeLessThanOrEqual(BigInt(cap));
            got.push(blocks);
          }
          // free every other allocation, allocate again: still disjoint (coalescing kept the lists right)
          for (let i = 0; i < got.length; i += 2) a.freeBlocks(got[i]!);
          const live = got.filter((_, i) => i % 2 === 1);
          for (const s of sizes.slice(0, 5)) {
            const blocks = a.alloc(s * MB2, MB2, cap);
            if (blocks) live.push(blocks);
          }
          const flat = live.flat().sort((x, y) => (x.dpa < y.dpa ? -1 : 1));
          for (let i = 1; i < flat.length; i++)
            expect(flat[i]!.dpa).toBeGreaterThanOrEqual(flat[i - 1]!.dpa + flat[i - 1]!.size);
          for (const b of flat) expect(b.dpa + b.size).toBeLessThanOrEqual(BigInt(POOL));
          // a fresh allocator can claim exactly these blocks (state file restore)
          const fresh = new BuddyAllocator(0, POOL);
          for (const g of live) expect(fresh.claim(g)).toBe(true);
          expect(fresh.availBytes()).toBe(a.availBytes());
          for (const g of live) a.freeBlocks(g);
          expect(a.availBytes()).toBe(POOL);
          expect(a.alloc(POOL, MB2)).toHaveLength(1); // fully coalesced again
        },
      ),
      { numRuns: 60 },
    );
    // Thousands of blocks per case: 20 s alone under a load average of 20 on 2 CPUs, past vitest's 30 s in a full
    // npm test. A bound for a loaded machine, not a speed test.
  }, 120_000);

  it('fails without side effects when the pool is full', () => {
    const a = new BuddyAllocator(0, 8 << 20);
    expect(a.alloc(6 << 20, 2 << 20)).not.toBeNull();
    expect(a.alloc(4 << 20, 2 << 20)).toBeNull();
    expect(a.availBytes()).toBe(2 << 20);
  });
});

describe('sparse memory and the namespace', () => {
  it('unwritten bytes read zero; resident memory grows with writes; clear frees', () => {
    const m = new ChunkedMemory(16n * GiB);
    expect(m.read(5n * GiB, 4)).toEqual(new Uint8Array(4));
    m.write(GiB - 2n, Uint8Array.from([1, 2, 3, 4]));
    expect(m.read(GiB - 2n, 4)).toEqual(Uint8Array.from([1, 2, 3, 4]));
    expect(m.residentBytes()).toBe(2 * 65536);
    m.clear(GiB - 65536n, 131072n);
    expect(m.residentBytes()).toBe(0);
    expect(() => m.read(16n * GiB - 2n, 4)).toThrow(RangeError);
  });

  it('paths: .. after a link applies to its target; loops are ELOOP; relative links like sysfs', () => {
    const v = new Vfs();
    v.addText('/sys/devices/a/b/file', () => 'x');
    v.addLink('/sys/bus/dev', '../devices/a/b');
    expect(v.realpath('/sys/bus/dev/file')).toBe('/sys/devices/a/b/file');
    expect(v.realpath('/sys/bus/dev/..')).toBe('/sys/devices/a');
    v.addLink('/sys/loop', 'loop');
    expect(() => v.lookup('/sys/loop/x')).toThrow(expect.objectContaining({ errno: 40 }));
    expect(() => v.lookup('/sys/devices/a/b/file/x')).toThrow(expect.objectContaining({ errno: 20 }));
    expect(relativeLink('/sys/devices/p/pf/sriov_admin/vf1', '/sys/devices/p/vf')).toBe('../../../vf');
    expect(relativeLink('/sys/devices/p/pf/sriov_admin/pf', '/sys/devices/p/pf')).toBe('../../../pf');
  });
});

describe('I/O-port BARs (the port space, not the memory map)', () => {
  /** The default machine plus a NIC on vfio-pci whose BAR 2 is 32 I/O ports at 0x1000 (inside ram[0]'s numbers). */
  function withIoBar(edit: (t: Topology) => void = () => {}): Topology {
    const t = defaultTopology();
    t.devices.push({
      bdf: '0000:05:00.0',
      vendor: '0x8086',
      device: '0x10c9',
      class: '0x020000',
      driver: 'vfio-pci',
      driverOverride: 'vfio-pci',
      iommuGroup: 40,
      bars: [
        { index: 0, start: '0xc0000000', size: '0x20000', kind: 'mem32', prefetchable: false },
        { index: 2, start: '0x1000', size: '0x20', kind: 'io', prefetchable: false },
      ],
    });
    edit(t);
    return t;
  }

  it('are checked against each other and the 64 KiB port space, never against RAM or memory BARs', () => {
    expect(parseTopology(withIoBar()).devices[1]!.bars[1]).toMatchObject({ kind: 'io', start: 0x1000n, size: 0x20n });
    // Same numbers as the PF's memory BAR 0: another address space.
    expect(() => parseTopology(withIoBar((t) => (t.devices[1]!.bars[1]!.start = '0x88000000')))).toThrow(
      /bars\[1\]\.start: an I\/O BAR must end within the 64 KiB port space/,
    );
    expect(() => parseTopology(withIoBar((t) => (t.devices[1]!.bars[1]!.start = '0xffe0')))).not.toThrow();
    const twoIo = withIoBar((t) =>
      t.devices[1]!.bars.push({ index: 4, start: '0x1010', size: '0x10', kind: 'io', prefetchable: false }),
    );
    expect(() => parseTopology(twoIo, 'topology t.json')).toThrow(
      'topology t.json: devices[1].bars (BAR 4): overlaps devices[1].bars (BAR 2)',
    );
    // Memory BARs still may not overlap RAM.
    expect(() => parseTopology(withIoBar((t) => (t.devices[1]!.bars[0]!.start = '0x100000')))).toThrow(
      /overlaps ram\[0\]/,
    );
    const vfIo = withIoBar((t) => (t.devices[0]!.sriov!.vfBars[0]!.kind = 'io'));
    expect(() => parseTopology(vfIo)).toThrow(/sriov\.vfBars\[0\]\.kind: a VF BAR is a memory BAR/);
  });

  it('show in resource, not in /proc/iomem, and a DMA_BUF export of one is EINVAL (docs/kernel.md §3.3)', () => {
    const b = createMockBackend({ topology: withIoBar() });
    const lines = new TextDecoder().decode(b.fs.readFile('/sys/bus/pci/devices/0000:05:00.0/resource')).split('\n');
    expect(lines[2]).toBe('0x0000000000001000 0x000000000000101f 0x0000000000040101');
    expect(new TextDecoder().decode(b.fs.readFile('/proc/iomem'))).not.toMatch(/^00001000-/m);
    const d = b.dev;
    const container = d.open('/dev/vfio/vfio', O.RDWR);
    const group = d.open('/dev/vfio/40', O.RDWR);
    d.vfioGroupSetContainer(group, container);
    d.vfioSetIommu(container, VFIO.TYPE1v2_IOMMU);
    const device = d.vfioGroupGetDeviceFd(group, '0000:05:00.0');
    const get = (regionIndex: number) =>
      d.vfioDmaBufGet(device, { regionIndex, openFlags: O.RDWR | O.CLOEXEC, ranges: BigUint64Array.from([0n, 4096n]) });
    expect(() => get(2)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const fd = get(0);
    expect(fd).toBeGreaterThan(0);
    d.close(fd);
  });
});
