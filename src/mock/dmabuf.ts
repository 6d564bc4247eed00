// The dma-buf core (drivers/dma-buf/dma-buf.c, 7.2) with the RFC's
// interconnect API (seed patches 1-3; docs/profiles.md, rfc-v1 "Attach", "Map").
//
// - export: a dma-buf file on the dmabuf pseudo-fs; f_flags keep only
//   O_ACCMODE | O_NONBLOCK (docs/kernel.md §10), the fd gets O_CLOEXEC if asked.
// - attach: dynamic when the importer has invalidate_mappings; `peer2peer`
//   from allow_peer2peer; with the series applied (rfc-v1, fixed) an importer
//   that offers interconnects gets `allow_ic`, and the exporter's attach may
//   negotiate through matchInterconnects() (dma_buf_match_interconnects: every
//   exporter entry against every importer entry of the same type, the
//   exporter's match op decides, first match wins; no match clears allow_ic).
// - map_interconnect: EINVAL for a non-dynamic attachment, EOPNOTSUPP without
//   allow_ic, EINVAL when the exporter has no map op. An importer that never
//   unmaps (RFC quirk 6) accounts the leaked container itself through
//   KernelServices.alloc (src/mock/xe/import.ts), so it is not counted twice.
// - debugfs dma_buf/bufinfo and /proc/<pid>/fdinfo in their real layouts (§10).

import { boolRax } from './kernel.js';
import type {
  Attachment,
  DmaBufCore,
  DmaBufObject,
  ExporterOps,
  ImporterOps,
  InterconnectOffer,
  InterconnectRanges,
  KernelFile,
  PciDevice,
  SgTable,
} from './contracts.js';
import type { Mapping } from '../backend/types.js';
import { errnoOfAny, fail } from './errno.js';
import type { FdTableImpl } from './fds.js';
import { MNT } from './fds.js';
import type { KernelCore } from './kernel.js';
import { DMA_BUF, O } from '../uapi/constants.js';

const errPtr = (errno: number) => BigInt.asUintN(64, BigInt(-errno));

/** An address-only scatter-gather table over packed [address, length, ...] pairs. */
export function sgFromPacked(packed: BigUint64Array): SgTable & { readonly packed: BigUint64Array } {
  let cache: { address: bigint; length: bigint }[] | undefined;
  return {
    packed,
    get entries() {
      if (!cache) {
        cache = [];
        for (let i = 0; i < packed.length; i += 2) cache.push({ address: packed[i]!, length: packed[i + 1]! });
      }
      return cache;
    },
  };
}

/** dma_buf_ranges over packed [start, end, ...] pairs (end inclusive). */
export function rangesFromPacked(packed: BigUint64Array): InterconnectRanges & { readonly packed: BigUint64Array } {
  let cache: { start: bigint; end: bigint }[] | undefined;
  return {
    packed,
    get ranges() {
      if (!cache) {
        cache = [];
        for (let i = 0; i < packed.length; i += 2) cache.push({ start: packed[i]!, end: packed[i + 1]! });
      }
      return cache;
    },
  };
}

export class DmaBufImpl implements DmaBufObject {
  name: string | null = null;
  readonly attachments: AttachmentImpl[] = [];
  readonly file: DmaBufFile;
  released = false;
  /**
   * References to the dma-buf's dentry other than its file's: an O_PATH open
   * of /proc/<pid>/fd/N (fs/open.c do_dentry_open: path_get, no f_op->open).
   */
  dentryPins = 0;
  /**
   * Kernel time (usec) its struct file was freed while the dentry lived on
   * (an O_PATH holder): dma_buf_release, the dentry's d_release, has not run,
   * so the exporter still lists the buffer with a dangling `dmabuf->file`.
   */
  fileFreedUsec: bigint | null = null;

  constructor(
    readonly ino: number,
    readonly size: bigint,
    readonly expName: string,
    readonly ops: ExporterOps & { mmap?(offset: bigint, length: number, prot: number): Mapping },
    /** f_flags: O_ACCMODE | O_NONBLOCK of the export's open flags */
    readonly fFlags: number,
    readonly ptr: bigint,
    core: DmaBufCoreImpl,
  ) {
    this.file = new DmaBufFile(this, core);
  }

