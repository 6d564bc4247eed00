// mmap(2) results in the mock (backend/types.ts Mapping): a window onto
// whatever backs the mapped file (a BAR through the physical bus, shmem pages,
// a BO), bounds-checked, with the pattern fill/verify the harness uses.

import type { Mapping, PatternMismatch } from '../backend/types.js';
import { patternFillTs, patternVerifyTs } from '../uapi/pattern.js';

export interface MappingBacking {
  read(offset: number, out: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  /** Throws when the access would fault (SIGBUS in a real process). */
  check?(): void;
}

let nextVa = 0x7e0000000000n;

/** The processes' mappings made by the platform, for live counts and exit_mm at process exit. */
export class MappingRegistry {
  /** Each live mapping and the pid of the process that made it. */
  readonly live = new Map<BackedMapping, number>();

  /** `pid`: the calling process (src/mock/process.ts). */
  constructor(private readonly pid: () => number) {}

  create(length: number, backing: MappingBacking, onUnmap: () => void): BackedMapping {
    const m = new BackedMapping(length, backing, () => {
      this.live.delete(m);
      onUnmap();
    });
    this.live.set(m, this.pid());
    return m;
  }

  /** exit_mm of one process. */
  unmapAll(pid: number): void {
    for (const [m, owner] of [...this.live]) if (owner === pid) m.unmap();
  }
}

const STEP = 1 << 20;

export class BackedMapping implements Mapping {
  readonly address: bigint;
  private live = true;

  constructor(
    readonly length: number,
    private readonly backing: MappingBacking,
    private readonly onUnmap: () => void,
  ) {
    this.address = nextVa;
    nextVa += BigInt(Math.ceil(length / 4096) * 4096 + 0x10000);
  }

  private span(offset: number, length: number): void {
    if (!this.live) throw new Error('access to an unmapped mapping');
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.length
    ) {
      throw new RangeError(`mapping access [${offset}, +${length}) outside ${this.length} bytes`);
    }
    this.backing.check?.();
  }

  read(offset: number, length: number): Uint8Array {
    this.span(offset, length);
    const out = new Uint8Array(length);
    this.backing.read(offset, out);
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.span(offset, data.length);
    this.backing.write(offset, data);
  }

  fill(offset: number, length: number, seed: bigint, base: bigint): void {
    this.span(offset, length);
    for (let done = 0; done < length; done += STEP) {
      const n = Math.min(STEP, length - done);
      const buf = new Uint8Array(n);
      patternFillTs(buf, seed, base + BigInt(offset + done));
      this.backing.write(offset + done, buf);
    }
  }

  verify(offset: number, length: number, seed: bigint, base: bigint): PatternMismatch | null {
    this.span(offset, length);
    for (let done = 0; done < length; done += STEP) {
      const n = Math.min(STEP, length - done);
      const buf = new Uint8Array(n);
      this.backing.read(offset + done, buf);
      const m = patternVerifyTs(buf, seed, base + BigInt(offset + done));
      if (m) return { ...m, offset: m.offset + done };
    }
    return null;
  }

  unmap(): void {
    if (!this.live) return;
    this.live = false;
    this.onUnmap();
  }

  get mapped(): boolean {
    return this.live;
  }
}
