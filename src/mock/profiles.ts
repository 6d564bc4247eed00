// Kernel profiles: which kernel the mock pretends to be, one per kernel line
// and interconnect revision a lab runs (docs/profiles.md tells each one's
// story with its kernel sources). A profile is data: the upstream line its
// vfio-pci and dma-buf core follow (`base`), the series applied on top, the
// defects it carries (each optionally fixed from a release on), the names
// /proc/kallsyms lists, and what `iovh profiles` says differs. A new kernel
// or a known bug of one is a row or an entry here, not new code paths.
//
// The model's code reads only `base`, `series` and `has(quirk)`: what a
// base means (revocable gate, revoke waits) is BASES below.

import type { KernelBase, Profile, ProfileName, QuirkId, Series, SymbolType } from './contracts.js';
import { parseRelease } from '../shape/index.js';
import type { ShapeName } from '../shape/index.js';

export const PROFILE_NAMES: readonly ProfileName[] = [
  'upstream-6.19',
  'upstream-7.0',
  'upstream-7.1',
  'rfc-v1',
  'rfc-v2',
  'maptype-rfc',
  'fixed',
];

/** Older names that still select a profile (`upstream` was today's line before the lines were split). */
export const PROFILE_ALIASES: Readonly<Record<string, ProfileName>> = { upstream: 'upstream-7.1' };

export const DEFAULT_PROFILE: ProfileName = 'rfc-v1';

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** A profile name or an alias, as the profile it selects; null when it is neither. */
export function resolveProfileName(name: string): ProfileName | null {
  if (isProfileName(name)) return name;
  return Object.hasOwn(PROFILE_ALIASES, name) ? PROFILE_ALIASES[name]! : null;
}

/** Every name `--profile` takes, aliases marked, for messages. */
export function profileChoices(): string {
  const aliases = Object.entries(PROFILE_ALIASES).map(([a, p]) => `${a} (= ${p})`);
  return [...PROFILE_NAMES, ...aliases].join(', ');
}

/** A defect a profile carries; `fixedIn` = the first release without it (the profile's release decides). */
export interface QuirkSpec {
  id: QuirkId;
  fixedIn?: readonly [number, number, number];
}

export interface ProfileDef {
  name: ProfileName;
  /** The row of the kernel-shape table (src/shape) a kernel of this profile matches. */
  shape: ShapeName;
  /** The kernel, in words. */
  kernel: string;
  /** Default `uname -r` (a topology's `kernel.release` replaces it). */
  release: string;
  base: KernelBase;
  series: Series;
  quirks: readonly QuirkSpec[];
  /** What differs from the other profiles, one line each (`iovh profiles`). */
  differs: readonly string[];
  /** Where its behaviour comes from, for `iovh profiles --json` and docs/profiles.md. */
  sources: readonly string[];
}

/** What each upstream line's vfio-pci does (drivers/vfio/pci/vfio_pci_dmabuf.c of that line). */
export const BASES: Readonly<Record<KernelBase, { revocableGate: boolean; revokeWaits: boolean; revokeName: string }>> =
  {
    // 6.19: attach checks peer2peer then revoked; a revoke is dma_buf_move_notify under the resv lock, no wait.
    '6.19': { revocableGate: false, revokeWaits: false, revokeName: 'dma_buf_move_notify' },
    // 7.0: as 6.19 (struct dma_buf_phys_vec became struct phys_vec).
    '7.0': { revocableGate: false, revokeWaits: false, revokeName: 'dma_buf_move_notify' },
    // 7.1: dma_buf_attach_revocable at attach; revoke waits for the resv fences, then for every unmap (kref + completion).
    '7.1': { revocableGate: true, revokeWaits: true, revokeName: 'dma_buf_invalidate_mappings' },
  };

