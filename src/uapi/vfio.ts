// VFIO objects that own fds: container (/dev/vfio/vfio), group (/dev/vfio/N),
// device, and the iommufd handle of the cdev path; and openVfioDevice(), which
// walks the kernel's documented sequence (docs/kernel.md §4; the kernel's
// tools/testing/selftests/vfio/lib does the same) and undoes what it did
// when a step fails.
//
// Works on any Backend: the same code drives a real kernel and the mock.
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { Backend, Fd, Mapping, VfioDeviceInfo, VfioGroupStatus, VfioRegionInfo } from '../backend/types.js';
import { isErrno, SystemError } from './errors.js';
import { O, PROT, VFIO } from './constants.js';
import { DmaBuf } from './dmabuf.js';
import { VFIO_CAP_LAYOUT } from './layout.js';
import { isBdf } from './bdf.js';
import { Iommufd } from './iommufd.js';

export { Iommufd };

export { VFIO_CAP_LAYOUT };

// ------------------------------------------------------------------ helpers

/** A PCI address in sysfs's form, `0000:03:00.1` or `10000:e0:00.0` (lower-case hex, as the kernel prints it). */
export { isBdf };

/** A setup step that is not a failed syscall: the machine is not in the state VFIO needs. */
export class VfioSetupError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'VfioSetupError';
  }
}

/**
 * The kernel refused the VF token an open gave: EACCES from
 * VFIO_GROUP_GET_DEVICE_FD or VFIO_DEVICE_BIND_IOMMUFD
 * (drivers/vfio/pci/vfio_pci_core.c vfio_pci_core_match_token_uuid), told
 * apart from an EACCES of opening /dev/vfio/vfio, a group node or a cdev,
 * which is a permission.
 */
class VfTokenRefused extends VfioSetupError {
  constructor(bdf: string, cause: SystemError) {
    super(`${bdf}: the kernel refused the VF token given (${cause.message})`, cause);
    this.name = 'VfTokenRefused';
  }
}

/** Close each, in order, even if one throws; rethrow the first error afterwards. */
function closeAll(closers: Array<(() => void) | undefined>): void {
  let first: unknown;
  let failed = false;
  for (const close of closers) {
    if (!close) continue;
    try {
      close();
    } catch (e) {
      if (!failed) first = e;
      failed = true;
    }
  }
  if (failed) throw first;
}

// ------------------------------------------------------------------ region capabilities

export interface SparseMmapArea {
  offset: bigint;
  size: bigint;
}

/** One entry of a region's capability chain (include/uapi/linux/vfio.h; docs/kernel.md §2). */
export type RegionCap =
  | { id: typeof VFIO.REGION_INFO_CAP_SPARSE_MMAP; version: number; kind: 'sparse-mmap'; areas: SparseMmapArea[] }
  | { id: typeof VFIO.REGION_INFO_CAP_TYPE; version: number; kind: 'type'; type: number; subtype: number }
  | { id: typeof VFIO.REGION_INFO_CAP_MSIX_MAPPABLE; version: number; kind: 'msix-mappable' }
  | { id: number; version: number; kind: 'unknown'; bytes: Uint8Array };

export class RegionCapParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegionCapParseError';
  }
}

const C = VFIO_CAP_LAYOUT;
/** Cap offsets count from the start of struct vfio_region_info. */
const REGION_INFO_SIZE = C.vfio_region_info.size;
const CAP_HEADER_SIZE = C.vfio_info_cap_header.size;

/**
 * Walk the capability chain. `caps` holds the bytes after the 32-byte
 * struct; `capOffset` is the struct's cap_offset (0: no chain). Each header
 * is {u16 id, u16 version, u32 next}, `next` relative to the struct start, 0
 * at the end (vfio_info_add_capability, drivers/vfio/vfio_main.c).
 */