  /** f_mode: FMODE_READ/WRITE from the access mode, plus FMODE_OPENED (fs/file_table.c alloc_file). */
  get fMode(): number {
    const acc = this.fFlags & 3;
    const rw = acc === O.RDONLY ? 1 : acc === O.WRONLY ? 2 : 3;
    return rw | 0x80000;
  }
}

export class AttachmentImpl implements Attachment {
  interconnect: InterconnectOffer | null = null;
  /** attach->allow_ic (RFC): the importer offered interconnects and none was refused yet. */
  allowIc: boolean;
  readonly peer2peer: boolean;
  readonly sgMaps = new Set<SgTable>();
  readonly icMaps = new Set<InterconnectRanges>();
  detached = false;

  constructor(
    readonly dmabuf: DmaBufImpl,
    readonly devName: string,
    readonly dev: PciDevice | null,
    readonly importer: ImporterOps,
    readonly ptr: bigint,
    allowIc: boolean,
  ) {
    this.peer2peer = importer.allowPeer2peer;
    this.allowIc = allowIc;
  }

  get dynamic(): boolean {
    return this.importer.invalidateMappings !== undefined;
  }

  get interconnectAllowed(): boolean {
    return this.allowIc;
  }
}

/** The file behind a dma-buf fd. */
export class DmaBufFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];

  constructor(
    private readonly buf: DmaBufImpl,
    private readonly core: DmaBufCoreImpl,
  ) {
    this.handlers = {
      dmaBufSetName: (name: string) => {
        // DMA_BUF_SET_NAME: strndup_user(buf, DMA_BUF_NAME_LEN) fails EINVAL past 31 characters.
        if (Buffer.byteLength(name, 'utf8') >= DMA_BUF.NAME_LEN) fail('EINVAL', 'name longer than 31 bytes');
        this.buf.name = name;
      },
      dmaBufSync: (flags: bigint) => {
        // DMA_BUF_IOCTL_SYNC: flags within DMA_BUF_SYNC_VALID_FLAGS_MASK and a direction.
        if ((flags & ~0x7n) !== 0n || (flags & DMA_BUF.SYNC_RW) === 0n) fail('EINVAL');
      },
      mmap: (offset: bigint, length: number, prot: number) => {
        // dma_buf_mmap_internal: no .mmap op (vfio_pci_core) is EINVAL; bounds against the size.
        if (!this.buf.ops.mmap) fail('EINVAL', `${this.buf.expName} has no mmap`);
        if (
          offset < 0n ||
          offset % 4096n !== 0n ||
          length <= 0 ||
          offset + BigInt(Math.ceil(length / 4096) * 4096) > this.buf.size
        )
          fail('EINVAL');
        this.core.tracepoint('dma_buf_mmap', this.buf);
        return this.buf.ops.mmap(offset, length, prot);
      },
    };
  }

  get path(): string {
    return `/dmabuf:${this.buf.name ?? ''}`;
  }

  fdinfo(): string[] {
    const lines = [
      `size:\t${this.buf.size}`,
      `count:\t${this.core.fileCount(this.buf)}`,
      `exp_name:\t${this.buf.expName}`,
    ];
    if (this.buf.name !== null) lines.push(`name:\t${this.buf.name}`);
    return lines;
  }

  release(): void {
    this.core.release(this.buf);
  }

  pinDentry(): () => void {
    return this.core.pinDentry(this.buf);
  }
}

export class DmaBufCoreImpl implements DmaBufCore {
  private readonly bufs: DmaBufImpl[] = [];
  private nextIno = 30000;
  private nextAttach = 0;

  constructor(
    private readonly kernel: KernelCore,
    private readonly fds: FdTableImpl,
  ) {}

  // ------------------------------------------------------------ objects