/** The vfio close-after-revoke kref fix ("vfio/pci: fix dma-buf kref underflow after revoke", 2026-05-07), verified in 7.2.13. */
const KREF_FIX: readonly [number, number, number] = [7, 2, 13];
/**
 * "drm/xe: Hold a dma-buf reference for imported BOs" (2026-07-10, Cc stable; xe work item 8023), the fix of
 * ttm-attach-uaf: Debian's 7.2.13 source has it (drivers/gpu/drm/xe/xe_bo.c xe_bo_init_locked takes get_dma_buf,
 * xe_ttm_bo_destroy puts it). 7.2.13 is the first 7.2 release checked, not necessarily the first that has it.
 */
const TTM_FIX: readonly [number, number, number] = [7, 2, 13];

const RFC_V1_QUIRKS: readonly QuirkSpec[] = [
  { id: 'last-page' },
  { id: 'silent-untranslated' },
  { id: 'first-range-vf' },
  { id: 'unprovisioned-oops' },
  { id: 'vf-other-bus' },
  { id: 'ranges-leak' },
  { id: 'order-from-length' },
  { id: 'contiguity' },
  { id: 'revoked-attach-bypass' },
  { id: 'quota-unchecked' },
  { id: 'closed-vdev-oops' },
  { id: 'root-tile-only' },
  { id: 'lmem-ref-leak' },
  { id: 'stale-lmem-import' },
  { id: 'deferred-unmap-hang' },
  { id: 'kref-underflow', fixedIn: KREF_FIX },
  { id: 'opath-stale-file' },
  { id: 'ttm-attach-uaf', fixedIn: TTM_FIX },
  { id: 'p2p-sgt-leak' },
];

