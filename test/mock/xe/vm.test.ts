// VM_CREATE/DESTROY and VM_BIND: every validation of docs/kernel.md §7 (check_args,
// validate_bo with the PAT rules for imports), the drm_gpuvm split semantics,
// and the fences of a bind.
import { describe, expect, it } from 'vitest';
import type { XeBindOp } from '../../../src/backend/types.js';
import { XE } from '../../../src/uapi/constants.js';
import { BatchBuilder } from '../../../src/uapi/batch.js';
import { exportBar2, enableVfs, openVfio } from '../helpers.js';
import { expectErrno, PAT_WB, rig, runner, SYS, sysBo, u64, VRAM, WB, WC, warnSites, logText } from './setup.js';

const MAP = XE.VM_BIND_OP_MAP;
const op = (o: Partial<XeBindOp>): XeBindOp => ({
  obj: 0,
  patIndex: PAT_WB,
  objOffset: 0n,
  range: 0x10000n,
  addr: 0x100000n,
  op: MAP,
  flags: 0,
  ...o,
});

describe('DRM_IOCTL_XE_VM_CREATE / DESTROY', () => {
  it('validates flags and hands out ids from 1', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    expect(mk.dev.xeVmCreate(xe.fd, 0)).toBe(1);
    expect(mk.dev.xeVmCreate(xe.fd, XE.VM_CREATE_FLAG_SCRATCH_PAGE)).toBe(2);
    expectErrno(() => mk.dev.xeVmCreate(xe.fd, 0x10), 'EINVAL');
    expectErrno(() => mk.dev.xeVmCreate(xe.fd, XE.VM_CREATE_FLAG_FAULT_MODE), 'EINVAL');
    expect(mk.dev.xeVmCreate(xe.fd, XE.VM_CREATE_FLAG_FAULT_MODE | XE.VM_CREATE_FLAG_LR_MODE)).toBe(3);
    expectErrno(() => mk.dev.xeVmDestroy(xe.fd, 9), 'ENOENT');
    mk.dev.xeVmDestroy(xe.fd, 1);
    expectErrno(() => mk.dev.xeVmDestroy(xe.fd, 1), 'ENOENT');
  });

  it('refuses to destroy an LR VM with exec queues (EBUSY)', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const vm = xe.vmCreate(XE.VM_CREATE_FLAG_LR_MODE);
    const q = xe.execQueueCreate(vm, [xe.engineOfClass(XE.ENGINE_CLASS_COMPUTE)!]);
    expectErrno(() => mk.dev.xeVmDestroy(xe.fd, vm.id), 'EBUSY');
    q.close();
    mk.dev.xeVmDestroy(xe.fd, vm.id);
  });
});

