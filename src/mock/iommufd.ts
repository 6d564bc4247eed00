// iommufd (drivers/iommu/iommufd/, Linux 7.2; docs/iommufd.md): /dev/iommu,
// its objects (IOAS, the VFIO cdev's device, the automatic HWPT of an
// attach), and iommufd as a dma-buf importer through IOMMU_IOAS_MAP_FILE.
// Present only when the kernel is built with CONFIG_IOMMUFD (src/mock/kconfig.ts).
//
// - Objects live in the context's xarray under the lowest free id from 1
//   (main.c iommufd_object_alloc, XA_FLAGS_ALLOC1). IOMMU_DESTROY removes an
//   object only when the xarray holds its last user (iommufd_object_remove:
//   EBUSY otherwise, ENOENT for no such id): an IOAS with an attached HWPT,
//   the HWPT of an attached device and a device VFIO keeps bound are busy.
//   Closing the context destroys leaf objects first until none is left
//   (iommufd_fops_release).
// - IOMMU_IOAS_MAP_FILE checks in ioas.c iommufd_ioas_map_file's order
//   (flags EOPNOTSUPP, iova/length U64_MAX EOVERFLOW, no access EINVAL, IOAS
//   ENOENT), then io_pagetable.c iopt_map_file_pages (length 0 EINVAL, start +
//   length overflow EOVERFLOW, dma_buf_get, else fget: EBADF). A dma-buf goes
//   through pages.c iopt_alloc_dmabuf_pages (beyond its size EINVAL) and
//   iopt_map_dmabuf: a dynamic attach with iommufd's own device (the
//   /dev/iommu misc device, main.c iommufd_global_device; allow_peer2peer and
//   invalidate_mappings = iopt_revoke_notify), dma_buf_pin (vfio has no pin
//   op), then the private interconnect vfio_pci_dma_buf_iommufd_map (not a
//   vfio dma-buf or more than one range EOPNOTSUPP, revoked ENODEV). Nothing
//   ties this to how the VFIO device was opened: the legacy group path works.
//   Then the area: iopt_alloc_area_pages (length not a multiple of the IOAS
//   alignment EINVAL), iopt_alloc_iova for an automatic IOVA, iopt_check_iova
//   for a fixed one (misaligned or reserved EINVAL, overflow EOVERFLOW, in use
//   EEXIST).
// - Revoke (iopt_revoke_notify): the area's physical range becomes empty and
//   it is unmapped from every domain; later calls do nothing, so an un-revoke
//   (after VFIO_DEVICE_RESET) does not bring an old area back, while a new
//   MAP_FILE attaches afresh. The area stays in the IOAS until unmapped.
// - The IOAS holds a reference on the dma-buf's file while mapped
//   (iopt_release_pages: detach and dma_buf_put at unmap), so the dma-buf
//   outlives its fd until then.

import type { KernelFile } from './contracts.js';
import type { AttachmentImpl, DmaBufCoreImpl, DmaBufImpl } from './dmabuf.js';
import { fail, KernelErrno } from './errno.js';
import type { FdTableImpl } from './fds.js';
import { MNT } from './fds.js';
import type { KernelCore } from './kernel.js';
import { MemfdFile } from './sysmem.js';
import type { Vfs } from './vfs.js';
import type { IommuIoasMapFile, IommuIovaRanges } from '../backend/types.js';
import { IOMMU, O } from '../uapi/constants.js';

const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
/** ULONG_MAX on x86_64: the ioctls' "too large" bound. */
const ULONG_MAX = U64_MAX;
/** mm/Kconfig: HPAGE_SIZE with CONFIG_TRANSPARENT_HUGEPAGE (x86 PMD), the cap of an automatic IOVA's alignment. */
const HPAGE = 2n * 1024n * 1024n;
const MISC_MAJOR = 10;
const IOMMU_MINOR = 123;
const MAP_FLAGS = IOMMU.IOAS_MAP_FIXED_IOVA | IOMMU.IOAS_MAP_WRITEABLE | IOMMU.IOAS_MAP_READABLE;