  export(expName: string, size: bigint, ops: ExporterOps, openFlags: number): { dmabuf: DmaBufImpl; fd: number } {
    const ino = this.nextIno++;
    const buf = new DmaBufImpl(
      ino,
      size,
      expName,
      ops,
      openFlags & (3 | O.NONBLOCK),
      0xffff888120000000n + BigInt(ino) * 0x200n,
      this,
    );
    this.fds.describe(buf.file, { mntId: MNT.dmabuf, ino, flags: buf.fFlags });
    this.bufs.push(buf);
    // arg1: the exporter's struct dma_buf_export_info, on its kernel stack (DEFINE_DMA_BUF_EXPORT_INFO).
    this.kernel.trace('dma_buf_export', 'entry', { arg1: 0xffffc90000a3fc40n });
    this.tracepoint('dma_buf_export', buf);
    this.kernel.trace('dma_buf_export', 'return', { retval: buf.ptr });
    let fd: number;
    try {
      fd = this.fds.install(buf.file, openFlags);
    } catch (e) {
      this.release(buf);
      throw e;
    }
    this.kernel.trace('dma_buf_fd', 'entry', { arg1: buf.ptr, arg2: openFlags });
    this.tracepoint('dma_buf_fd', buf, fd);
    return { dmabuf: buf, fd };
  }

  fd(dmabuf: DmaBufObject, openFlags: number): number {
    const buf = this.asImpl(dmabuf);
    if (buf.released) fail('EINVAL');
    const fd = this.fds.install(buf.file, openFlags);
    this.tracepoint('dma_buf_fd', buf, fd);
    return fd;
  }

  tracepoint(event: string, buf: DmaBufImpl, fd?: number, att?: AttachmentImpl): void {
    const fields: Record<string, string | number | bigint> = { exp_name: buf.expName, size: buf.size, ino: buf.ino };
    if (fd !== undefined) fields.fd = fd;
    if (att) {
      fields.attachment = att.ptr;
      fields.is_dynamic = att.dynamic ? 1 : 0;
      fields.dev_name = att.devName;
    }
    this.kernel.tracefs.tracepoint(event, fields);
  }

  private asImpl(d: DmaBufObject): DmaBufImpl {
    if (!(d instanceof DmaBufImpl)) throw new TypeError('not a dma-buf of this kernel');
    return d;
  }

  get(fd: number): DmaBufImpl {
    const f = this.fds.get(fd);
    const buf = this.bufs.find((b) => b.file === f && !b.released);
    if (!buf) fail('EINVAL', 'not a dma-buf');
    this.tracepoint('dma_buf_get', buf, fd);
    return buf;
  }

  ref(dmabuf: DmaBufObject): void {
    this.fds.ref(this.asImpl(dmabuf).file);
  }

  unref(dmabuf: DmaBufObject): void {
    const b = this.asImpl(dmabuf);
    this.tracepoint('dma_buf_put', b);
    this.fds.unref(b.file);
  }

  freed(dmabuf: DmaBufObject): boolean {
    return this.asImpl(dmabuf).released;
  }

  fileCount(buf: DmaBufImpl): number {
    return this.fds.count(buf.file);
  }

  /**
   * Last fput (fs/file_table.c __fput): the file's ->release
   * (dma_buf_file_release) unlinks the debugfs list, then dput(); the dentry's
   * last reference runs dma_buf_release (drivers/dma-buf/dma-buf.c, the
   * dentry's d_release) -> the exporter's release. With an O_PATH holder the
   * dentry outlives the file: on a kernel with `opath-stale-file` (every
   * upstream one) the struct file is freed now and the exporter's release
   * waits for the holder's close. A kernel with the fix releases the buffer
   * with its file.
   */
  release(buf: DmaBufImpl): void {
    if (buf.released) return;
    if (buf.dentryPins > 0 && this.kernel.profile.has('opath-stale-file')) {
      buf.fileFreedUsec = this.kernel.now();
      const i = this.bufs.indexOf(buf);
      if (i >= 0) this.bufs.splice(i, 1);
      return;
    }
    this.releaseDentry(buf);
  }

  /** An O_PATH open of the buffer's /proc/<pid>/fd link: a dentry reference; returns its put (dput). */
  pinDentry(buf: DmaBufImpl): () => void {
    buf.dentryPins++;
    let put = false;
    return () => {
      if (put) return;
      put = true;
      if (--buf.dentryPins === 0 && buf.fileFreedUsec !== null) this.releaseDentry(buf);
    };
  }

  /** dma_buf_release: the exporter's release (vfio_pci_dma_buf_release unlinks the buffer from its device). */
  private releaseDentry(buf: DmaBufImpl): void {
    if (buf.released) return;
    buf.released = true;
    if (buf.attachments.length > 0) this.kernel.warn('dma_buf_release+0x7a/0x90', '');
    const i = this.bufs.indexOf(buf);
    if (i >= 0) this.bufs.splice(i, 1);
    buf.ops.release();
  }

