// `iovh doctor`: is this machine ready to validate the IOV interconnect, and
// if not, what to do about it. Each check is pass, warn (works, with less
// evidence or coverage) or fail (something iovh needs is missing), with the
// fix in one line. Reads only, through FileOps, so the mock answers too.
import { gunzipSync } from 'node:zlib';
import type { FileOps } from '../backend/types.js';
import { isErrno } from '../kernel/errors.js';
import { findKallsyms } from '../kernel/kallsyms.js';
import { DEBUGFS, IOMMU_GROUPS, SysReader, driverPath } from './sysfs.js';
import { discover, type HostTopology } from './topology.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Check {
  id: string;
  status: CheckStatus;
  /** What was found, in one line. */
  detail: string;
  /** What to do about a warn or fail, in one line. */
  fix?: string;
}

/** A kernel config as `CONFIG_X` -> `y` | `m` | value; absent keys are not set. */
export type KernelConfig = Map<string, string>;

export function parseKernelConfig(text: string): KernelConfig {
  const out: KernelConfig = new Map();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The running kernel's config: /proc/config.gz (CONFIG_IKCONFIG_PROC) or /boot/config-<release>. */
export function readKernelConfig(fs: FileOps, release: string | null): { config: KernelConfig; source: string } | null {
  try {
    const gz = fs.readFile('/proc/config.gz');
    return { config: parseKernelConfig(gunzipSync(gz).toString('utf8')), source: '/proc/config.gz' };
  } catch (e) {
    if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EACCES') && !(e instanceof Error && /incorrect header|unexpected end/i.test(e.message))) throw e;
  }
  if (release !== null) {
    const path = `/boot/config-${release}`;
    try {
      return { config: parseKernelConfig(fs.readText(path)), source: path };
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EACCES')) throw e;
    }
  }
  return null;
}

/**
 * Kernel options iovh relies on, what their absence costs, and how to get
 * them: a tristate may be y or m, a bool only y, and an option without a
 * prompt cannot be chosen at all, only its dependencies can (Kconfig facts:
 * kernel-abi §4-§5, drivers/vfio/pci/Kconfig, drivers/pci/Kconfig,
 * drivers/iommu/iommufd/Kconfig, arch/Kconfig, kernel/trace/Kconfig,
 * lib/Kconfig.debug).
 */
const CONFIG_CHECKS: { name: string; need: 'fail' | 'warn'; why: string; fix: (cfg: KernelConfig) => string }[] = [
  { name: 'VFIO', need: 'fail', why: 'VFIO is how a VF is driven from userspace', fix: () => 'use a kernel built with CONFIG_VFIO=y or =m' },
  { name: 'VFIO_PCI', need: 'fail', why: 'vfio-pci is the exporter of VF BARs', fix: () => 'use a kernel built with CONFIG_VFIO_PCI=y or =m' },
  { name: 'VFIO_PCI_DMABUF', need: 'fail', why: 'without it VFIO_DEVICE_FEATURE DMA_BUF is ENOTTY (kernel-abi §3.3)', fix: dmabufFix },
  {
    name: 'PCI_P2PDMA',
    need: 'fail',
    why: 'vfio-pci dma-buf export needs a P2P provider (kernel-abi §5)',
    fix: () => 'use a kernel built with CONFIG_PCI_P2PDMA=y (a bool; it depends on CONFIG_ZONE_DEVICE=y and a 64-bit kernel)',
  },
  { name: 'PCI_IOV', need: 'fail', why: 'no SR-IOV without it', fix: () => 'use a kernel built with CONFIG_PCI_IOV=y (a bool)' },
  { name: 'DRM_XE', need: 'warn', why: 'no xe: only the emulated-device (QEMU) checks can run', fix: () => 'use a kernel built with CONFIG_DRM_XE=y or =m' },
  {
    name: 'IOMMUFD',
    need: 'warn',
    why: 'no iommufd/cdev VFIO path; the group/container path still works (kernel-abi §4)',
    fix: () => 'for the cdev path, use a kernel built with CONFIG_IOMMUFD=y or =m and CONFIG_VFIO_DEVICE_CDEV=y; the group path needs neither',
  },
  { name: 'DEBUG_FS', need: 'warn', why: 'no dma_buf/bufinfo and no debugfs provisioning', fix: () => 'use a kernel built with CONFIG_DEBUG_FS=y (a bool)' },
  { name: 'KPROBES', need: 'warn', why: 'no trace evidence of which path the kernel took', fix: () => 'use a kernel built with CONFIG_KPROBES=y (a bool)' },
  {
    name: 'KPROBE_EVENTS',
    need: 'warn',
    why: 'no kprobe_events in tracefs: no trace evidence',
    fix: () => 'use a kernel built with CONFIG_KPROBE_EVENTS=y (a bool; it depends on CONFIG_KPROBES=y)',
  },
  {
    name: 'DEBUG_KMEMLEAK',
    need: 'warn',
    why: 'no leak evidence (rfc-model quirk 6)',
    fix: () => 'use a kernel built with CONFIG_DEBUG_KMEMLEAK=y (a bool; it depends on CONFIG_DEBUG_KERNEL=y)',
  },
];

/**
 * CONFIG_VFIO_PCI_DMABUF has no prompt: `def_bool y if VFIO_PCI_CORE &&
 * PCI_P2PDMA && DMA_SHARED_BUFFER`, in Linux 6.19 and later (kernel-abi §5).
 * It cannot be set: name the dependency that is missing, or the kernel
 * version when none is.
 */
function dmabufFix(cfg: KernelConfig): string {
  const on = (name: string) => cfg.get(`CONFIG_${name}`) === 'y' || cfg.get(`CONFIG_${name}`) === 'm';
  const missing = ['VFIO_PCI_CORE', 'PCI_P2PDMA', 'DMA_SHARED_BUFFER'].filter((n) => !on(n));
  const rule = 'CONFIG_VFIO_PCI_DMABUF has no prompt: Linux 6.19 and later turn it on when VFIO_PCI_CORE, PCI_P2PDMA and DMA_SHARED_BUFFER are';
  if (missing.length === 0) return `use Linux 6.19 or later (${rule}, and all three are set here)`;
  const how = missing.map((n) => (n === 'PCI_P2PDMA' ? 'CONFIG_PCI_P2PDMA=y' : n === 'VFIO_PCI_CORE' ? 'CONFIG_VFIO_PCI=y or =m (it selects VFIO_PCI_CORE)' : 'a driver that selects DMA_SHARED_BUFFER (DRM does)'));
  return `build Linux 6.19 or later with ${how.join(' and ')} (${rule}; here ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set)`;
}

/**
 * Symbols only a kernel with the interconnect series has (rfc-model "Where a
 * harness can see each branch", RFC v1 names). xe_gt_sriov_pf_config_get_lmem_obj
 * is upstream already, so it proves nothing here.
 */
const INTERCONNECT_SYMBOLS = ['dma_buf_match_interconnects', 'dma_buf_map_interconnect', 'vfio_pci_match_interconnect', 'xe_dma_buf_supports_interconnects'];

export interface DoctorEnv {
  /** effective uid of the process (root may open every device node) */
  uid: number | null;
}

function kernelRelease(r: SysReader): string | null {
  const rel = r.maybe('/proc/sys/kernel/osrelease');
  if (rel !== null && rel.trim() !== '') return rel.trim();
  const version = r.maybe('/proc/version');
  const m = version === null ? null : /^Linux version (\S+)/.exec(version);
  return m ? m[1]! : null;
}

function accessible(fs: FileOps, path: string, uid: number | null): boolean {
  if (uid === 0) return true;
  const mode = fs.stat(path).mode;
  // Without the owner and group of the node, only "other" bits are conclusive.
  return (mode & 0o006) === 0o006;
}

export function runDoctor(fs: FileOps, env: DoctorEnv, topology: HostTopology = discover(fs)): Check[] {
  const r = new SysReader(fs);
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  const release = kernelRelease(r);
  add(release ? { id: 'kernel.release', status: 'pass', detail: `Linux ${release}` } : { id: 'kernel.release', status: 'warn', detail: 'cannot read /proc/sys/kernel/osrelease or /proc/version', fix: 'mount /proc' });

  const cfg = readKernelConfig(fs, release);
  if (!cfg) {
    add({ id: 'kernel.config', status: 'warn', detail: 'no /proc/config.gz or /boot/config-<release>: kernel options unchecked', fix: 'modprobe configs (a kernel with CONFIG_IKCONFIG=m and CONFIG_IKCONFIG_PROC=y), or install /boot/config-$(uname -r)' });
  } else {
    add({ id: 'kernel.config', status: 'pass', detail: `read ${cfg.source}` });
    for (const c of CONFIG_CHECKS) {
      const v = cfg.config.get(`CONFIG_${c.name}`);
      if (v === 'y' || v === 'm') add({ id: `config.${c.name}`, status: 'pass', detail: `CONFIG_${c.name}=${v}` });
      else add({ id: `config.${c.name}`, status: c.need, detail: `CONFIG_${c.name} is not set: ${c.why}`, fix: c.fix(cfg.config) });
    }
  }

  const groups = r.list(IOMMU_GROUPS).length;
  const cmdline = r.maybe('/proc/cmdline') ?? '';
  const flags = cmdline.split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu)=/.test(w));
  const flagText = flags.length ? ` (cmdline: ${flags.join(' ')})` : ' (no iommu options on the cmdline)';
  add(
    groups > 0
      ? { id: 'iommu', status: 'pass', detail: `${groups} IOMMU group${groups === 1 ? '' : 's'}${flagText}` }
      : { id: 'iommu', status: 'fail', detail: `no IOMMU groups: the IOMMU is off or absent${flagText}`, fix: 'boot with intel_iommu=on iommu=pt (AMD: amd_iommu=on), with VT-d/AMD-Vi enabled in firmware' },
  );

  const builtin = (name: string) => cfg?.config.get(`CONFIG_${name}`) === 'y';
  const modules: { mod: string; cfg: string; need: CheckStatus; fix: string; present?: () => boolean }[] = [
    { mod: 'vfio', cfg: 'VFIO', need: 'fail', fix: 'modprobe vfio' },
    { mod: 'vfio_iommu_type1', cfg: 'VFIO_IOMMU_TYPE1', need: 'fail', fix: 'modprobe vfio_iommu_type1' },
    { mod: 'vfio_pci', cfg: 'VFIO_PCI', need: 'fail', fix: 'modprobe vfio-pci', present: () => r.exists(driverPath('vfio-pci')) },
    { mod: 'xe', cfg: 'DRM_XE', need: 'warn', fix: 'modprobe xe (needs an Intel GPU xe drives)', present: () => r.exists(driverPath('xe')) },
  ];
  for (const m of modules) {
    const loaded = r.exists(`/sys/module/${m.mod}`) || (m.present?.() ?? false);
    if (loaded) add({ id: `module.${m.mod}`, status: 'pass', detail: `${m.mod} loaded` });
    else if (builtin(m.cfg)) add({ id: `module.${m.mod}`, status: 'pass', detail: `${m.mod} built in (CONFIG_${m.cfg}=y)` });
    else add({ id: `module.${m.mod}`, status: m.need, detail: `${m.mod} is not loaded`, fix: m.fix });
  }

  if (!r.exists('/dev/vfio/vfio')) {
    add({ id: 'dev.vfio', status: 'fail', detail: 'no /dev/vfio/vfio', fix: 'modprobe vfio (and boot with the IOMMU on)' });
  } else if (accessible(fs, '/dev/vfio/vfio', env.uid)) {
    add({ id: 'dev.vfio', status: 'pass', detail: env.uid === 0 ? '/dev/vfio: root' : '/dev/vfio/vfio is open to everyone' });
  } else {
    add({ id: 'dev.vfio', status: 'warn', detail: '/dev/vfio/vfio may not be open to this user (not root)', fix: 'run as root, or give your group rw on /dev/vfio/* with a udev rule' });
  }
  const dri = r.list('/dev/dri');
  if (dri.length === 0) {
    add({ id: 'dev.dri', status: 'warn', detail: 'no /dev/dri nodes: no DRM driver loaded', fix: 'modprobe xe' });
  } else {
    const render = dri.filter((n) => n.startsWith('renderD'));
    const open = env.uid === 0 || render.every((n) => accessible(fs, `/dev/dri/${n}`, env.uid));
    add(open ? { id: 'dev.dri', status: 'pass', detail: `/dev/dri: ${dri.sort().join(' ')}` } : { id: 'dev.dri', status: 'warn', detail: '/dev/dri render nodes may not be open to this user', fix: 'run as root, or add yourself to the render group' });
  }

  const debugfs = r.list(DEBUGFS);
  add(debugfs.length > 0 ? { id: 'debugfs', status: 'pass', detail: `${DEBUGFS} mounted` } : { id: 'debugfs', status: 'warn', detail: `${DEBUGFS} not mounted or not readable`, fix: 'mount -t debugfs none /sys/kernel/debug (as root)' });
  const tracefs = ['/sys/kernel/tracing', `${DEBUGFS}/tracing`].find((d) => r.exists(`${d}/kprobe_events`));
  add(tracefs ? { id: 'tracefs', status: 'pass', detail: `kprobe_events in ${tracefs}` } : { id: 'tracefs', status: 'warn', detail: 'no tracefs with kprobe_events: no trace evidence', fix: 'mount -t tracefs nodev /sys/kernel/tracing (as root; needs CONFIG_KPROBE_EVENTS)' });

  const kallsyms = r.maybe('/proc/kallsyms');
  if (kallsyms === null) {
    add({ id: 'interconnect', status: 'warn', detail: 'cannot read /proc/kallsyms', fix: 'run as root' });
  } else {
    // Any symbol type, as before; only these names are looked up (src/kernel/kallsyms.ts: the whole text is ~5 MB).
    const names = findKallsyms(kallsyms, INTERCONNECT_SYMBOLS, null);
    const found = INTERCONNECT_SYMBOLS.filter((s) => names.has(s));
    add(
      found.length > 0
        ? { id: 'interconnect', status: 'pass', detail: `interconnect series present: ${found.join(', ')}` }
        : { id: 'interconnect', status: 'warn', detail: 'no interconnect symbols in /proc/kallsyms: imports take the P2P path (an upstream kernel)', fix: 'boot a kernel with "dma-buf: Add support for mapping dmabufs via interconnects" to test the IOV path' },
    );
  }

  if (topology.pfs.length === 0) {
    add({ id: 'sriov', status: 'warn', detail: 'no SR-IOV PF found (no device with sriov_totalvfs)', fix: 'check the device and its driver; run `iovh` with --backend mock to try without hardware' });
  } else {
    const list = topology.pfs.map((p) => `${p.bdf} (${p.driver ?? 'no driver'}, ${p.numvfs}/${p.totalvfs} VFs)`).join(', ');
    add({ id: 'sriov', status: 'pass', detail: `SR-IOV PF${topology.pfs.length > 1 ? 's' : ''}: ${list}` });
  }
  for (const pf of topology.pfs) {
    if (pf.provisioning) add({ id: `provisioning.${pf.bdf}`, status: 'pass', detail: `${pf.bdf}: ${pf.provisioningNote}` });
    else add({ id: `provisioning.${pf.bdf}`, status: 'warn', detail: `${pf.bdf}: VRAM provisioning ${pf.provisioningNote}`, fix: provisioningFix(pf.driver, debugfs.length > 0) });
  }
  return checks;
}

