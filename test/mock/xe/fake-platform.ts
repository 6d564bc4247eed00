// A small stand-in for the mock platform (src/mock/contracts.ts) so the xe
// device can be tested on its own: PCI with one PF and its VFs (optionally
// spilling onto the next bus), sparse VRAM and RAM, the LMTT routing VF BAR 2
// into LMEM objects made of VRAM blocks, a dma-buf core with the RFC's IOV
// negotiation, a vfio-like exporter of VF BAR ranges with revoke, a RAM
// exporter, an fd table, and a DeviceOps dispatcher so the tests drive xe
// exactly as the harness does (through src/uapi/xe.ts on a Backend).

import type { Backend, DeviceOps, FileOps } from '../../../src/backend/types.js';
import { FAKE_TRAITS } from '../../uapi/fake-backend.js';
import { Errno, SystemError } from '../../../src/uapi/errors.js';
import type {
  Attachment,
  CharDevice,
  DmaBufCore,
  DmaBufObject,
  ExporterOps,
  FdTable,
  ImporterOps,
  InterconnectOffer,
  InterconnectRanges,
  KernelAlloc,
  KernelFile,
  KasanReport,
  KernelServices,
  LmemObject,
  LogLevel,
  MockPlatform,
  PciBar,
  PciBus,
  PciDevice,
  PhysicalBus,
  PhysRange,
  Profile,
  ProfileName,
  QuirkId,
  SgTable,
  SparseMemory,
  SystemRam,
  VramBlock,
  XePfState,
} from '../../../src/mock/contracts.js';
import { createXeDriver, type XeDriver } from '../../../src/mock/xe/index.js';
import { getProfile } from '../../../src/mock/profiles.js';

export const GiB = 1n << 30n;
export const MiB = 1n << 20n;
export const PAGE = 4096;

// ------------------------------------------------------------------ profiles

export const ALL_QUIRKS: readonly QuirkId[] = [
  'last-page',
  'silent-untranslated',
  'first-range-vf',
  'unprovisioned-oops',
  'vf-other-bus',
  'ranges-leak',
  'order-from-length',
  'contiguity',
  'revoked-attach-bypass',
  'deferred-unmap-hang',
  'quota-unchecked',
  'closed-vdev-oops',
];

export function profile(name: ProfileName, quirks?: readonly QuirkId[]): Profile {
  const real = getProfile(name, '7.2.13-test');
  const set = new Set<QuirkId>(quirks ?? real.quirks);
  return {
    name,
    release: real.release,
    base: real.base,
    series: real.series,
    interconnect: real.interconnect,
    revocableGate: real.revocableGate,
    revokeWaits: real.revokeWaits,
    has: (q) => set.has(q),
    symbols: new Map(),
  };
}

// ------------------------------------------------------------------ kernel services

export interface Trace {
  symbol: string;
  kind: 'entry' | 'return';
  values: Readonly<Record<string, bigint | number>>;
}

export class FakeKernel implements KernelServices {
  readonly pid = 4242;
  readonly comm = 'iovh';
  readonly logs: { level: LogLevel; source: string | null; text: string }[] = [];
  readonly warns: { site: string; text: string }[] = [];
  readonly oopses: { kind: string; site: string }[] = [];
  readonly kasans: KasanReport[] = [];
  readonly work: { comm: string; work: () => void }[] = [];
  readonly traces: Trace[] = [];
  readonly allocs: { what: string; size: number; state: 'live' | 'freed' | 'orphan' }[] = [];
  private t = 0n;

  constructor(public profile: Profile) {}

