// edge/*: the corners of the translation where the RFC as posted is wrong
// (docs/profiles.md, rfc-v1): the last page of the VF BAR (1), silent
// non-translation (2), unprovisioned VFs (4), VFs on another bus (5), ranges
// whose length is not a power of two pages (7), LMEM objects made of several
// VRAM blocks (8), and ranges beyond the VF's quota (no check in either posting). Each
// scenario names the quirk when it sees it, with the evidence.
//
// These are the translations expected to be wrong, so the GPU never writes
// through them: on a real kernel with the RFC a GPU write past a block
// boundary or past the quota lands in another VF's or the PF's VRAM. Data is
// checked by reading only: the CPU writes the pattern through BAR 2 where the
// VF's LMEM is, the GPU copies the imported pages into a system-memory BO
// (data.ts cpuWriteGpuRead), and what it copied tells where it read.

import type { DmaRange, VfioDevice } from '../../uapi/vfio.js';
import { hex } from '../../report/model.js';
import type { Capabilities } from '../caps.js';
import { barAccess, describeMismatch, freshSeed, rangePages, type BarAccess, type DataPage } from '../data.js';
import { probeLmemLayout } from '../lmem.js';
import type { Imported } from '../imports.js';
import { cpuWriteImporterRead, importForIov, readable, requireIovImporter, type IovImporter } from '../iov-importer.js';
import { isCrashLine } from '../monitors.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { exportDmaBuf, openVf, PAGE, rangesJson, skipForShape, totalLength } from '../steps.js';
import { busOf, lmemBar, type VfInfo } from '../../machine/topology.js';
import { expectIov, lmemSpan } from './import.js';

interface Opened {
  importer: IovImporter;
  bar: BarAccess;
  imp: Imported;
  ranges: DmaRange[];
}

interface Shared {
  importer?: IovImporter;
  /** A VFIO group has one opener: a scenario importing twice from one VF reuses its device. */
  device?: VfioDevice;
}

function openAndImport(
  ctx: ScenarioContext,
  vf: VfInfo,
  ranges: DmaRange[],
  label: string,
  shared: Shared = {},
): Opened {
  const importer = shared.importer ?? requireIovImporter(ctx);
  const device = shared.device ?? openVf(ctx, vf.bdf);
  const buf = exportDmaBuf(ctx, device, { region: 2, ranges });
  ctx.append('exports', { label, vf: vf.bdf, ranges: rangesJson(ranges) });
  const imp = importForIov(ctx, importer, buf, totalLength(ranges), label);
  return { importer, bar: barAccess(ctx, device, 2), imp, ranges };
}

/**
 * Before importing where the owner-VF search fails (quirks 1 and 5): on RFC v1
 * the failed search returns success (quirk 2) and the bind walks a NULL sg
 * table, an oops that kills this process; the runner then names these.
 */
function suspectSilent(ctx: ScenarioContext, cause: 'last-page' | 'vf-other-bus', what: string): void {
  ctx.suspect(cause, `${what}: the owner-VF search does not find it`);
  ctx.suspect(
    'silent-untranslated',
    `${what}: the translation reported success without translating, and the bind walked a NULL sg table`,
  );
}

/**
 * Negotiated, then the ordinary map ran: a series that falls back when the
 * translation fails (RFC v2 7/8) did not find the owner VF.
 */
function fellBack(imp: Imported): boolean {
  if (imp.translationFailed) return true;
  return imp.verdict.path === 'p2p' && (imp.verdict.negotiated || imp.verdict.mappedInterconnect);
}

/** The negotiated-but-untranslated signature of RFC quirk 2, with the quirk that led there. */
function untranslated(
  ctx: ScenarioContext,
  imp: Imported,
  cause: 'last-page' | 'vf-other-bus',
  evidence: string,
): void {
  ctx.quirk(cause, evidence);
  ctx.quirk(
    'silent-untranslated',
    `${imp.label}: ${imp.verdict.why}; the bind still reported success, with neither translated addresses nor a scatter-gather table`,
  );
}

/** Who reads through the import, for messages: xe's GPU copy or the stand-in importer's read. */
function reader(importer: IovImporter): string {
  return importer.kind === 'xe' ? 'the GPU' : 'the stand-in importer';
}

