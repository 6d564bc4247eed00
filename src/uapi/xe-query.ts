// DRM_IOCTL_XE_DEVICE_QUERY answers: parsers from the raw bytes the kernel
// fills in, and encoders producing the same bytes (for the mock's xe device
// and for tests), so the struct layouts live in one place. Layouts are
// include/uapi/drm/xe_drm.h of Linux 7.2 (docs/kernel.md §7), little-endian x86_64;
// `npm run abi-check` proves the sizes and offsets below against the real
// header (core/uapi/xe_drm.h asserts the same numbers in C).
import { XE_QUERY_LAYOUT } from './layout.js';

export { XE_QUERY_LAYOUT };

const L = XE_QUERY_LAYOUT;

export class XeQueryParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XeQueryParseError';
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Every answer is a `u32 count, u32 pad` header followed by `count` fixed-size entries. */
const HEADER = 8;

function entries(bytes: Uint8Array, what: string, entrySize: number): number {
  if (bytes.byteLength < HEADER)
    throw new XeQueryParseError(`${what}: ${bytes.byteLength} bytes, the header alone is ${HEADER}`);
  const n = view(bytes).getUint32(0, true);
  const need = HEADER + n * entrySize;
  if (bytes.byteLength < need)
    throw new XeQueryParseError(`${what}: ${n} entries need ${need} bytes, got ${bytes.byteLength}`);
  return n;
}

// ------------------------------------------------------------------ engines

/** struct drm_xe_engine_class_instance: 4 x u16 (8 bytes). */
export interface XeEngine {
  engineClass: number;
  engineInstance: number;
  gtId: number;
}

/** struct drm_xe_engine: the instance, then reserved[3] u64. */
export const XE_ENGINE_SIZE = L.drm_xe_engine.size;
const EI = L.drm_xe_engine_class_instance;

/** struct drm_xe_query_engines: u32 num_engines, u32 pad, drm_xe_engine engines[]. */
export function parseEngines(bytes: Uint8Array): XeEngine[] {
  const n = entries(bytes, 'engines query', XE_ENGINE_SIZE);
  const dv = view(bytes);
  const out: XeEngine[] = [];
  for (let i = 0; i < n; i++) {
    const at = L.drm_xe_query_engines.engines + i * XE_ENGINE_SIZE + L.drm_xe_engine.instance;
    out.push({
      engineClass: dv.getUint16(at + EI.engine_class, true),
      engineInstance: dv.getUint16(at + EI.engine_instance, true),
      gtId: dv.getUint16(at + EI.gt_id, true),
    });
  }
  return out;
}

export function encodeEngines(engines: readonly XeEngine[]): Uint8Array {
  const out = new Uint8Array(L.drm_xe_query_engines.engines + engines.length * XE_ENGINE_SIZE);
  const dv = view(out);
  dv.setUint32(L.drm_xe_query_engines.num_engines, engines.length, true);
  engines.forEach((e, i) => {
    const at = L.drm_xe_query_engines.engines + i * XE_ENGINE_SIZE + L.drm_xe_engine.instance;
    dv.setUint16(at + EI.engine_class, e.engineClass, true);
    dv.setUint16(at + EI.engine_instance, e.engineInstance, true);
    dv.setUint16(at + EI.gt_id, e.gtId, true);
  });
  return out;
}

// ------------------------------------------------------------------ memory regions

export interface XeMemRegion {
  /** DRM_XE_MEM_REGION_CLASS_SYSMEM 0, VRAM 1 */
  memClass: number;
  /** the bit of this region in gem_create placement */
  instance: number;
  minPageSize: number;
  totalSize: bigint;
  used: bigint;
  cpuVisibleSize: bigint;
  cpuVisibleUsed: bigint;
}

/** struct drm_xe_mem_region. */
export const XE_MEM_REGION_SIZE = L.drm_xe_mem_region.size;
const MR = L.drm_xe_mem_region;

/** struct drm_xe_query_mem_regions: u32 num_mem_regions, u32 pad, drm_xe_mem_region mem_regions[]. */
export function parseMemRegions(bytes: Uint8Array): XeMemRegion[] {
  const n = entries(bytes, 'mem regions query', XE_MEM_REGION_SIZE);
  const dv = view(bytes);
  const out: XeMemRegion[] = [];
  for (let i = 0; i < n; i++) {
    const at = L.drm_xe_query_mem_regions.mem_regions + i * XE_MEM_REGION_SIZE;
    out.push({
      memClass: dv.getUint16(at + MR.mem_class, true),
      instance: dv.getUint16(at + MR.instance, true),
      minPageSize: dv.getUint32(at + MR.min_page_size, true),
      totalSize: dv.getBigUint64(at + MR.total_size, true),
      used: dv.getBigUint64(at + MR.used, true),
      cpuVisibleSize: dv.getBigUint64(at + MR.cpu_visible_size, true),
      cpuVisibleUsed: dv.getBigUint64(at + MR.cpu_visible_used, true),
    });
  }
  return out;
}

