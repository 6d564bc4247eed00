// The mock command streamer against a reference interpreter of the MI
// commands it knows (docs/kernel.md §8): random batches of MI_NOOP,
// MI_STORE_DATA_IMM (dword and qword, 1 to 8 data dwords, unaligned
// addresses masked) and MI_COPY_MEM_MEM, started at random offsets so that
// commands straddle batch pages, writing into a system BO and sometimes past
// it into unmapped space. The BO's bytes after the job, and whether the job
// faulted, must be what the reference says: every write before the fault
// lands (a store straddling the BO's end lands up to it), nothing after it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { logText, rig, runner, sysBo } from './setup.js';

const TARGET = 0x10_0000;
const SIZE = 0x4000;
const PAGE = 4096;

type Cmd =
  | { op: 'noop' }
  | { op: 'sdi'; qword: boolean; offset: number; data: number[] }
  | { op: 'copy'; dst: number; src: number };

// Offsets are relative to TARGET; some run past the BO into unmapped space.
const offsetArb = fc.oneof(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: SIZE - 40, max: SIZE + 40 }));
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.constant({ op: 'noop' as const }),
  fc.record({
    op: fc.constant('sdi' as const),
    qword: fc.boolean(),
    offset: offsetArb,
    data: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ op: fc.constant('copy' as const), dst: offsetArb, src: offsetArb }),
);

function encode(lead: number, cmds: readonly Cmd[]): Uint8Array {
  const words: number[] = Array<number>(lead).fill(0); // MI_NOOP
  for (const c of cmds) {
    if (c.op === 'noop') words.push(0);
    else if (c.op === 'sdi') {
      const a = TARGET + c.offset;
      // MI_STORE_DATA_IMM: opcode 0x20, dword length = total - 2, bit 21 = store qword.
      words.push(
        ((0x20 << 23) | (c.qword ? 1 << 21 : 0) | (c.data.length + 1)) >>> 0,
        a >>> 0,
        Math.floor(a / 2 ** 32),
        ...c.data,
      );
    } else {
      const d = TARGET + c.dst;
      const s = TARGET + c.src;
      // MI_COPY_MEM_MEM: opcode 0x2e, length 3, destination first.
      words.push(((0x2e << 23) | 3) >>> 0, d >>> 0, 0, s >>> 0, 0);
    }
  }
  words.push(0x0a << 23); // MI_BATCH_BUFFER_END
  const out = new Uint8Array(4 * words.length);
  const dv = new DataView(out.buffer);
  words.forEach((w, i) => dv.setUint32(4 * i, w, true));
  return out;
}

/** The reference: a flat copy of the BO; any byte outside it faults. Returns whether the job faulted. */
function reference(mem: Uint8Array, cmds: readonly Cmd[]): boolean {
  const store = (at: number, bytes: Uint8Array): boolean => {
    for (let i = 0; i < bytes.length; i++) {
      if (at + i < 0 || at + i >= SIZE) return false;
      mem[at + i] = bytes[i]!;
    }
    return true;
  };
  for (const c of cmds) {
    if (c.op === 'noop') continue;
    if (c.op === 'sdi') {
      const at = c.offset - (c.offset & (c.qword ? 7 : 3));
      const bytes = new Uint8Array(4 * c.data.length);
      c.data.forEach((w, i) => new DataView(bytes.buffer).setUint32(4 * i, w, true));
      if (!store(at, bytes)) return true;
    } else {
      const src = c.src & ~3;
      if (src + 4 > SIZE) return true;
      if (!store(c.dst & ~3, mem.slice(src, src + 4))) return true;
    }
  }
  return false;
}

/** The BO's bytes before the job: distinct per seed, cheap to shrink (a seed, not 16 KiB of input). */
function filled(seed: number): Uint8Array {
  const out = new Uint8Array(SIZE);
  let x = seed;
  for (let i = 0; i < SIZE; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('the mock command streamer', () => {
  it('agrees with a reference interpreter on random batches straddling pages and the BO end', () => {
    const rg = rig();
    const { xe } = rg;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: PAGE / 4 + 8 }),
        fc.array(cmdArb, { minLength: 1, maxLength: 24 }),
        fc.integer({ min: 1, max: 0xffff }),
        (lead, cmds, seed) => {
          const initial = filled(seed);
          const r = runner(xe);
          const { bo, map } = sysBo(xe, r.vm, BigInt(TARGET), BigInt(SIZE));
          map.write(0, initial);
          const resets = logText(rg).filter((t) => t.includes('Engine reset')).length;
          r.run(encode(lead, cmds));
          const want = new Uint8Array(initial);
          const faulted = reference(want, cmds);
          expect(Buffer.from(map.read(0, SIZE)).equals(Buffer.from(want))).toBe(true);
          expect(logText(rg).filter((t) => t.includes('Engine reset')).length - resets).toBe(faulted ? 1 : 0);
          map.unmap();
          bo.close();
          r.queue.close();
          r.vm.close();
        },
      ),
      { numRuns: 150, seed: 0x6e9 },
    );
  });
});
