// Kernel profiles: which kernel the mock pretends to be (../shared/DESIGN.md,
// layer 4; ../shared/rfc-model.md "Quirks").
//
// - `upstream`: Linux 7.2 with vfio-pci dma-buf export and xe P2P import, no
//   interconnect series (kernel-abi §3, §5, §11.7).
// - `rfc-v1`: 7.2 with the seed series "dma-buf: Add support for mapping dmabufs
//   via interconnects" (RFC v1, 2025-10-14) forward-ported, with every quirk of
//   rfc-model.md and the revoked-buffer attach bypass (kernel-abi §11.2).
// - `fixed`: the same series as its authors meant it: no quirks.
//
// The deferred-unmap revoke hang (kernel-abi §11.6) is a 7.2 property (xe
// defers the unmap, vfio waits for it), so `upstream` and `rfc-v1` have it;
// `fixed` stands for a kernel where xe unmaps on invalidate.

import type { Profile, ProfileName, QuirkId } from './contracts.js';

export const PROFILE_NAMES: readonly ProfileName[] = ['upstream', 'rfc-v1', 'fixed'];
export const DEFAULT_PROFILE: ProfileName = 'rfc-v1';

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

const ALL_RFC_QUIRKS: readonly QuirkId[] = [
  'last-page',
  'silent-untranslated',
  'first-range-vf',
  'unprovisioned-oops',
  'vf-other-bus',
  'ranges-leak',
  'order-from-length',
  'contiguity',
  'revoked-attach-bypass',
  'deferred-unmap-hang',
  'quota-unchecked',
  'closed-vdev-oops',
];

/** A kernel function as /proc/kallsyms lists it, with what a kprobe hit line prints. */
export interface SymbolInfo {
  readonly name: string;
  readonly type: 't' | 'T';
  /** null: built into vmlinux (dma-buf is CONFIG_DMA_SHARED_BUFFER=y, kernel-abi §4). */
  readonly module: string | null;
  /** Function size, for `sym+0x0/0xSIZE`. */
  readonly size: number;
  /** Return site a kretprobe prints after `<-`'s left side: `caller+0xoff/0xsize [mod]`. */
  readonly caller?: string;
}

type Sym = readonly [name: string, type: 't' | 'T', module: string | null, size: number, caller?: string];

// Present in every 7.2 build (kernel-abi §3.4, §10, §12 file list).
const BASE_SYMBOLS: readonly Sym[] = [
  ['_text', 'T', null, 0],
  ['_stext', 'T', null, 0x40],
  ['do_syscall_64', 'T', null, 0x1a0],
  ['__x64_sys_ioctl', 'T', null, 0xb0, 'do_syscall_64+0x82/0x1a0'],
  ['dma_buf_export', 'T', null, 0x2e0],
  ['dma_buf_fd', 'T', null, 0x70],
  ['dma_buf_get', 'T', null, 0x80],
  ['dma_buf_put', 'T', null, 0x50],
  ['dma_buf_attach', 'T', null, 0x30],
  ['dma_buf_dynamic_attach', 'T', null, 0x260],
  ['dma_buf_detach', 'T', null, 0x120],
  ['dma_buf_map_attachment', 'T', null, 0x1c0, 'xe_bo_move+0x3c4/0x9a0 [xe]'],
  ['dma_buf_unmap_attachment', 'T', null, 0x110, 'xe_bo_move+0x2b1/0x9a0 [xe]'],
  ['dma_buf_invalidate_mappings', 'T', null, 0x90],
  ['dma_buf_attach_revocable', 'T', null, 0x20],
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
  ['vfio_pci_dma_buf_attach', 't', 'vfio_pci_core', 0x70, 'dma_buf_dynamic_attach+0x11c/0x260'],
  ['vfio_pci_dma_buf_map', 't', 'vfio_pci_core', 0x1f0, 'dma_buf_map_attachment+0x93/0x1c0'],
  ['vfio_pci_dma_buf_unmap', 't', 'vfio_pci_core', 0x60, 'dma_buf_unmap_attachment+0x5e/0x110'],
  ['vfio_pci_dma_buf_release', 't', 'vfio_pci_core', 0x90],
  ['vfio_pci_dma_buf_move', 'T', 'vfio_pci_core', 0x180],
  ['vfio_pci_dma_buf_cleanup', 'T', 'vfio_pci_core', 0xe0],
  ['drm_ioctl', 'T', 'drm', 0x4b0],
  ['drm_gem_prime_fd_to_handle', 'T', 'drm', 0x1e0],
  ['drm_gem_prime_import_dev', 'T', 'drm', 0x1a0],
  ['xe_gem_prime_import', 'T', 'xe', 0x1d0, 'drm_gem_prime_fd_to_handle+0x10e/0x1e0 [drm]'],
  ['xe_bo_move', 't', 'xe', 0x9a0],
  ['xe_dma_buf_move_notify', 't', 'xe', 0x90, 'dma_buf_invalidate_mappings+0x52/0x90'],
  // kernel-abi §9: already upstream (VF migration uses it), so present without the series.
  ['xe_gt_sriov_pf_config_get_lmem_obj', 'T', 'xe', 0x60, 'xe_bo_move+0x51e/0x9a0 [xe]'],
];

