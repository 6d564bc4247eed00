// The xe device inside the real mock kernel (createMockBackend), driven only
// through DeviceOps and FileOps with the harness's wrappers: data in both
// directions between the GPU and the VF's BAR 2, the revoke wait that xe's
// deferred unmap holds up, engine resets in /dev/kmsg, quirk 7 through a real
// vfio multi-range export, and the live counts after process exit.
import { describe, expect, it } from 'vitest';
import { BatchBuilder } from '../../../src/uapi/batch.js';
import { patternFillTs } from '../../../src/uapi/pattern.js';
import { PROT, XE, vfioRegionOffset } from '../../../src/uapi/constants.js';
import { XeDevice, type XeExecQueue, type XeVm } from '../../../src/uapi/xe.js';
import type { ProfileName } from '../../../src/mock/contracts.js';
import type { MockBackend } from '../../../src/mock/backend.js';
import { enableVfs, exportBar2, mock, openVfio, type VfioOpen } from '../helpers.js';

const VA = 0x1_0000_0000n;
const PAT = XE.PAT_INDEX_WB_2WAY_XE2;
const PAGE = 4096;

interface E2e {
  b: MockBackend;
  v: VfioOpen;
  xe: XeDevice;
  vm: XeVm;
  q: XeExecQueue;
  run(batch: Uint8Array): void;
  sysmem(size: bigint, va: bigint): ReturnType<ReturnType<XeDevice['gemCreate']>['mmap']>;
}

let slot = 0n;

function setup(profile: ProfileName): E2e {
  const b = mock({ profile });
  enableVfs(b, 2);
  const vf = b.fs.readlink('/sys/bus/pci/devices/0000:03:00.0/virtfn0').split('/').pop()!;
  const v = openVfio(b, vf);
  const xe = XeDevice.open(b, '/dev/dri/renderD128');
  const vm = xe.vmCreate(0);
  const q = xe.execQueueCreate(vm, [xe.engineOfClass(XE.ENGINE_CLASS_COPY)!]);
  const sysmem = (size: bigint, va: bigint) => {
    const bo = xe.gemCreate({
      size,
      placement: xe.placement(XE.MEM_REGION_CLASS_SYSMEM),
      cpuCaching: XE.GEM_CPU_CACHING_WB,
    });
    vm.map(bo, va, size, { patIndex: PAT });
    return bo.mmap(PROT.READ | PROT.WRITE);
  };
  return {
    b,
    v,
    xe,
    vm,
    q,
    sysmem,
    run(batch) {
      const size = BigInt(Math.ceil(batch.length / 0x10000) * 0x10000);
      const va = 0x7000_0000_0000n + slot;
      slot += size;
      sysmem(size, va).write(0, batch);
      q.exec(va);
    },
  };
}

describe('data both ways between the GPU and the VF BAR (the harness data checks)', () => {
  for (const profile of ['fixed', 'upstream-7.1', 'rfc-v1'] as const) {
    it(`${profile}: GPU store -> BAR read, and BAR write -> GPU copy -> system BO`, () => {
      const s = setup(profile);
      const fd = exportBar2(s.b, s.v.device, [
        [0n, 1n << 20n],
        [4n << 20n, 1n << 20n],
      ]);
      const imp = s.xe.primeImport(fd);
      s.vm.map(imp, VA, 2n << 20n, { patIndex: PAT });
      // GPU -> VF: the last page of range 2 (BO offset 2 MiB - 4K, BAR offset 5 MiB - 4K)
      const barOff = (5n << 20n) - BigInt(PAGE);
      s.run(
        new BatchBuilder()
          .storePattern({ va: VA + (2n << 20n) - BigInt(PAGE), length: PAGE, seed: 21n, base: barOff })
          .end(),
      );
      const got = s.b.dev.vfioRegionRead(s.v.device, vfioRegionOffset(2) + barOff, PAGE);
      const want = new Uint8Array(PAGE);
      patternFillTs(want, 21n, barOff);
      expect(got).toEqual(want);
      // VF -> GPU: the CPU writes the first page of range 1 through BAR 2, the GPU copies it into a system BO
      const src = new Uint8Array(PAGE);
      patternFillTs(src, 22n, 0n);
      s.b.dev.vfioRegionWrite(s.v.device, vfioRegionOffset(2), src);
      const dst = s.sysmem(0x10000n, 0x2_0000_0000n);
      s.run(new BatchBuilder().copy({ src: VA, dst: 0x2_0000_0000n, length: PAGE }).end());
      expect(dst.verify(0, PAGE, 22n, 0n)).toBeNull();
    });
  }
});

