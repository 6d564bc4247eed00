import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  XE_ENGINE_SIZE,
  XE_GT_SIZE,
  XE_MEM_REGION_SIZE,
  XeQueryParseError,
  encodeConfig,
  encodeEngines,
  encodeGtList,
  encodeMemRegions,
  parseConfig,
  parseEngines,
  parseGtList,
  parseMemRegions,
} from '../../src/uapi/xe-query.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('hand-built blobs (docs/kernel.md §7 layouts)', () => {
  it('engines: u32 count, pad, then 32-byte entries of four u16', () => {
    const b = new Uint8Array(8 + 2 * 32);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 2, true);
    dv.setUint16(8, 1, true); // COPY
    dv.setUint16(10, 0, true);
    dv.setUint16(12, 0, true);
    dv.setUint16(40, 0, true); // RENDER
    dv.setUint16(42, 1, true);
    dv.setUint16(44, 1, true);
    expect(parseEngines(b)).toEqual([
      { engineClass: 1, engineInstance: 0, gtId: 0 },
      { engineClass: 0, engineInstance: 1, gtId: 1 },
    ]);
  });

  it('mem regions: 88-byte entries, u64 sizes at 8..32', () => {
    const b = new Uint8Array(8 + 88);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 1, true);
    dv.setUint16(8, 1, true); // VRAM
    dv.setUint16(10, 1, true);
    dv.setUint32(12, 65536, true);
    dv.setBigUint64(16, 16n << 30n, true);
    dv.setBigUint64(24, 1n << 20n, true);
    dv.setBigUint64(32, 256n << 20n, true);
    dv.setBigUint64(40, 0n, true);
    expect(parseMemRegions(b)).toEqual([
      {
        memClass: 1,
        instance: 1,
        minPageSize: 65536,
        totalSize: 16n << 30n,
        used: 1n << 20n,
        cpuVisibleSize: 256n << 20n,
        cpuVisibleUsed: 0n,
      },
    ]);
  });

  it('config: device id and revision from info[0], flags, alignment, VA bits', () => {
    const b = new Uint8Array(8 + 5 * 8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 5, true);
    dv.setBigUint64(8, 0x0b_e20bn, true); // BMG-ish device 0xe20b, revision 0x0b
    dv.setBigUint64(16, 1n, true);
    dv.setBigUint64(24, 65536n, true);
    dv.setBigUint64(32, 48n, true);
    dv.setBigUint64(40, 2n, true);
    expect(parseConfig(b)).toMatchObject({
      deviceId: 0xe20b,
      revision: 0x0b,
      hasVram: true,
      minAlignment: 65536n,
      vaBits: 48,
      maxExecQueuePriority: 2,
    });
  });

  it('GT list: 96-byte entries, clock at 12, region masks at 16 and 24, IP version at 32', () => {
    const b = new Uint8Array(8 + 96);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, 1, true);
    dv.setUint16(8 + 0, 0, true);
    dv.setUint16(8 + 2, 0, true);
    dv.setUint16(8 + 4, 0, true);
    dv.setUint32(8 + 12, 100_000_000, true);
    dv.setBigUint64(8 + 16, 0b10n, true);
    dv.setBigUint64(8 + 24, 0b01n, true);
    dv.setUint16(8 + 32, 20, true);
    dv.setUint16(8 + 34, 1, true);
    dv.setUint16(8 + 36, 4, true);
    expect(parseGtList(b)).toEqual([
      {
        type: 0,
        tileId: 0,
        gtId: 0,
        referenceClock: 100_000_000,
        nearMemRegions: 2n,
        farMemRegions: 1n,
        ipVerMajor: 20,
        ipVerMinor: 1,
        ipVerRev: 4,
      },
    ]);
  });

  it('refuses blobs shorter than their count says', () => {
    const b = encodeEngines([{ engineClass: 0, engineInstance: 0, gtId: 0 }]);
    expect(() => parseEngines(b.subarray(0, b.length - 1))).toThrow(XeQueryParseError);
    expect(() => parseMemRegions(new Uint8Array(4))).toThrow(/header alone/);
    expect(() => parseConfig(encodeConfig([1n, 2n]))).toThrow(/at least 4/);
    const gt = new Uint8Array(8);
    new DataView(gt.buffer).setUint32(0, 3, true);
    expect(() => parseGtList(gt)).toThrow(/3 entries need 296 bytes/);
  });

  it('uses the struct sizes the kernel has', () => {
    expect([XE_ENGINE_SIZE, XE_MEM_REGION_SIZE, XE_GT_SIZE]).toEqual([32, 88, 96]);
  });

  it('parses views that do not start at offset 0 of their buffer', () => {
    const blob = encodeEngines([{ engineClass: 4, engineInstance: 2, gtId: 1 }]);
    const padded = new Uint8Array(blob.length + 16);
    padded.set(blob, 16);
    expect(parseEngines(padded.subarray(16))).toEqual([{ engineClass: 4, engineInstance: 2, gtId: 1 }]);
  });
});

describe('encode then parse is the identity', () => {
  it('engines', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ engineClass: u16, engineInstance: u16, gtId: u16 }), { maxLength: 20 }), (e) => {
        expect(parseEngines(encodeEngines(e))).toEqual(e);
      }),
    );
  });

  it('mem regions', () => {
    const region = fc.record({
      memClass: u16,
      instance: u16,
      minPageSize: u32,
      totalSize: u64,
      used: u64,
      cpuVisibleSize: u64,
      cpuVisibleUsed: u64,
    });
    fc.assert(
      fc.property(fc.array(region, { maxLength: 8 }), (r) => {
        expect(parseMemRegions(encodeMemRegions(r))).toEqual(r);
      }),
    );
  });

  it('GT list', () => {
    const gt = fc.record({
      type: u16,
      tileId: u16,
      gtId: u16,
      referenceClock: u32,
      nearMemRegions: u64,
      farMemRegions: u64,
      ipVerMajor: u16,
      ipVerMinor: u16,
      ipVerRev: u16,
    });
    fc.assert(
      fc.property(fc.array(gt, { maxLength: 8 }), (g) => {
        expect(parseGtList(encodeGtList(g))).toEqual(g);
      }),
    );
  });

  it('config', () => {
    fc.assert(
      fc.property(fc.array(u64, { minLength: 4, maxLength: 8 }), (info) => {
        expect(parseConfig(encodeConfig(info)).info).toEqual(info);
      }),
    );
  });
});
