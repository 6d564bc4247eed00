// Which kernel is this? One pure function over what a running kernel shows:
// the text of /proc/kallsyms (looked up for the table's names only), the
// answer of the VFIO_DEVICE_FEATURE PROBE for DMA_BUF on a VF, and the
// release. `iovh doctor`, `iovh run`'s capability probe and every report use
// it, so they never disagree about the kernel they looked at.
//
// A kernel whose symbols match no row is "unknown", with the symbols seen:
// never the nearest row. Rows whose symbols are identical (6.19 and 7.0)
// are told apart by the release only; without a readable release they stay
// unknown.

import { findKallsyms } from '../uapi/kallsyms.js';
import {
  DATA_SYMBOLS,
  DATA_TYPES,
  type IovPath,
  type Line,
  type ShapeName,
  type ShapeRow,
  shapeRows,
  tableSymbols,
} from './table.js';

/**
 * The VFIO_DEVICE_FEATURE PROBE|GET for DMA_BUF on a VF bound to vfio-pci:
 * `supported` (0: the kernel exports, drivers/vfio/pci/vfio_pci_dmabuf.c),
 * an errno name (ENOTTY: built without CONFIG_VFIO_PCI_DMABUF or older than
 * 6.19; EOPNOTSUPP: the VF's driver has no get_dmabuf_phys, a variant
 * driver), or `not run` with why (no VF to open; doctor does not open one,
 * since opening a VF through VFIO resets it).
 */
export type FeatureProbe =
  | { result: 'supported' }
  | { result: 'errno'; code: string }
  | { result: 'not run'; why: string };

export interface ShapeInput {
  /** The text of /proc/kallsyms; null when it could not be read (`kallsymsError` says why). */
  kallsyms: string | null;
  kallsymsError?: string | null;
  probe: FeatureProbe;
  /** `uname -r` (/proc/sys/kernel/osrelease), null when unreadable. */
  release: string | null;
}

export interface ShapeEvidence {
  release: string | null;
  /** The release's kernel line and patch level, e.g. `7.2.13`, or null when it does not parse. */
  version: string | null;
  /** `read`, or why /proc/kallsyms could not be read. */
  kallsyms: string;
  /** The table's symbols the kernel lists (sorted). */
  seen: string[];
  /** The PROBE, in words. */
  probe: string;
  /** Why this row (or why none). */
  why: string;
}

export interface KernelShape {
  name: ShapeName | 'unknown';
  /** One line, `upstream-7.1 — no IOV import path: xe imports a VF BAR as P2P`. */
  summary: string;
  row: ShapeRow | null;
  /** The IOV import path this kernel has; null when it has none or the shape is unknown. */
  iov: IovPath | null;
  /** `[major, minor, patch]` of the release, when it parses. */
  version: readonly [number, number, number] | null;
  evidence: ShapeEvidence;
}

/** `7.2.13+deb14-amd64` -> [7, 2, 13]; `7.3.0-rc7` -> [7, 3, 0]; null when the release does not start with a version. */
export function parseRelease(release: string | null): readonly [number, number, number] | null {
  if (release === null) return null;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  return m ? [Number(m[1]), Number(m[2]), m[3] === undefined ? 0 : Number(m[3])] : null;
}

function probeText(p: FeatureProbe): string {
  if (p.result === 'supported') return 'PROBE|GET DMA_BUF returned 0';
  if (p.result === 'errno') return `PROBE|GET DMA_BUF failed with ${p.code}`;
  return `PROBE not run (${p.why})`;
}

/** What the PROBE adds to a summary when it says the export is not there. */
function probeNote(p: FeatureProbe): string {
  if (p.result !== 'errno') return '';
  if (p.code === 'ENOTTY') return '; no VFIO dma-buf export (PROBE: ENOTTY, CONFIG_VFIO_PCI_DMABUF off)';
  if (p.code === 'EOPNOTSUPP')
    return "; the VF's driver does not export dma-bufs (PROBE: EOPNOTSUPP, a variant driver)";
  return `; the PROBE failed with ${p.code}`;
}