/**
 * What an attached device's IOMMU domain reserves (intel-iommu under QEMU):
 * the interrupt window of intel_iommu_get_resv_regions (IOMMU_RESV_MSI,
 * 0xfee00000-0xfeefffff) and everything past the domain's aperture
 * (iopt_table_add_domain reserves [aperture_end + 1, ULONG_MAX]); the page
 * size the domain maps with becomes the IOAS's alignment.
 */
export interface DomainGeometry {
  readonly apertureEnd: bigint;
  readonly reserved: readonly { start: bigint; last: bigint }[];
  readonly pageSize: bigint;
}

export const INTEL_VTD_GEOMETRY: DomainGeometry = {
  // 48-bit address width: 4-level second-stage tables (QEMU intel-iommu aw-bits=48).
  apertureEnd: (1n << 48n) - 1n,
  reserved: [{ start: 0xfee00000n, last: 0xfeefffffn }],
  pageSize: PAGE,
};

/** What the VFIO side hands iommufd when a cdev device binds (vfio_iommufd_physical_bind). */
export interface IommufdBoundDevice {
  /** dev_name() of the PCI device, for messages. */
  readonly name: string;
}

// ------------------------------------------------------------ objects

type ObjType = 'ioas' | 'device' | 'hwpt';

abstract class IommufdObject {
  id = 0;
  /** The xarray's reference plus one per object (or driver) using this one. */
  users = 1;
  abstract readonly type: ObjType;
  abstract destroy(): void;
}

/** A range of pages an area maps: here always a dma-buf's single physical range, or a file. */
class DmabufPages {
  attachment: AttachmentImpl | null = null;
  /** pages->dmabuf.phys; len 0 once revoked (iopt_revoke_notify). */
  paddr = 0n;
  len = 0n;
  constructor(
    readonly dmabuf: DmaBufImpl,
    /** Page-aligned offset into the dma-buf where the area starts (pages->dmabuf.start). */
    readonly start: bigint,
  ) {}
  get revoked(): boolean {
    return this.len === 0n;
  }
}

interface Area {
  iova: bigint;
  last: bigint;
  /** dma-buf pages or a memfd-like file referenced lazily (IOPT_ADDRESS_FILE). */
  pages: DmabufPages | { file: KernelFile };
}

class Ioas extends IommufdObject {
  readonly type = 'ioas';
  readonly areas: Area[] = [];
  readonly hwpts = new Set<Hwpt>();

  constructor(private readonly sys: IommufdSubsystem) {
    super();
  }

  /** iopt->iova_alignment: 1 with no domain, the domains' smallest page size otherwise. */
  get alignment(): bigint {
    let a = 1n;
    for (const h of this.hwpts) if (h.geometry.pageSize > a) a = h.geometry.pageSize;
    return a;
  }

  /** Reserved IOVA of every attached domain, as sorted, merged [start, last] intervals. */
  reserved(): { start: bigint; last: bigint }[] {
    const all: { start: bigint; last: bigint }[] = [];
    for (const h of this.hwpts) {
      all.push(...h.geometry.reserved);
      if (h.geometry.apertureEnd < ULONG_MAX) all.push({ start: h.geometry.apertureEnd + 1n, last: ULONG_MAX });
    }
    return mergeIntervals(all);
  }

  destroy(): void {
    // iommufd_ioas_destroy -> iopt_unmap_all.
    for (const a of [...this.areas]) this.sys.removeArea(this, a);
  }
}

class Hwpt extends IommufdObject {
  readonly type = 'hwpt';
  readonly devices = new Set<DeviceObj>();
  constructor(
    readonly ioas: Ioas,
    readonly geometry: DomainGeometry,
  ) {
    super();
  }
  destroy(): void {
    this.ioas.hwpts.delete(this);
    this.ioas.users--;
  }
}

class DeviceObj extends IommufdObject {
  readonly type = 'device';
  hwpt: Hwpt | null = null;
  constructor(readonly dev: IommufdBoundDevice) {
    super();
  }
  destroy(): void {}
}

// ------------------------------------------------------------ subsystem

