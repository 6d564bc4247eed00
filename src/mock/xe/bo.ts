// GEM buffer objects of the xe device: VRAM and system-memory BOs from
// DRM_IOCTL_XE_GEM_CREATE, and sg BOs from PRIME import (their mapping state
// lives in import.ts). A BO is alive while anything holds a reference: GEM
// handles, CPU mappings, VMAs, and its exported dma-buf (drivers/gpu/drm/drm_gem.c,
// drm_prime.c; a drm_gpuvm_bo keeps the object of every VMA).

import type { DmaBufObject, ExporterOps, PhysRange, SgTable, VramBlock } from '../contracts.js';
import type { XeDevice } from './device.js';
import { ExtentMap, toSafe } from './extents.js';
import type { ImportedBo } from './import.js';
import { kfail } from './kerror.js';
import type { XeVm } from './vm.js';
import { LMEM_BAR } from './translate.js';
import { REGION_SYSMEM, REGION_VRAM0 } from './hw.js';

export type BoMemory =
  | { readonly where: 'vram'; readonly blocks: readonly VramBlock[]; readonly map: ExtentMap }
  | { readonly where: 'system'; readonly chunks: readonly PhysRange[]; readonly map: ExtentMap };

export interface BoInit {
  size: number;
  /** DRM_XE_GEM_CREATE placement bits (0 for imports) */
  placement: number;
  flags: number;
  cpuCaching: number;
  vm: XeVm | null;
}

export class XeBo {
  readonly id: number;
  readonly size: number;
  readonly placement: number;
  readonly flags: number;
  /** 0 for imported dma-bufs: their CPU caching is unknown (xe_vm_bind_ioctl_validate_bo) */
  readonly cpuCaching: number;
  /** VM-private BO (gem_create with vm_id): shares the VM's reservation and cannot be exported */
  readonly vm: XeVm | null;
  /**
   * XE_BO_FLAG_INTERNAL_64K: a BO that may live in VRAM on an XE_VRAM_FLAGS_NEED64K
   * device binds at 64 KiB granularity (xe_vm_bind_ioctl_validate_bo).
   */
  readonly needs64k: boolean;
  /** fake mmap offset: the drm_vma_node start, in bytes */
  readonly mmapStart: number;
  memory: BoMemory | null = null;
  /** PRIME import state (sg BO); null for BOs this device created */
  imported: ImportedBo | null = null;
  /**
   * obj->dma_buf: the dma-buf this object is known by (its export, or the
   * imported buffer). The object holds a reference on it while it has handles.
   */
  dmabuf: DmaBufObject | null = null;
  private holdsDmabufRef = false;
  handleCount = 0;
  private refs = 0;
  destroyed = false;

  constructor(
    readonly dev: XeDevice,
    init: BoInit,
  ) {
    this.id = dev.nextBoId();
    this.size = init.size;
    this.placement = init.placement;
    this.flags = init.flags;
    this.cpuCaching = init.cpuCaching;
    this.vm = init.vm;
    this.needs64k = (init.placement & (1 << REGION_VRAM0)) !== 0;
    this.mmapStart = dev.reserveMmapOffset(init.size);
    dev.registerMmap(this);
    dev.liveBos.add(this);
  }

  get kind(): 'vram' | 'system' | 'import' {
    return this.imported ? 'import' : (this.memory?.where ?? 'system');
  }

  get(): void {
    this.refs++;
  }

  put(): void {
    if (this.refs <= 0) throw new Error(`xe model: BO ${this.id} reference underflow`);
    if (--this.refs === 0) this.destroy();
  }

  /** A new GEM handle (drm_gem_handle_create_tail). */
  handleOpened(): void {
    this.handleCount++;
    this.get();
    if (this.handleCount === 1 && this.dmabuf && !this.holdsDmabufRef) {
      this.dev.platform.dmabuf.ref(this.dmabuf);
      this.holdsDmabufRef = true;
    }
  }

  /** drm_gem_object_handle_put_unlocked: the last handle drops obj->dma_buf's reference. */
  handleClosed(): void {
    this.handleCount--;
    if (this.handleCount === 0 && this.holdsDmabufRef && this.dmabuf) {
      this.holdsDmabufRef = false;
      const buf = this.dmabuf;
      if (!this.imported) this.dmabuf = null;
      this.dev.platform.dmabuf.unref(buf);
    }
    this.put();
  }

