// The IOV path inside xe: turning the VF BAR ranges the exporter hands over
// (dma_buf_map_interconnect) into device physical addresses in the VF's LMEM
// object. This is RFC v1 7/8 (xe_bo_xarray_to_dma_addr, xe_find_vf_dev,
// xe_bo_translate_io_xarray_to_dpa in drivers/gpu/drm/xe/xe_bo.c) and RFC v2
// 7/8 (xe_bo_translate_io_addr_to_dpa: every range looked up and checked
// against the exporting VF, -EINVAL/-EPERM instead of a silent success),
// restated in docs/profiles.md. Each quirk is gated by the profile; with a
// quirk off the model does what the series meant (the `fixed` profile).

import type {
  InterconnectRanges,
  KernelAlloc,
  LmemObject,
  MockPlatform,
  PciDevice,
  QuirkId,
  XePfState,
} from '../contracts.js';
import { ExtentMap, ExtentMapBuilder, pairsOf, toSafe } from './extents.js';
import { PAGE } from './hw.js';

/** regs/xe_bars.h: LMEM_BAR = 2, the VF BAR that windows its LMEM quota. */
export const LMEM_BAR = 2;
/** The kmalloc_array of bo->dma_data.dma_addr (in xe_bo_xarray_to_dma_addr, inlined into xe_bo_move). */
const DMA_ADDR_FRAMES: readonly string[] = [
  '__kmalloc_noprof+0x1d3/0x4a0',
  'xe_bo_move+0x4c1/0x9a0 [xe]',
  'ttm_bo_handle_move_mem+0xd4/0x1a0 [ttm]',
  'ttm_bo_validate+0xbd/0x1a0 [ttm]',
  'xe_bo_validate+0x11f/0x1c0 [xe]',
  'xe_vm_bind_ioctl+0x8f1/0x1380 [xe]',
  'drm_ioctl_kernel+0xa9/0x100 [drm]',
  'drm_ioctl+0x27f/0x4b0 [drm]',
];

/** sizeof(struct drm_pagemap_addr): the per-entry size of bo->dma_data.dma_addr. */
const PAGEMAP_ADDR_SIZE = 16;

export type Translation =
  /** Translated: GPU accesses go to `table` (BO offset -> DPA), DM bit set in the PTEs. */
  | { kind: 'iov'; table: ExtentMap; lmem: LmemObject; vfid: number; dmaAddr: KernelAlloc }
  /** RFC quirk 2: "success" without translating; the BO has neither DPAs nor an sg table. */
  | { kind: 'untranslated'; why: string }
  /** The translation refused: xe unmaps the interconnect and falls back to the sg path (docs/profiles.md, rfc-v1 "Map" step 4). */
  | { kind: 'failed'; why: string }
  /** RFC quirk 4: a NULL dereference; the kernel oopsed in the middle of the ioctl. */
  | { kind: 'oops'; why: string; dmaAddr: KernelAlloc };

export interface TranslateContext {
  readonly platform: MockPlatform;
  readonly pf: PciDevice;
  readonly xePf: XePfState;
  /** Synthetic kernel pointers for the fetch-args a kprobe would see. */
  ptr(obj: object): bigint;
  readonly boPtr: bigint;
  readonly rangesPtr: bigint;
}

function has(ctx: TranslateContext, q: QuirkId): boolean {
  return ctx.platform.kernel.profile.has(q);
}

/** get_order(): the smallest order with PAGE_SIZE << order >= size. */
export function getOrder(size: number): number {
  let order = 0;
  while (PAGE * 2 ** order < size) order++;
  return order;
}

function lmemBar(dev: PciDevice): { start: number; size: number } | null {
  const bar = dev.bars.find((b) => b.index === LMEM_BAR);
  if (!bar || bar.kind === 'none' || bar.size === 0n) return null;
  return { start: toSafe(bar.start, 'BAR start'), size: toSafe(bar.size, 'BAR size') };
}

/**
 * xe_find_vf_dev(): the VF whose BAR 2 window holds `phys`.
 * rfc-v1 walks pf_pdev->bus->devices only (quirk 5), skips physical
 * functions, and accepts `phys < start + len - PAGE_SIZE` (quirk 1). The
 * intent: every VF of this PF, the whole window.
 */
function findVf(ctx: TranslateContext, phys: number): PciDevice | null {
  const { platform, pf } = ctx;
  const k = platform.kernel;
  k.trace('xe_find_vf_dev', 'entry', { arg1: ctx.ptr(ctx.xePf), arg2: BigInt(phys) });
  const candidates = has(ctx, 'vf-other-bus')
    ? platform.pci
        .devicesOnBus(pf.domain, pf.bus)
        .filter((d) => !(d === pf || (!d.isVirtfn && platform.pci.vfsOf(d).length > 0)))
    : platform.pci.vfsOf(pf);
  const lastPage = has(ctx, 'last-page') ? PAGE : 0;
  let found: PciDevice | null = null;
  for (const d of candidates) {
    const bar = lmemBar(d);
    if (bar && phys >= bar.start && phys < bar.start + bar.size - lastPage) {
      found = d;
      break;
    }
  }
  k.trace('xe_find_vf_dev', 'return', { retval: found ? ctx.ptr(found) : 0n });
  return found;
}

