// Who imports in the edge/* scenarios: the PF's xe (a PRIME import and a VM
// bind, the GPU copying what it reads, src/harness/imports.ts) or, on a
// machine whose PF is iovh's mock GPU (QEMU device iovh-mock-gpu, docs/
// mock-gpu.md), iovh's stand-in importer module in xe's place: it imports for
// the PF the way xe does in the IOV interconnect series and runs the PF
// driver's translation step (kernel/iovh-mock-gpu/xlate.c, which follows RFC
// v1 7/8 against the device's block table), and reads the exported memory
// through the translated addresses. Same scenarios, same data checks: the CPU
// writes the pattern through the VF's BAR 2 and the importer reads it through
// the import; only the reader differs.
//
// Two places where the stand-in's translation differs from RFC v1's xe on
// purpose (kernel/iovh-mock-gpu/xlate.c): where xe goes on untranslated (no
// owner VF, RFC quirk 2) or dereferences a NULL LMEM object (an
// unprovisioned VF, quirk 4), the translation returns an error naming the
// quirk in the kernel log and the importer falls back to the scatter-gather
// map, as RFC v2 does. The scenarios read that fallback as they read RFC v2's.

import type { DmaBuf } from '../uapi/dmabuf.js';
import { IOVH_IC, icPathName, type IcImport, type StandInImporter } from '../uapi/iovh-ic.js';
import { openStandIn } from './standin.js';
import { patternVerify } from '../core/pattern.js';
import { hex, type Json } from '../report/model.js';
import type { BarAccess, DataPage, ReadCheck } from './data.js';
import { cpuWriteGpuRead, freshSeed, pageEvidence } from './data.js';
import { Gpu } from './gpu.js';
import { importAndBind, requireIov, type Imported } from './imports.js';
import type { ScenarioContext } from './scenario.js';
import { errnoOf, PAGE, requireCaps, requirePathTrace } from './steps.js';
import type { TraceSession } from './tracefs.js';

/**
 * PF drivers that install a translation step in the stand-in importer
 * (kernel/iovh-ic-importer/xlate.h iovh_ic_set_xlate) for their VFs' BAR 2:
 * iovh's mock GPU PF driver (kernel/iovh-mock-gpu/main.c registers as
 * "iovh_mock_gpu"; the PCI core names the driver directory after it).
 */
export const STAND_IN_PF_DRIVERS: readonly string[] = ['iovh_mock_gpu'];

/** xe's GPU and trace are opened at the first import (as the scenarios did before the stand-in). */
export type IovImporter =
  | { kind: 'xe'; gpu?: Gpu; trace?: TraceSession | null }
  | { kind: 'stand-in'; ic: StandInImporter; pf: string; translation: string };

/**
 * The importer of an IOV scenario, or skip. An xe PF: xe, with what
 * requireIov asks (the trace tells the path). A PF whose driver installs a
 * translation in the stand-in importer: the stand-in, whose own answers
 * (negotiated, the map's path) tell the path; it must be loaded, built
 * against the series, and translating (the identity translation reads the
 * VF's BAR itself, so nothing of RFC 7/8 would be tested). Anything else:
 * requireIov's skip (the PF is not xe).
 */
export function requireIovImporter(ctx: ScenarioContext): IovImporter {
  const pf = ctx.target?.pf ?? null;
  if (!pf || ctx.caps.caps.xe.ok || !STAND_IN_PF_DRIVERS.includes(pf.driver ?? '')) {
    requireIov(ctx);
    return { kind: 'xe' };
  }
  requireCaps(ctx, 'target', 'dmaBufExport', 'lmemBar', 'interconnect');
  const ic = openStandIn(ctx, {
    why: (code) =>
      `PF ${pf.bdf} is driven by ${pf.driver}, whose importer is iovh's stand-in, and the stand-in is not loaded (${code} opening ${IOVH_IC.DEVICE})`,
    enable: 'insmod iovh_ic_importer.ko before the PF driver (`iovh qemu --device mock-gpu` does both)',
    series: true,
  });
  if (ic.version.xlate === 0)
    ctx.skip(
      'standIn',
      `the stand-in importer has no translation step for PF ${pf.bdf} (identity: it would read the VF's BAR itself, so nothing of the translation is tested)`,
      `load the stand-in importer before ${pf.driver} (the PF driver installs its translation when it loads after it)`,
    );
  const translation = `translation ${hex(BigInt(ic.version.xlate))}`;
  ctx.record('importer', { kind: 'stand-in', pf: pf.bdf, api: ic.api, translation });
  return { kind: 'stand-in', ic, pf: pf.bdf, translation };
}

/** Kernel log lines of the mock GPU's translation (kernel/iovh-mock-gpu/xlate.c: "RFC 7/8: ...", "RFC 7/8 (fixed): ..."). */
function translationLines(ctx: ScenarioContext, from: number): string[] {
  const line = /^.*?RFC 7\/8(?: \(fixed\))?: /;
  return ctx
    .kmsgSinceStart()
    .slice(from)
    .map((r) => r.text)
    .filter((t) => line.test(t))
    .map((t) => t.replace(line, ''));
}

/**
 * Import `dmabuf` (its `size` bytes) with the scenario's importer and map
 * it; the path verdict, the refusal and the evidence as importAndBind gives
 * them. An errno at import or map is the `refused` path, recorded.
 */
