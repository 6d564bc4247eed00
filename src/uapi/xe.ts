// The xe DRM device: parsed queries, buffer objects, VMs and binds, exec
// queues, exec and user fences (include/uapi/drm/xe_drm.h; docs/kernel.md §7).
// Each object owns its kernel id and releases it with an idempotent close().
import type { Backend, Mapping, XeBindOp, XeEngineInstance, XeSync, XeWaitUserFence } from '../backend/types.js';
import { O, PROT, XE } from './constants.js';
import { DrmDevice, GemHandle } from './drm.js';
import {
  parseConfig,
  parseEngines,
  parseGtList,
  parseMemRegions,
  type XeConfig,
  type XeEngine,
  type XeGt,
  type XeMemRegion,
} from './xe-query.js';

export class XeDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XeDeviceError';
  }
}

/** A BO from DRM_IOCTL_XE_GEM_CREATE. */
export class XeBo extends GemHandle {
  constructor(
    readonly xe: XeDevice,
    handle: number,
    readonly size: bigint,
  ) {
    super(xe, handle);
  }

  /** DRM_IOCTL_XE_GEM_MMAP_OFFSET: the fake offset to mmap on the DRM fd. */
  mmapOffset(flags = 0): bigint {
    return this.xe.backend.dev.xeGemMmapOffset(this.xe.fd, this.handle, flags);
  }

  /** CPU mapping of the whole BO through its mmap offset. */
  mmap(prot: number = PROT.READ | PROT.WRITE): Mapping {
    return this.xe.backend.dev.mmap(this.xe.fd, this.mmapOffset(), Number(this.size), prot);
  }
}

export interface BindOptions {
  /** PAT index; imported dma-bufs need a coherent one (docs/kernel.md §7: Xe2 WB 2-way = 2, never UC). */
  patIndex: number;
  objOffset?: bigint;
  flags?: number;
  syncs?: XeSync[];
  execQueueId?: number;
}

export class XeVm {
  private open = true;

  constructor(
    readonly xe: XeDevice,
    readonly id: number,
  ) {}

  /** DRM_IOCTL_XE_VM_BIND with any ops (raw). */
  bindOps(binds: XeBindOp[], syncs: XeSync[] = [], execQueueId = 0): void {
    this.xe.backend.dev.xeVmBind(this.xe.fd, { vmId: this.id, execQueueId, binds, syncs });
  }

  /** MAP `range` bytes of a BO (or an imported handle) at GPU VA `addr`. */
  map(bo: GemHandle | number, addr: bigint, range: bigint, options: BindOptions): void {
    const obj = typeof bo === 'number' ? bo : bo.handle;
    this.bindOps(
      [
        {
          obj,
          patIndex: options.patIndex,
          objOffset: options.objOffset ?? 0n,
          range,
          addr,
          op: XE.VM_BIND_OP_MAP,
          flags: options.flags ?? 0,
        },
      ],
      options.syncs ?? [],
      options.execQueueId ?? 0,
    );
  }

  /** UNMAP [addr, addr + range). */
  unmap(addr: bigint, range: bigint, options: { syncs?: XeSync[]; execQueueId?: number } = {}): void {
    this.bindOps(
      [{ obj: 0, patIndex: 0, objOffset: 0n, range, addr, op: XE.VM_BIND_OP_UNMAP, flags: 0 }],
      options.syncs ?? [],
      options.execQueueId ?? 0,
    );
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.xe.backend.dev.xeVmDestroy(this.xe.fd, this.id);
  }
}

export class XeExecQueue {
  private open = true;

  constructor(
    readonly xe: XeDevice,
    readonly id: number,
    readonly width: number,
  ) {}

  /** DRM_IOCTL_XE_EXEC of the batch at GPU VA `address`. */
  exec(address: bigint, syncs: XeSync[] = []): void {
    this.xe.backend.dev.xeExec(this.xe.fd, { execQueueId: this.id, address, syncs, numBatchBuffer: this.width });
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.xe.backend.dev.xeExecQueueDestroy(this.xe.fd, this.id);
  }
}

export class XeDevice extends DrmDevice {
  private cache = new Map<number, Uint8Array>();

  /** Open a DRM node and check that xe drives it (DRM_IOCTL_VERSION name). */
  static override open(backend: Backend, path: string, flags: number = O.RDWR | O.CLOEXEC): XeDevice {
    const fd = backend.dev.open(path, flags);
    const xe = new XeDevice(backend, fd, path);
    let name: string;
    try {
      name = xe.version().name;
    } catch (e) {
      xe.close();
      throw e;
    }
    if (name !== 'xe') {
      xe.close();
      throw new XeDeviceError(`${path} is driven by '${name}', not xe`);
    }
    return xe;
  }

  /** DRM_IOCTL_XE_DEVICE_QUERY: once for the size, once for the bytes. */
  query(query: number): Uint8Array {
    const size = this.backend.dev.xeDeviceQuerySize(this.fd, query);
    return this.backend.dev.xeDeviceQuery(this.fd, query, size);
  }

  private cached(query: number): Uint8Array {
    let bytes = this.cache.get(query);
    if (!bytes) {
      bytes = this.query(query);
      this.cache.set(query, bytes);
    }
    return bytes;
  }

  config(): XeConfig {
    return parseConfig(this.cached(XE.QUERY_CONFIG));
  }

  engines(): XeEngine[] {
    return parseEngines(this.cached(XE.QUERY_ENGINES));
  }

  /** Memory regions; `used` figures are as of the first call (the query is cached: re-query with query()). */
  memRegions(): XeMemRegion[] {
    return parseMemRegions(this.cached(XE.QUERY_MEM_REGIONS));
  }

  gtList(): XeGt[] {
    return parseGtList(this.cached(XE.QUERY_GT_LIST));
  }

  /** gem_create placement bits of every region of one class. */
  placement(memClass: number): number {
    return this.memRegions()
      .filter((r) => r.memClass === memClass)
      .reduce((mask, r) => mask | (1 << r.instance), 0);
  }

  gemCreate(args: { size: bigint; placement: number; flags?: number; vmId?: number; cpuCaching?: number }): XeBo {
    const handle = this.backend.dev.xeGemCreate(this.fd, args);
    return new XeBo(this, handle, args.size);
  }

  vmCreate(flags = 0): XeVm {
    return new XeVm(this, this.backend.dev.xeVmCreate(this.fd, flags));
  }

  /** One engine per placement; width 1 (docs/kernel.md §7: num_batch_buffer must equal the width). */
  execQueueCreate(
    vm: XeVm,
    instances: XeEngineInstance[],
    options: { width?: number; flags?: number } = {},
  ): XeExecQueue {
    const width = options.width ?? 1;
    const id = this.backend.dev.xeExecQueueCreate(this.fd, {
      vmId: vm.id,
      width,
      instances,
      flags: options.flags ?? 0,
    });
    return new XeExecQueue(this, id, width);
  }

  /** First engine of a class (e.g. XE.ENGINE_CLASS_COPY), or null. */
  engineOfClass(engineClass: number): XeEngineInstance | null {
    return this.engines().find((e) => e.engineClass === engineClass) ?? null;
  }

  /** DRM_IOCTL_XE_WAIT_USER_FENCE (off the JS thread); resolves the remaining timeout. */
  waitUserFence(args: XeWaitUserFence): Promise<bigint> {
    return this.backend.dev.xeWaitUserFence(this.fd, args);
  }
}