  now(): bigint {
    return (this.t += 1000n);
  }
  log(level: LogLevel, source: string | null, text: string): void {
    this.logs.push({ level, source, text });
  }
  warn(site: string, text: string): void {
    this.warns.push({ site, text });
  }
  oops(kind: string, site: string): void {
    this.oopses.push({ kind, site });
  }
  trace(symbol: string, kind: 'entry' | 'return', values: Readonly<Record<string, bigint | number>>): void {
    this.traces.push({ symbol, kind, values });
  }
  kasan(report: KasanReport): void {
    this.kasans.push(report);
  }
  queueWork(comm: string, work: () => void): void {
    this.work.push({ comm, work });
  }
  /** Run the queued work (time passed). */
  runWork(): void {
    for (const w of this.work.splice(0)) w.work();
  }
  alloc(what: string, size: number): KernelAlloc {
    const rec = { what, size, state: 'live' as 'live' | 'freed' | 'orphan' };
    this.allocs.push(rec);
    return {
      size,
      free: () => {
        if (rec.state !== 'live') throw new Error(`double release of ${what}`);
        rec.state = 'freed';
      },
      orphan: () => {
        if (rec.state !== 'live') throw new Error(`double release of ${what}`);
        rec.state = 'orphan';
      },
    };
  }

  hits(symbol: string, kind?: 'entry' | 'return'): Trace[] {
    return this.traces.filter((t) => t.symbol === symbol && (!kind || t.kind === kind));
  }
  leaks(): string[] {
    return this.allocs.filter((a) => a.state === 'orphan').map((a) => a.what);
  }
  logText(): string[] {
    return this.logs.map((l) => l.text);
  }
}

// ------------------------------------------------------------------ memory

export class FakeSparse implements SparseMemory {
  private chunks = new Map<number, Uint8Array>();
  static readonly CHUNK = 1 << 16;
  constructor(readonly size: bigint) {}

  private each(
    address: bigint,
    length: number,
    cb: (chunk: Uint8Array | undefined, key: number, at: number, n: number, pos: number) => void,
  ): void {
    let pos = 0;
    let a = Number(address);
    while (pos < length) {
      const key = Math.floor(a / FakeSparse.CHUNK);
      const at = a % FakeSparse.CHUNK;
      const n = Math.min(length - pos, FakeSparse.CHUNK - at);
      cb(this.chunks.get(key), key, at, n, pos);
      pos += n;
      a += n;
    }
  }
  read(address: bigint, length: number): Uint8Array {
    if (address < 0n || address + BigInt(length) > this.size) throw new RangeError('sparse read out of range');
    const out = new Uint8Array(length);
    this.each(address, length, (c, _k, at, n, pos) => {
      if (c) out.set(c.subarray(at, at + n), pos);
    });
    return out;
  }
  write(address: bigint, data: Uint8Array): void {
    if (address < 0n || address + BigInt(data.byteLength) > this.size)
      throw new RangeError('sparse write out of range');
    this.each(address, data.byteLength, (c, key, at, n, pos) => {
      let chunk = c;
      if (!chunk) {
        chunk = new Uint8Array(FakeSparse.CHUNK);
        this.chunks.set(key, chunk);
      }
      chunk.set(data.subarray(pos, pos + n), at);
    });
  }
  residentBytes(): number {
    return this.chunks.size * FakeSparse.CHUNK;
  }
}

// ------------------------------------------------------------------ PCI

function bdfOf(bus: number, devfn: number): string {
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  return `0000:${hex(bus, 2)}:${hex(devfn >> 3, 2)}.${devfn & 7}`;
}

export interface TopologyOptions {
  numVfs?: number;
  /** routing-ID offset of VF0 from the PF (drivers/pci/iov.c); 0xff puts VF1 on the next bus */
  vfOffset?: number;
  vfStride?: number;
  vfBarSize?: bigint;
  /** LMEM quota per VF (0 = unprovisioned); default 256 MiB */
  quota?: (vfid: number) => bigint;
  /** VRAM block size of the LMEM objects: smaller than the quota makes them discontiguous */
  lmemBlock?: bigint;
  pfMode?: boolean;
}

const PF_BAR2 = 0x40_0000_0000n;
const VF_BAR2 = 0x50_0000_0000n;
const VRAM_SIZE = 16n * GiB;
const RAM_SIZE = 8n * GiB;

