import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createNativeBackend } from '../../src/backend/native.js';
import { discover, perVfBarSize, roleOf } from '../../src/machine/topology.js';
import { SysReader, parseOverride, parseResource, barKind } from '../../src/machine/sysfs.js';
import { topologyJson, topologyTree } from '../../src/host/render.js';
import { FixtureTree, igbTree, resourceText } from './fixture-tree.js';
import { mockMachine, tempDir } from './helpers.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

/** A BMG-like xe PF with 2 of 24 VFs, VF 1 on vfio-pci, provisioning in sriov_admin. */
function labMachine(): string {
  const d = tempDir('iovh-fixture-');
  dirs.push(d);
  const t = new FixtureTree(d.path);
  const pf = '0000:03:00.0';
  t.device(
    pf,
    {
      vendor: '0x8086',
      device: '0xe20b',
      class: '0x030000',
      sriov_totalvfs: '24',
      sriov_numvfs: '2',
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
        9: [0x4400000000n, 24n * GiB, 0x14220c],
      }),
    },
  );
  t.vf(
    pf,
    0,
    '0000:03:00.1',
    { vendor: '0x8086', device: '0xe20b' },
    { driver: 'vfio-pci', group: 21, resource: resourceText({ 2: [0x4400000000n, GiB, 0x14220c] }) },
  );
  t.vf(pf, 1, '0000:03:00.2', { vendor: '0x8086', device: '0xe20b' }, { group: 22 });
  t.file('/sys/devices/pci0000:00/0000:03:00.1/driver_override', 'vfio-pci\n');
  for (let vf = 1; vf <= 24; vf++)
    t.file(
      `/sys/devices/pci0000:00/${pf}/sriov_admin/vf${vf}/profile/vram_quota`,
      vf <= 2 ? `${vf * 1024 * 1024 * 1024}\n` : '0\n',
    );
  t.device('0000:00:02.0', { vendor: '0x8086', device: '0x1234', class: '0x060400' }, {});
  return d.path;
}

describe('topology discovery', () => {
  it('reads PFs, VFs, drivers, overrides, groups, BARs and quotas through the native FileOps', () => {
    const b = createNativeBackend({ root: labMachine() });
    const t = discover(b.fs);
    expect(t.pfs.map((p) => p.bdf)).toEqual(['0000:03:00.0']);
    const pf = t.pfs[0]!;
    expect(pf).toMatchObject({
      vendor: 0x8086,
      device: 0xe20b,
      driver: 'xe',
      totalvfs: 24,
      numvfs: 2,
      autoprobe: false,
      offset: 1,
      stride: 1,
      vfDevice: 0xe20b,
      iommuGroup: 13,
    });
    expect(pf.provisioning?.kind).toBe('sriov_admin');
    expect(pf.bars.filter((x) => x.kind !== 'none').map((x) => [x.index, x.size, x.kind, x.prefetchable])).toEqual([
      [0, 16n * MiB, 'mem64', false],
      [2, 16n * GiB, 'mem64', true],
    ]);
    // The PF's IOV resource holds totalvfs VF BARs (drivers/pci/iov.c sriov_init).
    expect(pf.vfBars.find((x) => x.index === 2)?.size).toBe(GiB);
    expect(pf.vfs.map((v) => [v.id, v.bdf, v.driver, v.override, v.iommuGroup, v.vramQuota])).toEqual([
      [1, '0000:03:00.1', 'vfio-pci', 'vfio-pci', 21, GiB],
      [2, '0000:03:00.2', null, null, 22, 2n * GiB],
    ]);
    expect(t.iommuGroups).toBe(3);
    const r = new SysReader(b.fs);
    expect(roleOf(r, '0000:03:00.2')).toEqual({ role: 'vf', pf: '0000:03:00.0', id: 2 });
    expect(roleOf(r, '0000:00:02.0')).toEqual({ role: 'other' });
    expect(roleOf(r, '0000:09:00.0')).toEqual({ role: 'absent' });
  });

  it('renders a tree for people and JSON for scripts', () => {
    const b = createNativeBackend({ root: labMachine() });
    const t = discover(b.fs);
    const extras = { backend: { name: 'native', reason: 'fixture' }, pendingWrites: 3 };
    const tree = topologyTree(t, extras);
    expect(tree).toContain('0000:03:00.0  8086:e20b  xe  VFs 2/24  autoprobe off  offset 1 stride 1  group 13');
    expect(tree).toContain('├─ VF 1  0000:03:00.1  vfio-pci (override vfio-pci)  group 21  VRAM 1 GiB');
    expect(tree).toContain('└─ VF 2  0000:03:00.2  no driver  group 22  VRAM 2 GiB');
    expect(tree).toContain('3 journaled writes not yet undone');
    const json = JSON.parse(JSON.stringify(topologyJson(t, extras))) as {
      pfs: { vfs: { vramQuota: number }[]; bars: { start: string; size: number }[] }[];
    };
    expect(json.pfs[0]!.vfs[1]!.vramQuota).toBe(2 * 1024 ** 3);
    expect(json.pfs[0]!.bars[1]).toMatchObject({ start: '0x4000000000', size: 16 * 1024 ** 3 });
  });

  it('shows a VF BAR the PF driver resized next to the per-VF slot, in the tree and in JSON', () => {
    // xe grew VF BAR 2 to 8 GiB for 2 of 24 VFs: the slot in the IOV resource stays 24 GiB / 24.
    const d = tempDir('iovh-fixture-');
    dirs.push(d);
    const t = new FixtureTree(d.path);
    const pf = '0000:03:00.0';
    t.device(
      pf,
      {
        vendor: '0x8086',
        device: '0xe20b',
        class: '0x030000',
        sriov_totalvfs: '24',
        sriov_numvfs: '2',
        sriov_offset: '1',
        sriov_stride: '1',
      },
      {
        driver: 'xe',
        group: 13,
        resource: resourceText({
          0: [0x88000000n, 16n * MiB, 0x140204],
          7: [0x89000000n, 24n * 16n * MiB, 0x140204],
          9: [0x4400000000n, 24n * GiB, 0x14220c],
        }),
      },
    );
    for (const i of [0, 1]) {
      const vfBar0 = 0x89000000n + BigInt(i) * 16n * MiB;
      t.vf(
        pf,
        i,
        `0000:03:00.${i + 1}`,
        { vendor: '0x8086', device: '0xe20b' },
        {
          group: 14 + i,
          resource: resourceText({
            0: [vfBar0, 16n * MiB, 0x140204],
            2: [0x4400000000n + BigInt(i) * 8n * GiB, 8n * GiB, 0x14220c],
          }),
        },
      );
    }
    const topo = discover(createNativeBackend({ root: d.path }).fs);
    const extras = { backend: { name: 'native', reason: 'fixture' }, pendingWrites: 0 };
    const tree = topologyTree(topo, extras);
    expect(tree).toContain(
      '  VF BARs (per-VF slot): 0: 16 MiB mem64, 2: 1 GiB mem64 pref (resized to 8 GiB by the PF driver)\n',
    );
    expect(tree).toContain('BARs: 0: 16 MiB mem64, 2: 8 GiB mem64 pref');
    const json = JSON.parse(JSON.stringify(topologyJson(topo, extras))) as {
      pfs: { vfBars: { index: number; size: number; resizedTo: number | null }[] }[];
    };
    expect(json.pfs[0]!.vfBars.map((b) => [b.index, b.size, b.resizedTo])).toEqual([
      [0, 16 * 2 ** 20, null],
      [2, 2 ** 30, 8 * 2 ** 30],
    ]);
  });

  it('says "not available" for provisioning on a PF without xe, and works the same over the mock kernel', () => {
    const t = discover(mockMachine().fs);
    const igb = t.pfs.find((p) => p.driver === 'igb')!;
    expect(igb.provisioning).toBeNull();
    expect(igb.provisioningNote).toMatch(/^not available: 0000:01:00.0 has driver igb/);
    expect(t.pfs.find((p) => p.driver === 'xe')!.provisioning?.kind).toBe('sriov_admin');
  });

  it('parses sysfs texts as the kernel prints them', () => {
    expect(parseOverride('(null)\n')).toBeNull();
    expect(parseOverride('\n')).toBeNull();
    expect(parseOverride('vfio-pci\n')).toBe('vfio-pci');
    const lines = parseResource(resourceText({ 0: [0xa0000000n, 0x1000n, 0x40200], 4: [0xe000n, 0x20n, 0x40101] }));
    expect(lines).toHaveLength(13);
    expect(barKind(lines[0]!)).toBe('mem32');
    expect(barKind(lines[4]!)).toBe('io');
    expect(barKind(lines[1]!)).toBe('none');
  });
});

