// Shared set-up for the xe device tests: a fake platform with the xe PF bound,
// the render node opened through the harness's own wrapper (src/uapi/xe.ts),
// and small helpers to run a batch and to import a VF export.

import { expect } from 'vitest';
import type { Profile } from '../../../src/mock/contracts.js';
import { XE, PROT } from '../../../src/uapi/constants.js';
import { XeDevice, type XeBo, type XeVm, type XeExecQueue } from '../../../src/uapi/xe.js';
import { FakePlatform, profile, type TopologyOptions } from './fake-platform.js';

export const RENDER = '/dev/dri/renderD128';
export const SYS = 1 << 0;
export const VRAM = 1 << 1;
export const WB = XE.GEM_CPU_CACHING_WB;
export const WC = XE.GEM_CPU_CACHING_WC;
/** Xe2 2-way coherent WB (IGT intel_get_pat_idx_wb): what imports must use. */
export const PAT_WB = XE.PAT_INDEX_WB_2WAY_XE2;

export interface Rig {
  p: FakePlatform;
  xe: XeDevice;
}

export function rig(prof: Profile | Parameters<typeof profile>[0] = 'fixed', topo: TopologyOptions = {}): Rig {
  const p = new FakePlatform(typeof prof === 'string' ? profile(prof) : prof, topo);
  const xe = XeDevice.open(p.backend(), RENDER);
  return { p, xe };
}

/** Expect `fn` to throw a SystemError with this errno name. */
export function expectErrno(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect((caught as { code?: string }).code).toBe(code);
}

export async function expectErrnoAsync(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/** A system BO with a CPU mapping, bound at `va` in `vm`. */
export function sysBo(
  xe: XeDevice,
  vm: XeVm,
  va: bigint,
  size = 0x10000n,
): { bo: XeBo; map: ReturnType<XeBo['mmap']> } {
  const bo = xe.gemCreate({ size, placement: SYS, cpuCaching: WB });
  vm.map(bo, va, size, { patIndex: PAT_WB });
  return { bo, map: bo.mmap(PROT.READ | PROT.WRITE) };
}

export interface Runner {
  vm: XeVm;
  queue: XeExecQueue;
  /** Put `batch` in a fresh system BO at `batchVa` and exec it. */
  run(batch: Uint8Array): void;
}

let batchSlot = 0n;

export function runner(xe: XeDevice, vm = xe.vmCreate(0)): Runner {
  const engine = xe.engineOfClass(XE.ENGINE_CLASS_COPY)!;
  const queue = xe.execQueueCreate(vm, [engine]);
  return {
    vm,
    queue,
    run(batch: Uint8Array): void {
      const size = BigInt(Math.ceil(batch.length / 0x10000) * 0x10000);
      const va = 0x7000_0000_0000n + batchSlot;
      batchSlot += size + 0x10000n;
      const { map } = sysBo(xe, vm, va, size);
      map.write(0, batch);
      queue.exec(va);
    },
  };
}

export function u64(bytes: Uint8Array, at = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(at, true);
}
