// /dev/iovh-ic: iovh's stand-in importer module (kernel/iovh-ic-importer/main.c)
// in the mock, loaded on every mock machine. It follows the module line for
// line: IMPORT is dma_buf_get() plus dma_buf_dynamic_attach() with a PCI
// device as the importer device; MAP runs the interconnect map when the
// attachment negotiated IOV and falls back to the scatter-gather map, keeping
// the ranges as xe of the same series revision does; RW goes through the
// ranges to the physical bus: the built-in identity translation, or, where
// iovh's mock GPU PF driver is loaded, the translation it installs
// (kernel/iovh-mock-gpu/xlate.c, src/mock/mock-gpu.ts) for imports made for
// one of its PFs.
//
// Which interconnect API the module saw at build time follows the profile:
// no series (upstream) is IOVH_IC_API_NONE and nothing negotiates; a series
// profile is RFC_V1. What it does with the ranges follows xe of that
// revision: rfc-v1 (`ranges-leak`) drops the core's container without
// unmapping it, so kmemleak reports it; `fixed` keeps it and unmaps it at the
// next map and at release.

import type { IcImport, IcImported, IcInfo, IcMapResult, IcVersion } from '../backend/types.js';
import type { Attachment, DmaBufObject, ImporterOps, InterconnectRanges, KernelFile, SgTable } from './contracts.js';
import type { AttachmentImpl, DmaBufCoreImpl } from './dmabuf.js';
import { errnoOfAny, fail } from './errno.js';
import type { FdTableImpl } from './fds.js';
import { MNT, O_LARGEFILE } from './fds.js';
import type { KernelCore } from './kernel.js';
import type { PhysicalBusImpl } from './physbus.js';
import type { PciDev, PciSubsystem } from './pci.js';
import type { Vfs } from './vfs.js';
import { IOVH_IC } from '../uapi/iovh-ic.js';
import { O } from '../uapi/constants.js';
import { formatBdf } from '../uapi/bdf.js';
import {
  MOCK_GPU_XLATE_FIXED_ID,
  MOCK_GPU_XLATE_ID,
  translationForm,
  type MockGpuPf,
  type XlateSeg,
} from './mock-gpu.js';

/** The stand-in's map below dma_buf_map_attachment, as the 7.2.13 KASAN guest's kmemleak printed it (IOVH_IC_MAP). */
const STAND_IN_MAP_FRAMES: readonly string[] = ['iovh_ic_ioctl+0x1288/0x1de0 [iovh_ic_importer]'];

/** misc_register() with MISC_DYNAMIC_MINOR: misc major 10, a minor from the dynamic range. */
const MISC_MAJOR = 10;
const IOVH_IC_MINOR = 123;

class IcImportState {
  path: number = IOVH_IC.PATH_NONE;
  /** [start, end, ...]: interconnect ranges, or sg entries as {address, last byte} */
  ranges: BigUint64Array = new BigUint64Array(0);
  /** what the translation step made of the ranges; null: identity (RW goes to the range addresses) */
  segs: XlateSeg[] | null = null;
  /** the core's container, kept only when the module unmaps (IOVH_IC_KEEP_UNMAP) */
  icRanges: InterconnectRanges | null = null;
  sgt: SgTable | null = null;
  maps = 0;
  leaked = 0;
  invalidations = 0;
  invalidated = false;
  attachment!: Attachment;

  constructor(
    readonly pdev: PciDev,
    readonly dmabuf: DmaBufObject,
    readonly flags: number,
    readonly bar: number,
  ) {}

  get att(): AttachmentImpl {
    return this.attachment as AttachmentImpl;
  }

  /** iovh_ic_negotiated(): allow_ic and the attachment's type is IOV. */
  get negotiated(): boolean {
    return this.att.allowIc && this.att.interconnect?.type === 'iov';
  }
}

export class IovhIcModule {
  /**
   * The ABI version IOVH_IC_VERSION reports: this iovh's, unless a test plays
   * a module built from another revision of core/uapi/iovh_ic.h.
   */
  abi: number = IOVH_IC.ABI_VERSION;
  /** The mock GPU PF behind a PCI device, when its driver is bound (set by the platform). */
  mockGpuOf: (pf: PciDev) => MockGpuPf | null = () => null;
  /** The mock GPU's PF driver is loaded: its translation is installed (xlate.c mgpu_xlate_register). */
  xlateInstalled: () => boolean = () => false;
  /** page_is_ram() of an address (set by the platform from its RAM ranges). */
  isRam: (addr: bigint) => boolean = () => false;

