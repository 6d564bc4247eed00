// What the modelled xe device is: a Battlemage-class (Xe2 HPG, graphics
// IP 20.01) discrete GPU driven by xe as SR-IOV PF. The numbers userspace can
// read (queries, PAT rules, version, caps) come from here; each cites the
// kernel file it restates.

import { XE } from '../../uapi/constants.js';

/** drivers/gpu/drm/xe/xe_drv.h (DRIVER_DESC became "Intel Xe2 Graphics"; the date is deprecated). */
export const DRIVER = {
  name: 'xe',
  desc: 'Intel Xe2 Graphics',
  /** drm_version() returns "0" since the driver date was removed (drivers/gpu/drm/drm_ioctl.c). */
  date: '0',
  major: 1,
  minor: 1,
  patchlevel: 0,
} as const;

/** DRM major number of /dev/dri nodes; render minors start at 128 (drivers/gpu/drm/drm_drv.c). */
export const DRM_MAJOR = 226;
export const DRM_RENDER_MINOR_BASE = 128;

export const PAGE = 4096;
/** xe->info.va_bits for Xe2 dGPU (DRM_XE_QUERY_CONFIG_VA_BITS; docs/kernel.md §7). */
export const VA_BITS = 48;
export const VM_SIZE = 2 ** VA_BITS;
/** XE_VRAM_FLAGS_NEED64K: VRAM pages are 64 KiB (MIN_ALIGNMENT, min_page_size; docs/kernel.md §7). */
export const VRAM_MIN_PAGE = 0x10000;
/** xe_exec_queue_device_get_max_priority(): HIGH for CAP_SYS_NICE callers (we run as root). */
export const MAX_EXEC_QUEUE_PRIORITY = 2;
/** XE_HW_ENGINE_MAX_INSTANCE (xe_hw_engine_types.h): cap on width * num_placements. */
export const HW_ENGINE_MAX_INSTANCE = 16;
/** DRM_XE_MAX_SYNCS (xe_drm.h): num_syncs above it is EINVAL (docs/kernel.md §7). */
export const MAX_SYNCS = 1024;
/** DRM_XE_CONSULT_MEM_ADVISE_PREF_LOC: prefetch_mem_region_instance meaning "use the madvise location". */
export const CONSULT_MEM_ADVISE_PREF_LOC = 0xffffffff;
/** Memory-region instances (xe_query.c: bit 0 system memory, bit 1 VRAM of tile 0). */
export const REGION_SYSMEM = 0;
export const REGION_VRAM0 = 1;
export const MEM_REGION_MASK = (1 << REGION_SYSMEM) | (1 << REGION_VRAM0);

export interface HwEngine {
  readonly engineClass: number;
  /** logical instance as userspace names it */
  readonly instance: number;
  readonly gtId: number;
  /** xe_hw_engine_class_to_str(): the name in engine-reset log lines */
  readonly className: string;
}

/**
 * A representative subset of BMG's engines: the primary GT (render, copy,
 * compute) and the media GT (video decode, video enhance). The harness needs
 * one render or copy engine; the list is what DEVICE_QUERY ENGINES returns.
 */
export const ENGINES: readonly HwEngine[] = [
  { engineClass: XE.ENGINE_CLASS_RENDER, instance: 0, gtId: 0, className: 'rcs' },
  { engineClass: XE.ENGINE_CLASS_COPY, instance: 0, gtId: 0, className: 'bcs' },
  { engineClass: XE.ENGINE_CLASS_COMPUTE, instance: 0, gtId: 0, className: 'ccs' },
  { engineClass: XE.ENGINE_CLASS_VIDEO_DECODE, instance: 0, gtId: 1, className: 'vcs' },
  { engineClass: XE.ENGINE_CLASS_VIDEO_DECODE, instance: 1, gtId: 1, className: 'vcs' },
  { engineClass: XE.ENGINE_CLASS_VIDEO_ENHANCE, instance: 0, gtId: 1, className: 'vecs' },
];

export function lookupEngine(engineClass: number, instance: number, gtId: number): HwEngine | undefined {
  return ENGINES.find((e) => e.engineClass === engineClass && e.instance === instance && e.gtId === gtId);
}

