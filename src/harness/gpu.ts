// The PF's xe device as the scenarios use it: one VM, one exec queue, a VA
// allocator, PRIME imports bound into the VM, system-memory BOs, and batch
// execution with a syncobj (docs/kernel.md §6-§8). Everything is registered on the
// scenario's cleanup stack. An import is released by unbinding its VA and
// then closing its GEM handle: only then is the BO destroyed and its dma-buf
// mapping unmapped, which is what unblocks a VFIO revoke waiting on it
// (docs/kernel.md §3.5, §11.6).

import type { Mapping, XeSync } from '../backend/types.js';
import type { DmaBuf } from '../uapi/dmabuf.js';
import { monotonicDeadline, type PrimeImport } from '../uapi/drm.js';
import { XE, DRM } from '../uapi/constants.js';
import { XeDevice, type XeBo, type XeExecQueue, type XeVm } from '../uapi/xe.js';
import type { ScenarioContext } from './scenario.js';
import { requireCaps } from './steps.js';

const VA_ALIGN = 2n << 20n;
const VA_BASE = 1n << 32n;

function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

/** A BO bound into the VM, released (unbind, then GEM close) by the cleanup stack or explicitly. */
export class Bound {
  private live = true;

  constructor(
    readonly gpu: Gpu,
    readonly handle: PrimeImport | XeBo,
    readonly va: bigint | null,
    readonly size: bigint,
  ) {}

  get released(): boolean {
    return !this.live;
  }

  /**
   * Unbind (if bound) and close the GEM handle; idempotent. Both steps are
   * tried; the first error is rethrown as it came (a SystemError stays one,
   * so the report says the kernel refused, not that the harness broke), with
   * the step and any second error added to its message.
   */
  release(): void {
    if (!this.live) return;
    this.live = false;
    const errors: Array<{ step: string; error: unknown }> = [];
    if (this.va !== null) {
      try {
        this.gpu.vm.unmap(this.va, alignUp(this.size, 4096n));
      } catch (e) {
        errors.push({ step: `unbind 0x${this.va.toString(16)}`, error: e });
      }
    }
    try {
      this.handle.close();
    } catch (e) {
      errors.push({ step: `GEM close ${this.handle.handle}`, error: e });
    }
    const [first, second] = errors;
    if (!first) return;
    const text = (e: unknown): string => (e instanceof Error ? e.message : String(e));
    if (!(first.error instanceof Error)) throw new Error(errors.map((x) => `${x.step}: ${text(x.error)}`).join('; '));
    first.error.message = `${first.step}: ${first.error.message}${second ? `; ${second.step}: ${text(second.error)}` : ''}`;
    throw first.error;
  }
}

export interface SysmemBuffer {
  bo: XeBo;
  map: Mapping;
  va: bigint;
  bound: Bound;
}

export class Gpu {
  private nextVa = VA_BASE;

  private constructor(
    readonly ctx: ScenarioContext,
    readonly xe: XeDevice,
    readonly vm: XeVm,
    readonly queue: XeExecQueue,
    /** A coherent PAT index, as imports need (docs/kernel.md §7): Xe2+ WB 2-way = 2; older (xelp table) 0. */
    readonly patIndex: number,
    readonly sysmemPlacement: number,
  ) {}

  /** The PF under test's xe (caps xe). */
  static open(ctx: ScenarioContext): Gpu {
    requireCaps(ctx, 'xe');
    return Gpu.openNode(ctx, ctx.caps.xeNode!);
  }

  /** Any xe render node (import/foreign-device imports into another one). */
  static openNode(ctx: ScenarioContext, node: string): Gpu {
    const xe = XeDevice.open(ctx.backend, node);
    ctx.defer('close the xe device', () => xe.close());
    const vm = xe.vmCreate(0);
    ctx.defer(`destroy VM ${vm.id}`, () => vm.close());
    const engine = xe.engineOfClass(XE.ENGINE_CLASS_COPY) ?? xe.engineOfClass(XE.ENGINE_CLASS_RENDER);
    if (!engine) ctx.skip('xe', `${node} reports no copy or render engine`, 'check the xe device (dmesg)');
    const queue = xe.execQueueCreate(vm, [engine]);
    ctx.defer(`destroy exec queue ${queue.id}`, () => queue.close());
    const xe2 = xe.gtList().some((g) => g.ipVerMajor >= 20);
    const sysmem = xe.placement(XE.MEM_REGION_CLASS_SYSMEM);
    if (sysmem === 0) ctx.skip('xe', `${node} reports no system-memory region`, 'check the xe device');
    return new Gpu(ctx, xe, vm, queue, xe2 ? XE.PAT_INDEX_WB_2WAY_XE2 : 0, sysmem);
  }

  allocVa(size: bigint): bigint {
    const va = this.nextVa;
    this.nextVa = alignUp(va + size, VA_ALIGN);
    return va;
  }

  /** DRM_IOCTL_PRIME_FD_TO_HANDLE; the handle is closed by the cleanup stack unless bind() takes it over. */
  import(dmabuf: DmaBuf): PrimeImport {
    const handle = this.xe.primeImport(dmabuf);
    this.ctx.defer(`close GEM handle ${handle.handle}`, () => handle.close());
    return handle;
  }

  /** VM_BIND MAP of `size` bytes of a handle at a fresh VA (this is where an import is mapped: docs/profiles.md, rfc-v1 "Map"). */
  bind(handle: PrimeImport | XeBo, size: bigint, objOffset = 0n): Bound {
    const va = this.allocVa(size);
    this.vm.map(handle, va, alignUp(size, 4096n), { patIndex: this.patIndex, objOffset });
    const bound = new Bound(this, handle, va, size);
    this.ctx.defer(`unbind 0x${va.toString(16)} and close GEM handle ${handle.handle}`, () => bound.release());
    return bound;
  }

  /** A system-memory BO, CPU-mapped and bound (the control side of the data checks). */
  sysmem(size: bigint): SysmemBuffer {
    const bytes = alignUp(size, 4096n);
    const bo = this.xe.gemCreate({ size: bytes, placement: this.sysmemPlacement, cpuCaching: XE.GEM_CPU_CACHING_WB });
    this.ctx.defer(`close BO ${bo.handle}`, () => bo.close());
    const map = bo.mmap();
    this.ctx.defer(`munmap BO ${bo.handle}`, () => map.unmap());
    const bound = this.bind(bo, bytes);
    return { bo, map, va: bound.va!, bound };
  }

  /**
   * Run a batch: copy it into a system-memory BO, exec it with a syncobj to
   * signal, and wait for the syncobj (DRM_IOCTL_SYNCOBJ_WAIT, off the JS
   * thread). A batch still running after `waitMs` is a failure.
   */
  async exec(batch: Uint8Array, waitMs: number): Promise<void> {
    const buf = this.sysmem(BigInt(batch.byteLength));
    buf.map.write(0, batch);
    const sync = this.xe.syncobjCreate(0);
    this.ctx.defer(`destroy syncobj ${sync.handle}`, () => sync.close());
    const signal: XeSync = { type: XE.SYNC_TYPE_SYNCOBJ, flags: XE.SYNC_FLAG_SIGNAL, handle: sync.handle };
    this.queue.exec(buf.va, [signal]);
    await sync.wait(monotonicDeadline(waitMs), DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
  }
}
