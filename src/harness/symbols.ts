// Where the harness can see which branch the kernel took: kprobe points keyed
// by what /proc/kallsyms offers. The points live with the kernel-shape table
// (src/shape/table.ts), one row per kernel line and interconnect revision; a
// later revision, or the mapping-type IOV type once its names are public, is
// a row there, not a rewrite here. This file picks, for the kernel at hand,
// the row the detector named and which of its points the kernel lists.
//
// A missing symbol is "no evidence", never "branch not taken" (docs/profiles.md):
// static functions may be inlined.

import type { KernelShape, ProbeKey, ProbePoint } from '../shape/index.js';
import { shapeRows, tableSymbols as shapeTableSymbols } from '../shape/index.js';
import { findKallsyms } from '../uapi/kallsyms.js';

export type { ProbeKey, ProbePoint };

export interface Revision {
  name: string;
  /** Where the names come from. */
  source: string;
  /** Symbols that must all be present for this revision to be recognised. */
  markers: string[];
  probes: ProbePoint[];
}

/** Every row with an IOV import path, as a revision of probe points (rfc-v1, rfc-v2, and the mapping-type IOV type once named). */
export const REVISIONS: Revision[] = shapeRows()
  .filter((r) => r.iov !== null)
  .map((r) => ({ name: r.name, source: r.source, markers: [...r.iov!.markers], probes: [...r.iov!.probes] }));

/** The scatter-gather probes of kernels with vfio dma-buf export and the classic core names (6.19 to 7.3, the RFCs). */
export const SG_PROBES: ProbePoint[] = [...shapeRows().find((r) => r.name === 'upstream-7.1')!.sgProbes];

/** Every symbol the table can arm or match on. */
export function tableSymbols(): string[] {
  return shapeTableSymbols();
}

export interface SymbolScan {
  /** False when /proc/kallsyms could not be read. */
  readable: boolean;
  why: string | null;
  /** The IOV path's probe revision of the detected shape, or null (no IOV path, or the shape is unknown). */
  revision: Revision | null;
  /** Per revision with an IOV path: which of its probe symbols are present and missing. */
  rows: { name: string; present: string[]; missing: string[] }[];
  /** The scatter-gather probes of this kernel's shape (the classic names when the shape is unknown). */
  sgProbes: ProbePoint[];
  /** Presence of those scatter-gather probe symbols. */
  sg: { present: string[]; missing: string[] };
  /** The table's symbols that /proc/kallsyms lists as functions: what kprobes may be armed on. */
  symbols: Set<string>;
}

/**
 * The probe points of `shape` that this kernel lists, from the text of
 * /proc/kallsyms already read (null with `why` when it could not be). Only
 * the table's names are looked up (a real kernel lists ~120,000 symbols;
 * see src/uapi/kallsyms.ts for the cost).
 */
export function scanSymbols(kallsyms: string | null, why: string | null, shape: KernelShape): SymbolScan {
  const symbols = kallsyms === null ? new Set<string>() : findKallsyms(kallsyms, tableSymbols());
  const split = (names: string[]): { present: string[]; missing: string[] } => {
    const unique = [...new Set(names)];
    return { present: unique.filter((n) => symbols.has(n)), missing: unique.filter((n) => !symbols.has(n)) };
  };
  const rows = REVISIONS.map((r) => ({ name: r.name, ...split(r.probes.map((p) => p.symbol)) }));
  const iov = shape.iov;
  const revision = iov
    ? {
        name: shape.name,
        source: shape.row?.source ?? '',
        markers: [...iov.markers],
        probes: [...iov.probes],
      }
    : null;
  const sgProbes = [...(shape.row?.sgProbes ?? SG_PROBES)];
  return {
    readable: kallsyms !== null,
    why: kallsyms === null ? why : null,
    revision,
    rows,
    sgProbes,
    sg: split(sgProbes.map((p) => p.symbol)),
    symbols,
  };
}