export function parseRegionCaps(caps: Uint8Array, capOffset: number): RegionCap[] {
  const out: RegionCap[] = [];
  if (capOffset === 0) return out;
  const dv = new DataView(caps.buffer, caps.byteOffset, caps.byteLength);
  const seen = new Set<number>();
  let at = capOffset;
  while (at !== 0) {
    if (seen.has(at)) throw new RegionCapParseError(`capability chain loops back to offset ${at}`);
    seen.add(at);
    const rel = at - REGION_INFO_SIZE;
    if (rel < 0 || rel + CAP_HEADER_SIZE > caps.byteLength) {
      throw new RegionCapParseError(
        `capability at offset ${at} lies outside the ${caps.byteLength + REGION_INFO_SIZE}-byte info`,
      );
    }
    const id = dv.getUint16(rel + C.vfio_info_cap_header.id, true);
    const version = dv.getUint16(rel + C.vfio_info_cap_header.version, true);
    const next = dv.getUint32(rel + C.vfio_info_cap_header.next, true);
    const end = next !== 0 && next > at ? next - REGION_INFO_SIZE : caps.byteLength;
    const need = (n: number): void => {
      if (rel + n > caps.byteLength)
        throw new RegionCapParseError(
          `capability ${id} at offset ${at} needs ${n} bytes, ${caps.byteLength - rel} present`,
        );
    };
    if (id === VFIO.REGION_INFO_CAP_SPARSE_MMAP) {
      // struct vfio_region_info_cap_sparse_mmap: header, u32 nr_areas, u32 reserved, areas[] of {u64 offset, u64 size}.
      const SM = C.vfio_region_info_cap_sparse_mmap;
      const A = C.vfio_region_sparse_mmap_area;
      need(SM.size);
      const nr = dv.getUint32(rel + SM.nr_areas, true);
      need(SM.areas + A.size * nr);
      const areas: SparseMmapArea[] = [];
      for (let i = 0; i < nr; i++) {
        const at = rel + SM.areas + A.size * i;
        areas.push({ offset: dv.getBigUint64(at + A.offset, true), size: dv.getBigUint64(at + A.size_field, true) });
      }
      out.push({ id, version, kind: 'sparse-mmap', areas });
    } else if (id === VFIO.REGION_INFO_CAP_TYPE) {
      // struct vfio_region_info_cap_type: header, u32 type, u32 subtype.
      const T = C.vfio_region_info_cap_type;
      need(T.size);
      out.push({
        id,
        version,
        kind: 'type',
        type: dv.getUint32(rel + T.type, true),
        subtype: dv.getUint32(rel + T.subtype, true),
      });
    } else if (id === VFIO.REGION_INFO_CAP_MSIX_MAPPABLE) {
      out.push({ id, version, kind: 'msix-mappable' });
    } else {
      out.push({ id, version, kind: 'unknown', bytes: caps.slice(rel, Math.max(rel + CAP_HEADER_SIZE, end)) });
    }
    at = next;
  }
  return out;
}

export interface VfioRegion extends VfioRegionInfo {
  capabilities: RegionCap[];
}

// ------------------------------------------------------------------ DMA_BUF ranges

export interface DmaRange {
  offset: bigint | number;
  length: bigint | number;
}

/** [offset0, length0, offset1, length1, ...] for VFIO_DEVICE_FEATURE_DMA_BUF (docs/kernel.md §3.2). */
export function packRanges(ranges: readonly DmaRange[] | BigUint64Array): BigUint64Array {
  if (ranges instanceof BigUint64Array) {
    if (ranges.length % 2 !== 0)
      throw new RangeError(`ranges must hold [offset, length] pairs, got ${ranges.length} values`);
    return ranges;
  }
  if (!Array.isArray(ranges)) throw new TypeError('ranges must be an array of {offset, length} or a BigUint64Array');
  const out = new BigUint64Array(ranges.length * 2);
  ranges.forEach((r, i) => {
    out[2 * i] = toU64(r.offset, `ranges[${i}].offset`);
    out[2 * i + 1] = toU64(r.length, `ranges[${i}].length`);
  });
  return out;
}

