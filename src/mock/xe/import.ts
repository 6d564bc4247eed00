// A foreign dma-buf imported by xe (PRIME_FD_TO_HANDLE): an sg BO whose pages
// are mapped only when it is first validated, at VM bind or exec
// (docs/kernel.md §7, docs/profiles.md, rfc-v1 "Map"). This is xe_bo_move_dmabuf() and
// xe_ttm_bo_delete_mem_notify() as RFC 7/8 changed them, plus
// xe_dma_buf_move_notify() (the importer's invalidate_mappings).
//
// Mapping kinds, by what a GPU access to the BO reaches:
//   sg      - the exporter's scatter-gather addresses on the bus (P2P onto a VF BAR, or RAM)
//   iov     - translated DPAs in the PF's VRAM (the IOV interconnect)
//   nowhere - RFC v1 quirk 2: neither translated addresses nor an sg table. The page-table walk
//             of the bind that validated it then dereferences the NULL sg table (validate()).

import type {
  Attachment,
  DmaBufObject,
  ImporterOps,
  InterconnectRanges,
  KernelAlloc,
  LmemObject,
  QuirkId,
  SgTable,
} from '../contracts.js';
import type { XeBo } from './bo.js';
import type { XeDevice } from './device.js';
import { type ExtentMap, ExtentMapBuilder, pairsOf } from './extents.js';
import { errnoOf, KernelError } from './kerror.js';
import { LMEM_BAR, translate } from './translate.js';
import type { MockPlatform } from '../contracts.js';
import { enabled } from '../kconfig.js';
import type { ProfileImpl } from '../profiles.js';
import { DMABUF_ALLOC, DMABUF_ALLOCATED, DMABUF_FREED, TTM_DELAYED_DELETE, TTM_DELAYED_DELETE_FN } from '../frames.js';

/**
 * What TTM does with the sg BO of an import whose attach failed (xe work
 * item 8023, docs/bugs.md `ttm-attach-uaf`). xe_dma_buf_create_obj
 * (drivers/gpu/drm/xe/xe_dma_buf.c) made a ttm_bo_type_sg BO whose
 * reservation object is the exporter's `dma_buf->resv` before
 * xe_gem_prime_import attached; the attach failed (vfio: ENODEV for a
 * revoked buffer, EOPNOTSUPP for a non-P2P or non-revocable importer) and
 * xe_bo_put released the BO. ttm_bo_release (drivers/gpu/drm/ttm/ttm_bo.c)
 * individualizes the resv, but ttm_bo_individualize_resv keeps the shared
 * one for sg BOs, and an sg BO always goes to the delayed-delete worker,
 * which later takes `dma_resv_lock(bo->base.resv)`.
 *
 * Before "drm/xe: Hold a dma-buf reference for imported BOs" (2026-07-10,
 * Cc stable; Debian's 7.2.13 source has it: xe_bo_init_locked takes
 * get_dma_buf and xe_ttm_bo_destroy puts it) nothing held the dma-buf: the
 * import's own reference (drm_gem_prime_fd_to_handle's dma_buf_get) goes
 * with the failed ioctl, so once userspace closes its fd the struct dma_buf
 * with its embedded resv is freed, and the worker locks freed memory: KASAN
 * (slab-use-after-free in __ww_mutex_lock, from ttm_bo_delayed_delete) or,
 * with slab poisoning and no KASAN, the general protection fault in
 * mutex_can_spin_on_owner the patch quotes. With the fix the BO's
 * reference keeps the dma-buf until the worker has run and the BO's
 * destroy puts it.
 *
 * When the worker runs against the close is a race on a real machine (a
 * kworker on another CPU usually wins); the mock's kworkers run when time
 * passes (KernelServices.queueWork), so a close right after the failed
 * import always comes first: the mock shows the outcome of the race that
 * exposes the bug.
 */
export function failedImportTeardown(platform: MockPlatform, buf: DmaBufObject): void {
  const k = platform.kernel;
  const core = platform.dmabuf;
  const fixed = !k.profile.has('ttm-attach-uaf');
  // xe_bo_init_locked: get_dma_buf for the BO's lifetime (the fix).
  if (fixed) core.ref(buf);
  const pid = k.pid;
  k.queueWork('kworker/u4:3', () => {
    if (fixed) {
      // xe_ttm_bo_destroy: dma_buf_put(bo->dma_buf) after the worker's unlock.
      core.unref(buf);
      return;
    }
    if (!core.freed(buf)) return;
    const profile = k.profile as ProfileImpl;
    if (!enabled(profile, 'KASAN')) return;
    const base = 0xff11000006a30000n + BigInt(buf.ino % 4096) * 0x400n;
    const at = base + BigInt(DMABUF_ALLOC.resvAt + DMABUF_ALLOC.magicAt);
    k.kasan({
      kind: 'slab-use-after-free',
      fn: TTM_DELAYED_DELETE_FN,
      access: 'Read of size 8',
      addr: at.toString(16),
      trace: TTM_DELAYED_DELETE,
      allocated: DMABUF_ALLOCATED,
      freed: DMABUF_FREED,
      cache: DMABUF_ALLOC.cache,
      objectSize: DMABUF_ALLOC.objectSize,
      offset: DMABUF_ALLOC.resvAt + DMABUF_ALLOC.magicAt,
      allocPid: pid,
      freePid: pid,
      workqueue: 'ttm ttm_bo_delayed_delete [ttm]',
    });
  });
}