export const PROFILES: readonly ProfileDef[] = [
  {
    name: 'upstream-6.19',
    shape: 'upstream-6.19',
    kernel: 'Linux 6.19',
    release: '6.19.8',
    base: '6.19',
    series: 'none',
    quirks: [{ id: 'opath-stale-file' }, { id: 'ttm-attach-uaf', fixedIn: TTM_FIX }, { id: 'p2p-sgt-leak' }],
    differs: [
      'vfio-pci dma-buf export and iommufd import; xe imports a VF BAR as P2P (no IOV path)',
      'attach: peer2peer, then revoked; no revocable gate',
      'a revoke notifies importers (dma_buf_move_notify) and does not wait for them to unmap',
    ],
    sources: ['drivers/vfio/pci/vfio_pci_dmabuf.c and drivers/dma-buf/dma-buf.c of 6.19'],
  },
  {
    name: 'upstream-7.0',
    shape: 'upstream-7.0',
    kernel: 'Linux 7.0',
    release: '7.0.9',
    base: '7.0',
    series: 'none',
    quirks: [{ id: 'opath-stale-file' }, { id: 'ttm-attach-uaf', fixedIn: TTM_FIX }, { id: 'p2p-sgt-leak' }],
    differs: [
      'as upstream-6.19',
      'struct dma_buf_phys_vec is struct phys_vec (no symbol changes: the release tells it from 6.19)',
    ],
    sources: ['the 7.0 VFIO pull, "vfio: Replace dma_buf_phys_vec with phys_vec"'],
  },
  {
    name: 'upstream-7.1',
    shape: 'upstream-7.1',
    kernel: 'Linux 7.1 to 7.3-rc (today: 7.2.13)',
    release: '7.2.13',
    base: '7.1',
    series: 'none',
    quirks: [
      { id: 'deferred-unmap-hang' },
      { id: 'kref-underflow', fixedIn: KREF_FIX },
      { id: 'opath-stale-file' },
      { id: 'ttm-attach-uaf', fixedIn: TTM_FIX },
      { id: 'p2p-sgt-leak' },
    ],
    differs: [
      'revocable gate: attach refuses an importer without invalidate_mappings (EOPNOTSUPP)',
      'a revoke waits, with no timeout, until every importer mapping is unmapped; xe defers its unmap, so a revoke under a mapped xe import hangs',
      'pinned importers allowed (vfio has no pin op)',
      'closing a device whose buffers are revoked underflows a kref and hangs before 7.2.13 (a topology with kernel.release 7.2.12 models that side)',
    ],
    sources: [
      'the revoke series merged for 7.1 (dma_buf_invalidate_mappings, dma_buf_attach_revocable, vfio waits for unmap)',
      '"vfio/pci: fix dma-buf kref underflow after revoke" (2026-05-07), present in 7.2.13',
      'drivers/gpu/drm/xe/xe_bo.c xe_bo_move_dmabuf: the unmap is deferred to the next map or the BO destroy',
    ],
  },
  {
    name: 'rfc-v1',
    shape: 'rfc-v1',
    kernel: 'the interconnect RFC v1 (2025-10-14) forward-ported onto 7.2.13',
    release: '7.2.13-rfc-iov-v1',
    base: '7.1',
    series: 'rfc-v1',
    quirks: RFC_V1_QUIRKS,
    differs: [
      'IOV path: dma_buf_match_interconnects at attach, dma_buf_map_interconnect at bind, VF BAR addresses translated to DPAs in xe',
      "quirks 1-8 of the series as posted; quirks 1 and 5 end in quirk 2's NULL sg table: an oops at the next VM_BIND",
      "the revoked-attach bypass, and the NULL priv->vdev of an attach after the VF's VFIO device closed (an oops)",
      "the 7.x forward-port leaks an LMEM-object reference per translation (upstream getter plus the RFC's own get)",
      'a VF quota change under an import leaves the importer addressing the old LMEM object',
    ],
    sources: [
      '"[RFC 0/8] dma-buf: Add support for mapping dmabufs via interconnects", Message-ID 20251014071243.811884-1-vivek.kasireddy@intel.com',
    ],
  },
  {
    name: 'rfc-v2',
    shape: 'rfc-v2',
    kernel: 'the interconnect RFC v2 (2025-10-27) forward-ported onto 7.2.13',
    release: '7.2.13-rfc-iov-v2',
    base: '7.1',
    series: 'rfc-v2',
    quirks: [
      { id: 'last-page' },
      { id: 'vf-other-bus' },
      { id: 'order-from-length' },
      { id: 'contiguity' },
      { id: 'revoked-attach-bypass' },
      { id: 'quota-unchecked' },
      { id: 'lmem-ref-leak' },
      { id: 'stale-lmem-import' },
      { id: 'deferred-unmap-hang' },
      { id: 'kref-underflow', fixedIn: KREF_FIX },
      { id: 'opath-stale-file' },
      { id: 'ttm-attach-uaf', fixedIn: TTM_FIX },
      { id: 'p2p-sgt-leak' },
    ],
    differs: [
      'the IOV type is a pointer (iov_interconnect), matched by dma_buf_match_interconnects; xe offers it from supports_interconnects',
      'xe falls back to map_dma_buf (P2P) when the translation fails: quirks 1 and 5 become a P2P fallback, no oops; quirk 2 and 4 are gone',
      'every range is checked against the exporting VF (EPERM: the cross-VF check), the ranges are unmapped at the next map or BO destroy (no quirk 6)',
      'the match uses the device copied at export: no oops after the VFIO device closed, but the revoked-attach bypass stays',
      'the translation never stores the LMEM object it looked up, so its reference is never put',
    ],
    sources: [
      '"[RFC v2 0/8] dma-buf: Add support for mapping dmabufs via interconnects", Message-ID 20251027044712.1676175-1-vivek.kasireddy@intel.com (patches 2/8, 4/8, 6/8, 7/8)',
    ],
  },
  {
    name: 'maptype-rfc',
    shape: 'maptype-rfc',
    kernel: "Jason Gunthorpe's DMA-buf mapping types (RFC, 2026-02-17), with an IOV type on top",
    release: '7.1.0-rc1-dmabuf-map-type',
    base: '7.1',
    series: 'maptype',
    quirks: [
      { id: 'deferred-unmap-hang' },
      { id: 'kref-underflow' },
      { id: 'opath-stale-file' },
      { id: 'ttm-attach-uaf', fixedIn: TTM_FIX },
      { id: 'p2p-sgt-leak' },
    ],
    differs: [
      'dma_buf_mapping_attach matches mapping types first: vfio offers PAL then SGT_P2P, xe asks for SGT (dma_buf_sgt_dynamic_attach)',
      'xe imports through SGT_P2P: no IOV path until the IOV type (names not public) is named in the symbol table',
      'a non-P2P importer matches no type: EINVAL at attach (not EOPNOTSUPP); a closed device: ENODEV from match_mapping',
      "the branch's vfio still has the close-after-revoke kref underflow",
    ],
    sources: [
      '"[PATCH RFC 00/26] Add DMA-buf mapping types and convert vfio/iommufd to use them", Message-ID 0-v1-b5cab63049c0+191af-dmabuf_map_type_jgg@nvidia.com',
      'branch dmabuf_map_type: drivers/vfio/pci/vfio_pci_dmabuf.c, drivers/gpu/drm/xe/xe_dma_buf.c, drivers/dma-buf/dma-buf-mapping.c',
    ],
  },
  {
    name: 'fixed',
    shape: 'rfc-v1',
    kernel: "the interconnect series as its authors meant it (RFC v1's names), on 7.2.13",
    release: '7.2.13-rfc-iov-fixed',
    base: '7.1',
    series: 'rfc-v1',
    quirks: [{ id: 'deferred-unmap-hang' }],
    differs: [
      "only the RFC's defects removed: every IOV scenario takes the IOV path with the right bytes",
      'the interconnect map checks revoked and counts the mapping, so a revoke waits for it like any other',
      "xe's deferred unmap is not the RFC's: it stays, and is fixed separately (its own fix, deferred-unmap-hang)",
      "the merged path's bugs with a posted fix are fixed: TTM's failed-attach use-after-free and the O_PATH stale dma-buf file (docs/bugs.md)",
    ],
    sources: ['the RFC v1 series with its quirks removed; xe_bo_move_dmabuf as upstream has it'],
  },
];