  constructor(
    readonly kernel: KernelCore,
    readonly fds: FdTableImpl,
    readonly dmabuf: DmaBufCoreImpl,
    readonly pci: PciSubsystem,
    readonly bus: PhysicalBusImpl,
    vfs: Vfs,
  ) {
    const path = IOVH_IC.DEVICE;
    vfs.addChar(path, {
      path,
      major: MISC_MAJOR,
      minor: IOVH_IC_MINOR,
      mode: 0o600,
      open: () => {
        const f = new IcFile(this);
        this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1300, flags: O.RDWR | O_LARGEFILE });
        return f;
      },
    });
    vfs.addText(`/sys/class/misc/iovh-ic/dev`, () => `${MISC_MAJOR}:${IOVH_IC_MINOR}\n`);
  }

  /** Which form of the mock GPU's translation this kernel's profile stands for (mock-gpu.ts translationForm). */
  get xlateForm(): 'rfc-v1' | 'fixed' {
    const p = this.kernel.profile;
    return translationForm((q) => p.has(q));
  }

  get version(): IcVersion {
    const p = this.kernel.profile;
    return {
      abi: this.abi,
      // the module's #if follows the kernel's headers: v1's CREATE_IOV_INTERCONNECT, v2's MATCH_INTERCONNECT, or neither
      api: p.series === 'rfc-v1' ? IOVH_IC.API_RFC_V1 : p.series === 'rfc-v2' ? IOVH_IC.API_RFC_V2 : IOVH_IC.API_NONE,
      keep: p.has('ranges-leak') ? IOVH_IC.KEEP_LEAK : IOVH_IC.KEEP_UNMAP,
      xlate: !this.xlateInstalled() ? 0 : this.xlateForm === 'fixed' ? MOCK_GPU_XLATE_FIXED_ID : MOCK_GPU_XLATE_ID,
    };
  }
}

class IcFile implements KernelFile {
  readonly path = IOVH_IC.DEVICE;
  readonly handlers: KernelFile['handlers'];
  private readonly imports = new Map<number, IcImportState>();
  private nextHandle = 1;

  constructor(private readonly mod: IovhIcModule) {
    this.handlers = {
      icVersion: (): IcVersion => mod.version,
      icImport: (args: IcImport): IcImported => this.import(args),
      icMap: (handle: number): IcMapResult => this.map(this.lookup(handle)),
      icInfo: (handle: number, room?: number): IcInfo => this.info(this.lookup(handle), room ?? 64),
      icRead: (handle: number, offset: bigint, length: number): Uint8Array =>
        this.read(this.lookup(handle), offset, length),
      icWrite: (handle: number, offset: bigint, data: Uint8Array): void =>
        this.write(this.lookup(handle), offset, data),
      icRelease: (handle: number): void => {
        const imp = this.lookup(handle);
        this.imports.delete(handle);
        this.free(imp);
      },
    };
  }

  private lookup(handle: number): IcImportState {
    const imp = this.imports.get(handle);
    if (!imp) fail('ENOENT', `no import ${handle}`);
    return imp;
  }

  private import(args: IcImport): IcImported {
    const mod = this.mod;
    if ((args.flags & ~IOVH_IC.IMPORT_FLAGS) !== 0) fail('EINVAL', 'unknown import flags');
    if (args.bus > 0xff || args.devfn > 0xff || args.segment > 0xffff) fail('EINVAL', 'not a PCI address');
    const bdf = formatBdf({ domain: args.segment, bus: args.bus, slot: args.devfn >> 3, fn: args.devfn & 7 });
    const pdev = mod.pci.device(bdf);
    if (!pdev) fail('ENODEV', `no PCI device ${bdf}`);
    // dma_buf_get(): EBADF for a closed fd, EINVAL for a file that is not a dma-buf.
    const dmabuf = mod.dmabuf.get(args.dmabufFd);
    const imp = new IcImportState(pdev, dmabuf, args.flags, args.bar);
    const k = mod.kernel;
    const offer = (args.flags & IOVH_IC.IMPORT_OFFER_IOV) !== 0 && k.profile.interconnect;
    const ops: ImporterOps = {
      allowPeer2peer: (args.flags & IOVH_IC.IMPORT_P2P) !== 0,
      ...((args.flags & IOVH_IC.IMPORT_REVOCABLE) !== 0 ? { invalidateMappings: () => this.invalidate(imp) } : {}),
      ...(offer
        ? {
            interconnects: [{ type: 'iov' as const, dev: pdev, bar: args.bar }],
            supportsInterconnects: () => k.trace('iovh_ic_supports_interconnects', 'entry', {}),
          }
        : {}),
    };
    // The exporter's attach runs the negotiation (and, on rfc-v1 after the VFIO
    // device was closed, oopses: the caller dies, src/mock/vfio.ts).
    imp.attachment = mod.dmabuf.attach(dmabuf, pdev.bdf, pdev, ops);
    mod.dmabuf.ref(dmabuf);
    const handle = this.nextHandle++;
    this.imports.set(handle, imp);
    return { handle, negotiated: imp.negotiated, size: dmabuf.size };
  }

