// The seam between iovh and the kernel (docs/internals.md "Principles": one seam).
//
// Everything above this file is shared by both backends. `native` implements it
// with the C core (one C function per ioctl) and node:fs; `mock` implements it
// with the simulated kernel in src/mock/. Each DeviceOps method is exactly one
// kernel operation (one ioctl, open, close, mmap, pread, pwrite, ...), takes the
// fields userspace can set (so the mock can apply the kernel's validation to
// them, invalid values included), and throws a SystemError (src/uapi/errors.ts)
// with the kernel's errno. u64 kernel fields are bigint.

export type Fd = number;

// ---------------------------------------------------------------- files

export type FileKind = 'file' | 'dir' | 'link' | 'chardev' | 'other';

export interface FileStat {
  kind: FileKind;
  /** permission bits, e.g. 0o644 */
  mode: number;
  /** owner and group (st_uid, st_gid): who the permission bits apply to; absent when the backend does not know */
  uid?: number;
  gid?: number;
  size: number;
  /** device number for chardevs (major << 8 | minor in the old encoding is not used: separate fields) */
  major?: number;
  minor?: number;
}

export interface WriteOptions {
  /** O_APPEND instead of O_TRUNC: tracefs `kprobe_events` clears every probe on a truncating open. */
  append?: boolean;
}

/**
 * File access to /sys, /proc, /dev/kmsg, tracefs (/sys/kernel/tracing) and
 * debugfs (/sys/kernel/debug), with the kernel's text formats and errno.
 * Paths are absolute. Every call is synchronous: these are pseudo-files.
 */
export interface FileOps {
  /** Whole file, read(2) until EOF. */
  readFile(path: string): Uint8Array;
  /** Same as readFile, decoded as UTF-8. */
  readText(path: string): string;
  /** One write(2) of `data` (sysfs stores see exactly this buffer). */
  writeFile(path: string, data: string, options?: WriteOptions): void;
  readdir(path: string): string[];
  /** Link text as the kernel returns it (sysfs links are relative). */
  readlink(path: string): string;
  /** stat(2): follows links. */
  stat(path: string): FileStat;
  /** lstat(2): does not follow the last link. */
  lstat(path: string): FileStat;
  exists(path: string): boolean;
  mkdir(path: string): void;
  rmdir(path: string): void;
  /**
   * Record-oriented read of `/dev/kmsg`: opens O_RDONLY|O_NONBLOCK, returns one
   * string per read(2) until EAGAIN (EPIPE, a record overwritten while reading,
   * is skipped as the kernel documents in Documentation/ABI/testing/dev-kmsg).
   */
  readRecords(path: string): string[];
}

// ---------------------------------------------------------------- devices

export interface VfioGroupStatus {
  flags: number;
}

export interface VfioDeviceInfo {
  flags: number;
  numRegions: number;
  numIrqs: number;
  capOffset: number;
}

export interface VfioRegionInfo {
  index: number;
  flags: number;
  capOffset: number;
  size: bigint;
  offset: bigint;
  /**
   * The bytes of the info buffer after the fixed 32-byte struct, when the kernel
   * set VFIO_REGION_INFO_FLAG_CAPS (the capability chain, offsets relative to the
   * start of the struct). Empty when there are none.
   */
  caps: Uint8Array;
}

/** VFIO_DEVICE_FEATURE with DMA_BUF (docs/kernel.md §3.2). */
export interface VfioDmaBufRequest {
  regionIndex: number;
  openFlags: number;
  /** struct vfio_device_feature_dma_buf.flags; the kernel requires 0. */
  flags?: number;
  /** [offset0, length0, offset1, length1, ...] relative to the BAR start. */
  ranges: BigUint64Array;
  /** nr_ranges field; defaults to ranges.length / 2. Overridable to test validation. */
  nrRanges?: number;
  /** vfio_device_feature.flags; defaults to GET | DMA_BUF (0x1000B). */
  featureFlags?: number;
  /** vfio_device_feature.argsz; defaults to 8 + 16 + 16 * ranges. */
  argsz?: number;
}

