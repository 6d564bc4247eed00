// rfc/*: the IOV interconnect series' own dma-buf core and vfio-pci code,
// judged with iovh's stand-in importer module in xe's place (src/harness/
// standin.ts, kernel/iovh-ic-importer). They need no GPU: any function bound
// to vfio-pci exports, and the stand-in imports for the exporter's physical
// function, which is what the series' IOV match asks for. On QEMU's
// ivshmem-plain (a RAM BAR that is its own physical function) the bytes are
// checked too: written through the VFIO mmap and read through the
// interconnect ranges, and the reverse, at the first and last page of every
// range. docs/rfc-kernel.md describes the run.
//
// Evidence: what the module reports (negotiated or not, the map's path and
// ranges) against the kprobe hits on the series' functions
// (dma_buf_match_interconnects, vfio_pci_match_interconnect,
// dma_buf_map_interconnect, vfio_pci_map_interconnect,
// dma_buf_unmap_interconnect; src/shape/table.ts), kmemleak for the ranges
// leak, and the kernel log for the oops.

import { hex, type Json, type PathClass } from '../../report/model.js';
import { IOVH_IC, icPathName, type IcImport, type StandInImporter } from '../../uapi/iovh-ic.js';
import { patternFill, patternVerify } from '../../core/pattern.js';
import type { DmaBuf } from '../../uapi/dmabuf.js';
import type { DmaRange, VfioDevice } from '../../uapi/vfio.js';
import { VFIO } from '../../uapi/constants.js';
import { barAccess, freshSeed, rangePages, type BarAccess, type DataPage } from '../data.js';
import type { PatternMismatch } from '../../backend/types.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { requireStandIn, type StandInTarget } from '../standin.js';
import {
  errnoOf,
  exportDmaBuf,
  openVf,
  PAGE,
  rangesJson,
  requireCaps,
  beginOwnKmemleak,
  endOwnKmemleak,
  startTrace,
} from '../steps.js';
import type { TraceSession } from '../tracefs.js';
import { argValue, isErrValue } from '../tracefs.js';
import type { ProbeKey } from '../symbols.js';

/** What the trace says one import did (null: the probe that would tell was not armed). */
interface TraceSays {
  negotiated: boolean | null;
  mappedInterconnect: boolean | null;
  sgMapped: boolean | null;
  unmappedInterconnect: number | null;
  evidence: Json;
}

function traceSays(trace: TraceSession | null): TraceSays {
  if (!trace)
    return {
      negotiated: null,
      mappedInterconnect: null,
      sgMapped: null,
      unmappedInterconnect: null,
      evidence: 'no trace (tracefs or kprobes missing)',
    };
  const read = trace.read();
  const armed = new Set<ProbeKey>(trace.armedProbes.map((a) => a.point.key));
  const of = (k: ProbeKey) => read.hits.filter((h) => h.key === k);
  const ret = (h: { args: Record<string, string> }) => argValue(h.args.ret);
  const either = (a: ProbeKey, b: ProbeKey, yes: () => boolean): boolean | null =>
    armed.has(a) || armed.has(b) ? yes() : null;
  return {
    negotiated: either(
      'match',
      'exporterMatch',
      () => of('match').some((h) => ret(h) === 1n) || of('exporterMatch').some((h) => (ret(h) ?? 0n) !== 0n),
    ),
    mappedInterconnect: either(
      'mapInterconnect',
      'exporterMapInterconnect',
      () =>
        of('mapInterconnect').some((h) => {
          const v = ret(h);
          return v !== null && v !== 0n && !isErrValue(v);
        }) || of('exporterMapInterconnect').some((h) => ret(h) === 0n),
    ),
    sgMapped: either('exporterSgMap', 'sgMap', () => of('exporterSgMap').length + of('sgMap').length > 0),
    unmappedInterconnect: armed.has('unmapInterconnect') ? of('unmapInterconnect').length : null,
    evidence: trace.evidence(read),
  };
}