const inLine = (v: readonly [number, number, number], l: Line): boolean => v[0] === l[0] && v[1] === l[1];

/**
 * The shape of a running kernel. Pure: the same text, PROBE answer and
 * release always give the same shape. `rows` is for tests (the default is
 * the table of table.ts).
 */
export function detectShape(input: ShapeInput, rows: readonly ShapeRow[] = shapeRows()): KernelShape {
  const version = parseRelease(input.release);
  const versionText = version ? version.join('.') : null;
  const probe = probeText(input.probe);
  const base = { release: input.release, version: versionText, probe };
  if (input.kallsyms === null) {
    const why = input.kallsymsError ?? 'unreadable';
    return {
      name: 'unknown',
      summary: `unknown — /proc/kallsyms could not be read (${why}); release ${input.release ?? 'unknown'}`,
      row: null,
      iov: null,
      version,
      evidence: { ...base, kallsyms: why, seen: [], why: 'no symbols to match' },
    };
  }
  const names = tableSymbols(rows);
  const seenSet = findKallsyms(
    input.kallsyms,
    names.filter((n) => !DATA_SYMBOLS.has(n)),
  );
  for (const n of findKallsyms(
    input.kallsyms,
    names.filter((n) => DATA_SYMBOLS.has(n)),
    DATA_TYPES,
  ))
    seenSet.add(n);
  const seen = [...seenSet].sort();
  const bySymbols = rows.filter(
    (r) => r.require.every((s) => seenSet.has(s)) && r.forbid.every((s) => !seenSet.has(s)),
  );
  const candidates = bySymbols.filter(
    (r) => r.lines === null || (version !== null && r.lines.some((l) => inLine(version, l))),
  );
  const evidence = (why: string): ShapeEvidence => ({ ...base, kallsyms: 'read', seen, why });
  const seenText = seen.length > 0 ? seen.join(', ') : 'none of the table';
  if (candidates.length !== 1) {
    let why: string;
    if (candidates.length > 1)
      why = `rows ${candidates.map((r) => r.name).join(', ')} all match: the table is ambiguous`;
    else if (bySymbols.length > 0)
      why =
        version === null
          ? `the symbols fit ${bySymbols.map((r) => r.name).join(' and ')}, which only the release tells apart, and the release ${input.release === null ? 'could not be read' : `'${input.release}' does not parse`}`
          : `the symbols fit ${bySymbols.map((r) => r.name).join(' and ')}, but release ${versionText} is none of their kernel lines`;
    else why = 'no row of the symbol table matches these symbols';
    return {
      name: 'unknown',
      summary: `unknown — symbols seen: ${seenText}; release ${input.release ?? 'unknown'}; ${probe}`,
      row: null,
      iov: null,
      version,
      evidence: evidence(why),
    };
  }
  const row = candidates[0]!;
  // An IOV path counts only when its own markers are listed too (the mapping-type IOV row a lab fills in).
  const iov = row.iov?.markers.every((m) => seenSet.has(m)) ? row.iov : null;
  const path = iov
    ? `IOV import path: ${iov.name}`
    : `no IOV import path: ${row.noIov ?? 'the IOV type is not in this kernel'}`;
  const parts = [
    row.require.length > 0 ? `${row.require.join(', ')} listed` : '',
    row.forbid.length > 0 ? `none of ${row.forbid.join(', ')}` : '',
    row.lines ? `release ${versionText} is ${row.lines.map((l) => l.join('.')).join(' or ')}` : '',
  ].filter((p) => p !== '');
  return {
    name: row.name,
    summary: `${row.name} — ${path}${probeNote(input.probe)}`,
    row,
    iov,
    version,
    evidence: evidence(parts.join('; ')),
  };
}