export interface DrmVersion {
  major: number;
  minor: number;
  patchlevel: number;
  name: string;
  date: string;
  desc: string;
}

export interface XeGemCreate {
  size: bigint;
  /** bitmask of memory-region instances (bit n = instance n from the MEM_REGIONS query) */
  placement: number;
  flags?: number;
  vmId?: number;
  cpuCaching?: number;
}

export interface XeBindOp {
  obj: number;
  patIndex: number;
  objOffset: bigint;
  range: bigint;
  addr: bigint;
  op: number;
  flags?: number;
  /** for MAP_USERPTR: the user pointer (shares the obj_offset union slot) */
  userptr?: bigint;
  prefetchMemRegionInstance?: number;
}

export interface XeSync {
  type: number;
  flags: number;
  /** syncobj handle (SYNCOBJ, TIMELINE_SYNCOBJ) */
  handle?: number;
  /** user fence address (USER_FENCE) */
  addr?: bigint;
  timelineValue?: bigint;
}

export interface XeVmBind {
  vmId: number;
  execQueueId?: number;
  binds: XeBindOp[];
  syncs?: XeSync[];
}

export interface XeEngineInstance {
  engineClass: number;
  engineInstance: number;
  gtId: number;
}

export interface XeExecQueueCreate {
  vmId: number;
  width: number;
  /** width * numPlacements instances */
  instances: XeEngineInstance[];
  flags?: number;
}

export interface XeExec {
  execQueueId: number;
  address: bigint;
  syncs?: XeSync[];
  numBatchBuffer?: number;
}

export interface XeWaitUserFence {
  addr: bigint;
  op: number;
  flags?: number;
  value: bigint;
  mask: bigint;
  /** ns; relative unless ABSTIME; negative waits forever */
  timeout: bigint;
  execQueueId?: number;
}

export interface UdmabufCreate {
  memfd: Fd;
  offset: bigint;
  size: bigint;
  flags?: number;
}

/** IOMMU_IOAS_IOVA_RANGES: where an IOAS may map (docs/iommufd.md). */
export interface IommuIovaRanges {
  /** Allowed IOVA intervals, `last` inclusive, in ascending order. */
  ranges: { start: bigint; last: bigint }[];
  /** out_iova_alignment: the IOVA and length of a map must be multiples of it. */
  alignment: bigint;
}

/** IOMMU_IOAS_MAP_FILE: a memfd or a VFIO dma-buf mapped into an IOAS (docs/iommufd.md). */
export interface IommuIoasMapFile {
  ioasId: number;
  /** enum iommufd_ioas_map_flags: FIXED_IOVA, WRITEABLE, READABLE (src/uapi/constants.ts IOMMU). */
  flags: number;
  /** The file to map: a memfd or a dma-buf fd. */
  fd: Fd;
  /** Byte offset into the file. */
  start: bigint;
  length: bigint;
  /** Where to map with FIXED_IOVA; ignored (0n) otherwise. */
  iova: bigint;
}

/** IOVH_IC_VERSION of the stand-in importer module (core/uapi/iovh_ic.h, src/uapi/iovh-ic.ts). */
export interface IcVersion {
  abi: number;
  /** IOVH_IC.API_*: which interconnect API the module was built against */
  api: number;
  /** IOVH_IC.KEEP_*: what it does with the interconnect ranges it maps */
  keep: number;
  /** 0: identity translation (range address = CPU physical address) */
  xlate: number;
}

/** IOVH_IC_IMPORT: attach a dma-buf with a PCI device as the importer device. */
export interface IcImport {
  dmabufFd: Fd;
  /** IOVH_IC.IMPORT_* */
  flags: number;
  segment: number;
  bus: number;
  devfn: number;
  /** BAR offered with IOV */
  bar: number;
}

export interface IcImported {
  handle: number;
  /** the attachment negotiated the IOV interconnect */
  negotiated: boolean;
  size: bigint;
}

/** IOVH_IC_MAP's answer. A map that failed both ways throws. */
export interface IcMapResult {
  /** IOVH_IC.PATH_* */
  path: number;
  /** the interconnect map's errno (negative) when the module fell back to scatter-gather, else 0 */
  icError: number;
  nrRanges: number;
}