/** The module's answer and the trace must tell the same story; a probe that did not fire where the module says it ran is a failure. */
function crossCheck(ctx: ScenarioContext, what: string, module: boolean, trace: boolean | null): void {
  if (trace === null) return;
  ctx.check(
    module === trace,
    `${what}: the stand-in importer says ${module ? 'yes' : 'no'}, the trace on the series' functions says ${trace ? 'yes' : 'no'}`,
  );
}

interface Imported {
  imp: IcImport;
  path: PathClass;
  map: { path: string; icError: string | null } | null;
  ranges: { start: bigint; end: bigint }[];
}

/** Import, map and describe one buffer; the trace window is cleared first. */
function importAndMap(
  ctx: ScenarioContext,
  ic: StandInImporter,
  trace: TraceSession | null,
  buf: DmaBuf,
  options: { importer: string; bar: number; flags?: number },
  label: string,
): Imported | { refused: string } {
  trace?.clear();
  const got = errnoOf(() => ic.import(buf.fd, options));
  if (got.code !== null) {
    ctx.append('imports', { label, importer: options.importer, bar: options.bar, refused: got.code });
    return { refused: got.code };
  }
  const imp = got.value as IcImport;
  ctx.defer(`release import ${imp.handle} (${label})`, () => imp.release());
  const mapped = errnoOf(() => imp.map());
  const map = mapped.code === null ? (mapped.value as ReturnType<IcImport['map']>) : null;
  const ranges = map ? imp.ranges() : [];
  const says = traceSays(trace);
  const path: PathClass = !map
    ? 'refused'
    : map.path === IOVH_IC.PATH_IOV
      ? 'iov'
      : map.path === IOVH_IC.PATH_SG
        ? 'p2p'
        : 'unknown';
  ctx.append('imports', {
    label,
    importer: options.importer,
    bar: options.bar,
    negotiated: imp.negotiated,
    map: map
      ? { path: icPathName(map.path), icError: map.icError === 0 ? null : map.icError, ranges: map.nrRanges }
      : { refused: mapped.code },
    ranges: ranges.map((r) => ({ start: hex(r.start), end: hex(r.end) })),
    trace: says.evidence,
  });
  crossCheck(ctx, `${label}: IOV negotiated`, imp.negotiated, says.negotiated);
  if (map)
    crossCheck(
      ctx,
      `${label}: mapped through the interconnect`,
      map.path === IOVH_IC.PATH_IOV,
      says.mappedInterconnect,
    );
  return {
    imp,
    path,
    map: map ? { path: icPathName(map.path), icError: map.icError === 0 ? null : String(map.icError) } : null,
    ranges,
  };
}

/** The ranges the interconnect handed over must be the exported ones: BAR start + offset, in order. */
function checkRanges(ctx: ScenarioContext, t: StandInTarget, ranges: readonly DmaRange[], got: Imported): boolean {
  const want = ranges.map((r) => ({
    start: t.bar.start + BigInt(r.offset),
    end: t.bar.start + BigInt(r.offset) + BigInt(r.length) - 1n,
  }));
  const same =
    got.ranges.length === want.length &&
    got.ranges.every((r, i) => r.start === want[i]!.start && r.end === want[i]!.end);
  return ctx.check(
    same,
    `the interconnect ranges are ${got.ranges.map((r) => `[${hex(r.start)}, ${hex(r.end)}]`).join(' ')}, expected ` +
      `${want.map((r) => `[${hex(r.start)}, ${hex(r.end)}]`).join(' ')} (BAR ${t.bar.index} at ${hex(t.bar.start)} + each offset)`,
  );
}

/**
 * Bytes both ways at the first and last page of every range: the CPU writes a
 * pattern through the VFIO mmap of the BAR and the stand-in reads it through
 * the interconnect ranges; then the stand-in writes a fresh pattern and the
 * VFIO mmap reads it.
 */
interface BothWays {
  ok: boolean;
  pages: number;
  /** The first wrong page, in words. */
  first: string | null;
}