  /**
   * iovh_ic_invalidate_mappings(): count, mark, drop a scatter-gather mapping (the interconnect one stays);
   * with IMPORT_DEFER_UNMAP the sg unmap waits for the next map or release, as xe's does.
   */
  private invalidate(imp: IcImportState): void {
    imp.invalidations++;
    imp.invalidated = true;
    if (imp.sgt && (imp.flags & IOVH_IC.IMPORT_DEFER_UNMAP) === 0) {
      const sgt = imp.sgt;
      imp.sgt = null;
      this.mod.dmabuf.unmapAttachment(imp.attachment, sgt);
    }
  }

  private unmap(imp: IcImportState): void {
    const core = this.mod.dmabuf;
    if (imp.sgt) {
      core.unmapAttachment(imp.attachment, imp.sgt);
      imp.sgt = null;
    }
    if (imp.icRanges) {
      core.unmapInterconnect(imp.attachment, imp.icRanges);
      imp.icRanges = null;
    }
    imp.ranges = new BigUint64Array(0);
    imp.segs = null;
    imp.path = IOVH_IC.PATH_NONE;
  }

  /**
   * The installed translation step (main.c: xlate->translate): the mock GPU's
   * for an import made for one of its PFs, identity otherwise (null); an
   * errno name where it refuses.
   */
  private translate(
    imp: IcImportState,
    r: BigUint64Array,
  ): XlateSeg[] | null | 'ENOENT' | 'ENXIO' | 'EOPNOTSUPP' | 'ENODEV' | 'EPERM' | 'EINVAL' {
    if (!this.mod.xlateInstalled()) return null;
    const mg = this.mod.mockGpuOf(imp.pdev);
    if (!mg) return null;
    const ranges: { start: bigint; end: bigint }[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) ranges.push({ start: r[i]!, end: r[i + 1]! });
    return mg.translate(
      ranges,
      this.mod.isRam,
      this.mod.pci.devicesOnBus(imp.pdev.domain, imp.pdev.bus),
      this.mod.xlateForm,
    );
  }

  /** iovh_ic_map(): the interconnect when negotiated, else (or when that fails) scatter-gather. */
  private map(imp: IcImportState): IcMapResult {
    const mod = this.mod;
    const core = mod.dmabuf;
    let icError = 0;
    if (imp.path !== IOVH_IC.PATH_NONE && !imp.invalidated)
      return { path: imp.path, icError, nrRanges: imp.ranges.length / 2 };
    imp.invalidated = false;
    this.unmap(imp);
    if (imp.negotiated) {
      try {
        const ranges = core.mapInterconnect(imp.attachment);
        const packed = packedRanges(ranges);
        const segs = this.translate(imp, packed);
        if (typeof segs === 'string') {
          // main.c iovh_ic_map_interconnect err_unmap: the container goes back, the map falls back.
          core.unmapInterconnect(imp.attachment, ranges);
          fail(segs);
        }
        imp.segs = segs;
        imp.ranges = packed;
        if (mod.version.keep === IOVH_IC.KEEP_LEAK) {
          // RFC v1's xe keeps only its copy: the container and the exporter's
          // range array inside it are never unmapped (RFC quirk 6).
          const k = mod.kernel;
          const n = imp.ranges.length / 2;
          k.alloc('struct dma_buf_ranges', 24).orphan();
          k.alloc('struct range array', 16 * n).orphan();
          imp.leaked++;
        } else {
          imp.icRanges = ranges;
        }
        imp.path = IOVH_IC.PATH_IOV;
      } catch (e) {
        const errno = errnoOfAny(e);
        if (errno === null) throw e;
        icError = -errno;
        imp.att.allowIc = false;
      }
    }
    if (imp.path === IOVH_IC.PATH_NONE) {
      const sgt = core.mapAttachment(imp.attachment, STAND_IN_MAP_FRAMES);
      const out = new BigUint64Array(sgt.entries.length * 2);
      sgt.entries.forEach((e, i) => {
        out[2 * i] = e.address;
        out[2 * i + 1] = e.address + e.length - 1n;
      });
      imp.sgt = sgt;
      imp.ranges = out;
      imp.path = IOVH_IC.PATH_SG;
    }
    imp.maps++;
    return { path: imp.path, icError, nrRanges: imp.ranges.length / 2 };
  }

