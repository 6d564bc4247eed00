// System memory the models allocate (contracts.ts SystemRam), memfd, and
// /dev/udmabuf: the system-memory control exporter (drivers/dma-buf/udmabuf.c: a
// udmabuf imports fine into vgem; docs/kernel.md §10).
//
// memfd (mm/memfd.c): MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB |
// MFD_NOEXEC_SEAL | MFD_EXEC; without ALLOW_SEALING (or NOEXEC_SEAL) the file
// starts with F_SEAL_SEAL. F_ADD_SEALS: EPERM once F_SEAL_SEAL is set, EINVAL
// for unknown seals or a file that is not shmem; F_SEAL_EXEC on an executable
// memfd adds the write seals. ftruncate: EPERM against SHRINK/GROW seals.
//
// udmabuf (drivers/dma-buf/udmabuf.c, UDMABUF_CREATE): offset and size page
// aligned, size at most size_limit_mb (64 MiB), not 0, within the file, the
// memfd shmem (else EBADFD, a closed fd too) with F_SEAL_SHRINK and without
// F_SEAL_WRITE: EINVAL otherwise; flag bits beyond UDMABUF_FLAGS_CLOEXEC are
// ignored. The dma-buf exports the
// memfd's pages (exp_name `udmabuf`), attaches to any importer, maps to their
// physical addresses, and can be mmapped.

import type { Mapping, UdmabufCreate } from '../backend/types.js';
import type { Attachment, KernelFile, PhysRange, SystemRam } from './contracts.js';
import { fail } from './errno.js';
import type { DmaBufCoreImpl } from './dmabuf.js';
import { sgFromPacked } from './dmabuf.js';
import type { FdTableImpl } from './fds.js';
import { MNT, O_LARGEFILE } from './fds.js';
import type { KernelCore } from './kernel.js';
import type { MappingRegistry } from './mapping.js';
import type { PhysicalBusImpl } from './physbus.js';
import { BuddyAllocator } from './vram.js';
import type { Vfs } from './vfs.js';
import { F_SEAL, MFD, O, PROT, UDMABUF } from '../uapi/constants.js';

const PAGE = 4096;
/** RAM the kernel itself uses at boot, never handed out (the low 256 MiB of the first range). */
const KERNEL_RESERVED = 256 * 1024 * 1024;
const UDMABUF_SIZE_LIMIT = 64 * 1024 * 1024; // udmabuf.size_limit_mb default
const MFD_HUGETLB = 4;
const MFD_NOEXEC_SEAL = 8;
const MFD_EXEC = 0x10;
const F_SEAL_FUTURE_WRITE = 0x10;
const F_SEAL_EXEC = 0x20;

/** alloc_pages over the topology's RAM ranges; freed pages are cleared. */
export class SystemRamImpl implements SystemRam {
  readonly size: bigint;
  private readonly pools: BuddyAllocator[] = [];

  constructor(
    ranges: readonly { start: bigint; size: bigint }[],
    private readonly bus: PhysicalBusImpl,
  ) {
    this.size = ranges.reduce((a, r) => a + r.size, 0n);
    for (const [i, r] of ranges.entries()) {
      const skip = i === 0 ? Math.min(KERNEL_RESERVED, Number(r.size)) : 0;
      const usable = Number(r.size) - skip;
      if (usable >= PAGE) this.pools.push(new BuddyAllocator(Number(r.start) + skip, usable, PAGE));
    }
  }

  alloc(size: bigint): readonly PhysRange[] | null {
    if (size <= 0n || size % BigInt(PAGE) !== 0n)
      throw new RangeError(`SystemRam.alloc: ${size} is not a positive page multiple`);
    // Up to order-9 (2 MiB) pieces, like the TTM page pool; the highest pool first.
    for (const pool of [...this.pools].reverse()) {
      if (BigInt(pool.availBytes()) < size) continue;
      const blocks = pool.alloc(Number(size), PAGE, 2 * 1024 * 1024);
      if (!blocks) continue;
      for (const b of blocks) this.bus.ram.clear(b.dpa, b.size);
      return blocks.map((b) => ({ address: b.dpa, length: b.size }));
    }
    return null;
  }

