// Sparse byte stores for VRAM, system RAM and BAR scratch space
// (contracts.ts SparseMemory). Memory is kept in 64 KiB chunks allocated on
// first write, so 24 VFs over 16 GiB of VRAM cost only what the scenarios
// actually write; unwritten bytes read as zero.

import type { SparseMemory } from './contracts.js';

const CHUNK_SHIFT = 16;
const CHUNK = 1 << CHUNK_SHIFT;

export class ChunkedMemory implements SparseMemory {
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly limit: number;

  constructor(readonly size: bigint) {
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('memory too large');
    this.limit = Number(size);
  }

  private check(address: bigint, length: number): number {
    const a = Number(address);
    if (address < 0n || !Number.isInteger(length) || length < 0 || a + length > this.limit) {
      throw new RangeError(
        `access [0x${address.toString(16)}, +0x${length.toString(16)}) outside 0x${this.size.toString(16)} bytes`,
      );
    }
    return a;
  }

  read(address: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(address, out);
    return out;
  }

  readInto(address: bigint, out: Uint8Array): void {
    let a = this.check(address, out.length);
    let done = 0;
    while (done < out.length) {
      const idx = Math.floor(a / CHUNK);
      const off = a - idx * CHUNK;
      const n = Math.min(CHUNK - off, out.length - done);
      const chunk = this.chunks.get(idx);
      if (chunk) out.set(chunk.subarray(off, off + n), done);
      else out.fill(0, done, done + n);
      done += n;
      a += n;
    }
  }

  write(address: bigint, data: Uint8Array): void {
    let a = this.check(address, data.length);
    let done = 0;
    while (done < data.length) {
      const idx = Math.floor(a / CHUNK);
      const off = a - idx * CHUNK;
      const n = Math.min(CHUNK - off, data.length - done);
      let chunk = this.chunks.get(idx);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK);
        this.chunks.set(idx, chunk);
      }
      chunk.set(data.subarray(done, done + n), off);
      done += n;
      a += n;
    }
  }

  /** Zero [address, address + length): whole chunks are dropped, so clearing also frees. */
  clear(address: bigint, length: bigint): void {
    let a = this.check(address, Number(length));
    const end = a + Number(length);
    while (a < end) {
      const idx = Math.floor(a / CHUNK);
      const off = a - idx * CHUNK;
      const n = Math.min(CHUNK - off, end - a);
      if (off === 0 && n === CHUNK) this.chunks.delete(idx);
      else this.chunks.get(idx)?.fill(0, off, off + n);
      a += n;
    }
  }

  residentBytes(): number {
    return this.chunks.size * CHUNK;
  }
}
