// Path classification (docs/internals.md "Principles") from the
// kprobe hits of one import's window (import, bind, first use) and from the
// errno of each step:
//
//   refused       an errno at import, bind or exec
//   p2p           the ordinary scatter-gather map ran (vfio_pci_dma_buf_map /
//                 dma_buf_map_attachment), whether or not an interconnect was
//                 negotiated first: a fallback is p2p, never iov
//   iov           an interconnect was negotiated or its ranges handed over,
//                 and the LMEM object lookup returned non-NULL (translated)
//   untranslated  negotiated and mapped, but neither translated nor
//                 scatter-gather mapped (RFC quirk 2)
//   unknown       no probe that could tell fired, or none could be armed
//
// Data alone cannot tell iov from p2p (docs/internals.md); the trace can. iov and
// untranslated are claims about what did NOT happen (no fallback to the
// scatter-gather map; no translation), so they are made only when the probes
// that would have seen it were armed and enabled: both scatter-gather probes
// (a fallback is seen by either), and for untranslated the lookup's return.
// A missing probe is "no evidence", never "branch not taken" (static helpers
// are often inlined and absent from /proc/kallsyms): the verdict is then unknown.

import type { PathClass } from '../report/model.js';
import type { ProbeKey } from './symbols.js';
import { argValue, isErrValue, type TraceHit } from './tracefs.js';
import { P2P_ROUTES } from '../shape/index.js';

export interface PathInput {
  /** The step that failed and its errno name, when one did. */
  refused: { step: string; code: string } | null;
  hits: readonly TraceHit[];
  /** Probe keys that were armed for the window. */
  armed: ReadonlySet<ProbeKey>;
  /** Entries the trace ring buffer dropped in the window (tracefs.ts TraceRead.lost). */
  lost?: number;
}

export interface PathVerdict {
  path: PathClass;
  why: string;
  negotiated: boolean;
  mappedInterconnect: boolean;
  sgMapped: boolean;
  /** vfid arguments of the LMEM-object lookups (VF index + 1). */
  lookupVfids: number[];
  translated: boolean;
  /**
   * The route pci_p2pdma_map_type chose for the P2P map (drivers/pci/p2pdma.c):
   * `bus address` through a switch, `host bridge` (an IOVA), `not supported`
   * (the map's EINVAL); null when the probe saw no decision.
   */
  route: P2pRoute | null;
}

export type P2pRoute = (typeof P2P_ROUTES)[number];

/** The probes that see the ordinary scatter-gather (P2P) map: an IOV verdict needs both armed. */
const SG_KEYS: ProbeKey[] = ['exporterSgMap', 'sgMap'];

const DECIDING: ProbeKey[] = [
  'match',
  'exporterMatch',
  'mapInterconnect',
  'exporterMapInterconnect',
  'translateRet',
  'exporterSgMap',
  'sgMap',
];

function ret(h: TraceHit): bigint | null {
  return argValue(h.args.ret);
}

/**
 * A `bool` return value from a kretprobe: the x86-64 psABI defines only %al,
 * and the upper bytes of RAX hold whatever the function left there, so
 * `$retval` fetched as x64 can read 0xffff888100000000 for false. Judged by
 * its low byte, whichever way it was fetched.
 */
function boolean(h: TraceHit): boolean {
  return ((ret(h) ?? 0n) & 0xffn) !== 0n;
}

export function classifyPath(input: PathInput): PathVerdict {
  const { hits } = input;
  const of = (key: ProbeKey): TraceHit[] => hits.filter((h) => h.key === key);
  // Both match helpers return C bool: only the low byte of RAX is the answer (boolean(); symbols come fetched as u8).
  const negotiated = of('match').some((h) => boolean(h)) || of('exporterMatch').some((h) => boolean(h));
  const mappedInterconnect =
    of('mapInterconnect').some((h) => {
      const v = ret(h);
      return v !== null && v !== 0n && !isErrValue(v);
    }) || of('exporterMapInterconnect').some((h) => ret(h) === 0n);
  const sgMapped = of('exporterSgMap').length > 0 || of('sgMap').length > 0;
  const lookupVfids = of('translate')
    .map((h) => argValue(h.args.vfid))
    .filter((v): v is bigint => v !== null)
    .map((v) => Number(v));
  const translated = of('translateRet').some((h) => {
    const v = ret(h);
    return v !== null && v !== 0n && !isErrValue(v);
  });
  // The last decision of the window is the one the map acted on.
  const decided = of('p2pRoute')
    .map((h) => ret(h))
    .filter((v): v is bigint => v !== null);
  const last = decided.at(-1);
  const route = last === undefined ? null : (P2P_ROUTES[Number(last & 0xffffffffn)] ?? null);
  const base = { negotiated, mappedInterconnect, sgMapped, lookupVfids, translated, route };
  const routed = route === null ? '' : `; P2P route: ${route} (pci_p2pdma_map_type)`;
  if (input.refused)
    return { ...base, path: 'refused', why: `${input.refused.step} failed with ${input.refused.code}${routed}` };
  if (sgMapped) {
    const via = of('exporterSgMap').length > 0 ? 'vfio_pci_dma_buf_map' : 'dma_buf_map_attachment';
    const fell =
      negotiated || mappedInterconnect ? ' after an interconnect was negotiated: the IOV path fell back' : '';
    return { ...base, path: 'p2p', why: `the ordinary scatter-gather map ran (${via})${fell}${routed}` };
  }
  const lost = input.lost ?? 0;
  if (lost > 0) {
    return {
      ...base,
      path: 'unknown',
      why: `the trace buffer dropped ${lost} entries in the window (other tasks hit the probes too): a missing hit proves nothing`,
    };
  }
  const sgBlind = SG_KEYS.filter((k) => !input.armed.has(k));
  if ((negotiated || mappedInterconnect) && sgBlind.length > 0) {
    return {
      ...base,
      path: 'unknown',
      why: `interconnect negotiated, but the scatter-gather probe${sgBlind.length > 1 ? 's' : ''} (${sgBlind.join(', ')}) could not be armed: a fallback to the P2P path would not have been seen`,
    };
  }
  if (translated && (negotiated || mappedInterconnect)) {
    return {
      ...base,
      path: 'iov',
      why: `interconnect negotiated, ranges mapped and translated (LMEM object of vfid ${lookupVfids.join(', ') || '?'})`,
    };
  }
  if ((negotiated || mappedInterconnect) && !input.armed.has('translateRet')) {
    return {
      ...base,
      path: 'unknown',
      why: "interconnect negotiated, but the LMEM-object lookup's return probe (translateRet) could not be armed: a translation would not have been seen",
    };
  }
  if (negotiated || mappedInterconnect) {
    const lookup =
      lookupVfids.length > 0
        ? `the LMEM-object lookup for vfid ${lookupVfids.join(', ')} returned NULL`
        : 'no LMEM-object lookup happened';
    return {
      ...base,
      path: 'untranslated',
      why: `interconnect negotiated${mappedInterconnect ? ' and mapped' : ''}, but ${lookup} and no scatter-gather map ran`,
    };
  }
  const armed = DECIDING.filter((k) => input.armed.has(k));
  if (armed.length === 0) return { ...base, path: 'unknown', why: 'no probe that could tell the path could be armed' };
  return {
    ...base,
    path: 'unknown',
    why: `none of the armed probes (${armed.join(', ')}) fired: the import was never mapped in the window`,
  };
}
