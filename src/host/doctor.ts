// `iovh doctor`: is this machine ready to validate the IOV interconnect, and
// if not, what to do about it. Each check is pass, warn (works, with less
// evidence or coverage) or fail (something iovh needs is missing), with the
// fix in one line. Reads only, through FileOps, so the mock answers too.
import { gunzipSync } from 'node:zlib';
import type { FileOps } from '../backend/types.js';
import { isErrno } from '../uapi/errors.js';
import { detectShape, type KernelShape } from '../shape/index.js';
import { SysReader, driverPath } from '../machine/sysfs.js';
import {
  debugfsReadiness,
  iommuReadiness,
  provisioningReadiness,
  tracefsReadiness,
  type Readiness,
} from '../machine/readiness.js';
import { discover, type HostTopology } from '../machine/topology.js';

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
    if (
      !isErrno(e, 'ENOENT') &&
      !isErrno(e, 'EACCES') &&
      !(e instanceof Error && /incorrect header|unexpected end/i.test(e.message))
    )
      throw e;
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
 * docs/kernel.md §4-§5, drivers/vfio/pci/Kconfig, drivers/pci/Kconfig,
 * drivers/iommu/iommufd/Kconfig, arch/Kconfig, kernel/trace/Kconfig,
 * lib/Kconfig.debug).
 */
const CONFIG_CHECKS: { name: string; need: 'fail' | 'warn'; why: string; fix: (cfg: KernelConfig) => string }[] = [
  {
    name: 'VFIO',
    need: 'fail',
    why: 'VFIO is how a VF is driven from userspace',
    fix: () => 'use a kernel built with CONFIG_VFIO=y or =m',
  },
  {
    name: 'VFIO_PCI',
    need: 'fail',
    why: 'vfio-pci is the exporter of VF BARs',
    fix: () => 'use a kernel built with CONFIG_VFIO_PCI=y or =m',
  },
  {
    name: 'VFIO_PCI_DMABUF',
    need: 'fail',
    why: 'without it VFIO_DEVICE_FEATURE DMA_BUF is ENOTTY (docs/kernel.md §3.3)',
    fix: dmabufFix,
  },
  {
    name: 'PCI_P2PDMA',
    need: 'fail',
    why: 'vfio-pci dma-buf export needs a P2P provider (docs/kernel.md §5)',
    fix: () =>
      'use a kernel built with CONFIG_PCI_P2PDMA=y (a bool; it depends on CONFIG_ZONE_DEVICE=y and a 64-bit kernel)',
  },
  {
    name: 'PCI_IOV',
    need: 'fail',
    why: 'no SR-IOV without it',
    fix: () => 'use a kernel built with CONFIG_PCI_IOV=y (a bool)',
  },
  {
    name: 'DRM_XE',
    need: 'warn',
    why: 'no xe: only the emulated-device (QEMU) checks can run',
    fix: () => 'use a kernel built with CONFIG_DRM_XE=y or =m',
  },
  {
    name: 'IOMMUFD',
    need: 'warn',
    why: 'no iommufd/cdev VFIO path; the group/container path still works (docs/kernel.md §4)',
    fix: () =>
      'for the cdev path, use a kernel built with CONFIG_IOMMUFD=y or =m and CONFIG_VFIO_DEVICE_CDEV=y; the group path needs neither',
  },
  {
    name: 'DEBUG_FS',
    need: 'warn',
    why: 'no dma_buf/bufinfo and no debugfs provisioning',
    fix: () => 'use a kernel built with CONFIG_DEBUG_FS=y (a bool)',
  },
  {
    name: 'KPROBES',
    need: 'warn',
    why: 'no trace evidence of which path the kernel took',
    fix: () => 'use a kernel built with CONFIG_KPROBES=y (a bool)',
  },
  {
    name: 'KPROBE_EVENTS',
    need: 'warn',
    why: 'no kprobe_events in tracefs: no trace evidence',
    fix: () => 'use a kernel built with CONFIG_KPROBE_EVENTS=y (a bool; it depends on CONFIG_KPROBES=y)',
  },
  {
    name: 'DEBUG_KMEMLEAK',
    need: 'warn',
    why: 'no leak evidence (RFC quirk 6)',
    fix: () => 'use a kernel built with CONFIG_DEBUG_KMEMLEAK=y (a bool; it depends on CONFIG_DEBUG_KERNEL=y)',
  },
];

