// DRM_IOCTL_XE_DEVICE_QUERY answers: parsers from the raw bytes the kernel
// fills in, and encoders producing the same bytes (for the mock's xe device
// and for tests), so the struct layouts live in one place. Layouts are
// include/uapi/drm/xe_drm.h of Linux 7.2 (kernel-abi §7), little-endian x86_64;
// `npm run abi-check` proves the sizes and offsets below against the real
// header (native/uapi/xe_drm.h asserts the same numbers in C).

export class XeQueryParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XeQueryParseError';
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Check a `u32 count` header followed by `count` fixed-size entries from offset 8. */
function entries(bytes: Uint8Array, what: string, entrySize: number): number {
  if (bytes.byteLength < 8) throw new XeQueryParseError(`${what}: ${bytes.byteLength} bytes, the header alone is 8`);
  const n = view(bytes).getUint32(0, true);
  const need = 8 + n * entrySize;
  if (bytes.byteLength < need) throw new XeQueryParseError(`${what}: ${n} entries need ${need} bytes, got ${bytes.byteLength}`);
  return n;
}

// ------------------------------------------------------------------ engines

/** struct drm_xe_engine_class_instance: 4 x u16 (8 bytes). */
export interface XeEngine {
  engineClass: number;
  engineInstance: number;
  gtId: number;
}

/** struct drm_xe_engine is 32 bytes: the instance, then reserved[3] u64. */
export const XE_ENGINE_SIZE = 32;

/** struct drm_xe_query_engines: u32 num_engines, u32 pad, drm_xe_engine engines[]. */
export function parseEngines(bytes: Uint8Array): XeEngine[] {
  const n = entries(bytes, 'engines query', XE_ENGINE_SIZE);
  const dv = view(bytes);
  const out: XeEngine[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * XE_ENGINE_SIZE;
    out.push({ engineClass: dv.getUint16(at, true), engineInstance: dv.getUint16(at + 2, true), gtId: dv.getUint16(at + 4, true) });
  }
  return out;
}

export function encodeEngines(engines: readonly XeEngine[]): Uint8Array {
  const out = new Uint8Array(8 + engines.length * XE_ENGINE_SIZE);
  const dv = view(out);
  dv.setUint32(0, engines.length, true);
  engines.forEach((e, i) => {
    const at = 8 + i * XE_ENGINE_SIZE;
    dv.setUint16(at, e.engineClass, true);
    dv.setUint16(at + 2, e.engineInstance, true);
    dv.setUint16(at + 4, e.gtId, true);
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

/** struct drm_xe_mem_region (88 bytes). */
export const XE_MEM_REGION_SIZE = 88;

/** struct drm_xe_query_mem_regions: u32 num_mem_regions, u32 pad, drm_xe_mem_region mem_regions[]. */
export function parseMemRegions(bytes: Uint8Array): XeMemRegion[] {
  const n = entries(bytes, 'mem regions query', XE_MEM_REGION_SIZE);
  const dv = view(bytes);
  const out: XeMemRegion[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * XE_MEM_REGION_SIZE;
    out.push({
      memClass: dv.getUint16(at, true),
      instance: dv.getUint16(at + 2, true),
      minPageSize: dv.getUint32(at + 4, true),
      totalSize: dv.getBigUint64(at + 8, true),
      used: dv.getBigUint64(at + 16, true),
      cpuVisibleSize: dv.getBigUint64(at + 24, true),
      cpuVisibleUsed: dv.getBigUint64(at + 32, true),
    });
  }
  return out;
}

export function encodeMemRegions(regions: readonly XeMemRegion[]): Uint8Array {
  const out = new Uint8Array(8 + regions.length * XE_MEM_REGION_SIZE);
  const dv = view(out);
  dv.setUint32(0, regions.length, true);
  regions.forEach((r, i) => {
    const at = 8 + i * XE_MEM_REGION_SIZE;
    dv.setUint16(at, r.memClass, true);
    dv.setUint16(at + 2, r.instance, true);
    dv.setUint32(at + 4, r.minPageSize, true);
    dv.setBigUint64(at + 8, r.totalSize, true);
    dv.setBigUint64(at + 16, r.used, true);
    dv.setBigUint64(at + 24, r.cpuVisibleSize, true);
    dv.setBigUint64(at + 32, r.cpuVisibleUsed, true);
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

/** struct drm_xe_query_config: u32 num_params, u32 pad, u64 info[]. Indices per kernel-abi §7. */
export function parseConfig(bytes: Uint8Array): XeConfig {
  const n = entries(bytes, 'config query', 8);
  const dv = view(bytes);
  const info: bigint[] = [];
  for (let i = 0; i < n; i++) info.push(dv.getBigUint64(8 + 8 * i, true));
  if (n < 4) throw new XeQueryParseError(`config query: ${n} params, need at least 4 (REV_AND_DEVICE_ID, FLAGS, MIN_ALIGNMENT, VA_BITS)`);
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
  const out = new Uint8Array(8 + info.length * 8);
  const dv = view(out);
  dv.setUint32(0, info.length, true);
  info.forEach((v, i) => dv.setBigUint64(8 + 8 * i, v, true));
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

/** struct drm_xe_gt (96 bytes). */
export const XE_GT_SIZE = 96;

/** struct drm_xe_query_gt_list: u32 num_gt, u32 pad, drm_xe_gt gt_list[]. */
export function parseGtList(bytes: Uint8Array): XeGt[] {
  const n = entries(bytes, 'GT list query', XE_GT_SIZE);
  const dv = view(bytes);
  const out: XeGt[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * XE_GT_SIZE;
    out.push({
      type: dv.getUint16(at, true),
      tileId: dv.getUint16(at + 2, true),
      gtId: dv.getUint16(at + 4, true),
      referenceClock: dv.getUint32(at + 12, true),
      nearMemRegions: dv.getBigUint64(at + 16, true),
      farMemRegions: dv.getBigUint64(at + 24, true),
      ipVerMajor: dv.getUint16(at + 32, true),
      ipVerMinor: dv.getUint16(at + 34, true),
      ipVerRev: dv.getUint16(at + 36, true),
    });
  }
  return out;
}

export function encodeGtList(gts: readonly XeGt[]): Uint8Array {
  const out = new Uint8Array(8 + gts.length * XE_GT_SIZE);
  const dv = view(out);
  dv.setUint32(0, gts.length, true);
  gts.forEach((g, i) => {
    const at = 8 + i * XE_GT_SIZE;
    dv.setUint16(at, g.type, true);
    dv.setUint16(at + 2, g.tileId, true);
    dv.setUint16(at + 4, g.gtId, true);
    dv.setUint32(at + 12, g.referenceClock, true);
    dv.setBigUint64(at + 16, g.nearMemRegions, true);
    dv.setBigUint64(at + 24, g.farMemRegions, true);
    dv.setUint16(at + 32, g.ipVerMajor, true);
    dv.setUint16(at + 34, g.ipVerMinor, true);
    dv.setUint16(at + 36, g.ipVerRev, true);
  });
  return out;
}
