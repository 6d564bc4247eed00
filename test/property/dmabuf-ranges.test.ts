// DMA_BUF range validation (issue 7, item 4): the mock kernel and an
// independent statement of the kernel's rule table (dmabuf-rules.ts, from
// docs/kernel.md §3.1/§3.3) agree on random requests: errno, or PROBE's 0, or
// the size of the dma-buf made. Values are drawn around every edge the rules
// have: page alignment, the BAR's end, the kmalloc cap on nr_ranges, bit 63
// of the total, and 2^64 (BAR start + offset + length overflowing).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VfioDmaBufRequest } from '../../src/backend/types.js';
import { SystemError } from '../../src/uapi/errors.js';
import { parseDmaBufFdinfo } from '../../src/uapi/fdinfo.js';
import { openVfioDevice, type VfioDevice } from '../../src/uapi/vfio.js';
import { declareTopology } from '../harness/declared.js';
import { parseResource, PCI_DEVICES } from '../../src/machine/sysfs.js';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { checkRanges } from '../../src/mock/vfio.js';
import { expectDmaBuf, type Bar, type DmaBufCase, type DmaBufOutcome } from './dmabuf-rules.js';
import { BAD_EXPORTS, sendBadExport, type BadExportRequest } from '../../src/uapi/bad-exports.js';

const U64 = 1n << 64n;
const PAGE = 4096n;

let b: MockBackend;
let device: VfioDevice;
let bars: Bar[];

beforeAll(() => {
  const declared = declareTopology(defaultTopology());
  if (!declared) throw new Error('the default topology has no xe PF with SR-IOV');
  b = createMockBackend({ profile: 'fixed', topology: declared.topology, reason: 'property test' });
  const pf = declared.topology.devices.find((d) => d.sriov)!.bdf;
  const vf = b.fs.readlink(`${PCI_DEVICES}/${pf}/virtfn0`).split('/').pop()!;
  bars = parseResource(b.fs.readText(`${PCI_DEVICES}/${vf}/resource`)).map((l) => ({ ...l, flags: BigInt(l.flags) }));
  device = openVfioDevice(b, vf);
});

afterAll(() => {
  device.close();
  b.close();
});

/** u64 values around the rules' edges, relative to a BAR of `barSize` bytes. */
function u64Edges(barSize: () => bigint): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 1n << 16n }).map((p) => p * PAGE) },
    {
      weight: 2,
      arbitrary: fc.bigInt({ min: -4n, max: 4n }).map((k) => {
        const v = barSize() + k * PAGE;
        return v < 0n ? 0n : v;
      }),
    },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 64n }).map((k) => U64 - 1n - k * PAGE + 1n - PAGE) },
    { weight: 1, arbitrary: fc.constantFrom(0n, PAGE, 1n << 62n, (1n << 63n) - PAGE, 1n << 63n, U64 - PAGE, U64 - 1n) },
    { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: PAGE - 1n }) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64 - 1n }) },
  );
}

const bar2Size = (): bigint => bars.find((x) => x.index === 2)!.size;

/** A range, from the edges, or one that ends within two pages of the BAR's end (either side). */
function rangeArb(barSize: () => bigint): fc.Arbitrary<[bigint, bigint]> {
  const nearEnd = fc
    .tuple(fc.bigInt({ min: 1n, max: 64n }), fc.bigInt({ min: -2n, max: 2n }))
    .map(([a, d]): [bigint, bigint] => {
      const offset = barSize() - a * PAGE;
      const length = (a + d) * PAGE;
      return [offset < 0n ? 0n : offset, length < 0n ? 0n : length];
    });
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(u64Edges(barSize), u64Edges(barSize)) },
    { weight: 1, arbitrary: nearEnd },
  );
}