/**
 * CONFIG_VFIO_PCI_DMABUF has no prompt: `def_bool y if VFIO_PCI_CORE &&
 * PCI_P2PDMA && DMA_SHARED_BUFFER`, in Linux 6.19 and later (docs/kernel.md §5).
 * It cannot be set: name the dependency that is missing, or the kernel
 * version when none is.
 */
function dmabufFix(cfg: KernelConfig): string {
  const on = (name: string) => cfg.get(`CONFIG_${name}`) === 'y' || cfg.get(`CONFIG_${name}`) === 'm';
  const missing = ['VFIO_PCI_CORE', 'PCI_P2PDMA', 'DMA_SHARED_BUFFER'].filter((n) => !on(n));
  const rule =
    'CONFIG_VFIO_PCI_DMABUF has no prompt: Linux 6.19 and later turn it on when VFIO_PCI_CORE, PCI_P2PDMA and DMA_SHARED_BUFFER are';
  if (missing.length === 0) return `use Linux 6.19 or later (${rule}, and all three are set here)`;
  const how = missing.map((n) =>
    n === 'PCI_P2PDMA'
      ? 'CONFIG_PCI_P2PDMA=y'
      : n === 'VFIO_PCI_CORE'
        ? 'CONFIG_VFIO_PCI=y or =m (it selects VFIO_PCI_CORE)'
        : 'a driver that selects DMA_SHARED_BUFFER (DRM does)',
  );
  return `build Linux 6.19 or later with ${how.join(' and ')} (${rule}; here ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set)`;
}

export interface DoctorEnv {
  /** effective uid of the process (root may open every device node) */
  uid: number | null;
  /** effective gid of the process; null or absent when unknown */
  gid?: number | null;
  /** supplementary groups of the process (getgroups(2)) */
  groups?: readonly number[];
}

function kernelRelease(r: SysReader): string | null {
  const rel = r.maybe('/proc/sys/kernel/osrelease');
  if (rel !== null && rel.trim() !== '') return rel.trim();
  const version = r.maybe('/proc/version');
  const m = version === null ? null : /^Linux version (\S+)/.exec(version);
  return m ? m[1]! : null;
}

/** Names of uids or gids from /etc/passwd or /etc/group (name:x:id:...), when readable. */
function idNames(r: SysReader, file: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of (r.maybe(file) ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2]!) && !out.has(Number(f[2]))) out.set(Number(f[2]), f[0]!);
  }
  return out;
}

interface NodeAccess {
  path: string;
  /** null: cannot tell (the backend gives no owner, or the process's ids are unknown) */
  open: boolean | null;
  /** `/dev/vfio/13 is 0660 root:vfio` and whose bits decide */
  detail: string;
  /** the group that would open it, when the group bits allow rw and the user is not in it */
  group: string | null;
}

/**
 * Whether this process may open `path` read-write, decided as the kernel's
 * generic_permission does: root (CAP_DAC_OVERRIDE) may; otherwise the owner
 * bits apply to the owner, the group bits to a member of the node's group
 * (effective or supplementary), the other bits to everyone else. A POSIX
 * ACL (logind's uaccess on render nodes) can grant more than the bits show:
 * stat cannot see it, so a "no" says so.
 */
