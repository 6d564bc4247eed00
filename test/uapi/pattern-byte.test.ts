// firstDifferingByte: the byte a mismatch report names inside the 8-byte word
// verify returns (words are little-endian), for any single flipped byte.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstDifferingByte, patternFillTs, patternVerifyTs } from '../../src/uapi/pattern.js';

describe('firstDifferingByte', () => {
  it('names the flipped byte of a filled buffer, wherever it is (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4095 }),
        fc.integer({ min: 1, max: 255 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (at, flip, seed) => {
          const buf = new Uint8Array(4096);
          patternFillTs(buf, seed, 0x10000n);
          buf[at]! ^= flip;
          const m = patternVerifyTs(buf, seed, 0x10000n);
          expect(m).not.toBeNull();
          expect(m!.offset).toBe(at - (at % 8));
          expect(firstDifferingByte(m!)).toBe(at);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the first of several differing bytes in the word', () => {
    expect(firstDifferingByte({ offset: 16, expected: 0x1122334455667788n, actual: 0x1122994455667700n })).toBe(16);
    expect(firstDifferingByte({ offset: 16, expected: 0x1122334455667788n, actual: 0x0022334455667788n })).toBe(23);
  });
});
