// The native backend: DeviceOps through the C core (src/core/addon.ts) and
// FileOps through node:fs under a root directory ('/' on a real machine, a
// fixture tree in tests).
//
// Every error is a SystemError carrying the path of the device or file: paths
// of fds opened here are remembered; fds the kernel hands back from an ioctl
// are named after where they came from (`vfio:<bdf>` for a device fd from a
// VFIO group, `dmabuf:<source>` for a dma-buf, `memfd:<name>`), because
// "EINVAL, ioctl VFIO_DEVICE_FEATURE" alone does not say which device refused.
//
// When the addon did not build or load, FileOps still work and every device
// call throws NativeUnavailableError, which names the fix.
import {
  closeSync,
  constants as fsc,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  rmdirSync,
  statSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type {
  Backend,
  DeviceOps,
  DrmVersion,
  Fd,
  FileKind,
  FileOps,
  FileStat,
  IommuIoasMapFile,
  IommuIovaRanges,
  IcImport,
  IcImported,
  IcInfo,
  IcMapResult,
  IcVersion,
  Mapping,
  PatternMismatch,
  UdmabufCreate,
  VfioDmaBufRequest,
  VfioRegionInfo,
  WriteOptions,
  XeSync,
} from './types.js';
import {
  ADDON_FIX,
  isAddonErrno,
  loadAddon,
  type Addon,
  type AddonErrnoCalls,
  type AddonMapping,
  type AddonXeSync,
} from '../core/addon.js';
import { Errno, SystemError } from '../uapi/errors.js';
import { VFIO } from '../uapi/constants.js';

export interface NativeBackendOptions {
  /** Directory that stands for '/' in file paths (default '/'). Device nodes are opened under it too. */
  root?: string;
  /** Why native was chosen (Backend.reason). */
  reason?: string;
}

/** Thrown by every device call when the addon is unavailable. */
export class NativeUnavailableError extends Error {
  readonly code = 'ERR_IOVH_NO_ADDON';
  constructor(reason: string) {
    super(`native addon unavailable (${reason}); ${ADDON_FIX}`);
    this.name = 'NativeUnavailableError';
  }
}

/** sizeof(struct vfio_region_info) (docs/kernel.md §2). */
const REGION_INFO_SIZE = 32;
/** A capability chain larger than this is not one vfio-pci builds; stop rather than loop. */
const REGION_INFO_MAX = 64 * 1024;
/** IOMMU_IOAS_IOVA_RANGES: room for this many ranges first, and never more than the second. */
const IOVA_RANGES_FIRST = 8;
const IOVA_RANGES_MAX = 65536;
/** drm_version strings: xe's name/date/desc are short; retry once with the lengths the kernel reported. */
const DRM_VERSION_BUFFER = 128;

export function createNativeBackend(options: NativeBackendOptions = {}): Backend {
  const root = resolve(options.root ?? '/');
  const load = loadAddon();
  const fs = new NativeFiles(root);
  const dev = new NativeDevices(root, load.addon, load.error ?? 'unknown reason');
  let closed = false;
  return {
    reason: options.reason ?? 'native',
    dev,
    fs,
    traits: {
      name: 'native',
      clock: 'real',
      shared: true,
      location: { backend: 'native', where: root },
      profile: null,
      credentials: {
        uid: process.geteuid?.() ?? null,
        gid: process.getegid?.() ?? null,
        groups: process.getgroups?.() ?? [],
      },
    },
    close(): void {
      if (closed) return;
      closed = true;
      dev.closeAll();
    },
  };
}

// ------------------------------------------------------------------ files

function fromFsError(e: unknown, path: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof SystemError) return e; // ours already (insideRoot), with its detail
  if (err && typeof err.errno === 'number' && typeof err.syscall === 'string') {
    return new SystemError({ errno: err.errno, syscall: err.syscall, path });
  }
  return e;
}