function nodeAccess(fs: FileOps, r: SysReader, path: string, env: DoctorEnv): NodeAccess {
  const st = fs.stat(path);
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const rw = (bits: number) => (bits & 0o6) === 0o6;
  if (env.uid === 0) return { path, open: true, detail: `${path} is ${mode} (root opens any)`, group: null };
  if (st.uid === undefined || st.gid === undefined || env.uid === null || env.gid === undefined || env.gid === null) {
    // Without the owner, or without who we are, only "other" bits are conclusive.
    if (rw(st.mode)) return { path, open: true, detail: `${path} is ${mode}, open to everyone`, group: null };
    return {
      path,
      open: null,
      detail: `${path} is ${mode} and its owner or this process's ids are unknown`,
      group: null,
    };
  }
  const user = idNames(r, '/etc/passwd').get(st.uid) ?? String(st.uid);
  const groupName = idNames(r, '/etc/group').get(st.gid) ?? String(st.gid);
  const node = `${path} is ${mode} ${user}:${groupName}`;
  if (env.uid === st.uid) {
    return rw(st.mode >> 6)
      ? { path, open: true, detail: `${node}, owned by this user`, group: null }
      : { path, open: false, detail: `${node}: its owner (this user) has no rw`, group: null };
  }
  const member = env.gid === st.gid || (env.groups ?? []).includes(st.gid);
  if (member) {
    return rw(st.mode >> 3)
      ? { path, open: true, detail: `${node}, this user is in group ${groupName}`, group: null }
      : { path, open: false, detail: `${node}: group ${groupName} (this user's) has no rw`, group: null };
  }
  if (rw(st.mode)) return { path, open: true, detail: `${node}, open to everyone`, group: null };
  const group = rw(st.mode >> 3) ? groupName : null;
  return {
    path,
    open: false,
    detail: `${node}: uid ${env.uid} is not its owner${group ? `, not in group ${group}` : ''}, and others have no rw (an ACL may still grant it: getfacl ${path})`,
    group,
  };
}

/** The one-line fix for nodes this user cannot open: join the group that can, or run as root. */
function accessFix(denied: NodeAccess[], udevWhat: string): string {
  const groups = [...new Set(denied.map((d) => d.group).filter((g): g is string => g !== null))];
  if (groups.length > 0)
    return `add this user to group${groups.length > 1 ? 's' : ''} ${groups.join(', ')} (usermod -aG ${groups.join(',')} $USER, then log in again), or run as root`;
  return `run as root, or give your group rw on ${udevWhat} with a udev rule`;
}