export class IommufdSubsystem {
  constructor(
    readonly kernel: KernelCore,
    readonly vfs: Vfs,
    readonly fds: FdTableImpl,
    readonly dmabuf: DmaBufCoreImpl,
    /** CONFIG_TRANSPARENT_HUGEPAGE: caps an automatic IOVA's alignment at 2 MiB instead of a page. */
    readonly thp: boolean,
    readonly geometry: DomainGeometry = INTEL_VTD_GEOMETRY,
  ) {
    // main.c iommu_misc_dev: "iommu", mode 0660.
    vfs.addChar('/dev/iommu', {
      path: '/dev/iommu',
      major: MISC_MAJOR,
      minor: IOMMU_MINOR,
      mode: 0o660,
      open: () => {
        const f = new IommufdFile(this);
        this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1210, flags: O.RDWR });
        return f;
      },
    });
    vfs.addText('/sys/class/misc/iommu/dev', () => `${MISC_MAJOR}:${IOMMU_MINOR}\n`);
  }

  /** iommufd_ctx_from_fd: EBADF for a closed fd, EBADFD for a file that is not /dev/iommu. */
  ctxFromFd(fd: number): IommufdFile {
    const f = this.fds.get(fd);
    if (!(f instanceof IommufdFile)) fail('EBADFD', 'not an iommufd');
    return f;
  }

  /** Open iommufd contexts (a context a bound VFIO device still holds counts). */
  readonly contexts = new Set<IommufdFile>();

  live(): { iommufdContexts: number; ioasMappings: number } {
    let areas = 0;
    for (const c of this.contexts) for (const o of c.objects.values()) if (o instanceof Ioas) areas += o.areas.length;
    return { iommufdContexts: this.contexts.size, ioasMappings: areas };
  }

  // ------------------------------------------------------------ MAP_FILE

  mapFile(ctx: IommufdFile, args: IommuIoasMapFile): bigint {
    const k = this.kernel;
    k.trace('iommufd_ioas_map_file', 'entry', { arg1: ctx.ptr });
    try {
      const iova = this.mapFileChecked(ctx, args);
      k.trace('iommufd_ioas_map_file', 'return', { retval: 0n });
      return iova;
    } catch (e) {
      if (e instanceof KernelErrno)
        k.trace('iommufd_ioas_map_file', 'return', { retval: BigInt.asUintN(64, BigInt(-e.errno)) });
      throw e;
    }
  }

  private mapFileChecked(ctx: IommufdFile, a: IommuIoasMapFile): bigint {
    const flags = a.flags >>> 0;
    if (flags & ~MAP_FLAGS) fail('EOPNOTSUPP', `map flags 0x${flags.toString(16)}`);
    if (a.iova >= ULONG_MAX || a.length >= ULONG_MAX) fail('EOVERFLOW', 'iova or length is ULONG_MAX');
    if (!(flags & (IOMMU.IOAS_MAP_WRITEABLE | IOMMU.IOAS_MAP_READABLE)))
      fail('EINVAL', 'neither READABLE nor WRITEABLE');
    const ioas = ctx.getIoas(a.ioasId);
    // iopt_map_file_pages
    if (a.length === 0n) fail('EINVAL', 'length 0');
    if (a.start + a.length - 1n > U64_MAX) fail('EOVERFLOW', 'start + length overflows');
    const startByte = a.start % PAGE;
    let pages: Area['pages'];
    let buf: DmaBufImpl | null = null;
    try {
      buf = this.dmabuf.get(a.fd);
    } catch (e) {
      if (!(e instanceof KernelErrno)) throw e;
    }
    if (buf) {
      // dma_buf_get took a file reference; every failure below puts it back.
      this.dmabuf.ref(buf);
      try {
        pages = this.allocDmabufPages(buf, a.start, a.length, startByte);
      } catch (e) {
        this.dmabuf.unref(buf);
        throw e;
      }
    } else {
      const file = this.fds.get(a.fd); // fget: EBADF
      // A file other than a memfd is only referenced here; its pages are pinned when a
      // domain needs them (pfn_reader -> memfd_pin_folios, EINVAL for other files).
      if (ioas.hwpts.size > 0 && !(file instanceof MemfdFile)) fail('EINVAL', 'not a memfd: cannot pin its pages');
      this.fds.ref(file);
      pages = { file };
    }
    try {
      return this.insertArea(ioas, pages, a, flags, startByte);
    } catch (e) {
      this.releasePages(pages);
      throw e;
    }
  }

  /** pages.c iopt_alloc_dmabuf_pages + iopt_map_dmabuf. */
  private allocDmabufPages(buf: DmaBufImpl, start: bigint, length: bigint, startByte: bigint): DmabufPages {
    const k = this.kernel;
    k.trace('iopt_alloc_dmabuf_pages', 'entry', { arg2: buf.ptr, arg4: start, arg5: length });
    if (buf.size <= start + length - 1n)
      fail('EINVAL', `[${start}, +${length}) is beyond the ${buf.size}-byte dma-buf`);
    const pages = new DmabufPages(buf, start - startByte);
    // dma_buf_dynamic_attach with the /dev/iommu misc device: the exporter's attach decides (vfio: revoked -> ENODEV).
    const att = this.dmabuf.attach(buf, 'iommu', null, {
      allowPeer2peer: true,
      invalidateMappings: () => this.revokeNotify(pages),
    });
    pages.attachment = att;
    try {
      // dma_buf_pin: no vfio pin op, so nothing. Then the private interconnect.
      const map = buf.ops.iommufdMap;
      if (!map) fail('EOPNOTSUPP', `${buf.expName} is not a VFIO dma-buf`);
      const phys = map(att);
      pages.paddr = phys.paddr;
      pages.len = phys.len;
    } catch (e) {
      pages.attachment = null;
      this.dmabuf.detach(att);
      throw e;
    }
    return pages;
  }

  /** iopt_revoke_notify: the first invalidate empties the range and unmaps it from every domain. */
  private revokeNotify(pages: DmabufPages): void {
    this.kernel.trace('iopt_revoke_notify', 'entry', { arg1: pages.attachment?.ptr ?? 0n });
    if (pages.revoked) return;
    pages.len = 0n;
  }

  /** io_pagetable.c iopt_alloc_area_pages / iopt_alloc_iova / iopt_check_iova / iopt_insert_area. */
  private insertArea(ioas: Ioas, pages: Area['pages'], a: IommuIoasMapFile, flags: number, startByte: bigint): bigint {
    const align = ioas.alignment;
    if (a.length % align !== 0n)
      fail('EINVAL', `length 0x${a.length.toString(16)} not a multiple of the IOAS alignment`);
    let iova: bigint;
    if (!(flags & IOMMU.IOAS_MAP_FIXED_IOVA)) {
      // The first page's offset in the file guesses the alignment (IOPT_ADDRESS_DMABUF: start_byte + dmabuf.start).
      const addr = 'file' in pages ? a.start : startByte + pages.start;
      iova = this.allocIova(ioas, addr, a.length);
    } else {
      iova = a.iova;
      if (iova % align !== 0n) fail('EINVAL', `iova 0x${iova.toString(16)} not aligned`);
      const last = iova + a.length - 1n;
      if (last > U64_MAX) fail('EOVERFLOW', 'iova + length overflows');
      if (ioas.reserved().some((r) => r.start <= last && iova <= r.last)) fail('EINVAL', 'iova range is reserved');
      if (ioas.areas.some((r) => r.iova <= last && iova <= r.last)) fail('EEXIST', 'iova range already mapped');
    }
    // iopt_insert_area: the page offset must suit the alignment too.
    if (startByte % align !== 0n) fail('EINVAL', 'start not aligned for this IOAS');
    ioas.areas.push({ iova, last: iova + a.length - 1n, pages });
    ioas.areas.sort((x, y) => (x.iova < y.iova ? -1 : 1));
    return iova;
  }

  /** iopt_alloc_iova: the first hole from PAGE_SIZE, aligned as the kernel guesses; ENOSPC when none fits. */
  private allocIova(ioas: Ioas, addr: bigint, length: bigint): bigint {
    if (length === 0n || length >= ULONG_MAX / 2n) fail('EOVERFLOW', 'length');
    const pageOffset = addr % PAGE;
    let align = roundupPow2(length);
    if (addr !== 0n) {
      const low = addr & -addr;
      if (low < align) align = low;
    }
    const max = this.thp ? HPAGE : PAGE;
    if (align >= max) align = max;
    if (align < ioas.alignment) fail('EINVAL', 'alignment below the IOAS alignment');
    const spanStart = PAGE;
    const spanLast = ULONG_MAX - PAGE;
    const used = mergeIntervals([...ioas.reserved(), ...ioas.areas.map((r) => ({ start: r.iova, last: r.last }))]);
    let holeStart = spanStart;
    const holes: { start: bigint; last: bigint }[] = [];
    for (const u of used) {
      if (u.last < holeStart) continue;
      if (u.start > spanLast) break;
      if (u.start > holeStart) holes.push({ start: holeStart, last: u.start - 1n });
      holeStart = u.last + 1n;
      if (holeStart > spanLast) break;
    }
    if (holeStart <= spanLast) holes.push({ start: holeStart, last: spanLast });
    for (const h of holes) {
      // __alloc_iova_check_range: ALIGN_UP(start) | page_offset must leave room for length.
      const aligned = ((h.start + align - 1n) & ~(align - 1n)) | pageOffset;
      if (aligned >= h.last || h.last - aligned < length - 1n) continue;
      return aligned;
    }
    fail('ENOSPC', 'no free IOVA range');
  }

  /** Unmap one area (iopt_unmap_iova_range) and drop its pages (iopt_release_pages). */
  removeArea(ioas: Ioas, area: Area): void {
    const i = ioas.areas.indexOf(area);
    if (i < 0) return;
    ioas.areas.splice(i, 1);
    this.releasePages(area.pages);
  }

  private releasePages(pages: Area['pages']): void {
    if ('file' in pages) {
      this.fds.unref(pages.file);
      return;
    }
    if (pages.attachment) {
      const att = pages.attachment;
      pages.attachment = null;
      this.dmabuf.detach(att);
    }
    this.dmabuf.unref(pages.dmabuf);
  }

  /** IOMMU_IOAS_UNMAP (ioas.c iommufd_ioas_unmap): whole areas only; ENOENT when nothing was unmapped. */
  unmap(ctx: IommufdFile, ioasId: number, iova: bigint, length: bigint): bigint {
    const ioas = ctx.getIoas(ioasId);
    let first = iova;
    let last: bigint;
    if (iova === 0n && length === U64_MAX) {
      last = U64_MAX;
    } else {
      if (iova >= ULONG_MAX || length >= ULONG_MAX) fail('EOVERFLOW', 'iova or length is ULONG_MAX');
      if (length === 0n) fail('EINVAL', 'length 0');
      last = iova + length - 1n;
      if (last > U64_MAX) fail('EOVERFLOW', 'iova + length overflows');
    }
    let unmapped = 0n;
    for (const area of [...ioas.areas]) {
      if (area.last < first || area.iova > last) continue;
      // An area cut by the range: iopt_unmap_iova_range stops with ENOENT (what came before stays unmapped).
      if (area.iova < first || area.last > last) {
        fail('ENOENT', 'the range splits a mapping');
      }
      this.removeArea(ioas, area);
      unmapped += area.last - area.iova + 1n;
      first = area.last + 1n;
    }
    if (unmapped === 0n && !(iova === 0n && length === U64_MAX)) fail('ENOENT', 'nothing mapped there');
    return unmapped;
  }

  /** IOMMU_IOAS_IOVA_RANGES (iommufd_ioas_iova_ranges): the holes between reserved IOVA, ascending. */
  iovaRanges(ctx: IommufdFile, ioasId: number): IommuIovaRanges {
    const ioas = ctx.getIoas(ioasId);
    const ranges: { start: bigint; last: bigint }[] = [];
    let next: bigint | null = 0n;
    for (const r of ioas.reserved()) {
      if (next !== null && r.start > next) ranges.push({ start: next, last: r.start - 1n });
      next = r.last === U64_MAX ? null : r.last + 1n;
    }
    if (next !== null) ranges.push({ start: next, last: U64_MAX });
    return { ranges, alignment: ioas.alignment };
  }

  // ------------------------------------------------------------ VFIO cdev side (device.c)

  /** iommufd_device_bind: a device object the driver keeps (one user more) until unbind. */
  bind(ctx: IommufdFile, dev: IommufdBoundDevice): DeviceObj {
    this.kernel.trace('iommufd_device_bind', 'entry', {});
    const d = new DeviceObj(dev);
    ctx.install(d);
    d.users++;
    this.fds.ref(ctx); // iommufd_ctx_get: the bound device keeps the context open
    return d;
  }

  /** iommufd_device_attach / replace to an IOAS (an automatic HWPT) or to an HWPT id; returns the HWPT id. */
  attach(ctx: IommufdFile, d: DeviceObj, ptId: number): number {
    this.kernel.trace('iommufd_device_attach', 'entry', { arg3: ptId });
    const obj = ctx.objects.get(ptId);
    if (!obj) fail('ENOENT', `no object ${ptId}`);
    let hwpt: Hwpt;
    if (obj instanceof Hwpt) {
      hwpt = obj;
    } else if (obj instanceof Ioas) {
      if (d.hwpt && d.hwpt.ioas === obj) return d.hwpt.id;
      // iommufd_device_auto_get_domain: reuse a compatible automatic domain of the IOAS, else a new one.
      const existing = [...obj.hwpts][0];
      if (existing) hwpt = existing;
      else {
        // iopt_table_add_domain: what is mapped must fit the domain (reserved IOVA, alignment): both are
        // EADDRINUSE (io_pagetable.c iopt_reserve_iova, iopt_check_iova_alignment).
        for (const area of obj.areas) {
          if (area.iova % this.geometry.pageSize !== 0n || (area.last + 1n) % this.geometry.pageSize !== 0n)
            fail('EADDRINUSE', 'a mapping is not aligned to the domain page size');
          for (const r of [...this.geometry.reserved, { start: this.geometry.apertureEnd + 1n, last: ULONG_MAX }])
            if (r.start <= area.last && area.iova <= r.last) fail('EADDRINUSE', 'a mapping lies in reserved IOVA');
        }
        hwpt = new Hwpt(obj, this.geometry);
        ctx.install(hwpt);
        obj.hwpts.add(hwpt);
        obj.users++;
      }
    } else fail('EINVAL', `object ${ptId} is not an IOAS or HWPT`);
    if (d.hwpt) this.detach(ctx, d);
    d.hwpt = hwpt;
    hwpt.devices.add(d);
    hwpt.users++;
    return hwpt.id;
  }

  /** iommufd_device_detach: the automatic HWPT goes with its last device. */
  detach(ctx: IommufdFile, d: DeviceObj): void {
    this.kernel.trace('iommufd_device_detach', 'entry', {});
    const hwpt = d.hwpt;
    if (!hwpt) return;
    d.hwpt = null;
    hwpt.devices.delete(d);
    hwpt.users--;
    if (hwpt.devices.size === 0 && hwpt.users === 1) ctx.remove(hwpt);
  }

  /** iommufd_device_unbind: detach, drop the driver's user and the object, put the context. */
  unbind(ctx: IommufdFile, d: DeviceObj): void {
    this.kernel.trace('iommufd_device_unbind', 'entry', {});
    if (d.hwpt) this.detach(ctx, d);
    d.users--;
    ctx.remove(d);
    this.fds.unref(ctx);
  }
}

