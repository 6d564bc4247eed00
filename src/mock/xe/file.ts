// One open of an xe DRM node (struct drm_file + struct xe_file): its GEM
// handles, PRIME cache, syncobjs, VMs and exec queues, and the ioctls, each
// with the kernel's validation order and errno. Sources: drivers/gpu/drm/
// drm_ioctl.c, drm_gem.c, drm_prime.c, drm_syncobj.c; drivers/gpu/drm/xe/
// xe_query.c, xe_bo.c, xe_vm.c, xe_exec_queue.c, xe_exec.c, xe_sync.c,
// xe_wait_user_fence.c (restated in docs/kernel.md §6-§8).

import type {
  DrmVersion,
  Mapping,
  XeBindOp,
  XeExec,
  XeExecQueueCreate,
  XeGemCreate,
  XeSync,
  XeVmBind,
  XeWaitUserFence,
} from '../../backend/types.js';
import { Errno } from '../../uapi/errors.js';
import { DRM, PROT, XE } from '../../uapi/constants.js';
import { encodeConfig, encodeEngines, encodeGtList, encodeMemRegions } from '../../uapi/xe-query.js';
import type { DmaBufObject, FileHandlers, KernelFile } from '../contracts.js';
import { LogLevel } from '../contracts.js';
import { XeBo } from './bo.js';
import type { XeDevice } from './device.js';
import { toSafe } from './extents.js';
import { runJob } from './gpu.js';
import {
  COH_NONE,
  COH_RESERVED,
  CONSULT_MEM_ADVISE_PREF_LOC,
  DRIVER,
  DRM_CAPS,
  ENGINES,
  GTS,
  HW_ENGINE_MAX_INSTANCE,
  lookupEngine,
  MAX_EXEC_QUEUE_PRIORITY,
  MAX_SYNCS,
  MEM_REGION_MASK,
  PAGE,
  patCoherency,
  patCompressed,
  PAT_ENTRIES,
  REGION_SYSMEM,
  REGION_VRAM0,
  VA_BITS,
  VM_SIZE,
  VRAM_MIN_PAGE,
  type HwEngine,
} from './hw.js';
import { failedImportTeardown, ImportedBo } from './import.js';
import { asIoctlError, errnoOf, KernelError, kfail } from './kerror.js';
import { XeMapping } from './mapping.js';
import { ExecQueue } from './queue.js';
import { Fence, monotonicNs, sleepNs, STUB_FENCE, Syncobj } from './sync.js';
import { LMEM_BAR } from './translate.js';
import { XeVm, type Vma, type VmaPlan } from './vm.js';

const U64_MAX = (1n << 64n) - 1n;
/** MAX_SCHEDULE_TIMEOUT (LONG_MAX): what a negative user-fence timeout becomes. */
const MAX_SCHEDULE_TIMEOUT = (1n << 63n) - 1n;
/** XE_PCI_BARRIER_MMAP_OFFSET = 0x50 << XE_PTE_SHIFT (xe_bo.h). */
const PCI_BARRIER_MMAP_OFFSET = 0x50 << 12;
/** DRM_XE_GEM_CREATE_FLAG_* known to 7.2: DEFER_BACKING, SCANOUT, NEEDS_VISIBLE_VRAM, NO_COMPRESSION. */
const GEM_CREATE_FLAGS = 0xf;
/** DRM_XE_VM_CREATE_FLAG_*: SCRATCH_PAGE, LR_MODE, FAULT_MODE, NO_VM_OVERCOMMIT. */
const VM_CREATE_FLAGS = 0xf;
/** SUPPORTED_FLAGS_STUB of xe_vm.c: READONLY, IMMEDIATE, NULL, DUMPABLE, CHECK_PXP, CPU_ADDR_MIRROR, MADVISE_AUTORESET. */
const VM_BIND_FLAGS = 0x7f;
const BIND_NULL = 4;
const BIND_CPU_ADDR_MIRROR = 0x20;
const BIND_MADVISE_AUTORESET = 0x40;
/** DRM_SYNCOBJ_WAIT_FLAGS_*: WAIT_ALL, WAIT_FOR_SUBMIT, WAIT_DEADLINE (WAIT_AVAILABLE is for the timeline wait only). */
const SYNCOBJ_WAIT_FLAGS = 0x1 | 0x2 | 0x8;
/** DRM_XE_EXEC_QUEUE_LOW_LATENCY_HINT */
const EXEC_QUEUE_FLAGS = 0x1;
/** Device queries of 7.2 (ENGINES .. EU_STALL). */
const QUERY_COUNT = 11;

/** A VM_BIND queue runs its jobs on the copy engine of the tile (xe_exec_queue_create_bind). */
const BIND_ENGINE: HwEngine = { engineClass: XE.ENGINE_CLASS_VM_BIND, instance: 0, gtId: 0, className: 'bcs' };

interface ParsedSync {
  kind: 'syncobj' | 'timeline' | 'ufence';
  signal: boolean;
  syncobj: Syncobj | null;
  value: bigint;
  addr: bigint;
}

type Handlers = Omit<FileHandlers, 'close'>;

function lowestFree(map: Map<number, unknown>): number {
  let id = 1;
  while (map.has(id)) id++;
  return id;
}

export class DrmFile implements KernelFile {
  readonly handlers: Handlers;
  private readonly handles = new Map<number, XeBo>();
  /** drm_prime_file_private: dma-buf -> handle, each entry holding a dma-buf reference */
  private readonly prime = new Map<DmaBufObject, number>();
  private readonly syncobjs = new Map<number, Syncobj>();
  private readonly vms = new Map<number, XeVm>();
  private readonly queues = new Map<number, ExecQueue>();
  private released = false;

  constructor(
    private readonly dev: XeDevice,
    readonly path: string,
    readonly flags: number,
    readonly clientId: number,
  ) {
    this.handlers = this.makeHandlers();
  }

  counts(): { vms: number; execQueues: number; syncobjs: number } {
    return { vms: this.vms.size, execQueues: this.queues.size, syncobjs: this.syncobjs.size };
  }