/** IOVH_IC_INFO: what an import holds. */
export interface IcInfo {
  /** IOVH_IC.STATE_* */
  state: number;
  path: number;
  /** ranges held (may exceed ranges.length / 2 when the room given was smaller) */
  nrRanges: number;
  /** [start, end (inclusive), ...]: interconnect ranges, or sg entries as {dma address, last byte} */
  ranges: BigUint64Array;
  size: bigint;
  maps: number;
  invalidations: number;
  /** interconnect containers dropped without an unmap (IOVH_IC.KEEP_LEAK) */
  leaked: number;
}

/** First mismatch found by a pattern verify (src/uapi/pattern.ts). */
export interface PatternMismatch {
  /** byte offset of the first mismatching 8-byte word, relative to the checked span (the byte within it: firstDifferingByte, src/uapi/pattern.ts) */
  offset: number;
  expected: bigint;
  actual: bigint;
}

/** A mapping made by mmap(2). Access is bounds-checked; after unmap() it throws. */
export interface Mapping {
  readonly length: number;
  /** CPU virtual address of byte 0 (synthetic in the mock). */
  readonly address: bigint;
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  /** Fill [offset, offset+length) with the pattern of (seed, base + offset). */
  fill(offset: number, length: number, seed: bigint, base: bigint): void;
  /** Verify [offset, offset+length) against the pattern of (seed, base + offset). */
  verify(offset: number, length: number, seed: bigint, base: bigint): PatternMismatch | null;
  /** munmap(2); idempotent. */
  unmap(): void;
}

/**
 * Device calls. One method, one kernel operation; errors are SystemErrors with
 * `syscall`, `request` (the ioctl name) and `path` (the device the fd came from).
 * Waits that may block return Promises and run off the JS thread.
 */
export interface DeviceOps {
  open(path: string, flags: number): Fd;
  close(fd: Fd): void;

  // VFIO container (/dev/vfio/vfio)
  vfioGetApiVersion(fd: Fd): number;
  vfioCheckExtension(fd: Fd, extension: number): number;
  vfioSetIommu(fd: Fd, type: number): void;
  // VFIO group (/dev/vfio/N)
  vfioGroupGetStatus(fd: Fd): VfioGroupStatus;
  vfioGroupSetContainer(groupFd: Fd, containerFd: Fd): void;
  vfioGroupUnsetContainer(groupFd: Fd): void;
  vfioGroupGetDeviceFd(groupFd: Fd, bdf: string): Fd;
  // VFIO device
  vfioDeviceGetInfo(fd: Fd): VfioDeviceInfo;
  vfioDeviceGetRegionInfo(fd: Fd, index: number): VfioRegionInfo;
  /** pread(2) on the device fd at `offset` (region offset + offset within the region). */
  vfioRegionRead(fd: Fd, offset: bigint, length: number): Uint8Array;
  /** pwrite(2); returns bytes written. */
  vfioRegionWrite(fd: Fd, offset: bigint, data: Uint8Array): number;
  vfioDeviceReset(fd: Fd): Promise<void>;
  /** VFIO_DEVICE_FEATURE with a raw payload; returns the ioctl's return value. */
  vfioDeviceFeature(fd: Fd, flags: number, payload?: Uint8Array, argsz?: number): number;
  /** VFIO_DEVICE_FEATURE GET DMA_BUF; returns the new dma-buf fd. */
  vfioDmaBufGet(fd: Fd, request: VfioDmaBufRequest): Fd;
  // VFIO cdev + iommufd (docs/kernel.md §4); absent on Debian's 7.2 (no IOMMUFD)
  /**
   * VFIO_DEVICE_BIND_IOMMUFD; `token` is the uuid_t token_uuid_ptr points at (with VFIO.DEVICE_BIND_FLAG_TOKEN in
   * `flags`: a VF whose PF is on vfio-pci), absent for a null pointer.
   */
  vfioDeviceBindIommufd(fd: Fd, iommufd: Fd, flags?: number, token?: Uint8Array): number;
  vfioDeviceAttachIommufdPt(fd: Fd, ptId: number): void;
  vfioDeviceDetachIommufdPt(fd: Fd): void;
  // iommufd (/dev/iommu; docs/iommufd.md), also a dma-buf importer through IOMMU_IOAS_MAP_FILE
  /** IOMMU_IOAS_ALLOC; returns out_ioas_id. The kernel requires flags 0. */
  iommuIoasAlloc(iommufd: Fd, flags?: number): number;
  /** IOMMU_DESTROY of any object id (an IOAS). */
  iommuDestroy(iommufd: Fd, id: number): void;
  /** IOMMU_IOAS_IOVA_RANGES, every range (asked again with room for all when the kernel says EMSGSIZE). */
  iommuIoasIovaRanges(iommufd: Fd, ioasId: number): IommuIovaRanges;
  /** IOMMU_IOAS_MAP_FILE; returns the IOVA the file was mapped at. */
  iommuIoasMapFile(iommufd: Fd, args: IommuIoasMapFile): bigint;
  /** IOMMU_IOAS_UNMAP; returns the bytes unmapped (iova 0 with length 2^64-1: everything). */
  iommuIoasUnmap(iommufd: Fd, ioasId: number, iova: bigint, length: bigint): bigint;

