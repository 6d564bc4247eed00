// GEM_CREATE, GEM_MMAP_OFFSET, mmap and GEM_CLOSE: validation in xe's order
// (xe_gem_create_ioctl), memory really behind the mapping, lifetimes.
import { describe, expect, it } from 'vitest';
import { PROT, XE } from '../../../src/uapi/constants.js';
import { parseMemRegions } from '../../../src/uapi/xe-query.js';
import type { XeDevice } from '../../../src/uapi/xe.js';
import { expectErrno, rig, SYS, VRAM, WB, WC } from './setup.js';

/** VRAM in use as DRM_XE_DEVICE_QUERY_MEM_REGIONS reports it. */
function vramUsed(xe: XeDevice): bigint {
  return parseMemRegions(xe.query(XE.QUERY_MEM_REGIONS)).find((m) => m.memClass === XE.MEM_REGION_CLASS_VRAM)!.used;
}

describe('DRM_IOCTL_XE_GEM_CREATE', () => {
  const bad: [
    string,
    { size: bigint; placement: number; flags?: number; cpuCaching?: number; vmId?: number },
    string,
  ][] = [
    ['no placement', { size: 0x10000n, placement: 0, cpuCaching: WB }, 'EINVAL'],
    ['unknown region bit', { size: 0x10000n, placement: 1 << 2, cpuCaching: WB }, 'EINVAL'],
    ['unknown flag', { size: 0x10000n, placement: SYS, flags: 0x10, cpuCaching: WB }, 'EINVAL'],
    ['size 0', { size: 0n, placement: SYS, cpuCaching: WB }, 'EINVAL'],
    ['size not page aligned', { size: 0x1800n, placement: SYS, cpuCaching: WB }, 'EINVAL'],
    [
      'NEEDS_VISIBLE_VRAM in system memory',
      { size: 0x10000n, placement: SYS, flags: XE.GEM_CREATE_FLAG_NEEDS_VISIBLE_VRAM, cpuCaching: WB },
      'EINVAL',
    ],
    ['cpu_caching 0', { size: 0x10000n, placement: SYS }, 'EINVAL'],
    ['cpu_caching 3', { size: 0x10000n, placement: SYS, cpuCaching: 3 }, 'EINVAL'],
    ['VRAM with WB', { size: 0x10000n, placement: VRAM, cpuCaching: WB }, 'EINVAL'],
    [
      'scanout with WB',
      { size: 0x10000n, placement: SYS, flags: XE.GEM_CREATE_FLAG_SCANOUT, cpuCaching: WB },
      'EINVAL',
    ],
    ['unknown VM', { size: 0x10000n, placement: SYS, cpuCaching: WB, vmId: 9 }, 'ENOENT'],
    ['VRAM BO not 64K sized', { size: 0x3000n, placement: VRAM, cpuCaching: WC }, 'EINVAL'],
    ['more VRAM than exists', { size: 64n << 30n, placement: VRAM, cpuCaching: WC }, 'ENOSPC'],
  ];
  for (const [what, args, code] of bad) {
    it(`refuses ${what} with ${code}`, () => {
      const rg = rig();
      const { b: mk, xe } = rg;
      expectErrno(() => mk.dev.xeGemCreate(xe.fd, args), code);
    });
  }

  it('checks placement before flags before size (the kernel order)', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    // every field is wrong: the first check, placement, decides
    expectErrno(() => mk.dev.xeGemCreate(xe.fd, { size: 1n, placement: 0, flags: 0x100, cpuCaching: 9 }), 'EINVAL');
    // unknown VM id is only looked up once everything else passed
    expectErrno(() => mk.dev.xeGemCreate(xe.fd, { size: 1n, placement: SYS, cpuCaching: WB, vmId: 7 }), 'EINVAL');
  });

  it('hands out the lowest free handle, starting at 1', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const a = mk.dev.xeGemCreate(xe.fd, { size: 0x1000n, placement: SYS, cpuCaching: WB });
    const b = mk.dev.xeGemCreate(xe.fd, { size: 0x1000n, placement: SYS, cpuCaching: WB });
    expect([a, b]).toEqual([1, 2]);
    mk.dev.drmGemClose(xe.fd, a);
    expect(mk.dev.xeGemCreate(xe.fd, { size: 0x1000n, placement: SYS, cpuCaching: WB })).toBe(1);
  });
});