function dataBothWays(ctx: ScenarioContext, bar: BarAccess, imp: IcImport, ranges: readonly DmaRange[]): BothWays {
  const pages = rangePages(ranges);
  let first: string | null = null;
  const where = (p: DataPage, way: string, m: PatternMismatch) =>
    `${way}: ${p.which} page of range ${p.range} (BAR offset ${hex(p.barOffset)}), first wrong word at +${m.offset}: ` +
    `${hex(m.actual)} instead of ${hex(m.expected)}`;
  for (const p of pages) {
    ctx.abortIfStopped();
    const n = Number(PAGE);
    const seedIn = freshSeed();
    bar.fill(p.barOffset, n, seedIn, p.barOffset);
    const viaIc = patternVerify(imp.read(p.boOffset, n), seedIn, p.barOffset);
    const seedOut = freshSeed();
    const buf = new Uint8Array(n);
    patternFill(buf, seedOut, p.barOffset);
    imp.write(p.boOffset, buf);
    const viaBar = bar.verify(p.barOffset, n, seedOut, p.barOffset);
    if (!first && viaIc) first = where(p, 'VFIO mmap write, importer read', viaIc);
    if (!first && viaBar) first = where(p, 'importer write, VFIO mmap read', viaBar);
    ctx.append('data', {
      range: p.range,
      page: p.which,
      barOffset: hex(p.barOffset),
      bufferOffset: hex(p.boOffset),
      vfioToImporter: viaIc ? `mismatch at +${viaIc.offset}` : 'ok',
      importerToVfio: viaBar ? `mismatch at +${viaBar.offset}` : 'ok',
    });
  }
  return { ok: first === null, pages: pages.length, first };
}

interface Session {
  ic: StandInImporter;
  t: StandInTarget;
  trace: TraceSession | null;
  device: VfioDevice;
}

function open(ctx: ScenarioContext): Session {
  const { ic, target } = requireStandIn(ctx);
  const trace = startTrace(ctx);
  const device = openVf(ctx, target.exporter);
  return { ic, t: target, trace, device };
}

/** Ranges of a BAR for the multi-range check: start, middle (odd length), and the BAR's last page. */
function spreadRanges(size: bigint): DmaRange[] {
  const mid = (size / 2n) & ~(PAGE - 1n);
  return [
    { offset: 0n, length: 4n * PAGE },
    { offset: mid, length: 3n * PAGE },
    { offset: size - 2n * PAGE, length: 2n * PAGE },
  ];
}

// ------------------------------------------------------------ scenarios

export const rfcNegotiate: Scenario = {
  id: 'rfc/negotiate',
  title: 'IOV negotiated for the physical function and BAR',
  description:
    "Exports a BAR of a function bound to vfio-pci and imports it with iovh's stand-in importer in xe's place, offering IOV " +
    "for the exporter's physical function and the same BAR (RFC 5/8). The series' match must hold (RFC 4/8: importer == " +
    'pci_physfn(exporter), same bar), the map must go through dma_buf_map_interconnect and hand over the exported range as BAR ' +
    "start + offset, with no scatter-gather map; the kprobes on the series' functions must agree with what the module reports. " +
    'Where the BAR is memory (QEMU ivshmem-plain BAR 2), bytes written through the VFIO mmap are read through the ranges and ' +
    'the reverse, at the first and last page.',
  expectedPath: 'iov',
  async run(ctx) {
    const s = open(ctx);
    const ranges = [{ offset: 0n, length: 4n * PAGE }];
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges });
    ctx.record('ranges', rangesJson(ranges));
    const got = importAndMap(ctx, s.ic, s.trace, buf, { importer: s.t.importer, bar: s.t.bar.index }, 'own PF');
    if ('refused' in got) {
      ctx.setPath('refused');
      ctx.fail(`the import for ${s.t.importer} was refused with ${got.refused}`);
      return;
    }
    ctx.setPath(got.path);
    if (
      !ctx.check(
        got.imp.negotiated,
        `no IOV negotiated between ${s.t.exporter} and ${s.t.importer} (BAR ${s.t.bar.index})`,
      )
    )
      return;
    if (
      !ctx.check(
        got.path === 'iov',
        `negotiated, but mapped through ${got.map?.path} (interconnect error ${got.map?.icError})`,
      )
    )
      return;
    checkRanges(ctx, s.t, ranges, got);
    if (!s.t.memory) {
      ctx.note(`IOV negotiated and mapped (${s.t.how}); BAR ${s.t.bar.index} is not memory, so no data check`);
      return;
    }
    const bar = barAccess(ctx, s.device, s.t.bar.index);
    const data = dataBothWays(ctx, bar, got.imp, ranges);
    if (ctx.check(data.ok, `data through the interconnect ranges: ${data.first}`))
      ctx.note(`IOV negotiated and mapped (${s.t.how}); bytes agree both ways at ${data.pages} pages`);
  },
};