function vfWhere(caps: Capabilities, want: (vf: VfInfo) => boolean): VfInfo | null {
  return caps.target?.vfioVfs.find(want) ?? null;
}

export const edgeLastPage: Scenario = {
  id: 'edge/last-page',
  title: 'last page of the VF BAR',
  description:
    "Imports a range that starts in the last page of the VF's BAR 2 window (a VF whose LMEM quota fills the whole BAR, so the page " +
    'is real memory), and, as a control, the page before it. Both must take the IOV path for this VF, and the GPU must read through ' +
    "the import the bytes the CPU wrote through BAR 2. RFC v1's owner-VF search accepts an address only below start + size - " +
    'PAGE_SIZE (RFC quirk 1), so the last page is negotiated but never translated (quirk 2): the BO has neither addresses nor ' +
    'an sg table, and the VM_BIND walks a NULL sg table, a WARN then an oops that kills the process (a crash naming both ' +
    'quirks). RFC v2 falls back to P2P instead (a failure naming quirk 1).',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const vf = vfWhere(ctx.caps, (v) => {
      const bar = lmemBar(v);
      return bar !== null && v.vramQuota !== null && v.vramQuota >= bar.size;
    });
    if (!vf) {
      const t = ctx.target!.vf;
      ctx.skip(
        'provisioning',
        "no VF on vfio-pci has an LMEM quota as large as its BAR 2, so the BAR's last page is not memory",
        `iovh provision ${ctx.target!.pf.bdf} --vf ${t.id} --vram ${lmemBar(t)?.size ?? 'BAR-size'}`,
      );
    }
    const size = lmemBar(vf)!.size;
    ctx.record('vf', vf.bdf);
    ctx.record('barSize', hex(size));
    const device = openVf(ctx, vf.bdf);
    const control = openAndImport(ctx, vf, [{ offset: size - 2n * PAGE, length: PAGE }], 'page before the last', {
      importer,
      device,
    });
    const controlOk = expectIov(ctx, control.imp, vf);
    suspectSilent(ctx, 'last-page', `BAR 2 offset ${hex(size - PAGE)} (the last page)`);
    const last = openAndImport(ctx, vf, [{ offset: size - PAGE, length: PAGE }], 'last page of BAR 2', {
      importer,
      device,
    });
    ctx.setPath(last.imp.verdict.path);
    if (last.imp.otherBus) {
      // The VF's placement hides the last page's own defect: nothing of it is translated (named in imports.ts).
      ctx.note(`the last page cannot be told apart: ${last.imp.otherBus}`);
    } else if (last.imp.verdict.path === 'untranslated') {
      // Bound with no addresses at all: nothing to read through, the trace is the evidence.
      untranslated(
        ctx,
        last.imp,
        'last-page',
        `BAR 2 offset ${hex(size - PAGE)} (the last page) was negotiated and mapped but never translated${controlOk ? `, while offset ${hex(size - 2n * PAGE)} translated for vfid ${vf.id}` : ''}`,
      );
    } else if (fellBack(last.imp)) {
      ctx.quirk(
        'last-page',
        `BAR 2 offset ${hex(size - PAGE)} (the last page) was negotiated, then the translation failed and ${importer.kind === 'xe' ? 'xe' : 'the importer'} fell back to P2P (${last.imp.verdict.why})${controlOk ? `, while offset ${hex(size - 2n * PAGE)} translated for vfid ${vf.id}` : ''}`,
      );
    } else if (expectIov(ctx, last.imp, vf) && readable(last.imp)) {
      const check = await cpuWriteImporterRead(ctx, importer, last.bar, last.imp, rangePages(last.ranges));
      ctx.check(check.ok, `last page: ${describeMismatch(check)}`);
    }
    if (ctx.failures.length === 0) ctx.note('the last page of BAR 2 translates like any other, data verified');
  },
};

