// A GPU address space (DRM_IOCTL_XE_VM_CREATE): its VMAs, kept sorted and
// non-overlapping the way drm_gpuvm keeps them. A MAP over existing VMAs
// splits or replaces them, an UNMAP cuts them (drm_gpuvm_sm_map/sm_unmap);
// every VMA holds a reference on its BO (drm_gpuvm_bo).

import type { XeBo } from './bo.js';
import type { XeMapping } from './mapping.js';
import { PAGE } from './hw.js';

export interface Vma {
  readonly start: number;
  /** exclusive */
  readonly end: number;
  readonly bo: XeBo | null;
  /** offset in the BO of `start` */
  readonly objOffset: number;
  readonly patIndex: number;
  readonly readOnly: boolean;
  /** DRM_XE_VM_BIND_FLAG_NULL: reads zero, writes dropped */
  readonly isNull: boolean;
  /** MAP_USERPTR onto a CPU mapping of a system BO: the mapping and the offset in it of `start` */
  readonly userptr: { readonly mapping: XeMapping; readonly offset: number } | null;
}

/** The VMA list after a bind op, with what it dropped and what it added (for references). */
export interface VmaPlan {
  readonly vmas: Vma[];
  readonly removed: Vma[];
  readonly added: Vma[];
}

export class XeVm {
  vmas: Vma[] = [];
  closed = false;
  /** DRM_XE_VM_CREATE_FLAG_SCRATCH_PAGE: unmapped addresses reach one page of their own */
  readonly scratch: Uint8Array | null;
  /** exec queues created on it (xe_vm_add_compute_exec_queue for LR VMs) */
  queues = 0;

  constructor(
    readonly id: number,
    readonly flags: number,
    readonly asid: number,
  ) {
    this.scratch = flags & 1 ? new Uint8Array(PAGE) : null;
  }

  get lrMode(): boolean {
    return (this.flags & 2) !== 0;
  }

  get faultMode(): boolean {
    return (this.flags & 4) !== 0;
  }

  /** The VMA holding `va`, if any. */
  find(va: number): Vma | undefined {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = v[mid]!;
      if (va < m.start) hi = mid - 1;
      else if (va >= m.end) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /** Cut [start, end) out of the VMA list: overlapped VMAs go, remnants stay as new VMAs. */
  private cut(list: Vma[], start: number, end: number, removed: Vma[], added: Vma[]): Vma[] {
    const out: Vma[] = [];
    for (const v of list) {
      if (v.end <= start || v.start >= end) {
        out.push(v);
        continue;
      }
      removed.push(v);
      if (v.start < start) {
        const prev: Vma = { ...v, end: start };
        out.push(prev);
        added.push(prev);
      }
      if (v.end > end) {
        const delta = end - v.start;
        const next: Vma = {
          ...v,
          start: end,
          objOffset: v.objOffset + delta,
          userptr: v.userptr ? { mapping: v.userptr.mapping, offset: v.userptr.offset + delta } : null,
        };
        out.push(next);
        added.push(next);
      }
    }
    return out;
  }

  planMap(vma: Vma, base: Vma[] = this.vmas): VmaPlan {
    const removed: Vma[] = [];
    const added: Vma[] = [];
    const kept = this.cut(base, vma.start, vma.end, removed, added);
    kept.push(vma);
    added.push(vma);
    kept.sort((a, b) => a.start - b.start);
    return { vmas: kept, removed, added };
  }

  planUnmap(start: number, end: number, base: Vma[] = this.vmas): VmaPlan {
    const removed: Vma[] = [];
    const added: Vma[] = [];
    return { vmas: this.cut(base, start, end, removed, added), removed, added };
  }

  planUnmapAll(bo: XeBo, base: Vma[] = this.vmas): VmaPlan {
    const removed = base.filter((v) => v.bo === bo);
    return { vmas: base.filter((v) => v.bo !== bo), removed, added: [] };
  }

  /** Install a plan: references follow the VMAs (added first, so a split never drops the last one). */
  commit(plan: VmaPlan): void {
    for (const v of plan.added) {
      v.bo?.get();
      v.userptr?.mapping.pin();
    }
    this.vmas = plan.vmas;
    for (const v of plan.removed) {
      v.bo?.put();
      v.userptr?.mapping.unpin();
    }
  }

  /** xe_vm_close_and_put: the VM is closed and every VMA is torn down. */
  close(): void {
    this.closed = true;
    this.commit({ vmas: [], removed: this.vmas, added: [] });
  }

  /** BOs bound here that were imported (they need revalidation after an eviction). */
  importedBos(): Set<XeBo> {
    const out = new Set<XeBo>();
    for (const v of this.vmas) if (v.bo?.imported) out.add(v.bo);
    return out;
  }
}