  // ------------------------------------------------------------ attachments

  attach(dmabuf: DmaBufObject, devName: string, dev: PciDevice | null, importer: ImporterOps): AttachmentImpl {
    const buf = this.asImpl(dmabuf);
    const ptr = 0xffff888130000000n + BigInt(this.nextAttach++) * 0x80n;
    const dynamic = importer.invalidateMappings !== undefined;
    // RFC 2/8: allow_ic when the importer implements supports_interconnects (only with the series).
    const allowIc =
      this.kernel.profile.interconnect && importer.interconnects !== undefined && importer.interconnects.length > 0;
    const att = new AttachmentImpl(buf, devName, dev, importer, ptr, allowIc);
    this.kernel.trace(dynamic ? 'dma_buf_dynamic_attach' : 'dma_buf_attach', 'entry', { arg1: buf.ptr, arg2: 0n });
    try {
      att.interconnect = buf.ops.attach(att);
    } catch (e) {
      this.kernel.trace(dynamic ? 'dma_buf_dynamic_attach' : 'dma_buf_attach', 'return', {
        retval: errPtr(errnoOfAny(e) ?? 0),
      });
      throw e;
    }
    buf.attachments.push(att);
    this.kernel.trace(dynamic ? 'dma_buf_dynamic_attach' : 'dma_buf_attach', 'return', { retval: ptr });
    this.tracepoint('dma_buf_dynamic_attach', buf, undefined, att);
    return att;
  }

  /**
   * dma_buf_match_interconnects (RFC 2/8), called from the exporter's attach
   * with its own offers and match op. Emits the importer's
   * supports_interconnects hit around it.
   */
  matchInterconnects(
    att: AttachmentImpl,
    offers: readonly InterconnectOffer[],
    match: (exp: InterconnectOffer, imp: InterconnectOffer) => boolean,
  ): InterconnectOffer | null {
    if (!att.allowIc) return null;
    // The exporter asks the importer (aops->supports_interconnects), which calls the core helper.
    att.importer.supportsInterconnects?.(att, offers);
    this.kernel.trace('dma_buf_match_interconnects', 'entry', {
      arg1: att.ptr,
      arg3: offers.length,
      arg5: att.importer.interconnects?.length ?? 0,
    });
    let found: InterconnectOffer | null = null;
    outer: for (const exp of offers) {
      for (const imp of att.importer.interconnects ?? []) {
        if (exp.type === imp.type && match(exp, imp)) {
          found = exp;
          break outer;
        }
      }
    }
    if (!found) att.allowIc = false;
    this.kernel.trace('dma_buf_match_interconnects', 'return', { retval: boolRax(found !== null, att.ptr) });
    return found;
  }

  private asAtt(a: Attachment): AttachmentImpl {
    if (!(a instanceof AttachmentImpl)) throw new TypeError('not an attachment of this kernel');
    return a;
  }

  detach(attachment: Attachment): void {
    const att = this.asAtt(attachment);
    if (att.detached) return;
    const buf = att.dmabuf;
    this.kernel.trace('dma_buf_detach', 'entry', { arg1: buf.ptr, arg2: att.ptr });
    for (const sgt of [...att.sgMaps]) {
      // A dynamic importer must unmap before detaching (dma_buf_detach's WARN); the core cleans up either way.
      if (att.dynamic) this.kernel.warn('dma_buf_detach+0xd3/0x120', '');
      this.unmapAttachment(att, sgt);
    }
    att.icMaps.clear();
    buf.ops.detach?.(att);
    att.detached = true;
    const i = buf.attachments.indexOf(att);
    if (i >= 0) buf.attachments.splice(i, 1);
    this.tracepoint('dma_buf_detach', buf, undefined, att);
    this.kernel.poll();
  }

  mapAttachment(attachment: Attachment, caller: readonly string[] = []): SgTable {
    const att = this.asAtt(attachment);
    this.kernel.trace('dma_buf_map_attachment', 'entry', { arg1: att.ptr, arg2: 0n });
    let sgt: SgTable;
    try {
      sgt = att.dmabuf.ops.map(att, caller);
    } catch (e) {
      this.kernel.trace('dma_buf_map_attachment', 'return', { retval: errPtr(errnoOfAny(e) ?? 0) });
      throw e;
    }
    att.sgMaps.add(sgt);
    this.kernel.trace('dma_buf_map_attachment', 'return', {
      retval: 0xffff888140000000n + BigInt(att.sgMaps.size) * 0x40n,
    });
    return sgt;
  }

