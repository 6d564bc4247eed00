// MI batch buffers the harness submits through DRM_IOCTL_XE_EXEC, built once
// in TypeScript for both backends: MI_STORE_DATA_IMM (qword) writes of the
// data pattern (src/uapi/pattern.ts) into a GPU VA range, MI_COPY_MEM_MEM
// copies from one VA range to another, MI_BATCH_BUFFER_END. Encodings are
// docs/kernel.md §8 (xe/instructions/xe_mi_commands.h): little-endian dwords,
// dword length = total dwords - 2, PPGTT addresses (the GGTT bits stay 0),
// MI_COPY_MEM_MEM destination first. decodeBatch() reads them back for tests.

import { MI } from './constants.js';
import { patternFillTs } from './pattern.js';

const U64 = 1n << 64n;
/** MI_STORE_DATA_IMM qword: header, addr lo, addr hi, data lo, data hi. */
export const STORE_QWORD_BYTES = 20;
/** MI_COPY_MEM_MEM: header, dst lo, dst hi, src lo, src hi. */
export const COPY_DWORD_BYTES = 20;

/** Write the pattern of (seed, base + i) at GPU VA va + i, for i in [0, length). */
export interface PatternSpan {
  va: bigint;
  length: number;
  seed: bigint;
  /** pattern address of the first byte (the VF LMEM offset it stands for) */
  base: bigint;
}

/** Copy [src, src + length) to [dst, dst + length), one dword per command. */
export interface CopySpan {
  src: bigint;
  dst: bigint;
  length: number;
}

function checkVa(va: bigint, align: number, what: string): void {
  if (va < 0n || va >= U64) throw new RangeError(`${what} 0x${va.toString(16)} is not a 64-bit GPU address`);
  if (va % BigInt(align) !== 0n) throw new RangeError(`${what} 0x${va.toString(16)} is not ${align}-byte aligned`);
}

function checkLength(length: number, unit: number, what: string): void {
  if (!Number.isSafeInteger(length) || length < 0 || length % unit !== 0) {
    throw new RangeError(`${what} length ${length} must be a non-negative multiple of ${unit}`);
  }
}

export class BatchBuilder {
  private buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  private len = 0;
  private ended = false;

  get byteLength(): number {
    return this.len;
  }

