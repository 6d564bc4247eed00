// Kernel build options the mock honours on top of its profile (docs/topology.md
// `kernel.config`). A profile says which kernel line and revision the mock is
// (its rules); these say how that kernel was configured, which decides what
// exists at all: Debian's 7.2 is built without IOMMUFD, so it has no
// /dev/iommu and no VFIO cdev (docs/kernel.md §4), while a kernel built from the
// same source with the QEMU guest fragment has both.
//
// configureProfile() returns the profile with the options applied: its
// /boot/config text says them, and its symbol table gains the functions the
// options build in (kallsyms, kprobes).

import type { SymbolType } from './contracts.js';
import type { ProfileImpl, SymbolInfo } from './profiles.js';

/** The options the mock models, each `y` (built in) or `n` (not set). */
export const MODELLED_OPTIONS = [
  'IOMMUFD',
  'VFIO_DEVICE_CDEV',
  'TRANSPARENT_HUGEPAGE',
  'DEBUG_KMEMLEAK',
  // KASAN reports bad accesses (mm/kasan); SLUB_RCU_DEBUG makes it see those into SLAB_TYPESAFE_BY_RCU
  // objects after their grace period (mm/slub.c slab_free_after_rcu_debug; default y under KASAN_GENERIC).
  'KASAN',
  'SLUB_RCU_DEBUG',
  // Lock debugging (lib/Kconfig.debug: PROVE_LOCKING selects DEBUG_SPINLOCK, DEBUG_MUTEXES and DEBUG_LOCK_ALLOC)
  // and the LSM hooks (security/Kconfig) change the size of kernel objects a KASAN report prints (structFileSize).
  'PROVE_LOCKING',
  'SECURITY',
] as const;
export type ModelledOption = (typeof MODELLED_OPTIONS)[number];
export type KernelConfig = Partial<Record<ModelledOption, 'y' | 'n'>>;

/** Kconfig dependencies among the modelled options (drivers/vfio/Kconfig: VFIO_DEVICE_CDEV depends on IOMMUFD; mm/Kconfig.debug). */
const DEPENDS: Partial<Record<ModelledOption, ModelledOption>> = {
  VFIO_DEVICE_CDEV: 'IOMMUFD',
  // mm/Kconfig.debug: SLUB_RCU_DEBUG depends on KASAN.
  SLUB_RCU_DEBUG: 'KASAN',
};

/**
 * sizeof(struct file) and the offset of its f_ref on x86-64 for this
 * kernel's configuration (include/linux/fs.h struct file, 7.2): 168 bytes
 * with a 4-byte spinlock_t and a 24-byte struct mutex
 * (include/linux/mutex_types.h), 8 more with CONFIG_SECURITY (f_security).
 * Lock debugging makes f_lock 64 bytes (raw_spinlock_t with magic, owner_cpu,
 * owner and a lockdep_map) and f_pos_lock 136 (its wait_lock likewise, magic,
 * a lockdep_map): 344 bytes, the figure the default sanitizer build
 * (kconfig/iovh-guest.config: PROVE_LOCKING, no SECURITY) prints as "cache
 * filp of size 344" and that a sizeof compiled against that build's objtree
 * gives (f_ref at 336). f_ref is the last member in every configuration
 * (no RANDSTRUCT). The `filp` cache's object size is this size.
 */
export function structFileSize(profile: ProfileImpl): { size: number; fRef: number } {
  const lockDebug = optionIn(profile.config, 'PROVE_LOCKING') !== 'n';
  const security = optionIn(profile.config, 'SECURITY') !== 'n';
  const size = (lockDebug ? 344 : 168) + (security ? 8 : 0);
  return { size, fRef: size - 8 };
}

/** Lockdep is on: the first report that taints turns it off and says so (kernel/locking/lockdep.c debug_locks_off). */
export function lockdepOn(profile: ProfileImpl): boolean {
  return optionIn(profile.config, 'PROVE_LOCKING') !== 'n';
}

export function isModelledOption(name: string): name is ModelledOption {
  return (MODELLED_OPTIONS as readonly string[]).includes(name);
}

/** Why `config` cannot be built (an option set without what it depends on), or null. */
export function configProblem(config: KernelConfig): string | null {
  for (const [opt, dep] of Object.entries(DEPENDS) as [ModelledOption, ModelledOption][]) {
    if (config[opt] === 'y' && config[dep] !== 'y') return `CONFIG_${opt}=y needs CONFIG_${dep}=y (Kconfig depends on)`;
  }
  return null;
}

/** What the profile's own config text says about an option. */
export function optionIn(configText: string, option: string): 'y' | 'm' | 'n' {
  const m = new RegExp(`^CONFIG_${option}=(y|m)$`, 'm').exec(configText);
  return m ? (m[1] as 'y' | 'm') : 'n';
}

/** Enabled in the configured profile (built in or as a module). */
export function enabled(profile: ProfileImpl, option: ModelledOption): boolean {
  return optionIn(profile.config, option) !== 'n';
}