  private info(imp: IcImportState, room: number): IcInfo {
    const n = imp.ranges.length / 2;
    let state = 0;
    if (imp.negotiated) state |= IOVH_IC.STATE_NEGOTIATED;
    if (imp.path !== IOVH_IC.PATH_NONE) state |= IOVH_IC.STATE_MAPPED;
    if (imp.invalidated) state |= IOVH_IC.STATE_INVALIDATED;
    return {
      state,
      path: imp.path,
      nrRanges: n,
      // main.c iovh_ic_info: min3(held, room, IOVH_IC_INFO_MAX) copied, nr_ranges = held
      ranges: imp.ranges.slice(0, 2 * Math.min(n, room, IOVH_IC.INFO_MAX)),
      size: imp.dmabuf.size,
      maps: imp.maps,
      invalidations: imp.invalidations,
      leaked: imp.leaked,
    };
  }

  /** iovh_ic_rw(): [offset, offset + length) of the dma-buf, through the ranges laid end to end. */
  private access(
    imp: IcImportState,
    offset: bigint,
    length: number,
    each: (addr: bigint, at: number, n: number) => void,
  ) {
    if (length <= 0 || length > IOVH_IC.RW_MAX) fail('EINVAL', 'length');
    if (imp.path !== IOVH_IC.PATH_IOV || imp.invalidated) fail('EOPNOTSUPP', 'not mapped through the interconnect');
    let off = offset;
    let left = BigInt(length);
    let base = 0n;
    let at = 0;
    const r = imp.ranges;
    // Through the translated segments when the step made some (main.c iovh_ic_rw: segs[i].addr, segs[i].len).
    const segs = imp.segs ?? [];
    const count = imp.segs ? segs.length : r.length / 2;
    for (let i = 0; i < count && left > 0n; i++) {
      const start = imp.segs ? segs[i]!.addr : r[2 * i]!;
      const len = imp.segs ? segs[i]!.len : r[2 * i + 1]! - r[2 * i]! + 1n;
      if (off < base + len) {
        const n = left < base + len - off ? left : base + len - off;
        each(start + (off - base), at, Number(n));
        at += Number(n);
        off += n;
        left -= n;
      }
      base += len;
    }
    if (left > 0n) fail('EINVAL', 'past the end of the ranges');
  }

  private read(imp: IcImportState, offset: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length > 0 ? length : 0);
    this.access(imp, offset, length, (addr, at, n) => out.set(this.mod.bus.read(addr, n), at));
    return out;
  }

  private write(imp: IcImportState, offset: bigint, data: Uint8Array): void {
    this.access(imp, offset, data.length, (addr, at, n) => this.mod.bus.write(addr, data.subarray(at, at + n)));
  }

  private free(imp: IcImportState): void {
    const core = this.mod.dmabuf;
    this.unmap(imp);
    core.detach(imp.attachment);
    core.unref(imp.dmabuf);
  }

  fdinfo(): string[] {
    return [];
  }

  release(): void {
    for (const imp of this.imports.values()) this.free(imp);
    this.imports.clear();
  }
}

/** dma_buf_ranges -> [start, end, ...] (end inclusive, as struct range). */
function packedRanges(r: InterconnectRanges): BigUint64Array {
  const packed = (r as InterconnectRanges & { packed?: BigUint64Array }).packed;
  if (packed) return packed.slice();
  const out = new BigUint64Array(r.ranges.length * 2);
  r.ranges.forEach((x, i) => {
    out[2 * i] = x.start;
    out[2 * i + 1] = x.end;
  });
  return out;
}
