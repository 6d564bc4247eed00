// The kernel defects the harness names when it finds them: the RFC's quirks
// by their number in ../shared/rfc-model.md ("Quirks of the RFC as posted"),
// plus the kernel-abi §11 findings (revoke, quota bounds). The ids are the mock's
// QuirkId values (src/mock/contracts.ts), so a baseline, a mock profile and
// a report all use one name for one defect. Quirk 3 (first range picks the
// VF) cannot be reached through vfio, which exports one device's BAR only,
// and quirk 9 is about naming, handled by the symbol table (symbols.ts).

export interface QuirkInfo {
  id: string;
  /** rfc-model.md number, null for kernel-abi §11 findings. */
  number: number | null;
  title: string;
  source: string;
}

export const QUIRKS = {
  'last-page': {
    id: 'last-page',
    number: 1,
    title: 'last page of the VF BAR is not recognised',
    source: 'rfc-model quirk 1',
  },
  'silent-untranslated': {
    id: 'silent-untranslated',
    number: 2,
    title: 'translation reports success without translating',
    source: 'rfc-model quirk 2',
  },
  'first-range-vf': {
    id: 'first-range-vf',
    number: 3,
    title: 'only the first range picks the VF',
    source: 'rfc-model quirk 3',
  },
  'unprovisioned-oops': {
    id: 'unprovisioned-oops',
    number: 4,
    title: 'unprovisioned VF: NULL dereference',
    source: 'rfc-model quirk 4',
  },
  'vf-other-bus': {
    id: 'vf-other-bus',
    number: 5,
    title: "owner-VF search walks only the PF's bus",
    source: 'rfc-model quirk 5',
  },
  'ranges-leak': {
    id: 'ranges-leak',
    number: 6,
    title: 'mapped ranges are never released',
    source: 'rfc-model quirk 6',
  },
  'order-from-length': {
    id: 'order-from-length',
    number: 7,
    title: 'entry order from the length rounded up to a power of two',
    source: 'rfc-model quirk 7',
  },
  contiguity: {
    id: 'contiguity',
    number: 8,
    title: 'each range assumed contiguous in the LMEM object',
    source: 'rfc-model quirk 8',
  },
  'revoked-attach-bypass': {
    id: 'revoked-attach-bypass',
    number: null,
    title: 'IOV match returns before the revoked check',
    source: 'kernel-abi §11.2',
  },
  'quota-unchecked': {
    id: 'quota-unchecked',
    number: null,
    title: "ranges beyond the VF's LMEM quota are translated anyway",
    source: 'kernel-abi §11.3',
  },
  'deferred-unmap-hang': {
    id: 'deferred-unmap-hang',
    number: null,
    title: 'xe defers the unmap, vfio revoke waits for it',
    source: 'kernel-abi §11.6',
  },
  'closed-vdev-oops': {
    id: 'closed-vdev-oops',
    number: null,
    title: 'import after the VFIO device was closed: NULL dereference of priv->vdev',
    source: 'seed 4/8 vfio_pci_match_interconnects, kernel-abi §3.5',
  },
} as const satisfies Record<string, QuirkInfo>;

export type QuirkName = keyof typeof QUIRKS;

/**
 * The quirks whose oops a kernel log shows, by the function of the oops's
 * `RIP:` line (the RFC v1 build: static helpers are inlined into these). A
 * task an oops killed cannot name the quirk itself (its process is gone), so
 * whoever records the crash names it from the log. A new RFC revision that
 * moves an oops is a new row, like symbols.ts.
 */
const OOPS_SITES: readonly { fn: string; quirk: QuirkName }[] = [
  // rfc-model quirk 4: the NULL LMEM object of an unprovisioned VF, read through __xe_bo_addr.
  { fn: 'xe_bo_addr', quirk: 'unprovisioned-oops' },
  // vfio_pci_match_interconnects reads priv->vdev->pdev first, NULL after the last close (kernel-abi §3.5).
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