export const rfcRefuseDevice: Scenario = {
  id: 'rfc/refuse-device',
  title: 'no IOV for another device',
  description:
    "Imports the export with the stand-in importer offering IOV for a PCI function that is not the exporter's physical " +
    "function (same BAR). The series' match must not hold: the attachment does not negotiate, no interconnect map happens, " +
    'and the import goes the ordinary way (peer-to-peer scatter-gather) or is refused by the exporter.',
  expectedPath: null,
  async run(ctx) {
    const s = open(ctx);
    const other = s.t.other;
    if (!other) return ctx.skip('target', 'no second PCI function to import for', 'any machine with two PCI functions');
    // The machine decides: a function unrelated to the exporter where there is one, else a sibling VF (standin.ts).
    ctx.record('otherDevice', { bdf: other, kind: s.t.otherKind });
    const ranges = [{ offset: 0n, length: PAGE }];
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges });
    const got = importAndMap(ctx, s.ic, s.trace, buf, { importer: other, bar: s.t.bar.index }, 'another device');
    if ('refused' in got) {
      ctx.setPath('refused');
      ctx.note(`import for ${other} refused with ${got.refused}`);
      return;
    }
    ctx.setPath(got.path);
    ctx.check(
      !got.imp.negotiated,
      `IOV negotiated for ${other}, which is not the physical function of ${s.t.exporter}`,
    );
    ctx.check(got.path !== 'iov', `mapped through the interconnect for ${other}`);
    if (ctx.failures.length === 0)
      ctx.note(`${other}: not negotiated, ${got.map ? `mapped ${got.map.path}` : 'not mapped'}`);
  },
};

export const rfcRefuseBar: Scenario = {
  id: 'rfc/refuse-bar',
  title: 'no IOV for another BAR',
  description:
    "Imports the export with the stand-in importer offering IOV for the exporter's physical function but a different BAR " +
    "than the one exported. The series' match compares the BARs: it must not hold, and nothing is mapped through the " +
    'interconnect.',
  expectedPath: null,
  async run(ctx) {
    const s = open(ctx);
    const ranges = [{ offset: 0n, length: PAGE }];
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges });
    const wrong = s.t.bar.index === 0 ? 2 : 0;
    const got = importAndMap(ctx, s.ic, s.trace, buf, { importer: s.t.importer, bar: wrong }, `BAR ${wrong}`);
    if ('refused' in got) {
      ctx.setPath('refused');
      ctx.note(`import offering BAR ${wrong} refused with ${got.refused}`);
      return;
    }
    ctx.setPath(got.path);
    ctx.check(!got.imp.negotiated, `IOV negotiated for BAR ${wrong} although BAR ${s.t.bar.index} was exported`);
    ctx.check(got.path !== 'iov', `mapped through the interconnect for BAR ${wrong}`);
    if (ctx.failures.length === 0)
      ctx.note(`BAR ${wrong} offered: not negotiated, ${got.map ? `mapped ${got.map.path}` : 'not mapped'}`);
  },
};