export function profileDef(name: ProfileName): ProfileDef {
  return PROFILES.find((p) => p.name === name)!;
}

/** A kernel function as /proc/kallsyms lists it, with what a kprobe hit line prints. */
export interface SymbolInfo {
  readonly name: string;
  readonly type: SymbolType;
  /** null: built into vmlinux (dma-buf is CONFIG_DMA_SHARED_BUFFER=y). */
  readonly module: string | null;
  /** Function size, for `sym+0x4/0xSIZE`. */
  readonly size: number;
  /** Return site a kretprobe prints after `<-`'s left side: `caller+0xoff/0xsize [mod]`. */
  readonly caller?: string;
}

type Sym = readonly [name: string, type: SymbolType, module: string | null, size: number, caller?: string];

// Present in every kernel with vfio dma-buf export (6.19+), whatever the series (drivers/vfio/pci/vfio_pci_dmabuf.c,
// drivers/dma-buf/dma-buf.c, drivers/gpu/drm/xe/xe_dma_buf.c).
const COMMON: readonly Sym[] = [
  ['_text', 'T', null, 0],
  ['_stext', 'T', null, 0x40],
  ['do_syscall_64', 'T', null, 0x1a0],
  ['__x64_sys_ioctl', 'T', null, 0xb0, 'do_syscall_64+0x82/0x1a0'],
  // Its caller, as a return probe prints it: the VFIO export (the mock's other exporters, udmabuf and xe's
  // PRIME export, return elsewhere on a real kernel; only the VFIO one is traced by iovh).
  ['dma_buf_export', 'T', null, 0x2e0, 'vfio_pci_core_feature_dma_buf+0x1c9/0x310 [vfio_pci_core]'],
  ['dma_buf_fd', 'T', null, 0x70],
  ['dma_buf_get', 'T', null, 0x80],
  ['dma_buf_put', 'T', null, 0x50],
  ['dma_buf_detach', 'T', null, 0x120],
  ['dma_buf_phys_vec_to_sgt', 'T', null, 0x330, 'vfio_pci_dma_buf_map+0x5c/0x1f0 [vfio_pci_core]'],
  ['pci_p2pdma_map_type', 'T', null, 0x150],
  ['pcim_p2pdma_provider', 'T', null, 0x60],
  ['vfio_device_fops_unl_ioctl', 't', 'vfio', 0x6c0],
  ['vfio_pci_core_ioctl_feature', 'T', 'vfio_pci_core', 0x210],
  [
    'vfio_pci_core_feature_dma_buf',
    'T',
    'vfio_pci_core',
    0x430,
    'vfio_pci_core_ioctl_feature+0xb2/0x210 [vfio_pci_core]',
  ],
  ['vfio_pci_dma_buf_unmap', 't', 'vfio_pci_core', 0x60],
  ['vfio_pci_dma_buf_release', 't', 'vfio_pci_core', 0x90],
  ['vfio_pci_dma_buf_move', 'T', 'vfio_pci_core', 0x180],
  ['vfio_pci_dma_buf_cleanup', 'T', 'vfio_pci_core', 0xe0],
  ['drm_ioctl', 'T', 'drm', 0x4b0],
  ['drm_gem_prime_fd_to_handle', 'T', 'drm', 0x1e0],
  ['drm_gem_prime_import_dev', 'T', 'drm', 0x1a0],
  ['xe_gem_prime_import', 'T', 'xe', 0x1d0, 'drm_gem_prime_fd_to_handle+0x10e/0x1e0 [drm]'],
  ['xe_bo_move', 't', 'xe', 0x9a0],
  // Upstream since the VF migration series (6.19): present without any interconnect series.
  ['xe_gt_sriov_pf_config_get_lmem_obj', 'T', 'xe', 0x60, 'xe_bo_move+0x51e/0x9a0 [xe]'],
];

