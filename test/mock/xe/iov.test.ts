// The same import under each profile: `iov` under fixed, untranslated or
// wrong under rfc-v1 for each RFC quirk of docs/profiles.md, `p2p` under upstream.
// Evidence as the harness gathers it: data (GPU MI_STORE_DATA_IMM of the
// pattern into the import at the first and last page of every range, CPU
// read back through the VF's BAR 2) and trace hits.
import { describe, expect, it } from 'vitest';
import { patternVerifyTs } from '../../../src/uapi/pattern.js';
import { BatchBuilder } from '../../../src/uapi/batch.js';
import type { QuirkId } from '../../../src/mock/contracts.js';
import { MiB, PAGE, profile, type FakePlatform, type TopologyOptions } from './fake-platform.js';
import { expectErrno, PAT_WB, fakeRig as rig, runner, type FakeRig as Rig } from './setup.js';

const IMPORT_VA = 0x1_0000_0000n;
const SEED = 0x5eedn;

interface Range {
  vf: number;
  offset: bigint;
  length: bigint;
}

type Path = 'iov' | 'p2p' | 'untranslated' | 'refused';

interface Outcome {
  path: Path;
  /** per range: first and last page verified through the VF's BAR 2 */
  data: boolean[];
  rig: Rig;
}

/** Pages the harness checks: first and last of every range, in BO and BAR terms. */
function probes(ranges: readonly Range[]): { bo: bigint; vf: number; bar: bigint }[] {
  const out: { bo: bigint; vf: number; bar: bigint }[] = [];
  let bo = 0n;
  for (const r of ranges) {
    const last = r.length - BigInt(PAGE);
    out.push({ bo, vf: r.vf, bar: r.offset });
    if (last > 0n) out.push({ bo: bo + last, vf: r.vf, bar: r.offset + last });
    bo += r.length;
  }
  return out;
}

function classify(p: FakePlatform): Path {
  const k = p.kernel;
  const translated = k.hits('xe_gt_sriov_pf_config_get_lmem_obj', 'return').some((t) => t.values.retval !== 0n);
  if (k.hits('dma_buf_map_attachment').length) return 'p2p';
  if (translated) return 'iov';
  if (k.hits('xe_bo_xarray_to_dma_addr', 'entry').length) return 'untranslated';
  return 'refused';
}

function run(
  prof: Parameters<typeof profile>[0] | QuirkId[],
  topo: TopologyOptions,
  ranges: readonly Range[],
  opts: { mixed?: boolean } = {},
): Outcome {
  const r = rig(Array.isArray(prof) ? profile('fixed', prof) : prof, topo);
  const { p, xe } = r;
  const buf = opts.mixed
    ? p.exportPhys(
        p.vfs[ranges[0]!.vf]!,
        ranges.map((x) => [p.vfBar2(x.vf).start + x.offset, x.length] as [bigint, bigint]),
      )
    : p.exportVf(
        ranges[0]!.vf,
        ranges.map((x) => [x.offset, x.length] as [bigint, bigint]),
      );
  const imp = xe.primeImport(buf.fd);
  const size = ranges.reduce((s, x) => s + x.length, 0n);
  const g = runner(xe);
  try {
    g.vm.map(imp, IMPORT_VA, size, { patIndex: PAT_WB });
  } catch (e) {
    if ((e as { code?: string }).code === undefined) throw e;
    return { path: 'refused', data: ranges.map(() => false), rig: r };
  }
  const pages = probes(ranges);
  const b = new BatchBuilder();
  for (const pg of pages) b.storePattern({ va: IMPORT_VA + pg.bo, length: PAGE, seed: SEED, base: pg.bar });
  g.run(b.end());
  const ok = pages.map((pg) => patternVerifyTs(p.barRead(pg.vf, pg.bar, PAGE), SEED, pg.bar) === null);
  // fold the page results back per range
  const data: boolean[] = [];
  let i = 0;
  for (const x of ranges) {
    const n = x.length > BigInt(PAGE) ? 2 : 1;
    data.push(ok.slice(i, i + n).every(Boolean));
    i += n;
  }
  return { path: classify(p), data, rig: r };
}