export const rfcMultiRange: Scenario = {
  id: 'rfc/multi-range',
  title: 'several ranges through the interconnect',
  description:
    'Exports three ranges of the BAR (its start, a middle one, and one ending at the last page of the BAR) and maps them ' +
    'through the interconnect with the stand-in importer. vfio fills one range per exported range (RFC 4/8 ' +
    'vfio_pci_map_iov_interconnect): they must come back in order as BAR start + offset, [start, start + length - 1]. Where the ' +
    'BAR is memory, bytes are checked both ways at the first and last page of every range, through the ranges laid end to end.',
  expectedPath: 'iov',
  async run(ctx) {
    const s = open(ctx);
    if (s.t.bar.size < 16n * PAGE)
      ctx.skip('target', `BAR ${s.t.bar.index} of ${s.t.exporter} is under 16 pages`, 'a BAR of 64 KiB or more');
    const ranges = spreadRanges(s.t.bar.size);
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges });
    ctx.record('ranges', rangesJson(ranges));
    const got = importAndMap(ctx, s.ic, s.trace, buf, { importer: s.t.importer, bar: s.t.bar.index }, 'three ranges');
    if ('refused' in got) {
      ctx.setPath('refused');
      ctx.fail(`the import was refused with ${got.refused}`);
      return;
    }
    ctx.setPath(got.path);
    if (!ctx.check(got.path === 'iov', `not mapped through the interconnect (${got.map?.path ?? 'no map'})`)) return;
    if (!checkRanges(ctx, s.t, ranges, got)) return;
    if (!s.t.memory) {
      ctx.note(`${ranges.length} ranges handed over in order; BAR ${s.t.bar.index} is not memory, so no data check`);
      return;
    }
    const bar = barAccess(ctx, s.device, s.t.bar.index);
    const data = dataBothWays(ctx, bar, got.imp, ranges);
    if (ctx.check(data.ok, `data through the interconnect ranges: ${data.first}`))
      ctx.note(`${ranges.length} ranges in order; bytes agree both ways at ${data.pages} pages`);
  },
};

const LEAK_ROUNDS = 4;

export const rfcRangesLeak: Scenario = {
  id: 'rfc/ranges-leak',
  title: 'kmemleak over repeated interconnect maps',
  description:
    `Imports, maps through the interconnect and releases a buffer ${LEAK_ROUNDS} times with the stand-in importer, then asks ` +
    'kmemleak (two scans after its minimum object age; objects of its own process only) what is left unreferenced. The stand-in keeps the ranges as xe of the ' +
    "same revision does: RFC v1's xe keeps only its own copy and never hands the core's container back to " +
    "dma_buf_unmap_interconnect (RFC quirk 6), so on rfc-v1 each map leaks the container and vfio's range array, and " +
    'the trace shows no unmap. Nothing may leak.',
  expectedPath: null,
  // Not `kmemleak: true`: the scenario measures kmemleak itself, and the runner's window around it would scan four
  // more times (each scan of a KASAN guest under TCG takes tens of seconds). In a process of its own, whose pid no
  // earlier scenario's objects carry, it needs no scans before the rounds: only objects of that pid count.
  ownProcess: true,
  async run(ctx) {
    requireCaps(ctx, 'kmemleak');
    const s = open(ctx);
    const kmemleak = beginOwnKmemleak(ctx);
    let maps = 0;
    let unmaps = 0;
    let leakedByModule = 0;
    for (let i = 0; i < LEAK_ROUNDS; i++) {
      ctx.abortIfStopped();
      const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges: [{ offset: 0n, length: PAGE }] });
      const got = importAndMap(
        ctx,
        s.ic,
        s.trace,
        buf,
        { importer: s.t.importer, bar: s.t.bar.index },
        `round ${i + 1}`,
      );
      if ('refused' in got) {
        ctx.fail(`round ${i + 1}: the import was refused with ${got.refused}`);
        return;
      }
      ctx.setPath(got.path);
      if (got.path === 'iov') maps++;
      leakedByModule += got.imp.info().leaked;
      got.imp.release();
      buf.close();
      const after = traceSays(s.trace);
      if (after.unmappedInterconnect !== null) unmaps += after.unmappedInterconnect;
    }
    if (maps === 0) ctx.skip('interconnect', 'no round mapped through the interconnect', 'see rfc/negotiate');
    await ctx.sleep(ctx.timing.kmemleakAgeMs);
    // Only objects allocated on the path by this scenario's tasks count (a real kernel reports other leaks too).
    const who = await endOwnKmemleak(ctx, () => kmemleak.end());
    const leaked = who.ours.map((o) => o.lines);
    ctx.record('rounds', LEAK_ROUNDS);
    ctx.record('interconnectMaps', maps);
    ctx.record('interconnectUnmaps', s.trace ? unmaps : null);
    ctx.record('droppedByImporter', leakedByModule);
    ctx.record('kmemleak', {
      newObjects: leaked.length,
      excerpt: leaked.slice(0, 6).map((b) => b.join(' | ')),
      otherTasks: who.pathElsewhere.map((o) => o.lines[0]!),
      unrelated: who.unrelated.map((o) => `${o.lines[0]} ${o.comm ?? '?'}: ${o.functions.slice(0, 3).join(' < ')}`),
    });
    const traced = s.trace ? `, ${unmaps} unmaps traced` : '';
    if (leaked.length === 0) {
      if (leakedByModule > 0) {
        // kmemleak takes any word that looks like a pointer for a reference: a stale copy hides a leak. The
        // importer's own count and the trace do not depend on that.
        ctx.quirk(
          'ranges-leak',
          `${maps} interconnect maps, ${leakedByModule} containers dropped without dma_buf_unmap_interconnect${traced}; ` +
            'kmemleak reported none of them (a stale reference can hide them)',
        );
        return;
      }
      ctx.check(
        !s.trace || unmaps === maps,
        `${maps} interconnect maps but ${unmaps} unmaps traced, although kmemleak saw nothing`,
      );
      if (ctx.failures.length === 0) ctx.note(`${maps} interconnect maps and releases, nothing left unreferenced`);
      return;
    }
    if (leakedByModule > 0)
      ctx.quirk(
        'ranges-leak',
        `${maps} interconnect maps, each container dropped without dma_buf_unmap_interconnect (as RFC v1's xe does)` +
          `${traced}; kmemleak reports ${leaked.length} new unreferenced objects (first: ${leaked[0]![0]})`,
      );
    else
      ctx.fail(
        `kmemleak reports ${leaked.length} new unreferenced objects after ${LEAK_ROUNDS} rounds (first: ${leaked[0]![0]})`,
      );
  },
};