// The classic dma-buf core names (dma-buf.c of 6.19 to 7.3, and the interconnect RFC's bases).
const CLASSIC_CORE: readonly Sym[] = [
  ['dma_buf_attach', 'T', null, 0x30],
  ['dma_buf_dynamic_attach', 'T', null, 0x260],
  ['dma_buf_map_attachment', 'T', null, 0x1c0, 'xe_bo_move+0x3c4/0x9a0 [xe]'],
  ['dma_buf_unmap_attachment', 'T', null, 0x110, 'xe_bo_move+0x2b1/0x9a0 [xe]'],
  ['vfio_pci_dma_buf_attach', 't', 'vfio_pci_core', 0x70, 'dma_buf_dynamic_attach+0x11c/0x260'],
  ['vfio_pci_dma_buf_map', 't', 'vfio_pci_core', 0x1f0, 'dma_buf_map_attachment+0x93/0x1c0'],
];

// 6.19 and 7.0: the importer's op and the core's notifier are move_notify; vfio has a pin op returning EOPNOTSUPP.
const REVOKE_MOVE_NOTIFY: readonly Sym[] = [
  ['dma_buf_move_notify', 'T', null, 0x80],
  ['vfio_pci_dma_buf_pin', 't', 'vfio_pci_core', 0x10],
  ['xe_dma_buf_move_notify', 't', 'xe', 0x90, 'dma_buf_move_notify+0x4a/0x80'],
];

// 7.1: the revoke series renamed move_notify and added the revocable check.
const REVOKE_71: readonly Sym[] = [
  ['dma_buf_invalidate_mappings', 'T', null, 0x90],
  ['dma_buf_attach_revocable', 'T', null, 0x20],
  ['xe_dma_buf_move_notify', 't', 'xe', 0x90, 'dma_buf_invalidate_mappings+0x52/0x90'],
];