// ------------------------------------------------------------ the file

export class IommufdFile implements KernelFile {
  readonly path = '/dev/iommu';
  readonly objects = new Map<number, IommufdObject>();
  /** ictx->vfio_ioas: the IOAS a VFIO group using this context as its container maps into (vfio_compat.c). */
  private vfioIoas: Ioas | null = null;
  readonly handlers: KernelFile['handlers'];
  readonly ptr: bigint;
  private static nextPtr = 0n;

  constructor(private readonly sys: IommufdSubsystem) {
    sys.contexts.add(this);
    this.ptr = 0xffff888160000000n + IommufdFile.nextPtr++ * 0x400n;
    this.handlers = {
      iommuIoasAlloc: (flags = 0) => {
        // iommufd_ioas_alloc_ioctl: flags must be 0.
        if (flags !== 0) fail('EOPNOTSUPP', 'IOAS_ALLOC flags');
        return this.install(new Ioas(sys));
      },
      iommuDestroy: (id: number) => this.destroyUser(id),
      iommuIoasIovaRanges: (ioasId: number) => sys.iovaRanges(this, ioasId),
      iommuIoasMapFile: (args: IommuIoasMapFile) => sys.mapFile(this, args),
      iommuIoasUnmap: (ioasId: number, iova: bigint, length: bigint) => sys.unmap(this, ioasId, iova, length),
      // The VFIO container ioctls below IOMMUFD_CMD_BASE go to the compat layer (vfio_compat.c
      // iommufd_vfio_ioctl): the API version, and the extensions of iommufd_vfio_check_extension.
      vfioGetApiVersion: () => 0,
      vfioCheckExtension: (ext: number) => {
        if (ext === 1 || ext === 3 || ext === 9) return 1; // TYPE1, TYPE1v2, UNMAP_ALL: not in no-IOMMU mode
        if (ext === 4) {
          // VFIO_DMA_CC_IOMMU asks the compat IOAS (get_compat_ioas): a group's SET_CONTAINER makes it.
          this.compatIoas();
          return 1; // iommufd_vfio_cc_iommu: every domain of the IOAS enforces cache coherency (VT-d snoop control)
        }
        return 0; // NOIOMMU (CONFIG_VFIO_NOIOMMU not set), UPDATE_VADDR, anything else
      },
      // iommufd_vfio_set_iommu: TYPE1 or TYPE1v2 only (EINVAL), then the compat IOAS must exist (ENODEV: no group yet).
      vfioSetIommu: (type: number) => {
        if (type !== 1 && type !== 3) fail('EINVAL', `IOMMU type ${type}`);
        this.compatIoas();
      },
    };
  }