function kindOf(st: BigIntStats): FileKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'link';
  if (st.isCharacterDevice()) return 'chardev';
  return 'other';
}

function toFileStat(st: BigIntStats): FileStat {
  const out: FileStat = {
    kind: kindOf(st),
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
  };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    // glibc's gnu_dev_major/minor (sys/sysmacros.h): the 64-bit dev_t encoding.
    const d = st.rdev;
    out.major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
    out.minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  }
  return out;
}

class NativeFiles implements FileOps {
  constructor(private readonly root: string) {}

  private real(path: string): string {
    if (typeof path !== 'string' || !isAbsolute(path))
      throw new TypeError(`path must be absolute, got ${String(path)}`);
    return this.root === '/' ? path : join(this.root, path);
  }

  private io<T>(path: string, fn: (real: string) => T): T {
    const real = this.real(path);
    try {
      return fn(real);
    } catch (e) {
      throw fromFsError(e, path);
    }
  }

  readFile(path: string): Uint8Array {
    return this.io(path, (real) => {
      // read(2) until EOF: sysfs reports 4096 and procfs 0 as st_size, neither is the length.
      const fd = openSync(real, fsc.O_RDONLY);
      try {
        const chunks: Buffer[] = [];
        let total = 0;
        for (;;) {
          const chunk = Buffer.allocUnsafe(65536);
          const n = readSync(fd, chunk, 0, chunk.length, null);
          if (n === 0) break;
          chunks.push(chunk.subarray(0, n));
          total += n;
        }
        return new Uint8Array(Buffer.concat(chunks, total));
      } finally {
        closeSync(fd);
      }
    });
  }

  readText(path: string): string {
    return Buffer.from(this.readFile(path)).toString('utf8');
  }

  private realRoot: string | null = null;

  /**
   * Under a root other than '/', a write must land inside it: a symlink in
   * the tree (planted, or absolute as a capture from a live machine can have)
   * must not carry a write to this machine's own files. EXDEV otherwise.
   */
  private insideRoot(real: string, path: string): void {
    if (this.root === '/') return;
    this.realRoot ??= realpathSync(this.root);
    let at: string;
    try {
      at = realpathSync(real);
    } catch {
      try {
        at = join(realpathSync(dirname(real)), real.slice(dirname(real).length + 1));
      } catch {
        return; // the open reports what is missing
      }
    }
    if (at !== this.realRoot && !at.startsWith(`${this.realRoot}/`))
      throw new SystemError({
        errno: Errno.EXDEV,
        syscall: 'open',
        path,
        detail: `it resolves to ${at}, outside the root ${this.root}`,
      });
  }

  writeFile(path: string, data: string, options: WriteOptions = {}): void {
    this.io(path, (real) => {
      this.insideRoot(real, path);
      // No O_CREAT: a missing attribute is ENOENT, as in sysfs. O_TRUNC is ignored by
      // sysfs but not by tracefs (kprobe_events), hence the append option.
      const flags = fsc.O_WRONLY | (options.append ? fsc.O_APPEND : fsc.O_TRUNC);
      const fd = openSync(real, flags);
      try {
        const buf = Buffer.from(data, 'utf8');
        const n = writeSync(fd, buf, 0, buf.length);
        if (n !== buf.length) {
          throw new SystemError({
            errno: Errno.EIO,
            syscall: 'write',
            path,
            detail: `short write: ${n} of ${buf.length} bytes`,
          });
        }
      } finally {
        closeSync(fd);
      }
    });
  }

  readdir(path: string): string[] {
    return this.io(path, (real) => readdirSync(real));
  }

  readlink(path: string): string {
    return this.io(path, (real) => readlinkSync(real));
  }

  stat(path: string): FileStat {
    return this.io(path, (real) => toFileStat(statSync(real, { bigint: true })));
  }

  lstat(path: string): FileStat {
    return this.io(path, (real) => toFileStat(lstatSync(real, { bigint: true })));
  }