export const edgeUnprovisionedVf: Scenario = {
  id: 'edge/unprovisioned-vf',
  title: 'VF without LMEM',
  description:
    'Imports a range of BAR 2 of a VF whose LMEM quota is zero (its BAR exists, no memory backs it). The kernel may refuse the ' +
    "import or bind, or fall back to the P2P path, but it must not crash: RFC v1 looks up the VF's LMEM object, gets NULL and " +
    'dereferences it (RFC quirk 4: an oops).',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const vf = vfWhere(ctx.caps, (v) => v.vramQuota === 0n && lmemBar(v) !== null);
    if (!vf) {
      ctx.skip(
        'provisioning',
        'no VF on vfio-pci has a zero LMEM quota',
        `iovh provision ${ctx.target!.pf.bdf} --vf N --vram 0, for a VF bound to vfio-pci`,
      );
    }
    ctx.record('vf', vf.bdf);
    const o = openAndImport(ctx, vf, [{ offset: 0n, length: PAGE }], `unprovisioned VF ${vf.bdf}`, { importer });
    ctx.setPath(o.imp.verdict.path);
    const oops = ctx.kmsgSinceStart().find((r) => isCrashLine(r.text));
    if (oops) {
      ctx.quirk(
        'unprovisioned-oops',
        `importing BAR 2 of VF ${vf.bdf} (quota 0) crashed the kernel: ${oops.text}${o.imp.refused ? `; ${o.imp.refused.step} returned ${o.imp.refused.code}` : ''}`,
      );
      return;
    }
    if (o.imp.verdict.path === 'iov') {
      ctx.fail(`${o.imp.label}: the IOV path translated a VF with no LMEM (${o.imp.verdict.why})`);
      return;
    }
    if (
      ctx.check(
        o.imp.verdict.path === 'refused' || o.imp.verdict.path === 'p2p',
        `${o.imp.label}: path ${o.imp.verdict.path} (${o.imp.verdict.why})`,
      )
    ) {
      ctx.note(`no crash: ${o.imp.verdict.path} (${o.imp.verdict.why})`);
    }
  },
};

export const edgeVfNextBus: Scenario = {
  id: 'edge/vf-next-bus',
  title: 'VF on the next bus number',
  description:
    "Imports from a VF whose routing ID (the PF's First VF Offset and VF Stride) puts it on the bus after the PF's. The owner-VF " +
    "search must find it; RFC v1 walks only the PF's own bus (RFC quirk 5), so the range is negotiated but never translated " +
    '(quirk 2) and the VM_BIND oopses on the NULL sg table (a crash naming both); RFC v2 falls back to P2P. Needs such a ' +
    'VF (on the mock: topologies/vf-next-bus.json).',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const pf = ctx.target!.pf;
    const vf = vfWhere(ctx.caps, (v) => busOf(v.bdf) !== busOf(pf.bdf) && lmemSpan(v) >= PAGE);
    if (!vf) {
      skipForShape(
        ctx,
        `no VF of ${pf.bdf} on vfio-pci with LMEM sits on another bus (First VF Offset ${pf.offset}, VF Stride ${pf.stride})`,
        'enable enough VFs for the routing IDs to reach the next bus, on a PF whose offset and stride allow it',
        'vf-next-bus',
      );
    }
    ctx.record('vf', vf.bdf);
    ctx.record('pfBus', hex(busOf(pf.bdf)));
    ctx.record('vfBus', hex(busOf(vf.bdf)));
    suspectSilent(ctx, 'vf-other-bus', `VF ${vf.bdf} on bus ${hex(busOf(vf.bdf))}, the PF on ${hex(busOf(pf.bdf))}`);
    const o = openAndImport(ctx, vf, [{ offset: 0n, length: PAGE }], `VF ${vf.bdf} (bus ${hex(busOf(vf.bdf))})`, {
      importer,
    });
    ctx.setPath(o.imp.verdict.path);
    if (fellBack(o.imp)) {
      ctx.quirk(
        'vf-other-bus',
        `VF ${vf.bdf} is on bus ${hex(busOf(vf.bdf))}, the PF on ${hex(busOf(pf.bdf))}: negotiated, then the owner-VF search did not find it and ${importer.kind === 'xe' ? 'xe' : 'the importer'} fell back to P2P (${o.imp.verdict.why})`,
      );
    } else if (o.imp.verdict.path === 'untranslated') {
      untranslated(
        ctx,
        o.imp,
        'vf-other-bus',
        `VF ${vf.bdf} is on bus ${hex(busOf(vf.bdf))}, the PF on ${hex(busOf(pf.bdf))}: negotiated and mapped, but the owner-VF search never found it`,
      );
    } else if (expectIov(ctx, o.imp, vf) && readable(o.imp)) {
      const check = await cpuWriteImporterRead(ctx, importer, o.bar, o.imp, rangePages(o.ranges));
      if (ctx.check(check.ok, describeMismatch(check)))
        ctx.note(`VF on bus ${hex(busOf(vf.bdf))} found and translated, data verified`);
    }
  },
};