  /** drm_show_fdinfo: the DRM common keys. */
  fdinfo(): string[] {
    return [`drm-driver:\t${DRIVER.name}`, `drm-client-id:\t${this.clientId}`, `drm-pdev:\t${this.dev.pf.bdf}`];
  }

  /**
   * drm_file_free: syncobjs, then GEM handles (drm_gem_release), then xe's
   * postclose (xe_file_close): exec queues killed, VMs closed.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.syncobjs.clear();
    for (const h of [...this.handles.keys()]) this.closeHandle(h);
    this.queues.clear();
    for (const vm of this.vms.values()) vm.close();
    this.vms.clear();
    this.dev.fileClosed(this);
  }

  // ---------------------------------------------------------------- plumbing

  private run<T>(request: string, fn: () => T, syscall = 'ioctl'): T {
    try {
      // drm_ioctl(): an unplugged device answers every ioctl with ENODEV.
      if (this.dev.unplugged) kfail('ENODEV', 'the device was unbound');
      return fn();
    } catch (e) {
      throw asIoctlError(e, request, this.path, syscall);
    }
  }

  private async runAsync<T>(request: string, fn: () => Promise<T>): Promise<T> {
    try {
      if (this.dev.unplugged) kfail('ENODEV', 'the device was unbound');
      return await fn();
    } catch (e) {
      throw asIoctlError(e, request, this.path);
    }
  }

  private newHandle(bo: XeBo): number {
    const h = lowestFree(this.handles);
    this.handles.set(h, bo);
    bo.handleOpened();
    return h;
  }

  private closeHandle(handle: number): boolean {
    const bo = this.handles.get(handle);
    if (!bo) return false;
    this.handles.delete(handle);
    // drm_gem_remove_prime_handles
    for (const [buf, h] of this.prime) {
      if (h === handle) {
        this.prime.delete(buf);
        this.dev.platform.dmabuf.unref(buf);
      }
    }
    bo.handleClosed();
    return true;
  }

  private addPrime(buf: DmaBufObject, handle: number): void {
    if (this.prime.has(buf)) return;
    this.prime.set(buf, handle);
    this.dev.platform.dmabuf.ref(buf);
  }

  private vm(id: number): XeVm | undefined {
    return this.vms.get(id);
  }

  // ---------------------------------------------------------------- ioctls

  private makeHandlers(): Handlers {
    return {
      drmVersion: () => this.run('DRM_IOCTL_VERSION', () => this.version()),
      drmGetCap: (cap) =>
        this.run('DRM_IOCTL_GET_CAP', () => DRM_CAPS.get(cap) ?? kfail('EINVAL', `capability ${cap}`)),
      drmPrimeFdToHandle: (fd) => this.run('DRM_IOCTL_PRIME_FD_TO_HANDLE', () => this.fdToHandle(fd)),
      drmPrimeHandleToFd: (handle, flags) =>
        this.run('DRM_IOCTL_PRIME_HANDLE_TO_FD', () => this.handleToFd(handle, flags)),
      drmGemClose: (handle) =>
        this.run('DRM_IOCTL_GEM_CLOSE', () => {
          if (!this.closeHandle(handle)) kfail('EINVAL', `no GEM handle ${handle}`);
        }),
      drmSyncobjCreate: (flags) => this.run('DRM_IOCTL_SYNCOBJ_CREATE', () => this.syncobjCreate(flags)),
      drmSyncobjDestroy: (handle) =>
        this.run('DRM_IOCTL_SYNCOBJ_DESTROY', () => {
          if (!this.syncobjs.delete(handle)) kfail('EINVAL', `no syncobj ${handle}`);
        }),
      drmSyncobjWait: (handles, timeoutNs, flags) =>
        this.runAsync('DRM_IOCTL_SYNCOBJ_WAIT', () => this.syncobjWait(handles, timeoutNs, flags)),
      xeDeviceQuerySize: (query) => this.run('DRM_IOCTL_XE_DEVICE_QUERY', () => this.query(query, 0).length),
      xeDeviceQuery: (query, size) => this.run('DRM_IOCTL_XE_DEVICE_QUERY', () => this.query(query, size)),
      xeGemCreate: (args) => this.run('DRM_IOCTL_XE_GEM_CREATE', () => this.gemCreate(args)),
      xeGemMmapOffset: (handle, flags) =>
        this.run('DRM_IOCTL_XE_GEM_MMAP_OFFSET', () => this.mmapOffset(handle, flags ?? 0)),
      xeVmCreate: (flags) => this.run('DRM_IOCTL_XE_VM_CREATE', () => this.vmCreate(flags)),
      xeVmDestroy: (id) => this.run('DRM_IOCTL_XE_VM_DESTROY', () => this.vmDestroy(id)),
      xeVmBind: (args) => this.run('DRM_IOCTL_XE_VM_BIND', () => this.vmBind(args)),
      xeExecQueueCreate: (args) => this.run('DRM_IOCTL_XE_EXEC_QUEUE_CREATE', () => this.queueCreate(args)),
      xeExecQueueDestroy: (id) =>
        this.run('DRM_IOCTL_XE_EXEC_QUEUE_DESTROY', () => {
          const q = this.queues.get(id);
          if (!q) kfail('ENOENT', `no exec queue ${id}`);
          this.queues.delete(id);
          if (q.vm) q.vm.queues--;
        }),
      xeExec: (args) => this.run('DRM_IOCTL_XE_EXEC', () => this.exec(args)),
      xeWaitUserFence: (args) => this.runAsync('DRM_IOCTL_XE_WAIT_USER_FENCE', () => this.waitUserFence(args)),
      mmap: (offset, length, prot) => this.run('', () => this.mmap(offset, length, prot), 'mmap'),
    };
  }

  private version(): DrmVersion {
    return {
      major: DRIVER.major,
      minor: DRIVER.minor,
      patchlevel: DRIVER.patchlevel,
      name: DRIVER.name,
      date: DRIVER.date,
      desc: DRIVER.desc,
    };
  }

  // ---------------------------------------------------------------- PRIME

  /** drm_gem_prime_fd_to_handle + xe_gem_prime_import. */
  private fdToHandle(fd: number): number {
    const k = this.dev.platform.kernel;
    k.trace('drm_gem_prime_fd_to_handle', 'entry', {
      arg1: this.dev.ptr(this.dev),
      arg2: this.dev.ptr(this),
      arg3: fd,
    });
    try {
      const handle = this.fdToHandleLocked(fd);
      k.trace('drm_gem_prime_fd_to_handle', 'return', { retval: 0 });
      return handle;
    } catch (e) {
      const errno = errnoOf(e);
      if (errno !== null) k.trace('drm_gem_prime_fd_to_handle', 'return', { retval: -errno });
      throw e;
    }
  }