function toU64(v: bigint | number, what: string): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
    return BigInt(v);
  }
  if (typeof v !== 'bigint') throw new TypeError(`${what} must be a bigint or number`);
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`${what} does not fit in a u64: ${v}`);
  return v;
}

export interface ExportDmaBufOptions {
  /** Region (BAR) index: the VF's LMEM is BAR 2 (docs/kernel.md §9). */
  region: number;
  ranges: readonly DmaRange[] | BigUint64Array;
  /** Flags of the new fd; default O_RDWR | O_CLOEXEC (docs/kernel.md §3.2). */
  openFlags?: number;
  // Raw overrides so invalid requests reach the kernel (docs/kernel.md §3.3 lists its checks).
  /** vfio_device_feature_dma_buf.flags (the kernel requires 0). */
  flags?: number;
  nrRanges?: number;
  featureFlags?: number;
  argsz?: number;
}

export type FeatureProbe = { supported: true } | { supported: false; error: SystemError };

// ------------------------------------------------------------------ objects

export class VfioContainer {
  private open = true;

  private constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly path: string,
  ) {}

  static open(backend: Backend, path = '/dev/vfio/vfio'): VfioContainer {
    return new VfioContainer(backend, backend.dev.open(path, O.RDWR | O.CLOEXEC), path);
  }

  apiVersion(): number {
    return this.backend.dev.vfioGetApiVersion(this.fd);
  }

  checkExtension(extension: number): number {
    return this.backend.dev.vfioCheckExtension(this.fd, extension);
  }

  setIommu(type: number): void {
    this.backend.dev.vfioSetIommu(this.fd, type);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}

export class VfioGroup {
  private open = true;

  private constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly path: string,
  ) {}

  /** `group` is the number (`/dev/vfio/<n>`) or a full path (`/dev/vfio/noiommu-0`). */
  static open(backend: Backend, group: number | string): VfioGroup {
    const path = typeof group === 'number' ? `/dev/vfio/${group}` : group;
    return new VfioGroup(backend, backend.dev.open(path, O.RDWR | O.CLOEXEC), path);
  }

  status(): VfioGroupStatus {
    return this.backend.dev.vfioGroupGetStatus(this.fd);
  }

  viable(): boolean {
    return (this.status().flags & VFIO.GROUP_FLAGS_VIABLE) !== 0;
  }

  setContainer(container: VfioContainer): void {
    this.backend.dev.vfioGroupSetContainer(this.fd, container.fd);
  }

  unsetContainer(): void {
    this.backend.dev.vfioGroupUnsetContainer(this.fd);
  }

  /** VFIO_GROUP_GET_DEVICE_FD ("BDF vf_token=UUID" with a VF token); the device does not own the group. */
  device(bdf: string, vfToken: string | null = null): VfioDevice {
    const name = vfToken === null ? bdf : `${bdf} vf_token=${vfToken}`;
    return new VfioDevice(this.backend, this.backend.dev.vfioGroupGetDeviceFd(this.fd, name), bdf, 'group');
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}

export type VfioAccess = 'group' | 'cdev';

export class VfioDevice {
  private open = true;
  /** closeFd() ran: the device fd is closed, what it owns is not. */
  private fdClosed = false;
  private readonly regions = new Map<number, VfioRegion>();
  /** Closed after the device fd, in order (group then container, or iommufd). */
  private owned: Array<{ close(): void }> = [];
  group: VfioGroup | null = null;
  container: VfioContainer | null = null;
  iommufd: Iommufd | null = null;
  /** cdev path: the id BIND_IOMMUFD returned, and the IOAS attached. */
  devid: number | null = null;
  ioasId: number | null = null;

  constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly bdf: string,
    readonly access: VfioAccess,
  ) {}

  /** Hand over fds this device's close() must close after its own. */
  adopt(parts: { group?: VfioGroup; container?: VfioContainer; iommufd?: Iommufd }): void {
    if (parts.group) {
      this.group = parts.group;
      this.owned.push(parts.group);
    }
    if (parts.container) {
      this.container = parts.container;
      this.owned.push(parts.container);
    }
    if (parts.iommufd) {
      this.iommufd = parts.iommufd;
      this.owned.push(parts.iommufd);
    }
  }

  get closed(): boolean {
    return !this.open;
  }

  info(): VfioDeviceInfo {
    return this.backend.dev.vfioDeviceGetInfo(this.fd);
  }

  /** VFIO_DEVICE_GET_REGION_INFO with the capability chain parsed; cached per index. */
  regionInfo(index: number): VfioRegion {
    const known = this.regions.get(index);
    if (known) return known;
    const info = this.backend.dev.vfioDeviceGetRegionInfo(this.fd, index);
    const region: VfioRegion = { ...info, capabilities: parseRegionCaps(info.caps, info.capOffset) };
    this.regions.set(index, region);
    return region;
  }

  /**
   * Every region the device has, among the num_regions indices GET_INFO
   * reports. An index the kernel answers EINVAL for is absent and left out:
   * vfio-pci counts the VGA index but refuses it on a device without VGA
   * (vfio_pci_ioctl_get_region_info, drivers/vfio/pci/vfio_pci_core.c:
   * `if (!vdev->has_vga) return -EINVAL`).
   */
  regionInfos(): VfioRegion[] {
    const n = this.info().numRegions;
    const out: VfioRegion[] = [];
    for (let i = 0; i < n; i++) {
      try {
        out.push(this.regionInfo(i));
      } catch (e) {
        if (!isErrno(e, 'EINVAL')) throw e;
      }
    }
    return out;
  }

  private fileOffset(region: number, offset: bigint | number): bigint {
    return this.regionInfo(region).offset + toU64(offset, 'offset');
  }

  /** pread(2) at the region's file offset + `offset` (docs/kernel.md §2: index << 40 on vfio-pci). */
  read(region: number, offset: bigint | number, length: number): Uint8Array {
    return this.backend.dev.vfioRegionRead(this.fd, this.fileOffset(region, offset), length);
  }

  write(region: number, offset: bigint | number, data: Uint8Array): number {
    return this.backend.dev.vfioRegionWrite(this.fd, this.fileOffset(region, offset), data);
  }

  /** VFIO_DEVICE_RESET (FLR): revokes exported dma-bufs for its duration (docs/kernel.md §3.5). */
  reset(): Promise<void> {
    return this.backend.dev.vfioDeviceReset(this.fd);
  }

  /** VFIO_DEVICE_FEATURE with raw flags and payload; returns the ioctl's value. */
  feature(flags: number, payload?: Uint8Array, argsz?: number): number {
    return this.backend.dev.vfioDeviceFeature(this.fd, flags, payload, argsz);
  }

  /**
   * PROBE a feature (with GET, the only access DMA_BUF allows). ENOTTY (the
   * kernel does not know the feature) and EOPNOTSUPP (the driver does not
   * implement it, e.g. xe-vfio-pci for DMA_BUF, docs/kernel.md §3.3) mean not
   * supported; any other errno is a real failure and throws.
   */
  probeFeature(feature: number, access: number = VFIO.DEVICE_FEATURE_GET): FeatureProbe {
    try {
      this.feature(VFIO.DEVICE_FEATURE_PROBE | access | feature);
      return { supported: true };
    } catch (e) {
      if (e instanceof SystemError && (isErrno(e, 'ENOTTY') || isErrno(e, 'EOPNOTSUPP')))
        return { supported: false, error: e };
      throw e;
    }
  }

  /** VFIO_DEVICE_FEATURE GET DMA_BUF: a dma-buf over `ranges` of one region (docs/kernel.md §3). */
  exportDmaBuf(options: ExportDmaBufOptions): DmaBuf {
    const ranges = packRanges(options.ranges);
    const request: Parameters<Backend['dev']['vfioDmaBufGet']>[1] = {
      regionIndex: options.region,
      openFlags: options.openFlags ?? O.RDWR | O.CLOEXEC,
      ranges,
    };
    if (options.flags !== undefined) request.flags = options.flags;
    if (options.nrRanges !== undefined) request.nrRanges = options.nrRanges;
    if (options.featureFlags !== undefined) request.featureFlags = options.featureFlags;
    if (options.argsz !== undefined) request.argsz = options.argsz;
    const fd = this.backend.dev.vfioDmaBufGet(this.fd, request);
    return new DmaBuf(this.backend, fd, `vfio ${this.bdf} region ${options.region}`);
  }

  /** mmap(2) of a region: [offset, offset + length) of it; length defaults to the rest of the region. */
  mmapRegion(region: number, options: { offset?: bigint; length?: number; prot?: number } = {}): Mapping {
    const info = this.regionInfo(region);
    const offset = options.offset ?? 0n;
    const length = options.length ?? Number(info.size - offset);
    return this.backend.dev.mmap(this.fd, info.offset + offset, length, options.prot ?? PROT.READ | PROT.WRITE);
  }

  /**
   * Close this process's device fd only, when another process holds the same
   * open file (a trigger process that got it at spawn): that process's close
   * is then the last one, the one that releases the device. close() still
   * closes the group and container (or iommufd) after. Idempotent.
   */
  closeFd(): void {
    if (!this.open || this.fdClosed) return;
    this.fdClosed = true;
    this.backend.dev.close(this.fd);
  }

  /** Closes the device fd, then what it owns: group then container, or the iommufd. Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    const owned = this.owned;
    this.owned = [];
    closeAll([...(this.fdClosed ? [] : [() => this.backend.dev.close(this.fd)]), ...owned.map((o) => () => o.close())]);
  }
}

// ------------------------------------------------------------------ opening a device

export interface OpenVfioOptions {
  /** `auto` (default): the group path when the device has an IOMMU group node, else cdev + iommufd. */
  access?: VfioAccess | 'auto';
  /**
   * The VF token to open with ("BDF vf_token=UUID" on the group path, VFIO_DEVICE_BIND_FLAG_TOKEN on the
   * cdev). Absent: the backend's run token for a VF whose PF is on vfio-pci (vfTokenFor), none otherwise;
   * null: none.
   */
  vfToken?: string | null;
}