export const rfcRevokedBypass: Scenario = {
  id: 'rfc/revoked-bypass',
  title: 'import of a revoked buffer',
  description:
    'Exports a buffer and revokes it while nobody imports it, by VFIO_DEVICE_FEATURE LOW_POWER_ENTRY (kept until ' +
    'LOW_POWER_EXIT) or, where the device cannot enter low power, by clearing the memory-enable bit of its command register ' +
    'through VFIO. An import that does not offer IOV is refused with ENODEV (7.2 vfio attach checks revoked); so must one ' +
    "that offers IOV be. RFC v1 returns from vfio's attach as soon as the match holds, before that check, and its " +
    'interconnect map does not check revoked either: the revoked buffer is imported and mapped (docs/profiles.md, revoked-attach-bypass).',
  expectedPath: 'refused',
  async run(ctx) {
    const s = open(ctx);
    const ranges = [{ offset: 0n, length: PAGE }];
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges });
    const revoke = revokeKeepingOpen(ctx, s.device);
    ctx.record('revokedBy', revoke);
    if (!revoke)
      ctx.skip(
        'target',
        `cannot revoke ${s.t.exporter}'s buffer while it stays open`,
        'a device that supports LOW_POWER_ENTRY or a command register',
      );
    const control = importAndMap(
      ctx,
      s.ic,
      s.trace,
      buf,
      { importer: s.t.importer, bar: s.t.bar.index, flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE },
      'revoked, not offering IOV',
    );
    ctx.check(
      'refused' in control && control.refused === 'ENODEV',
      `a revoked buffer imported without offering IOV: ${'refused' in control ? `refused with ${control.refused}` : 'accepted'}, expected ENODEV (vfio_pci_dma_buf_attach, drivers/vfio/pci/vfio_pci_dmabuf.c)`,
    );
    const got = importAndMap(
      ctx,
      s.ic,
      s.trace,
      buf,
      { importer: s.t.importer, bar: s.t.bar.index },
      'revoked, offering IOV',
    );
    if ('refused' in got) {
      ctx.setPath('refused');
      if (
        ctx.check(got.refused === 'ENODEV', `the revoked buffer's import failed with ${got.refused}, expected ENODEV`)
      )
        ctx.note(`revoked by ${revoke}: refused with ENODEV with and without the IOV offer`);
      return;
    }
    ctx.setPath(got.path);
    ctx.quirk(
      'revoked-attach-bypass',
      `a buffer revoked by ${revoke} was imported (IOV ${got.imp.negotiated ? 'negotiated' : 'not negotiated'}) and mapped ` +
        `${got.map ? `through ${got.map.path}` : '(map refused)'}, while the same import without the IOV offer was refused`,
    );
  },
};

