// stress/*: many buffers over every VF, and one buffer of as many ranges as
// the kernel takes (docs/kernel.md §3.3: the ranges array is kmalloc'ed, capped at
// 4 MiB, about 262,144 ranges).

import { buildStoreBatch, type PatternSpan } from '../../uapi/batch.js';
import { hex, type Json } from '../../report/model.js';
import { barAccess, describeMismatch, freshSeed, gpuWriteCpuRead, type BarAccess, type DataPage } from '../data.js';
import { Gpu, type Bound } from '../gpu.js';
import { importAndBind, requireImport } from '../imports.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { exportDmaBuf, openVf, PAGE, pathBlindSpots, startTrace } from '../steps.js';
import type { TraceSession } from '../tracefs.js';
import { lmemSpan } from './import.js';

const PER_VF = 16;
/** docs/kernel.md §3.3: the kernel copies the ranges with kmalloc, capped at 4 MiB = 262,144 ranges of 16 bytes. */
export const MAX_RANGES = 262_144;

/** iov is required only where the trace can show it: the series, and every probe a path verdict needs armed (path.ts). */
function expectedPathOf(ctx: ScenarioContext, trace: TraceSession | null): 'iov' | null {
  return ctx.caps.caps.interconnect.ok && trace !== null && pathBlindSpots(ctx, trace).length === 0 ? 'iov' : null;
}

export const stressManyBuffers: Scenario = {
  id: 'stress/many-buffers',
  title: 'many buffers on every VF',
  description:
    `Exports ${PER_VF} one-page buffers from every VF bound to vfio-pci, imports and binds all of them into the PF's xe at once, ` +
    "then has one GPU batch write a different seeded pattern into each VF's buffers and reads every page back through each VF's " +
    "BAR 2. Each buffer must take the same path (iov, when the kernel has the interconnect) and each page must hold its own VF's " +
    "pattern: a translation that mixes VFs up shows as another VF's words.",
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const vfs = ctx.target!.vfioVfs.filter((v) => lmemSpan(v) >= BigInt(2 * PER_VF) * PAGE);
    if (vfs.length === 0)
      ctx.skip('provisioning', 'no VF on vfio-pci has LMEM provisioned', 'iovh provision <PF> --vf N --vram 64M');
    const gpu = Gpu.open(ctx);
    const trace = startTrace(ctx);
    const want = expectedPathOf(ctx, trace);
    const spans: PatternSpan[] = [];
    const checks: { bar: BarAccess; vf: string; seed: bigint; pages: DataPage[] }[] = [];
    const paths = new Map<string, number>();
    let imports = 0;
    for (const vf of vfs) {
      ctx.abortIfStopped();
      const device = openVf(ctx, vf.bdf);
      const bar = barAccess(ctx, device, 2);
      const seed = freshSeed();
      const pages: DataPage[] = [];
      for (let i = 0; i < PER_VF; i++) {
        const offset = BigInt(2 * i) * PAGE;
        const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset, length: PAGE }] });
        const imp = importAndBind(ctx, gpu, trace, buf, PAGE, `VF ${vf.bdf} buffer ${i}`);
        imports += 1;
        paths.set(imp.verdict.path, (paths.get(imp.verdict.path) ?? 0) + 1);
        ctx.setPath(imp.verdict.path);
        if (want && imp.verdict.path !== want)
          ctx.fail(`VF ${vf.bdf} buffer ${i}: path ${imp.verdict.path}, expected ${want} (${imp.verdict.why})`);
        if (!imp.bound) continue;
        if (want)
          ctx.check(
            imp.verdict.lookupVfids.includes(vf.id),
            `VF ${vf.bdf} buffer ${i}: translated for vfid ${imp.verdict.lookupVfids.join(', ')}, expected ${vf.id}`,
          );
        bar.zero(offset, Number(PAGE));
        spans.push({ va: imp.bound.va!, length: Number(PAGE), seed, base: offset });
        pages.push({ range: i, which: 'first', boOffset: 0n, barOffset: offset });
      }
      checks.push({ bar, vf: vf.bdf, seed, pages });
    }
    ctx.record('buffers', imports);
    ctx.record('paths', Object.fromEntries(paths) as Json);
    if (spans.length > 0) await gpu.exec(buildStoreBatch(spans), Math.max(2000, ctx.timing.stallMs * 2));
    let bad = 0;
    for (const c of checks) {
      for (const p of c.pages) {
        const m = c.bar.verify(p.barOffset, Number(PAGE), c.seed, p.barOffset);
        if (m) {
          bad += 1;
          if (bad === 1)
            ctx.fail(
              `VF ${c.vf} buffer at BAR 2 ${hex(p.barOffset)}: word at +${hex(m.offset)} is ${hex(m.actual)}, expected ${hex(m.expected)}`,
            );
        }
      }
    }
    ctx.record('pagesWrong', bad);
    if (ctx.failures.length === 0)
      ctx.note(`${imports} buffers on ${vfs.length} VFs, all ${[...paths.keys()].join('/')}, every page verified`);
  },
};