export function importForIov(
  ctx: ScenarioContext,
  importer: IovImporter,
  dmabuf: DmaBuf,
  size: bigint,
  label: string,
): Imported {
  if (importer.kind === 'xe') {
    importer.gpu ??= Gpu.open(ctx);
    if (importer.trace === undefined) importer.trace = requirePathTrace(ctx);
    return importAndBind(ctx, importer.gpu, importer.trace, dmabuf, size, label);
  }
  const seen = ctx.kmsgSinceStart().length;
  const got = errnoOf(() => importer.ic.import(dmabuf.fd, { importer: importer.pf, bar: 2 }));
  let refused: { step: string; code: string } | null = null;
  let ic: IcImport | null = null;
  let path: 'iov' | 'sg' | 'none' = 'none';
  let nrRanges = 0;
  if (got.code !== null) refused = { step: 'IOVH_IC_IMPORT', code: got.code };
  else {
    ic = got.value as IcImport;
    const imp = ic;
    ctx.defer(`release stand-in import ${imp.handle} (${label})`, () => imp.release());
    const mapped = errnoOf(() => imp.map());
    if (mapped.code !== null) refused = { step: 'IOVH_IC_MAP', code: mapped.code };
    else {
      const m = mapped.value as ReturnType<IcImport['map']>;
      path = icPathName(m.path);
      nrRanges = m.nrRanges;
    }
  }
  const negotiated = ic?.negotiated ?? false;
  const failed = translationLines(ctx, seen);
  // The translation refused and the importer fell back to scatter-gather (xe of RFC v2's fallback).
  const fellBack = negotiated && path !== 'iov' && failed.length > 0 ? failed.join('; ') : null;
  const verdictPath = refused ? 'refused' : path === 'iov' ? 'iov' : path === 'sg' ? 'p2p' : 'unknown';
  const why = [
    negotiated ? 'IOV negotiated' : 'IOV not negotiated',
    fellBack ? `the translation failed (${fellBack}) and the importer fell back to scatter-gather` : null,
    refused ? `${refused.step} returned ${refused.code}` : `mapped: ${path}, ${nrRanges} range(s)`,
  ]
    .filter((s) => s !== null)
    .join('; ');
  const entry: { [k: string]: Json } = {
    label,
    importer: `stand-in for ${importer.pf} (${importer.translation})`,
    path: verdictPath,
    why,
    negotiated,
    refused: refused ? `${refused.step}: ${refused.code}` : null,
    translation: failed,
  };
  if (ic && path !== 'none') entry.ranges = ic.ranges().map((r) => ({ start: hex(r.start), end: hex(r.end) }));
  ctx.append('imports', entry);
  return {
    label,
    otherBus: null,
    handle: null,
    bound: null,
    ic: ic && path === 'iov' ? ic : null,
    translationFailed: fellBack,
    size,
    verdict: {
      path: verdictPath,
      why: `stand-in importer: ${why}`,
      negotiated,
      mappedInterconnect: path === 'iov',
      sgMapped: path === 'sg',
      lookupVfids: [],
      translated: path === 'iov',
      route: null,
    },
    refused,
    hits: [],
  };
}

/** Can the importer's side read the import's bytes (an xe bind, or a stand-in import mapped through the interconnect)? */
export function readable(imp: Imported): boolean {
  return imp.bound !== null || (imp.ic ?? null) !== null;
}

/**
 * The CPU writes the pattern through BAR 2 and the importer reads it through
 * the import: the GPU's copy (cpuWriteGpuRead) or the stand-in's read through
 * its translated addresses (IOVH_IC_RW). Reads only: a wrong translation's
 * read costs nothing, a write would land in another VF's memory.
 */
export async function cpuWriteImporterRead(
  ctx: ScenarioContext,
  importer: IovImporter,
  bar: BarAccess,
  imp: Imported,
  pages: readonly DataPage[],
  options: { alsoFill?: readonly bigint[] } = {},
): Promise<ReadCheck> {
  if (importer.kind === 'xe') return cpuWriteGpuRead(ctx, importer.gpu!, bar, imp.bound!, pages, options);
  const ic = imp.ic!;
  const seed = freshSeed();
  for (const p of pages) bar.fill(p.barOffset, Number(PAGE), seed, p.barOffset);
  for (const at of options.alsoFill ?? []) bar.fill(at, Number(PAGE), seed, at);
  const copies = pages.map((p) => ic.read(p.boOffset, Number(PAGE)));
  const results = pages.map((p, i) => ({ ...p, mismatch: patternVerify(copies[i]!, seed, p.barOffset) }));
  const ok = results.every((r) => !r.mismatch);
  ctx.append('data', {
    direction: 'cpu-write-gpu-read',
    method: `CPU write via ${bar.method}, stand-in importer read (IOVH_IC_RW) through the translated addresses`,
    seed: hex(seed),
    ok,
    pages: pageEvidence(results),
  });
  return {
    direction: 'cpu-write-gpu-read',
    seed,
    method: 'stand-in importer read',
    pages: results,
    ok,
    copied: (i) => copies[i]!,
    holds: (i, at) => patternVerify(copies[i]!, seed, at) === null,
  };
}
