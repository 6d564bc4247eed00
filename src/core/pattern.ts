// The data pattern at native speed where the addon is loaded, and the
// TypeScript twin (src/uapi/pattern.ts) where it is not: same words either
// way. For code that holds plain buffers (the mock's memory, tests); mapped
// device memory goes through Mapping.fill/verify.
import type { PatternMismatch } from '../backend/types.js';
import { patternFillTs, patternVerifyTs } from '../uapi/pattern.js';
import { loadAddon } from './addon.js';

/** Fill `buf` (byte 0 = address `base`) with the pattern of `seed`. */
export function patternFill(buf: Uint8Array, seed: bigint, base: bigint): void {
  const addon = loadAddon().addon;
  if (addon) addon.patternFill(buf, seed, base);
  else patternFillTs(buf, seed, base);
}

/** First mismatching 8-byte word of `buf` against the pattern, or null. */
export function patternVerify(buf: Uint8Array, seed: bigint, base: bigint): PatternMismatch | null {
  const addon = loadAddon().addon;
  return addon ? addon.patternVerify(buf, seed, base) : patternVerifyTs(buf, seed, base);
}

/** Which implementation the two functions above use. */
export function patternImplementation(): 'native' | 'typescript' {
  return loadAddon().addon ? 'native' : 'typescript';
}
