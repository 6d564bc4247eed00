// Interfaces inside the simulated kernel: what the platform (PCI and SR-IOV,
// memory, xe PF provisioning, dma-buf core, vfio-pci, files and fds, log and
// trace) offers to the device models built on it (the xe DRM device in
// src/mock/xe/, vgem, udmabuf). The platform implements these; the device
// models depend on nothing else of it.
//
// Kernel facts cite the kernel source files, the RFC's patches and docs/profiles.md.

import type { DeviceOps, Mapping } from '../backend/types.js';

// ------------------------------------------------------------ profiles

/**
 * The kernel defects a profile carries: the RFC's quirks by their number in
 * docs/profiles.md ("Quirks of the RFC"), what its 7.x forward-ports add,
 * and the upstream bugs the kernel lines have or fixed. Which profile has
 * which is data (src/mock/profiles.ts PROFILES), each entry optionally
 * bounded by the release that fixed it.
 */
export type QuirkId =
  | 'last-page' // 1: owner-VF search rejects the last page of the VF BAR
  | 'silent-untranslated' // 2: translation reports success without translating (the next VM_BIND oopses)
  | 'first-range-vf' // 3: only the first range picks the VF (not reachable through vfio)
  | 'unprovisioned-oops' // 4: VF without LMEM quota: NULL dereference
  | 'vf-other-bus' // 5: owner search walks only the PF's bus
  | 'ranges-leak' // 6: the core's range container is never unmapped
  | 'order-from-length' // 7: entry order from the length rounded up to a power of two
  | 'contiguity' // 8: each range assumed contiguous in the LMEM object
  | 'revoked-attach-bypass' // the IOV match returns before the revoked check; the interconnect map checks nothing
  | 'deferred-unmap-hang' // xe defers the unmap after invalidate, a 7.1+ vfio revoke waits for it (not the RFC's)
  | 'quota-unchecked' // no offset+length <= LMEM quota check (a WARN in xe_res_first, then a wrapped DPA)
  | 'closed-vdev-oops' // RFC v1 4/8 vfio_pci_match_interconnects reads priv->vdev->pdev, NULL after the last close
  | 'lmem-ref-leak' // a 7.x forward-port leaks one LMEM-object reference per translation
  | 'stale-lmem-import' // a VF's quota changes under an import: the importer keeps DPAs into the old object
  | 'root-tile-only' // RFC v1 translates through the root tile's LMEM object only, for a VF whose LMEM spans tiles
  | 'kref-underflow' // 7.1 vfio: closing a device whose buffers are revoked puts a kref already at 0, then waits forever
  | 'opath-stale-file' // 6.19+: an O_PATH holder keeps the dma-buf's dentry, its file is freed, vfio's revoke touches it
  | 'ttm-attach-uaf' // 6.8+ TTM: a failed sg-BO import is freed while the delayed-delete worker locks the exporter resv
  | 'p2p-sgt-leak'; // 6.19+ dma-buf-mapping.c: dma_buf_free_sgt frees none of the P2P map's scatterlist (orig_nents 0)

/** Profiles: one per kernel line and revision a lab runs (docs/profiles.md). */
export type ProfileName =
  | 'upstream-6.19'
  | 'upstream-7.0'
  | 'upstream-7.1'
  | 'rfc-v1'
  | 'rfc-v2'
  | 'maptype-rfc'
  | 'fixed';

/** The upstream kernel line whose vfio-pci and dma-buf core a profile follows. */
export type KernelBase = '6.19' | '7.0' | '7.1';

/** The dma-buf series applied on the base: none, the interconnect RFC (v1 or v2), or the mapping types. */
export type Series = 'none' | 'rfc-v1' | 'rfc-v2' | 'maptype';

export interface Profile {
  readonly name: ProfileName;
  /** `uname -r` the profile reports. */
  readonly release: string;
  readonly base: KernelBase;
  readonly series: Series;
  /** The interconnect series is applied (rfc-v1, rfc-v2, fixed). */
  readonly interconnect: boolean;
  /** 7.1: vfio's attach refuses an importer without invalidate_mappings (dma_buf_attach_revocable). */
  readonly revocableGate: boolean;
  /** 7.1: a revoke waits, without a timeout, until every importer mapping is unmapped (kref + completion). */
  readonly revokeWaits: boolean;
  has(quirk: QuirkId): boolean;
  /** Names /proc/kallsyms lists, with their type letter (t/T functions, d/D data). */
  readonly symbols: ReadonlyMap<string, SymbolType>;
}