/**
 * __xe_bo_addr() through xe_res_first() on the LMEM object's VRAM blocks.
 * Past the last block the cursor keeps subtracting the last block's size
 * without advancing (the `next != head` test in xe_res_first), so an offset
 * beyond the object wraps inside its last block.
 */
function lmemDpa(blocks: readonly { dpa: number; size: number }[], map: ExtentMap, offset: number): number {
  if (offset < map.total) return map.addressOf(offset);
  let start = offset;
  let i = 0;
  while (start >= blocks[i]!.size) {
    start -= blocks[i]!.size;
    if (i + 1 < blocks.length) i++;
  }
  return blocks[i]!.dpa + start;
}

/** The LMEM objects of a VF's tiles as one, in tile order: the VF BAR 2 view (docs/kernel.md §9). */
function concatenated(objs: LmemObject[]): LmemObject {
  if (objs.length === 1) return objs[0]!;
  const size = objs.reduce((a, o) => a + o.size, 0n);
  return {
    vfid: objs[0]!.vfid,
    size,
    blocks: objs.flatMap((o) => o.blocks),
    dpaAt(offset: bigint): bigint {
      let at = offset;
      for (const o of objs) {
        if (at < o.size) return o.dpaAt(at);
        at -= o.size;
      }
      return objs[objs.length - 1]!.dpaAt(at);
    },
    get: () => {
      for (const o of objs) o.get();
    },
    put: () => {
      for (const o of objs) o.put();
    },
    get refs() {
      return Math.min(...objs.map((o) => o.refs));
    },
    onReplaced: (cb) => {
      const unwatch = objs.map((o) => o.onReplaced(cb));
      return () => {
        for (const u of unwatch) u();
      };
    },
  };
}

export function translate(ctx: TranslateContext, ranges: InterconnectRanges): Translation {
  const k = ctx.platform.kernel;
  const silent = has(ctx, 'silent-untranslated');
  k.trace('xe_bo_xarray_to_dma_addr', 'entry', { arg1: ctx.rangesPtr, arg2: ctx.boPtr });
  const result = translateRanges(ctx, ranges, silent);
  // The RFC's function returns 0 for the silent cases too; -EINVAL stands for
  // the intended refusals, -EFAULT for the oops (the task dies there: the
  // syscall boundary turns this into TaskKilledError, src/mock/syscalls.ts).
  const retval = result.kind === 'iov' || result.kind === 'untranslated' ? 0 : result.kind === 'failed' ? -22 : -14;
  if (result.kind !== 'oops') k.trace('xe_bo_xarray_to_dma_addr', 'return', { retval });
  return result;
}

