import { afterEach, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backend/native.js';
import { capture, parseIomemRam, vfRebarSizes } from '../../src/host/capture.js';
import { FixtureTree, igbTree, resourceText } from './fixture-tree.js';
import { parseTopology } from '../../src/mock/topology.js';
import { PcieFabric } from '../../src/mock/pcie.js';
import { tempDir } from './helpers.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

/** Config space with a VF Resizable BAR capability at 0x100 for BAR 2 supporting 2 MiB..16 GiB. */
function configWithVfRebar(): Uint8Array {
  const b = new Uint8Array(4096);
  const dv = new DataView(b.buffer);
  dv.setUint32(0x100, (0x140 << 20) | (1 << 16) | 0x000e, true); // ARI, next capability at 0x140
  dv.setUint32(0x140, (0 << 20) | (1 << 16) | 0x0024, true);
  dv.setUint32(0x144, 0x7ffe << 4, true); // sizes: bits 1..14 -> 2 MiB .. 16 GiB
  dv.setUint32(0x148, (1 << 5) | 2, true); // one resizable BAR, index 2
  return b;
}

/** An igb PF (no VFs, no driver) at 0000:03:00.0 under the sysfs directory `dir`, with the BARs given. */
function igbPfAt(t: FixtureTree, dir: string, resources: Record<number, [bigint, bigint, number]>): void {
  for (const [k, v] of Object.entries({
    vendor: '0x8086',
    device: '0x10c9',
    class: '0x020000',
    sriov_totalvfs: '7',
    sriov_numvfs: '0',
    sriov_offset: '128',
    sriov_stride: '2',
    sriov_vf_device: '10ca',
    sriov_drivers_autoprobe: '1',
    driver_override: '(null)',
  }))
    t.file(`${dir}/${k}`, `${v}\n`);
  t.file(`${dir}/resource`, resourceText(resources));
  t.link('/sys/bus/pci/devices/0000:03:00.0', `../../..${dir.slice(4)}`);
}

describe('capture', () => {
  it('finds the VF Resizable BAR sizes in config space (PCI_EXT_CAP_ID_VF_REBAR)', () => {
    expect(vfRebarSizes(configWithVfRebar(), 2)).toBe(0x7ffen);
    expect(vfRebarSizes(configWithVfRebar(), 0)).toBeNull();
    expect(vfRebarSizes(new Uint8Array(256), 2)).toBeNull();
  });

  it('reads System RAM from /proc/iomem, unknown when the addresses are hidden', () => {
    expect(
      parseIomemRam(
        '00000000-00000fff : Reserved\n00001000-0009ffff : System RAM\n00100000-7fffffff : System RAM\n  01000000-01ffffff : Kernel code\n',
      ),
    ).toEqual([
      { start: 0x1000n, size: 0x9f000n },
      { start: 0x100000n, size: 0x7ff00000n },
    ]);
    expect(parseIomemRam('00000000-00000000 : System RAM\n')).toBeNull();
  });

  it('records a PF, its VF BARs and VFs in the iovh-topology/1 shape', () => {
    const d = tempDir('iovh-capture-');
    dirs.push(d);
    const t = new FixtureTree(d.path);
    const pf = '0000:03:00.0';
    t.device(
      pf,
      {
        vendor: '0x8086',
        device: '0xe20b',
        class: '0x030000',
        subsystem_vendor: '0x8086',
        subsystem_device: '0x1100',
        revision: '0x00',
        sriov_totalvfs: '24',
        sriov_numvfs: '1',
        sriov_offset: '1',
        sriov_stride: '1',
        sriov_vf_device: 'e20b',
        sriov_drivers_autoprobe: '0',
      },
      {
        driver: 'xe',
        group: 13,
        resource: resourceText({
          0: [0x88000000n, 16n * MiB, 0x140204],
          2: [0x4000000000n, 16n * GiB, 0x14220c],
          7: [0x89000000n, 24n * 16n * MiB, 0x140204],
          9: [0x4400000000n, 24n * GiB, 0x14220c],
        }),
      },
    );
    t.file(`/sys/devices/pci0000:00/${pf}/config`, configWithVfRebar());
    t.vf(pf, 0, '0000:03:00.1', { vendor: '0x8086', device: '0xe20b' }, { driver: 'vfio-pci', group: 21 });
    t.file('/sys/devices/pci0000:00/0000:03:00.1/driver_override', 'vfio-pci\n');
    t.file(`/sys/devices/pci0000:00/${pf}/sriov_admin/vf1/profile/vram_quota`, `${2n * GiB}\n`);
    t.file('/proc/sys/kernel/osrelease', '7.2.13\n');
    t.file('/proc/iomem', '00100000-7fffffff : System RAM\n100000000-47fffffff : System RAM\n');
    t.file('/sys/class/dmi/id/sys_vendor', 'ACME\n');
    t.file('/sys/class/dmi/id/product_name', 'Lab 1\n');
    const { topology, notes } = capture(createNativeBackend({ root: d.path }));
    expect(topology.schema).toBe('iovh-topology/1');
    expect(topology.machine).toBe('ACME Lab 1');
    expect(topology.kernel).toEqual({ release: '7.2.13' });
    expect(topology.ram).toEqual([
      { start: '0x100000', size: '0x7ff00000' },
      { start: '0x100000000', size: '0x380000000' },
    ]);
    const dev = topology.devices[0]!;
    expect(dev).toMatchObject({
      bdf: pf,
      vendor: '0x8086',
      device: '0xe20b',
      class: '0x030000',
      subsystemVendor: '0x8086',
      subsystemDevice: '0x1100',
      revision: '0x00',
      driver: 'xe',
      iommuGroup: 13,
      parent: 'pci0000:00',
    });
    expect(dev.bars).toEqual([
      { index: 0, start: '0x88000000', size: '0x1000000', kind: 'mem64', prefetchable: false },
      { index: 2, start: '0x4000000000', size: '0x400000000', kind: 'mem64', prefetchable: true },
    ]);
    expect(dev.sriov).toMatchObject({
      totalvfs: 24,
      numvfs: 1,
      offset: 1,
      stride: 1,
      vfDevice: '0xe20b',
      autoprobe: false,
    });
    expect(dev.sriov.vfBars).toEqual([
      { index: 0, start: '0x89000000', size: '0x1000000', kind: 'mem64', prefetchable: false },
      {
        index: 2,
        start: '0x4400000000',
        size: '0x40000000',
        kind: 'mem64',
        prefetchable: true,
        resizableSizes: '0x7ffe',
      },
    ]);
    expect(dev.sriov.vfs).toEqual([
      { index: 0, driver: 'vfio-pci', driverOverride: 'vfio-pci', iommuGroup: 21, vramQuota: '0x80000000' },
    ]);
    expect(dev.xe).toEqual({ vram: '0x400000000', tiles: 1, provisioning: 'sriov_admin' });
    expect(notes).toEqual([
      `${pf}: VRAM size taken from BAR 2 (0x400000000): no xe render node answered DRM_XE_DEVICE_QUERY_MEM_REGIONS`,
    ]);
  });
});

describe('capture of an igb PF (sriov_totalvfs below the capability TotalVFs)', () => {
  it('writes power-of-two VF BARs the mock accepts, with or without VFs', () => {
    for (const vfs of [0, 2]) {
      const d = tempDir('iovh-capture-');
      dirs.push(d);
      igbTree(new FixtureTree(d.path), vfs);
      const { topology } = capture(createNativeBackend({ root: d.path }));
      expect(topology.devices[0]!.sriov.vfBars.map((b) => [b.index, b.start, b.size])).toEqual([
        [0, '0xfe800000', '0x4000'],
        [3, '0xfe820000', '0x4000'],
      ]);
      const parsed = parseTopology(JSON.parse(JSON.stringify(topology)), 'topology igb.json');
      expect(parsed.devices[0]!.sriov!.vfBars.map((b) => b.size)).toEqual([0x4000n, 0x4000n]);
    }
  });
});

describe('capture of a PF with an I/O-port BAR (QEMU igb: BAR 2, 32 ports at 0xc000)', () => {
  it('keeps the I/O BAR and the mock loads it even where RAM has the same numbers', () => {
    const d = tempDir('iovh-capture-');
    dirs.push(d);
    igbTree(new FixtureTree(d.path), 0, true).file(
      '/proc/iomem',
      '00001000-0009efff : System RAM\n00100000-1ffdffff : System RAM\n',
    );
    const { topology } = capture(createNativeBackend({ root: d.path }));
    expect(topology.devices[0]!.bars.find((b) => b.index === 2)).toEqual({
      index: 2,
      start: '0xc000',
      size: '0x20',
      kind: 'io',
      prefetchable: false,
    });
    const parsed = parseTopology(JSON.parse(JSON.stringify(topology)), 'topology igb.json');
    expect(parsed.ram[0]).toEqual({ start: 0x1000n, size: 0x9e000n });
    expect(parsed.devices[0]!.bars.map((b) => [b.index, b.kind])).toEqual([
      [0, 'mem32'],
      [1, 'mem32'],
      [2, 'io'],
      [3, 'mem64'],
    ]);
  });
});

describe('capture of the bridges above a PF (docs/topology.md "Bridges and ACS")', () => {
  /** Config space whose extended list holds ARI at 0x100, then ACS at 0x140 with capability `cap`. */
  const withAcs = (cap: number | null): Uint8Array => {
    const b = new Uint8Array(4096);
    const dv = new DataView(b.buffer);
    dv.setUint32(0x100, ((cap === null ? 0 : 0x140) << 20) | (1 << 16) | 0x000e, true);
    if (cap !== null) {
      dv.setUint32(0x140, (1 << 16) | 0x000d, true);
      dv.setUint16(0x144, cap, true);
    }
    return b;
  };

  it('reads the ACS capability and IDs of each port on the path and the host bridge, and the mock loads them', () => {
    const d = tempDir('iovh-capture-acs-');
    dirs.push(d);
    const t = new FixtureTree(d.path);
    // q35: host bridge 00:00.0, root port 00:01.0 (ACS), an xio3130 switch (no ACS), igb below it.
    const port = (bdf: string, dir: string, vendor: string, device: string, config: Uint8Array | null) => {
      t.file(`${dir}/vendor`, `${vendor}\n`).file(`${dir}/device`, `${device}\n`).file(`${dir}/class`, '0x060400\n');
      if (config) t.file(`${dir}/config`, config);
      t.link(`/sys/bus/pci/devices/${bdf}`, `../../..${dir.slice(4)}`);
    };
    t.device('0000:00:00.0', { vendor: '0x8086', device: '0x29c0', class: '0x060000' });
    const rp = '/sys/devices/pci0000:00/0000:00:01.0';
    port('0000:00:01.0', rp, '0x1b36', '0x000c', withAcs(0x5f));
    port('0000:01:00.0', `${rp}/0000:01:00.0`, '0x104c', '0x8232', withAcs(null));
    // The downstream port's config as a user without root reads it: the first 256 bytes.
    port('0000:02:00.0', `${rp}/0000:01:00.0/0000:02:00.0`, '0x104c', '0x8233', new Uint8Array(256));
    igbPfAt(t, `${rp}/0000:01:00.0/0000:02:00.0/0000:03:00.0`, {
      0: [0xfe400000n, 128n * 1024n, 0x40200],
      7: [0xfe800000n, 8n * 16n * 1024n, 0x14220c],
    });
    const { topology, notes } = capture(createNativeBackend({ root: d.path }));
    expect(topology.devices.map((x) => [x.bdf, x.parent])).toEqual([
      ['0000:03:00.0', 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0'],
    ]);
    expect(topology.bridges).toEqual([
      { bdf: '0000:00:00.0', vendor: '0x8086', device: '0x29c0' },
      { bdf: '0000:00:01.0', vendor: '0x1b36', device: '0x000c', acs: '0x005f' },
      { bdf: '0000:01:00.0', vendor: '0x104c', device: '0x8232', acs: null },
      { bdf: '0000:02:00.0', vendor: '0x104c', device: '0x8233' },
    ]);
    expect(notes).toContain(
      'ACS of 1 bridge not captured (config space past 256 bytes needs root): the mock assumes ACS on root and downstream ports, none on upstream ports',
    );
    expect(parseTopology(topology, 'captured').bridges.map((b) => [b.bdf, b.acs])).toEqual([
      ['0000:00:00.0', undefined],
      ['0000:00:01.0', 0x5f],
      ['0000:01:00.0', null],
      ['0000:02:00.0', undefined],
    ]);
  });

  /** Config space of a PCIe device of `type` (PCI_EXP_TYPE_*): status has a capability list, PCIe cap at 0x40. */
  const pcie = (type: number): Uint8Array => {
    const b = new Uint8Array(256);
    b[0x06] = 0x10;
    b[0x34] = 0x40;
    b[0x40] = 0x10;
    b[0x42] = (type << 4) | 2;
    return b;
  };

  /** A root bus without 00.0: `first` is on it before the root port 00:1c.0 above an igb PF. */
  const noHostBridge = (first: { bdf: string; class: string; config: Uint8Array }) => {
    const d = tempDir('iovh-capture-hb-');
    dirs.push(d);
    const t = new FixtureTree(d.path);
    const at = (bdf: string, dir: string, klass: string, config: Uint8Array) => {
      t.file(`${dir}/vendor`, '0x8086\n').file(`${dir}/device`, '0x1234\n').file(`${dir}/class`, `${klass}\n`);
      t.file(`${dir}/config`, config).link(`/sys/bus/pci/devices/${bdf}`, `../../..${dir.slice(4)}`);
    };
    at(first.bdf, `/sys/devices/pci0000:00/${first.bdf}`, first.class, first.config);
    const rp = '/sys/devices/pci0000:00/0000:00:1c.0';
    at('0000:00:1c.0', rp, '0x060400', pcie(4));
    igbPfAt(t, `${rp}/0000:03:00.0`, { 0: [0xfe400000n, 128n * 1024n, 0x40200] });
    return capture(createNativeBackend({ root: d.path }));
  };

  // drivers/pci/p2pdma.c pci_host_bridge_dev: the first device of the root bus if 00.0 or a root port, else none.
  it('records the first device of a root bus without 00.0 and its kind: the mock checks the whitelist against it', () => {
    /** The device whose IDs the mock's PF<->VF map (through the host bridge: ACS redirect on 00:1c.0) names. */
    const checked = (topology: ReturnType<typeof capture>['topology']): string | null => {
      const parsed = parseTopology(topology, 'captured');
      const pf = { bdf: '0000:03:00.0', parentPath: 'pci0000:00/0000:00:1c.0', physfn: null };
      const vf = { bdf: '0000:03:10.0', parentPath: pf.parentPath, physfn: pf };
      const warned = new PcieFabric(parsed).route(pf, vf).warnings.find(([, w]) => w.startsWith('Host bridge not in'));
      return warned?.[0] ?? null;
    };
    const other = noHostBridge({ bdf: '0000:00:01.0', class: '0x060400', config: pcie(4) });
    expect(other.topology.bridges).toEqual([
      { bdf: '0000:00:01.0', vendor: '0x8086', device: '0x1234', rootPort: true },
      { bdf: '0000:00:1c.0', vendor: '0x8086', device: '0x1234' },
    ]);
    expect(checked(other.topology)).toBe('0000:00:01.0');
    // An endpoint first (an IOMMU at 00.2): the kernel checks nothing, and neither does the mock.
    const none = noHostBridge({ bdf: '0000:00:00.2', class: '0x080600', config: pcie(9) });
    expect(none.topology.bridges?.[0]).toEqual({
      bdf: '0000:00:00.2',
      vendor: '0x8086',
      device: '0x1234',
      rootPort: false,
    });
    expect(checked(none.topology)).toBeNull();
    // Without root the config stops at 64 bytes: the class (PCI-to-PCI bridge) tells a root port.
    const unread = noHostBridge({ bdf: '0000:00:01.0', class: '0x060400', config: new Uint8Array(64) });
    expect(unread.topology.bridges?.[0]?.rootPort).toBe(true);
    // The path's own root port first: both pick it, nothing more to record.
    const same = noHostBridge({ bdf: '0000:00:1d.0', class: '0x060400', config: pcie(4) });
    expect(same.topology.bridges?.map((b) => b.bdf)).toEqual(['0000:00:1c.0']);
    expect(checked(same.topology)).toBe('0000:00:1c.0');
  });
});