  free(chunks: readonly PhysRange[]): void {
    for (const c of chunks) {
      this.bus.ram.clear(c.address, c.length);
      const pool = this.pools.find((p) => c.address >= BigInt(p.base) && c.address < BigInt(p.base + p.size));
      pool?.freeBlocks([{ dpa: c.address, size: c.length }]);
    }
  }

  availBytes(): number {
    return this.pools.reduce((a, p) => a + p.availBytes(), 0);
  }
}

/** A memfd's pages: extents of RAM in file order (grows by appending). */
export class MemfdFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];
  seals: number;
  size = 0n;
  extents: PhysRange[] = [];
  /** udmabufs holding the pages */
  pins = 0;
  writableMaps = 0;

  constructor(
    readonly name: string,
    private readonly sys: SysMem,
    allowSealing: boolean,
    /** mode 0777 rather than 0666: made with MFD_EXEC, or with neither EXEC nor NOEXEC_SEAL (vm.memfd_noexec 0) */
    readonly executable = true,
  ) {
    this.seals = allowSealing ? 0 : F_SEAL.SEAL;
    this.handlers = {
      ftruncate: (size: bigint) => sys.truncate(this, size),
      addSeals: (seals: number) => sys.addSeals(this, seals),
      mmap: (offset: bigint, length: number, prot: number) => sys.mmapMemfd(this, offset, length, prot),
    };
  }

  get path(): string {
    return `/memfd:${this.name} (deleted)`;
  }

  fdinfo(): string[] {
    return [];
  }

  release(): void {
    if (this.pins === 0) this.sys.freeExtents(this);
  }

  /** Physical address of file offset `off` and how many bytes follow contiguously. */
  physAt(off: bigint): { address: bigint; run: bigint } | null {
    let base = 0n;
    for (const e of this.extents) {
      if (off < base + e.length) return { address: e.address + (off - base), run: e.length - (off - base) };
      base += e.length;
    }
    return null;
  }
}

class UdmabufDevFile implements KernelFile {
  readonly path = '/dev/udmabuf';
  readonly handlers: KernelFile['handlers'];
  constructor(sys: SysMem) {
    this.handlers = { udmabufCreate: (args: UdmabufCreate) => sys.udmabufCreate(args) };
  }
  fdinfo(): string[] {
    return [];
  }
  release(): void {}
}

export class SysMem {
  private memfds = 0;
  private udmabufs = 0;

