// A DRM device fd (/dev/dri/renderD*, /dev/dri/card*) and the DRM core calls
// iovh needs: version, caps, PRIME import/export, GEM close, syncobjs
// (include/uapi/drm/drm.h, drivers/gpu/drm/drm_prime.c; docs/kernel.md §6).
import type { Backend, DrmVersion, Fd, FileOps } from '../backend/types.js';
import { DRM, O } from './constants.js';
import { DmaBuf } from './dmabuf.js';
import { BDF_PATTERN } from './bdf.js';

/** A GEM handle of one DRM file. close() is DRM_IOCTL_GEM_CLOSE; idempotent. */
export class GemHandle {
  private open = true;

  constructor(
    readonly drm: DrmDevice,
    readonly handle: number,
  ) {}

  get closed(): boolean {
    return !this.open;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.drm.backend.dev.drmGemClose(this.drm.fd, this.handle);
  }
}

/**
 * A handle from DRM_IOCTL_PRIME_FD_TO_HANDLE. Importing the same dma-buf twice
 * into one DRM file returns the same handle (drm_gem_prime_fd_to_handle looks
 * it up first), so two of these can name one GEM object; close it once.
 */
export class PrimeImport extends GemHandle {
  constructor(
    drm: DrmDevice,
    handle: number,
    readonly dmabuf: DmaBuf | null,
  ) {
    super(drm, handle);
  }
}

export class Syncobj {
  private open = true;

  constructor(
    readonly drm: DrmDevice,
    readonly handle: number,
  ) {}

  /** DRM_IOCTL_SYNCOBJ_WAIT on this one; `deadlineNs` is absolute CLOCK_MONOTONIC. */
  wait(deadlineNs: bigint, flags = 0): Promise<number> {
    return this.drm.syncobjWait([this.handle], deadlineNs, flags);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.drm.backend.dev.drmSyncobjDestroy(this.drm.fd, this.handle);
  }
}

/** Absolute CLOCK_MONOTONIC deadline `ms` from now (process.hrtime is CLOCK_MONOTONIC on Linux, libuv uv_hrtime). */
export function monotonicDeadline(ms: number): bigint {
  return process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
}

export class DrmDevice {
  private open = true;
  private cachedVersion: DrmVersion | null = null;

  protected constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly path: string,
  ) {}

  static open(backend: Backend, path: string, flags: number = O.RDWR | O.CLOEXEC): DrmDevice {
    return new DrmDevice(backend, backend.dev.open(path, flags), path);
  }

  get closed(): boolean {
    return !this.open;
  }

  /** DRM_IOCTL_VERSION (driver name `xe`, `vgem`, ...); asked once. */
  version(): DrmVersion {
    this.cachedVersion ??= this.backend.dev.drmVersion(this.fd);
    return this.cachedVersion;
  }

  getCap(capability: bigint): bigint {
    return this.backend.dev.drmGetCap(this.fd, capability);
  }

  /** DRM_CAP_PRIME bits (always both since 6.6, docs/kernel.md §6). */
  primeCaps(): { import: boolean; export: boolean } {
    const v = this.getCap(DRM.CAP_PRIME);
    return { import: (v & DRM.PRIME_CAP_IMPORT) !== 0n, export: (v & DRM.PRIME_CAP_EXPORT) !== 0n };
  }

  /** DRM_IOCTL_PRIME_FD_TO_HANDLE. The handle does not own the dma-buf fd. */
  primeImport(dmabuf: DmaBuf | Fd): PrimeImport {
    const fd = typeof dmabuf === 'number' ? dmabuf : dmabuf.fd;
    const handle = this.backend.dev.drmPrimeFdToHandle(this.fd, fd);
    return new PrimeImport(this, handle, typeof dmabuf === 'number' ? null : dmabuf);
  }

  /** DRM_IOCTL_PRIME_HANDLE_TO_FD; flags within DRM_CLOEXEC | DRM_RDWR (else EINVAL). */
  primeExport(handle: GemHandle | number, flags: number = DRM.CLOEXEC | DRM.RDWR): DmaBuf {
    const h = typeof handle === 'number' ? handle : handle.handle;
    const fd = this.backend.dev.drmPrimeHandleToFd(this.fd, h, flags);
    return new DmaBuf(this.backend, fd, `${this.path} handle ${h}`);
  }

  syncobjCreate(flags = 0): Syncobj {
    return new Syncobj(this, this.backend.dev.drmSyncobjCreate(this.fd, flags));
  }

  /** Resolves first_signaled; rejects with ETIME when the deadline passes (drm_syncobj.c). */
  syncobjWait(handles: Array<Syncobj | number>, deadlineNs: bigint, flags = 0): Promise<number> {
    const hs = handles.map((h) => (typeof h === 'number' ? h : h.handle));
    return this.backend.dev.drmSyncobjWait(this.fd, hs, deadlineNs, flags);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}