class FakeLmem implements LmemObject {
  refs = 0;
  constructor(
    readonly vfid: number,
    readonly size: bigint,
    readonly blocks: readonly VramBlock[],
  ) {}
  dpaAt(offset: bigint): bigint {
    let o = offset;
    for (const b of this.blocks) {
      if (o < b.size) return b.dpa + o;
      o -= b.size;
    }
    throw new RangeError('offset beyond the LMEM object');
  }
  get(): void {
    this.refs++;
  }
  put(): void {
    if (this.refs <= 0) throw new Error(`LMEM object of VF ${this.vfid}: put without get`);
    this.refs--;
  }
  readonly watchers = new Set<() => void>();
  onReplaced(cb: () => void): () => void {
    this.watchers.add(cb);
    return () => this.watchers.delete(cb);
  }
}

// ------------------------------------------------------------------ the platform

interface FakeFile {
  file: KernelFile;
  refs: number;
}

export class FakePlatform implements MockPlatform {
  readonly kernel: FakeKernel;
  readonly pf: PciDevice;
  readonly vfs: PciDevice[] = [];
  readonly vram = new FakeSparse(VRAM_SIZE);
  readonly ramMem = new FakeSparse(RAM_SIZE);
  readonly lmem = new Map<number, FakeLmem>();
  readonly pci: PciBus;
  readonly bus: PhysicalBus;
  readonly ram: SystemRam;
  readonly dmabuf: FakeDmaBufCore;
  readonly fds: FakeFdTable;
  readonly chardevs = new Map<string, CharDevice>();
  readonly xe: XeDriver;
  private xeState: XePfState;
  private vramNext: bigint;
  private boVram = 0n;
  private ramNext = 1n * GiB;
  readonly freedVram: VramBlock[][] = [];

