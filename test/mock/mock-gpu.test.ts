// iovh's mock GPU in the mock kernel (src/mock/mock-gpu.ts) follows its PF
// driver (kernel/iovh-mock-gpu/main.c): quotas round up to whole blocks and
// take the lowest free ones, a block another VF holds is EBUSY, more than a
// VF's BAR 2 holds is ENOSPC, and enabling VFs with no quota set shares the
// free LMEM evenly; a VF's BAR 2 reaches the PF's LMEM through its blocks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/mock/backend.js';
import type { Topology } from '../../src/mock/topology.js';
import { scratchDir } from '../support/scratch.js';

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'qemu', 'fixtures', 'mock-gpu-rfc-v1.json'), 'utf8'),
) as { topology: Topology };

/** The guest's machine with its VFs disabled and no LMEM given out. */
function fresh(): Topology {
  const t = structuredClone(fixture.topology) as Topology & {
    devices: { mockGpu: { blocks: number[][] }; sriov: { numvfs: number; vfs: unknown[] } }[];
  };
  const d = t.devices[0]!;
  d.mockGpu.blocks = [[], [], [], []];
  d.sriov.numvfs = 0;
  d.sriov.vfs = [];
  return t;
}

const PF = '/sys/bus/pci/devices/0000:01:00.0';
const quota = (vf: number) => `${PF}/sriov_admin/vf${vf}/profile/vram_quota`;
const blocks = (vf: number) => `${PF}/sriov_admin/vf${vf}/lmem_blocks`;

describe("the mock GPU's PF driver", () => {
  it('provisions in whole blocks, the lowest free first, and refuses what does not fit', () => {
    const b = createMockBackend({ topology: fresh(), profile: 'rfc-v1' });
    try {
      const fs = b.fs;
      expect(fs.readText(`${PF}/sriov_admin/geometry`)).toBe(
        'lmem 67108864 block 2097152 blocks 32 vf_lmem 16777216 slots 8 total_vfs 4\n',
      );
      fs.writeFile(quota(1), '3000000');
      expect(fs.readText(quota(1))).toBe(`${4n << 20n}\n`);
      expect(fs.readText(blocks(1))).toBe('0 1\n');
      fs.writeFile(blocks(2), '5 4');
      expect(() => fs.writeFile(blocks(3), '4')).toThrow(/EBUSY/);
      expect(() => fs.writeFile(blocks(3), '32')).toThrow(/EINVAL/);
      expect(() => fs.writeFile(quota(3), String(32n << 20n))).toThrow(/ENOSPC/);
      fs.writeFile(quota(3), '1');
      expect(fs.readText(blocks(3))).toBe('2\n');
    } finally {
      b.close();
    }
  });

  it('shares the free LMEM evenly when VFs are enabled with no quota set', () => {
    const b = createMockBackend({ topology: fresh(), profile: 'rfc-v1' });
    try {
      b.fs.writeFile(`${PF}/sriov_numvfs`, '4');
      // 32 blocks over 4 VFs, at most a BAR's 8 slots each (main.c mgpu_auto_provision).
      for (let vf = 1; vf <= 4; vf++) expect(b.fs.readText(quota(vf))).toBe(`${16n << 20n}\n`);
      b.fs.writeFile(`${PF}/sriov_numvfs`, '0');
      for (let vf = 1; vf <= 4; vf++) expect(b.fs.readText(quota(vf))).toBe('0\n');
    } finally {
      b.close();
    }
  });
});

describe("the mock GPU's device outlives its driver", () => {
  // The LMEM and the block table are the device's (hw/misc/iovh-mock-gpu.c); the driver's remove turns SR-IOV off
  // and empties the table, and its probe starts from an empty table whatever the device held (main.c mgpu_remove,
  // mgpu_probe).
  it('keeps the LMEM across an unbind and a bind, and the driver comes back with no VF provisioned', () => {
    const b = createMockBackend({ topology: structuredClone(fixture.topology), profile: 'rfc-v1' });
    try {
      const bar2 = b.kernel.platform.pci.device('0000:01:00.0')!.bar(2)!.start;
      const data = Uint8Array.from([1, 2, 3, 4]);
      b.kernel.platform.bus.write(bar2 + 0x1000n, data);
      expect(b.fs.readText(blocks(1))).not.toBe('\n');
      b.fs.writeFile('/sys/bus/pci/drivers/iovh_mock_gpu/unbind', '0000:01:00.0');
      expect(b.fs.readText(`${PF}/sriov_numvfs`)).toBe('0\n');
      expect(b.kernel.platform.bus.read(bar2 + 0x1000n, 4)).toEqual(data);
      b.fs.writeFile('/sys/bus/pci/drivers/iovh_mock_gpu/bind', '0000:01:00.0');
      for (let vf = 1; vf <= 4; vf++) expect(b.fs.readText(blocks(vf))).toBe('\n');
      expect(b.kernel.platform.bus.read(bar2 + 0x1000n, 4)).toEqual(data);
    } finally {
      b.close();
    }
  });
});