export const edgeNpotRanges: Scenario = {
  id: 'edge/npot-ranges',
  title: 'ranges of non-power-of-two pages',
  description:
    'Imports two ranges in one dma-buf, the first three pages long and the second one page, far from it; the CPU writes the ' +
    'pattern into them through BAR 2 and the GPU copies the first and last page of each out of the import. Every page must come ' +
    'from its own BAR 2 offset. RFC v1 records each range with the order of its length rounded up to a power of two pages ' +
    '(RFC quirk 7), so the GPU walk reads the fourth page after range 1, memory that was never exported, where range 2 ' +
    'should start; that page holds its own pattern too, so the bytes say where the GPU read.',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const vf = ctx.target!.vf;
    if (lmemSpan(vf) < 32n * PAGE)
      ctx.skip(
        'provisioning',
        `VF ${vf.bdf} has ${lmemSpan(vf)} bytes of LMEM, 32 pages needed`,
        `iovh provision <PF> --vf ${vf.id} --vram 64M`,
      );
    const ranges = [
      { offset: 0n, length: 3n * PAGE },
      { offset: 16n * PAGE, length: PAGE },
    ];
    const o = openAndImport(ctx, vf, ranges, `VF ${vf.bdf} 3 + 1 pages`, { importer });
    if (!expectIov(ctx, o.imp, vf) || !readable(o.imp)) return;
    const pages = rangePages(ranges);
    // Quirk 7 walks BO offset 3 pages through range 1's entry (order: 4 pages), i.e. to range 1 + 3 pages.
    const r2 = pages.findIndex((p) => p.range === 1);
    const suspect = ranges[0]!.offset + pages[r2]!.boOffset;
    const check = await cpuWriteImporterRead(ctx, importer, o.bar, o.imp, pages, { alsoFill: [suspect] });
    if (check.ok) {
      ctx.note('both ranges verified at their own offsets');
      return;
    }
    if (check.pages[r2]!.mismatch && check.holds(r2, suspect)) {
      ctx.quirk(
        'order-from-length',
        `range 1 is 3 pages; ${reader(importer)} read of range 2 (BAR 2 offset ${hex(check.pages[r2]!.barOffset)}) returned the bytes of ${hex(suspect)}, ` +
          "inside range 1's 3 pages rounded up to 4: a page that was never exported",
      );
    } else {
      ctx.fail(describeMismatch(check));
    }
  },
};

