import { describe, expect, it } from 'vitest';
import type { DrmVersion } from '../../src/backend/types.js';
import { XE } from '../../src/uapi/constants.js';
import { XeDevice, XeDeviceError } from '../../src/uapi/xe.js';
import { encodeConfig, encodeEngines, encodeMemRegions } from '../../src/uapi/xe-query.js';
import { FakeBackend, type Handlers } from './fake-backend.js';

const version = (name: string): DrmVersion => ({ major: 1, minor: 1, patchlevel: 0, name, date: '', desc: '' });

const blobs = new Map<number, Uint8Array>([
  [XE.QUERY_CONFIG, encodeConfig([0xe20bn, 1n, 65536n, 48n])],
  [
    XE.QUERY_ENGINES,
    encodeEngines([
      { engineClass: XE.ENGINE_CLASS_RENDER, engineInstance: 0, gtId: 0 },
      { engineClass: XE.ENGINE_CLASS_COPY, engineInstance: 0, gtId: 0 },
    ]),
  ],
  [
    XE.QUERY_MEM_REGIONS,
    encodeMemRegions([
      {
        memClass: XE.MEM_REGION_CLASS_SYSMEM,
        instance: 0,
        minPageSize: 4096,
        totalSize: 1n << 34n,
        used: 0n,
        cpuVisibleSize: 0n,
        cpuVisibleUsed: 0n,
      },
      {
        memClass: XE.MEM_REGION_CLASS_VRAM,
        instance: 1,
        minPageSize: 65536,
        totalSize: 1n << 34n,
        used: 0n,
        cpuVisibleSize: 1n << 28n,
        cpuVisibleUsed: 0n,
      },
    ]),
  ],
]);

function xe(extra: Handlers = {}, name = 'xe'): { b: FakeBackend; x: XeDevice } {
  const b = new FakeBackend(
    {
      drmVersion: () => version(name),
      xeDeviceQuerySize: (_fd, q) => blobs.get(q)?.length ?? 0,
      xeDeviceQuery: (_fd, q, size) => blobs.get(q)!.slice(0, size),
      ...extra,
    },
    { files: { '/dev/dri/renderD128': '' } },
  );
  const x = XeDevice.open(b, '/dev/dri/renderD128');
  b.calls.length = 0;
  return { b, x };
}

describe('XeDevice', () => {
  it('refuses a node another driver drives, closing it', () => {
    const b = new FakeBackend({ drmVersion: () => version('vgem') }, { files: { '/dev/dri/renderD128': '' } });
    expect(() => XeDevice.open(b, '/dev/dri/renderD128')).toThrow(XeDeviceError);
    expect(b.open.size).toBe(0);
  });

  it('queries in two steps (size, then bytes), parses, and caches', () => {
    const { b, x } = xe();
    expect(x.config()).toMatchObject({ deviceId: 0xe20b, hasVram: true, vaBits: 48 });
    expect(x.config().minAlignment).toBe(65536n);
    expect(b.ops()).toEqual(['xeDeviceQuerySize', 'xeDeviceQuery']);
    expect(b.calls[1]!.args).toEqual([x.fd, XE.QUERY_CONFIG, 40]);
    expect(x.engines()).toHaveLength(2);
    expect(x.engineOfClass(XE.ENGINE_CLASS_COPY)).toEqual({ engineClass: 1, engineInstance: 0, gtId: 0 });
    expect(x.engineOfClass(XE.ENGINE_CLASS_COMPUTE)).toBeNull();
    expect(x.placement(XE.MEM_REGION_CLASS_VRAM)).toBe(0b10);
    expect(x.placement(XE.MEM_REGION_CLASS_SYSMEM)).toBe(0b01);
  });

  it('creates a BO and maps it through its mmap offset', () => {
    const { b, x } = xe({
      xeGemCreate: () => 4,
      xeGemMmapOffset: () => 0x100000n,
      mmap: () => ({}) as never,
      drmGemClose: () => undefined,
    });
    const bo = x.gemCreate({ size: 65536n, placement: 0b10, cpuCaching: XE.GEM_CPU_CACHING_WC });
    bo.mmap();
    bo.close();
    bo.close();
    expect(b.calls.map((c) => [c.op, ...c.args.slice(1)])).toEqual([
      ['xeGemCreate', { size: 65536n, placement: 0b10, cpuCaching: XE.GEM_CPU_CACHING_WC }],
      ['xeGemMmapOffset', 4, 0],
      ['mmap', 0x100000n, 65536, 3],
      ['drmGemClose', 4],
    ]);
  });

  it('binds and unbinds in a VM, execs on a queue, and destroys both once', async () => {
    const { b, x } = xe({
      xeVmCreate: () => 1,
      xeVmBind: () => undefined,
      xeVmDestroy: () => undefined,
      xeExecQueueCreate: () => 2,
      xeExec: () => undefined,
      xeExecQueueDestroy: () => undefined,
      xeWaitUserFence: () => Promise.resolve(5n),
    });
    const vm = x.vmCreate(XE.VM_CREATE_FLAG_LR_MODE);
    const sync = { type: XE.SYNC_TYPE_USER_FENCE, flags: XE.SYNC_FLAG_SIGNAL, addr: 0x8000n, timelineValue: 1n };
    vm.map(9, 0x1a0000n, 0x10000n, { patIndex: XE.PAT_INDEX_WB_2WAY_XE2, syncs: [sync] });
    vm.unmap(0x1a0000n, 0x10000n);
    const q = x.execQueueCreate(vm, [{ engineClass: 1, engineInstance: 0, gtId: 0 }]);
    q.exec(0x1a0000n, [sync]);
    await expect(
      x.waitUserFence({
        addr: 0x8000n,
        op: XE.UFENCE_WAIT_OP_EQ,
        value: 1n,
        mask: 0xffffffffffffffffn,
        timeout: 1_000_000n,
      }),
    ).resolves.toBe(5n);
    q.close();
    q.close();
    vm.close();
    vm.close();
    expect(b.calls.map((c) => [c.op, ...c.args.slice(1)])).toEqual([
      ['xeVmCreate', XE.VM_CREATE_FLAG_LR_MODE],
      [
        'xeVmBind',
        {
          vmId: 1,
          execQueueId: 0,
          binds: [
            { obj: 9, patIndex: 2, objOffset: 0n, range: 0x10000n, addr: 0x1a0000n, op: XE.VM_BIND_OP_MAP, flags: 0 },
          ],
          syncs: [sync],
        },
      ],
      [
        'xeVmBind',
        {
          vmId: 1,
          execQueueId: 0,
          binds: [
            { obj: 0, patIndex: 0, objOffset: 0n, range: 0x10000n, addr: 0x1a0000n, op: XE.VM_BIND_OP_UNMAP, flags: 0 },
          ],
          syncs: [],
        },
      ],
      [
        'xeExecQueueCreate',
        { vmId: 1, width: 1, instances: [{ engineClass: 1, engineInstance: 0, gtId: 0 }], flags: 0 },
      ],
      ['xeExec', { execQueueId: 2, address: 0x1a0000n, syncs: [sync], numBatchBuffer: 1 }],
      ['xeWaitUserFence', { addr: 0x8000n, op: 0, value: 1n, mask: 0xffffffffffffffffn, timeout: 1_000_000n }],
      ['xeExecQueueDestroy', 2],
      ['xeVmDestroy', 1],
    ]);
  });
});