// The interconnect RFC's functions (v1 and v2 share every name). xe_bo_xarray_to_dma_addr and
// xe_bo_translate_io_xarray_to_dpa are static and inlined into xe_bo_move in this build, so they are
// absent: a harness must treat a missing symbol as "no evidence".
const RFC_SYMBOLS: readonly Sym[] = [
  ['dma_buf_map_interconnect', 'T', null, 0xe0, 'xe_bo_move+0x4a7/0x9a0 [xe]'],
  ['dma_buf_unmap_interconnect', 'T', null, 0x90, 'xe_bo_move+0x5d3/0x9a0 [xe]'],
  ['dma_buf_match_interconnects', 'T', null, 0xc0, 'xe_dma_buf_supports_interconnects+0x4d/0x70 [xe]'],
  ['vfio_pci_match_interconnect', 't', 'vfio_pci_core', 0x50, 'dma_buf_match_interconnects+0x83/0xc0'],
  ['vfio_pci_map_interconnect', 't', 'vfio_pci_core', 0xd0, 'dma_buf_map_interconnect+0x8c/0xe0'],
  ['vfio_pci_unmap_interconnect', 't', 'vfio_pci_core', 0x30, 'dma_buf_unmap_interconnect+0x61/0x90'],
  ['xe_dma_buf_supports_interconnects', 't', 'xe', 0x70, 'vfio_pci_dma_buf_attach+0x2f/0x70 [vfio_pci_core]'],
  ['xe_find_vf_dev', 't', 'xe', 0xa0, 'xe_bo_move+0x49c/0x9a0 [xe]'],
];

// RFC v2 3/8: CREATE_INTERCONNECT(iov) and EXPORT_SYMBOL_NS_GPL(iov_interconnect): a pointer in .data.
const RFC_V2_DATA: readonly Sym[] = [['iov_interconnect', 'D', null, 8]];

// The mapping-type branch: the core's attach and SGT calls under their new names, the PAL type, vfio's match op.
const MAPTYPE_SYMBOLS: readonly Sym[] = [
  ['dma_buf_mapping_attach', 'T', null, 0x1d0],
  ['dma_buf_match_mapping', 'T', null, 0xb0, 'vfio_pci_dma_buf_match_mapping+0x6a/0xa0 [vfio_pci_core]'],
  ['dma_buf_sgt_attach', 'T', null, 0x40],
  ['dma_buf_sgt_dynamic_attach', 'T', null, 0x60, 'xe_gem_prime_import+0x8e/0x1d0 [xe]'],
  ['dma_buf_sgt_map_attachment', 'T', null, 0x1c0, 'xe_bo_move+0x3c4/0x9a0 [xe]'],
  ['dma_buf_sgt_unmap_attachment', 'T', null, 0x110, 'xe_bo_move+0x2b1/0x9a0 [xe]'],
  ['dma_buf_pal_map_phys', 'T', null, 0x70],
  ['dma_buf_pal_unmap_phys', 'T', null, 0x50],
  ['vfio_pci_dma_buf_match_mapping', 't', 'vfio_pci_core', 0xa0, 'dma_buf_mapping_attach+0x7e/0x1d0'],
  ['vfio_pci_dma_buf_attach', 't', 'vfio_pci_core', 0x50, 'dma_buf_mapping_attach+0x131/0x1d0'],
  ['vfio_pci_dma_buf_map', 't', 'vfio_pci_core', 0x1f0, 'dma_buf_sgt_map_attachment+0x93/0x1c0'],
  ['vfio_pci_dma_pal_map_phys', 't', 'vfio_pci_core', 0x90, 'dma_buf_pal_map_phys+0x41/0x70'],
  ['vfio_pci_dma_pal_unmap_phys', 't', 'vfio_pci_core', 0x40],
];

/**
 * The model calls functions by their 7.1 names (kernel.trace); a kernel of
 * another line has them under its own, and a kprobe can only be armed on a
 * name that kernel lists.
 */
function renames(base: KernelBase, series: Series): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  if (BASES[base].revokeName !== 'dma_buf_invalidate_mappings')
    out.set('dma_buf_invalidate_mappings', BASES[base].revokeName);
  if (series === 'maptype') {
    out.set('dma_buf_map_attachment', 'dma_buf_sgt_map_attachment');
    out.set('dma_buf_unmap_attachment', 'dma_buf_sgt_unmap_attachment');
    out.set('dma_buf_dynamic_attach', 'dma_buf_sgt_dynamic_attach');
  }
  return out;
}

