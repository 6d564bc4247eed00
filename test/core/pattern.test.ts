// The C pattern (core/pattern.c) against its TypeScript twin
// (src/uapi/pattern.ts), for every kernel the CPU runs, with and without
// streaming stores, at any base, length and buffer alignment; and the
// property the harness relies on: one flipped byte anywhere is found, at the
// right word, with the right expected and actual values.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { patternFillTs, patternVerifyTs, patternWord } from '../../src/uapi/pattern.js';
import { addon, itNative } from './support.js';

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const base = fc.bigInt({ min: 0n, max: 1n << 56n }).map((b) => b * 8n);
const words = fc.integer({ min: 0, max: 600 });

// Every kernel core/pattern.c has on this CPU (avx2, sse2, generic), each
// with plain stores and with every fill streaming (threshold 8 bytes): the
// vector bodies, the aligned heads the streaming stores need and the scalar
// tails all meet the property checks.
const kernelConfigs: Array<[isa: string, ntThreshold: number]> = addon
  ? addon.patternKernels().available.flatMap(
      (isa): Array<[string, number]> => [
        [isa, 1 << 30],
        [isa, 8],
      ],
    )
  : [['default', 0]];
const misalign = fc.integer({ min: 0, max: 63 });
const SENTINEL = 0xa5;

/** A view of n words at byte `skew` into a buffer with sentinel bytes on both sides. */
function framed(n: number, skew: number): { backing: Uint8Array; view: Uint8Array } {
  const backing = new Uint8Array(skew + n * 8 + 64).fill(SENTINEL);
  return { backing, view: backing.subarray(skew, skew + n * 8) };
}

function untouchedOutside(backing: Uint8Array, view: Uint8Array): boolean {
  const from = view.byteOffset - backing.byteOffset;
  for (let i = 0; i < from; i++) if (backing[i] !== SENTINEL) return false;
  for (let i = from + view.length; i < backing.length; i++) if (backing[i] !== SENTINEL) return false;
  return true;
}

describe.each(kernelConfigs)('C (%s kernel, streaming from %i bytes) and TypeScript agree', (isa, ntThreshold) => {
  beforeEach(() => addon?.patternSelect(isa === 'default' ? '' : isa, ntThreshold));
  afterEach(() => addon?.patternSelect('', 0));

  itNative('fill writes the same bytes for any seed, base, length and alignment, and nothing outside', (a) => {
    expect(a.patternKernels()).toMatchObject(isa === 'default' ? {} : { isa, ntThreshold });
    fc.assert(
      fc.property(u64, base, words, misalign, (seed, b, n, skew) => {
        const { backing, view } = framed(n, skew);
        const ts = new Uint8Array(n * 8);
        a.patternFill(view, seed, b);
        patternFillTs(ts, seed, b);
        expect(Buffer.compare(view, ts)).toBe(0);
        expect(untouchedOutside(backing, view)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  itNative('each side verifies what the other filled', (a) => {
    fc.assert(
      fc.property(u64, base, words, misalign, (seed, b, n, skew) => {
        const { view } = framed(n, skew);
        patternFillTs(view, seed, b);
        expect(a.patternVerify(view, seed, b)).toBeNull();
        a.patternFill(view, seed, b);
        expect(patternVerifyTs(view, seed, b)).toBeNull();
      }),
      { numRuns: 20 },
    );
  });

  itNative('both report the same first mismatch', (a) => {
    fc.assert(
      fc.property(
        u64,
        base,
        fc.integer({ min: 1, max: 600 }),
        misalign,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (seed, b, n, skew, flips) => {
          const { view: buf } = framed(n, skew);
          a.patternFill(buf, seed, b);
          const filled = buf.slice();
          for (const [at, xor] of flips) {
            const i = at % buf.length;
            buf[i] = buf[i]! ^ xor;
          }
          // Two flips of one byte can cancel: the first byte that still differs.
          const first = buf.findIndex((v, i) => v !== filled[i]);
          const c = a.patternVerify(buf, seed, b);
          expect(c).toEqual(patternVerifyTs(buf, seed, b));
          if (first < 0) expect(c).toBeNull();
          else expect(c?.offset).toBe(first - (first % 8));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('C and TypeScript agree', () => {
  itNative('words match patternWord at their absolute address', (a) => {
    const buf = new Uint8Array(64);
    a.patternFill(buf, 7n, 0x1000n);
    const dv = new DataView(buf.buffer);
    for (let off = 0; off < 64; off += 8)
      expect(dv.getBigUint64(off, true)).toBe(patternWord(7n, 0x1000n + BigInt(off)));
  });

  itNative(
    'at every length around the vector widths and blocks, at every alignment, with and without streaming',
    (a) => {
      // Plain comparisons in the loop (an expect per case would cost more than the fills).
      const failures: string[] = [];
      const ts = new Uint8Array(72 * 8);
      try {
        for (const isa of a.patternKernels().available) {
          for (const threshold of [8, 1 << 30]) {
            a.patternSelect(isa, threshold);
            for (let n = 0; n <= 72; n++) {
              const want = ts.subarray(0, n * 8);
              patternFillTs(want, 0xfeedn, 0x7ff8n);
              for (let skew = 0; skew < 34; skew++) {
                const { backing, view } = framed(n, skew);
                a.patternFill(view, 0xfeedn, 0x7ff8n);
                if (Buffer.compare(view, want) !== 0 || !untouchedOutside(backing, view))
                  failures.push(`${isa} streaming from ${threshold}: ${n} words at +${skew}`);
                else if (a.patternVerify(view, 0xfeedn, 0x7ff8n) !== null)
                  failures.push(`${isa}: verify of ${n} words at +${skew}`);
              }
            }
          }
        }
      } finally {
        a.patternSelect('', 0);
      }
      expect(failures).toEqual([]);
    },
  );
});

describe('kernel choice', () => {
  itNative('runs the best kernel the CPU has unless told otherwise, and refuses unknown ones', (a) => {
    const k = a.patternKernels();
    expect(k.available).toContain('generic');
    if (process.arch === 'x64') expect(k.available).toContain('sse2');
    expect(k.isa).toBe(k.available[0]);
    expect(k.ntThreshold).toBeGreaterThan(0);
    expect(() => a.patternSelect('neon-sve9', 0)).toThrow(RangeError);
    expect(a.patternKernels()).toEqual(k);
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
