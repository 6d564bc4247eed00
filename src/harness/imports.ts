// One import, observed: PRIME import into the PF's xe, VM bind (where xe maps
// the dma-buf, docs/profiles.md, rfc-v1 "Map"), with the trace window around both, and the
// path it took (path.ts). Every import a scenario makes is appended to its
// `imports` evidence.

import type { DmaBuf } from '../uapi/dmabuf.js';
import type { IcImport } from '../uapi/iovh-ic.js';
import type { PrimeImport } from '../uapi/drm.js';
import { SystemError } from '../uapi/errors.js';
import type { Json } from '../report/model.js';
import type { Bound, Gpu } from './gpu.js';
import { classifyPath, type PathVerdict } from './path.js';
import type { ScenarioContext } from './scenario.js';
import { armedKeys, exporterOf, requireCaps } from './steps.js';
import { busOf } from '../machine/topology.js';
import type { TraceHit, TraceSession } from './tracefs.js';

export interface Imported {
  label: string;
  /**
   * Set when the import was negotiated but not translated because its VF sits
   * on another bus than its PF (RFC quirk 5, named here with quirk 2):
   * a scenario must not blame another cause for it.
   */
  otherBus: string | null;
  handle: PrimeImport | null;
  bound: Bound | null;
  size: bigint;
  verdict: PathVerdict;
  refused: { step: string; code: string } | null;
  hits: TraceHit[];
  /**
   * Imported by iovh's stand-in importer instead of xe (iov-importer.ts): the
   * import when it was mapped through the interconnect, its bytes readable
   * through the translated addresses; null otherwise.
   */
  ic?: IcImport | null;
  /** The stand-in's translation refused (its kernel log line) and the importer fell back to scatter-gather. */
  translationFailed?: string | null;
}

/**
 * Import `dmabuf` into xe and bind all of it. An errno at either step is the
 * `refused` path (recorded, not thrown); anything else propagates.
 */
export function importAndBind(
  ctx: ScenarioContext,
  gpu: Gpu,
  trace: TraceSession | null,
  dmabuf: DmaBuf,
  size: bigint,
  label: string,
): Imported {
  trace?.clear();
  let handle: PrimeImport | null = null;
  let bound: Bound | null = null;
  let refused: { step: string; code: string } | null = null;
  try {
    handle = gpu.import(dmabuf);
  } catch (e) {
    if (!(e instanceof SystemError)) throw e;
    refused = { step: 'PRIME import', code: e.code };
  }
  if (handle) {
    // RFC quirk 5 then 2: the owner-VF search walks only the PF's bus, reports success without translating, and the
    // bind walks a NULL sg table; if the kernel kills this process there, the runner names both.
    suspectOtherBus(ctx, dmabuf, label);
    try {
      bound = gpu.bind(handle, size);
    } catch (e) {
      if (!(e instanceof SystemError)) throw e;
      refused = { step: 'VM bind', code: e.code };
    }
  }
  const read = trace ? trace.read() : null;
  const hits = read?.hits ?? [];
  const verdict = classifyPath({ refused, hits, armed: armedKeys(trace), lost: read?.lost ?? 0 });
  const entry: { [k: string]: Json } = {
    label,
    path: verdict.path,
    why: verdict.why,
    refused: refused ? `${refused.step}: ${refused.code}` : null,
    lookupVfids: verdict.lookupVfids,
  };
  if (verdict.route !== null) {
    entry.route = verdict.route;
    // The scenario's P2P route, next to its path: "p2p (bus address)".
    ctx.record('p2pRoute', verdict.route);
  }
  if (trace && read) entry.trace = trace.evidence(read);
  ctx.append('imports', entry);
  const otherBus = verdict.path === 'untranslated' ? onOtherBus(ctx, exporterOf(dmabuf)) : null;
  if (otherBus) {
    ctx.quirk('vf-other-bus', `${label}: ${otherBus}; negotiated and mapped, but the owner-VF search never found it`);
    ctx.quirk(
      'silent-untranslated',
      `${label}: ${verdict.why}; the bind still reported success, with neither translated addresses nor a scatter-gather table`,
    );
  }
  return { label, otherBus, handle, bound, size, verdict, refused, hits };
}

/**
 * Before a bind of an import of `dmabuf`: when its VF is on another bus than
 * its PF, RFC quirk 5 then 2 may oops the bind; the runner then names both.
 */
export function suspectOtherBus(ctx: ScenarioContext, dmabuf: DmaBuf, label: string): void {
  const beyond = onOtherBus(ctx, exporterOf(dmabuf));
  if (beyond) ctx.suspect('vf-other-bus', `${label}: ${beyond}: the owner-VF search walks only the PF's bus`);
}

/** `VF X is on bus B, its PF on bus A` when the VF's bus is not its PF's (RFC quirk 5); else null. */
function onOtherBus(ctx: ScenarioContext, vf: string | null): string | null {
  if (vf === null) return null;
  const pf = ctx.caps.pfs.find((p) => p.vfs.some((v) => v.bdf === vf));
  if (!pf || busOf(vf) === busOf(pf.bdf)) return null;
  const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
  return `VF ${vf} is on bus ${hex(busOf(vf))}, its PF ${pf.bdf} on ${hex(busOf(pf.bdf))}`;
}

/**
 * What an IOV scenario needs: a VF with an LMEM BAR exported by vfio, an xe
 * PF, the interconnect series (its symbols), tracefs taking our kprobes to tell
 * iov from p2p (data alone cannot: docs/internals.md), and the scatter-gather probe symbols, without
 * which a fallback to P2P would go unseen and be taken for iov (path.ts). xe
 * comes before the LMEM BAR: the VF of a PF that is not xe's (an igb NIC in
 * QEMU) has no LMEM BAR because it is no GPU, and "PF not xe" is the reason to
 * give. The interconnect is checked before tracefs so that a kernel without
 * the series says so first.
 */
export function requireIov(ctx: ScenarioContext): void {
  requireCaps(ctx, 'target', 'dmaBufExport', 'xe', 'lmemBar', 'interconnect', 'tracefs', 'kprobes', 'sgProbes');
}

/** What a scenario that imports into xe (any path) needs (xe before the LMEM BAR, as in requireIov). */
export function requireImport(ctx: ScenarioContext): void {
  requireCaps(ctx, 'target', 'dmaBufExport', 'xe', 'lmemBar');
}
