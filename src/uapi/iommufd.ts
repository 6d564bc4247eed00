// /dev/iommu (drivers/iommu/iommufd/; docs/iommufd.md): the iommufd context,
// its IO address spaces, and iommufd as a dma-buf importer through
// IOMMU_IOAS_MAP_FILE. Each object owns what it allocated and undoes it in
// close()/unmap()/destroy(), idempotently, so a scenario can register them as
// cleanups.
//
// Works on any Backend: the same code drives a real kernel and the mock.
import type { Backend, Fd, IommuIovaRanges } from '../backend/types.js';
import { IOMMU, O } from './constants.js';
import type { DmaBuf } from './dmabuf.js';

/** IOMMU_IOAS_UNMAP's "everything": iova 0, length U64_MAX (iommufd_ioas_unmap). */
export const UNMAP_ALL_LENGTH = (1n << 64n) - 1n;

/** Where a file is mapped: `auto` lets the kernel choose (iopt_alloc_iova), a bigint fixes it. */
export type IovaChoice = 'auto' | bigint;

export interface MapFileOptions {
  /** Byte offset into the file (default 0). */
  start?: bigint | number;
  /** Bytes to map (default: the whole dma-buf, from its fdinfo size). */
  length?: bigint | number;
  /** `auto` (default) or an IOVA for IOMMU_IOAS_MAP_FIXED_IOVA. */
  iova?: IovaChoice;
  /** DMA access: default read and write. */
  access?: { read: boolean; write: boolean };
  /** Raw map flags, replacing what iova and access give (to reach the kernel's flag checks). */
  flags?: number;
}

/** The flags MAP_FILE gets for `options` (ioas.c iommufd_ioas_map_file reads FIXED_IOVA, WRITEABLE, READABLE). */
export function mapFileFlags(options: MapFileOptions): number {
  if (options.flags !== undefined) return options.flags;
  const access = options.access ?? { read: true, write: true };
  let flags = 0;
  if (access.read) flags |= IOMMU.IOAS_MAP_READABLE;
  if (access.write) flags |= IOMMU.IOAS_MAP_WRITEABLE;
  if (options.iova !== undefined && options.iova !== 'auto') flags |= IOMMU.IOAS_MAP_FIXED_IOVA;
  return flags;
}

function u64(v: bigint | number, what: string): bigint {
  const b = typeof v === 'number' ? BigInt(v) : v;
  if (typeof v === 'number' && (!Number.isSafeInteger(v) || v < 0))
    throw new RangeError(`${what} must be a non-negative integer, got ${v}`);
  if (b < 0n || b >= 1n << 64n) throw new RangeError(`${what} does not fit in a u64: ${b}`);
  return b;
}

export class Iommufd {
  private open = true;

  private constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly path: string,
  ) {}

  static open(backend: Backend, path = '/dev/iommu'): Iommufd {
    return new Iommufd(backend, backend.dev.open(path, O.RDWR | O.CLOEXEC), path);
  }

  /** Is there an iommufd to open (CONFIG_IOMMUFD; Debian's 7.2 has none, docs/kernel.md §4)? */
  static present(backend: Backend, path = '/dev/iommu'): boolean {
    return backend.fs.exists(path);
  }

  get closed(): boolean {
    return !this.open;
  }

  /** IOMMU_IOAS_ALLOC: the id of a new, empty IOAS. */
  ioasAlloc(flags = 0): number {
    return this.backend.dev.iommuIoasAlloc(this.fd, flags);
  }

  /** A new IOAS as an object that destroys itself. */
  allocIoas(): Ioas {
    return new Ioas(this, this.ioasAlloc());
  }

  /** IOMMU_DESTROY of an object id. */
  destroy(id: number): void {
    this.backend.dev.iommuDestroy(this.fd, id);
  }

  iovaRanges(ioasId: number): IommuIovaRanges {
    return this.backend.dev.iommuIoasIovaRanges(this.fd, ioasId);
  }

  /** IOMMU_IOAS_MAP_FILE of `file` (a dma-buf fd or a memfd); returns the IOVA. */
  mapFile(ioasId: number, file: Fd, options: MapFileOptions & { length: bigint | number }): bigint {
    const iova = options.iova === undefined || options.iova === 'auto' ? 0n : u64(options.iova, 'iova');
    return this.backend.dev.iommuIoasMapFile(this.fd, {
      ioasId,
      flags: mapFileFlags(options),
      fd: file,
      start: u64(options.start ?? 0, 'start'),
      length: u64(options.length, 'length'),
      iova,
    });
  }

  /** IOMMU_IOAS_UNMAP; returns the bytes unmapped. */
  unmap(ioasId: number, iova: bigint, length: bigint): bigint {
    return this.backend.dev.iommuIoasUnmap(this.fd, ioasId, iova, length);
  }

  /** Closing the context destroys every object in it (iommufd_fops_release). Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}

/** One IOAS of an Iommufd. */
export class Ioas {
  private live = true;

  constructor(
    readonly iommufd: Iommufd,
    readonly id: number,
  ) {}

  get destroyed(): boolean {
    return !this.live;
  }

  ranges(): IommuIovaRanges {
    return this.iommufd.iovaRanges(this.id);
  }

  /**
   * Map a dma-buf (or a memfd given by fd): iommufd attaches to the dma-buf
   * with its own device (/dev/iommu's misc device), so the exporter's rules
   * apply, not how the exporting VFIO device was opened (docs/iommufd.md).
   */
  map(file: DmaBuf | Fd, options: MapFileOptions = {}): IoasMapping {
    const fd = typeof file === 'number' ? file : file.fd;
    const length = options.length ?? (typeof file === 'number' ? undefined : file.fdinfo().size) ?? missingLength(fd);
    const iova = this.iommufd.mapFile(this.id, fd, { ...options, length });
    return new IoasMapping(this, iova, u64(length, 'length'));
  }

  /** IOMMU_IOAS_UNMAP of everything mapped; returns the bytes unmapped (0 on an empty IOAS: iopt_unmap_all succeeds). */
  unmapAll(): bigint {
    return this.iommufd.unmap(this.id, 0n, UNMAP_ALL_LENGTH);
  }

  /** IOMMU_DESTROY; what is still mapped is unmapped by the kernel (iommufd_ioas_destroy). Idempotent. */
  destroy(): void {
    if (!this.live) return;
    this.live = false;
    if (this.iommufd.closed) return;
    this.iommufd.destroy(this.id);
  }
}

function missingLength(fd: Fd): never {
  throw new RangeError(`mapping fd ${fd}: give a length (only a DmaBuf knows its size)`);
}

/** A file mapped into an IOAS at [iova, iova + length). */
export class IoasMapping {
  private mapped = true;

  constructor(
    readonly ioas: Ioas,
    readonly iova: bigint,
    readonly length: bigint,
  ) {}

  get unmapped(): boolean {
    return !this.mapped;
  }

  /** IOMMU_IOAS_UNMAP of exactly this mapping; returns the bytes unmapped. Idempotent (0 the second time). */
  unmap(): bigint {
    if (!this.mapped) return 0n;
    this.mapped = false;
    if (this.ioas.destroyed || this.ioas.iommufd.closed) return 0n;
    return this.ioas.iommufd.unmap(this.ioas.id, this.iova, this.length);
  }
}