/** Revoke the device's buffers without closing it; returns how, or null. Undone by the cleanup stack. */
function revokeKeepingOpen(ctx: ScenarioContext, device: VfioDevice): string | null {
  const entry = errnoOf(() => device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY));
  if (entry.code === null) {
    let low = true;
    ctx.defer(`LOW_POWER_EXIT on ${device.bdf}`, () => {
      if (!low) return;
      low = false;
      device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT);
    });
    return 'LOW_POWER_ENTRY';
  }
  ctx.record('lowPowerEntry', entry.code);
  // PCI_COMMAND (offset 4), bit 1 PCI_COMMAND_MEMORY: vfio revokes while it is clear (vfio_pci_config.c).
  const cmd = errnoOf(() => device.read(VFIO.PCI_CONFIG_REGION_INDEX, 4, 2));
  if (cmd.code !== null) return null;
  const was = new DataView((cmd.value as Uint8Array).buffer).getUint16(0, true);
  const off = new Uint8Array(2);
  new DataView(off.buffer).setUint16(0, was & ~2, true);
  const w = errnoOf(() => device.write(VFIO.PCI_CONFIG_REGION_INDEX, 4, off));
  if (w.code !== null) return null;
  ctx.defer(`restore the command register of ${device.bdf}`, () => {
    const on = new Uint8Array(2);
    new DataView(on.buffer).setUint16(0, was, true);
    device.write(VFIO.PCI_CONFIG_REGION_INDEX, 4, on);
  });
  return 'clearing PCI_COMMAND_MEMORY';
}

export const rfcClosedDevice: Scenario = {
  id: 'rfc/closed-device',
  title: 'import after the VFIO device was closed',
  description:
    "Exports a buffer, closes the exporter's VFIO device (its last close revokes every buffer of the device for good and " +
    "clears the buffers' device pointer, vfio_pci_dma_buf_cleanup), then imports the buffer offering IOV. The import must be " +
    "refused with ENODEV. RFC v1's vfio_pci_match_interconnects reads priv->vdev->pdev before anything else: the import " +
    "oopses with a NULL dereference in the exporter's attach and the kernel kills the importing process (a crash, with the " +
    'oops in the report). Run last of the rfc group: the oops taints the kernel.',
  expectedPath: 'refused',
  async run(ctx) {
    const s = open(ctx);
    const buf = exportDmaBuf(ctx, s.device, { region: s.t.bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    s.device.close();
    const got = importAndMap(ctx, s.ic, s.trace, buf, { importer: s.t.importer, bar: s.t.bar.index }, 'after close');
    if ('refused' in got) {
      ctx.setPath('refused');
      if (ctx.check(got.refused === 'ENODEV', `the import after close failed with ${got.refused}, expected ENODEV`))
        ctx.note('import after the VFIO device was closed: refused with ENODEV');
      return;
    }
    ctx.setPath(got.path);
    ctx.quirk(
      'revoked-attach-bypass',
      `a buffer whose VFIO device was closed (a permanent revoke) was imported and mapped ${got.map ? `through ${got.map.path}` : ''}`,
    );
  },
};

export const rfcScenarios: Scenario[] = [
  rfcNegotiate,
  rfcRefuseDevice,
  rfcRefuseBar,
  rfcMultiRange,
  rfcRangesLeak,
  rfcRevokedBypass,
  rfcClosedDevice,
];