export const stressMaxRanges: Scenario = {
  id: 'stress/max-ranges',
  title: 'one buffer of many ranges',
  description:
    `Exports one dma-buf of as many one-page ranges as the VF's LMEM holds with a gap after each, up to ${MAX_RANGES.toLocaleString('en')} ` +
    "(the kernel's kmalloc cap, docs/kernel.md §3.3), imports and binds it (xe translates every range), requires the IOV path when the " +
    'kernel has the interconnect, and verifies GPU-written data at the first, second, middle and last two ranges.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const vf = ctx.target!.vf;
    const count = Math.min(MAX_RANGES, Number(lmemSpan(vf) / (2n * PAGE)));
    if (count < 4)
      ctx.skip(
        'provisioning',
        `VF ${vf.bdf} has room for ${count} gapped pages, 4 needed`,
        `iovh provision <PF> --vf ${vf.id} --vram 64M`,
      );
    const ranges = new BigUint64Array(2 * count);
    for (let i = 0; i < count; i++) {
      ranges[2 * i] = BigInt(2 * i) * PAGE;
      ranges[2 * i + 1] = PAGE;
    }
    const gpu = Gpu.open(ctx);
    const trace = startTrace(ctx);
    const device = openVf(ctx, vf.bdf);
    const t0 = performance.now();
    const buf = exportDmaBuf(ctx, device, { region: 2, ranges });
    const t1 = performance.now();
    const imp = importAndBind(ctx, gpu, trace, buf, BigInt(count) * PAGE, `VF ${vf.bdf} ${count} ranges`);
    const t2 = performance.now();
    ctx.record('ranges', count);
    ctx.record('ms', { export: Math.round(t1 - t0), importAndBind: Math.round(t2 - t1) });
    ctx.setPath(imp.verdict.path);
    const want = expectedPathOf(ctx, trace);
    if (
      want &&
      !ctx.check(imp.verdict.path === want, `path ${imp.verdict.path}, expected ${want} (${imp.verdict.why})`)
    )
      return;
    if (!imp.bound) {
      ctx.fail(`the import of ${count} ranges was refused (${imp.verdict.why})`);
      return;
    }
    const sample = [...new Set([0, 1, Math.floor(count / 2), count - 2, count - 1])];
    const pages: DataPage[] = sample.map((i) => ({
      range: i,
      which: 'first',
      boOffset: BigInt(i) * PAGE,
      barOffset: BigInt(2 * i) * PAGE,
    }));
    const check = await gpuWriteCpuRead(ctx, gpu, barAccess(ctx, device, 2), imp.bound as Bound, pages);
    if (ctx.check(check.ok, describeMismatch(check)))
      ctx.note(`${count.toLocaleString('en')} ranges, path ${imp.verdict.path}, sampled ranges verified`);
  },
};

export const stressScenarios: Scenario[] = [stressManyBuffers, stressMaxRanges];