  exists(path: string): boolean {
    return existsSync(this.real(path));
  }

  mkdir(path: string): void {
    this.io(path, (real) => {
      this.insideRoot(real, path);
      mkdirSync(real);
    });
  }

  rmdir(path: string): void {
    this.io(path, (real) => {
      this.insideRoot(real, path);
      rmdirSync(real);
    });
  }

  readRecords(path: string): string[] {
    return this.io(path, (real) => {
      const fd = openSync(real, fsc.O_RDONLY | fsc.O_NONBLOCK);
      const records: string[] = [];
      try {
        // /dev/kmsg returns one record per read(2) and needs a buffer that holds it
        // (EINVAL otherwise); records are at most about 1 KiB (printk's LOG_LINE_MAX).
        const buf = Buffer.allocUnsafe(16384);
        for (;;) {
          let n: number;
          try {
            n = readSync(fd, buf, 0, buf.length, null);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'EAGAIN') break;
            // Documentation/ABI/testing/dev-kmsg: EPIPE means records were overwritten
            // before we read them; the next read continues with the oldest one left.
            if (code === 'EPIPE') continue;
            throw e;
          }
          if (n === 0) break;
          records.push(buf.toString('utf8', 0, n));
        }
      } finally {
        closeSync(fd);
      }
      return records;
    });
  }
}

// ------------------------------------------------------------------ devices

interface LiveMapping {
  mapping: AddonMapping;
}

function toAddonSyncs(syncs: XeSync[] | undefined): AddonXeSync[] {
  return (syncs ?? []).map((s) => {
    const out: AddonXeSync = { type: s.type, flags: s.flags };
    if (s.handle !== undefined) out.handle = s.handle;
    if (s.addr !== undefined) out.addr = s.addr;
    if (s.timelineValue !== undefined) out.timelineValue = s.timelineValue;
    return out;
  });
}

class NativeMapping implements Mapping {
  constructor(
    private readonly m: AddonMapping,
    private readonly path: string,
    private readonly forget: () => void,
  ) {}

  get length(): number {
    return this.m.length;
  }

  get address(): bigint {
    return this.m.address;
  }

  private access<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw fromAddonError(e, this.path);
    }
  }

  read(offset: number, length: number): Uint8Array {
    return this.access(() => this.m.read(offset, length));
  }

  write(offset: number, data: Uint8Array): void {
    this.access(() => this.m.write(offset, data));
  }

  fill(offset: number, length: number, seed: bigint, base: bigint): void {
    this.access(() => this.m.fill(offset, length, seed, base + BigInt(offset)));
  }

  verify(offset: number, length: number, seed: bigint, base: bigint): PatternMismatch | null {
    return this.access(() => this.m.verify(offset, length, seed, base + BigInt(offset)));
  }

  unmap(): void {
    if (!this.m.mapped) return;
    try {
      this.m.unmap();
    } catch (e) {
      throw fromAddonError(e, this.path);
    } finally {
      this.forget();
    }
  }
}

function fromAddonError(e: unknown, path: string | undefined, stack?: string): unknown {
  if (!isAddonErrno(e)) return e;
  const init: ConstructorParameters<typeof SystemError>[0] = { errno: e.errno, syscall: e.syscall };
  if (e.request !== undefined) init.request = e.request;
  if (path !== undefined) init.path = path;
  if (e.signal === 'SIGBUS')
    init.detail =
      'SIGBUS: the mapped memory is no longer backed (file truncated, or device memory disabled or in reset)';
  const err = new SystemError(init);
  if (stack !== undefined) err.stack = `${err.name}: ${err.message}\n${stack}`;
  return err;
}