  constructor(
    prof: Profile,
    readonly opts: TopologyOptions = {},
  ) {
    this.kernel = new FakeKernel(prof);
    const numVfs = opts.numVfs ?? 4;
    const vfBar = opts.vfBarSize ?? 512n * MiB;
    this.pf = {
      bdf: '0000:03:00.0',
      domain: 0,
      bus: 3,
      devfn: 0,
      vendor: 0x8086,
      device: 0xe20b,
      isVirtfn: false,
      physfn: null,
      vfIndex: null,
      bars: [
        { index: 0, start: 0x80_0000_0000n, size: 16n * MiB, kind: 'mem64', prefetchable: false },
        { index: 2, start: PF_BAR2, size: VRAM_SIZE, kind: 'mem64', prefetchable: true },
      ],
      driver: 'xe',
      iommuGroup: 10,
    };
    const offset = opts.vfOffset ?? 1;
    const stride = opts.vfStride ?? 1;
    for (let i = 0; i < numVfs; i++) {
      const rid = (3 << 8) + offset + i * stride;
      const bars: PciBar[] = [
        {
          index: 0,
          start: 0x81_0000_0000n + BigInt(i) * 16n * MiB,
          size: 16n * MiB,
          kind: 'mem64',
          prefetchable: false,
        },
        { index: 2, start: VF_BAR2 + BigInt(i) * vfBar, size: vfBar, kind: 'mem64', prefetchable: true },
      ];
      this.vfs.push({
        bdf: bdfOf(rid >> 8, rid & 0xff),
        domain: 0,
        bus: rid >> 8,
        devfn: rid & 0xff,
        vendor: 0x8086,
        device: 0xe20b,
        isVirtfn: true,
        physfn: this.pf,
        vfIndex: i,
        bars,
        driver: 'vfio-pci',
        iommuGroup: 20 + i,
      });
    }
    // LMEM objects: VF n's quota from VRAM, in blocks, interleaved with a hole so that
    // consecutive blocks are not adjacent in DPA (a discontiguous object).
    let dpa = 1n * GiB;
    const block = opts.lmemBlock;
    for (let i = 0; i < numVfs; i++) {
      const quota = opts.quota ? opts.quota(i + 1) : 256n * MiB;
      if (quota === 0n) continue;
      const blocks: VramBlock[] = [];
      let left = quota;
      while (left > 0n) {
        const sz = block && block < left ? block : left;
        blocks.push({ dpa, size: sz });
        dpa += sz + (block ? 2n * MiB : 0n);
        left -= sz;
      }
      this.lmem.set(i + 1, new FakeLmem(i + 1, quota, blocks));
    }
    this.vramNext = dpa + 64n * MiB;
    this.pci = {
      device: (bdf) => [this.pf, ...this.vfs].find((d) => d.bdf === bdf),
      devicesOnBus: (domain, bus) =>
        [this.pf, ...this.vfs].filter((d) => d.domain === domain && d.bus === bus).sort((a, b) => a.devfn - b.devfn),
      vfsOf: (pf) => (pf === this.pf ? this.vfs : []),
    };
    this.bus = {
      classify: (a) => (a < RAM_SIZE ? 'ram' : this.route(a) ? 'mmio' : 'none'),
      read: (a, n) => {
        if (a < RAM_SIZE) return this.ramMem.read(a, n);
        const r = this.route(a);
        if (!r) return new Uint8Array(n).fill(0xff);
        if (r.dpa === null) return new Uint8Array(n).fill(0xff);
        return this.vram.read(r.dpa, n);
      },
      write: (a, d) => {
        if (a < RAM_SIZE) return this.ramMem.write(a, d);
        const r = this.route(a);
        if (r && r.dpa !== null) this.vram.write(r.dpa, d);
      },
    };
    this.ram = {
      size: RAM_SIZE,
      alloc: (size) => {
        const chunks: PhysRange[] = [];
        let left = size;
        // 1 MiB chunks with gaps: a system BO is not physically contiguous
        while (left > 0n) {
          const n = left < MiB ? left : MiB;
          chunks.push({ address: this.ramNext, length: n });
          this.ramNext += n + 64n * 1024n;
          left -= n;
        }
        if (this.ramNext > RAM_SIZE) return null;
        return chunks;
      },
      free: () => undefined,
    };
    this.xeState = {
      pf: this.pf,
      vram: this.vram,
      pfMode: opts.pfMode ?? true,
      lmemObj: (vfid) => this.lmem.get(vfid) ?? null,
      lmemObjs: (vfid) => (this.lmem.has(vfid) ? [this.lmem.get(vfid)!] : []),
      allocVram: (size) => {
        if (this.vramNext + size > VRAM_SIZE) return null;
        // two blocks when large enough: VRAM BOs are not contiguous either
        const half = size >= 128n * 1024n ? (size / 2n / 65536n) * 65536n : size;
        const blocks: VramBlock[] = [{ dpa: this.vramNext, size: half }];
        this.vramNext += half + MiB;
        if (half < size) {
          blocks.push({ dpa: this.vramNext, size: size - half });
          this.vramNext += size - half;
        }
        this.boVram += size;
        return blocks;
      },
      freeVram: (blocks) => {
        this.freedVram.push([...blocks]);
        for (const b of blocks) this.boVram -= b.size;
      },
      // The VFs' LMEM objects and the PF's live BOs (this fake reserves nothing for the PF itself).
      vramUsed: () => [...this.lmem.values()].reduce((sum, o) => sum + o.size, 0n) + this.boVram,
    };
    this.fds = new FakeFdTable();
    this.dmabuf = new FakeDmaBufCore(this);
    this.xe = createXeDriver(this, this.pf);
    this.xe.bind();
  }

  /** Bus address -> DPA through the PF BAR or a VF BAR (the LMTT); dpa null: decoded but unbacked. */
  private route(a: bigint): { dpa: bigint | null } | null {
    const pfBar = this.pf.bars.find((b) => b.index === 2)!;
    if (a >= pfBar.start && a < pfBar.start + pfBar.size) return { dpa: a - pfBar.start };
    for (const vf of this.vfs) {
      const bar = vf.bars.find((b) => b.index === 2)!;
      if (a >= bar.start && a < bar.start + bar.size) {
        const lm = this.lmem.get(vf.vfIndex! + 1);
        const off = a - bar.start;
        return { dpa: lm && off < lm.size ? lm.dpaAt(off) : null };
      }
    }
    return null;
  }

  xePf(pf: PciDevice): XePfState | null {
    return pf === this.pf ? this.xeState : null;
  }
  addCharDevice(dev: CharDevice): void {
    this.chardevs.set(dev.path, dev);
  }
  removeCharDevice(path: string): void {
    this.chardevs.delete(path);
  }
  addTextFile(): void {
    throw new Error('fake platform has no text files');
  }
  removeFile(): void {
    throw new Error('fake platform has no text files');
  }