  private fdToHandleLocked(fd: number): number {
    const core = this.dev.platform.dmabuf;
    const buf = core.get(fd);
    const cached = this.prime.get(buf);
    if (cached !== undefined) return cached;
    let bo = this.dev.exports.get(buf);
    if (bo && !bo.destroyed) {
      // Our own export, same device: the GEM object itself comes back.
      if (!bo.dmabuf) bo.setExported(buf);
    } else {
      bo = this.importForeign(buf);
    }
    const handle = this.newHandle(bo);
    this.addPrime(buf, handle);
    return handle;
  }

  private importForeign(buf: DmaBufObject): XeBo {
    const k = this.dev.platform.kernel;
    k.trace('xe_gem_prime_import', 'entry', { arg1: this.dev.ptr(this.dev), arg2: this.dev.ptr(buf) });
    const size = toSafe(buf.size, 'dma-buf size');
    const bo = new XeBo(this.dev, { size, placement: 0, flags: 0, cpuCaching: 0, vm: null });
    try {
      bo.imported = new ImportedBo(this.dev, bo, buf);
    } catch (e) {
      // the half-made object is freed (xe_gem_prime_import's out_err)
      bo.get();
      bo.put();
      failedImportTeardown(this.dev.platform, buf);
      const errno = errnoOf(e);
      if (errno !== null) k.trace('xe_gem_prime_import', 'return', { retval: BigInt.asUintN(64, BigInt(-errno)) });
      throw e;
    }
    bo.dmabuf = buf;
    k.trace('xe_gem_prime_import', 'return', { retval: this.dev.ptr(bo) });
    return bo;
  }

  /** drm_prime_handle_to_fd_ioctl + drm_gem_prime_handle_to_fd + xe_gem_prime_export. */
  private handleToFd(handle: number, flags: number): number {
    if (flags & ~(DRM.CLOEXEC | DRM.RDWR)) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    const bo = this.handles.get(handle);
    if (!bo) kfail('ENOENT', `no GEM handle ${handle}`);
    const core = this.dev.platform.dmabuf;
    let buf = bo.imported ? bo.imported.dmabuf : bo.dmabuf;
    let fd: number;
    if (buf) {
      fd = core.fd(buf, flags);
    } else {
      // xe_gem_prime_export: a VM-private BO shares the VM's reservation object.
      if (bo.vm) kfail('EPERM', 'VM-private BO');
      const made = core.export('xe', BigInt(bo.size), bo.exporterOps(), flags);
      buf = made.dmabuf;
      fd = made.fd;
      bo.get(); // the dma-buf holds the GEM object until its release
      this.dev.exports.set(buf, bo);
      bo.setExported(buf);
    }
    this.addPrime(buf, handle);
    return fd;
  }

  // ---------------------------------------------------------------- syncobj

  private syncobjCreate(flags: number): number {
    if (flags & ~DRM.SYNCOBJ_CREATE_SIGNALED) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    const h = lowestFree(this.syncobjs);
    this.syncobjs.set(h, new Syncobj((flags & DRM.SYNCOBJ_CREATE_SIGNALED) !== 0));
    return h;
  }

  /** drm_syncobj_wait_ioctl / drm_syncobj_array_wait_timeout; the timeout is absolute CLOCK_MONOTONIC. */
  private syncobjWait(handles: number[], timeoutNs: bigint, flags: number): Promise<number> {
    if (flags & ~SYNCOBJ_WAIT_FLAGS) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    if (handles.length === 0) kfail('EINVAL', 'count_handles is 0');
    const objs = handles.map((h) => this.syncobjs.get(h) ?? kfail('ENOENT', `no syncobj ${h}`));
    const waitAll = (flags & DRM.SYNCOBJ_WAIT_FLAGS_WAIT_ALL) !== 0;
    if (!(flags & DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT) && objs.some((o) => !o.fence))
      kfail('EINVAL', 'a syncobj has no fence');
    const ready = (): number => {
      if (waitAll) return objs.every((o) => o.fence) ? 0 : -1;
      return objs.findIndex((o) => o.fence);
    };
    const now = ready();
    if (now >= 0) return Promise.resolve(now);
    const left = timeoutNs - monotonicNs();
    if (left <= 0n) kfail('ETIME', 'timed out');
    return new Promise<number>((resolve, reject) => {
      const offs: (() => void)[] = [];
      const done = (): void => offs.forEach((f) => f());
      const check = (): void => {
        const i = ready();
        if (i >= 0) {
          done();
          resolve(i);
        }
      };
      for (const o of objs) offs.push(o.onChange(check));
      offs.push(
        sleepNs(left, () => {
          done();
          reject(new KernelError(Errno.ETIME, 'timed out'));
        }),
      );
    });
  }