  unmapAttachment(attachment: Attachment, sgt: SgTable): void {
    const att = this.asAtt(attachment);
    this.kernel.trace('dma_buf_unmap_attachment', 'entry', { arg1: att.ptr });
    if (!att.sgMaps.delete(sgt)) {
      this.kernel.warn('dma_buf_unmap_attachment+0x5e/0x110', 'unmap of a table this attachment did not map');
      return;
    }
    att.dmabuf.ops.unmap(att, sgt);
    this.kernel.poll();
  }

  mapInterconnect(attachment: Attachment): InterconnectRanges {
    const att = this.asAtt(attachment);
    this.kernel.trace('dma_buf_map_interconnect', 'entry', { arg1: att.ptr });
    const ret = (v: bigint) => this.kernel.trace('dma_buf_map_interconnect', 'return', { retval: v });
    if (!att.dynamic) {
      ret(errPtr(22));
      fail('EINVAL', 'not a dynamic attachment');
    }
    if (!att.allowIc) {
      ret(errPtr(95));
      fail('EOPNOTSUPP', 'interconnect not allowed on this attachment');
    }
    if (!att.dmabuf.ops.mapInterconnect) {
      ret(errPtr(22));
      fail('EINVAL', 'exporter has no interconnect map');
    }
    let ranges: InterconnectRanges;
    try {
      ranges = att.dmabuf.ops.mapInterconnect(att);
    } catch (e) {
      ret(errPtr(errnoOfAny(e) ?? 0));
      throw e;
    }
    att.icMaps.add(ranges);
    ret(0xffff888150000000n + BigInt(att.icMaps.size) * 0x40n);
    return ranges;
  }

  unmapInterconnect(attachment: Attachment, ranges: InterconnectRanges): void {
    const att = this.asAtt(attachment);
    this.kernel.trace('dma_buf_unmap_interconnect', 'entry', { arg1: att.ptr });
    // RFC 1/8: returns early (nothing freed) when allow_ic is off or the exporter has no unmap op.
    if (!att.icMaps.has(ranges) || !att.allowIc || !att.dmabuf.ops.unmapInterconnect) return;
    att.dmabuf.ops.unmapInterconnect(att, ranges);
    att.icMaps.delete(ranges);
    this.kernel.poll();
  }

  // ------------------------------------------------------------ observability

  /** debugfs dma_buf/bufinfo (dma_buf_debug_show). */
  bufinfo(): string {
    const pad = (s: string) => s.padEnd(8);
    let out = `\nDma-buf Objects:\n${pad('size')}\t${pad('flags')}\t${pad('mode')}\t${pad('count')}\texp_name\t${pad('ino')}\tname\n`;
    let total = 0n;
    // dma_buf_export adds each buffer at the head of the list (__dma_buf_list_add: list_add), and
    // dma_buf_debug_show walks it from the head: newest first.
    for (const b of [...this.bufs].reverse()) {
      out += `${b.size.toString().padStart(8, '0')}\t${b.fFlags.toString(16).padStart(8, '0')}\t${b.fMode.toString(16).padStart(8, '0')}\t${String(this.fileCount(b)).padStart(8, '0')}\t${b.expName}\t${String(b.ino).padStart(8, '0')}\t${b.name ?? '<none>'}\n`;
      out += '\tAttached Devices:\n';
      for (const a of b.attachments) out += `\t${a.devName}\n`;
      out += `Total ${b.attachments.length} devices attached\n\n`;
      total += b.size;
    }
    out += `\nTotal ${this.bufs.length} objects, ${total} bytes\n`;
    return out;
  }

  live(): { dmabufs: number; attachments: number; interconnectMaps: number; sgMaps: number } {
    let attachments = 0;
    let ic = 0;
    let sg = 0;
    for (const b of this.bufs) {
      attachments += b.attachments.length;
      for (const a of b.attachments) {
        ic += a.icMaps.size;
        sg += a.sgMaps.size;
      }
    }
    return { dmabufs: this.bufs.length, attachments, interconnectMaps: ic, sgMaps: sg };
  }
}