const KiB = 1024n;

function igbMachine(vfs: number): string {
  const d = tempDir('iovh-fixture-');
  dirs.push(d);
  igbTree(new FixtureTree(d.path), vfs);
  return d.path;
}

describe('VF BAR size (drivers/pci/iov.c sriov_init, pci_iov_add_virtfn)', () => {
  it('is a power of two even when the driver caps sriov_totalvfs below the capability (igb: 8 slots, 7 VFs)', () => {
    for (const vfs of [0, 2]) {
      const pf = discover(createNativeBackend({ root: igbMachine(vfs) }).fs).pfs[0]!;
      expect(pf.vfBars.filter((b) => b.kind !== 'none').map((b) => [b.index, b.start, b.size])).toEqual([
        [0, 0xfe800000n, 16n * KiB],
        [3, 0xfe820000n, 16n * KiB],
      ]);
    }
  });

  it("takes a VF's own BAR when VFs exist, the power-of-two rule otherwise, and ignores a BAR the PF driver grew", () => {
    // No VF: the largest power of two <= resource / sriov_totalvfs that divides the resource.
    expect(perVfBarSize(128n * KiB, 7, null)).toBe(16n * KiB);
    expect(perVfBarSize(24n * GiB, 24, null)).toBe(GiB);
    expect(perVfBarSize(3n * 64n * KiB, 2, null)).toBe(64n * KiB); // 96 KiB slot, 64 KiB divides 192 KiB
    expect(perVfBarSize(0n, 7, null)).toBe(0n);
    // Capability TotalVFs 8, driver cap 4: only a VF can tell 16 KiB from 32 KiB.
    expect(perVfBarSize(128n * KiB, 4, null)).toBe(32n * KiB);
    expect(perVfBarSize(128n * KiB, 4, 16n * KiB)).toBe(16n * KiB);
    // xe resized VF BAR 2 to 8 GiB for 2 of 24 VFs: the IOV resource still holds 24 x 1 GiB.
    expect(perVfBarSize(24n * GiB, 24, 8n * GiB)).toBe(GiB);
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 40 }),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: 254 }),
        (log2, cap, less) => {
          const bar = 1n << BigInt(log2);
          const totalvfs = Math.max(1, cap - Math.min(less, Math.floor(cap / 2)));
          const size = perVfBarSize(bar * BigInt(cap), totalvfs, null);
          expect(size & (size - 1n)).toBe(0n);
          expect((bar * BigInt(cap)) % size).toBe(0n);
          // Exact when the driver leaves more than half of the capability's VFs.
          if (2 * totalvfs > cap) expect(size).toBe(bar);
          expect(perVfBarSize(bar * BigInt(cap), totalvfs, bar)).toBe(bar);
        },
      ),
    );
  });
});