/** kallsyms type letters the mock uses. */
export type SymbolType = 't' | 'T' | 'd' | 'D';

// ------------------------------------------------------------ kernel services

/** printk levels (include/linux/kern_levels.h). */
export const enum LogLevel {
  EMERG = 0,
  ALERT = 1,
  CRIT = 2,
  ERR = 3,
  WARNING = 4,
  NOTICE = 5,
  INFO = 6,
  DEBUG = 7,
}

/** A kernel object kmemleak tracks (RFC quirk 6). */
export interface KernelAlloc {
  readonly size: number;
  /** kfree(): the object is gone and never reported. */
  free(): void;
  /** Drop the last reference without freeing: kmemleak reports it at the next scan. */
  orphan(): void;
}

export interface KernelServices {
  readonly profile: Profile;
  /** pid and comm of the calling process (for trace lines and hung-task reports). */
  readonly pid: number;
  readonly comm: string;
  /** Monotonic kernel time in microseconds (kmsg and trace timestamps). */
  now(): bigint;
  /** A `/dev/kmsg` record; `source` is the dev_printk prefix, e.g. `xe 0000:03:00.0`. */
  log(level: LogLevel, source: string | null, text: string): void;
  /** WARN_ON(): the WARNING splat with `site` (`func+0x1c/0x80 [module]`), taints W. */
  warn(site: string, text: string): void;
  /**
   * An oops (e.g. a NULL dereference): BUG line, Oops, call trace; taints D.
   * Never throws: the model unwinds as it likes, and the syscall boundary then
   * ends the calling thread (TaskKilledError; src/mock/process.ts).
   */
  oops(kind: string, site: string): void;
  /**
   * A kprobe/kretprobe hit at `symbol`. The tracer prints a line in ftrace's
   * format only if the harness armed a probe there (through kprobe_events) and
   * enabled it; otherwise nothing. `values` are the fetch-args a probe may ask
   * for: `arg1`..`arg6` at entry, `retval` at return.
   */
  trace(symbol: string, kind: 'entry' | 'return', values: Readonly<Record<string, bigint | number>>): void;
  /**
   * kmalloc() of a tracked object of `size` requested bytes; `frames` is the
   * allocation's call chain below the allocator, innermost first, as
   * kmemleak's backtrace prints it (`func+0xoff/0xsize [module]`).
   */
  alloc(what: string, size: number, frames?: readonly string[]): KernelAlloc;
  /** A KASAN report (src/mock/kernel.ts KernelCore.kasan): only a KASAN kernel calls it. */
  kasan(report: KasanReport): void;
  /**
   * queue_work(): `work` runs in a kworker, not in the caller's system call.
   * The mock runs queued work when time passes (a sleep userspace asks for,
   * Backend.sleep), in queue order, each as the kworker `comm`.
   */
  queueWork(comm: string, work: () => void): void;
}

/** What a KASAN report says (mm/kasan/report.c), the frames innermost first. */
export interface KasanReport {
  kind: string;
  fn: string;
  access: string;
  addr: string;
  trace: readonly string[];
  allocated: readonly string[];
  freed: readonly string[];
  /** "Last potentially related work creation" (a call_rcu free's aux stack). */
  aux?: readonly string[];
  cache: string;
  objectSize: number;
  offset: number;
  /** The task the object was allocated and freed by (default: the caller). */
  allocPid?: number;
  freePid?: number;
  /** The report comes from a system call: the user registers end the trace. */
  syscall?: number;
  /** Reported from a work item: dump_stack's `Workqueue: <wq> <function>` line. */
  workqueue?: string;
}

// ------------------------------------------------------------ memory

/** Sparse byte store: unwritten bytes read as zero; resident memory grows with what is written. */
export interface SparseMemory {
  readonly size: bigint;
  read(address: bigint, length: number): Uint8Array;
  write(address: bigint, data: Uint8Array): void;
  residentBytes(): number;
}

/**
 * The CPU/PCI physical address space: system RAM, and PCI memory BARs routed
 * to their device (a VF's BAR 2 goes through the LMTT to its LMEM object).
 * Reads of an address nobody decodes return all ones (a PCIe unsupported
 * request); writes there are dropped.
 */