describe('mmap of BOs', () => {
  it('maps a VRAM BO onto its VRAM and a system BO onto RAM', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const v = xe.gemCreate({ size: 0x20000n, placement: VRAM, cpuCaching: WC });
    const s = xe.gemCreate({ size: 0x20000n, placement: SYS, cpuCaching: WB });
    const mv = v.mmap();
    const ms = s.mmap();
    // memory is held once written: VRAM and RAM are sparse until then
    const resident = mk.kernel.residentBytes();
    mv.write(0x1ff00, new Uint8Array([1, 2, 3, 4]));
    ms.write(0x100, new Uint8Array([9, 8, 7]));
    expect([...mv.read(0x1ff00, 4)]).toEqual([1, 2, 3, 4]);
    expect([...ms.read(0x100, 3)]).toEqual([9, 8, 7]);
    expect(mk.kernel.residentBytes()).toBeGreaterThan(resident);
    // pattern fill and verify through the mapping, offsets relative to the span
    ms.fill(0x1000, 0x2000, 7n, 0x1000n);
    expect(ms.verify(0x1000, 0x2000, 7n, 0x1000n)).toBeNull();
    ms.write(0x1808, new Uint8Array(8));
    expect(ms.verify(0x1000, 0x2000, 7n, 0x1000n)?.offset).toBe(0x808);
  });

  it('bounds-checks, refuses writes without PROT_WRITE, and throws after munmap', () => {
    const { xe } = rig();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const ro = bo.mmap(PROT.READ);
    expect(() => ro.write(0, new Uint8Array(1))).toThrow(RangeError);
    expect(() => ro.read(0xffff, 2)).toThrow(RangeError);
    ro.unmap();
    ro.unmap();
    expect(() => ro.read(0, 1)).toThrow(RangeError);
  });

  it('needs a handle in this file (EACCES), a known offset (EINVAL), page alignment (EINVAL)', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const off = bo.mmapOffset();
    expect(off).toBe(0x1_0000_0000n);
    const other = mk.dev.open('/dev/dri/renderD128', 2);
    expectErrno(() => mk.dev.mmap(other, off, 0x1000, PROT.READ), 'EACCES');
    expectErrno(() => mk.dev.mmap(xe.fd, off + 0x800n, 0x1000, PROT.READ), 'EINVAL');
    expectErrno(() => mk.dev.mmap(xe.fd, off, 0x20000, PROT.READ), 'EINVAL');
    expectErrno(() => mk.dev.mmap(xe.fd, 0x2_0000_0000n, 0x1000, PROT.READ), 'EINVAL');
    expectErrno(() => mk.dev.xeGemMmapOffset(xe.fd, 99), 'ENOENT');
    expectErrno(() => mk.dev.xeGemMmapOffset(xe.fd, bo.handle, 2), 'EINVAL');
    // the PCI barrier page: no handle, write-only, 4K
    expect(mk.dev.xeGemMmapOffset(xe.fd, 0, 1)).toBe(0x50000n);
    expectErrno(() => mk.dev.xeGemMmapOffset(xe.fd, bo.handle, 1), 'EINVAL');
    expectErrno(() => mk.dev.mmap(xe.fd, 0x50000n, 0x1000, PROT.READ | PROT.WRITE), 'EINVAL');
    expect(mk.dev.mmap(xe.fd, 0x50000n, 0x1000, PROT.WRITE).length).toBe(0x1000);
  });

  it('keeps the BO alive while mapped after GEM_CLOSE, frees its memory after munmap', () => {
    const rg = rig();
    const { xe } = rg;
    const used0 = vramUsed(xe);
    const bo = xe.gemCreate({ size: 0x20000n, placement: VRAM, cpuCaching: WC });
    const m = bo.mmap();
    m.write(0, new Uint8Array([42]));
    bo.close();
    expect(rg.drv.liveObjects().bos).toBe(1);
    expect(m.read(0, 1)[0]).toBe(42);
    // its VRAM is still in use (the query's `used`) until the mapping goes
    expect(vramUsed(xe)).toBe(used0 + 0x20000n);
    m.unmap();
    expect(rg.drv.liveObjects()).toMatchObject({ bos: 0, mappings: 0 });
    expect(vramUsed(xe)).toBe(used0);
  });

  it('GEM_CLOSE of an unknown handle is EINVAL; closing the file frees everything', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    expectErrno(() => mk.dev.drmGemClose(xe.fd, 5), 'EINVAL');
    xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const vm = xe.vmCreate();
    xe.execQueueCreate(vm, [xe.engineOfClass(XE.ENGINE_CLASS_RENDER)!]);
    expect(rg.drv.liveObjects()).toMatchObject({ files: 1, bos: 1, vms: 1, execQueues: 1 });
    xe.close();
    expect(rg.drv.liveObjects()).toMatchObject({ files: 0, bos: 0, vms: 0, execQueues: 0 });
  });
});
