// iovh's stand-in importer module, from userspace: /dev/iovh-ic
// (kernel/iovh-ic-importer/main.c; its uAPI is core/uapi/iovh_ic.h, and
// test/uapi/iovh-ic.test.ts keeps these numbers equal to that header's).
//
// The module imports a dma-buf the way xe does in the IOV interconnect
// series: a dynamic attach offering IOV (importer device, BAR), the
// interconnect map under the reservation lock, falling back to the
// scatter-gather map; it reports what it negotiated and the ranges it got,
// and reads and writes the exported memory through those ranges
// (docs/rfc-kernel.md).
import type { Backend, Fd, IcImported, IcInfo, IcMapResult, IcVersion } from '../backend/types.js';
import { parseBdf } from './bdf.js';
import { O } from './constants.js';

export const IOVH_IC = {
  DEVICE: '/dev/iovh-ic',
  ABI_VERSION: 1,
  API_NONE: 0,
  API_RFC_V1: 1,
  API_RFC_V2: 2,
  KEEP_LEAK: 0,
  KEEP_UNMAP: 1,
  IMPORT_OFFER_IOV: 1 << 0,
  IMPORT_P2P: 1 << 1,
  IMPORT_REVOCABLE: 1 << 2,
  /** what xe's attach ops offer: all three */
  IMPORT_XE: (1 << 0) | (1 << 1) | (1 << 2),
  /** keep the sg mapping across invalidate_mappings until the next map or release, as xe does */
  IMPORT_DEFER_UNMAP: 1 << 3,
  IMPORT_FLAGS: (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3),
  PATH_NONE: 0,
  PATH_IOV: 1,
  PATH_SG: 2,
  STATE_NEGOTIATED: 1 << 0,
  STATE_MAPPED: 1 << 1,
  STATE_INVALIDATED: 1 << 2,
  RW_READ: 0,
  RW_WRITE: 1,
  RW_MAX: 1 << 20,
  /**
   * Ranges IOVH_IC_INFO copies out at most, whatever the room given: the
   * module's own limit (kernel/iovh-ic-importer/main.c IOVH_IC_INFO_MAX,
   * iovh_ic_info: min3(held, room, IOVH_IC_INFO_MAX)), not part of the header.
   */
  INFO_MAX: 1 << 20,
} as const;

export type IcApi = 'none' | 'rfc-v1' | 'rfc-v2';

export function icApiName(api: number): IcApi | `unknown (${number})` {
  if (api === IOVH_IC.API_NONE) return 'none';
  if (api === IOVH_IC.API_RFC_V1) return 'rfc-v1';
  if (api === IOVH_IC.API_RFC_V2) return 'rfc-v2';
  return `unknown (${api})`;
}

export type IcPath = 'none' | 'iov' | 'sg';

export function icPathName(path: number): IcPath {
  if (path === IOVH_IC.PATH_IOV) return 'iov';
  if (path === IOVH_IC.PATH_SG) return 'sg';
  return 'none';
}

/** What to offer at import: xe's whole set unless a scenario takes part of it away. */
export interface IcImportOptions {
  /** PCI device the attachment is made for (xe: its own PF). */
  importer: string;
  /** BAR offered with IOV (xe: LMEM_BAR = 2). */
  bar?: number;
  flags?: number;
}

/**
 * /dev/iovh-ic answers IOVH_IC_VERSION with another ABI version than this
 * iovh's: the module was built from another revision of core/uapi/iovh_ic.h
 * (another iovh), so its structs would be read with the wrong layout.
 */
export class IcAbiMismatch extends Error {
  override readonly name = 'IcAbiMismatch';

  constructor(
    /** What the loaded module speaks. */
    readonly moduleAbi: number,
  ) {
    super(
      `${IOVH_IC.DEVICE} speaks ABI ${moduleAbi} of core/uapi/iovh_ic.h, this iovh ABI ${IOVH_IC.ABI_VERSION}: rebuild kernel/iovh-ic-importer from this iovh and load it again`,
    );
  }
}

/** One open of /dev/iovh-ic; its imports end with it. */
export class StandInImporter {
  private open = true;

  private constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly version: IcVersion,
  ) {}

  /**
   * Open the device; throws the SystemError of open(2) (ENOENT: the module is
   * not loaded), or an IcAbiMismatch when the module was built from another
   * revision of core/uapi/iovh_ic.h (its ABI version differs: a struct read
   * with another layout would be read wrongly, not refused).
   */
  static open(backend: Backend): StandInImporter {
    const fd = backend.dev.open(IOVH_IC.DEVICE, O.RDWR | O.CLOEXEC);
    try {
      const v = backend.dev.icVersion(fd);
      if (v.abi !== IOVH_IC.ABI_VERSION) throw new IcAbiMismatch(v.abi);
      return new StandInImporter(backend, fd, v);
    } catch (e) {
      backend.dev.close(fd);
      throw e;
    }
  }

  get api(): ReturnType<typeof icApiName> {
    return icApiName(this.version.api);
  }

  import(dmabufFd: Fd, options: IcImportOptions): IcImport {
    const at = parseBdf(options.importer);
    if (!at) throw new RangeError(`not a PCI address: '${options.importer}' (expected DDDD:BB:DD.F)`);
    const { domain, bus, slot, fn } = at;
    const got = this.backend.dev.icImport(this.fd, {
      dmabufFd,
      flags: options.flags ?? IOVH_IC.IMPORT_XE,
      segment: domain,
      bus,
      devfn: (slot << 3) | fn,
      bar: options.bar ?? 2,
    });
    return new IcImport(this, got);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}

/** One import (IOVH_IC_IMPORT's handle). */
export class IcImport {
  private released = false;
  readonly handle: number;
  readonly negotiated: boolean;
  readonly size: bigint;

  constructor(
    readonly importer: StandInImporter,
    got: IcImported,
  ) {
    this.handle = got.handle;
    this.negotiated = got.negotiated;
    this.size = got.size;
  }

  private get dev() {
    return this.importer.backend.dev;
  }

  map(): IcMapResult {
    return this.dev.icMap(this.importer.fd, this.handle);
  }

  /**
   * IOVH_IC_INFO with room for `room` ranges. The one size rule userspace
   * keeps: room beyond IOVH_IC.INFO_MAX is never filled (the module copies
   * at most that many), so none is asked for; the buffer for it would be
   * 16 bytes a range for nothing. Everything else is the module's to refuse.
   */
  info(room = 64): IcInfo {
    return this.dev.icInfo(this.importer.fd, this.handle, Math.min(room, IOVH_IC.INFO_MAX));
  }

  /** The held ranges as {start, end} (end inclusive). */
  ranges(room = 64): { start: bigint; end: bigint }[] {
    const info = this.info(room);
    const out: { start: bigint; end: bigint }[] = [];
    for (let i = 0; i + 1 < info.ranges.length; i += 2) out.push({ start: info.ranges[i]!, end: info.ranges[i + 1]! });
    return out;
  }

  read(offset: bigint, length: number): Uint8Array {
    return this.dev.icRead(this.importer.fd, this.handle, offset, length);
  }

  write(offset: bigint, data: Uint8Array): void {
    this.dev.icWrite(this.importer.fd, this.handle, offset, data);
  }

  /** Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.dev.icRelease(this.importer.fd, this.handle);
  }
}