describe('the RFC 7/8 translation looks for the owning VF as rfc_find_vf_dev() does', () => {
  // xlate.c rfc_find_vf_dev walks every device on the PF's bus that is not a PF, boot-time devices first; one
  // without a BAR 2 has start + len - PAGE_SIZE wrap to nearly 2^64 and matches any address, and
  // pci_iov_vf_id() then refuses it (-EINVAL): the translation fails ENOENT without its quirk message.
  it('a function on the bus without a BAR 2 is found first: ENOENT, nothing logged; without it the VF is found', () => {
    const t = structuredClone(fixture.topology) as Topology & { devices: unknown[] };
    t.devices.push({
      bdf: '0000:01:00.1',
      vendor: '0x8086',
      device: '0x4f90',
      class: '0x040300',
      subsystemVendor: '0x8086',
      subsystemDevice: '0x1100',
      revision: '0x00',
      driver: null,
      driverOverride: null,
      iommuGroup: 7,
      parent: 'pci0000:00/0000:00:01.0',
      bars: [{ index: 0, start: '0xfd808000', size: '0x4000', kind: 'mem64', prefetchable: false }],
    });
    const b = createMockBackend({ topology: t, profile: 'rfc-v1' });
    try {
      const k = b.kernel.platform;
      const pf = k.pci.device('0000:01:00.0')!;
      const mg = k.iovhIc.mockGpuOf(pf)!;
      const at = pf.sriov!.vfs[0]!.bar(2)!.start;
      const ranges = [{ start: at, end: at + 4095n }];
      const onBus = k.pci.devicesOnBus(0, 1);
      const kmsg = () => b.fs.readRecords('/dev/kmsg').join('');
      const logged = kmsg();
      expect(mg.translate(ranges, () => false, onBus)).toBe('ENOENT');
      expect(kmsg()).toBe(logged);
      // VF 1's first block is PF block 9 (the capture's lmem_blocks).
      expect(
        mg.translate(
          ranges,
          () => false,
          onBus.filter((d) => d.bdf !== '0000:01:00.1'),
        ),
      ).toEqual([{ addr: pf.bar(2)!.start + 9n * (2n << 20n), len: 4096n }]);
    } finally {
      b.close();
    }
  });
});

describe("the mock GPU's provisioning in the state file", () => {
  // The driver's provisioning is kernel state, kept across invocations as xe's is; a state file without it
  // (written before) boots with the topology's lmem_blocks.
  it('keeps the blocks, the custom quotas and the automatic provisioning from one invocation to the next', () => {
    const dir = scratchDir('iovh-mock-gpu-state-');
    const statePath = join(dir, 'state.json');
    const topology = fresh();
    const a = createMockBackend({ topology, profile: 'rfc-v1', statePath });
    a.fs.writeFile(blocks(2), '7 3');
    a.fs.writeFile(`${PF}/sriov_numvfs`, '2');
    a.close();
    const b = createMockBackend({ topology, statePath });
    try {
      expect(b.fs.readText(`${PF}/sriov_numvfs`)).toBe('2\n');
      expect(b.fs.readText(blocks(1))).toBe('\n');
      expect(b.fs.readText(blocks(2))).toBe('7 3\n');
      // Still custom: disabling VFs keeps VF 2's blocks (main.c mgpu_release_auto only undoes auto provisioning).
      b.fs.writeFile(`${PF}/sriov_numvfs`, '0');
      expect(b.fs.readText(blocks(2))).toBe('7 3\n');
      b.fs.writeFile(blocks(2), '');
      b.fs.writeFile(`${PF}/sriov_numvfs`, '4');
    } finally {
      b.close();
    }
    const c = createMockBackend({ topology, statePath });
    try {
      for (let vf = 1; vf <= 4; vf++) expect(c.fs.readText(quota(vf))).toBe(`${16n << 20n}\n`);
      // Automatic: disabling VFs gives the LMEM back.
      c.fs.writeFile(`${PF}/sriov_numvfs`, '0');
      for (let vf = 1; vf <= 4; vf++) expect(c.fs.readText(quota(vf))).toBe('0\n');
    } finally {
      c.close();
    }
  });

  it('refuses a state file whose mock GPU provisioning is malformed or does not fit the device', () => {
    const dir = scratchDir('iovh-mock-gpu-state-');
    const statePath = join(dir, 'state.json');
    const topology = fresh();
    createMockBackend({ topology, profile: 'rfc-v1', statePath }).close();
    const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { devices: { mockGpu: { blocks: unknown } }[] };
    saved.devices[0]!.mockGpu.blocks = [[-1]];
    writeFileSync(statePath, JSON.stringify(saved));
    expect(() => createMockBackend({ topology, statePath })).toThrow(/devices\[0\]\.mockGpu/);
    saved.devices[0]!.mockGpu.blocks = [[32]];
    writeFileSync(statePath, JSON.stringify(saved));
    expect(() => createMockBackend({ topology, statePath })).toThrow(/does not fit its mock GPU/);
  });
});
