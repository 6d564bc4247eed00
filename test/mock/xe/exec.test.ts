// Exec queues, EXEC and the GPU: MI commands through the VM, faults and
// hangs as xe reports them (engine reset, banned queue), syncobj waits and
// user fences (xe_exec.c, xe_exec_queue.c, xe_sync.c, xe_wait_user_fence.c).
import { describe, expect, it } from 'vitest';
import { LogLevel } from '../../../src/mock/contracts.js';
import { BatchBuilder } from '../../../src/uapi/batch.js';
import { DRM, XE } from '../../../src/uapi/constants.js';
import { expectErrno, expectErrnoAsync, kmsg, logText, PAT_WB, rig, runner, sysBo, u64, WB, SYS } from './setup.js';

const RCS = { engineClass: XE.ENGINE_CLASS_RENDER, engineInstance: 0, gtId: 0 };

describe('DRM_IOCTL_XE_EXEC_QUEUE_CREATE / DESTROY', () => {
  it('validates flags, width x placements, engines, and the VM', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const vm = xe.vmCreate().id;
    const create = (a: Partial<Parameters<typeof mk.dev.xeExecQueueCreate>[1]>) =>
      mk.dev.xeExecQueueCreate(xe.fd, { vmId: vm, width: 1, instances: [RCS], ...a });
    expectErrno(() => create({ flags: 2 }), 'EINVAL');
    expectErrno(() => create({ width: 0 }), 'EINVAL');
    expectErrno(() => create({ instances: [] }), 'EINVAL');
    expectErrno(() => create({ instances: Array(17).fill(RCS) }), 'EINVAL');
    expectErrno(() => create({ instances: [{ ...RCS, gtId: 5 }] }), 'EINVAL');
    expectErrno(() => create({ instances: [{ ...RCS, engineInstance: 3 }] }), 'EINVAL');
    // parallel: two video decode engines, logically contiguous, fine; render + copy mixed classes, not
    const vcs = (i: number) => ({ engineClass: XE.ENGINE_CLASS_VIDEO_DECODE, engineInstance: i, gtId: 1 });
    expect(create({ width: 2, instances: [vcs(0), vcs(1)] })).toBe(1);
    expectErrno(() => create({ width: 2, instances: [vcs(1), vcs(0)] }), 'EINVAL');
    expectErrno(
      () => create({ width: 2, instances: [RCS, { engineClass: XE.ENGINE_CLASS_COPY, engineInstance: 0, gtId: 0 }] }),
      'EINVAL',
    );
    expectErrno(() => create({ vmId: 33 }), 'ENOENT');
    // VM_BIND queues: one instance 0, no VM needed
    expectErrno(
      () => create({ instances: [{ engineClass: XE.ENGINE_CLASS_VM_BIND, engineInstance: 1, gtId: 0 }] }),
      'EINVAL',
    );
    expect(create({ vmId: 0, instances: [{ engineClass: XE.ENGINE_CLASS_VM_BIND, engineInstance: 0, gtId: 0 }] })).toBe(
      2,
    );
    expectErrno(() => mk.dev.xeExecQueueDestroy(xe.fd, 9), 'ENOENT');
    mk.dev.xeExecQueueDestroy(xe.fd, 2);
    expectErrno(() => mk.dev.xeExecQueueDestroy(xe.fd, 2), 'ENOENT');
  });
});

