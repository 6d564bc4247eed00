// The data pattern written through one path and read back through the other.
//
// Seeded and address-dependent, so that bytes landing at the wrong offset, in
// the wrong VF, or from a previous run never verify. The 64-bit little-endian
// word at absolute byte address A (A a multiple of 8) is
//
//     word(A) = ((A >> 3) * K + s1) ^ s2        (mod 2^64)
//     K  = 0x9E3779B97F4A7C15
//     s1 = splitmix64(seed), s2 = splitmix64(s1)
//
// "Address" is what both sides agree on: for VF memory it is the offset in the
// VF's LMEM (BAR 2 offset), so the GPU writing BO offset o of an import whose
// range starts at r and the CPU reading BAR 2 at r + o check the same words.
// Consecutive words differ by K before the xor, so a fill is an add and an xor
// per word: the C core (core/pattern.c) runs it at memory speed; this TypeScript
// twin is the fallback when the addon is missing, and the mock's reference.

import type { PatternMismatch } from '../backend/types.js';

export const PATTERN_K = 0x9e3779b97f4a7c15n;
const M64 = (1n << 64n) - 1n;

export function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return (z ^ (z >> 31n)) & M64;
}

export function patternSeeds(seed: bigint): { s1: bigint; s2: bigint } {
  const s1 = splitmix64(seed & M64);
  return { s1, s2: splitmix64(s1) };
}

/** The expected word at absolute byte address `address` (a multiple of 8). */
export function patternWord(seed: bigint, address: bigint): bigint {
  const { s1, s2 } = patternSeeds(seed);
  return ((((address >> 3n) * PATTERN_K + s1) & M64) ^ s2) & M64;
}

function checkSpan(length: number, base: bigint): void {
  if (!Number.isInteger(length) || length < 0 || length % 8 !== 0) {
    throw new RangeError(`pattern length must be a non-negative multiple of 8, got ${length}`);
  }
  if (base < 0n || base % 8n !== 0n) {
    throw new RangeError(`pattern base address must be a non-negative multiple of 8, got 0x${base.toString(16)}`);
  }
}

// Running state in two uint32 halves: p = (A>>3)*K + s1, stepped by K per word.
interface Cursor {
  plo: number;
  phi: number;
  klo: number;
  khi: number;
  xlo: number;
  xhi: number;
}

function cursor(seed: bigint, base: bigint): Cursor {
  const { s1, s2 } = patternSeeds(seed);
  const p = ((base >> 3n) * PATTERN_K + s1) & M64;
  return {
    plo: Number(p & 0xffffffffn),
    phi: Number(p >> 32n),
    klo: Number(PATTERN_K & 0xffffffffn),
    khi: Number(PATTERN_K >> 32n),
    xlo: Number(s2 & 0xffffffffn),
    xhi: Number(s2 >> 32n),
  };
}

/** Fill `buf` (byte 0 = address `base`) with the pattern. */
export function patternFillTs(buf: Uint8Array, seed: bigint, base: bigint): void {
  checkSpan(buf.byteLength, base);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const c = cursor(seed, base);
  let { plo, phi } = c;
  for (let off = 0; off < buf.byteLength; off += 8) {
    dv.setUint32(off, (plo ^ c.xlo) >>> 0, true);
    dv.setUint32(off + 4, (phi ^ c.xhi) >>> 0, true);
    const lo = plo + c.klo;
    const carry = lo > 0xffffffff ? 1 : 0;
    plo = lo >>> 0;
    phi = (phi + c.khi + carry) >>> 0;
  }
}

/** Verify `buf` against the pattern; null when every word matches. */
export function patternVerifyTs(buf: Uint8Array, seed: bigint, base: bigint): PatternMismatch | null {
  checkSpan(buf.byteLength, base);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const c = cursor(seed, base);
  let { plo, phi } = c;
  for (let off = 0; off < buf.byteLength; off += 8) {
    const elo = (plo ^ c.xlo) >>> 0;
    const ehi = (phi ^ c.xhi) >>> 0;
    const alo = dv.getUint32(off, true);
    const ahi = dv.getUint32(off + 4, true);
    if (alo !== elo || ahi !== ehi) {
      return {
        offset: off,
        expected: (BigInt(ehi) << 32n) | BigInt(elo),
        actual: (BigInt(ahi) << 32n) | BigInt(alo),
      };
    }
    const lo = plo + c.klo;
    const carry = lo > 0xffffffff ? 1 : 0;
    plo = lo >>> 0;
    phi = (phi + c.khi + carry) >>> 0;
  }
  return null;
}

/**
 * The byte offset (from the checked span, like `offset`) of the first byte
 * that differs within the mismatching word: words are little-endian, so it is
 * the lowest set bit of expected ^ actual, in bytes.
 */
export function firstDifferingByte(m: PatternMismatch): number {
  let x = (m.expected ^ m.actual) & 0xffffffffffffffffn;
  if (x === 0n) return m.offset;
  let byte = 0;
  while ((x & 0xffn) === 0n) {
    x >>= 8n;
    byte++;
  }
  return m.offset + byte;
}