export function runDoctor(fs: FileOps, env: DoctorEnv, topology: HostTopology = discover(fs)): Check[] {
  const r = new SysReader(fs);
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  const release = kernelRelease(r);
  add(
    release
      ? { id: 'kernel.release', status: 'pass', detail: `Linux ${release}` }
      : {
          id: 'kernel.release',
          status: 'warn',
          detail: 'cannot read /proc/sys/kernel/osrelease or /proc/version',
          fix: 'mount /proc',
        },
  );

  add(shapeCheck(kernelShape(r, release)));

  const cfg = readKernelConfig(fs, release);
  if (!cfg) {
    add({
      id: 'kernel.config',
      status: 'warn',
      detail: 'no /proc/config.gz or /boot/config-<release>: kernel options unchecked',
      fix: 'modprobe configs (a kernel with CONFIG_IKCONFIG=m and CONFIG_IKCONFIG_PROC=y), or install /boot/config-$(uname -r)',
    });
  } else {
    add({ id: 'kernel.config', status: 'pass', detail: `read ${cfg.source}` });
    for (const c of CONFIG_CHECKS) {
      const v = cfg.config.get(`CONFIG_${c.name}`);
      if (v === 'y' || v === 'm') add({ id: `config.${c.name}`, status: 'pass', detail: `CONFIG_${c.name}=${v}` });
      else
        add({
          id: `config.${c.name}`,
          status: c.need,
          detail: `CONFIG_${c.name} is not set: ${c.why}`,
          fix: c.fix(cfg.config),
        });
    }
  }

  add(asCheck('iommu', iommuReadiness(r), 'fail'));

  const builtin = (name: string) => cfg?.config.get(`CONFIG_${name}`) === 'y';
  const modules: { mod: string; cfg: string; need: CheckStatus; fix: string; present?: () => boolean }[] = [
    { mod: 'vfio', cfg: 'VFIO', need: 'fail', fix: 'modprobe vfio' },
    { mod: 'vfio_iommu_type1', cfg: 'VFIO_IOMMU_TYPE1', need: 'fail', fix: 'modprobe vfio_iommu_type1' },
    {
      mod: 'vfio_pci',
      cfg: 'VFIO_PCI',
      need: 'fail',
      fix: 'modprobe vfio-pci',
      present: () => r.exists(driverPath('vfio-pci')),
    },
    {
      mod: 'xe',
      cfg: 'DRM_XE',
      need: 'warn',
      fix: 'modprobe xe (needs an Intel GPU xe drives)',
      present: () => r.exists(driverPath('xe')),
    },
  ];
  for (const m of modules) {
    const loaded = r.exists(`/sys/module/${m.mod}`) || (m.present?.() ?? false);
    if (loaded) add({ id: `module.${m.mod}`, status: 'pass', detail: `${m.mod} loaded` });
    else if (builtin(m.cfg))
      add({ id: `module.${m.mod}`, status: 'pass', detail: `${m.mod} built in (CONFIG_${m.cfg}=y)` });
    else add({ id: `module.${m.mod}`, status: m.need, detail: `${m.mod} is not loaded`, fix: m.fix });
  }

  // Device nodes: open(2) needs rw for this user (VFIO opens O_RDWR, and so does iovh on render nodes).
  const nodesCheck = (
    id: string,
    paths: string[],
    what: string,
    udevWhat: string,
    passDetail: (acc: NodeAccess[]) => string,
  ): void => {
    const acc = paths.map((p) => nodeAccess(fs, r, p, env));
    const denied = acc.filter((a) => a.open === false);
    const unknown = acc.filter((a) => a.open === null);
    if (denied.length > 0) {
      add({
        id,
        status: 'warn',
        detail: `this user cannot open ${what}: ${denied.map((d) => d.detail).join('; ')}`,
        fix: accessFix(denied, udevWhat),
      });
    } else if (unknown.length > 0) {
      add({
        id,
        status: 'warn',
        detail: `${what} may not be open to this user: ${unknown.map((d) => d.detail).join('; ')}`,
        fix: `run as root, or give your group rw on ${udevWhat} with a udev rule`,
      });
    } else add({ id, status: 'pass', detail: passDetail(acc) });
  };
  if (!r.exists('/dev/vfio/vfio')) {
    add({
      id: 'dev.vfio',
      status: 'fail',
      detail: 'no /dev/vfio/vfio',
      fix: 'modprobe vfio (and boot with the IOMMU on)',
    });
  } else {
    nodesCheck('dev.vfio', ['/dev/vfio/vfio'], '/dev/vfio/vfio', '/dev/vfio/*', (acc) => acc[0]!.detail);
  }
  // One node per IOMMU group with a device bound to vfio-pci (/dev/vfio/<group>, docs/kernel.md §4).
  const groupNodes = r
    .list('/dev/vfio')
    .filter((n) => /^\d+$/.test(n))
    .sort((a, b) => Number(a) - Number(b));
  if (groupNodes.length === 0) {
    if (r.exists('/dev/vfio/vfio'))
      add({
        id: 'dev.vfio.groups',
        status: 'pass',
        detail: 'no VFIO group nodes yet (/dev/vfio/<group> appears when a device is bound to vfio-pci)',
      });
  } else {
    nodesCheck(
      'dev.vfio.groups',
      groupNodes.map((n) => `/dev/vfio/${n}`),
      'VFIO group nodes',
      '/dev/vfio/*',
      (acc) =>
        env.uid === 0
          ? `/dev/vfio/${groupNodes.join(' /dev/vfio/')} (root opens any)`
          : acc.map((a) => a.detail).join('; '),
    );
  }
  const dri = r.list('/dev/dri');
  if (dri.length === 0) {
    add({ id: 'dev.dri', status: 'warn', detail: 'no /dev/dri nodes: no DRM driver loaded', fix: 'modprobe xe' });
  } else {
    const render = dri.filter((n) => n.startsWith('renderD')).sort();
    nodesCheck(
      'dev.dri',
      render.map((n) => `/dev/dri/${n}`),
      '/dev/dri render nodes',
      '/dev/dri/renderD*',
      () => `/dev/dri: ${dri.sort().join(' ')}`,
    );
  }

  const debugfs = debugfsReadiness(r);
  add(asCheck('debugfs', debugfs, 'warn'));
  add(asCheck('tracefs', tracefsReadiness(fs), 'warn'));

  if (topology.pfs.length === 0) {
    add({
      id: 'sriov',
      status: 'warn',
      detail: 'no SR-IOV PF found (no device with sriov_totalvfs)',
      fix: 'check the device and its driver; run `iovh` with --backend mock to try without hardware',
    });
  } else {
    const list = topology.pfs
      .map((p) => `${p.bdf} (${p.driver ?? 'no driver'}, ${p.numvfs}/${p.totalvfs} VFs)`)
      .join(', ');
    add({ id: 'sriov', status: 'pass', detail: `SR-IOV PF${topology.pfs.length > 1 ? 's' : ''}: ${list}` });
  }
  for (const pf of topology.pfs) add(asCheck(`provisioning.${pf.bdf}`, provisioningReadiness(pf, debugfs.ok), 'warn'));
  return checks;
}