// The seed series' symbols (rfc-model "Where a harness can see each branch").
// xe_bo_xarray_to_dma_addr and xe_bo_translate_io_xarray_to_dpa are static and
// inlined into xe_bo_move in this build, so they are absent: a harness must
// treat a missing symbol as "no evidence".
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

/** Modules loaded in every profile (kernel-abi §4 Debian config: these are =m). */
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
  readonly symbolInfo: ReadonlyMap<string, SymbolInfo>;
  /** Kernel address of a symbol (for kallsyms and the kprobe IP). */
  address(name: string): bigint | undefined;
  /** The .config this kernel was built with (`/boot/config-<release>`). */
  readonly config: string;
  /** The kernel exposes its config at /proc/config.gz (CONFIG_IKCONFIG_PROC). */
  readonly ikconfigProc: boolean;
  readonly quirks: ReadonlySet<QuirkId>;
}

function configText(release: string, interconnect: boolean, ikconfig: boolean): string {
  // The options iovh depends on, as in Debian's 7.2 amd64 config (kernel-abi §4,
  // research/qemu-ci.md table) plus what a test kernel adds (kmemleak).
  const lines = [
    '#',
    `# Automatically generated file; DO NOT EDIT.`,
    `# Linux/x86 ${release} Kernel Configuration`,
    '#',
    'CONFIG_64BIT=y',
    'CONFIG_X86_64=y',
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
    'CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120',
    ikconfig ? 'CONFIG_IKCONFIG=y' : '# CONFIG_IKCONFIG is not set',
    ikconfig ? 'CONFIG_IKCONFIG_PROC=y' : '',
    interconnect ? 'CONFIG_DMABUF_INTERCONNECT_IOV=y' : '',
  ];
  return `${lines.filter((l) => l !== '').join('\n')}\n`;
}

function makeProfile(
  name: ProfileName,
  release: string,
  interconnect: boolean,
  quirks: readonly QuirkId[],
): ProfileImpl {
  const table = interconnect ? [...BASE_SYMBOLS, ...RFC_SYMBOLS] : [...BASE_SYMBOLS];
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
  const symbols = new Map<string, 't' | 'T'>([...info.values()].map((s) => [s.name, s.type]));
  const set = new Set(quirks);
  const ikconfig = name !== 'upstream';
  return {
    name,
    release,
    interconnect,
    has: (q: QuirkId) => set.has(q),
    symbols,
    symbolInfo: info,
    address: (s: string) => addresses.get(s),
    config: configText(release, interconnect, ikconfig),
    ikconfigProc: ikconfig,
    quirks: set,
  };
}

export function getProfile(name: ProfileName, release?: string): ProfileImpl {
  switch (name) {
    case 'upstream':
      return makeProfile(name, release ?? '7.2.13', false, ['deferred-unmap-hang']);
    case 'rfc-v1':
      return makeProfile(name, release ?? '7.2.13-rfc-iov-v1', true, ALL_RFC_QUIRKS);
    case 'fixed':
      return makeProfile(name, release ?? '7.2.13-rfc-iov-fixed', true, []);
  }
}