  /** mmap(2) of a device, dma-buf or DRM fd. */
  mmap(fd: Fd, offset: bigint, length: number, prot: number): Mapping;

  // DRM core (/dev/dri/renderD*, /dev/dri/card*)
  drmVersion(fd: Fd): DrmVersion;
  drmGetCap(fd: Fd, capability: bigint): bigint;
  drmPrimeFdToHandle(fd: Fd, dmabufFd: Fd): number;
  drmPrimeHandleToFd(fd: Fd, handle: number, flags: number): Fd;
  drmGemClose(fd: Fd, handle: number): void;
  drmSyncobjCreate(fd: Fd, flags: number): number;
  drmSyncobjDestroy(fd: Fd, handle: number): void;
  /** DRM_IOCTL_SYNCOBJ_WAIT; timeoutNs is absolute CLOCK_MONOTONIC; resolves first_signaled. */
  drmSyncobjWait(fd: Fd, handles: number[], timeoutNs: bigint, flags: number): Promise<number>;

  // Xe
  /** DRM_IOCTL_XE_DEVICE_QUERY with size 0: returns the size the kernel wants. */
  xeDeviceQuerySize(fd: Fd, query: number): number;
  /** DRM_IOCTL_XE_DEVICE_QUERY with a buffer of `size` bytes: returns the raw bytes. */
  xeDeviceQuery(fd: Fd, query: number, size: number): Uint8Array;
  xeGemCreate(fd: Fd, args: XeGemCreate): number;
  xeGemMmapOffset(fd: Fd, handle: number, flags?: number): bigint;
  xeVmCreate(fd: Fd, flags: number): number;
  xeVmDestroy(fd: Fd, vmId: number): void;
  xeVmBind(fd: Fd, args: XeVmBind): void;
  xeExecQueueCreate(fd: Fd, args: XeExecQueueCreate): number;
  xeExecQueueDestroy(fd: Fd, execQueueId: number): void;
  xeExec(fd: Fd, args: XeExec): void;
  /** Resolves the remaining timeout the kernel wrote back. */
  xeWaitUserFence(fd: Fd, args: XeWaitUserFence): Promise<bigint>;

  // dma-buf
  dmaBufSetName(fd: Fd, name: string): void;
  dmaBufSync(fd: Fd, flags: bigint): void;

  // memfd + udmabuf (the system-memory control exporter)
  memfdCreate(name: string, flags: number): Fd;
  ftruncate(fd: Fd, size: bigint): void;
  addSeals(fd: Fd, seals: number): void;
  udmabufCreate(fd: Fd, args: UdmabufCreate): Fd;

