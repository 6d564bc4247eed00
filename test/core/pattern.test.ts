// The C pattern (core/mem.c) against its TypeScript twin (src/uapi/pattern.ts),
// and the property the harness relies on: one flipped byte anywhere is found,
// at the right word, with the right expected and actual values.
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import { patternFillTs, patternVerifyTs, patternWord } from '../../src/uapi/pattern.js';
import { itNative } from './support.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const base = fc.bigInt({ min: 0n, max: 1n << 56n }).map((b) => b * 8n);
const words = fc.integer({ min: 0, max: 600 });

describe('C and TypeScript agree', () => {
  itNative('fill writes the same bytes for any seed, base and length', (a) => {
    fc.assert(
      fc.property(u64, base, words, (seed, b, n) => {
        const c = new Uint8Array(n * 8);
        const ts = new Uint8Array(n * 8);
        a.patternFill(c, seed, b);
        patternFillTs(ts, seed, b);
        expect(Buffer.compare(c, ts)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  itNative('each side verifies what the other filled', (a) => {
    fc.assert(
      fc.property(u64, base, words, (seed, b, n) => {
        const buf = new Uint8Array(n * 8);
        patternFillTs(buf, seed, b);
        expect(a.patternVerify(buf, seed, b)).toBeNull();
        a.patternFill(buf, seed, b);
        expect(patternVerifyTs(buf, seed, b)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  itNative('both report the same first mismatch', (a) => {
    fc.assert(
      fc.property(
        u64,
        base,
        fc.integer({ min: 1, max: 600 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (seed, b, n, at, xor) => {
          const buf = new Uint8Array(n * 8);
          a.patternFill(buf, seed, b);
          const i = at % buf.length;
          buf[i] = buf[i]! ^ xor;
          const c = a.patternVerify(buf, seed, b);
          expect(c).toEqual(patternVerifyTs(buf, seed, b));
          expect(c?.offset).toBe(i - (i % 8));
        },
      ),
      { numRuns: 300 },
    );
  });

  itNative('words match patternWord at their absolute address', (a) => {
    const buf = new Uint8Array(64);
    a.patternFill(buf, 7n, 0x1000n);
    const dv = new DataView(buf.buffer);
    for (let off = 0; off < 64; off += 8)
      expect(dv.getBigUint64(off, true)).toBe(patternWord(7n, 0x1000n + BigInt(off)));
  });

  itNative('works on unaligned views (a mapping offset need only be a multiple of 8 in address space)', (a) => {
    const backing = new Uint8Array(4096 + 3);
    const view = backing.subarray(3, 3 + 4096);
    a.patternFill(view, 99n, 0x40n);
    expect(patternVerifyTs(view, 99n, 0x40n)).toBeNull();
    expect(a.patternVerify(view, 99n, 0x40n)).toBeNull();
  });
});

describe('a single flipped byte in 256 MiB', () => {
  const size = 256 * 1024 * 1024;
  const seed = 0x1ab0c0ffeen;
  const start = 0x2_0000_0000n; // a VF LMEM offset, say

  itNative(
    'is found at the first byte, the last byte and random offsets',
    (a) => {
      const buf = new Uint8Array(size);
      a.patternFill(buf, seed, start);
      expect(a.patternVerify(buf, seed, start)).toBeNull();
      // Deterministic "random" offsets spread over the buffer, plus word and block edges.
      const offsets = [0, size - 1, 7, 8, 255, 256, size - 8, size / 2 + 3];
      let x = 0x9e3779b9;
      for (let k = 0; k < 6; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        offsets.push(Math.floor((x / 2 ** 32) * size));
      }
      for (const o of offsets) {
        const before = buf[o]!;
        buf[o] = before ^ 0x10;
        const m = a.patternVerify(buf, seed, start);
        const word = o - (o % 8);
        expect(m, `flip at ${o}`).not.toBeNull();
        expect(m!.offset).toBe(word);
        expect(m!.expected).toBe(patternWord(seed, start + BigInt(word)));
        expect(m!.actual).toBe(m!.expected ^ (0x10n << BigInt(8 * (o % 8))));
        buf[o] = before;
      }
      expect(a.patternVerify(buf, seed, start)).toBeNull();
    },
    60_000,
  );
});

describe('argument checks', () => {
  itNative('lengths and bases that are not multiples of 8 are RangeErrors', (a) => {
    expect(() => a.patternFill(new Uint8Array(7), 1n, 0n)).toThrow(RangeError);
    expect(() => a.patternVerify(new Uint8Array(8), 1n, 4n)).toThrow(RangeError);
  });

  itNative('wrong types are TypeErrors', (a) => {
    const call = a.patternFill as unknown as (...args: unknown[]) => unknown;
    expect(() => call(new Uint16Array(8), 1n, 0n)).toThrow(TypeError);
    expect(() => call([0, 0, 0, 0, 0, 0, 0, 0], 1n, 0n)).toThrow(TypeError);
    expect(() => call(new Uint8Array(8), 1, 0n)).toThrow(TypeError);
    expect(() => call(new Uint8Array(8), 1n)).toThrow(TypeError);
    expect(() => call(new Uint8Array(8), -1n, 0n)).toThrow(RangeError);
  });
});
