// vgem: the foreign, non-P2P, non-dynamic DRM importer
// (drivers/gpu/drm/vgem/vgem_drv.c, drm_prime.c).
//
// PRIME import goes through drm_gem_prime_import_dev: dma_buf_attach with no
// importer ops (so peer2peer is false and the attachment is not dynamic), then
// an immediate dma_buf_map_attachment. vfio-pci refuses the attach with
// EOPNOTSUPP; a udmabuf imports fine. Importing the same dma-buf twice in one
// file returns the same handle. Unknown driver ioctls fail EINVAL (drm_ioctl:
// index beyond the driver's table), syncobj ioctls EOPNOTSUPP (no
// DRIVER_SYNCOBJ).

import type { DrmVersion } from '../backend/types.js';
import type { Attachment, DmaBufObject, KernelFile, SgTable } from './contracts.js';
import { fail } from './errno.js';
import type { DmaBufCoreImpl } from './dmabuf.js';
import type { FdTableImpl } from './fds.js';
import { MNT, O_LARGEFILE } from './fds.js';
import type { KernelCore } from './kernel.js';
import type { Vfs } from './vfs.js';
import { DRM, O } from '../uapi/constants.js';

const DRM_MAJOR = 226;

interface VgemObject {
  readonly dmabuf: DmaBufObject;
  readonly attachment: Attachment;
  readonly sgt: SgTable;
  handles: number;
}

class VgemFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];
  private readonly handles = new Map<number, VgemObject>();
  private nextHandle = 1;

  constructor(
    readonly path: string,
    private readonly vgem: Vgem,
    /** a render node (renderD*) rather than the primary node (card*) */
    readonly render: boolean,
  ) {
    const einval = () => fail('EINVAL', 'not a vgem ioctl');
    const noSyncobj = () => fail('EOPNOTSUPP', 'vgem has no DRIVER_SYNCOBJ');
    this.handlers = {
      drmVersion: (): DrmVersion => ({
        major: 1,
        minor: 0,
        patchlevel: 0,
        name: 'vgem',
        date: '20120112',
        desc: 'Virtual GEM provider',
      }),
      drmGetCap: (cap: bigint) => this.getCap(cap),
      drmPrimeFdToHandle: (fd: number) => this.importFd(fd),
      drmPrimeHandleToFd: (handle: number, flags: number) => this.exportHandle(handle, flags),
      drmGemClose: (handle: number) => this.close(handle),
      drmSyncobjCreate: noSyncobj,
      drmSyncobjDestroy: noSyncobj,
      drmSyncobjWait: noSyncobj,
      xeDeviceQuerySize: einval,
      xeDeviceQuery: einval,
      xeGemCreate: einval,
      xeGemMmapOffset: einval,
      xeVmCreate: einval,
      xeVmDestroy: einval,
      xeVmBind: einval,
      xeExecQueueCreate: einval,
      xeExecQueueDestroy: einval,
      xeExec: einval,
      xeWaitUserFence: einval,
      mmap: () => fail('EINVAL', 'no GEM object at this offset'),
    };
  }

  /**
   * drm_getcap (drm_ioctl.c): TIMESTAMP_MONOTONIC, PRIME, SYNCOBJ and
   * SYNCOBJ_TIMELINE (0: vgem has no DRIVER_SYNCOBJ) for every driver; every
   * other capability only for a driver with DRIVER_MODESET, which vgem is not:
   * EOPNOTSUPP, on the render and the primary node alike (7.2.13).
   */
  private getCap(cap: bigint): bigint {
    switch (cap) {
      case DRM.CAP_PRIME:
        return DRM.PRIME_CAP_IMPORT | DRM.PRIME_CAP_EXPORT;
      case 6n: // DRM_CAP_TIMESTAMP_MONOTONIC
        return 1n;
      case 0x13n: // DRM_CAP_SYNCOBJ
      case 0x14n: // DRM_CAP_SYNCOBJ_TIMELINE
        return 0n;
      default:
        fail('EOPNOTSUPP', `capability ${cap}: vgem has no DRIVER_MODESET`);
    }
  }

  /** drm_gem_prime_fd_to_handle -> drm_gem_prime_import_dev. */
  private importFd(fd: number): number {
    const core = this.vgem.dmabuf;
    const dmabuf = core.get(fd);
    for (const [h, o] of this.handles) if (o.dmabuf === dmabuf) return h;
    const attachment = core.attach(dmabuf, 'vgem', null, { allowPeer2peer: false });
    let sgt: SgTable;
    try {
      sgt = core.mapAttachment(attachment);
    } catch (e) {
      core.detach(attachment);
      throw e;
    }
    core.ref(dmabuf);
    const h = this.nextHandle++;
    this.handles.set(h, { dmabuf, attachment, sgt, handles: 1 });
    this.vgem.objects++;
    return h;
  }

  /** drm_gem_prime_handle_to_fd: an imported object hands back its dma-buf. */
  private exportHandle(handle: number, flags: number): number {
    if (flags & ~(DRM.CLOEXEC | DRM.RDWR)) fail('EINVAL', 'flags');
    const o = this.handles.get(handle);
    if (!o) fail('ENOENT', `no handle ${handle}`);
    return this.vgem.dmabuf.fd(o.dmabuf, flags & DRM.CLOEXEC ? O.CLOEXEC : 0);
  }

  private close(handle: number): void {
    const o = this.handles.get(handle);
    if (!o) fail('EINVAL', `no handle ${handle}`);
    this.handles.delete(handle);
    this.destroy(o);
  }

  /** drm_prime_gem_destroy: unmap, detach, put. */
  private destroy(o: VgemObject): void {
    const core = this.vgem.dmabuf;
    core.unmapAttachment(o.attachment, o.sgt);
    core.detach(o.attachment);
    core.unref(o.dmabuf);
    this.vgem.objects--;
  }

  fdinfo(): string[] {
    return [`drm-driver:\tvgem`, `drm-client-id:\t${this.vgem.clientId()}`];
  }

  release(): void {
    for (const o of this.handles.values()) this.destroy(o);
    this.handles.clear();
  }
}