// ------------------------------------------------------------------ discovery

export interface DrmNode {
  /** /dev/dri/renderD128 */
  path: string;
  kind: 'render' | 'card';
  minor: number;
  /** PCI address of the device behind the node (sysfs `device` link), or null (vgem is a platform device). */
  bdf: string | null;
}

export interface RenderNode extends DrmNode {
  /** DRM_IOCTL_VERSION name. */
  driver: string;
}

const NODE = /^(renderD|card)(\d+)$/;
/** /sys/class/drm/<node> -> ../../devices/pci0000:00/.../0000:03:00.0/drm/<node> (any domain width: src/uapi/bdf.ts) */
const CLASS_LINK = new RegExp(`(?:^|/)(${BDF_PATTERN})/drm/[^/]+$`);
/** /sys/class/drm/<node>/device -> ../../../0000:03:00.0 */
const DEVICE_LINK = new RegExp(`(?:^|/)(${BDF_PATTERN})$`);

/** The PCI device under a DRM minor, from its sysfs class link (or its `device` link); null for platform devices. */
function pciParent(backend: { fs: FileOps }, name: string): string | null {
  try {
    const viaClass = CLASS_LINK.exec(backend.fs.readlink(`/sys/class/drm/${name}`))?.[1];
    if (viaClass) return viaClass;
  } catch {
    // No class link (a node made by hand, or a fixture without sysfs): try the device link.
  }
  try {
    return DEVICE_LINK.exec(backend.fs.readlink(`/sys/class/drm/${name}/device`))?.[1] ?? null;
  } catch {
    // Neither link: the node is still usable, its PCI parent unknown.
    return null;
  }
}

/** DRM nodes under /dev/dri, with the PCI device sysfs names for each. Reads only. */
export function listDrmNodes(backend: { fs: FileOps }): DrmNode[] {
  if (!backend.fs.exists('/dev/dri')) return [];
  const out: DrmNode[] = [];
  for (const name of backend.fs.readdir('/dev/dri').sort()) {
    const m = NODE.exec(name);
    if (!m) continue;
    out.push({
      path: `/dev/dri/${name}`,
      kind: m[1] === 'renderD' ? 'render' : 'card',
      minor: Number(m[2]),
      bdf: pciParent(backend, name),
    });
  }
  return out;
}

/**
 * Render nodes whose driver (DRM_IOCTL_VERSION name, the authority: sysfs
 * driver links differ for platform devices) is `driver`, or all when
 * omitted. Opens each render node briefly.
 */
export function findRenderNodes(backend: Backend, driver?: string): RenderNode[] {
  const out: RenderNode[] = [];
  for (const node of listDrmNodes(backend)) {
    if (node.kind !== 'render') continue;
    const drm = DrmDevice.open(backend, node.path);
    try {
      const name = drm.version().name;
      if (driver === undefined || name === driver) out.push({ ...node, driver: name });
    } finally {
      drm.close();
    }
  }
  return out;
}