export interface PhysicalBus {
  read(address: bigint, length: number): Uint8Array;
  write(address: bigint, data: Uint8Array): void;
  /** `ram` for system RAM (page_is_ram), `mmio` inside a decoded BAR, `none` otherwise. */
  classify(address: bigint): 'ram' | 'mmio' | 'none';
}

/** A physically contiguous piece of system RAM. */
export interface PhysRange {
  readonly address: bigint;
  readonly length: bigint;
}

/**
 * System RAM pages for kernel allocations that the bus must reach (xe
 * system-memory BOs: the GPU, the CPU mapping and a dma-buf export all use
 * their physical addresses through PhysicalBus).
 */
export interface SystemRam {
  readonly size: bigint;
  /** alloc_pages() for `size` bytes (a page multiple): the chunks, or null when RAM is exhausted. Contents read as zero. */
  alloc(size: bigint): readonly PhysRange[] | null;
  free(chunks: readonly PhysRange[]): void;
}

// ------------------------------------------------------------ PCI

export interface PciBar {
  readonly index: number;
  readonly start: bigint;
  readonly size: bigint;
  /** `none`: not implemented (size 0). */
  readonly kind: 'mem64' | 'mem32' | 'io' | 'none';
  readonly prefetchable: boolean;
}

export interface PciDevice {
  readonly bdf: string; // 0000:03:00.0
  readonly domain: number;
  readonly bus: number;
  readonly devfn: number;
  readonly vendor: number;
  readonly device: number;
  readonly isVirtfn: boolean;
  readonly physfn: PciDevice | null;
  /** 0-based VF index (virtfnN); VF id in xe terms is vfIndex + 1. */
  readonly vfIndex: number | null;
  readonly bars: readonly PciBar[];
  readonly driver: string | null;
  readonly iommuGroup: number | null;
}

export interface PciBus {
  device(bdf: string): PciDevice | undefined;
  /** Devices whose bus number is `bus`, in devfn order (pci_walk_bus of one bus). */
  devicesOnBus(domain: number, bus: number): PciDevice[];
  /** Enabled VFs of a PF, by index. */
  vfsOf(pf: PciDevice): PciDevice[];
}

// ------------------------------------------------------------ xe PF provisioning

/** One contiguous piece of VRAM, by device physical address. */
export interface VramBlock {
  readonly dpa: bigint;
  readonly size: bigint;
}

/**
 * The PF-side buffer object backing a VF's LMEM quota (docs/kernel.md §9): pinned
 * VRAM, not forced contiguous. VF BAR 2 offset X is object offset X.
 */
export interface LmemObject {
  readonly vfid: number; // 1-based
  readonly size: bigint;
  readonly blocks: readonly VramBlock[];
  /** DPA of object offset `offset` through the block list (the LMTT's view). */
  dpaAt(offset: bigint): bigint;
  /** xe_bo_get / xe_bo_put. A quota write replaces the object whatever its refs; refs keep the old VRAM allocated. */
  get(): void;
  put(): void;
  readonly refs: number;
  /**
   * Called when the VF's quota is replaced while this object is referenced,
   * on a kernel that tells importers (the `fixed` profile); returns the
   * unregister function.
   */
  onReplaced(cb: () => void): () => void;
}

export interface XePfState {
  readonly pf: PciDevice;
  /** VRAM by DPA. */
  readonly vram: SparseMemory;
  /** xe runs as SR-IOV PF on this device (IS_SRIOV_PF). */
  readonly pfMode: boolean;
  /** xe_gt_sriov_pf_config_get_lmem_obj(gt, vfid) of the root tile's GT: null when the VF has no LMEM quota. */
  lmemObj(vfid: number): LmemObject | null;
  /**
   * The VF's LMEM object of every tile that has one, in tile order: the VF
   * sees them concatenated in its BAR 2 (docs/kernel.md §9).
   */
  lmemObjs(vfid: number): LmemObject[];
  /** Allocate a PF-owned VRAM buffer (ordinary xe BOs); null when VRAM is exhausted. */
  allocVram(size: bigint): VramBlock[] | null;
  /** VRAM not free in the buddy allocators (every tile): what the memory-regions query reports as used. */
  vramUsed(): bigint;
  freeVram(blocks: readonly VramBlock[]): void;
}

// ------------------------------------------------------------ dma-buf core

/** An interconnect offer: the IOV interconnect is (device, BAR) (docs/profiles.md, rfc-v1 "Attach"). */
export interface InterconnectOffer {
  readonly type: 'iov';
  readonly dev: PciDevice;
  readonly bar: number;
}