/**
 * What to do about a PF without VRAM quota files (src/host/provisioning.ts):
 * sysfs sriov_admin/vfN/profile/vram_quota needs Linux 7.0, the debugfs
 * files need debugfs mounted (kernel-abi §9); an xe PF with debugfs mounted
 * and neither is an integrated GPU, which has no VRAM to provision.
 */
function provisioningFix(driver: string | null, debugfsMounted: boolean): string {
  if (driver !== 'xe') return 'nothing to do unless this should be an xe PF (bind it to xe)';
  if (!debugfsMounted) return 'mount -t debugfs none /sys/kernel/debug (as root), or use Linux 7.0 or later (sriov_admin/vfN/profile/vram_quota)';
  return 'nothing to do on an integrated GPU; on a discrete one, use Linux 7.0 or later (sriov_admin/vfN/profile/vram_quota)';
}

export function summarize(checks: Check[]): Record<CheckStatus, number> {
  const out: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) out[c.status] += 1;
  return out;
}

export function renderChecks(checks: Check[], backendLine: string): string {
  const lines = [backendLine];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.id.padEnd(26)} ${c.detail}`);
    if (c.fix && c.status !== 'pass') lines.push(`      ${''.padEnd(26)} fix: ${c.fix}`);
  }
  const s = summarize(checks);
  lines.push(`${s.pass} pass, ${s.warn} warn, ${s.fail} fail`);
  return `${lines.join('\n')}\n`;
}