export class Vgem {
  objects = 0;
  private clients = 0;

  constructor(
    readonly kernel: KernelCore,
    readonly fds: FdTableImpl,
    readonly dmabuf: DmaBufCoreImpl,
    vfs: Vfs,
    /** vgem registers after xe: its card minor follows the xe devices' (card0/renderD128 for one PF). */
    cardMinor: number,
  ) {
    const nodes: [string, number, boolean][] = [
      [`/dev/dri/card${cardMinor}`, cardMinor, false],
      [`/dev/dri/renderD${128 + cardMinor}`, 128 + cardMinor, true],
    ];
    const sys = '/sys/devices/platform/vgem';
    vfs.mkdirp(`${sys}/drm`);
    for (const [path, minor, render] of nodes) {
      vfs.addChar(path, {
        path,
        major: DRM_MAJOR,
        minor,
        mode: render ? 0o666 : 0o660,
        open: () => {
          const f = new VgemFile(path, this, render);
          this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1200 + minor, flags: O.RDWR | O_LARGEFILE });
          return f;
        },
      });
      const name = path.slice('/dev/dri/'.length);
      vfs.addText(`${sys}/drm/${name}/dev`, () => `${DRM_MAJOR}:${minor}\n`);
      vfs.addLink(`${sys}/drm/${name}/device`, '../../../vgem');
      vfs.addLink(`/sys/class/drm/${name}`, `../../devices/platform/vgem/drm/${name}`);
    }
    vfs.addText('/sys/kernel/debug/dri/vgem/name', () => 'vgem dev=vgem unique=vgem\n');
    vfs.addLink(`/sys/kernel/debug/dri/${cardMinor}`, 'vgem');
    vfs.addLink(`/sys/kernel/debug/dri/${128 + cardMinor}`, 'vgem');
  }

  clientId(): number {
    return ++this.clients;
  }
}