  vfBar2(vfIndex: number): { start: bigint; size: bigint } {
    const bar = this.vfs[vfIndex]!.bars.find((b) => b.index === 2)!;
    return { start: bar.start, size: bar.size };
  }

  /** CPU access through VF BAR 2 (what a VFIO region read/write does). */
  barRead(vfIndex: number, offset: bigint, length: number): Uint8Array {
    return this.bus.read(this.vfBar2(vfIndex).start + offset, length);
  }
  barWrite(vfIndex: number, offset: bigint, data: Uint8Array): void {
    this.bus.write(this.vfBar2(vfIndex).start + offset, data);
  }

  // -------------------------------------------------------------- DeviceOps

  private dispatch(fd: number, name: string, args: unknown[]): unknown {
    const file = this.fds.get(fd);
    const h = (file.handlers as Record<string, ((...a: unknown[]) => unknown) | undefined>)[name];
    if (!h) throw new SystemError({ errno: Errno.ENOTTY, syscall: 'ioctl', request: name, path: file.path });
    return h(...args);
  }

  readonly dev: DeviceOps = new Proxy({} as DeviceOps, {
    get: (_t, name: string) => {
      if (name === 'open') {
        return (path: string, flags: number) => {
          const cd = this.chardevs.get(path);
          if (!cd) throw new SystemError({ errno: Errno.ENOENT, syscall: 'open', path });
          return this.fds.install(cd.open(flags), flags);
        };
      }
      if (name === 'close') return (fd: number) => this.fds.close(fd);
      return (fd: number, ...args: unknown[]) => this.dispatch(fd, name, args);
    },
  });

  backend(): Backend {
    const fs = new Proxy({} as FileOps, {
      get: () => () => {
        throw new SystemError({ errno: Errno.ENOENT, syscall: 'open' });
      },
    });
    return { reason: 'test fake', dev: this.dev, fs, traits: FAKE_TRAITS, close: () => undefined };
  }

  // -------------------------------------------------------------- exporters

  /** vfio-pci DMA_BUF of VF `vfIndex`'s BAR `bar` over [offset, length] pairs (docs/kernel.md §3). */
  exportVf(vfIndex: number, ranges: readonly [offset: bigint, length: bigint][], bar = 2): VfioBuf {
    return new VfioBuf(this, this.vfs[vfIndex]!, bar, ranges);
  }

  /** A buffer whose ranges are arbitrary bus addresses of several VFs (RFC quirk 3: not possible through vfio). */
  exportPhys(owner: PciDevice, phys: readonly [address: bigint, length: bigint][]): VfioBuf {
    return new VfioBuf(
      this,
      owner,
      2,
      phys.map(([a, l]) => [a, l] as [bigint, bigint]),
      true,
    );
  }

  /** A system-memory exporter (udmabuf-like): pages in RAM. */
  exportRam(size: bigint): { fd: number; chunks: readonly PhysRange[] } {
    const chunks = this.ram.alloc(size)!;
    const ops: ExporterOps = {
      attach: () => null,
      map: () => ({ entries: chunks.map((c) => ({ address: c.address, length: c.length })) }),
      unmap: () => undefined,
      release: () => undefined,
    };
    const { fd } = this.dmabuf.export('udmabuf', size, ops, 2);
    return { fd, chunks };
  }
}

export class VfioBuf {
  readonly fd: number;
  readonly dmabuf: DmaBufObject;
  revoked = false;
  maps = 0;
  interconnectMaps = 0;
  private readonly paddrs: [bigint, bigint][];