/** The call chain of an import's map: xe_bo_move under TTM validation, from VM_BIND (xe_vm.c, ttm_bo.c). */
export const VALIDATE_FRAMES: readonly string[] = [
  'xe_bo_move+0x4a7/0x9a0 [xe]',
  'ttm_bo_handle_move_mem+0xd4/0x1a0 [ttm]',
  'ttm_bo_validate+0xbd/0x1a0 [ttm]',
  'xe_bo_validate+0x11f/0x1c0 [xe]',
  'xe_vm_bind_ioctl+0x8f1/0x1380 [xe]',
  'drm_ioctl_kernel+0xa9/0x100 [drm]',
  'drm_ioctl+0x27f/0x4b0 [drm]',
];

type Mapped = { kind: 'sg'; sgt: SgTable; map: ExtentMap } | { kind: 'iov'; map: ExtentMap } | { kind: 'nowhere' };

/** What the BO keeps of an IOV translation (bo->dma_data and, when released properly, the ranges). */
interface IovState {
  lmem: LmemObject;
  dmaAddr: KernelAlloc;
  /** The core's range container while it is still mapped; null once handed back or leaked. */
  ranges: InterconnectRanges | null;
  /** Unregisters the quota-replacement watch (fixed profile). */
  unwatch: () => void;
}

export type ImportPath = 'unmapped' | 'sg' | 'iov' | 'nowhere' | 'evicted';

export class ImportedBo {
  readonly attachment: Attachment;
  private mapped: Mapped | null = null;
  private evicted = false;
  /** A scatter-gather mapping left in place by an eviction (xe_bo_move_dmabuf defers the unmap). */
  private deferredSg: SgTable | null = null;
  /** attach->allow_ic: cleared for good once the interconnect could not be used (RFC 7/8). */
  private allowIc = true;
  private iov: IovState | null = null;
  /** bo->dma_data.dma_addr left by a translation that oopsed: freed with the BO. */
  private oopsDmaAddr: KernelAlloc | null = null;
  private detached = false;

  constructor(
    private readonly dev: XeDevice,
    private readonly bo: XeBo,
    readonly dmabuf: DmaBufObject,
  ) {
    const platform = dev.platform;
    const ops: ImporterOps = {
      allowPeer2peer: true,
      invalidateMappings: () => this.moveNotify(),
      ...(platform.kernel.profile.interconnect
        ? {
            interconnects: [{ type: 'iov' as const, dev: dev.pf, bar: LMEM_BAR }],
            supportsInterconnects: (attachment: Attachment, offers: readonly unknown[]) => {
              platform.kernel.trace('xe_dma_buf_supports_interconnects', 'entry', {
                arg1: dev.ptr(attachment),
                arg2: dev.ptr(offers),
                arg3: offers.length,
              });
            },
          }
        : {}),
    };
    // dma_buf_dynamic_attach() in xe_gem_prime_import: attach errors fail the import.
    this.attachment = platform.dmabuf.attach(dmabuf, dev.pf.bdf, dev.pf, ops);
    // drm_gem_prime_import_dev keeps its own reference on the dma-buf (import_attach).
    platform.dmabuf.ref(dmabuf);
  }

  private quirk(q: QuirkId): boolean {
    return this.dev.platform.kernel.profile.has(q);
  }

  /** Which path a GPU access takes now (for tests and the debug view). */
  get path(): ImportPath {
    if (this.evicted) return 'evicted';
    return this.mapped?.kind ?? 'unmapped';
  }

  get usable(): boolean {
    return this.mapped !== null && !this.evicted;
  }