describe('DRM_IOCTL_XE_VM_BIND validation', () => {
  function setup() {
    const r = rig();
    const vm = r.xe.vmCreate();
    const sys = r.xe.gemCreate({ size: 0x40000n, placement: SYS, cpuCaching: WB });
    const vram = r.xe.gemCreate({ size: 0x40000n, placement: VRAM, cpuCaching: WC });
    // a real vfio-pci export of VF 0's BAR 2 (first 2 MiB)
    enableVfs(r.b, 1);
    const imp = r.xe.primeImport(exportBar2(r.b, openVfio(r.b).device));
    const bind = (b: XeBindOp) => r.b.dev.xeVmBind(r.xe.fd, { vmId: vm.id, binds: [b] });
    return { ...r, vm, sys, vram, imp, bind };
  }

  it('an unknown VM is EINVAL (xe_vm_lookup before check_args)', () => {
    const { b: mk, xe, sys } = setup();
    expectErrno(() => mk.dev.xeVmBind(xe.fd, { vmId: 42, binds: [op({ obj: sys.handle })] }), 'EINVAL');
  });

  const checks: [string, (s: ReturnType<typeof setup>) => XeBindOp, string][] = [
    ['pat_index beyond the table (28 on BMG)', (s) => op({ obj: s.sys.handle, patIndex: 28 }), 'EINVAL'],
    ['a reserved pat_index', (s) => op({ obj: s.sys.handle, patIndex: 17 }), 'EINVAL'],
    ['an unknown op', (s) => op({ obj: s.sys.handle, op: 5 }), 'EINVAL'],
    ['an unknown flag', (s) => op({ obj: s.sys.handle, flags: 0x100 }), 'EINVAL'],
    ['MAP without an object', () => op({}), 'EINVAL'],
    ['NULL with an object', (s) => op({ obj: s.sys.handle, flags: XE.VM_BIND_FLAG_NULL }), 'EINVAL'],
    ['UNMAP with an object', (s) => op({ obj: s.sys.handle, op: XE.VM_BIND_OP_UNMAP }), 'EINVAL'],
    ['UNMAP_ALL without an object', () => op({ op: XE.VM_BIND_OP_UNMAP_ALL, range: 0n, addr: 0n }), 'EINVAL'],
    ['UNMAP_ALL with a range', (s) => op({ obj: s.sys.handle, op: XE.VM_BIND_OP_UNMAP_ALL, addr: 0n }), 'EINVAL'],
    ['PREFETCH with an object', (s) => op({ obj: s.sys.handle, op: XE.VM_BIND_OP_PREFETCH }), 'EINVAL'],
    ['a prefetch region on MAP', (s) => op({ obj: s.sys.handle, prefetchMemRegionInstance: 1 }), 'EINVAL'],
    ['an unaligned address', (s) => op({ obj: s.sys.handle, addr: 0x100800n }), 'EINVAL'],
    ['an unaligned range', (s) => op({ obj: s.sys.handle, range: 0x800n }), 'EINVAL'],
    ['range 0', (s) => op({ obj: s.sys.handle, range: 0n }), 'EINVAL'],
    ['a range past the VM', (s) => op({ obj: s.sys.handle, addr: (1n << 48n) - 0x1000n }), 'EINVAL'],
    ['an unknown object', () => op({ obj: 99 }), 'ENOENT'],
    ['a range past the BO', (s) => op({ obj: s.sys.handle, range: 0x50000n }), 'EINVAL'],
    ['an obj_offset past the BO', (s) => op({ obj: s.sys.handle, objOffset: 0x40000n }), 'EINVAL'],
    [
      'a VRAM BO at 4K granularity (NEED64K)',
      (s) => op({ obj: s.vram.handle, objOffset: 0x1000n, range: 0x1000n }),
      'EINVAL',
    ],
    ['a non-coherent PAT on a WB BO', (s) => op({ obj: s.sys.handle, patIndex: 0 }), 'EINVAL'],
    [
      'UC (3) on an import: imports need 1-way or 2-way coherency',
      (s) => op({ obj: s.imp.handle, patIndex: XE.PAT_INDEX_UC_XE2 }),
      'EINVAL',
    ],
    ['a compressed PAT on an import', (s) => op({ obj: s.imp.handle, patIndex: 12 }), 'EINVAL'],
  ];
  for (const [what, make, code] of checks) {
    it(`refuses ${what} with ${code}`, () => {
      const s = setup();
      expectErrno(() => s.bind(make(s)), code);
    });
  }

  it('accepts every coherent PAT on an import (1, 2, 4, 5, 7, 22, 23, 26, 27)', () => {
    const s = setup();
    for (const [i, pat] of [1, 2, 4, 5, 7, 22, 23, 26, 27].entries()) {
      s.bind(op({ obj: s.imp.handle, patIndex: pat, addr: BigInt(i) * 0x1000000n, range: 0x10000n }));
    }
    // non-coherent WB-compatible PATs are fine for WC system and VRAM BOs
    s.bind(op({ obj: s.vram.handle, patIndex: 0, addr: 0x40000000n }));
  });

  it('a VM_BIND queue is the only queue a bind accepts', () => {
    const s = setup();
    const bindQ = s.b.dev.xeExecQueueCreate(s.xe.fd, {
      vmId: 0,
      width: 1,
      instances: [{ engineClass: XE.ENGINE_CLASS_VM_BIND, engineInstance: 0, gtId: 0 }],
    });
    const renderQ = s.xe.execQueueCreate(s.vm, [s.xe.engineOfClass(XE.ENGINE_CLASS_RENDER)!]);
    s.b.dev.xeVmBind(s.xe.fd, { vmId: s.vm.id, execQueueId: bindQ, binds: [op({ obj: s.sys.handle })] });
    expectErrno(
      () => s.b.dev.xeVmBind(s.xe.fd, { vmId: s.vm.id, execQueueId: renderQ.id, binds: [op({ obj: s.sys.handle })] }),
      'EINVAL',
    );
    expectErrno(
      () => s.b.dev.xeVmBind(s.xe.fd, { vmId: s.vm.id, execQueueId: 77, binds: [op({ obj: s.sys.handle })] }),
      'ENOENT',
    );
  });

  it('validates syncs: flags, types, handles, user-fence alignment and count', () => {
    const s = setup();
    const b = [op({ obj: s.sys.handle })];
    const bind = (syncs: Parameters<typeof s.b.dev.xeVmBind>[1]['syncs']) =>
      s.b.dev.xeVmBind(s.xe.fd, { vmId: s.vm.id, binds: b, syncs });
    const so = s.b.dev.drmSyncobjCreate(s.xe.fd, 0);
    expectErrno(() => bind([{ type: XE.SYNC_TYPE_SYNCOBJ, flags: 2, handle: so }]), 'EINVAL');
    expectErrno(() => bind([{ type: 7, flags: 1, handle: so }]), 'EINVAL');
    expectErrno(() => bind([{ type: XE.SYNC_TYPE_SYNCOBJ, flags: 1, handle: 55 }]), 'ENOENT');
    // waiting on a syncobj that has no fence
    expectErrno(() => bind([{ type: XE.SYNC_TYPE_SYNCOBJ, flags: 0, handle: so }]), 'EINVAL');
    expectErrno(() => bind([{ type: XE.SYNC_TYPE_USER_FENCE, flags: 0, addr: 0x1000n }]), 'EOPNOTSUPP');
    expectErrno(() => bind([{ type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x1004n }]), 'EINVAL');
    expectErrno(
      () => bind([{ type: XE.SYNC_TYPE_TIMELINE_SYNCOBJ, flags: 1, handle: so, timelineValue: 0n }]),
      'EINVAL',
    );
    const two = [
      { type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x1000n },
      { type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x2000n },
    ];
    expectErrno(() => bind(two), 'EINVAL');
    // no binds: a user fence is not allowed, syncobjs are signalled
    expectErrno(
      () =>
        s.b.dev.xeVmBind(s.xe.fd, {
          vmId: s.vm.id,
          binds: [],
          syncs: [{ type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x1000n }],
        }),
      'EOPNOTSUPP',
    );
  });
});