/** struct dma_buf_attach_ops of an importer. */
export interface ImporterOps {
  readonly allowPeer2peer: boolean;
  /** Present means the importer is revocable (dma_buf_attach_revocable, docs/kernel.md §3.4). */
  readonly invalidateMappings?: (attachment: Attachment) => void;
  /** RFC: the importer's list for dma_buf_match_interconnects; absent on non-RFC importers. */
  readonly interconnects?: readonly InterconnectOffer[];
  /**
   * RFC: the importer's supports_interconnects op (xe_dma_buf_supports_interconnects).
   * The core calls it when the exporter's attach asks the importer to match
   * (an exporter that offers interconnects, on an attachment with interconnect
   * allowed), before matching `interconnects`; the importer records its own
   * trace hit there. Absent on non-RFC importers.
   */
  readonly supportsInterconnects?: (attachment: Attachment, offers: readonly InterconnectOffer[]) => void;
}

export interface Attachment {
  readonly dmabuf: DmaBufObject;
  /** dev_name() of the importer, as bufinfo prints it. */
  readonly devName: string;
  readonly dev: PciDevice | null;
  readonly importer: ImporterOps;
  readonly dynamic: boolean;
  /** The negotiated interconnect (RFC), or null: P2P / sg path. */
  readonly interconnect: InterconnectOffer | null;
}

/** dma_buf_map_attachment result: address-only scatter-gather entries (bus or IOVA addresses). */
export interface SgTable {
  readonly entries: readonly { readonly address: bigint; readonly length: bigint }[];
  /** The same entries packed as [address0, length0, address1, length1, ...] (the platform's exporters set it; cheap for 262,144 ranges). */
  readonly packed?: BigUint64Array;
}

/** dma_buf_map_interconnect result (RFC v1 `struct dma_buf_ranges`): [start, end] inclusive. */
export interface InterconnectRanges {
  readonly ranges: readonly { readonly start: bigint; readonly end: bigint }[];
  /** The same ranges packed as [start0, end0, start1, end1, ...] (end inclusive), when the exporter provides it. */
  readonly packed?: BigUint64Array;
}

export interface DmaBufObject {
  readonly ino: number;
  readonly size: bigint;
  /** `vfio_pci_core`, `xe`, `udmabuf`, ... */
  readonly expName: string;
  readonly name: string | null;
  readonly attachments: readonly Attachment[];
}

/** An exporter's dma_buf_ops, as the core calls them. Errors are SystemErrors. */
export interface ExporterOps {
  attach(attachment: Attachment & { interconnectAllowed: boolean }): InterconnectOffer | null;
  detach?(attachment: Attachment): void;
  /** `caller`: the importer's frames below dma_buf_map_attachment, for what the map allocates (kmemleak's backtrace). */
  map(attachment: Attachment, caller?: readonly string[]): SgTable;
  unmap(attachment: Attachment, sgt: SgTable): void;
  mapInterconnect?(attachment: Attachment): InterconnectRanges;
  unmapInterconnect?(attachment: Attachment, ranges: InterconnectRanges): void;
  /**
   * vfio_pci_dma_buf_iommufd_map, the private interconnect iommufd calls
   * through symbol_get on a dma-buf it attached to (pages.c
   * sym_vfio_pci_dma_buf_iommufd_map): the one physical range. Only VFIO's
   * exporter has it; iommufd refuses other dma-bufs with EOPNOTSUPP.
   */
  iommufdMap?(attachment: Attachment): { paddr: bigint; len: bigint };
  /** dma_buf_ops.mmap; absent (vfio_pci_core) makes mmap of the dma-buf fd fail EINVAL. Offset and length are checked by the core. */
  mmap?(offset: bigint, length: number, prot: number): Mapping;
  release(): void;
}

/**
 * The dma-buf core. Each method records the trace hits of its own kernel
 * function (dma_buf_map_attachment, dma_buf_map_interconnect, ...) for every
 * caller; device models record only the hits of their own functions.
 */