  /**
   * Validation: move the sg BO to XE_PL_TT, i.e. map it (xe_bo_move_dmabuf).
   * Throws a KernelError (or the platform's SystemError) when the map fails.
   */
  validate(): void {
    if (this.usable) return;
    // ttm_bo_validate -> xe_bo_move(bo, evict=false, ..., new_mem = XE_PL_TT)
    this.dev.platform.kernel.trace('xe_bo_move', 'entry', { arg1: this.dev.ptr(this.bo), arg2: 0 });
    const core = this.dev.platform.dmabuf;
    const att = this.attachment;
    // "if (ttm_bo->sg) dma_buf_unmap_attachment(...)": the deferred unmap happens here.
    if (this.deferredSg) {
      const sg = this.deferredSg;
      this.deferredSg = null;
      core.unmapAttachment(att, sg);
    }
    this.mapped = null;
    let allowIc = this.allowIc && att.interconnect?.type === 'iov';
    if (allowIc) {
      let ranges: InterconnectRanges | null = null;
      try {
        ranges = core.mapInterconnect(att);
      } catch (e) {
        if (errnoOf(e) === null) throw e;
        allowIc = false;
      }
      if (ranges) allowIc = this.useInterconnect(ranges);
      this.allowIc = allowIc;
    }
    if ((this.mapped as Mapped | null)?.kind === 'nowhere') this.nullSgBind();
    if (!allowIc) {
      // xe_bo_move_dmabuf, inlined into xe_bo_move, maps under the validate.
      const sgt = core.mapAttachment(att, ['xe_bo_move+0x3c4/0x9a0 [xe]', ...VALIDATE_FRAMES.slice(1)]);
      const pairs = pairsOf(sgt.packed, () => sgt.entries.map((e) => [e.address, e.length] as const), 'sg entry');
      const b = new ExtentMapBuilder();
      for (let i = 0; i < pairs.length; i += 2) b.add(pairs[i]!, pairs[i + 1]!);
      this.mapped = { kind: 'sg', sgt, map: b.build() };
    }
    this.evicted = false;
  }

  /**
   * RFC v1 quirk 2's end: xe_bo_move_dmabuf returned 0 with ttm_bo->sg = NULL
   * and no dma_data, so the page-table walk of this bind takes the sg branch
   * of xe_pt_stage_bind (8/8 adds the dma_addr branch only for translated
   * BOs) and calls xe_res_first_sg(xe_bo_sg(bo) = NULL): XE_WARN_ON(!sg),
   * then cur->sgl = sg->sgl reads address 0 (drivers/gpu/drm/xe/xe_res_cursor.h).
   * An oops inside VM_BIND, with the VM and the BO's reservation held; the
   * calling task dies.
   */
  private nullSgBind(): void {
    const k = this.dev.platform.kernel;
    k.warn('xe_pt_stage_bind+0x2f3/0x6d0 [xe]', 'drivers/gpu/drm/xe/xe_res_cursor.h:233');
    k.oops('NULL pointer dereference', 'xe_pt_stage_bind+0x302/0x6d0 [xe]');
    throw new KernelError(
      14,
      'kernel oops binding the import: xe_res_first_sg(NULL) on a BO with neither sg table nor translated addresses',
    );
  }

  /** The IOV branch of xe_bo_move_dmabuf; false means "fall back to the sg path". */
  private useInterconnect(ranges: InterconnectRanges): boolean {
    const dev = this.dev;
    const core = dev.platform.dmabuf;
    const t = translate(
      {
        platform: dev.platform,
        pf: dev.pf,
        xePf: dev.xePf,
        ptr: (o) => dev.ptr(o),
        boPtr: dev.ptr(this.bo),
        rangesPtr: dev.ptr(ranges),
      },
      ranges,
    );
    const leak = this.quirk('ranges-leak');
    switch (t.kind) {
      case 'iov': {
        if (this.iov) this.dropIov(leak, true);
        // The series as meant (fixed): replacing the VF's LMEM object under this import invalidates it.
        const unwatch = t.lmem.onReplaced(() => this.moveNotify());
        this.iov = { lmem: t.lmem, dmaAddr: t.dmaAddr, ranges, unwatch };
        if (leak) this.leakRanges();
        this.mapped = { kind: 'iov', map: t.table };
        return true;
      }
      case 'untranslated': {
        // xe_bo_xarray_to_dma_addr returned 0: the ranges are not handed back either.
        if (leak) this.orphanRanges(ranges);
        else core.unmapInterconnect(this.attachment, ranges);
        this.mapped = { kind: 'nowhere' };
        return true;
      }
      case 'failed':
        core.unmapInterconnect(this.attachment, ranges);
        return false;
      case 'oops':
        // The task dies inside the kernel: nothing hands the ranges back, and
        // a second oops overwrites the array the first one left on the BO.
        this.orphanRanges(ranges);
        this.oopsDmaAddr?.orphan();
        this.oopsDmaAddr = t.dmaAddr;
        throw new KernelError(14, `kernel oops translating the import: ${t.why}`);
    }
  }