const caseArb: fc.Arbitrary<DmaBufCase> = fc
  .record({
    featureFlags: fc.oneof(
      { weight: 12, arbitrary: fc.constant(0x1000b) },
      { weight: 1, arbitrary: fc.constantFrom(0x2000b, 0x3000b, 0x4000b, 0x5000b, 0x7000b, 0x000b, 0x1000b | 0x80000) },
    ),
    argsz: fc.option(fc.integer({ min: 0, max: 40 }), { freq: 8, nil: undefined }),
    regionIndex: fc.oneof(
      { weight: 10, arbitrary: fc.constant(2) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 9 }) },
      { weight: 1, arbitrary: fc.constant(0xffffffff) },
    ),
    flags: fc.oneof(
      { weight: 12, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffffffff }) },
    ),
    ranges: fc.array(rangeArb(bar2Size), { minLength: 0, maxLength: 5 }),
    nr: fc.oneof(
      { weight: 12, arbitrary: fc.constant('given' as const) },
      { weight: 1, arbitrary: fc.constantFrom(0, 262_144 + 1, 0xffffffff) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((k) => -k) },
    ),
  })
  .map((r) => {
    const nrRanges = r.nr === 'given' ? r.ranges.length : r.nr < 0 ? r.ranges.length - r.nr : r.nr;
    return {
      featureFlags: r.featureFlags,
      argsz: r.argsz ?? 8 + 16 + 16 * r.ranges.length,
      regionIndex: r.regionIndex,
      flags: r.flags,
      nrRanges,
      ranges: r.ranges,
    };
  });

function request(c: DmaBufCase): VfioDmaBufRequest {
  return {
    regionIndex: c.regionIndex,
    openFlags: 2,
    flags: c.flags,
    ranges: BigUint64Array.from(c.ranges.flat()),
    nrRanges: c.nrRanges,
    featureFlags: c.featureFlags,
    argsz: c.argsz,
  };
}