type Sym = readonly [name: string, type: 't' | 'T', size: number, caller?: string];

// Functions CONFIG_IOMMUFD builds into vmlinux that a harness probes
// (drivers/iommu/iommufd/{main,ioas,io_pagetable,pages,device}.c), and the
// VFIO side of the import (drivers/vfio/pci/vfio_pci_dmabuf.c).
const IOMMUFD_SYMBOLS: readonly Sym[] = [
  ['iommufd_fops_ioctl', 't', 0x1f0],
  ['iommufd_ioas_map_file', 'T', 0x170, 'iommufd_fops_ioctl+0x10c/0x1f0'],
  ['iommufd_ioas_unmap', 'T', 0x150, 'iommufd_fops_ioctl+0x10c/0x1f0'],
  ['iopt_map_file_pages', 'T', 0x1d0, 'iommufd_ioas_map_file+0xe8/0x170'],
  ['iopt_alloc_dmabuf_pages', 'T', 0x160, 'iopt_map_file_pages+0xa1/0x1d0'],
  ['iopt_revoke_notify', 't', 0xb0, 'dma_buf_invalidate_mappings+0x52/0x90'],
  ['iommufd_device_bind', 'T', 0x2a0],
  ['iommufd_device_attach', 'T', 0x90],
  ['iommufd_device_detach', 'T', 0x120],
  ['iommufd_device_unbind', 'T', 0x60],
  ['vfio_pci_dma_buf_iommufd_map', 'T', 0x80, 'iopt_alloc_dmabuf_pages+0xf3/0x160'],
];

/** The profile with `config` applied (options not given keep the profile's value). */
export function configureProfile(base: ProfileImpl, config: KernelConfig): ProfileImpl {
  const problem = configProblem({ ...fromText(base.config), ...config });
  if (problem) throw new Error(problem);
  let text = base.config;
  for (const [opt, v] of Object.entries(config) as [ModelledOption, 'y' | 'n'][]) {
    const line = v === 'y' ? `CONFIG_${opt}=y` : `# CONFIG_${opt} is not set`;
    const re = new RegExp(`^(CONFIG_${opt}=.*|# CONFIG_${opt} is not set)$`, 'm');
    text = re.test(text) ? text.replace(re, line) : `${text}${line}\n`;
  }
  const extra: SymbolInfo[] = [];
  if (optionIn(text, 'IOMMUFD') !== 'n' && optionIn(base.config, 'IOMMUFD') === 'n') {
    for (const [name, type, size, caller] of IOMMUFD_SYMBOLS) {
      // vfio_pci_dma_buf_iommufd_map lives in vfio_pci_core: a module where the profile's vfio is one.
      const module = name.startsWith('vfio_') ? (base.symbolInfo.get('vfio_pci_dma_buf_move')?.module ?? null) : null;
      const at = caller === undefined ? undefined : callerOn(base, caller);
      extra.push(at === undefined ? { name, type, module, size } : { name, type, module, size, caller: at });
    }
  }
  if (text === base.config && extra.length === 0) return base;
  const symbolInfo = new Map(base.symbolInfo);
  const addresses = new Map<string, bigint>();
  // Place the new functions after the highest address of their section, as the linker would append them.
  const top = (module: string | null): bigint => {
    let max = module === null ? 0xffffffff81000000n : 0xffffffffc0000000n;
    for (const s of symbolInfo.values()) {
      if (s.module !== module) continue;
      const a = (addresses.get(s.name) ?? base.address(s.name) ?? 0n) + BigInt(s.size);
      if (a > max) max = a;
    }
    return max;
  };
  for (const s of extra) {
    const at = (top(s.module) + 0x100n) & ~0xfn;
    addresses.set(s.name, at);
    symbolInfo.set(s.name, s);
  }
  const symbols = new Map<string, SymbolType>([...symbolInfo.values()].map((s) => [s.name, s.type]));
  return {
    ...base,
    config: text,
    symbols,
    symbolInfo,
    address: (name: string) => addresses.get(name) ?? base.address(name),
  };
}

/** A return site under the name the profile's kernel gives its function (6.19 and 7.0 notify through dma_buf_move_notify). */
function callerOn(base: ProfileImpl, caller: string): string {
  const m = /^([A-Za-z0-9_]+)\+(0x[0-9a-f]+)\/0x[0-9a-f]+$/.exec(caller);
  if (!m) return caller;
  const name = base.fn(m[1]!);
  if (name === m[1]) return caller;
  const size = base.symbolInfo.get(name)?.size;
  return size === undefined ? caller : `${name}+${m[2]}/0x${size.toString(16)}`;
}

function fromText(text: string): KernelConfig {
  const out: KernelConfig = {};
  for (const o of MODELLED_OPTIONS) out[o] = optionIn(text, o) === 'n' ? 'n' : 'y';
  return out;
}