export const edgeLmemDiscontiguous: Scenario = {
  id: 'edge/lmem-discontiguous',
  title: 'LMEM object in several VRAM blocks',
  description:
    "Imports one range spanning many 2 MiB boundaries of the VF's LMEM (the VF's LMEM object is pinned VRAM that is not forced " +
    "contiguous, docs/profiles.md). First it finds where the object lies in VRAM, through the PF's BAR 2 window (src/harness/lmem.ts), " +
    'and skips when the object is contiguous over the range: a translation that assumes contiguity is then right by chance, and ' +
    'nothing is tested. Then the CPU writes the pattern through BAR 2, which the LMTT maps block by block, into the pages on both ' +
    'sides of every boundary, and the GPU copies them out of the import. RFC v1 translates each range from its start address ' +
    'alone, assuming contiguity (RFC quirk 8): from the first block boundary of the object on, the GPU reads elsewhere (only ' +
    "reads: a write there would land in VRAM that is not this VF's). On the mock: topologies/vram-blocks.json hands VRAM out in " +
    '2 MiB blocks.',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const vf = ctx.target!.vf;
    const span = lmemSpan(vf);
    const chunk = 2n << 20n;
    const length = span >= 64n << 20n ? 32n << 20n : (span / chunk) * chunk - chunk;
    if (length < 2n * chunk)
      ctx.skip(
        'provisioning',
        `VF ${vf.bdf} has ${span} bytes of LMEM; at least 6 MiB needed to cross two 2 MiB boundaries`,
        `iovh provision <PF> --vf ${vf.id} --vram 64M`,
      );
    // Start mid-chunk so that the range's first page is not on a boundary itself.
    const start = chunk / 2n;
    const ranges = [{ offset: start, length }];
    const boundaries: bigint[] = [];
    for (let b = chunk; b < start + length; b += chunk) boundaries.push(b);
    const device = openVf(ctx, vf.bdf);
    const bar = barAccess(ctx, device, 2);
    const probe = probeLmemLayout(ctx, ctx.target!.pf, bar, [start, ...boundaries], freshSeed());
    if ('why' in probe)
      ctx.skip(
        'lmemLayout',
        `where VF ${vf.bdf}'s LMEM lies in VRAM cannot be seen: ${probe.why}`,
        'run as root, without kernel lockdown, on a machine whose PF BAR 2 spans its VRAM (resizable BAR)',
      );
    const { layout } = probe;
    ctx.record('lmemLayout', {
      dpa: hex(layout.dpa),
      boundaries: boundaries.length,
      blockBoundaries: layout.breaks.map(hex),
      reads: layout.reads,
    });
    if (layout.breaks.length === 0)
      skipForShape(
        ctx,
        `VF ${vf.bdf}'s LMEM object is contiguous over the ${length >> 20n} MiB the range spans (from DPA ${hex(layout.dpa)}): the range crosses no block boundary of it, so a translation that assumes contiguity cannot be told from a right one`,
        'provision the VF while VRAM is fragmented (after other VFs or BOs took and released blocks)',
        'vram-blocks',
      );
    const o = openAndImport(ctx, vf, ranges, `VF ${vf.bdf} ${length >> 20n} MiB`, { importer, device });
    if (!expectIov(ctx, o.imp, vf) || !readable(o.imp)) return;
    const pages: DataPage[] = [];
    for (const b of boundaries) {
      pages.push({ range: 0, which: 'last', boOffset: b - PAGE - start, barOffset: b - PAGE });
      pages.push({ range: 0, which: 'first', boOffset: b - start, barOffset: b });
    }
    ctx.record('boundaries', boundaries.length);
    const check = await cpuWriteImporterRead(ctx, importer, o.bar, o.imp, pages);
    const firstBad = check.pages.find((p) => p.mismatch);
    if (!firstBad) {
      ctx.note(
        `${boundaries.length} boundaries of 2 MiB crossed, ${layout.breaks.length} of them between blocks of the LMEM object, every page at its own offset`,
      );
      return;
    }
    const firstBreak = layout.breaks[0]!;
    const goodBefore = check.pages.filter((p) => p.barOffset < firstBad.barOffset).every((p) => !p.mismatch);
    if (goodBefore && firstBad.barOffset === firstBreak) {
      ctx.quirk(
        'contiguity',
        `${reader(importer)} read the CPU's bytes up to BAR 2 offset ${hex(firstBreak - PAGE)}, not at ${hex(firstBreak)}, where the VF's LMEM object leaves the block that starts at DPA ${hex(layout.dpa - (layout.dpa % chunk))}: ` +
          'the range was translated from its start alone, as if the LMEM object were contiguous',
      );
    } else {
      ctx.fail(
        `${describeMismatch(check)}${firstBad.barOffset === firstBreak ? '' : ` (the object's first block boundary in the range is at ${hex(firstBreak)})`}`,
      );
    }
  },
};