  constructor(
    p: FakePlatform,
    readonly vf: PciDevice,
    readonly bar: number,
    ranges: readonly [bigint, bigint][],
    absolute = false,
  ) {
    const base = vf.bars.find((b) => b.index === bar)!.start;
    this.paddrs = ranges.map(([o, l]) => [absolute ? o : base + o, l]);
    const size = ranges.reduce((s, [, l]) => s + l, 0n);
    const offer: InterconnectOffer = { type: 'iov', dev: vf, bar };
    const ops: ExporterOps = {
      // RFC 4/8 vfio_pci_dma_buf_attach: an IOV match returns before the gates
      attach: (att) => {
        if (att.interconnectAllowed && p.dmabuf.matchInterconnects(att, [offer])) return offer;
        if (!att.importer.allowPeer2peer) throw new SystemError({ errno: Errno.EOPNOTSUPP, syscall: 'attach' });
        if (this.revoked) throw new SystemError({ errno: Errno.ENODEV, syscall: 'attach' });
        return null;
      },
      map: () => {
        if (this.revoked) throw new SystemError({ errno: Errno.ENODEV, syscall: 'map' });
        this.maps++;
        return { entries: this.paddrs.map(([a, l]) => ({ address: a, length: l })) };
      },
      unmap: () => {
        this.maps--;
      },
      mapInterconnect: () => {
        this.interconnectMaps++;
        return { ranges: this.paddrs.map(([a, l]) => ({ start: a, end: a + l - 1n })) };
      },
      unmapInterconnect: () => {
        this.interconnectMaps--;
      },
      release: () => undefined,
    };
    const made = p.dmabuf.export('vfio_pci_core', size, ops, 2);
    this.fd = made.fd;
    this.dmabuf = made.dmabuf;
  }

  /** vfio_pci_dma_buf_move(revoked=true): invalidate importers; the caller checks `maps` for the wait. */
  revoke(): void {
    this.revoked = true;
    for (const a of [...this.dmabuf.attachments]) a.importer.invalidateMappings?.(a);
  }

  unrevoke(): void {
    for (const a of [...this.dmabuf.attachments]) a.importer.invalidateMappings?.(a);
    this.revoked = false;
  }
}

// ------------------------------------------------------------------ dma-buf core

interface FakeDmaBuf extends DmaBufObject {
  ops: ExporterOps;
  refs: number;
  attachments: Attachment[];
}

type FakeAttachment = { -readonly [K in keyof Attachment]: Attachment[K] };

export class FakeDmaBufCore implements DmaBufCore {
  private ino = 100;
  constructor(private readonly p: FakePlatform) {}

  private file(buf: FakeDmaBuf): KernelFile {
    return {
      path: '/dmabuf:',
      handlers: {},
      fdinfo: () => [`size:\t${buf.size}`, `exp_name:\t${buf.expName}`],
      release: () => this.unref(buf),
    };
  }