/** A readiness answer (src/machine/readiness.ts) as a check: pass when ready, `need` when not. */
function asCheck(id: string, r: Readiness, need: CheckStatus): Check {
  return r.ok
    ? { id, status: 'pass', detail: r.detail }
    : { id, status: need, detail: r.detail, fix: r.fix ?? undefined };
}

/**
 * The kernel's shape (src/shape): from /proc/kallsyms and the release only.
 * Doctor does not run the VFIO_DEVICE_FEATURE PROBE: opening a VF through
 * VFIO resets it (vfio_pci_core_enable), and doctor changes nothing but
 * tracefs leftovers. `iovh run` runs the PROBE in its capability probe.
 */
export function kernelShape(r: SysReader, release: string | null): KernelShape {
  const kallsyms = r.maybe('/proc/kallsyms');
  return detectShape({
    kallsyms,
    kallsymsError: kallsyms === null ? 'cannot read it' : null,
    probe: { result: 'not run', why: 'doctor does not open VFs: an open through VFIO resets the VF' },
    release,
  });
}

/** The shape as a doctor check: pass with an IOV import path, warn without one (the IOV scenarios will skip) or when unknown. */
export function shapeCheck(shape: KernelShape): Check {
  const detail = `kernel shape: ${shape.summary}`;
  if (shape.name === 'unknown')
    return {
      id: 'kernel.shape',
      status: 'warn',
      detail,
      fix:
        shape.evidence.kallsyms === 'read'
          ? `this kernel matches no row of iovh's symbol table (${shape.evidence.why}); \`iovh profiles\` lists the kernels iovh knows`
          : 'run as root to read /proc/kallsyms',
    };
  if (shape.iov) return { id: 'kernel.shape', status: 'pass', detail };
  return {
    id: 'kernel.shape',
    status: 'warn',
    detail,
    fix: 'the IOV scenarios skip on this kernel; to test the IOV path boot one with it (`iovh profiles` lists them)',
  };
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
