// How much VRAM an xe PF can give its VFs, decided the way xe decides a quota
// write: xe_gt_sriov_pf_config.c pf_query_max_lmem allows at most the VRAM
// manager's free space (pf_query_free_lmem, xe_ttm_vram_get_avail) minus the
// PF's spare, and a VF whose quota is replaced gives its old one back first.
//
// Neither sysfs nor the SR-IOV debugfs files hold the total or the free VRAM
// (docs/kernel.md §9: only pf/tileT/vram_spare and vram_provisioned). What xe does
// expose is DRM_XE_DEVICE_QUERY_MEM_REGIONS (docs/kernel.md §7), whose VRAM
// regions carry total_size = the manager's size and used =
// xe_ttm_vram_get_used() = the buddy allocator's size - avail (xe_query.c),
// so total_size - used is the very free space pf_query_free_lmem reads.
// Kernels that hid `used` from processes without CAP_PERFMON (6.8, before
// "drm/xe/uapi: restore system wide accounting") answer 0: the free space
// then reads as the whole VRAM, which only makes the check looser.
import type { Backend } from '../backend/types.js';
import { listDrmNodes } from '../uapi/drm.js';
import { XE } from '../uapi/constants.js';
import { XeDevice } from '../uapi/xe.js';
import { DEBUGFS, type SysReader, parseU64 } from './sysfs.js';

export type VramBudget =
  | {
      known: true;
      /** bytes of VRAM no one holds now, summed over the PF's VRAM regions (tiles) */
      free: bigint;
      /** the PF's spare (debugfs vram_spare, summed over tiles); null when it cannot be read */
      spare: bigint | null;
    }
  | { known: false; why: string };

/** The PF's spare VRAM: sriov/pf/tileT/vram_spare (tile layout), or gt0/pf/lmem_spare (legacy). */
export function readSpare(r: SysReader, pf: string): bigint | null {
  const base = `${DEBUGFS}/dri/${pf}`;
  let total: bigint | null = null;
  for (let t = 0; r.exists(`${base}/sriov/pf/tile${t}`); t++) {
    const raw = r.maybe(`${base}/sriov/pf/tile${t}/vram_spare`);
    const v = raw === null ? null : parseU64(raw);
    if (v === null) return null;
    total = (total ?? 0n) + v;
  }
  if (total !== null) return total;
  const legacy = r.maybe(`${base}/gt0/pf/lmem_spare`);
  return legacy === null ? null : parseU64(legacy);
}

/** Asks xe, through the PF's render node, how much VRAM is free; reads the spare from debugfs. */
export function readVramBudget(backend: Backend, r: SysReader, pf: string): VramBudget {
  const node = listDrmNodes(backend).find((n) => n.kind === 'render' && n.bdf === pf);
  if (!node)
    return { known: false, why: `no render node of ${pf} under /dev/dri to ask DRM_XE_DEVICE_QUERY_MEM_REGIONS` };
  let free = 0n;
  try {
    const dev = XeDevice.open(backend, node.path);
    try {
      const vram = dev.memRegions().filter((m) => m.memClass === XE.MEM_REGION_CLASS_VRAM);
      // An admin-only PF answers no regions at all.
      if (vram.length === 0) return { known: false, why: `xe reports no VRAM region on ${node.path}` };
      for (const m of vram) free += m.totalSize > m.used ? m.totalSize - m.used : 0n;
    } finally {
      dev.close();
    }
  } catch (e) {
    return {
      known: false,
      why: `DRM_XE_DEVICE_QUERY_MEM_REGIONS on ${node.path} failed: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  return { known: true, free, spare: readSpare(r, pf) };
}