  /**
   * RFC quirk 6: after a successful map xe keeps only the translated
   * array; the core's struct dma_buf_ranges and vfio's range array are never
   * unmapped, so kmemleak finds them unreferenced.
   */
  private leakRanges(): void {
    const r = this.iov?.ranges;
    if (!r || !this.iov) return;
    this.iov.ranges = null;
    this.orphanRanges(r);
  }

  private orphanRanges(r: InterconnectRanges): void {
    const k = this.dev.platform.kernel;
    // dma_buf_map_interconnect's kzalloc of the container, and vfio's kmalloc_array of struct range
    // (vfio_pci_map_iov_interconnect, inlined into the op), both under the validate of a bind.
    k.alloc('struct dma_buf_ranges', 24, [
      '__kmalloc_cache_noprof+0x2f1/0x3c0',
      'dma_buf_map_interconnect+0x4e/0xe0',
      ...VALIDATE_FRAMES,
    ]).orphan();
    k.alloc('struct range array', 16 * (r.packed ? r.packed.length / 2 : r.ranges.length), [
      '__kmalloc_noprof+0x1d3/0x4a0',
      'vfio_pci_map_interconnect+0x3c/0xd0 [vfio_pci_core]',
      'dma_buf_map_interconnect+0x8c/0xe0',
      ...VALIDATE_FRAMES,
    ]).orphan();
  }

  /**
   * Release the translation state. With `leak` (rfc-v1 re-translation after an
   * eviction) the old dma_addr array is overwritten and the LMEM reference
   * taken for it is never put.
   */
  private dropIov(leak: boolean, retranslate = false): void {
    const s = this.iov;
    this.iov = null;
    if (!s) return;
    s.unwatch();
    if (leak) {
      s.dmaAddr.orphan();
      return;
    }
    if (s.ranges) this.dev.platform.dmabuf.unmapInterconnect(this.attachment, s.ranges);
    s.lmem.put();
    // RFC v2 7/8 unmaps the old ranges (xe_tt->ranges) before mapping again, but then assigns the new
    // bo->dma_data.dma_addr over the old array without freeing it.
    if (retranslate && this.dev.platform.kernel.profile.series === 'rfc-v2') s.dmaAddr.orphan();
    else s.dmaAddr.free();
  }

  /**
   * xe_dma_buf_move_notify(): evict to system memory. The VMAs must be
   * revalidated before the GPU uses the BO again. xe defers the unmap of an
   * sg mapping to the next map or to BO destruction (docs/kernel.md §11.6,
   * `deferred-unmap-hang`); without the quirk the model unmaps at once.
   */
  moveNotify(): void {
    this.dev.platform.kernel.trace('xe_dma_buf_move_notify', 'entry', { arg1: this.dev.ptr(this.attachment) });
    if (!this.mapped || this.evicted) return;
    // xe_bo_evict -> xe_bo_move(bo, evict=true, ..., new_mem = XE_PL_SYSTEM)
    this.dev.platform.kernel.trace('xe_bo_move', 'entry', { arg1: this.dev.ptr(this.bo), arg2: 1 });
    this.evicted = true;
    const m = this.mapped;
    this.mapped = null;
    if (this.quirk('deferred-unmap-hang')) {
      if (m.kind === 'sg') this.deferredSg = m.sgt;
      return;
    }
    if (m.kind === 'sg') this.dev.platform.dmabuf.unmapAttachment(this.attachment, m.sgt);
    if (m.kind === 'iov') this.dropIov(false);
  }

  /** xe_ttm_bo_delete_mem_notify() then drm_prime_gem_destroy(). */
  destroy(): void {
    if (this.detached) return;
    this.detached = true;
    const core = this.dev.platform.dmabuf;
    const sg = this.deferredSg ?? (this.mapped?.kind === 'sg' ? this.mapped.sgt : null);
    this.deferredSg = null;
    this.mapped = null;
    if (sg) core.unmapAttachment(this.attachment, sg);
    // "if (bo->is_devmem_external) { xe_bo_put(lmem_obj); kfree(dma_addr); }"
    this.dropIov(false);
    this.oopsDmaAddr?.free();
    this.oopsDmaAddr = null;
    core.detach(this.attachment);
    core.unref(this.dmabuf);
  }

  /** GPU read of BO bytes [offset, offset + length) through the current mapping. */
  read(offset: number, length: number): Uint8Array {
    const m = this.mapped;
    if (!m || m.kind === 'nowhere') return new Uint8Array(length);
    return m.map.read(m.kind === 'iov' ? this.dev.xePf.vram : this.dev.platform.bus, offset, length);
  }

  write(offset: number, data: Uint8Array): void {
    const m = this.mapped;
    if (!m || m.kind === 'nowhere') return;
    m.map.write(m.kind === 'iov' ? this.dev.xePf.vram : this.dev.platform.bus, offset, data);
  }
}
