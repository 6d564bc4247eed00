// The MI batch builder: exact encodings (docs/kernel.md §8), the decoder, input
// checks, and a property: batches for random VA spans and seeds, run by the
// mock GPU, put the pattern exactly where it belongs (and copies copy).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchBuilder,
  BatchDecodeError,
  buildCopyBatch,
  buildStoreBatch,
  copyBatchBytes,
  decodeBatch,
  storeBatchBytes,
} from '../../src/uapi/batch.js';
import { patternFillTs, patternVerifyTs, patternWord } from '../../src/uapi/pattern.js';
import { PROT } from '../../src/uapi/constants.js';
import { PAT_WB, rig, runner, SYS, WB } from '../mock/xe/setup.js';

function dwords(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 4 }, (_, i) => dv.getUint32(4 * i, true));
}

describe('encodings', () => {
  it('MI_STORE_DATA_IMM dword and qword, MI_COPY_MEM_MEM dst first, BB_END padded to a qword', () => {
    const b = new BatchBuilder()
      .storeDword(0x1_2345_6780n, 0xcafef00d)
      .storeQword(0xabc_0000_0008n, 0x1122334455667788n)
      .copyDword(0x10n, 0x2000_0000_0020n)
      .end();
    expect(dwords(b)).toEqual([
      0x10000002, 0x23456780, 0x1, 0xcafef00d, 0x10200003, 0x00000008, 0xabc, 0x55667788, 0x11223344, 0x17000003, 0x10,
      0x0, 0x20, 0x2000, 0x05000000, 0x00000000,
    ]);
    expect(new BatchBuilder().end().length).toBe(8);
    expect(dwords(new BatchBuilder().noop().end())).toEqual([0, 0x05000000]);
  });

  it('store batches carry the pattern words of (seed, base + offset)', () => {
    const batch = buildStoreBatch([{ va: 0x4000n, length: 16, seed: 11n, base: 0x9000n }]);
    const cmds = decodeBatch(batch);
    expect(cmds.map((c) => c.op)).toEqual(['store', 'store', 'end']);
    const s = cmds[1]!;
    if (s.op !== 'store') throw new Error('not a store');
    expect(s.address).toBe(0x4008n);
    expect(s.qword).toBe(true);
    expect(new DataView(s.data.buffer).getBigUint64(0, true)).toBe(patternWord(11n, 0x9008n));
    expect(batch.length).toBe(storeBatchBytes([{ length: 16 }]));
  });

  it('sizes: helpers agree with what is built', () => {
    for (const len of [0, 4, 8, 12, 40]) {
      expect(buildCopyBatch([{ src: 0n, dst: 0x1000n, length: len }]).length).toBe(copyBatchBytes([{ length: len }]));
    }
    for (const len of [0, 8, 16, 24]) {
      expect(buildStoreBatch([{ va: 0n, length: len, seed: 1n, base: 0n }]).length).toBe(
        storeBatchBytes([{ length: len }]),
      );
    }
  });

  it('refuses misaligned addresses, bad lengths, and additions after the end', () => {
    expect(() => new BatchBuilder().storeQword(4n, 0n)).toThrow(RangeError);
    expect(() => new BatchBuilder().storeDword(2n, 0)).toThrow(RangeError);
    expect(() => new BatchBuilder().storeDword(-4n, 0)).toThrow(RangeError);
    expect(() => new BatchBuilder().storeDword(1n << 64n, 0)).toThrow(RangeError);
    expect(() => buildStoreBatch([{ va: 0n, length: 12, seed: 0n, base: 0n }])).toThrow(RangeError);
    expect(() => buildCopyBatch([{ src: 0n, dst: 0n, length: 6 }])).toThrow(RangeError);
    const b = new BatchBuilder();
    b.end();
    expect(() => b.noop()).toThrow(/already ended/);
  });

  it('decodeBatch rejects what the builder never emits', () => {
    const raw = (...w: number[]) => {
      const u = new Uint8Array(4 * w.length);
      w.forEach((x, i) => new DataView(u.buffer).setUint32(4 * i, x, true));
      return u;
    };
    expect(() => decodeBatch(raw(0x7a000003))).toThrow(BatchDecodeError);
    expect(() => decodeBatch(raw(0x10000002, 0))).toThrow(/past the end/);
    expect(() => decodeBatch(raw(0))).toThrow(/no MI_BATCH_BUFFER_END/);
    expect(() => decodeBatch(new Uint8Array(3))).toThrow(/whole dwords/);
  });
});

describe('round trip through the mock GPU', () => {
  it('pattern stores land where they should, copies copy (property)', () => {
    const { xe } = rig();
    const target = xe.gemCreate({ size: 0x100000n, placement: SYS, cpuCaching: WB });
    const base = 0x40_0000_0000n;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            page: fc.integer({ min: 0, max: 255 }),
            words: fc.integer({ min: 1, max: 64 }),
            at: fc.integer({ min: 0, max: 448 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (spans, seed) => {
          const r = runner(xe);
          r.vm.map(target, base, 0x100000n, { patIndex: PAT_WB });
          const map = target.mmap(PROT.READ | PROT.WRITE);
          map.write(0, new Uint8Array(0x100000));
          // distinct pages, so later spans do not overwrite earlier ones
          const seen = new Set<number>();
          const used = spans.filter((s) => !seen.has(s.page) && seen.add(s.page));
          const ps = used.map((s) => ({
            va: base + BigInt(s.page * 4096 + s.at * 8),
            length: s.words * 8,
            seed,
            base: BigInt(s.page) << 20n,
          }));
          r.run(buildStoreBatch(ps));
          for (const s of used) {
            const off = s.page * 4096 + s.at * 8;
            expect(patternVerifyTs(map.read(off, s.words * 8), seed, BigInt(s.page) << 20n)).toBeNull();
            // nothing before or after the span
            if (s.at > 0) expect(map.read(off - 8, 8)).toEqual(new Uint8Array(8));
          }
          // copy the first span elsewhere (into page 256 + n, beyond the stores)
          const c = ps[0]!;
          const dst = base + 0x80000n;
          r.run(buildCopyBatch([{ src: c.va, dst, length: c.length }]));
          const want = new Uint8Array(c.length);
          patternFillTs(want, seed, c.base);
          expect(map.read(0x80000, c.length)).toEqual(want);
          map.unmap();
          r.vm.close();
          r.queue.close();
        },
      ),
      { numRuns: 40, seed: 20261124 },
    );
  });
});