describe('DRM_IOCTL_XE_EXEC', () => {
  it('runs MI_STORE_DATA_IMM (dword and qword), MI_COPY_MEM_MEM (dst first) and MI_NOOP', () => {
    const { xe } = rig();
    const r = runner(xe);
    const { map } = sysBo(xe, r.vm, 0x10_0000n);
    map.write(0x800, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    r.run(
      new BatchBuilder()
        .noop()
        .storeDword(0x10_0000n, 0x11223344)
        .storeQword(0x10_0008n, 0x0102030405060708n)
        .copyDword(0x10_0100n, 0x10_0800n)
        .end(),
    );
    expect(new DataView(map.read(0, 4).buffer).getUint32(0, true)).toBe(0x11223344);
    expect(u64(map.read(8, 8))).toBe(0x0102030405060708n);
    expect([...map.read(0x100, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it('checks the queue (ENOENT), bind queues (EINVAL), num_batch_buffer == width (EINVAL)', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const r = runner(xe);
    expectErrno(() => mk.dev.xeExec(xe.fd, { execQueueId: 50, address: 0n }), 'ENOENT');
    expectErrno(() => mk.dev.xeExec(xe.fd, { execQueueId: r.queue.id, address: 0n, numBatchBuffer: 2 }), 'EINVAL');
    const bq = mk.dev.xeExecQueueCreate(xe.fd, {
      vmId: 0,
      width: 1,
      instances: [{ engineClass: XE.ENGINE_CLASS_VM_BIND, engineInstance: 0, gtId: 0 }],
    });
    expectErrno(() => mk.dev.xeExec(xe.fd, { execQueueId: bq, address: 0n }), 'EINVAL');
  });

  it('a page fault resets the engine, bans the queue (ECANCELED) and stops the batch', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const r = runner(xe);
    const { map } = sysBo(xe, r.vm, 0x10_0000n);
    const so = mk.dev.drmSyncobjCreate(xe.fd, 0);
    const batch = new BatchBuilder()
      .storeDword(0x10_0000n, 1)
      .storeDword(0x6000_0000n, 2)
      .storeDword(0x10_0004n, 3)
      .end();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    r.vm.map(bo, 0x20_0000n, 0x10000n, { patIndex: PAT_WB });
    bo.mmap().write(0, batch);
    mk.dev.xeExec(xe.fd, {
      execQueueId: r.queue.id,
      address: 0x20_0000n,
      syncs: [{ type: XE.SYNC_TYPE_SYNCOBJ, flags: 1, handle: so }],
    });
    // the ioctl succeeded; the job's effects stop at the fault
    expect(new DataView(map.read(0, 8).buffer).getBigUint64(0, true)).toBe(1n);
    const lines = kmsg(rg).filter((l) => l.source === 'xe 0000:03:00.0');
    const task = `${mk.fs.readText('/proc/self/comm').trim()} [${mk.kernel.pid}]`;
    expect(lines.map((l) => l.text)).toEqual([
      '[drm] GT0: Engine reset: engine_class=bcs, logical_mask: 0x1, guc_id=0',
      `[drm] GT0: Timedout job: seqno=4294967169, lrc_seqno=4294967169, guc_id=0, flags=0x0 in ${task}`,
      '[drm] Xe device coredump has been created',
      '[drm] Check your /sys/class/drm/card0/device/devcoredump/data',
    ]);
    expect(lines[1]!.level).toBe(LogLevel.NOTICE);
    // the fence signalled (with an error): the syncobj wait returns
    return mk.dev.drmSyncobjWait(xe.fd, [so], 0n, 0).then((first) => {
      expect(first).toBe(0);
      expectErrno(() => mk.dev.xeExec(xe.fd, { execQueueId: r.queue.id, address: 0x20_0000n }), 'ECANCELED');
    });
  });

  it('an unknown command hangs the engine; GGTT stores from a PPGTT batch too', () => {
    const rg = rig();
    const { xe } = rg;
    for (const word of [0x7a000003, 0x10400002]) {
      const r = runner(xe);
      const bytes = new Uint8Array(16);
      new DataView(bytes.buffer).setUint32(0, word, true);
      r.run(bytes);
      expectErrno(() => r.queue.exec(0n), 'ECANCELED');
    }
    expect(logText(rg).filter((t) => t.includes('Engine reset')).length).toBe(2);
  });

  it('a scratch-page VM turns unmapped accesses into the scratch page instead of faults', () => {
    const rg = rig();
    const { xe } = rg;
    const r = runner(xe, xe.vmCreate(XE.VM_CREATE_FLAG_SCRATCH_PAGE));
    const { map } = sysBo(xe, r.vm, 0x10_0000n);
    r.run(new BatchBuilder().storeDword(0x5000_0010n, 77).copyDword(0x10_0000n, 0x9000_0010n).end());
    // the store landed in the one scratch page; the copy read it back from another unmapped address
    expect(new DataView(map.read(0, 4).buffer).getUint32(0, true)).toBe(77);
    expect(logText(rg).some((t) => t.includes('Engine reset'))).toBe(false);
  });

  it('writes the exec user fence through the GPU after the batch, and WAIT_USER_FENCE sees it', async () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const r = runner(xe);
    const { map } = sysBo(xe, r.vm, 0x10_0000n);
    const batchBo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    r.vm.map(batchBo, 0x30_0000n, 0x10000n, { patIndex: PAT_WB });
    batchBo.mmap().write(0, new BatchBuilder().storeDword(0x10_0010n, 9).end());
    mk.dev.xeExec(xe.fd, {
      execQueueId: r.queue.id,
      address: 0x30_0000n,
      syncs: [{ type: XE.SYNC_TYPE_USER_FENCE, flags: 1, addr: 0x10_0040n, timelineValue: 5n }],
    });
    expect(u64(map.read(0x40, 8))).toBe(5n);
    const left = await mk.dev.xeWaitUserFence(xe.fd, {
      addr: map.address + 0x40n,
      op: XE.UFENCE_WAIT_OP_GTE,
      value: 5n,
      mask: ~0n,
      timeout: 1_000_000_000n,
      execQueueId: r.queue.id,
    });
    expect(left).toBeGreaterThan(0n);
    expect(left).toBeLessThanOrEqual(1_000_000_000n);
  });
});

describe('waits', () => {
  it('SYNCOBJ_WAIT: EINVAL flags, EINVAL empty, ENOENT handle, EINVAL without a fence, ETIME when it passes', async () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const a = mk.dev.drmSyncobjCreate(xe.fd, 0);
    const b = mk.dev.drmSyncobjCreate(xe.fd, DRM.SYNCOBJ_CREATE_SIGNALED);
    expectErrno(() => mk.dev.drmSyncobjCreate(xe.fd, 2), 'EINVAL');
    await expectErrnoAsync(mk.dev.drmSyncobjWait(xe.fd, [a], 0n, 4), 'EINVAL');
    await expectErrnoAsync(mk.dev.drmSyncobjWait(xe.fd, [], 0n, 0), 'EINVAL');
    await expectErrnoAsync(mk.dev.drmSyncobjWait(xe.fd, [a, 44], 0n, 0), 'ENOENT');
    await expectErrnoAsync(mk.dev.drmSyncobjWait(xe.fd, [a], 0n, 0), 'EINVAL');
    await expectErrnoAsync(mk.dev.drmSyncobjWait(xe.fd, [a], 0n, DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT), 'ETIME');
    // any: the signalled one is first_signaled; all: not until both
    await expect(mk.dev.drmSyncobjWait(xe.fd, [a, b], 0n, DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT)).resolves.toBe(1);
    await expectErrnoAsync(
      mk.dev.drmSyncobjWait(
        xe.fd,
        [a, b],
        0n,
        DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT | DRM.SYNCOBJ_WAIT_FLAGS_WAIT_ALL,
      ),
      'ETIME',
    );
    mk.dev.drmSyncobjDestroy(xe.fd, a);
    expectErrno(() => mk.dev.drmSyncobjDestroy(xe.fd, a), 'EINVAL');
  });

  it('SYNCOBJ_WAIT with WAIT_FOR_SUBMIT returns once a bind attaches a fence', async () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const so = mk.dev.drmSyncobjCreate(xe.fd, 0);
    const deadline = process.hrtime.bigint() + 60_000_000_000n;
    const waiting = mk.dev.drmSyncobjWait(xe.fd, [so], deadline, DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
    const vm = xe.vmCreate();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    vm.map(bo, 0x100000n, 0x10000n, {
      patIndex: PAT_WB,
      syncs: [{ type: XE.SYNC_TYPE_SYNCOBJ, flags: 1, handle: so }],
    });
    await expect(waiting).resolves.toBe(0);
  });

  it('WAIT_USER_FENCE: validation, EFAULT for memory the model cannot see, ETIME, EIO after a reset', async () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const r = runner(xe);
    const { map } = sysBo(xe, r.vm, 0x10_0000n);
    const w = (a: Partial<Parameters<typeof mk.dev.xeWaitUserFence>[1]>) =>
      mk.dev.xeWaitUserFence(xe.fd, {
        addr: map.address,
        op: XE.UFENCE_WAIT_OP_EQ,
        value: 1n,
        mask: ~0n,
        timeout: 0n,
        ...a,
      });
    await expectErrnoAsync(w({ flags: 2 }), 'EINVAL');
    await expectErrnoAsync(w({ op: 6 }), 'EINVAL');
    await expectErrnoAsync(w({ addr: map.address + 4n }), 'EINVAL');
    await expectErrnoAsync(w({ execQueueId: 99 }), 'ENOENT');
    await expectErrnoAsync(w({ addr: 0x1000n }), 'EFAULT');
    await expectErrnoAsync(w({}), 'ETIME');
    // a CPU write through the mapping wakes a pending wait
    const pending = w({ timeout: 60_000_000_000n, op: XE.UFENCE_WAIT_OP_NEQ, value: 0n });
    map.write(0, new Uint8Array([1]));
    await expect(pending).resolves.toBeGreaterThan(0n);
    // a queue that was reset: EIO and "exec queue reset detected"
    r.run(new BatchBuilder().storeDword(0x7777_0000n, 1).end());
    await expectErrnoAsync(w({ value: 99n, execQueueId: r.queue.id, timeout: 60_000_000_000n }), 'EIO');
    expect(logText(rg)).toContain('[drm] exec queue reset detected');
  });
});