/** The SystemError for an errno twin's negative return, named after the call errnoSite() reports. */
function errnoFailure(addon: Addon, errno: number, path: string | undefined): SystemError {
  const site = addon.errnoSite() ?? 'unknown';
  const space = site.indexOf(' ');
  const init: ConstructorParameters<typeof SystemError>[0] =
    space < 0 ? { errno, syscall: site } : { errno, syscall: site.slice(0, space), request: site.slice(space + 1) };
  if (path !== undefined) init.path = path;
  return new SystemError(init);
}

/** The caller's stack, captured before an asynchronous call leaves the JS thread. */
function callerStack(): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, callerStack);
  return (holder.stack ?? '').split('\n').slice(2).join('\n');
}

class NativeDevices implements DeviceOps {
  /** fd -> what it is (device path or a description of where it came from). */
  private readonly fds = new Map<Fd, string>();
  private readonly mappings = new Set<LiveMapping>();
  /** After Backend.close(): fd numbers may have been reused, so nothing may touch them. */
  private ended = false;

  constructor(
    private readonly root: string,
    private readonly maybeAddon: Addon | null,
    private readonly unavailable: string,
  ) {}

  private get addon(): Addon {
    if (this.ended) throw new Error('iovh: the native backend was closed; open a new one');
    if (!this.maybeAddon) throw new NativeUnavailableError(this.unavailable);
    return this.maybeAddon;
  }

  private pathOf(fd: Fd): string | undefined {
    return this.fds.get(fd);
  }

  /**
   * The addon's errno twins (src/core/addon.ts): the entry points, returning
   * -errno instead of throwing. Each method passes what its twin returned to
   * ok(), so the one Error a failure costs is the SystemError built there
   * (and, inside expectingErrno, not even its stack trace), and a success
   * allocates nothing here (no closure per call).
   */
  private get calls(): AddonErrnoCalls {
    return this.addon.errno;
  }

  /** A twin's result; a negative number is its failed call's errno, thrown as a SystemError with the fd's path. */
  private ok<T>(fd: Fd | undefined, r: T | number, path?: string): T {
    if (typeof r === 'number' && r < 0) {
      throw errnoFailure(this.addon, r, path ?? (fd === undefined ? undefined : this.pathOf(fd)));
    }
    return r as T;
  }

  private async sysAsync<T>(fd: Fd, fn: (addon: Addon) => Promise<T>): Promise<T> {
    const addon = this.addon;
    const stack = callerStack();
    const path = this.pathOf(fd);
    try {
      return await fn(addon);
    } catch (e) {
      throw fromAddonError(e, path, stack);
    }
  }

  private remember(fd: Fd, what: string): Fd {
    this.fds.set(fd, what);
    return fd;
  }