  private reserve(bytes: number): void {
    if (this.ended) throw new Error('batch already ended with MI_BATCH_BUFFER_END');
    if (this.len + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  private dword(v: number): void {
    this.dv.setUint32(this.len, v >>> 0, true);
    this.len += 4;
  }

  private address(va: bigint): void {
    this.dword(Number(va & 0xffffffffn));
    this.dword(Number(va >> 32n));
  }

  noop(): this {
    this.reserve(4);
    this.dword(MI.NOOP);
    return this;
  }

  /** MI_STORE_DATA_IMM, one dword at a dword-aligned VA. */
  storeDword(va: bigint, value: number): this {
    checkVa(va, 4, 'store address');
    this.reserve(16);
    this.dword(MI.STORE_DATA_IMM_DW);
    this.address(va);
    this.dword(value);
    return this;
  }

  /** MI_STORE_DATA_IMM with Store Qword, at a qword-aligned VA. */
  storeQword(va: bigint, value: bigint): this {
    checkVa(va, 8, 'store address');
    this.reserve(STORE_QWORD_BYTES);
    const v = BigInt.asUintN(64, value);
    this.dword(MI.STORE_DATA_IMM_QW);
    this.address(va);
    this.dword(Number(v & 0xffffffffn));
    this.dword(Number(v >> 32n));
    return this;
  }

  /** MI_COPY_MEM_MEM: one dword from `src` to `dst` (destination first in the command). */
  copyDword(dst: bigint, src: bigint): this {
    checkVa(dst, 4, 'copy destination');
    checkVa(src, 4, 'copy source');
    this.reserve(COPY_DWORD_BYTES);
    this.dword(MI.COPY_MEM_MEM);
    this.address(dst);
    this.address(src);
    return this;
  }

  /** The pattern over a span, one qword store per 8 bytes. */
  storePattern(span: PatternSpan): this {
    checkVa(span.va, 8, 'pattern address');
    checkLength(span.length, 8, 'pattern');
    checkVa(span.va + BigInt(span.length) - (span.length ? 1n : 0n), 1, 'pattern end');
    const words = new Uint8Array(span.length);
    patternFillTs(words, span.seed, span.base);
    const wv = new DataView(words.buffer);
    this.reserve((span.length / 8) * STORE_QWORD_BYTES);
    for (let off = 0; off < span.length; off += 8) {
      const va = span.va + BigInt(off);
      this.dword(MI.STORE_DATA_IMM_QW);
      this.address(va);
      this.dword(wv.getUint32(off, true));
      this.dword(wv.getUint32(off + 4, true));
    }
    return this;
  }

  /** A span copy, one MI_COPY_MEM_MEM per dword. */
  copy(span: CopySpan): this {
    checkVa(span.src, 4, 'copy source');
    checkVa(span.dst, 4, 'copy destination');
    checkLength(span.length, 4, 'copy');
    this.reserve((span.length / 4) * COPY_DWORD_BYTES);
    for (let off = 0; off < span.length; off += 4) {
      this.dword(MI.COPY_MEM_MEM);
      this.address(span.dst + BigInt(off));
      this.address(span.src + BigInt(off));
    }
    return this;
  }

  /** MI_BATCH_BUFFER_END, padded with MI_NOOP to a qword; returns the batch bytes. */
  end(): Uint8Array {
    this.reserve(8);
    this.dword(MI.BATCH_BUFFER_END);
    if (this.len % 8) this.dword(MI.NOOP);
    this.ended = true;
    return this.buf.slice(0, this.len);
  }
}

/** MI_BATCH_BUFFER_END after `n` bytes of commands, then MI_NOOP to a qword boundary. */
function withEnd(n: number): number {
  return n + (n % 8 ? 4 : 8);
}

/** Bytes of a batch holding `spans` of pattern stores, BB_END and padding included. */
export function storeBatchBytes(spans: readonly { length: number }[]): number {
  return withEnd(spans.reduce((s, x) => s + (x.length / 8) * STORE_QWORD_BYTES, 0));
}

/** Bytes of a batch holding `spans` of copies, BB_END and padding included. */
export function copyBatchBytes(spans: readonly { length: number }[]): number {
  return withEnd(spans.reduce((s, x) => s + (x.length / 4) * COPY_DWORD_BYTES, 0));
}

export function buildStoreBatch(spans: readonly PatternSpan[]): Uint8Array {
  const b = new BatchBuilder();
  for (const s of spans) b.storePattern(s);
  return b.end();
}

export function buildCopyBatch(spans: readonly CopySpan[]): Uint8Array {
  const b = new BatchBuilder();
  for (const s of spans) b.copy(s);
  return b.end();
}

export type MiCommand =
  | { op: 'noop'; at: number }
  | { op: 'end'; at: number }
  /** MI_STORE_DATA_IMM: `data` is the little-endian payload (4 bytes, or 8 with Store Qword) */
  | { op: 'store'; at: number; address: bigint; qword: boolean; data: Uint8Array }
  | { op: 'copy'; at: number; dst: bigint; src: bigint };

export class BatchDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatchDecodeError';
  }
}

/** Decode the commands this module emits, up to and including MI_BATCH_BUFFER_END. */
export function decodeBatch(bytes: Uint8Array): MiCommand[] {
  if (bytes.byteLength % 4) throw new BatchDecodeError(`batch of ${bytes.byteLength} bytes is not whole dwords`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / 4;
  const at = (i: number): number => {
    if (i >= n) throw new BatchDecodeError(`command at dword ${i} runs past the end of the batch`);
    return dv.getUint32(4 * i, true);
  };
  const addr = (i: number): bigint => (BigInt(at(i + 1)) << 32n) | BigInt(at(i));
  const out: MiCommand[] = [];
  let i = 0;
  while (i < n) {
    const h = at(i);
    const hex = `0x${h.toString(16).padStart(8, '0')}`;
    if (h >>> 29 !== 0) throw new BatchDecodeError(`dword ${i}: ${hex} is not an MI command`);
    const opcode = (h >>> 23) & 0x3f;
    if (opcode === 0x00) {
      out.push({ op: 'noop', at: 4 * i });
      i += 1;
    } else if (opcode === 0x0a) {
      out.push({ op: 'end', at: 4 * i });
      return out;
    } else if (h === MI.STORE_DATA_IMM_DW || h === MI.STORE_DATA_IMM_QW) {
      const qword = h === MI.STORE_DATA_IMM_QW;
      const data = new Uint8Array(qword ? 8 : 4);
      const d = new DataView(data.buffer);
      d.setUint32(0, at(i + 3), true);
      if (qword) d.setUint32(4, at(i + 4), true);
      out.push({ op: 'store', at: 4 * i, address: addr(i + 1), qword, data });
      i += qword ? 5 : 4;
    } else if (h === MI.COPY_MEM_MEM) {
      out.push({ op: 'copy', at: 4 * i, dst: addr(i + 1), src: addr(i + 3) });
      i += 5;
    } else {
      throw new BatchDecodeError(`dword ${i}: ${hex} is not a command this builder emits`);
    }
  }
  throw new BatchDecodeError('no MI_BATCH_BUFFER_END');
}