function translateRanges(ctx: TranslateContext, ranges: InterconnectRanges, silent: boolean): Translation {
  const { platform, xePf } = ctx;
  const k = platform.kernel;
  const refuse = (why: string): Translation => (silent ? { kind: 'untranslated', why } : { kind: 'failed', why });

  // "if (!IS_SRIOV_PF(xe)) return 0;"
  if (!xePf.pfMode) return refuse('xe does not run as SR-IOV PF');
  // [start0, end0, start1, end1, ...], end inclusive
  const list = pairsOf(ranges.packed, () => ranges.ranges.map((r) => [r.start, r.end] as const), 'interconnect range');
  const count = list.length / 2;
  if (count === 0) return refuse('no ranges');
  const first = list[0]!;
  // "if (page_is_ram(PFN_DOWN(range->start))) return 0;"
  if (platform.bus.classify(BigInt(first)) === 'ram') return refuse('the first range is system RAM');
  const vf = findVf(ctx, first);
  if (!vf) return refuse('no VF of this PF owns the first range');
  // "vfid = pci_iov_vf_id(pdev); if (vfid < 0) return 0;"
  if (vf.vfIndex === null) return refuse(`${vf.bdf} is not a VF`);
  const bar = lmemBar(vf)!;

  // "dma_addr = kmalloc_array(ranges->nranges, sizeof(*dma_addr))", then
  // is_devmem_external is set before the translation runs.
  const vfid = vf.vfIndex + 1;
  k.trace('xe_bo_translate_io_xarray_to_dpa', 'entry', {
    arg1: ctx.boPtr,
    arg2: ctx.rangesPtr,
    arg3: BigInt(bar.start),
    arg4: vf.vfIndex,
  });
  k.trace('xe_gt_sriov_pf_config_get_lmem_obj', 'entry', { arg1: ctx.ptr(xePf.pf), arg2: vfid });
  const root = xePf.lmemObj(vfid);
  k.trace('xe_gt_sriov_pf_config_get_lmem_obj', 'return', { retval: root ? ctx.ptr(root) : 0n });
  // The series takes the root tile's object alone; a VF whose LMEM spans tiles sees them concatenated in tile order
  // (docs/kernel.md §9), which is what the translation means to follow.
  const lmem = root && !has(ctx, 'root-tile-only') ? concatenated(xePf.lmemObjs(vfid)) : root;

  if (!lmem) {
    if (has(ctx, 'unprovisioned-oops')) {
      // xe_bo_get(NULL) is harmless; xe_bo_addr(NULL, ...) reads bo->ttm.pin_count.
      const dmaAddr = k.alloc('drm_pagemap_addr array', PAGEMAP_ADDR_SIZE * count, DMA_ADDR_FRAMES);
      k.oops('NULL pointer dereference', 'xe_bo_addr+0x1c/0x90 [xe]');
      return { kind: 'oops', why: `VF ${vfid} (${vf.bdf}) has no LMEM object`, dmaAddr };
    }
    return { kind: 'failed', why: `VF ${vfid} (${vf.bdf}) has no LMEM quota` };
  }

  const blocks = lmem.blocks.map((b) => ({ dpa: toSafe(b.dpa, 'DPA'), size: toSafe(b.size, 'block size') }));
  const blockMap = ExtentMap.of(blocks.map((b) => [b.dpa, b.size] as const));
  const lmemSize = toSafe(lmem.size, 'LMEM size');
  const checkVf = !has(ctx, 'first-range-vf');
  const checkQuota = !has(ctx, 'quota-unchecked');
  const orderFromLength = has(ctx, 'order-from-length');
  const contiguous = has(ctx, 'contiguity');

  const table = new ExtentMapBuilder();
  for (let i = 0; i < count; i++) {
    const start = list[2 * i]!;
    const len = list[2 * i + 1]! - start + 1;
    if (checkVf && (start < bar.start || start + len > bar.start + bar.size)) {
      return { kind: 'failed', why: `range ${i} at 0x${start.toString(16)} is not in ${vf.bdf}'s BAR ${LMEM_BAR}` };
    }
    // RFC quirk 3: every range is taken relative to the first range's VF.
    const offset = start - bar.start;
    if (offset + len > lmemSize) {
      if (checkQuota)
        return {
          kind: 'failed',
          why: `range ${i} ends 0x${(offset + len).toString(16)} into VF ${vfid}'s LMEM, past its 0x${lmemSize.toString(16)} quota`,
        };
      // Nothing checks the quota (xe_bo_translate_io_xarray_to_dpa, 7/8 of each posting). v1 calls
      // xe_bo_addr(lmem_obj, offset, len) and
      // xe_res_first()'s XE_WARN_ON(start + size > res->size) fires for the range's end; v2 passes
      // XE_PAGE_SIZE (7/8 v5), so it fires only when the range starts past the object.
      const warnEnd = ctx.platform.kernel.profile.series === 'rfc-v2' ? offset + PAGE : offset + len;
      if (warnEnd > lmemSize) k.warn('xe_bo_addr+0x7b/0x90 [xe]', 'drivers/gpu/drm/xe/xe_res_cursor.h:73');
    }
    if (contiguous) {
      // RFC quirks 7 and 8: one DPA per range, from its start alone,
      // covering PAGE_SIZE << get_order(len) bytes in the walk (xe_res_first_dma).
      const dpa = lmemDpa(blocks, blockMap, offset);
      table.add(dpa, orderFromLength ? PAGE * 2 ** getOrder(len) : len);
    } else {
      // The intent: follow the LMEM object's blocks, one entry per contiguous piece.
      let done = 0;
      while (done < len) {
        const at = offset + done;
        const b = blockMap.find(at);
        let piece: number;
        let dpa: number;
        if (b < 0) {
          // Past the object (only with quota-unchecked) the rest is one wrapped piece.
          piece = len - done;
          dpa = lmemDpa(blocks, blockMap, at);
        } else {
          const within = at - blockMap.startOf(b);
          piece = Math.min(len - done, blockMap.lengthOf(b) - within);
          dpa = blockMap.addressAt(b) + within;
        }
        table.add(dpa, orderFromLength ? PAGE * 2 ** getOrder(piece) : piece);
        done += piece;
      }
    }
  }
  // The lookup is upstream's xe_gt_sriov_pf_config_get_lmem_obj in a 7.x forward-port (and RFC v2's
  // own, 6/8 v4): it returns the object with a reference the caller must put.
  lmem.get();
  // lmem-ref-leak: the forward-ports take one more than they put. v1 adds its own
  // "bo->dma_data.lmem_obj = xe_bo_get(lmem_obj)" on top of the getter's; v2 never stores the object
  // it looked up in bo->dma_data.lmem_obj, so xe_ttm_bo_delete_mem_notify puts NULL. Either way one
  // reference per translation outlives the import: the VF's LMEM survives its quota and VF disable.
  if (has(ctx, 'lmem-ref-leak')) lmem.get();
  const dmaAddr = k.alloc('drm_pagemap_addr array', PAGEMAP_ADDR_SIZE * table.count, DMA_ADDR_FRAMES);
  return { kind: 'iov', table: table.build(), lmem, vfid, dmaAddr };
}