  closeAll(): void {
    for (const live of [...this.mappings]) {
      // Process teardown: a munmap that fails leaves nothing to do but report it.
      try {
        live.mapping.unmap();
      } catch (e) {
        process.emitWarning(`iovh: munmap at teardown failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.mappings.clear();
    const open = [...this.fds.keys()].reverse();
    for (const fd of open) {
      try {
        this.close(fd);
      } catch (e) {
        process.emitWarning(`iovh: close(${fd}) at teardown failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    this.ended = true;
  }

  open(path: string, flags: number): Fd {
    if (typeof path !== 'string' || !isAbsolute(path))
      throw new TypeError(`device path must be absolute, got ${String(path)}`);
    const real = this.root === '/' ? path : join(this.root, path);
    return this.remember(this.ok(undefined, this.calls.open(real, flags), path), path);
  }

  close(fd: Fd): void {
    // Teardown closed every fd already (the mock models process exit the same way):
    // an owner's idempotent close() afterwards has nothing left to do.
    if (this.ended) return;
    const path = this.pathOf(fd);
    try {
      this.ok(fd, this.calls.close(fd), path);
    } finally {
      // close(2) releases the descriptor even when it reports an error (EIO, EINTR).
      this.fds.delete(fd);
    }
  }

  vfioGetApiVersion(fd: Fd): number {
    return this.ok(fd, this.calls.vfioGetApiVersion(fd));
  }

  vfioCheckExtension(fd: Fd, extension: number): number {
    return this.ok(fd, this.calls.vfioCheckExtension(fd, extension));
  }

  vfioSetIommu(fd: Fd, type: number): void {
    this.ok(fd, this.calls.vfioSetIommu(fd, type));
  }

  vfioGroupGetStatus(fd: Fd): { flags: number } {
    return { flags: this.ok(fd, this.calls.vfioGroupGetStatus(fd)).flags };
  }

  vfioGroupSetContainer(groupFd: Fd, containerFd: Fd): void {
    this.ok(groupFd, this.calls.vfioGroupSetContainer(groupFd, containerFd));
  }

  vfioGroupUnsetContainer(groupFd: Fd): void {
    this.ok(groupFd, this.calls.vfioGroupUnsetContainer(groupFd));
  }

  vfioGroupGetDeviceFd(groupFd: Fd, bdf: string): Fd {
    return this.remember(this.ok(groupFd, this.calls.vfioGroupGetDeviceFd(groupFd, bdf)), `vfio:${bdf}`);
  }

  vfioDeviceGetInfo(fd: Fd): { flags: number; numRegions: number; numIrqs: number; capOffset: number } {
    const info = this.ok(fd, this.calls.vfioDeviceGetInfo(fd));
    return { flags: info.flags, numRegions: info.numRegions, numIrqs: info.numIrqs, capOffset: info.capOffset };
  }

  vfioDeviceGetRegionInfo(fd: Fd, index: number): VfioRegionInfo {
    // vfio_pci_ioctl_get_region_info (7.2): when the capability chain does not fit,
    // the kernel sets argsz to the size needed and cap_offset to 0; ask again.
    let info = this.ok(fd, this.calls.vfioDeviceGetRegionInfo(fd, index, REGION_INFO_SIZE));
    if (
      info.argsz > REGION_INFO_SIZE &&
      info.argsz <= REGION_INFO_MAX &&
      (info.flags & VFIO.REGION_INFO_FLAG_CAPS) !== 0
    ) {
      const argsz = info.argsz;
      info = this.ok(fd, this.calls.vfioDeviceGetRegionInfo(fd, index, argsz));
    }
    return {
      index: info.index,
      flags: info.flags,
      capOffset: info.capOffset,
      size: info.size,
      offset: info.offset,
      caps: info.caps,
    };
  }

  vfioRegionRead(fd: Fd, offset: bigint, length: number): Uint8Array {
    return this.ok(fd, this.calls.pread(fd, offset, length));
  }

  vfioRegionWrite(fd: Fd, offset: bigint, data: Uint8Array): number {
    return this.ok(fd, this.calls.pwrite(fd, offset, data));
  }

  vfioDeviceReset(fd: Fd): Promise<void> {
    return this.sysAsync(fd, (a) => a.vfioDeviceReset(fd));
  }

  vfioDeviceFeature(fd: Fd, flags: number, payload: Uint8Array = new Uint8Array(0), argsz?: number): number {
    const size = argsz ?? 8 + payload.byteLength;
    return this.ok(fd, this.calls.vfioDeviceFeature(fd, flags, payload, size));
  }

  vfioDmaBufGet(fd: Fd, request: VfioDmaBufRequest): Fd {
    const ranges = request.ranges;
    if (!(ranges instanceof BigUint64Array))
      throw new TypeError('ranges must be a BigUint64Array of [offset, length] pairs');
    if (ranges.length % 2 !== 0)
      throw new RangeError(`ranges must hold [offset, length] pairs, got ${ranges.length} values`);
    const n = ranges.length / 2;
    const featureFlags = request.featureFlags ?? VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF;
    const argsz = request.argsz ?? 8 + 16 + 16 * n;
    const nrRanges = request.nrRanges ?? n;
    const dmabuf = this.ok(
      fd,
      this.calls.vfioDeviceFeatureDmaBuf(
        fd,
        featureFlags,
        argsz,
        request.regionIndex,
        request.openFlags,
        request.flags ?? 0,
        nrRanges,
        ranges,
      ),
    );
    return this.remember(dmabuf, `dmabuf:${this.pathOf(fd) ?? `fd ${fd}`}`);
  }

  vfioDeviceBindIommufd(fd: Fd, iommufd: Fd, flags = 0, token?: Uint8Array): number {
    if (token === undefined) return this.ok(fd, this.calls.vfioDeviceBindIommufd(fd, iommufd, flags));
    return this.ok(fd, this.calls.vfioDeviceBindIommufdToken(fd, iommufd, flags, token));
  }

  iommuIoasAlloc(iommufd: Fd, flags = 0): number {
    return this.ok(iommufd, this.calls.iommuIoasAlloc(iommufd, flags));
  }

  iommuDestroy(iommufd: Fd, id: number): void {
    this.ok(iommufd, this.calls.iommuDestroy(iommufd, id));
  }

  iommuIoasIovaRanges(iommufd: Fd, ioasId: number): IommuIovaRanges {
    // A fresh IOAS has one range and an attached device adds a few holes; when
    // they do not fit the kernel says how many there are (EMSGSIZE): ask once more.
    let r = this.ok(iommufd, this.calls.iommuIoasIovaRanges(iommufd, ioasId, IOVA_RANGES_FIRST));
    if (r.ranges === null && r.numIovas <= IOVA_RANGES_MAX) {
      const need = r.numIovas;
      r = this.ok(iommufd, this.calls.iommuIoasIovaRanges(iommufd, ioasId, need));
    }
    if (r.ranges === null) {
      throw new SystemError({
        errno: -Errno.EMSGSIZE,
        syscall: 'ioctl',
        request: 'IOMMU_IOAS_IOVA_RANGES',
        path: this.pathOf(iommufd),
        detail: `the IOAS reports ${r.numIovas} ranges`,
      });
    }
    const ranges: { start: bigint; last: bigint }[] = [];
    for (let i = 0; i + 1 < r.ranges.length; i += 2) ranges.push({ start: r.ranges[i]!, last: r.ranges[i + 1]! });
    return { ranges, alignment: r.alignment };
  }

  iommuIoasMapFile(iommufd: Fd, args: IommuIoasMapFile): bigint {
    return this.ok(
      iommufd,
      this.calls.iommuIoasMapFile(iommufd, args.ioasId, args.flags, args.fd, args.start, args.length, args.iova),
    );
  }

  iommuIoasUnmap(iommufd: Fd, ioasId: number, iova: bigint, length: bigint): bigint {
    return this.ok(iommufd, this.calls.iommuIoasUnmap(iommufd, ioasId, iova, length));
  }

  vfioDeviceAttachIommufdPt(fd: Fd, ptId: number): void {
    this.ok(fd, this.calls.vfioDeviceAttachIommufdPt(fd, ptId));
  }

  vfioDeviceDetachIommufdPt(fd: Fd): void {
    this.ok(fd, this.calls.vfioDeviceDetachIommufdPt(fd));
  }

  mmap(fd: Fd, offset: bigint, length: number, prot: number): Mapping {
    const path = this.pathOf(fd) ?? `fd ${fd}`;
    const m = this.ok(fd, this.calls.mmap(fd, offset, length, prot));
    const live: LiveMapping = { mapping: m };
    this.mappings.add(live);
    return new NativeMapping(m, path, () => this.mappings.delete(live));
  }

  drmVersion(fd: Fd): DrmVersion {
    let v = this.ok(fd, this.calls.drmVersion(fd, DRM_VERSION_BUFFER));
    const longest = Math.max(v.nameLen, v.dateLen, v.descLen);
    if (longest > DRM_VERSION_BUFFER) v = this.ok(fd, this.calls.drmVersion(fd, longest));
    return { major: v.major, minor: v.minor, patchlevel: v.patchlevel, name: v.name, date: v.date, desc: v.desc };
  }

  drmGetCap(fd: Fd, capability: bigint): bigint {
    return this.ok(fd, this.calls.drmGetCap(fd, capability));
  }

  drmPrimeFdToHandle(fd: Fd, dmabufFd: Fd): number {
    return this.ok(fd, this.calls.drmPrimeFdToHandle(fd, dmabufFd));
  }

  drmPrimeHandleToFd(fd: Fd, handle: number, flags: number): Fd {
    const out = this.ok(fd, this.calls.drmPrimeHandleToFd(fd, handle, flags));
    return this.remember(out, `dmabuf:${this.pathOf(fd) ?? `fd ${fd}`}`);
  }

  drmGemClose(fd: Fd, handle: number): void {
    this.ok(fd, this.calls.drmGemClose(fd, handle));
  }

  drmSyncobjCreate(fd: Fd, flags: number): number {
    return this.ok(fd, this.calls.drmSyncobjCreate(fd, flags));
  }

  drmSyncobjDestroy(fd: Fd, handle: number): void {
    this.ok(fd, this.calls.drmSyncobjDestroy(fd, handle));
  }

  drmSyncobjWait(fd: Fd, handles: number[], timeoutNs: bigint, flags: number): Promise<number> {
    if (!Array.isArray(handles)) return Promise.reject(new TypeError('handles must be an array of syncobj handles'));
    const arr = Uint32Array.from(handles);
    return this.sysAsync(fd, (a) => a.drmSyncobjWait(fd, arr, timeoutNs, flags));
  }

  xeDeviceQuerySize(fd: Fd, query: number): number {
    return this.ok(fd, this.calls.xeDeviceQuery(fd, query, 0)).size;
  }

  xeDeviceQuery(fd: Fd, query: number, size: number): Uint8Array {
    return this.ok(fd, this.calls.xeDeviceQuery(fd, query, size)).data;
  }

  xeGemCreate(
    fd: Fd,
    args: { size: bigint; placement: number; flags?: number; vmId?: number; cpuCaching?: number },
  ): number {
    return this.ok(
      fd,
      this.calls.xeGemCreate(fd, args.size, args.placement, args.flags ?? 0, args.vmId ?? 0, args.cpuCaching ?? 0),
    );
  }

  xeGemMmapOffset(fd: Fd, handle: number, flags = 0): bigint {
    return this.ok(fd, this.calls.xeGemMmapOffset(fd, handle, flags));
  }

  xeVmCreate(fd: Fd, flags: number): number {
    return this.ok(fd, this.calls.xeVmCreate(fd, flags));
  }

  xeVmDestroy(fd: Fd, vmId: number): void {
    this.ok(fd, this.calls.xeVmDestroy(fd, vmId));
  }

  xeVmBind(fd: Fd, args: Parameters<DeviceOps['xeVmBind']>[1]): void {
    if (!Array.isArray(args.binds)) throw new TypeError('binds must be an array');
    const binds = args.binds.map((b) => ({
      obj: b.obj,
      patIndex: b.patIndex,
      // obj_offset and userptr share one union slot (docs/kernel.md §7).
      objOffset: b.userptr ?? b.objOffset,
      range: b.range,
      addr: b.addr,
      op: b.op,
      flags: b.flags ?? 0,
      prefetchMemRegionInstance: b.prefetchMemRegionInstance ?? 0,
    }));
    this.ok(fd, this.calls.xeVmBind(fd, args.vmId, args.execQueueId ?? 0, binds, toAddonSyncs(args.syncs)));
  }

  xeExecQueueCreate(fd: Fd, args: Parameters<DeviceOps['xeExecQueueCreate']>[1]): number {
    if (!Array.isArray(args.instances)) throw new TypeError('instances must be an array');
    // struct drm_xe_engine_class_instance is four u16 (docs/kernel.md §7).
    const inst = new Uint16Array(args.instances.length * 4);
    args.instances.forEach((e, i) => {
      inst[i * 4] = e.engineClass;
      inst[i * 4 + 1] = e.engineInstance;
      inst[i * 4 + 2] = e.gtId;
    });
    const width = args.width;
    const numPlacements = width > 0 ? Math.floor(args.instances.length / width) : 0;
    return this.ok(fd, this.calls.xeExecQueueCreate(fd, args.vmId, width, numPlacements, args.flags ?? 0, inst));
  }

  xeExecQueueDestroy(fd: Fd, execQueueId: number): void {
    this.ok(fd, this.calls.xeExecQueueDestroy(fd, execQueueId));
  }

  xeExec(fd: Fd, args: Parameters<DeviceOps['xeExec']>[1]): void {
    this.ok(
      fd,
      this.calls.xeExec(fd, args.execQueueId, args.address, args.numBatchBuffer ?? 1, toAddonSyncs(args.syncs)),
    );
  }

  xeWaitUserFence(fd: Fd, args: Parameters<DeviceOps['xeWaitUserFence']>[1]): Promise<bigint> {
    return this.sysAsync(fd, (a) =>
      a.xeWaitUserFence(
        fd,
        args.addr,
        args.op,
        args.flags ?? 0,
        args.value,
        args.mask,
        args.timeout,
        args.execQueueId ?? 0,
      ),
    );
  }

  dmaBufSetName(fd: Fd, name: string): void {
    this.ok(fd, this.calls.dmaBufSetName(fd, name));
  }

  dmaBufSync(fd: Fd, flags: bigint): void {
    this.ok(fd, this.calls.dmaBufSync(fd, flags));
  }

  memfdCreate(name: string, flags: number): Fd {
    return this.remember(this.ok(undefined, this.calls.memfdCreate(name, flags), `memfd:${name}`), `memfd:${name}`);
  }

  ftruncate(fd: Fd, size: bigint): void {
    this.ok(fd, this.calls.ftruncate(fd, size));
  }

  addSeals(fd: Fd, seals: number): void {
    this.ok(fd, this.calls.addSeals(fd, seals));
  }

  udmabufCreate(fd: Fd, args: UdmabufCreate): Fd {
    const out = this.ok(fd, this.calls.udmabufCreate(fd, args.memfd, args.flags ?? 0, args.offset, args.size));
    return this.remember(out, `dmabuf:${this.pathOf(fd) ?? `fd ${fd}`}`);
  }

  icVersion(fd: Fd): IcVersion {
    return this.ok(fd, this.calls.iovhIcVersion(fd));
  }

  icImport(fd: Fd, args: IcImport): IcImported {
    const r = this.ok(
      fd,
      this.calls.iovhIcImport(fd, args.dmabufFd, args.flags, args.segment, args.bus, args.devfn, args.bar),
    );
    return { handle: r.handle, negotiated: r.negotiated !== 0, size: r.size };
  }

  icMap(fd: Fd, handle: number): IcMapResult {
    return this.ok(fd, this.calls.iovhIcMap(fd, handle));
  }

  icInfo(fd: Fd, handle: number, room = 64): IcInfo {
    return this.ok(fd, this.calls.iovhIcInfo(fd, handle, room));
  }

  icRead(fd: Fd, handle: number, offset: bigint, length: number): Uint8Array {
    return this.ok(fd, this.calls.iovhIcRead(fd, handle, offset, length));
  }

  icWrite(fd: Fd, handle: number, offset: bigint, data: Uint8Array): void {
    this.ok(fd, this.calls.iovhIcWrite(fd, handle, offset, data));
  }

  icRelease(fd: Fd, handle: number): void {
    this.ok(fd, this.calls.iovhIcRelease(fd, handle));
  }
}