  /**
   * iommufd_vfio_compat_ioas_create, from vfio_group_ioctl_set_container
   * (drivers/vfio/group.c) when the "container" fd is an iommufd: the
   * existing compat IOAS if it still lives, else a new IOAS installed as a
   * user object (IOMMU_VFIO_IOAS GET finds it; IOMMU_DESTROY may remove it).
   */
  compatIoasCreate(): void {
    if (this.vfioIoas && this.objects.get(this.vfioIoas.id) === this.vfioIoas) return;
    const ioas = new Ioas(this.sys);
    this.install(ioas);
    this.vfioIoas = ioas;
  }

  /** get_compat_ioas / iommufd_vfio_compat_ioas_get_id: ENODEV without one (never made, or destroyed). */
  compatIoas(): number {
    const ioas = this.vfioIoas;
    if (!ioas || this.objects.get(ioas.id) !== ioas) fail('ENODEV', 'no compat IOAS');
    return ioas.id;
  }

  /** xa_alloc with XA_FLAGS_ALLOC1: the lowest free id from 1. */
  install(obj: IommufdObject): number {
    let id = 1;
    while (this.objects.has(id)) id++;
    obj.id = id;
    this.objects.set(id, obj);
    return id;
  }

  /** iommufd_get_ioas: ENOENT for a missing id or one that is not an IOAS. */
  getIoas(id: number): Ioas {
    const o = this.objects.get(id);
    if (!(o instanceof Ioas)) fail('ENOENT', `no IOAS ${id}`);
    return o;
  }