const one = (vf: number, offset: bigint, length = 2n * MiB): Range[] => [{ vf, offset, length }];

describe('the ordinary import', () => {
  it('fixed: iov, translated for VF id = index + 1, the bytes land in the VF LMEM', () => {
    const o = run('fixed', {}, one(1, 4n * MiB));
    expect(o.path).toBe('iov');
    expect(o.data).toEqual([true]);
    const k = o.rig.p.kernel;
    expect(k.hits('xe_gt_sriov_pf_config_get_lmem_obj', 'entry')[0]!.values.arg2).toBe(2);
    expect(k.hits('xe_dma_buf_supports_interconnects', 'entry').length).toBe(1);
    expect(k.hits('dma_buf_map_interconnect', 'return').length).toBe(1);
    expect(k.leaks()).toEqual([]);
    // the LMEM object is referenced while the import lives, released with it
    expect(o.rig.p.lmem.get(2)!.refs).toBe(1);
    o.rig.xe.close();
    expect(o.rig.p.lmem.get(2)!.refs).toBe(0);
    expect(k.hits('dma_buf_unmap_interconnect').length).toBe(1);
  });

  it('upstream: p2p through the VF BAR, no interconnect symbol is ever reached', () => {
    const o = run('upstream-7.1', {}, one(1, 4n * MiB));
    expect(o.path).toBe('p2p');
    expect(o.data).toEqual([true]);
    const k = o.rig.p.kernel;
    expect(k.hits('xe_dma_buf_supports_interconnects').length).toBe(0);
    expect(k.hits('xe_gt_sriov_pf_config_get_lmem_obj').length).toBe(0);
  });

  it('rfc-v1: iov with the right bytes, but the range container leaks (quirk 6)', () => {
    const o = run('rfc-v1', {}, one(1, 4n * MiB));
    expect(o.path).toBe('iov');
    expect(o.data).toEqual([true]);
    expect(o.rig.p.kernel.leaks()).toEqual(['struct dma_buf_ranges', 'struct range array']);
    expect(o.rig.p.kernel.hits('dma_buf_unmap_interconnect').length).toBe(0);
  });

  it('a range of another BAR (0) gets no IOV match: p2p under every profile', () => {
    for (const prof of ['fixed', 'rfc-v1', 'upstream-7.1'] as const) {
      const r = rig(prof);
      const buf = r.p.exportVf(0, [[0n, 0x10000n]], 0);
      const h = r.xe.primeImport(buf.fd);
      expect(buf.dmabuf.attachments[0]!.interconnect).toBeNull();
      const g = runner(r.xe);
      g.vm.map(h, IMPORT_VA, 0x10000n, { patIndex: PAT_WB });
      expect(classify(r.p)).toBe('p2p');
    }
  });
});

