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
  'last-page': { id: 'last-page', number: 1, title: 'last page of the VF BAR is not recognised', source: 'rfc-model quirk 1' },
  'silent-untranslated': {
    id: 'silent-untranslated',
    number: 2,
    title: 'translation reports success without translating',
    source: 'rfc-model quirk 2',
  },
  'first-range-vf': { id: 'first-range-vf', number: 3, title: 'only the first range picks the VF', source: 'rfc-model quirk 3' },
  'unprovisioned-oops': { id: 'unprovisioned-oops', number: 4, title: 'unprovisioned VF: NULL dereference', source: 'rfc-model quirk 4' },
  'vf-other-bus': { id: 'vf-other-bus', number: 5, title: "owner-VF search walks only the PF's bus", source: 'rfc-model quirk 5' },
  'ranges-leak': { id: 'ranges-leak', number: 6, title: 'mapped ranges are never released', source: 'rfc-model quirk 6' },
  'order-from-length': {
    id: 'order-from-length',
    number: 7,
    title: 'entry order from the length rounded up to a power of two',
    source: 'rfc-model quirk 7',
  },
  contiguity: { id: 'contiguity', number: 8, title: 'each range assumed contiguous in the LMEM object', source: 'rfc-model quirk 8' },
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
} as const satisfies Record<string, QuirkInfo>;

export type QuirkName = keyof typeof QUIRKS;