function symbolsOf(base: KernelBase, series: Series): Sym[] {
  return [
    ...COMMON,
    ...(series === 'maptype' ? MAPTYPE_SYMBOLS : CLASSIC_CORE),
    ...(base === '7.1' ? REVOKE_71 : REVOKE_MOVE_NOTIFY),
    ...(series === 'rfc-v1' || series === 'rfc-v2' ? RFC_SYMBOLS : []),
    ...(series === 'rfc-v2' ? RFC_V2_DATA : []),
  ];
}

/** Modules loaded in every profile (Debian's config builds them as modules, =m). */
export const LOADED_MODULES: readonly { name: string; size: number; deps: string[] }[] = [
  { name: 'irqbypass', size: 12288, deps: [] },
  { name: 'vfio', size: 69632, deps: ['vfio_iommu_type1', 'vfio_pci_core', 'vfio_pci'] },
  { name: 'vfio_iommu_type1', size: 49152, deps: [] },
  { name: 'vfio_pci_core', size: 102400, deps: ['vfio_pci'] },
  { name: 'vfio_pci', size: 16384, deps: [] },
  { name: 'drm', size: 798720, deps: ['xe', 'vgem', 'drm_kms_helper'] },
  { name: 'drm_kms_helper', size: 253952, deps: ['xe'] },
  { name: 'xe', size: 3375104, deps: [] },
  { name: 'vgem', size: 16384, deps: [] },
];

const MODULE_BASE: Record<string, bigint> = {
  vfio: 0xffffffffc0300000n,
  vfio_pci_core: 0xffffffffc0400000n,
  vfio_pci: 0xffffffffc0480000n,
  drm: 0xffffffffc0600000n,
  xe: 0xffffffffc0a00000n,
};

export interface ProfileImpl extends Profile {
  readonly def: ProfileDef;
  readonly symbolInfo: ReadonlyMap<string, SymbolInfo>;
  /** Kernel address of a symbol (for kallsyms and the kprobe IP). */
  address(name: string): bigint | undefined;
  /** The name this kernel gives a function the model calls by its 7.1 name. */
  fn(name: string): string;
  /** The .config this kernel was built with (`/boot/config-<release>`). */
  readonly config: string;
  /** The kernel exposes its config at /proc/config.gz (CONFIG_IKCONFIG_PROC). */
  readonly ikconfigProc: boolean;
  /**
   * CONFIG_X86_KERNEL_IBT: functions start with ENDBR64 and an entry kprobe
   * sits after it, at sym+0x4 (arch/x86/kernel/kprobes/core.c
   * arch_adjust_kprobe_addr).
   */
  readonly ibt: boolean;
  readonly quirks: ReadonlySet<QuirkId>;
}