  export(expName: string, size: bigint, ops: ExporterOps, openFlags: number): { dmabuf: DmaBufObject; fd: number } {
    const buf: FakeDmaBuf = { ino: ++this.ino, size, expName, name: null, attachments: [], ops, refs: 1 };
    return { dmabuf: buf, fd: this.p.fds.install(this.file(buf), openFlags, buf) };
  }
  fd(dmabuf: DmaBufObject, openFlags: number): number {
    const buf = dmabuf as FakeDmaBuf;
    buf.refs++;
    return this.p.fds.install(this.file(buf), openFlags, buf);
  }
  get(fd: number): DmaBufObject {
    const buf = this.p.fds.dmabufOf(fd);
    if (!buf) throw new SystemError({ errno: Errno.EINVAL, syscall: 'dma_buf_get' });
    return buf;
  }
  ref(dmabuf: DmaBufObject): void {
    (dmabuf as FakeDmaBuf).refs++;
  }
  unref(dmabuf: DmaBufObject): void {
    const buf = dmabuf as FakeDmaBuf;
    if (buf.refs <= 0) throw new Error('dma-buf reference underflow');
    if (--buf.refs === 0) buf.ops.release();
  }
  freed(dmabuf: DmaBufObject): boolean {
    return (dmabuf as FakeDmaBuf).refs === 0;
  }
  refsOf(dmabuf: DmaBufObject): number {
    return (dmabuf as FakeDmaBuf).refs;
  }
  /** dma_buf_match_interconnects: the importer is asked, then the lists are matched (docs/profiles.md, rfc-v1 "Attach"). */
  matchInterconnects(att: Attachment, offers: readonly InterconnectOffer[]): boolean {
    att.importer.supportsInterconnects?.(att, offers);
    const mine = att.importer.interconnects ?? [];
    const hit = offers.some((o) =>
      mine.some((m) => m.type === o.type && m.dev === (o.dev.physfn ?? o.dev) && m.bar === o.bar),
    );
    this.p.kernel.trace('dma_buf_match_interconnects', 'return', { retval: hit ? 1 : 0 });
    return hit;
  }
  attach(dmabuf: DmaBufObject, devName: string, dev: PciDevice | null, importer: ImporterOps): Attachment {
    const buf = dmabuf as FakeDmaBuf;
    const att: FakeAttachment = {
      dmabuf,
      devName,
      dev,
      importer,
      dynamic: !!importer.invalidateMappings,
      interconnect: null,
    };
    const allowed = this.p.kernel.profile.interconnect && !!importer.interconnects;
    att.interconnect = buf.ops.attach({ ...att, interconnectAllowed: allowed });
    buf.attachments.push(att);
    return att;
  }
  detach(attachment: Attachment): void {
    const buf = attachment.dmabuf as FakeDmaBuf;
    buf.attachments = buf.attachments.filter((a) => a !== attachment);
  }
  mapAttachment(attachment: Attachment): SgTable {
    this.p.kernel.trace('dma_buf_map_attachment', 'entry', { arg1: 0n });
    return (attachment.dmabuf as FakeDmaBuf).ops.map(attachment);
  }
  unmapAttachment(attachment: Attachment, sgt: SgTable): void {
    (attachment.dmabuf as FakeDmaBuf).ops.unmap(attachment, sgt);
  }
  mapInterconnect(attachment: Attachment): InterconnectRanges {
    if (!attachment.dynamic) throw new SystemError({ errno: Errno.EINVAL, syscall: 'dma_buf_map_interconnect' });
    if (!attachment.interconnect)
      throw new SystemError({ errno: Errno.EOPNOTSUPP, syscall: 'dma_buf_map_interconnect' });
    const r = (attachment.dmabuf as FakeDmaBuf).ops.mapInterconnect!(attachment);
    this.p.kernel.trace('dma_buf_map_interconnect', 'return', { retval: 0xffff888200000000n });
    return r;
  }
  unmapInterconnect(attachment: Attachment, ranges: InterconnectRanges): void {
    this.p.kernel.trace('dma_buf_unmap_interconnect', 'entry', { arg1: 0n });
    (attachment.dmabuf as FakeDmaBuf).ops.unmapInterconnect!(attachment, ranges);
  }
}

// ------------------------------------------------------------------ fds

export class FakeFdTable implements FdTable {
  private table = new Map<number, { file: KernelFile; buf?: DmaBufObject }>();
  private files = new Map<KernelFile, FakeFile>();

  install(file: KernelFile, _flags: number, buf?: DmaBufObject): number {
    let fd = 3;
    while (this.table.has(fd)) fd++;
    this.table.set(fd, { file, ...(buf ? { buf } : {}) });
    const f = this.files.get(file) ?? { file, refs: 0 };
    f.refs++;
    this.files.set(file, f);
    return fd;
  }
  get(fd: number): KernelFile {
    const e = this.table.get(fd);
    if (!e) throw new SystemError({ errno: Errno.EBADF, syscall: 'ioctl' });
    return e.file;
  }
  has(fd: number): boolean {
    return this.table.has(fd);
  }
  dmabufOf(fd: number): DmaBufObject | undefined {
    const e = this.table.get(fd);
    if (!e) throw new SystemError({ errno: Errno.EBADF, syscall: 'dma_buf_get' });
    return e.buf;
  }
  close(fd: number): void {
    const e = this.table.get(fd);
    if (!e) throw new SystemError({ errno: Errno.EBADF, syscall: 'close' });
    this.table.delete(fd);
    const f = this.files.get(e.file)!;
    if (--f.refs === 0) {
      this.files.delete(e.file);
      e.file.release();
    }
  }
  get open(): number {
    return this.table.size;
  }
}