/**
 * One VF token per backend (a run), set on each PF it is needed for once: a VF
 * whose PF is bound to vfio-pci (and created its VFs, vfio_pci.enable_sriov=1)
 * opens only with the PF's token, which is random until someone sets it
 * (drivers/vfio/pci/vfio_pci_core.c vfio_pci_vf_init, vfio_pci_core_match_token_uuid;
 * docs/kernels.md "The switch machine").
 */
const runTokens = new WeakMap<Backend, { uuid: string; pfs: Set<string> }>();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The VF token the user gives in IOVH_VF_TOKEN, or null. A PF whose VFs are
 * not open takes the token the next open of it brings (vfio_pci_core_match_token_uuid),
 * and the kernel has no way to read the old one back: a user whose VM manager
 * opens these VFs with a token of its own names it here, so that iovh opens
 * with that token instead of replacing it with a random one (docs/kernels.md
 * "A PF on vfio-pci").
 */
export function envVfToken(env: NodeJS.ProcessEnv = process.env): string | null {
  const v = env.IOVH_VF_TOKEN;
  if (v === undefined) return null;
  if (!UUID.test(v))
    throw new VfioSetupError(
      `IOVH_VF_TOKEN '${v}' is not a UUID (32 hex digits as 8-4-4-4-12, such as bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3)`,
    );
  return v.toLowerCase();
}