  /** xe_sync_entry_parse. */
  private parseSyncs(
    syncs: readonly XeSync[],
    opts: { exec: boolean; lrMode: boolean; disallowUserFence: boolean },
  ): ParsedSync[] {
    if (syncs.length > MAX_SYNCS) kfail('EINVAL', `${syncs.length} syncs`);
    const out: ParsedSync[] = [];
    for (const s of syncs) {
      if (s.flags & ~XE.SYNC_FLAG_SIGNAL) kfail('EINVAL', `sync flags 0x${s.flags.toString(16)}`);
      const signal = (s.flags & XE.SYNC_FLAG_SIGNAL) !== 0;
      const value = s.timelineValue ?? 0n;
      switch (s.type) {
        case XE.SYNC_TYPE_SYNCOBJ:
        case XE.SYNC_TYPE_TIMELINE_SYNCOBJ: {
          const timeline = s.type === XE.SYNC_TYPE_TIMELINE_SYNCOBJ;
          if (opts.lrMode && signal) kfail('EOPNOTSUPP', 'syncobj signal in LR mode');
          if (timeline && value === 0n) kfail('EINVAL', 'timeline value 0');
          const obj = this.syncobjs.get(s.handle ?? 0);
          if (!obj) kfail('ENOENT', `no syncobj ${s.handle ?? 0}`);
          if (!signal) {
            const f = timeline ? obj.pointFence(value) : obj.fence;
            if (!f || f === 'einval') kfail('EINVAL', 'in-syncobj has no fence');
          }
          out.push({ kind: timeline ? 'timeline' : 'syncobj', signal, syncobj: obj, value, addr: 0n });
          break;
        }
        case XE.SYNC_TYPE_USER_FENCE: {
          if (opts.disallowUserFence) kfail('EOPNOTSUPP', 'user fence without binds');
          if (!signal) kfail('EOPNOTSUPP', 'user fence without SIGNAL');
          const addr = s.addr ?? 0n;
          if (addr & 7n) kfail('EINVAL', 'user fence address not qword aligned');
          out.push({ kind: 'ufence', signal, syncobj: null, value, addr });
          break;
        }
        default:
          kfail('EINVAL', `sync type ${s.type}`);
      }
    }
    if (out.filter((s) => s.kind === 'ufence').length > 1) kfail('EINVAL', 'more than one user fence');
    return out;
  }

  /** xe_sync_entry_signal for syncobjs; user fences are written by the caller (CPU or GPU side). */
  private signalSyncobjs(syncs: readonly ParsedSync[], fence: Fence): void {
    for (const s of syncs) {
      if (!s.signal || !s.syncobj) continue;
      if (s.kind === 'timeline') s.syncobj.addPoint(s.value, fence);
      else s.syncobj.replace(fence);
    }
  }

  /** user_fence_worker: copy_to_user of the value into the process (VM_BIND user fences). */
  private writeUserFence(addr: bigint, value: bigint): void {
    const where = this.dev.resolveUser(addr, 8);
    if (!where) {
      this.dev.platform.kernel.warn('user_fence_worker+0x9e/0xc0 [xe]', 'drivers/gpu/drm/xe/xe_sync.c:85');
      this.dev.wakeUserFenceWaiters();
      return;
    }
    const v = new Uint8Array(8);
    new DataView(v.buffer).setBigUint64(0, value, true);
    where.mapping.kernelWrite(where.offset, v);
  }

  // ---------------------------------------------------------------- queries

  private query(query: number, size: number): Uint8Array {
    if (query >= QUERY_COUNT || query < 0) kfail('EINVAL', `query ${query}`);
    const blob = this.queryBlob(query);
    if (size === 0) return blob;
    if (size !== blob.length) kfail('EINVAL', `query ${query} is ${blob.length} bytes, not ${size}`);
    return blob;
  }

  private queryBlob(query: number): Uint8Array {
    const dev = this.dev;
    switch (query) {
      case XE.QUERY_ENGINES:
        return encodeEngines(
          ENGINES.map((e) => ({ engineClass: e.engineClass, engineInstance: e.instance, gtId: e.gtId })),
        );
      case XE.QUERY_MEM_REGIONS: {
        let sysUsed = 0n;
        for (const bo of dev.liveBos) if (bo.memory?.where === 'system') sysUsed += BigInt(bo.size);
        // Everything the allocators handed out: the PF's reservation, BOs, the VFs' LMEM (not only what this file sees).
        const vramUsed = dev.xePf.vramUsed();
        const vramSize = dev.xePf.vram.size;
        const bar = dev.pf.bars.find((b) => b.index === LMEM_BAR);
        const visible = bar && bar.size < vramSize ? bar.size : vramSize;
        return encodeMemRegions([
          // root is perfmon_capable(): `used` is filled in
          {
            memClass: XE.MEM_REGION_CLASS_SYSMEM,
            instance: REGION_SYSMEM,
            minPageSize: PAGE,
            totalSize: dev.platform.ram.size,
            used: sysUsed,
            cpuVisibleSize: 0n,
            cpuVisibleUsed: 0n,
          },
          {
            memClass: XE.MEM_REGION_CLASS_VRAM,
            instance: REGION_VRAM0,
            minPageSize: VRAM_MIN_PAGE,
            totalSize: vramSize,
            used: vramUsed,
            cpuVisibleSize: visible,
            cpuVisibleUsed: vramUsed < visible ? vramUsed : visible,
          },
        ]);
      }
      case XE.QUERY_CONFIG:
        return encodeConfig([
          BigInt(dev.pf.device),
          BigInt(XE.CONFIG_FLAG_HAS_VRAM),
          BigInt(VRAM_MIN_PAGE),
          BigInt(VA_BITS),
          BigInt(MAX_EXEC_QUEUE_PRIORITY),
        ]);
      case XE.QUERY_GT_LIST:
        return encodeGtList(
          GTS.map((g) => {
            // dGPU: near = the tile's VRAM (bit tile+1), far = the rest of mem_region_mask (xe_query.c)
            const near = BigInt(1 << (g.tileId + 1));
            return {
              type: g.type,
              tileId: g.tileId,
              gtId: g.gtId,
              referenceClock: g.referenceClock,
              nearMemRegions: near,
              farMemRegions: BigInt(MEM_REGION_MASK) ^ near,
              ipVerMajor: g.ipMajor,
              ipVerMinor: g.ipMinor,
              ipVerRev: g.ipRev,
            };
          }),
        );
      default:
        // HWCONFIG, GT_TOPOLOGY, ENGINE_CYCLES, UC_FW_VERSION, OA_UNITS, PXP_STATUS, EU_STALL:
        // the model has no GuC, fuses, OA units or PXP behind them; xe answers ENODEV
        // where the hardware piece is missing (e.g. query_pxp_status on a dGPU).
        kfail('ENODEV', `query ${query} is not modelled`);
    }
  }