  // iovh's stand-in importer module (/dev/iovh-ic: kernel/iovh-ic-importer, core/uapi/iovh_ic.h)
  icVersion(fd: Fd): IcVersion;
  icImport(fd: Fd, args: IcImport): IcImported;
  icMap(fd: Fd, handle: number): IcMapResult;
  /** `room`: how many ranges to copy out (default 64). */
  icInfo(fd: Fd, handle: number, room?: number): IcInfo;
  /** IOVH_IC_RW read of [offset, offset + length) of the dma-buf, through the import's ranges. */
  icRead(fd: Fd, handle: number, offset: bigint, length: number): Uint8Array;
  icWrite(fd: Fd, handle: number, offset: bigint, data: Uint8Array): void;
  icRelease(fd: Fd, handle: number): void;
}

// ---------------------------------------------------------------- backend

export type BackendName = 'native' | 'mock';
export type BackendChoice = BackendName | 'auto';

/**
 * Where changes to a machine outlive the process that made them: the native
 * backend and the root it reads under, or the mock and its state file. The
 * bring-up journal is kept per location (src/host/journal.ts).
 */
export interface MachineLocation {
  backend: BackendName;
  /** native: the root directory files are read under; mock: the absolute --mock-state path */
  where: string;
}

/** Who this process is in the backend's kernel: open(2) and sysfs writes check these. */
export interface Credentials {
  /** effective uid (0: root may open every device node and write sysfs) */
  uid: number | null;
  /** effective gid; null when unknown */
  gid: number | null;
  /** supplementary groups (getgroups(2)) */
  groups: readonly number[];
}

/**
 * What differs between the machines a backend stands for, said as what it is,
 * so that nothing above the seam asks for the backend's name.
 */
export interface BackendTraits {
  /**
   * Which implementation this is, for what a person reads (reports, the
   * journal's label, the notice of a state change); shown, never branched on:
   * what differs is said by the traits below.
   */
  name: BackendName;
  /**
   * `real`: the kernel's time is wall time, a reset takes real milliseconds
   * and a wait needs a timer. `simulated`: the backend keeps the kernel's
   * clock (sleep() makes it jump) and every call that is not blocked completes
   * before the next turn of the event loop.
   */
  clock: 'real' | 'simulated';
  /**
   * True for a machine other people and programs use (a lab host): a change
   * that takes devices away from them needs the user's consent. The mock's
   * kernel is iovh's own.
   */
  shared: boolean;
  /** Where the machine's changes persist (the journal's target); null: the machine ends with this backend. */
  location: MachineLocation | null;
  /** The kernel profile the backend models (the mock's, whose shipped baseline judges it); null for a real kernel. */
  profile: string | null;
  /** This process's identity in that kernel (the mock models a root process). */
  credentials: Credentials;
}

/** The backend of a process spawnProcess() made, with its pid in that kernel. */
export interface ProcessBackend extends Backend {
  readonly pid: number;
}

export interface Backend {
  /** Why this backend was chosen (printed by `auto`). */
  readonly reason: string;
  readonly dev: DeviceOps;
  readonly fs: FileOps;
  readonly traits: BackendTraits;
  /**
   * Let `ms` of time pass for the kernel before resolving, for waits the
   * kernel's own clock decides (kmemleak reports only objects older than 5 s).
   * The mock's clock is simulated: it jumps by `ms` and the promise resolves on
   * the next turn of the event loop. Absent: the caller waits with a timer.
   */
  sleep?(ms: number): Promise<void>;
  /**
   * A new process on the same kernel, in this node process: its own pid and
   * fd table, the same devices, sysfs, tracefs and log; its close() is its
   * exit. The mock has it (a scenario then runs in a process of the simulated
   * kernel); absent on a real kernel, where a new process is a new node
   * process that opens its own backend (src/harness/executor.ts).
   * `inherit`: fds of this process the new one starts with, at 3, 4, ... in
   * that order (the same open files, as a fork + exec that leaves them open
   * does, and as Node's spawn() passes `stdio` fds; src/harness/trigger.ts).
   */
  spawnProcess?(comm?: string, inherit?: readonly Fd[]): ProcessBackend;
  /**
   * End of the process's use of the kernel: closes what is still open (the mock
   * models process exit: fds released, vfio devices closed) and, for the mock,
   * saves its state file. Idempotent.
   */
  close(): void;
}