  constructor(
    private readonly kernel: KernelCore,
    private readonly fds: FdTableImpl,
    private readonly dmabuf: DmaBufCoreImpl,
    private readonly bus: PhysicalBusImpl,
    readonly ram: SystemRamImpl,
    vfs: Vfs,
    private readonly maps: MappingRegistry,
  ) {
    vfs.addChar('/dev/udmabuf', {
      path: '/dev/udmabuf',
      major: 10,
      minor: 125,
      mode: 0o660,
      open: () => {
        const f = new UdmabufDevFile(this);
        this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1002, flags: O.RDWR | O_LARGEFILE });
        return f;
      },
    });
  }

  live(): { memfds: number; udmabufs: number } {
    return { memfds: this.memfds, udmabufs: this.udmabufs };
  }

  memfdCreate(name: string, flags: number): number {
    if (flags & ~(MFD.CLOEXEC | MFD.ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC))
      fail('EINVAL', 'unknown memfd flags');
    if (flags & MFD_NOEXEC_SEAL && flags & MFD_EXEC) fail('EINVAL');
    if (Buffer.byteLength(name, 'utf8') > 249) fail('EINVAL', 'name longer than 249 bytes');
    if (flags & MFD_HUGETLB) fail('EINVAL', 'no hugetlbfs pages configured');
    // memfd_alloc_file: MFD_NOEXEC_SEAL clears the x bits, and F_SEAL_SEAL even without MFD_ALLOW_SEALING,
    // and sets F_SEAL_EXEC; otherwise (check_sysctl_memfd_noexec, vm.memfd_noexec 0) the file is executable.
    const noexec = (flags & MFD_NOEXEC_SEAL) !== 0;
    const f = new MemfdFile(name, this, (flags & MFD.ALLOW_SEALING) !== 0 || noexec, !noexec);
    if (noexec) f.seals |= F_SEAL_EXEC;
    this.fds.describe(f, { mntId: MNT.shm, flags: O.RDWR | O_LARGEFILE });
    const fd = this.fds.install(f, flags & MFD.CLOEXEC ? O.CLOEXEC : 0);
    this.memfds++;
    return fd;
  }

  truncate(f: MemfdFile, size: bigint): void {
    if (size < 0n) fail('EINVAL');
    if (size < f.size && f.seals & F_SEAL.SHRINK) fail('EPERM', 'F_SEAL_SHRINK');
    if (size > f.size && f.seals & F_SEAL.GROW) fail('EPERM', 'F_SEAL_GROW');
    const have = f.extents.reduce((a, e) => a + e.length, 0n);
    const want = ((size + BigInt(PAGE) - 1n) / BigInt(PAGE)) * BigInt(PAGE);
    if (want > have) {
      const got = this.ram.alloc(want - have);
      if (!got) fail('ENOSPC');
      f.extents.push(...got);
    } else if (want < have) {
      // shmem_truncate_range: pages past the new end go back.
      let keep = want;
      const kept: PhysRange[] = [];
      const drop: PhysRange[] = [];
      for (const e of f.extents) {
        if (keep >= e.length) {
          kept.push(e);
          keep -= e.length;
        } else {
          drop.push(e);
        }
      }
      f.extents = kept;
      this.ram.free(drop);
    }
    // Bytes past the new size in the last page read as zero after a shrink.
    if (size < f.size && size % BigInt(PAGE) !== 0n) {
      const p = f.physAt(size);
      if (p) this.bus.ram.clear(p.address, BigInt(PAGE) - (size % BigInt(PAGE)));
    }
    f.size = size;
  }

  addSeals(f: MemfdFile, seals: number): void {
    if (seals & ~(F_SEAL.SEAL | F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC))
      fail('EINVAL', 'unknown seals');
    if (f.seals & F_SEAL.SEAL) fail('EPERM', 'F_SEAL_SEAL is set');
    // memfd_add_seals: F_SEAL_EXEC on an executable file implies the write seals (W^X from then on).
    if (seals & F_SEAL_EXEC && f.executable) seals |= F_SEAL.SHRINK | F_SEAL.GROW | F_SEAL.WRITE | F_SEAL_FUTURE_WRITE;
    if (seals & F_SEAL.WRITE && !(f.seals & F_SEAL.WRITE) && f.writableMaps > 0)
      fail('EBUSY', 'writable mappings exist');
    f.seals |= seals;
  }

  freeExtents(f: MemfdFile): void {
    this.ram.free(f.extents);
    f.extents = [];
    this.memfds--;
  }

  mmapMemfd(f: MemfdFile, offset: bigint, length: number, prot: number): Mapping {
    if (length <= 0 || offset < 0n || offset % BigInt(PAGE) !== 0n) fail('EINVAL');
    if (prot & PROT.WRITE && f.seals & (F_SEAL.WRITE | F_SEAL_FUTURE_WRITE)) fail('EPERM', 'write-sealed');
    this.fds.ref(f);
    const writable = (prot & PROT.WRITE) !== 0;
    if (writable) f.writableMaps++;
    return this.maps.create(length, this.fileBacking(f, offset), () => {
      if (writable) f.writableMaps--;
      this.fds.unref(f);
    });
  }

  private fileBacking(f: MemfdFile, base: bigint) {
    const walk = (o: number, n: number, fn: (phys: bigint, at: number, len: number) => void) => {
      let done = 0;
      while (done < n) {
        const p = f.physAt(base + BigInt(o + done));
        // Beyond the end of the file: SIGBUS in a real process.
        if (!p) fail('EFAULT', 'SIGBUS: access beyond the end of the memfd');
        const len = Math.min(n - done, Number(p.run));
        fn(p.address, done, len);
        done += len;
      }
    };
    return {
      read: (o: number, out: Uint8Array) =>
        walk(o, out.length, (phys, at, len) => this.bus.ram.readInto(phys, out.subarray(at, at + len))),
      write: (o: number, data: Uint8Array) =>
        walk(o, data.length, (phys, at, len) => this.bus.ram.write(phys, data.subarray(at, at + len))),
    };
  }

  /**
   * UDMABUF_CREATE (udmabuf_create with one item), in its order: alignment,
   * size_limit_mb and size 0 (EINVAL); fget of the memfd (EBADFD, not EBADF);
   * check_memfd_seals (not shmem EBADFD; F_SEAL_SHRINK missing or a write
   * seal EINVAL); then the pages (memfd_pin_folios: beyond the file EINVAL).
   * Flag bits other than UDMABUF_FLAGS_CLOEXEC are ignored.
   */
  udmabufCreate(args: UdmabufCreate): number {
    const flags = args.flags ?? 0;
    if (args.offset % BigInt(PAGE) !== 0n || args.size % BigInt(PAGE) !== 0n)
      fail('EINVAL', 'offset or size not page aligned');
    if (args.size > BigInt(UDMABUF_SIZE_LIMIT)) fail('EINVAL', 'size beyond size_limit_mb');
    if (args.size === 0n) fail('EINVAL', 'size 0');
    if (!this.fds.has(args.memfd)) fail('EBADFD', 'memfd is not an open fd');
    const file = this.fds.get(args.memfd);
    if (!(file instanceof MemfdFile)) fail('EBADFD', 'not a shmem file');
    if ((file.seals & F_SEAL.SHRINK) === 0 || (file.seals & (F_SEAL.WRITE | F_SEAL_FUTURE_WRITE)) !== 0)
      fail('EINVAL', 'memfd needs F_SEAL_SHRINK and no write seal');
    if (args.offset < 0n || args.offset + args.size > file.size) fail('EINVAL', 'range beyond the memfd');
    // The pages, as [phys, len] runs.
    const runs: bigint[] = [];
    for (let off = args.offset; off < args.offset + args.size; ) {
      const p = file.physAt(off)!;
      const len = p.run < args.offset + args.size - off ? p.run : args.offset + args.size - off;
      runs.push(p.address, len);
      off += len;
    }
    const packed = BigUint64Array.from(runs);
    file.pins++;
    this.fds.ref(file);
    this.udmabufs++;
    const size = args.size;
    const { fd } = this.dmabuf.export(
      'udmabuf',
      size,
      {
        // udmabuf_ops has no attach op: any importer attaches.
        attach: () => null,
        map: (_a: Attachment) => sgFromPacked(packed.slice()),
        unmap: () => undefined,
        mmap: (offset: bigint, length: number, prot: number) => {
          this.fds.ref(file);
          return this.maps.create(length, this.fileBacking(file, args.offset + offset), () => {
            void prot;
            this.fds.unref(file);
          });
        },
        release: () => {
          file.pins--;
          this.udmabufs--;
          this.fds.unref(file);
        },
      },
      O.RDWR | (flags & UDMABUF.FLAGS_CLOEXEC ? O.CLOEXEC : 0),
    );
    this.kernel.trace('udmabuf_create', 'entry', { arg2: size });
    return fd;
  }
}