describe('VM_BIND effects', () => {
  it('signals syncobjs and writes the user fence value into process memory', async () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const vm = xe.vmCreate();
    const fenceBo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const fenceMap = fenceBo.mmap();
    const so = mk.dev.drmSyncobjCreate(xe.fd, 0);
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    vm.map(bo, 0x200000n, 0x10000n, {
      patIndex: PAT_WB,
      syncs: [
        { type: XE.SYNC_TYPE_SYNCOBJ, flags: XE.SYNC_FLAG_SIGNAL, handle: so },
        {
          type: XE.SYNC_TYPE_USER_FENCE,
          flags: XE.SYNC_FLAG_SIGNAL,
          addr: fenceMap.address + 0x40n,
          timelineValue: 0xabcn,
        },
      ],
    });
    expect(u64(fenceMap.read(0x40, 8))).toBe(0xabcn);
    await expect(mk.dev.drmSyncobjWait(xe.fd, [so], 0n, 0)).resolves.toBe(0);
    await expect(
      mk.dev.xeWaitUserFence(xe.fd, {
        addr: fenceMap.address + 0x40n,
        op: XE.UFENCE_WAIT_OP_EQ,
        value: 0xabcn,
        mask: ~0n,
        timeout: 0n,
      }),
    ).resolves.toBe(0n);
  });

  it('a user fence the model cannot reach is a WARN (copy to user failed)', () => {
    const rg = rig();
    const { xe } = rg;
    const vm = xe.vmCreate();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    vm.map(bo, 0x200000n, 0x10000n, {
      patIndex: PAT_WB,
      syncs: [{ type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x1000n, timelineValue: 1n }],
    });
    expect(warnSites(rg)).toEqual([expect.stringMatching(/^user_fence_worker/)]);
  });

  it('maps over, splits and unmaps VMAs the way drm_gpuvm does', () => {
    const rg = rig();
    const { xe } = rg;
    const r = runner(xe);
    const a = sysBo(xe, r.vm, 0x1000000n, 0x40000n);
    const b = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const bm = b.mmap();
    // B over the middle of A: A is split around it
    r.vm.map(b, 0x1010000n, 0x10000n, { patIndex: PAT_WB });
    const batch = new BatchBuilder()
      .storeDword(0x1000000n, 1)
      .storeDword(0x1010000n, 2)
      .storeDword(0x1020000n, 3)
      .end();
    r.run(batch);
    expect(new DataView(a.map.read(0, 4).buffer).getUint32(0, true)).toBe(1);
    expect(new DataView(a.map.read(0x10000, 4).buffer).getUint32(0, true)).toBe(0);
    expect(new DataView(bm.read(0, 4).buffer).getUint32(0, true)).toBe(2);
    expect(new DataView(a.map.read(0x20000, 4).buffer).getUint32(0, true)).toBe(3);
    // unmap the middle: a store there faults, the engine is reset and the queue banned
    r.vm.unmap(0x1010000n, 0x10000n);
    r.run(new BatchBuilder().storeDword(0x1020004n, 5).storeDword(0x1010000n, 4).end());
    expect(new DataView(a.map.read(0x20004, 4).buffer).getUint32(0, true)).toBe(5);
    expect(new DataView(bm.read(0, 4).buffer).getUint32(0, true)).toBe(2);
    expect(logText(rg).some((t) => t.includes('Engine reset: engine_class=bcs'))).toBe(true);
  });

  it('UNMAP_ALL removes every VMA of a BO; the BO dies when nothing holds it', () => {
    const rg = rig();
    const { xe } = rg;
    const vm = xe.vmCreate();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    vm.map(bo, 0x100000n, 0x10000n, { patIndex: PAT_WB });
    vm.map(bo, 0x300000n, 0x10000n, { patIndex: PAT_WB });
    vm.bindOps([op({ obj: bo.handle, op: XE.VM_BIND_OP_UNMAP_ALL, addr: 0n, range: 0n })]);
    expect(rg.drv.liveObjects().bos).toBe(1);
    bo.close();
    expect(rg.drv.liveObjects().bos).toBe(0);
  });

  it('closing a VM drops the references of its VMAs', () => {
    const rg = rig();
    const { xe } = rg;
    const vm = xe.vmCreate();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    vm.map(bo, 0x100000n, 0x10000n, { patIndex: PAT_WB });
    bo.close();
    expect(rg.drv.liveObjects().bos).toBe(1);
    vm.close();
    expect(rg.drv.liveObjects()).toMatchObject({ bos: 0, vms: 0 });
  });
});

describe('VM_BIND reads the fields as the kernel does', () => {
  it('a negative address is a u64 past the VM (EINVAL), a pat_index above u16 wraps', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const vm = xe.vmCreate();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    expectErrno(
      () => mk.dev.xeVmBind(xe.fd, { vmId: vm.id, binds: [op({ obj: bo.handle, addr: -0x10000n })] }),
      'EINVAL',
    );
    // 0x10002 as a u16 is 2: a valid coherent index, and the BO is mapped
    mk.dev.xeVmBind(xe.fd, { vmId: vm.id, binds: [op({ obj: bo.handle, patIndex: 0x10002 })] });
    runner(xe, vm).run(new BatchBuilder().storeDword(0x100000n, 0xabcd).end());
    expect(new DataView(bo.mmap().read(0, 4).buffer).getUint32(0, true)).toBe(0xabcd);
  });
});