  // ---------------------------------------------------------------- GEM

  /** xe_gem_create_ioctl + xe_bo_create_user. */
  private gemCreate(args: XeGemCreate): number {
    const placement = args.placement;
    const flags = args.flags ?? 0;
    const cpuCaching = args.cpuCaching ?? 0;
    const size = args.size;
    if (placement & ~MEM_REGION_MASK || placement === 0) kfail('EINVAL', `placement 0x${placement.toString(16)}`);
    if (flags & ~GEM_CREATE_FLAGS) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    if (size === 0n) kfail('EINVAL', 'size 0');
    if (size < 0n || size > U64_MAX) kfail('EINVAL', 'size beyond SIZE_MAX');
    if (size & BigInt(PAGE - 1)) kfail('EINVAL', 'size not page aligned');
    const wantVram = (placement & (1 << REGION_VRAM0)) !== 0;
    const wantSystem = (placement & (1 << REGION_SYSMEM)) !== 0;
    if (flags & XE.GEM_CREATE_FLAG_NEEDS_VISIBLE_VRAM && !wantVram) kfail('EINVAL', 'NEEDS_VISIBLE_VRAM without VRAM');
    if (cpuCaching === 0 || cpuCaching > XE.GEM_CPU_CACHING_WC) kfail('EINVAL', `cpu_caching ${cpuCaching}`);
    if (wantVram && cpuCaching !== XE.GEM_CPU_CACHING_WC) kfail('EINVAL', 'VRAM placement needs cpu_caching WC');
    if (flags & XE.GEM_CREATE_FLAG_SCANOUT && cpuCaching === XE.GEM_CPU_CACHING_WB) kfail('EINVAL', 'scanout needs WC');
    let vm: XeVm | null = null;
    if (args.vmId) {
      vm = this.vm(args.vmId) ?? null;
      if (!vm) kfail('ENOENT', `no VM ${args.vmId}`);
    }
    // __xe_bo_create_locked: with XE_VRAM_FLAGS_NEED64K a VRAM-capable user BO must be 64K sized.
    if (wantVram && size % BigInt(VRAM_MIN_PAGE)) kfail('EINVAL', 'VRAM BO size not a multiple of 64K');
    if (size > BigInt(Number.MAX_SAFE_INTEGER))
      kfail(wantVram && !wantSystem ? 'ENOSPC' : 'ENOMEM', 'larger than any memory');
    const bo = new XeBo(this.dev, { size: Number(size), placement, flags, cpuCaching, vm });
    try {
      bo.allocate(wantVram, wantSystem);
    } catch (e) {
      bo.get();
      bo.put();
      throw e;
    }
    return this.newHandle(bo);
  }

  /** xe_gem_mmap_offset_ioctl. */
  private mmapOffset(handle: number, flags: number): bigint {
    if (flags & ~1) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    if (flags & 1) {
      // DRM_XE_MMAP_OFFSET_FLAG_PCI_BARRIER: a fixed offset, no object.
      if (handle) kfail('EINVAL', 'PCI_BARRIER with a handle');
      return BigInt(PCI_BARRIER_MMAP_OFFSET);
    }
    const bo = this.handles.get(handle);
    if (!bo) kfail('ENOENT', `no GEM handle ${handle}`);
    return BigInt(bo.mmapStart);
  }

