// The kernel defects the harness names when it finds them: the RFC's quirks
// by their number (docs/profiles.md "Quirks of the interconnect RFC"), what
// its 7.x forward-ports add (the merged path's own bugs are bugs.ts). The
// ids are the mock's QuirkId values (src/mock/contracts.ts), so a baseline, a
// mock profile and a report all use one name for one defect. Quirk 3 (first
// range picks the VF) cannot be reached through vfio, which exports one
// device's BAR only, and quirk 9 is about naming, handled by the symbol table
// (src/shape/table.ts).

import { isBugName, type BugName } from './bugs.js';

export interface QuirkInfo {
  id: string;
  /** The RFC quirk's number (docs/profiles.md), null for the other defects. */
  number: number | null;
  title: string;
  source: string;
}

export const QUIRKS = {
  'last-page': {
    id: 'last-page',
    number: 1,
    title: 'last page of the VF BAR is not recognised',
    source: 'RFC quirk 1 (docs/profiles.md)',
  },
  'silent-untranslated': {
    id: 'silent-untranslated',
    number: 2,
    title: 'translation reports success without translating: the next VM_BIND walks a NULL sg table',
    source: 'RFC quirk 2 (docs/profiles.md)',
  },
  'first-range-vf': {
    id: 'first-range-vf',
    number: 3,
    title: 'only the first range picks the VF',
    source: 'RFC quirk 3 (docs/profiles.md)',
  },
  'unprovisioned-oops': {
    id: 'unprovisioned-oops',
    number: 4,
    title: 'unprovisioned VF: NULL dereference',
    source: 'RFC quirk 4 (docs/profiles.md)',
  },
  'vf-other-bus': {
    id: 'vf-other-bus',
    number: 5,
    title: "owner-VF search walks only the PF's bus",
    source: 'RFC quirk 5 (docs/profiles.md)',
  },
  'ranges-leak': {
    id: 'ranges-leak',
    number: 6,
    title: 'mapped ranges are never released',
    source: 'RFC quirk 6 (docs/profiles.md)',
  },
  'order-from-length': {
    id: 'order-from-length',
    number: 7,
    title: 'entry order from the length rounded up to a power of two',
    source: 'RFC quirk 7 (docs/profiles.md)',
  },
  contiguity: {
    id: 'contiguity',
    number: 8,
    title: 'each range assumed contiguous in the LMEM object',
    source: 'RFC quirk 8 (docs/profiles.md)',
  },
  'revoked-attach-bypass': {
    id: 'revoked-attach-bypass',
    number: null,
    title: 'the IOV match returns before the revoked check, and the interconnect map checks nothing',
    source: 'RFC v1 and v2 4/8 vfio_pci_dma_buf_attach, vfio_pci_map_interconnect (docs/profiles.md)',
  },
  'quota-unchecked': {
    id: 'quota-unchecked',
    number: null,
    title: "ranges beyond the VF's LMEM quota are translated anyway",
    source: 'RFC v1 and v2 7/8: no check against the VF quota (docs/profiles.md)',
  },
  'closed-vdev-oops': {
    id: 'closed-vdev-oops',
    number: null,
    title: 'import after the VFIO device was closed: NULL dereference of priv->vdev',
    source: 'RFC v1 4/8 vfio_pci_match_interconnects (docs/profiles.md)',
  },
  'lmem-ref-leak': {
    id: 'lmem-ref-leak',
    number: null,
    title: "every translation leaks a reference to the VF's LMEM object",
    source:
      "RFC v1 7/8 xe_bo_get on top of upstream's referencing getter; RFC v2 7/8 never stores the object it looked up",
  },
  'stale-lmem-import': {
    id: 'stale-lmem-import',
    number: null,
    title: "a VF's quota changed under an import: the importer keeps addressing the old LMEM object",
    source: 'xe_gt_sriov_pf_config.c pf_provision_vf_lmem replaces the object; the series does not tell its importers',
  },
} as const satisfies Record<string, QuirkInfo>;

export type QuirkName = keyof typeof QUIRKS;

/** Evidence key of the quirks a scenario said it might die of (ScenarioContext.suspect). */
export const SUSPECTS = 'crashSuspects';
/** Evidence key: suspects whose step passed without a crash (ScenarioContext.cleared). */
export const CLEARED = 'crashSuspectsCleared';

/** The suspects a scenario recorded, from its evidence. */
export function suspectsOf(
  evidence: Readonly<Record<string, unknown>>,
): { id: QuirkName | BugName; evidence: string }[] {
  const list = evidence[SUSPECTS];
  if (!Array.isArray(list)) return [];
  const cleared = Array.isArray(evidence[CLEARED]) ? (evidence[CLEARED] as unknown[]) : [];
  return list.filter(
    (x): x is { id: QuirkName | BugName; evidence: string } =>
      typeof x === 'object' &&
      x !== null &&
      typeof x.id === 'string' &&
      (Object.hasOwn(QUIRKS, x.id) || isBugName(x.id)) &&
      typeof x.evidence === 'string' &&
      !cleared.includes(x.id),
  );
}

/**
 * The quirks whose oops a kernel log shows, by the function of the oops's
 * `RIP:` line (the RFC v1 build: static helpers are inlined into these). A
 * task an oops killed cannot name the quirk itself (its process is gone), so
 * whoever records the crash names it from the log. A new RFC revision that
 * moves an oops is a new row, like symbols.ts.
 */
const OOPS_SITES: readonly { fn: string; quirk: QuirkName }[] = [
  // RFC quirk 2 (v1): the bind after a silent non-translation walks a NULL sg table (xe_res_first_sg).
  { fn: 'xe_pt_stage_bind', quirk: 'silent-untranslated' },
  // RFC quirk 4: the NULL LMEM object of an unprovisioned VF, read through __xe_bo_addr.
  { fn: 'xe_bo_addr', quirk: 'unprovisioned-oops' },
  // RFC v1 vfio_pci_match_interconnects reads priv->vdev->pdev first, NULL after the last close.
  { fn: 'vfio_pci_dma_buf_attach', quirk: 'closed-vdev-oops' },
];

/**
 * Quirks named by the `RIP: 0010:<fn>+0x../0x..` lines of oopses in `log`
 * (kmsg texts, in order). Only a RIP after an `Oops:` line counts: a WARN
 * splat prints one too (lib/bug.c, arch/x86/kernel/dumpstack.c __die).
 */
export function quirksOfOops(log: readonly string[]): QuirkName[] {
  const out = new Set<QuirkName>();
  let inOops = false;
  for (const line of log) {
    if (/\bOops: /.test(line)) inOops = true;
    else if (/---\[ end trace|------------\[ cut here \]/.test(line)) inOops = false;
    const m = inOops ? /\bRIP: [0-9a-f]{4}:([A-Za-z0-9_.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+/.exec(line) : null;
    if (!m) continue;
    for (const s of OOPS_SITES) if (s.fn === m[1]) out.add(s.quirk);
  }
  return [...out];
}