describe('revoke through VFIO_DEVICE_RESET', () => {
  async function settledSoon(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return done;
  }

  it('upstream: the reset waits for the deferred unmap; unbinding and closing the import ends it; the remap follows', async () => {
    const s = setup('upstream-7.1');
    const fd = exportBar2(s.b, s.v.device);
    const imp = s.xe.primeImport(fd);
    s.vm.map(imp, VA, 2n << 20n, { patIndex: PAT });
    expect(s.b.kernel.live().sgMaps).toBe(1);
    const reset = s.b.dev.vfioDeviceReset(s.v.device);
    expect(await settledSoon(reset)).toBe(false);
    // the harness's cleanup: unbind the VA, close the GEM handle
    s.vm.unmap(VA, 2n << 20n);
    imp.close();
    await reset;
    expect(s.b.kernel.live()).toMatchObject({ sgMaps: 0, imports: 0 });
  });

  it('fixed: the reset waits for the interconnect map xe keeps after invalidate, and completes once the import is gone', async () => {
    const s = setup('fixed');
    const fd = exportBar2(s.b, s.v.device);
    const imp = s.xe.primeImport(fd);
    s.vm.map(imp, VA, 2n << 20n, { patIndex: PAT });
    expect(s.b.kernel.live().interconnectMaps).toBe(1);
    let done = false;
    const reset = s.b.dev.vfioDeviceReset(s.v.device).then(() => (done = true));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    // xe's deferred unmap (xe_bo_move_dmabuf) is not the series' to fix: the revoke waits for it
    expect(done).toBe(false);
    expect(s.b.kernel.live().interconnectMaps).toBe(1);
    s.vm.unmap(VA, 2n << 20n);
    imp.close();
    await reset;
    expect(s.b.kernel.live().interconnectMaps).toBe(0);
  });

  it('after the VF device is closed (permanent revoke): the next exec fails ENODEV, a new import too', () => {
    const s = setup('fixed');
    const fd = exportBar2(s.b, s.v.device);
    const imp = s.xe.primeImport(fd);
    s.vm.map(imp, VA, 2n << 20n, { patIndex: PAT });
    s.b.dev.close(s.v.device);
    expect(() => s.run(new BatchBuilder().storeDword(VA, 1).end())).toThrow(
      expect.objectContaining({ code: 'ENODEV' }),
    );
    // (another DRM file: this one would return its cached handle)
    const other = XeDevice.open(s.b, '/dev/dri/renderD128');
    expect(() => other.primeImport(fd)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});

describe('what the kernel log and counters show', () => {
  it('a GPU page fault: engine reset lines in /dev/kmsg, no taint, the queue banned', () => {
    const s = setup('fixed');
    s.run(new BatchBuilder().storeDword(0x6_0000_0000n, 1).end());
    const log = s.b.fs.readRecords('/dev/kmsg').join('');
    expect(log).toMatch(
      /^6,\d+,\d+,-;xe 0000:03:00\.0: \[drm\] GT0: Engine reset: engine_class=bcs, logical_mask: 0x1, guc_id=\d+$/m,
    );
    expect(log).toMatch(/^5,\d+,\d+,-;xe 0000:03:00\.0: \[drm\] GT0: Timedout job: seqno=4294967169/m);
    expect(s.b.kernel.taint).toBe(0);
    expect(() => s.q.exec(0n)).toThrow(expect.objectContaining({ code: 'ECANCELED' }));
  });

  it('rfc-v1 quirk 7 through a real multi-range export: range 2 read through the BO is range 1 spilled over', () => {
    const pages = (n: number) => BigInt(n * PAGE);
    for (const profile of ['fixed', 'rfc-v1'] as const) {
      const s = setup(profile);
      const fd = exportBar2(s.b, s.v.device, [
        [0n, pages(3)],
        [pages(64), pages(2)],
      ]);
      const imp = s.xe.primeImport(fd);
      s.vm.map(imp, VA, pages(5), { patIndex: PAT });
      s.run(new BatchBuilder().storeDword(VA + pages(3), 0xfeed).end());
      const at64 = new DataView(
        s.b.dev.vfioRegionRead(s.v.device, vfioRegionOffset(2) + pages(64), 4).buffer,
      ).getUint32(0, true);
      const at3 = new DataView(s.b.dev.vfioRegionRead(s.v.device, vfioRegionOffset(2) + pages(3), 4).buffer).getUint32(
        0,
        true,
      );
      if (profile === 'fixed') expect([at64, at3]).toEqual([0xfeed, 0]);
      else expect([at64, at3]).toEqual([0, 0xfeed]);
    }
  });

  it('process exit leaves no xe object behind', () => {
    const s = setup('fixed');
    const fd = exportBar2(s.b, s.v.device);
    const imp = s.xe.primeImport(fd);
    s.vm.map(imp, VA, 2n << 20n, { patIndex: PAT });
    s.sysmem(0x10000n, 0x3_0000_0000n);
    const before = s.b.kernel.live();
    expect(before).toMatchObject({ imports: 1, vms: 1, execQueues: 1 });
    expect(before.bos).toBeGreaterThan(1);
    s.b.close();
    expect(s.b.kernel.live()).toMatchObject({
      bos: 0,
      imports: 0,
      vms: 0,
      execQueues: 0,
      syncobjs: 0,
      mappings: 0,
      interconnectMaps: 0,
      sgMaps: 0,
    });
  });
});