/** The mock's answer, in the table's terms; a dma-buf it made is closed again. */
function mockAnswer(c: DmaBufCase): DmaBufOutcome {
  let fd: number;
  try {
    fd = b.dev.vfioDmaBufGet(device.fd, request(c));
  } catch (e) {
    if (e instanceof SystemError) return { errno: e.code, rule: e.message };
    throw e;
  }
  if (fd === 0) return { probe: true };
  const info = parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${fd}`));
  b.dev.close(fd);
  return { size: info.size };
}

const hexed = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v);

const same = (a: DmaBufOutcome, e: DmaBufOutcome): boolean =>
  'errno' in e ? 'errno' in a && a.errno === e.errno : 'probe' in e ? 'probe' in a : 'size' in a && a.size === e.size;

describe('VFIO_DEVICE_FEATURE DMA_BUF: the mock follows the docs/kernel.md §3.3 rule table', () => {
  it('the VF under test has the BARs the edges are drawn around', () => {
    expect(bars.find((x) => x.index === 2)!.size).toBeGreaterThan(0n);
    expect(bars.find((x) => x.index === 1)?.size ?? 0n).toBe(0n);
  });

  it('random requests through DeviceOps: same errno, PROBE answer or dma-buf size', () => {
    const openBefore = b.kernel.live().dmabufs;
    fc.assert(
      fc.property(caseArb, (c) => {
        const want = expectDmaBuf(c, bars);
        const got = mockAnswer(c);
        if (!same(got, want))
          throw new Error(
            `mock: ${JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}, table: ${JSON.stringify(want, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))}`,
          );
      }),
      { numRuns: 1500 },
    );
    expect(b.kernel.live().dmabufs).toBe(openBefore);
  });

  it('the requests reach every rule of the table', () => {
    const rules = new Set<string>();
    fc.assert(
      fc.property(caseArb, (c) => {
        const want = expectDmaBuf(c, bars);
        rules.add('errno' in want ? want.rule : 'probe' in want ? 'probe' : 'success');
      }),
      { numRuns: 3000, seed: 7 },
    );
    expect([...rules].sort()).toEqual(
      [
        'BAR not implemented (vfio_pci_core_get_iomap)',
        'BAR start + offset + length overflows',
        'GET and SET without PROBE',
        'SET is not supported',
        'argsz < minsz of struct vfio_device_feature',
        'empty or unaligned range',
        'flag bits outside mask|GET|SET|PROBE',
        'neither GET nor SET',
        'nr_ranges == 0 or flags != 0',
        'payload smaller than struct vfio_device_feature_dma_buf',
        'probe',
        'range ends beyond the BAR',
        'ranges array larger than KMALLOC_MAX_SIZE',
        'ranges beyond the user buffer',
        'region_index >= VFIO_PCI_ROM_REGION_INDEX',
        'success',
        'total length has DMA_IOVA_USE_SWIOTLB set',
        'total length overflows size_t',
      ].sort(),
    );
  });

  it('BARs anywhere in the 64-bit space, memory or I/O: the range checks agree with the table', () => {
    const barArb = fc.record({
      start: fc.oneof(
        fc.bigInt({ min: 0n, max: 1n << 40n }).map((p) => p * PAGE),
        fc.bigInt({ min: 1n, max: 1n << 20n }).map((k) => U64 - k * (1n << 30n)),
      ),
      size: fc.constantFrom(PAGE, 2n << 20n, 1n << 30n, 16n << 30n),
      io: fc.boolean(),
    });
    fc.assert(
      fc.property(
        barArb,
        fc.array(
          rangeArb(() => 1n << 30n),
          { minLength: 1, maxLength: 5 },
        ),
        (bar, pairs) => {
          const start = bar.start + bar.size > U64 ? U64 - bar.size : bar.start;
          const table = expectDmaBuf(
            {
              featureFlags: 0x1000b,
              argsz: 24 + 16 * pairs.length,
              regionIndex: 2,
              flags: 0,
              nrRanges: pairs.length,
              ranges: pairs,
            },
            [{ index: 2, start, size: bar.size, flags: bar.io ? 0x101n : 0x40200n }],
          );
          let got: DmaBufOutcome;
          try {
            got = {
              size: checkRanges(BigUint64Array.from(pairs.flat()), pairs.length, start, bar.size, bar.io, 2).length,
            };
          } catch (e) {
            got = { errno: (e as { code: string }).code, rule: String(e) };
          }
          if (!same(got, table))
            throw new Error(
              `checkRanges: ${JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}, table: ${JSON.stringify(table)}`,
            );
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** A request of the bad-export table as the rule statement takes it (what the wrappers put in the ioctl). */
function caseOf(r: BadExportRequest): DmaBufCase {
  if (r.kind === 'feature')
    return {
      featureFlags: r.flags,
      argsz: r.argsz ?? 8 + r.payload,
      regionIndex: 0,
      flags: 0,
      nrRanges: 0,
      ranges: [],
    };
  const ranges = [...(r.ranges as readonly { offset: bigint; length: bigint }[])].map((x): [bigint, bigint] => [
    BigInt(x.offset),
    BigInt(x.length),
  ]);
  return {
    featureFlags: r.featureFlags ?? 0x1000b,
    argsz: r.argsz ?? 8 + 16 + 16 * ranges.length,
    regionIndex: r.region,
    flags: r.flags ?? 0,
    nrRanges: r.nrRanges ?? ranges.length,
    ranges,
  };
}

describe('the bad-export table (src/uapi/bad-exports.ts), which the catalog and the QEMU guest send', () => {
  it("every request gets the table's errno from the rule statement and from the mock", () => {
    const bar2 = bars.find((x) => x.index === 2)!;
    const unimplemented = bars.find((x) => x.index < 6 && x.size === 0n)!;
    const openBefore = b.kernel.live().dmabufs;
    const wrong: string[] = [];
    for (const c of BAD_EXPORTS) {
      const req = c.request(c.needs === 'emptyBar' ? { index: unimplemented.index, size: 0n } : bar2);
      // An unknown feature index is refused before DMA_BUF's rules (vfio_pci_core_ioctl_feature): outside the statement.
      if (req.kind === 'export' || (req.flags & 0xffff) === 0xb) {
        const want = expectDmaBuf(caseOf(req), bars);
        if (!('errno' in want) || want.errno !== c.errno)
          wrong.push(`${c.id}: rule statement ${JSON.stringify(want, hexed)}`);
      }
      let got = 'success';
      try {
        const made = sendBadExport(device, req);
        if (made && typeof made === 'object' && 'close' in made) (made as { close(): void }).close();
      } catch (e) {
        if (!(e instanceof SystemError)) throw e;
        got = e.code;
      }
      if (got !== c.errno) wrong.push(`${c.id}: mock ${got}, table ${c.errno}`);
    }
    expect(wrong).toEqual([]);
    expect(b.kernel.live().dmabufs).toBe(openBefore);
  });
});