/** The run's VF token on this backend: IOVH_VF_TOKEN, else a random UUID made at the first use. */
export function vfTokenFor(backend: Backend): string {
  let t = runTokens.get(backend);
  if (!t) {
    t = { uuid: envVfToken() ?? randomUUID(), pfs: new Set() };
    runTokens.set(backend, t);
  }
  return t.uuid;
}

/** The PF of a VF when that PF is bound to vfio-pci (its VFs then need its VF token); null otherwise. */
export function vfioPfOf(backend: Backend, bdf: string): string | null {
  let pf: string;
  try {
    pf = basename(backend.fs.readlink(`${sysfsDevice(bdf)}/physfn`));
  } catch (e) {
    // No physfn link: not a VF. EACCES or EIO must not pass for that (the VF would open without its token).
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
  return driverOf(backend, pf) === 'vfio-pci' ? pf : null;
}

/** The bytes of a uuid_t as the kernel holds it (uuid_parse: the string's order). */
export function uuidBytes(uuid: string): Uint8Array {
  return Uint8Array.from(Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}

/**
 * Makes `uuid` the VF token of `pf` (on vfio-pci) by opening the PF with it and
 * closing it again: with no VF of it open, a PF opened with a token takes that
 * token (vfio_pci_core_match_token_uuid); with VFs open, the open succeeds only
 * when it is already the token. Done once per PF and backend.
 */
function setPfToken(backend: Backend, pf: string, uuid: string, access: VfioAccess | 'auto'): void {
  const t = runTokens.get(backend);
  if (t?.uuid === uuid && t.pfs.has(pf)) return;
  let device: VfioDevice;
  try {
    device = openVfioDevice(backend, pf, { access, vfToken: uuid });
  } catch (e) {
    if (e instanceof VfTokenRefused)
      throw new VfioSetupError(
        `cannot set the VF token of PF ${pf} (on vfio-pci): some of its VFs are open with another token (another VFIO user); close them first`,
        e,
      );
    if (e instanceof VfioSetupError || e instanceof SystemError)
      throw new VfioSetupError(
        `cannot set the VF token of PF ${pf} (on vfio-pci; its VFs open only with it): ${e.message}`,
        e,
      );
    throw e;
  }
  device.close();
  if (t?.uuid === uuid) t.pfs.add(pf);
}

function sysfsDevice(bdf: string): string {
  return `/sys/bus/pci/devices/${bdf}`;
}

function driverOf(backend: Backend, bdf: string): string | null {
  try {
    return basename(backend.fs.readlink(`${sysfsDevice(bdf)}/driver`));
  } catch (e) {
    // No driver link: unbound (drivers/base/bus.c removes it at unbind); any other failure is reported.
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
}

function notBoundHint(backend: Backend, bdf: string): string {
  const driver = driverOf(backend, bdf);
  if (driver === 'vfio-pci') return '';
  return driver
    ? `; ${bdf} is bound to ${driver}, not vfio-pci (see \`iovh bind\`)`
    : `; ${bdf} has no driver: bind it to vfio-pci (see \`iovh bind\`)`;
}

/** The VFIO group number of a device: basename of its iommu_group link (docs/kernel.md §4, §9). */
export function iommuGroupOf(backend: Backend, bdf: string): number {
  let link: string;
  try {
    link = backend.fs.readlink(`${sysfsDevice(bdf)}/iommu_group`);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) {
      if (!backend.fs.exists(sysfsDevice(bdf))) throw new VfioSetupError(`no PCI device ${bdf}`, e);
      throw new VfioSetupError(
        `${bdf} has no IOMMU group: enable the IOMMU (e.g. intel_iommu=on) or use noiommu mode`,
        e,
      );
    }
    throw e;
  }
  const n = Number(basename(link));
  if (!Number.isInteger(n) || n < 0)
    throw new VfioSetupError(`${bdf}: iommu_group links to '${link}', not a group number`);
  return n;
}

/** /dev/vfio/devices/vfioN of a device bound to a cdev-capable vfio, or null. */
export function vfioCdevOf(backend: Backend, bdf: string): string | null {
  const dir = `${sysfsDevice(bdf)}/vfio-dev`;
  if (!backend.fs.exists(dir)) return null;
  const names = backend.fs.readdir(dir).filter((n) => /^vfio\d+$/.test(n));
  return names.length > 0 ? `/dev/vfio/devices/${names[0]}` : null;
}

/**
 * Open a VFIO device by PCI address. Legacy path: container, API version,
 * TYPE1v2 (else TYPE1; NOIOMMU for a noiommu group), group, VIABLE,
 * SET_CONTAINER, SET_IOMMU, GET_DEVICE_FD. cdev path: the vfioN node,
 * /dev/iommu, BIND_IOMMUFD, IOAS_ALLOC, ATTACH_IOMMUFD_PT. The device's
 * close() closes device, group, container (or iommufd) in that order. On
 * failure everything opened so far is closed before the error propagates.
 */
export function openVfioDevice(backend: Backend, bdf: string, options: OpenVfioOptions = {}): VfioDevice {
  if (!isBdf(bdf)) throw new RangeError(`not a PCI address: '${bdf}' (expected the sysfs form, e.g. 0000:03:00.1)`);
  const access = options.access ?? 'auto';
  let token = options.vfToken ?? null;
  if (options.vfToken === undefined) {
    const pf = vfioPfOf(backend, bdf);
    if (pf) {
      token = vfTokenFor(backend);
      setPfToken(backend, pf, token, access);
    } else if (runTokens.get(backend)?.pfs.has(bdf) === true) {
      // A PF this run set its token on (to open its VFs): while they are open it needs that token again. Any
      // other PF opens without one: with none of its VFs open a token would replace the PF's (a VM manager's
      // included, which the kernel cannot give back: vfio_pci_core_match_token_uuid), and with VFs open under
      // another user's token ours would be refused anyway.
      token = vfTokenFor(backend);
    }
  }
  try {
    if (access === 'cdev') return openCdev(backend, bdf, token);
    if (access === 'group') return openGroup(backend, bdf, token);
    const hasGroup = backend.fs.exists(`${sysfsDevice(bdf)}/iommu_group`);
    const cdev = vfioCdevOf(backend, bdf);
    if (!hasGroup && cdev && backend.fs.exists(cdev)) return openCdev(backend, bdf, token);
    return openGroup(backend, bdf, token);
  } catch (e) {
    if (options.vfToken === undefined && e instanceof VfTokenRefused)
      throw new VfioSetupError(
        `${bdf} refused its VF token (EACCES): its PF's token changed since iovh set it (another VFIO user of the PF)`,
        e,
      );
    throw e;
  }
}

function openGroup(backend: Backend, bdf: string, token: string | null = null): VfioDevice {
  const n = iommuGroupOf(backend, bdf);
  // noiommu groups get their own node name (drivers/vfio/group.c, vfio_group_alloc; docs/kernel.md §4).
  let groupPath = `/dev/vfio/${n}`;
  let noiommu = false;
  if (!backend.fs.exists(groupPath) && backend.fs.exists(`/dev/vfio/noiommu-${n}`)) {
    groupPath = `/dev/vfio/noiommu-${n}`;
    noiommu = true;
  }
  const opened: Array<VfioContainer | VfioGroup> = [];
  const cleanup = (): void => {
    for (const o of opened.reverse()) {
      try {
        o.close();
      } catch (e) {
        // The setup error that got us here is the one to report; a close error on the way out is secondary.
        process.emitWarning(
          `iovh: closing ${o.path} after a failed VFIO open: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  };
  try {
    const container = VfioContainer.open(backend);
    opened.push(container);
    const version = container.apiVersion();
    if (version !== VFIO.API_VERSION)
      throw new VfioSetupError(`VFIO API version ${version}, expected ${VFIO.API_VERSION}`);
    let type: number;
    if (noiommu) {
      if (container.checkExtension(VFIO.NOIOMMU_IOMMU) <= 0)
        throw new VfioSetupError('noiommu group, but the container does not offer VFIO_NOIOMMU_IOMMU');
      type = VFIO.NOIOMMU_IOMMU;
    } else if (container.checkExtension(VFIO.TYPE1v2_IOMMU) > 0) {
      type = VFIO.TYPE1v2_IOMMU;
    } else if (container.checkExtension(VFIO.TYPE1_IOMMU) > 0) {
      type = VFIO.TYPE1_IOMMU;
    } else {
      throw new VfioSetupError('the VFIO container offers neither TYPE1v2 nor TYPE1 (is vfio_iommu_type1 loaded?)');
    }
    let group: VfioGroup;
    try {
      group = VfioGroup.open(backend, groupPath);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw new VfioSetupError(`${groupPath} does not exist${notBoundHint(backend, bdf)}`, e);
      if (isErrno(e, 'EBUSY'))
        throw new VfioSetupError(
          `${groupPath} is already open (a VFIO group has one opener: another process or a VMM holds it)`,
          e,
        );
      throw e;
    }
    opened.push(group);
    if (!group.viable()) {
      throw new VfioSetupError(
        `IOMMU group ${n} is not viable: bind every device in /sys/kernel/iommu_groups/${n}/devices to vfio-pci or unbind it`,
      );
    }
    group.setContainer(container);
    container.setIommu(type);
    let device: VfioDevice;
    try {
      device = group.device(bdf, token);
    } catch (e) {
      if (token !== null && e instanceof SystemError && e.code === 'EACCES') throw new VfTokenRefused(bdf, e);
      const hint = notBoundHint(backend, bdf);
      if (hint && e instanceof SystemError) throw new VfioSetupError(`${e.message}${hint}`, e);
      throw e;
    }
    device.adopt({ group, container });
    return device;
  } catch (e) {
    cleanup();
    throw e;
  }
}

function openCdev(backend: Backend, bdf: string, token: string | null = null): VfioDevice {
  const node = vfioCdevOf(backend, bdf);
  if (!node)
    throw new VfioSetupError(
      `${bdf} has no vfio cdev (needs CONFIG_VFIO_DEVICE_CDEV, docs/kernel.md §4)${notBoundHint(backend, bdf)}`,
    );
  const fd = backend.dev.open(node, O.RDWR | O.CLOEXEC);
  const device = new VfioDevice(backend, fd, bdf, 'cdev');
  try {
    let iommufd: Iommufd;
    try {
      iommufd = Iommufd.open(backend);
    } catch (e) {
      if (isErrno(e, 'ENOENT'))
        throw new VfioSetupError('no /dev/iommu (kernel built without CONFIG_IOMMUFD, docs/kernel.md §4)', e);
      throw e;
    }
    device.adopt({ iommufd });
    // Before BIND every other ioctl on the cdev fd is EINVAL (docs/kernel.md §4).
    // A VF token goes with VFIO_DEVICE_BIND_FLAG_TOKEN (drivers/vfio/device_cdev.c vfio_df_check_token).
    if (token === null) device.devid = backend.dev.vfioDeviceBindIommufd(fd, iommufd.fd, 0);
    else {
      try {
        device.devid = backend.dev.vfioDeviceBindIommufd(fd, iommufd.fd, VFIO.DEVICE_BIND_FLAG_TOKEN, uuidBytes(token));
      } catch (e) {
        if (e instanceof SystemError && e.code === 'EACCES') throw new VfTokenRefused(bdf, e);
        throw e;
      }
    }
    device.ioasId = iommufd.ioasAlloc();
    backend.dev.vfioDeviceAttachIommufdPt(fd, device.ioasId);
    return device;
  } catch (e) {
    try {
      device.close();
    } catch (closeError) {
      process.emitWarning(
        `iovh: closing ${node} after a failed VFIO open: ${closeError instanceof Error ? closeError.message : String(closeError)}`,
      );
    }
    throw e;
  }
}