export interface HwGt {
  readonly gtId: number;
  /** DRM_XE_QUERY_GT_TYPE_MAIN 0, MEDIA 1 */
  readonly type: number;
  readonly tileId: number;
  readonly ipMajor: number;
  readonly ipMinor: number;
  readonly ipRev: number;
  /** Hz; Xe2 reports the 38.4 MHz crystal */
  readonly referenceClock: number;
}

/** BMG: graphics IP 20.01 on GT0, media IP 13.01 on GT1, one tile. */
export const GTS: readonly HwGt[] = [
  { gtId: 0, type: 0, tileId: 0, ipMajor: 20, ipMinor: 1, ipRev: 0, referenceClock: 38_400_000 },
  { gtId: 1, type: 1, tileId: 0, ipMajor: 13, ipMinor: 1, ipRev: 0, referenceClock: 38_400_000 },
];

// ------------------------------------------------------------------ PAT

/** xe_pat.h: 0 = hardware reserved, XE_COH_NONE = 1, XE_COH_AT_LEAST_1WAY = 2. */
export const COH_RESERVED = 0;
export const COH_NONE = 1;
export const COH_AT_LEAST_1WAY = 2;

interface PatEntry {
  readonly coh: number;
  readonly compressed: boolean;
}

function pat(cohMode: number, comp: boolean): PatEntry {
  // XE2_PAT(): coh_mode != 0 (1-way = 2, 2-way = 3 in the register) means AT_LEAST_1WAY.
  return { coh: cohMode ? COH_AT_LEAST_1WAY : COH_NONE, compressed: comp };
}

/**
 * xe2_pat_table (drivers/gpu/drm/xe/xe_pat.c): index -> (coherency, compression).
 * 16..19 are reserved (all zeros, coh_mode 0). BMG is graphics 20.01, where
 * Wa_16023588340 limits n_entries to 28 (CLOS3 disabled), so 28..31 are out of range.
 */
const XE2_PAT: readonly PatEntry[] = [
  pat(0, false), // 0 WB, no snoop
  pat(2, false), // 1 1-way
  pat(3, false), // 2 2-way (IGT intel_get_pat_idx_wb)
  pat(0, false), // 3 UC
  pat(2, false), // 4
  pat(2, false), // 5
  pat(0, false), // 6
  pat(3, false), // 7
  pat(0, false), // 8
  pat(0, true), // 9
  pat(0, true), // 10
  pat(0, true), // 11
  pat(0, true), // 12
  pat(0, false), // 13
  pat(0, true), // 14
  pat(0, true), // 15
  { coh: COH_RESERVED, compressed: false }, // 16
  { coh: COH_RESERVED, compressed: false }, // 17
  { coh: COH_RESERVED, compressed: false }, // 18
  { coh: COH_RESERVED, compressed: false }, // 19
  pat(0, false), // 20
  pat(0, true), // 21
  pat(2, false), // 22
  pat(3, false), // 23
  pat(0, false), // 24
  pat(0, true), // 25
  pat(2, false), // 26
  pat(3, false), // 27
];

/** xe->pat.n_entries on graphics 20.01. */
export const PAT_ENTRIES = XE2_PAT.length;

export function patCoherency(index: number): number {
  return XE2_PAT[index]?.coh ?? COH_RESERVED;
}

export function patCompressed(index: number): boolean {
  return XE2_PAT[index]?.compressed ?? false;
}

// ------------------------------------------------------------------ DRM caps

/** drm_getcap() answers for a PRIME + syncobj + timeline driver (drivers/gpu/drm/drm_ioctl.c). */
export const DRM_CAPS: ReadonlyMap<bigint, bigint> = new Map([
  [1n, 1n], // DRM_CAP_DUMB_BUFFER: xe has dumb_create
  [5n, 3n], // DRM_CAP_PRIME: IMPORT | EXPORT, always both since 6.6 (docs/kernel.md §6)
  [6n, 1n], // DRM_CAP_TIMESTAMP_MONOTONIC
  [0x13n, 1n], // DRM_CAP_SYNCOBJ
  [0x14n, 1n], // DRM_CAP_SYNCOBJ_TIMELINE
]);