  /** mmap(2) on the DRM fd: drm_gem_mmap, or xe's PCI barrier page. */
  private mmap(offset: bigint, length: number, prot: number): Mapping {
    if (!Number.isInteger(length) || length <= 0) kfail('EINVAL', `length ${length}`);
    if (offset < 0n || offset % BigInt(PAGE)) kfail('EINVAL', 'offset not page aligned');
    if (offset === BigInt(PCI_BARRIER_MMAP_OFFSET)) {
      // xe_pci_barrier_mmap: one write-only page
      if (length > PAGE) kfail('EINVAL', 'barrier page is 4K');
      if (prot & (PROT.READ | 4)) kfail('EINVAL', 'barrier page is write-only');
      return this.addMapping(new XeMapping(this.dev, null, 0, length, true, this.dev.allocCpuAddress(length)));
    }
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) kfail('EINVAL', 'no object at this offset');
    const bo = this.dev.mmapLookup(Number(offset), length);
    if (!bo) kfail('EINVAL', 'no object at this offset');
    // drm_vma_node_is_allowed: only files holding a handle may map the object
    if (![...this.handles.values()].includes(bo)) kfail('EACCES', 'object not opened by this file');
    // drm_gem_prime_mmap forwards imports to dma_buf_mmap; vfio's dma-buf has no mmap (docs/kernel.md §3.3)
    if (bo.imported) kfail('EINVAL', 'imported dma-buf');
    return this.addMapping(
      new XeMapping(
        this.dev,
        bo,
        Number(offset) - bo.mmapStart,
        length,
        (prot & PROT.WRITE) !== 0,
        this.dev.allocCpuAddress(length),
      ),
    );
  }

  private addMapping(m: XeMapping): XeMapping {
    this.dev.addMapping(m);
    return m;
  }

  // ---------------------------------------------------------------- VMs

  /** xe_vm_create_ioctl. */
  private vmCreate(flags: number): number {
    if (flags & ~VM_CREATE_FLAGS) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    // SCRATCH_PAGE with FAULT_MODE is allowed: Xe2 sets needs_scratch.
    if (flags & XE.VM_CREATE_FLAG_FAULT_MODE && !(flags & XE.VM_CREATE_FLAG_LR_MODE))
      kfail('EINVAL', 'FAULT_MODE needs LR_MODE');
    const id = lowestFree(this.vms);
    this.vms.set(id, new XeVm(id, flags, this.dev.nextAsid()));
    return id;
  }

  /** xe_vm_destroy_ioctl. */
  private vmDestroy(id: number): void {
    const vm = this.vms.get(id);
    if (!vm) kfail('ENOENT', `no VM ${id}`);
    // vm->preempt.num_exec_queues: compute queues of a preempt-fence (LR, not fault) VM
    if (vm.lrMode && !vm.faultMode && vm.queues > 0) kfail('EBUSY', 'VM has exec queues');
    this.vms.delete(id);
    vm.close();
  }

  /** vm_bind_ioctl_check_args, per op. */
  private checkBindOp(vm: XeVm, b: XeBindOp): void {
    const flags = b.flags ?? 0;
    const isNull = (flags & BIND_NULL) !== 0;
    const mirror = (flags & BIND_CPU_ADDR_MIRROR) !== 0;
    const objOffset = b.op === XE.VM_BIND_OP_MAP_USERPTR ? (b.userptr ?? b.objOffset) : b.objOffset;
    const prefetch = b.prefetchMemRegionInstance ?? 0;
    if (mirror && !vm.faultMode) kfail('EINVAL', 'CPU_ADDR_MIRROR outside fault mode');
    if (b.patIndex < 0 || b.patIndex >= PAT_ENTRIES) kfail('EINVAL', `pat_index ${b.patIndex} out of range`);
    const coh = patCoherency(b.patIndex);
    if (coh === COH_RESERVED) kfail('EINVAL', `pat_index ${b.patIndex} is reserved`);
    const bad =
      b.op < 0 ||
      b.op > XE.VM_BIND_OP_PREFETCH ||
      (flags & ~VM_BIND_FLAGS) !== 0 ||
      (b.obj !== 0 && (isNull || mirror)) ||
      (objOffset !== 0n && (isNull || mirror)) ||
      (b.op !== XE.VM_BIND_OP_MAP && (isNull || mirror)) ||
      (b.obj === 0 && b.op === XE.VM_BIND_OP_MAP && !isNull && !mirror) ||
      (b.obj === 0 && b.op === XE.VM_BIND_OP_UNMAP_ALL) ||
      (b.addr !== 0n && b.op === XE.VM_BIND_OP_UNMAP_ALL) ||
      (b.range !== 0n && b.op === XE.VM_BIND_OP_UNMAP_ALL) ||
      (b.obj !== 0 && b.op === XE.VM_BIND_OP_MAP_USERPTR) ||
      (coh === COH_NONE && b.op === XE.VM_BIND_OP_MAP_USERPTR) ||
      (b.obj !== 0 && b.op === XE.VM_BIND_OP_PREFETCH) ||
      (prefetch !== 0 && b.op !== XE.VM_BIND_OP_PREFETCH) ||
      (prefetch !== CONSULT_MEM_ADVISE_PREF_LOC && (prefetch >= 32 || !((1 << prefetch) & MEM_REGION_MASK))) ||
      (b.obj !== 0 && b.op === XE.VM_BIND_OP_UNMAP) ||
      ((flags & BIND_MADVISE_AUTORESET) !== 0 && (!mirror || b.op !== XE.VM_BIND_OP_MAP));
    if (bad) kfail('EINVAL', `bind op ${b.op} with obj ${b.obj}, flags 0x${flags.toString(16)}`);
    const page = BigInt(PAGE - 1);
    if (objOffset & page || b.addr & page || b.range & page || (b.range === 0n && b.op !== XE.VM_BIND_OP_UNMAP_ALL)) {
      kfail('EINVAL', 'obj_offset, addr and range must be page aligned and range non-zero');
    }
  }

  /** xe_vm_bind_ioctl_validate_bo: bounds, 64K granularity, PAT rules (docs/kernel.md §7). */
  private validateBindBo(bo: XeBo, b: XeBindOp): void {
    const size = BigInt(bo.size);
    if (b.range > size || b.objOffset > size - b.range) kfail('EINVAL', 'range or obj_offset beyond the BO');
    if (bo.needs64k) {
      const m = BigInt(VRAM_MIN_PAGE - 1);
      if (b.objOffset & m || b.addr & m || b.range & m) kfail('EINVAL', 'VRAM BO binds need 64K alignment');
    }
    const coh = patCoherency(b.patIndex);
    if (bo.cpuCaching) {
      if (coh === COH_NONE && bo.cpuCaching === XE.GEM_CPU_CACHING_WB) kfail('EINVAL', 'non-coherent PAT for a WB BO');
    } else if (coh === COH_NONE) {
      // an import from another device: 1-way or 2-way coherency required
      kfail('EINVAL', `pat_index ${b.patIndex} is not coherent, imports need 1-way or 2-way`);
    }
    if (bo.imported && patCompressed(b.patIndex)) kfail('EINVAL', `pat_index ${b.patIndex} enables compression`);
  }

  /** xe_vm_bind_ioctl: checks, lookups, sync parsing, then the ops (validating BOs) and the fences. */
  private vmBind(args: XeVmBind): void {
    const vm = this.vm(args.vmId);
    if (!vm) kfail('EINVAL', `no VM ${args.vmId}`);
    // struct drm_xe_vm_bind_op as the kernel reads it: u64/u32/u16 fields, whatever JS passed
    const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
    const binds: XeBindOp[] = args.binds.map((b) => ({
      obj: b.obj >>> 0,
      patIndex: b.patIndex & 0xffff,
      objOffset: u64(b.objOffset),
      range: u64(b.range),
      addr: u64(b.addr),
      op: b.op >>> 0,
      flags: (b.flags ?? 0) >>> 0,
      ...(b.userptr !== undefined ? { userptr: u64(b.userptr) } : {}),
      prefetchMemRegionInstance: (b.prefetchMemRegionInstance ?? 0) >>> 0,
    }));
    for (const b of binds) this.checkBindOp(vm, b);
    if (args.execQueueId) {
      const q = this.queues.get(args.execQueueId);
      if (!q) kfail('ENOENT', `no exec queue ${args.execQueueId}`);
      if (!q.isBindQueue) kfail('EINVAL', 'not a VM_BIND queue');
    }
    if (vm.closed) kfail('ENOENT', 'VM closed');
    const vmSize = BigInt(VM_SIZE);
    for (const b of binds) if (b.range > vmSize || b.addr > vmSize - b.range) kfail('EINVAL', 'beyond the VM');
    const bos: (XeBo | null)[] = binds.map((b) => {
      if (!b.obj) return null;
      const bo = this.handles.get(b.obj);
      if (!bo) kfail('ENOENT', `no GEM handle ${b.obj}`);
      this.validateBindBo(bo, b);
      return bo;
    });
    const syncs = this.parseSyncs(args.syncs ?? [], {
      exec: false,
      lrMode: vm.lrMode,
      disallowUserFence: binds.length === 0,
    });
    if (binds.length > 0) this.applyBinds(vm, binds, bos);
    // fences: the bind completed inside the ioctl
    const fence = new Fence();
    this.signalSyncobjs(syncs, fence);
    for (const s of syncs) if (s.kind === 'ufence') this.writeUserFence(s.addr, s.value);
    this.dev.wakeUserFenceWaiters();
  }

  private applyBinds(vm: XeVm, binds: readonly XeBindOp[], bos: readonly (XeBo | null)[]): void {
    let list: Vma[] = vm.vmas;
    const removed: Vma[] = [];
    const added: Vma[] = [];
    const toValidate = new Set<XeBo>();
    const push = (p: VmaPlan): void => {
      list = p.vmas;
      removed.push(...p.removed);
      added.push(...p.added);
    };
    binds.forEach((b, i) => {
      const flags = b.flags ?? 0;
      const start = Number(b.addr);
      const end = start + Number(b.range);
      const bo = bos[i] ?? null;
      switch (b.op) {
        case XE.VM_BIND_OP_MAP: {
          push(
            vm.planMap(
              {
                start,
                end,
                bo,
                objOffset: Number(b.objOffset),
                patIndex: b.patIndex,
                readOnly: (flags & XE.VM_BIND_FLAG_READONLY) !== 0,
                isNull: (flags & BIND_NULL) !== 0,
                userptr: null,
              },
              list,
            ),
          );
          // vma_lock_and_validate: at bind time unless a fault-mode VM defers it to the GPU fault
          if (bo?.imported && (!vm.faultMode || flags & XE.VM_BIND_FLAG_IMMEDIATE)) toValidate.add(bo);
          break;
        }
        case XE.VM_BIND_OP_MAP_USERPTR: {
          const ptr = b.userptr ?? b.objOffset;
          const where = this.dev.resolveUser(ptr, Number(b.range));
          // hmm_range_fault: only pages of system memory can be pinned (not an I/O mapping of VRAM)
          if (where?.mapping.bo?.memory?.where !== 'system')
            kfail('EFAULT', 'userptr range is not system memory the model can pin');
          push(
            vm.planMap(
              {
                start,
                end,
                bo: null,
                objOffset: 0,
                patIndex: b.patIndex,
                readOnly: (flags & XE.VM_BIND_FLAG_READONLY) !== 0,
                isNull: false,
                userptr: { mapping: where.mapping, offset: where.offset },
              },
              list,
            ),
          );
          break;
        }
        case XE.VM_BIND_OP_UNMAP:
          push(vm.planUnmap(start, end, list));
          break;
        case XE.VM_BIND_OP_UNMAP_ALL:
          push(vm.planUnmapAll(bo!, list));
          break;
        case XE.VM_BIND_OP_PREFETCH:
          for (const v of list) if (v.start < end && v.end > start && v.bo?.imported) toValidate.add(v.bo);
          break;
      }
    });
    // vm_bind_ioctl_ops_execute: validation may fail (ENODEV after a revoke, EINVAL from P2P, ...): nothing is committed then.
    for (const bo of toValidate) bo.imported!.validate();
    vm.commit({ vmas: list, removed, added });
  }

  // ---------------------------------------------------------------- exec queues

  /** xe_exec_queue_create_ioctl with calc_validate_logical_mask. */
  private queueCreate(args: XeExecQueueCreate): number {
    const flags = args.flags ?? 0;
    if (flags & ~EXEC_QUEUE_FLAGS) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    const width = args.width;
    const placements = width > 0 ? Math.floor(args.instances.length / width) : 0;
    const len = width * placements;
    if (!len || len > HW_ENGINE_MAX_INSTANCE) kfail('EINVAL', `width ${width} x ${placements} placements`);
    const eci = args.instances.slice(0, len);
    if (!GTS.some((g) => g.gtId === eci[0]!.gtId)) kfail('EINVAL', `no GT ${eci[0]!.gtId}`);
    const id = lowestFree(this.queues);
    if (eci[0]!.engineClass === XE.ENGINE_CLASS_VM_BIND) {
      if (width !== 1 || placements !== 1 || eci[0]!.engineInstance !== 0)
        kfail('EINVAL', 'a VM_BIND queue is one instance 0');
      this.queues.set(id, new ExecQueue(id, null, 1, BIND_ENGINE, this.dev.nextGucId()));
      return id;
    }
    let prevMask = 0;
    for (let i = 0; i < width; i++) {
      let mask = 0;
      for (let j = 0; j < placements; j++) {
        const e = eci[j * width + i]!;
        const hwe = lookupEngine(e.engineClass, e.engineInstance, e.gtId);
        if (!hwe) kfail('EINVAL', `no engine class ${e.engineClass} instance ${e.engineInstance} on GT ${e.gtId}`);
        if (e.gtId !== eci[0]!.gtId || e.engineClass !== eci[0]!.engineClass)
          kfail('EINVAL', 'placements mix GTs or classes');
        mask |= 1 << e.engineInstance;
      }
      // parallel submissions must be logically contiguous
      if (i && mask !== prevMask << 1) kfail('EINVAL', 'parallel placements are not contiguous');
      prevMask = mask;
    }
    const engine = lookupEngine(eci[0]!.engineClass, eci[0]!.engineInstance, eci[0]!.gtId)!;
    const vm = this.vm(args.vmId);
    if (!vm) kfail('ENOENT', `no VM ${args.vmId}`);
    if (vm.closed) kfail('ENOENT', 'VM closed');
    this.queues.set(id, new ExecQueue(id, vm, width, engine, this.dev.nextGucId()));
    vm.queues++;
    return id;
  }

  /** xe_exec_ioctl: checks, syncs, revalidation of evicted imports, then the job. */
  private exec(args: XeExec): void {
    const q = this.queues.get(args.execQueueId);
    if (!q) kfail('ENOENT', `no exec queue ${args.execQueueId}`);
    if (q.isBindQueue) kfail('EINVAL', 'exec on a VM_BIND queue');
    const nbb = args.numBatchBuffer ?? 1;
    if (nbb && q.width !== nbb) kfail('EINVAL', `num_batch_buffer ${nbb} != width ${q.width}`);
    if (q.reset) kfail('ECANCELED', 'exec queue was reset');
    const vm = q.vm!;
    const syncs = this.parseSyncs(args.syncs ?? [], { exec: true, lrMode: vm.lrMode, disallowUserFence: false });
    let addresses = [args.address];
    if (q.width > 1) {
      // parallel queue: `address` points at width batch addresses in user memory
      const where = this.dev.resolveUser(args.address, 8 * q.width);
      if (!where) kfail('EFAULT', 'batch address array');
      const raw = where.mapping.kernelRead(where.offset, 8 * q.width);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      addresses = Array.from({ length: q.width }, (_, i) => dv.getBigUint64(8 * i, true));
    }
    if (nbb === 0) {
      // no batch: the syncs are signalled with the queue's last fence (all fences are signalled here)
      this.signalSyncobjs(syncs, STUB_FENCE);
      return;
    }
    if (vm.closed) {
      this.dev.log(LogLevel.WARNING, '[drm] Trying to schedule after vm is closed or banned');
      kfail('ECANCELED', 'VM closed');
    }
    // xe_vm_validate_rebind: BOs evicted since their bind are mapped again first
    if (!vm.faultMode) for (const bo of vm.importedBos()) bo.imported!.validate();
    const ufence = syncs.find((s) => s.kind === 'ufence');
    let fence: Fence = STUB_FENCE;
    for (const address of addresses) {
      const va = address < BigInt(VM_SIZE) ? Number(address) : VM_SIZE;
      const ufenceVa = ufence ? (ufence.addr < BigInt(VM_SIZE) ? Number(ufence.addr) : VM_SIZE) : 0;
      fence = runJob(this.dev, q, vm, va, ufence ? { va: ufenceVa, value: ufence.value } : null);
      if (fence.error) break;
    }
    this.signalSyncobjs(syncs, fence);
  }

  /** xe_wait_user_fence_ioctl: compare the u64 at a CPU address until it passes, the queue resets, or time runs out. */
  private waitUserFence(args: XeWaitUserFence): Promise<bigint> {
    const flags = args.flags ?? 0;
    if (flags & ~XE.UFENCE_WAIT_FLAG_ABSTIME) kfail('EINVAL', `flags 0x${flags.toString(16)}`);
    if (args.op < 0 || args.op > XE.UFENCE_WAIT_OP_LTE) kfail('EINVAL', `op ${args.op}`);
    if (args.addr & 7n) kfail('EINVAL', 'address not qword aligned');
    let q: ExecQueue | null = null;
    if (args.execQueueId) {
      q = this.queues.get(args.execQueueId) ?? null;
      if (!q) kfail('ENOENT', `no exec queue ${args.execQueueId}`);
    }
    const abs = (flags & XE.UFENCE_WAIT_FLAG_ABSTIME) !== 0;
    const forever = args.timeout < 0n;
    const start = monotonicNs();
    const deadline = forever ? null : abs ? args.timeout : start + args.timeout;
    const remaining = (): bigint => {
      if (abs && !forever) return args.timeout;
      const base = forever ? MAX_SCHEDULE_TIMEOUT : args.timeout;
      const left = base - (monotonicNs() - start);
      return left < 0n ? 0n : left;
    };
    const mask = args.mask & U64_MAX;
    const want = args.value & mask;
    const poll = (): 'passed' | 'reset' | 'pending' => {
      const where = this.dev.resolveUser(args.addr, 8);
      if (!where) kfail('EFAULT', 'user fence address is not mapped');
      const raw = where.mapping.kernelRead(where.offset, 8);
      const got = new DataView(raw.buffer, raw.byteOffset, 8).getBigUint64(0, true) & mask;
      const passed = [got === want, got !== want, got > want, got >= want, got < want, got <= want][args.op]!;
      if (passed) return 'passed';
      if (q?.reset) {
        this.dev.log(LogLevel.INFO, '[drm] exec queue reset detected');
        return 'reset';
      }
      return 'pending';
    };
    const first = poll();
    if (first === 'passed') return Promise.resolve(remaining());
    if (first === 'reset') kfail('EIO', 'exec queue was reset');
    if (deadline !== null && deadline - monotonicNs() <= 0n) kfail('ETIME', 'timed out');
    return new Promise<bigint>((resolve, reject) => {
      const offs: (() => void)[] = [];
      const finish = (): void => offs.forEach((f) => f());
      offs.push(
        this.dev.onUserFenceWake(() => {
          try {
            const r = poll();
            if (r === 'pending') return;
            finish();
            if (r === 'passed') resolve(remaining());
            else reject(new KernelError(Errno.EIO, 'exec queue was reset'));
          } catch (e) {
            finish();
            reject(e);
          }
        }),
      );
      if (deadline !== null) {
        offs.push(
          sleepNs(deadline - monotonicNs(), () => {
            finish();
            reject(new KernelError(Errno.ETIME, 'timed out'));
          }),
        );
      }
    });
  }
}