export interface DmaBufCore {
  /** dma_buf_export + dma_buf_fd: a new dma-buf, installed as an fd of the process. */
  export(expName: string, size: bigint, ops: ExporterOps, openFlags: number): { dmabuf: DmaBufObject; fd: number };
  /** dma_buf_fd() again for a dma-buf that exists (PRIME re-export of the same object): a new fd, one more file reference. */
  fd(dmabuf: DmaBufObject, openFlags: number): number;
  /** dma_buf_get(fd): EBADF for a closed fd, EINVAL for an fd that is not a dma-buf. */
  get(fd: number): DmaBufObject;
  /** Take / drop a file reference (an importer's BO holds one). */
  ref(dmabuf: DmaBufObject): void;
  unref(dmabuf: DmaBufObject): void;
  /** dma_buf_release ran: the struct dma_buf (and the reservation object embedded after it) is freed. */
  freed(dmabuf: DmaBufObject): boolean;
  /** dma_buf_dynamic_attach (dynamic = importer ops with invalidateMappings) or dma_buf_attach. */
  attach(dmabuf: DmaBufObject, devName: string, dev: PciDevice | null, importer: ImporterOps): Attachment;
  detach(attachment: Attachment): void;
  mapAttachment(attachment: Attachment, caller?: readonly string[]): SgTable;
  unmapAttachment(attachment: Attachment, sgt: SgTable): void;
  /** RFC: EINVAL non-dynamic, EOPNOTSUPP without interconnect allowed (docs/profiles.md, rfc-v1 "Map"). */
  mapInterconnect(attachment: Attachment): InterconnectRanges;
  unmapInterconnect(attachment: Attachment, ranges: InterconnectRanges): void;
}

// ------------------------------------------------------------ files and fds

/**
 * The handlers a kernel file implements: the DeviceOps methods that take an fd,
 * without it. A DeviceOps call on an fd whose file lacks the handler fails with
 * ENOTTY (unknown ioctl), like the kernel's `default: return -ENOTTY`.
 */
export type FileHandlers = {
  [K in keyof DeviceOps as DeviceOps[K] extends (fd: number, ...rest: never[]) => unknown
    ? K
    : never]?: DeviceOps[K] extends (fd: number, ...rest: infer A) => infer R ? (...args: A) => R : never;
};

export interface KernelFile {
  /** What /proc/self/fd/N links to: `/dev/vfio/12`, `anon_inode:[vfio-device]`, `/dmabuf:`. */
  readonly path: string;
  readonly handlers: Omit<FileHandlers, 'close'>;
  /** Lines of /proc/self/fdinfo/N after pos/flags/mnt_id/ino (e.g. `size:\t4096`). */
  fdinfo(): string[];
  /** Last close of the file (fput). */
  release(): void;
  /**
   * A reference to the file's dentry without the file (an O_PATH open of its
   * /proc/<pid>/fd link); returns the dput. Files whose dentry lifetime
   * matters (dma-buf: dma_buf_release is its d_release) implement it.
   */
  pinDentry?(): () => void;
}

export interface FdTable {
  /** Install a file as the lowest free fd (EMFILE beyond the limit). */
  install(file: KernelFile, flags: number): number;
  /** The file behind an fd: EBADF when closed. */
  get(fd: number): KernelFile;
  /** Another reference to an open file's object, for dma_buf_get-style lookups. */
  has(fd: number): boolean;
}

/** A character device node under /dev: open(2) makes a new file. */
export interface CharDevice {
  readonly path: string;
  readonly major: number;
  readonly minor: number;
  readonly mode: number;
  /**
   * The device the node belongs to, for its sysfs class entry: a DRM minor
   * /dev/dri/renderD128 of PF 0000:03:00.0 appears as /sys/class/drm/renderD128
   * with `device` linking to the PF, and as /sys/bus/pci/devices/0000:03:00.0/drm/renderD128
   * (what src/uapi/drm.ts reads to find a PF's nodes).
   */
  readonly parent?: PciDevice;
  open(flags: number): KernelFile;
}

/** What the platform hands to a device model when it is created. */
export interface MockPlatform {
  readonly kernel: KernelServices;
  readonly pci: PciBus;
  readonly bus: PhysicalBus;
  readonly ram: SystemRam;
  readonly dmabuf: DmaBufCore;
  readonly fds: FdTable;
  /** The xe PF state of an xe-driven PF (null if the device is not an xe PF). */
  xePf(pf: PciDevice): XePfState | null;
  /** Add or remove a /dev node (a DRM minor appears when xe binds). */
  addCharDevice(dev: CharDevice): void;
  removeCharDevice(path: string): void;
  /** Add a read-only text file (sysfs/debugfs/proc) rendered on each read. */
  addTextFile(path: string, render: () => string, mode?: number): void;
  removeFile(path: string): void;
}
