// Where the harness can see which branch the kernel took: kprobe points keyed
// by what /proc/kallsyms offers. The interconnect series is still moving
// (rfc-model quirk 9; kernel-abi §5, §11.12), so each revision is one row of
// REVISIONS; a later revision, or the "mapping types" successor, is a new row,
// not a rewrite. The scatter-gather (P2P) probes exist in every kernel with
// vfio dma-buf export (Linux 6.19+) and are shared by all rows.
//
// A missing symbol is "no evidence", never "branch not taken" (rfc-model,
// "Where a harness can see each branch"): static functions may be inlined.

import type { FileOps } from '../backend/types.js';
import { findKallsyms } from '../uapi/kallsyms.js';

/** What a probe point shows (the classifier in path.ts reads these keys). */
export type ProbeKey =
  | 'match' // return of the core match helper: 1 = an interconnect matched
  | 'exporterMatch' // return of vfio's match op: true = IOV match
  | 'importerOffers' // entry of xe's supports_interconnects: xe asked to match
  | 'mapInterconnect' // return of the core interconnect map: non-error pointer = ranges handed over
  | 'exporterMapInterconnect' // return of vfio's map_interconnect: 0 = ok
  | 'translate' // entry of the LMEM object lookup: arg2 = vfid
  | 'translateRet' // its return: non-NULL = translated
  | 'unmapInterconnect' // entry of the core interconnect unmap
  | 'exporterSgMap' // entry of vfio's map_dma_buf: the ordinary (P2P) path
  | 'sgMap'; // entry of dma_buf_map_attachment: the ordinary path, seen from the core

export interface ProbePoint {
  key: ProbeKey;
  symbol: string;
  kind: 'entry' | 'return';
  /** kprobe fetch-args (Documentation/trace/kprobetrace.rst): `$argN` at entry, `$retval` at return. */
  fetch: string;
  /**
   * The function may run outside the task that caused it, so its hits are not
   * filtered by task (tracefs.ts): the unmap at the end of an imported BO's
   * life runs wherever TTM destroys the BO, which may be its delayed-delete
   * worker (drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_release). Everything else on
   * the table runs inside our ioctl (PRIME import attaches, VM_BIND and EXEC
   * validate and map: rfc-model "Map").
   */
  anyTask?: boolean;
}

export interface Revision {
  name: string;
  /** Where the names come from. */
  source: string;
  /** Symbols that must all be present for this revision to be recognised (the match helper and the map). */
  markers: string[];
  probes: ProbePoint[];
}

/** The ordinary scatter-gather map, present since vfio dma-buf export (drivers/vfio/pci/vfio_pci_dmabuf.c, drivers/dma-buf/dma-buf.c). */
export const SG_PROBES: ProbePoint[] = [
  { key: 'exporterSgMap', symbol: 'vfio_pci_dma_buf_map', kind: 'entry', fetch: '' },
  { key: 'sgMap', symbol: 'dma_buf_map_attachment', kind: 'entry', fetch: '' },
];

export const REVISIONS: Revision[] = [
  {
    name: 'rfc-v1',
    source:
      'rfc-model.md "Where a harness can see each branch (RFC v1 names)"; "[RFC 0/8] dma-buf: Add support for mapping dmabufs via interconnects", 2025-10-14',
    markers: ['dma_buf_match_interconnects', 'dma_buf_map_interconnect'],
    probes: [
      { key: 'match', symbol: 'dma_buf_match_interconnects', kind: 'return', fetch: 'ret=$retval' },
      { key: 'exporterMatch', symbol: 'vfio_pci_match_interconnect', kind: 'return', fetch: 'ret=$retval' },
      { key: 'importerOffers', symbol: 'xe_dma_buf_supports_interconnects', kind: 'entry', fetch: '' },
      { key: 'mapInterconnect', symbol: 'dma_buf_map_interconnect', kind: 'return', fetch: 'ret=$retval' },
      { key: 'exporterMapInterconnect', symbol: 'vfio_pci_map_interconnect', kind: 'return', fetch: 'ret=$retval' },
      { key: 'translate', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'entry', fetch: 'vfid=$arg2:u32' },
      { key: 'translateRet', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'return', fetch: 'ret=$retval' },
      { key: 'unmapInterconnect', symbol: 'dma_buf_unmap_interconnect', kind: 'entry', fetch: '', anyTask: true },
    ],
  },
];

/** Every symbol the table can arm: each revision's probes and the shared scatter-gather ones. */
export function tableSymbols(): string[] {
  return [...new Set([...REVISIONS.flatMap((r) => r.probes.map((p) => p.symbol)), ...SG_PROBES.map((p) => p.symbol)])];
}

export interface SymbolScan {
  /** null when /proc/kallsyms could not be read. */
  readable: boolean;
  why: string | null;
  /** The first revision whose markers are all present, or null. */
  revision: Revision | null;
  /** Per revision: which of its probe symbols are present and missing. */
  rows: { name: string; present: string[]; missing: string[] }[];
  /** Presence of the shared scatter-gather probe symbols. */
  sg: { present: string[]; missing: string[] };
  /** The table's symbols (tableSymbols()) that /proc/kallsyms lists as functions: what kprobes may be armed on. */
  symbols: Set<string>;
}

/**
 * One read of /proc/kallsyms, looked up for the table's names only (a real
 * kernel lists ~120,000 symbols; see src/uapi/kallsyms.ts for the cost).
 * The capability probe calls it once per run and kprobe arming uses its result.
 */
export function scanSymbols(fs: FileOps): SymbolScan {
  let symbols = new Set<string>();
  let readable = true;
  let why: string | null = null;
  try {
    symbols = findKallsyms(fs.readText('/proc/kallsyms'), tableSymbols());
  } catch (e) {
    readable = false;
    why = `/proc/kallsyms unreadable (${(e as { code?: string }).code ?? String(e)})`;
  }
  const split = (names: string[]): { present: string[]; missing: string[] } => {
    const unique = [...new Set(names)];
    return { present: unique.filter((n) => symbols.has(n)), missing: unique.filter((n) => !symbols.has(n)) };
  };
  const rows = REVISIONS.map((r) => ({ name: r.name, ...split(r.probes.map((p) => p.symbol)) }));
  const revision = REVISIONS.find((r) => r.markers.every((m) => symbols.has(m))) ?? null;
  return { readable, why, revision, rows, sg: split(SG_PROBES.map((p) => p.symbol)), symbols };
}