describe('each RFC quirk: fixed translates, rfc-v1 does not (or wrongly), upstream goes p2p', () => {
  /**
   * RFC v1 quirk 2's end (7/8 leaves ttm_bo->sg NULL and no dma_addr; 8/8's xe_pt_stage_bind then takes
   * the sg branch: xe_res_first_sg(NULL) WARNs and dereferences it, drivers/gpu/drm/xe/xe_res_cursor.h):
   * the bind of the untranslated import oopses inside VM_BIND.
   */
  const nullSgOops = (o: Outcome): void => {
    expect(o.path).toBe('refused');
    expect(o.rig.p.kernel.hits('xe_bo_xarray_to_dma_addr', 'return')[0]!.values.retval).toBe(0); // "success"
    expect(o.rig.p.kernel.warns.map((w) => w.text)).toContain('drivers/gpu/drm/xe/xe_res_cursor.h:233');
    expect(o.rig.p.kernel.oopses).toEqual([
      { kind: 'NULL pointer dereference', site: 'xe_pt_stage_bind+0x302/0x6d0 [xe]' },
    ]);
  };

  it('quirk 1, the last page of the VF BAR: not recognised by rfc-v1, whose bind then oopses (quirk 2)', () => {
    const topo = { vfBarSize: 256n * MiB };
    const last = one(0, 256n * MiB - BigInt(PAGE), BigInt(PAGE));
    expect(run('fixed', topo, last)).toMatchObject({ path: 'iov', data: [true] });
    expect(run('upstream-7.1', topo, last)).toMatchObject({ path: 'p2p', data: [true] });
    // RFC v2's search has the same bound, but a failed translation falls back to P2P.
    expect(run('rfc-v2', topo, last)).toMatchObject({ path: 'p2p', data: [true] });
    nullSgOops(run(['last-page', 'silent-untranslated'], topo, last));
    const v1 = run('rfc-v1', topo, last);
    nullSgOops(v1);
    expect(v1.rig.p.kernel.hits('xe_find_vf_dev', 'return')[0]!.values.retval).toBe(0n);
  });

  it('quirk 2, silent non-translation: xe not in PF mode; rfc-v1 reports success and the bind oopses', () => {
    const topo = { pfMode: false };
    const fixed = run('fixed', topo, one(0, 0n));
    // the intent: refuse the translation, hand the ranges back, fall back to P2P
    expect(fixed).toMatchObject({ path: 'p2p', data: [true] });
    expect(fixed.rig.p.kernel.hits('dma_buf_unmap_interconnect').length).toBe(1);
    expect(fixed.rig.p.kernel.oopses).toEqual([]);
    nullSgOops(run('rfc-v1', topo, one(0, 0n)));
  });

  it('quirk 3, only the first range picks the VF: a buffer over two VFs is mistranslated by rfc-v1', () => {
    const ranges: Range[] = [
      { vf: 0, offset: 0n, length: 2n * MiB },
      { vf: 1, offset: 0n, length: 2n * MiB },
    ];
    expect(run('fixed', {}, ranges, { mixed: true })).toMatchObject({ path: 'p2p', data: [true, true] });
    // VF 1's BAR sits past VF 0's window, so its offset is past VF 0's quota: with the
    // quota checked the translation is refused and the import falls back to P2P
    expect(run(['first-range-vf'], {}, ranges, { mixed: true })).toMatchObject({ path: 'p2p', data: [true, true] });
    expect(run(['first-range-vf', 'quota-unchecked'], {}, ranges, { mixed: true })).toMatchObject({
      path: 'iov',
      data: [true, false],
    });
    const v1 = run('rfc-v1', {}, ranges, { mixed: true });
    expect(v1).toMatchObject({ path: 'iov', data: [true, false] });
    // the second range is taken relative to VF 0's BAR: past VF 0's quota
    expect(v1.rig.p.kernel.warns.length).toBe(1);
  });

  it('quirk 4, an unprovisioned VF: rfc-v1 oopses (taint D), the ioctl fails, nothing throws', () => {
    const topo = { quota: (vfid: number) => (vfid === 1 ? 0n : 256n * MiB) };
    const fixed = run('fixed', topo, one(0, 0n));
    expect(fixed.path).toBe('p2p');
    // no LMEM behind the BAR: the bytes go nowhere, without a crash
    expect(fixed.data).toEqual([false]);
    expect(fixed.rig.p.kernel.oopses).toEqual([]);
    const r = rig('rfc-v1', topo);
    const buf = r.p.exportVf(0, [[0n, 2n * MiB]]);
    const h = r.xe.primeImport(buf.fd);
    const g = runner(r.xe);
    expectErrno(() => g.vm.map(h, IMPORT_VA, 2n * MiB, { patIndex: PAT_WB }), 'EFAULT');
    expect(r.p.kernel.oopses).toEqual([
      { kind: 'NULL pointer dereference', site: expect.stringMatching(/^xe_bo_addr\+/) },
    ]);
    expect(r.p.kernel.hits('xe_gt_sriov_pf_config_get_lmem_obj', 'return')[0]!.values.retval).toBe(0n);
    // the ranges handed over before the crash are never given back
    expect(r.p.kernel.leaks()).toContain('struct dma_buf_ranges');
    // the model survives: closing everything works
    r.xe.close();
    expect(r.p.xe.liveObjects()).toMatchObject({ bos: 0, files: 0 });
  });

  it('quirk 5, VFs on the next bus: rfc-v1 walks only the PF bus and never finds them', () => {
    // routing-ID offset 0xff: VF0 is 03:1f.7, VF1 is 04:00.0
    const topo = { vfOffset: 0xff };
    const r = rig('fixed', topo);
    expect(r.p.vfs.map((v) => v.bdf).slice(0, 2)).toEqual(['0000:03:1f.7', '0000:04:00.0']);
    expect(run('fixed', topo, one(1, 0n))).toMatchObject({ path: 'iov', data: [true] });
    nullSgOops(run('rfc-v1', topo, one(1, 0n)));
    expect(run('rfc-v2', topo, one(1, 0n))).toMatchObject({ path: 'p2p', data: [true] });
    // the VF still on the PF's bus is found
    expect(run('rfc-v1', topo, one(0, 0n))).toMatchObject({ path: 'iov', data: [true] });
    expect(run('upstream-7.1', topo, one(1, 0n))).toMatchObject({ path: 'p2p', data: [true] });
  });

  it('quirk 7, order from the length: with a 3-page range the walk reads pages never exported', () => {
    const ranges: Range[] = [
      { vf: 0, offset: 0n, length: 3n * BigInt(PAGE) },
      { vf: 0, offset: 64n * BigInt(PAGE), length: 2n * BigInt(PAGE) },
    ];
    expect(run('fixed', {}, ranges)).toMatchObject({ path: 'iov', data: [true, true] });
    expect(run('upstream-7.1', {}, ranges)).toMatchObject({ path: 'p2p', data: [true, true] });
    const v1 = run('rfc-v1', {}, ranges);
    expect(v1).toMatchObject({ path: 'iov', data: [true, false] });
    // BO page 3 (range 2's first page) landed right after range 1, in LMEM nobody exported
    expect(patternVerifyTs(v1.rig.p.barRead(0, 3n * BigInt(PAGE), PAGE), SEED, 64n * BigInt(PAGE))).toBeNull();
    expect(run(['order-from-length', 'contiguity'], {}, ranges)).toMatchObject({ data: [true, false] });
  });

  it('quirk 8, contiguity: a range crossing an LMEM block boundary is mistranslated past it', () => {
    const topo = { lmemBlock: 1n * MiB };
    const cross = one(0, 512n * 1024n, 1n * MiB);
    expect(run('fixed', topo, cross)).toMatchObject({ path: 'iov', data: [true] });
    expect(run('rfc-v1', topo, cross)).toMatchObject({ path: 'iov', data: [false] });
    expect(run(['contiguity'], topo, cross)).toMatchObject({ path: 'iov', data: [false] });
    // within one block all is well
    expect(run('rfc-v1', topo, one(0, 0n, 1n * MiB))).toMatchObject({ path: 'iov', data: [true] });
  });

  it('no quota check (docs/kernel.md §11.3): a range past the quota WARNs and wraps under rfc-v1', () => {
    // BAR 512 MiB, quota 256 MiB: offset 300 MiB is in the BAR (vfio accepts it) but past the LMEM object
    const past = one(0, 300n * MiB, 64n * 1024n);
    const fixed = run('fixed', {}, past);
    expect(fixed.path).toBe('p2p');
    expect(fixed.rig.p.kernel.warns).toEqual([]);
    const v1 = run('rfc-v1', {}, past);
    expect(v1).toMatchObject({ path: 'iov', data: [false] });
    expect(v1.rig.p.kernel.warns).toEqual([
      { site: expect.stringMatching(/^xe_bo_addr\+/), text: expect.stringContaining('xe_res_cursor.h') },
    ]);
    // the wrap lands inside VF 0's own LMEM, 300 MiB mod 256 MiB = 44 MiB in
    expect(patternVerifyTs(v1.rig.p.barRead(0, 44n * MiB, PAGE), SEED, 300n * MiB)).toBeNull();
  });
});