  /** The export made by PRIME_HANDLE_TO_FD: obj->dma_buf is set with a reference of its own. */
  setExported(buf: DmaBufObject): void {
    this.dmabuf = buf;
    if (this.handleCount > 0 && !this.holdsDmabufRef) {
      this.dev.platform.dmabuf.ref(buf);
      this.holdsDmabufRef = true;
    }
  }

  private destroy(): void {
    this.destroyed = true;
    this.dev.liveBos.delete(this);
    this.dev.releaseMmapOffset(this);
    if (this.imported) this.imported.destroy();
    this.freeMemory();
  }

  private freeMemory(): void {
    const m = this.memory;
    this.memory = null;
    if (!m) return;
    if (m.where === 'vram') this.dev.xePf.freeVram(m.blocks);
    else this.dev.platform.ram.free(m.chunks);
  }

  /** Back the BO: VRAM first when allowed, else system memory (TTM tries placements in order). */
  allocate(wantVram: boolean, wantSystem: boolean): void {
    if (wantVram) {
      const blocks = this.dev.xePf.allocVram(BigInt(this.size));
      if (blocks) {
        this.memory = {
          where: 'vram',
          blocks,
          map: ExtentMap.of(blocks.map((b) => [toSafe(b.dpa, 'DPA'), toSafe(b.size, 'VRAM block')] as const)),
        };
        return;
      }
      if (!wantSystem) kfail('ENOSPC', 'VRAM exhausted');
    }
    const chunks = this.dev.platform.ram.alloc(BigInt(this.size));
    if (!chunks) kfail('ENOMEM', 'system memory exhausted');
    this.memory = {
      where: 'system',
      chunks,
      map: ExtentMap.of(chunks.map((c) => [toSafe(c.address, 'RAM address'), toSafe(c.length, 'RAM chunk')] as const)),
    };
  }

  /** xe_bo_migrate(bo, XE_PL_TT) for a BO that may live in system memory. */
  migrateToSystem(): void {
    const m = this.memory;
    if (!m || m.where === 'system') return;
    const data = this.read(0, this.size);
    const blocks = m.blocks;
    this.memory = null;
    this.allocate(false, true);
    this.write(0, data);
    this.dev.xePf.freeVram(blocks);
  }

  /** CPU/GPU access to the BO's own memory (VRAM by DPA, system RAM through the bus). */
  read(offset: number, length: number): Uint8Array {
    const m = this.memory;
    if (!m) return new Uint8Array(length);
    return m.map.read(m.where === 'vram' ? this.dev.xePf.vram : this.dev.platform.bus, offset, length);
  }

  write(offset: number, data: Uint8Array): void {
    const m = this.memory;
    if (!m) return;
    m.map.write(m.where === 'vram' ? this.dev.xePf.vram : this.dev.platform.bus, offset, data);
  }

  /** xe_bo_can_migrate(bo, XE_PL_TT): the placement allows system memory. */
  canLiveInSystem(): boolean {
    return (this.placement & (1 << REGION_SYSMEM)) !== 0;
  }

  /**
   * xe's dma_buf_ops for a BO it exports (drivers/gpu/drm/xe/xe_dma_buf.c):
   * a non-peer2peer importer needs a BO that can move to system memory
   * (EOPNOTSUPP otherwise); the map gives PF BAR 2 bus addresses for VRAM and
   * page addresses for system memory.
   */
  exporterOps(): ExporterOps {
    return {
      attach: (attachment) => {
        if (!attachment.importer.allowPeer2peer && this.memory?.where === 'vram' && !this.canLiveInSystem()) {
          kfail('EOPNOTSUPP', 'a VRAM-only BO needs a peer2peer importer');
        }
        return null;
      },
      map: (attachment): SgTable => {
        if (!attachment.importer.allowPeer2peer) this.migrateToSystem();
        const m = this.memory;
        if (!m) kfail('EINVAL', 'BO has no backing');
        const entries: { address: bigint; length: bigint }[] = [];
        if (m.where === 'system') {
          for (const c of m.chunks) entries.push({ address: c.address, length: c.length });
        } else {
          // xe_ttm_vram_mgr_alloc_sgt: bus address = LMEM BAR start + DPA, only where the BAR reaches.
          const bar = this.dev.pf.bars.find((b) => b.index === LMEM_BAR);
          for (const b of m.blocks) {
            if (!bar || b.dpa + b.size > bar.size) kfail('EINVAL', 'VRAM outside the CPU-visible BAR');
            entries.push({ address: bar.start + b.dpa, length: b.size });
          }
        }
        return { entries };
      },
      unmap: () => undefined,
      release: () => {
        if (this.dmabuf && !this.imported) this.dmabuf = null;
        this.put();
      },
    };
  }
}