export const edgeBeyondQuota: Scenario = {
  id: 'edge/beyond-quota',
  title: "range beyond the VF's quota",
  description:
    "Exports two pages of BAR 2: the last page of the VF's LMEM quota and the first page past it (vfio bounds the request by the " +
    'BAR, which can be larger than the quota, docs/kernel.md §3.3, §9), imports and binds them. The kernel may refuse the import, or ' +
    "map the pages through the VF's BAR (P2P), where past the quota there is nothing, but it must not translate the page past the " +
    'quota into VRAM: RFC v1 does not check ranges against the quota (docs/kernel.md §11.3) and points the GPU at VRAM outside the VF ' +
    "(another VF's, or the PF's). The GPU only reads: the CPU writes the pattern through BAR 2, the GPU copies both pages into " +
    "system memory; the page inside the quota must hold the CPU's bytes, the page past it what the VF's BAR shows there.",
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const importer = requireIovImporter(ctx);
    const vf = vfWhere(ctx.caps, (v) => {
      const bar = lmemBar(v);
      return bar !== null && v.vramQuota !== null && v.vramQuota > 0n && v.vramQuota + PAGE <= bar.size;
    });
    if (!vf)
      ctx.skip(
        'provisioning',
        'no VF on vfio-pci has an LMEM quota smaller than its BAR 2',
        'provision a VF below its BAR size (iovh provision <PF> --vf N --vram <smaller>)',
      );
    const quota = vf.vramQuota!;
    ctx.record('vf', vf.bdf);
    ctx.record('quota', hex(quota));
    const ranges = [{ offset: quota - PAGE, length: 2n * PAGE }];
    const o = openAndImport(ctx, vf, ranges, `VF ${vf.bdf} last page of the quota and the first past it`, {
      importer,
    });
    ctx.setPath(o.imp.verdict.path);
    if (!readable(o.imp)) {
      ctx.note(`refused: ${o.imp.verdict.why}`);
      return;
    }
    const pages: DataPage[] = [
      { range: 0, which: 'first', boOffset: 0n, barOffset: quota - PAGE },
      { range: 0, which: 'last', boOffset: PAGE, barOffset: quota },
    ];
    const check = await cpuWriteImporterRead(ctx, importer, o.bar, o.imp, pages);
    // What the VF itself shows past its quota (the CPU's write there went nowhere), against what the GPU read there.
    const cpuView = o.bar.read(quota, Number(PAGE));
    const gpuView = check.copied(1);
    const differs = firstDifference(cpuView, gpuView);
    const stuck = o.bar.verify(quota, Number(PAGE), check.seed, quota) === null;
    ctx.record('pastQuota', {
      cpuWord: hex(word(cpuView, differs ?? 0)),
      gpuWord: hex(word(gpuView, differs ?? 0)),
      sameBytes: differs === null,
      cpuWriteStuck: stuck,
    });
    // A VF whose LMEM spans tiles has the page inside its quota in its last tile's LMEM object; a translation through
    // the root tile's object alone (the series as posted) reaches it past that object's end, unchecked as well.
    const rootTile = vf.vramQuotaTiles && vf.vramQuotaTiles.length > 1 ? vf.vramQuotaTiles[0]! : null;
    if (
      check.pages[0]!.mismatch !== null &&
      rootTile !== null &&
      quota - PAGE >= rootTile &&
      o.imp.verdict.path === 'iov'
    ) {
      ctx.quirk(
        'quota-unchecked',
        `BAR 2 offset ${hex(quota - PAGE)} is inside VF ${vf.bdf}'s quota but past its root tile's LMEM object (${hex(rootTile)} bytes of the ${hex(quota)}, docs/kernel.md §9: the tiles' objects are concatenated), and the GPU did not read the CPU's bytes there: the range was translated through the root tile's object past its end, unchecked`,
      );
    } else if (!ctx.check(check.pages[0]!.mismatch === null, `the page inside the quota: ${describeMismatch(check)}`))
      return;
    ctx.check(
      !stuck,
      `the CPU wrote the pattern at BAR 2 offset ${hex(quota)}, past the quota where the LMTT maps nothing, and read it back`,
    );
    const translated = o.imp.verdict.path === 'iov';
    if (translated || differs !== null) {
      const read =
        differs === null
          ? ''
          : `, and ${reader(importer)} read there ${hex(word(gpuView, differs))} where the VF's BAR shows ${hex(word(cpuView, differs))} (at +${hex(differs)})`;
      ctx.quirk(
        'quota-unchecked',
        `BAR 2 offset ${hex(quota)} is past VF ${vf.bdf}'s quota, yet the import ${translated ? `was translated into VRAM (${o.imp.verdict.why})` : `(${o.imp.verdict.path})`}${read}: VRAM outside the VF`,
      );
      return;
    }
    ctx.note(
      `path ${o.imp.verdict.path}: ${reader(importer)} read the CPU's bytes inside the quota and, past it, what the VF's BAR shows there`,
    );
  },
};

/** Byte offset of the first 8-byte word where `a` and `b` differ, or null. */
function firstDifference(a: Uint8Array, b: Uint8Array): number | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i & ~7;
  return a.length === b.length ? null : n & ~7;
}

function word(bytes: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] ?? 0);
  return v;
}

export const edgeScenarios: Scenario[] = [
  edgeLastPage,
  edgeUnprovisionedVf,
  edgeVfNextBus,
  edgeNpotRanges,
  edgeLmemDiscontiguous,
  edgeBeyondQuota,
];
