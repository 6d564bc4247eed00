import { describe, expect, it } from 'vitest';
import {
  VARIANTS,
  DEFAULT_VARIANTS,
  pickVariants,
  moduleNames,
  qemuArgs,
  qemuOptValue,
  NUM_VFS,
  MOCK_GPU_VARIANT,
  mockGpuDevice,
} from '../../scripts/qemu-ci/variants.mjs';

const machine = { kernel: '/k/vmlinuz', initrd: '/k/initrd', resultsDir: '/r/run,1', append: 'iovh.variant=x' };

function arg(args: string[], flag: string, match: RegExp): string | undefined {
  return args.filter((_, i) => args[i - 1] === flag).find((v) => match.test(v));
}

describe('variants', () => {
  it('cover igb and nvme, intel and virtio IOMMUs; the default runs each once', () => {
    expect(new Set(VARIANTS.map((v) => v.device))).toEqual(new Set(['igb', 'nvme']));
    expect(new Set(VARIANTS.map((v) => v.iommu))).toEqual(new Set(['intel', 'virtio']));
    const def = pickVariants(DEFAULT_VARIANTS);
    expect(new Set(def.map((v) => v.device)).size).toBe(2);
    expect(new Set(def.map((v) => v.iommu)).size).toBe(2);
    expect(pickVariants(['all'])).toHaveLength(VARIANTS.length);
    expect(() => pickVariants(['igb-amd-iommu'])).toThrow(/unknown variant 'igb-amd-iommu'/);
  });

  it('loads virtio_iommu first, before any device driver', () => {
    const v = pickVariants(['nvme-virtio-iommu'])[0]!;
    const mods = moduleNames(v);
    expect(mods[0]).toBe('virtio_iommu');
    expect(mods).toContain('nvme');
    expect(mods).toContain('vfio-pci');
    expect(moduleNames(pickVariants(['igb-intel-iommu'])[0]!)).not.toContain('virtio_iommu');
  });
});

describe('qemuArgs', () => {
  it("puts iovh's mock GPU behind a port reserving the next bus, ivshmem on its own port, the system's firmware", () => {
    expect(VARIANTS).not.toContain(MOCK_GPU_VARIANT);
    const a = qemuArgs(MOCK_GPU_VARIANT, machine);
    expect(a.slice(0, 4)).toEqual(['-L', '/usr/share/qemu', '-L', '/usr/share/seabios']);
    expect(arg(a, '-device', /^pcie-root-port,id=rp1,/)).toContain('bus-reserve=1');
    expect(arg(a, '-device', /^iovh-mock-gpu,/)).toBe(
      'iovh-mock-gpu,bus=rp1,id=pf0,total-vfs=4,vf-offset=0xfd,vf-stride=1,lmem-size=64M,vf-lmem-size=16M,block-size=2M',
    );
    expect(arg(a, '-device', /^ivshmem-plain,/)).toBe('ivshmem-plain,memdev=ivshmem0-mem,bus=rp2,id=ivshmem0');
    expect(arg(a, '-append', /./)).toContain('xe.force_probe=!*');
    expect(moduleNames(MOCK_GPU_VARIANT)).not.toContain('mock-gpu');
    expect(mockGpuDevice({ 'total-vfs': '8', 'lmem-size': '1G' })).toContain('total-vfs=8,vf-offset=0xfd');
    expect(mockGpuDevice({ 'lmem-size': '1G' })).toContain('lmem-size=1G,');
  });

  it('boots q35 under TCG with panic=-1, no reboot, the serial console on stdout', () => {
    const a = qemuArgs(pickVariants(['igb-intel-iommu'])[0]!, machine);
    expect(a.join(' ')).toContain('-machine q35 -accel tcg');
    expect(a).toContain('-no-reboot');
    expect(arg(a, '-serial', /./)).toBe('stdio');
    const append = arg(a, '-append', /./)!;
    expect(append).toMatch(/^console=ttyS0 panic=-1 /);
    expect(append).toContain('intel_iommu=on');
    expect(append.endsWith('iovh.variant=x')).toBe(true);
    expect(arg(a, '-device', /^intel-iommu/)).toBe('intel-iommu');
    expect(arg(a, '-device', /^igb,/)).toBe('igb,bus=rp1,id=pf0');
  });

  it('puts igb behind an xio3130 switch below the root port in the switch variant (import/p2p-route)', () => {
    const a = qemuArgs(pickVariants(['igb-switch-intel-iommu'])[0]!, machine);
    expect(arg(a, '-device', /^x3130-upstream/)).toBe('x3130-upstream,id=usp1,bus=rp1');
    expect(arg(a, '-device', /^xio3130-downstream/)).toBe('xio3130-downstream,id=dsp1,bus=usp1,chassis=2,slot=0');
    expect(arg(a, '-device', /^igb,/)).toBe('igb,bus=dsp1,id=pf0');
    expect(DEFAULT_VARIANTS).not.toContain('igb-switch-intel-iommu');
  });

  it('gives virtio-iommu the unsafe-interrupts parameter type1 needs', () => {
    const a = qemuArgs(pickVariants(['nvme-virtio-iommu'])[0]!, machine);
    expect(arg(a, '-device', /^virtio-iommu/)).toBe('virtio-iommu-pci');
    expect(arg(a, '-append', /./)).toContain('vfio_iommu_type1.allow_unsafe_interrupts=1');
    const nvme = arg(a, '-device', /^nvme,/)!;
    // QEMU: max_ioqpairs - sriov_vq_flexible >= 2 (hw/nvme/ctrl.c).
    const n = (k: string) => Number(new RegExp(`${k}=(\\d+)`).exec(nvme)![1]);
    expect(n('sriov_max_vfs')).toBe(NUM_VFS);
    expect(n('max_ioqpairs') - n('sriov_vq_flexible')).toBeGreaterThanOrEqual(2);
  });

  it('shares the host root read-only and the results folder writable, commas escaped', () => {
    const a = qemuArgs(pickVariants(['igb-intel-iommu'])[0]!, machine);
    expect(arg(a, '-fsdev', /id=hostroot/)).toBe('local,id=hostroot,path=/,security_model=none,readonly=on');
    expect(arg(a, '-fsdev', /id=results/)).toBe('local,id=results,path=/r/run,,1,security_model=none');
    expect(qemuOptValue('a,b,,c')).toBe('a,,b,,,,c');
  });
});