function configText(release: string, series: Series, ikconfig: boolean): string {
  // The options iovh depends on, as in Debian's 7.2 amd64 config (/boot/config-7.2.13-amd64) plus what a test kernel adds (kmemleak).
  const lines = [
    '#',
    `# Automatically generated file; DO NOT EDIT.`,
    `# Linux/x86 ${release} Kernel Configuration`,
    '#',
    'CONFIG_64BIT=y',
    'CONFIG_X86_64=y',
    'CONFIG_X86_KERNEL_IBT=y',
    'CONFIG_PCI=y',
    'CONFIG_PCI_IOV=y',
    'CONFIG_PCI_P2PDMA=y',
    'CONFIG_ZONE_DEVICE=y',
    'CONFIG_IOMMU_SUPPORT=y',
    'CONFIG_INTEL_IOMMU=y',
    '# CONFIG_IOMMUFD is not set',
    'CONFIG_VFIO=m',
    'CONFIG_VFIO_GROUP=y',
    'CONFIG_VFIO_CONTAINER=y',
    'CONFIG_VFIO_IOMMU_TYPE1=m',
    '# CONFIG_VFIO_NOIOMMU is not set',
    'CONFIG_VFIO_PCI_CORE=m',
    'CONFIG_VFIO_PCI=m',
    'CONFIG_VFIO_PCI_DMABUF=y',
    '# CONFIG_XE_VFIO_PCI is not set',
    'CONFIG_DMA_SHARED_BUFFER=y',
    'CONFIG_UDMABUF=y',
    '# CONFIG_DMABUF_DEBUG is not set',
    'CONFIG_DRM=m',
    'CONFIG_DRM_VGEM=m',
    'CONFIG_DRM_XE=m',
    'CONFIG_DEBUG_FS=y',
    'CONFIG_TRACEPOINTS=y',
    'CONFIG_KPROBES=y',
    'CONFIG_KPROBE_EVENTS=y',
    'CONFIG_FTRACE=y',
    'CONFIG_DEBUG_KMEMLEAK=y',
    'CONFIG_DETECT_HUNG_TASK=y',
    'CONFIG_SECURITY=y',
    '# CONFIG_PROVE_LOCKING is not set',
    'CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120',
    ikconfig ? 'CONFIG_IKCONFIG=y' : '# CONFIG_IKCONFIG is not set',
    ikconfig ? 'CONFIG_IKCONFIG_PROC=y' : '',
    series === 'rfc-v1' || series === 'rfc-v2' ? 'CONFIG_DMABUF_INTERCONNECT_IOV=y' : '',
  ];
  return `${lines.filter((l) => l !== '').join('\n')}\n`;
}

/** Does `release` come before `fixedIn`? An unparsable release counts as before (the defect assumed present). */
function before(release: string, fixedIn: readonly [number, number, number]): boolean {
  const v = parseRelease(release);
  if (!v) return true;
  for (let i = 0; i < 3; i++) if (v[i] !== fixedIn[i]) return v[i]! < fixedIn[i]!;
  return false;
}

function makeProfile(def: ProfileDef, release: string): ProfileImpl {
  const table = symbolsOf(def.base, def.series);
  const info = new Map<string, SymbolInfo>();
  const addresses = new Map<string, bigint>();
  let core = 0xffffffff81000000n;
  const moduleNext = new Map<string, bigint>();
  for (const [sym, type, module, size, caller] of table) {
    info.set(sym, caller === undefined ? { name: sym, type, module, size } : { name: sym, type, module, size, caller });
    if (module === null) {
      addresses.set(sym, core);
      core += BigInt(Math.max(0x10, (size + 0xf) & ~0xf)) + 0x1000n;
    } else {
      const at = moduleNext.get(module) ?? MODULE_BASE[module] ?? 0xffffffffc0800000n;
      addresses.set(sym, at);
      moduleNext.set(module, at + BigInt((size + 0xf) & ~0xf) + 0x40n);
    }
  }
  const symbols = new Map<string, SymbolType>([...info.values()].map((s) => [s.name, s.type]));
  const set = new Set(def.quirks.filter((q) => q.fixedIn === undefined || before(release, q.fixedIn)).map((q) => q.id));
  // Debian's upstream kernels ship their config in /boot only; the lab kernels built with the series have IKCONFIG.
  const ikconfig = def.series !== 'none';
  const rename = renames(def.base, def.series);
  return {
    name: def.name,
    def,
    release,
    base: def.base,
    series: def.series,
    interconnect: def.series === 'rfc-v1' || def.series === 'rfc-v2',
    revocableGate: BASES[def.base].revocableGate,
    revokeWaits: BASES[def.base].revokeWaits,
    has: (q: QuirkId) => set.has(q),
    symbols,
    symbolInfo: info,
    address: (s: string) => addresses.get(s),
    fn: (s: string) => rename.get(s) ?? s,
    config: configText(release, def.series, ikconfig),
    ikconfigProc: ikconfig,
    ibt: true,
    quirks: set,
  };
}

export function getProfile(name: ProfileName, release?: string): ProfileImpl {
  const def = profileDef(name);
  return makeProfile(def, release ?? def.release);
}