  /** IOMMU_DESTROY: only an object nothing else uses. */
  private destroyUser(id: number): void {
    const o = this.objects.get(id);
    if (!o) fail('ENOENT', `no object ${id}`);
    if (o.users !== 1) fail('EBUSY', `object ${id} is in use`);
    this.remove(o);
  }

  remove(o: IommufdObject): void {
    if (this.objects.get(o.id) !== o) return;
    this.objects.delete(o.id);
    o.destroy();
  }

  fdinfo(): string[] {
    return [];
  }

  /** iommufd_fops_release: destroy objects whose only user is the xarray, until none is left. */
  release(): void {
    while (this.objects.size > 0) {
      let destroyed = 0;
      for (const o of [...this.objects.values()]) {
        if (o.users !== 1) continue;
        this.remove(o);
        destroyed++;
      }
      // WARN_ON(!destroyed): a users-count bug; the kernel gives up the same way.
      if (destroyed === 0) break;
    }
    this.sys.contexts.delete(this);
  }
}

// ------------------------------------------------------------ helpers

function roundupPow2(n: bigint): bigint {
  let p = 1n;
  while (p < n) p <<= 1n;
  return p;
}

function mergeIntervals(list: { start: bigint; last: bigint }[]): { start: bigint; last: bigint }[] {
  const sorted = [...list].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; last: bigint }[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && r.start <= prev.last + 1n) {
      if (r.last > prev.last) prev.last = r.last;
    } else out.push({ start: r.start, last: r.last });
  }
  return out;
}