export function encodeMemRegions(regions: readonly XeMemRegion[]): Uint8Array {
  const out = new Uint8Array(L.drm_xe_query_mem_regions.mem_regions + regions.length * XE_MEM_REGION_SIZE);
  const dv = view(out);
  dv.setUint32(L.drm_xe_query_mem_regions.num_mem_regions, regions.length, true);
  regions.forEach((r, i) => {
    const at = L.drm_xe_query_mem_regions.mem_regions + i * XE_MEM_REGION_SIZE;
    dv.setUint16(at + MR.mem_class, r.memClass, true);
    dv.setUint16(at + MR.instance, r.instance, true);
    dv.setUint32(at + MR.min_page_size, r.minPageSize, true);
    dv.setBigUint64(at + MR.total_size, r.totalSize, true);
    dv.setBigUint64(at + MR.used, r.used, true);
    dv.setBigUint64(at + MR.cpu_visible_size, r.cpuVisibleSize, true);
    dv.setBigUint64(at + MR.cpu_visible_used, r.cpuVisibleUsed, true);
  });
  return out;
}

// ------------------------------------------------------------------ config

export interface XeConfig {
  /** info[] as the kernel returned it (num_params entries). */
  info: bigint[];
  /** PCI device id: low 16 bits of info[REV_AND_DEVICE_ID]. */
  deviceId: number;
  /** revision: the next 8 bits. */
  revision: number;
  flags: bigint;
  hasVram: boolean;
  minAlignment: bigint;
  vaBits: number;
  /** info[MAX_EXEC_QUEUE_PRIORITY] when present. */
  maxExecQueuePriority: number | null;
}

/** struct drm_xe_query_config: u32 num_params, u32 pad, u64 info[]. Indices per docs/kernel.md §7. */
export function parseConfig(bytes: Uint8Array): XeConfig {
  const n = entries(bytes, 'config query', 8);
  const dv = view(bytes);
  const info: bigint[] = [];
  for (let i = 0; i < n; i++) info.push(dv.getBigUint64(L.drm_xe_query_config.info + 8 * i, true));
  if (n < 4)
    throw new XeQueryParseError(
      `config query: ${n} params, need at least 4 (REV_AND_DEVICE_ID, FLAGS, MIN_ALIGNMENT, VA_BITS)`,
    );
  const rev = info[0]!;
  const flags = info[1]!;
  return {
    info,
    deviceId: Number(rev & 0xffffn),
    revision: Number((rev >> 16n) & 0xffn),
    flags,
    hasVram: (flags & 1n) !== 0n,
    minAlignment: info[2]!,
    vaBits: Number(info[3]!),
    maxExecQueuePriority: n > 4 ? Number(info[4]!) : null,
  };
}

export function encodeConfig(info: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(L.drm_xe_query_config.info + info.length * 8);
  const dv = view(out);
  dv.setUint32(L.drm_xe_query_config.num_params, info.length, true);
  info.forEach((v, i) => dv.setBigUint64(L.drm_xe_query_config.info + 8 * i, v, true));
  return out;
}

// ------------------------------------------------------------------ GT list

export interface XeGt {
  /** DRM_XE_QUERY_GT_TYPE_MAIN 0, MEDIA 1 */
  type: number;
  tileId: number;
  gtId: number;
  referenceClock: number;
  /** bitmask of mem-region instances close to this GT */
  nearMemRegions: bigint;
  farMemRegions: bigint;
  ipVerMajor: number;
  ipVerMinor: number;
  ipVerRev: number;
}

/** struct drm_xe_gt. */
export const XE_GT_SIZE = L.drm_xe_gt.size;
const GT = L.drm_xe_gt;

/** struct drm_xe_query_gt_list: u32 num_gt, u32 pad, drm_xe_gt gt_list[]. */
export function parseGtList(bytes: Uint8Array): XeGt[] {
  const n = entries(bytes, 'GT list query', XE_GT_SIZE);
  const dv = view(bytes);
  const out: XeGt[] = [];
  for (let i = 0; i < n; i++) {
    const at = L.drm_xe_query_gt_list.gt_list + i * XE_GT_SIZE;
    out.push({
      type: dv.getUint16(at + GT.type, true),
      tileId: dv.getUint16(at + GT.tile_id, true),
      gtId: dv.getUint16(at + GT.gt_id, true),
      referenceClock: dv.getUint32(at + GT.reference_clock, true),
      nearMemRegions: dv.getBigUint64(at + GT.near_mem_regions, true),
      farMemRegions: dv.getBigUint64(at + GT.far_mem_regions, true),
      ipVerMajor: dv.getUint16(at + GT.ip_ver_major, true),
      ipVerMinor: dv.getUint16(at + GT.ip_ver_minor, true),
      ipVerRev: dv.getUint16(at + GT.ip_ver_rev, true),
    });
  }
  return out;
}

export function encodeGtList(gts: readonly XeGt[]): Uint8Array {
  const out = new Uint8Array(L.drm_xe_query_gt_list.gt_list + gts.length * XE_GT_SIZE);
  const dv = view(out);
  dv.setUint32(L.drm_xe_query_gt_list.num_gt, gts.length, true);
  gts.forEach((g, i) => {
    const at = L.drm_xe_query_gt_list.gt_list + i * XE_GT_SIZE;
    dv.setUint16(at + GT.type, g.type, true);
    dv.setUint16(at + GT.tile_id, g.tileId, true);
    dv.setUint16(at + GT.gt_id, g.gtId, true);
    dv.setUint32(at + GT.reference_clock, g.referenceClock, true);
    dv.setBigUint64(at + GT.near_mem_regions, g.nearMemRegions, true);
    dv.setBigUint64(at + GT.far_mem_regions, g.farMemRegions, true);
    dv.setUint16(at + GT.ip_ver_major, g.ipVerMajor, true);
    dv.setUint16(at + GT.ip_ver_minor, g.ipVerMinor, true);
    dv.setUint16(at + GT.ip_ver_rev, g.ipVerRev, true);
  });
  return out;
}
