// The capability probe (`caps/kernel`, always run first): what this kernel and
// machine offer, each with one line saying how to get it when it is missing,
// so every later skip cites a capability and its fix (docs/internals.md
// "Principles": a skip says how to get what is missing). Reads sysfs/procfs/debugfs/tracefs; opens the VF through VFIO
// only for the DMA_BUF feature PROBE (docs/kernel.md §3.1), and closes it again.

import type { Backend } from '../backend/types.js';
import { openVfioDevice, VfioContainer, vfioCdevOf } from '../uapi/vfio.js';
import { findRenderNodes, DrmDevice, type DrmNode } from '../uapi/drm.js';
import { O, VFIO } from '../uapi/constants.js';
import { isErrno } from '../uapi/errors.js';
import type { Json, JsonObject } from '../report/model.js';
import { REVISIONS, scanSymbols, type SymbolScan } from './symbols.js';
import { detectShape, type FeatureProbe, type KernelShape } from '../shape/index.js';
import { TraceSession } from './tracefs.js';
import { chooseTarget, TargetError, type Target } from '../machine/target.js';
import { discover, lmemBar, type Machine, type PfInfo } from '../machine/topology.js';
import {
  debugfsReadiness,
  iommuReadiness,
  provisioningReadiness,
  tracefsReadiness,
  type Readiness,
} from '../machine/readiness.js';
import { SysReader } from '../machine/sysfs.js';
import { reviveProvisioning } from '../machine/provisioning.js';
import { BUFINFO, KMEMLEAK, KmsgMonitor, codeOf } from './monitors.js';
import { Journal, type JournalTarget } from '../host/journal.js';

export interface Capability {
  ok: boolean;
  /** What was found, or why it is missing. */
  detail: string;
  /** How to get it when missing. */
  enable: string | null;
}

/** Every capability, in the order caps/kernel reports them. */
export const CAPABILITY_NAMES = [
  'target',
  'dmaBufExport',
  'lmemBar',
  'interconnect',
  'sgProbes',
  'provisioning',
  'iommu',
  'iommufd',
  'tracefs',
  'kprobes',
  'kmemleak',
  'kmsg',
  'bufinfo',
  'xe',
  'vgem',
  'udmabuf',
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/**
 * What the user allows this run to change beyond the scenario's own objects,
 * and where changes to the machine are journaled (src/host/journal.ts) so that
 * `iovh restore` undoes them after a kill. Scenarios that change the machine
 * (lifecycle/vf-disable-while-imported: every VF of the PF goes away) cite
 * `destructive` when they skip for want of consent.
 */
export interface RunPolicy {
  /** --allow-destructive: go ahead even when other VFs of the PF are in use. */
  allowDestructive: boolean;
  /** The bring-up journal's target; null keeps the journal in memory (a mock whose kernel ends with the run). */
  journal: JournalTarget | null;
  /**
   * With `journal` null: the one in-memory journal of the run, made by the
   * capability probe, so that the runner can undo what a scenario whose
   * process the kernel killed had changed (its own cleanups died with it).
   */
  memoryJournal?: Journal;
}

/**
 * Capabilities as a scenario process receives them (a structured clone: data
 * only), with the machine model's objects made whole again (a PF's
 * provisioning interface, src/machine/provisioning.ts).
 */
export function reviveCapabilities(caps: Capabilities): Capabilities {
  const pfs = [...caps.pfs, ...(caps.target ? [caps.target.pf] : [])];
  for (const pf of pfs) pf.provisioning = reviveProvisioning(pf.provisioning);
  return caps;
}

export const DEFAULT_POLICY: RunPolicy = { allowDestructive: false, journal: null };

export interface Capabilities {
  release: string | null;
  version: string | null;
  cmdline: string | null;
  caps: Record<CapabilityName, Capability>;
  target: Target | null;
  pfs: PfInfo[];
  symbols: SymbolScan;
  /** Which kernel this is (src/shape): the row of the symbol table it matches, or unknown. */
  shape: KernelShape;
  tracefsRoot: string | null;
  xeNode: string | null;
  vgemNode: string | null;
  /** /dev/dri nodes and the PCI device behind each. */
  drmNodes: DrmNode[];
  /** The IOMMU mode in words: `vfio group, TYPE1v2`, `iommufd (cdev)`, `noiommu`, `none`. */
  iommuMode: string;
  /** What the run may change and where it journals (absent: DEFAULT_POLICY). */
  policy?: RunPolicy;
  /** What the probe itself changed and could not put back (caps/kernel reports it). */
  left?: string[];
}

function have(detail: string): Capability {
  return { ok: true, detail, enable: null };
}

function lack(detail: string, enable: string): Capability {
  return { ok: false, detail, enable };
}

function readText(backend: Backend, path: string): string | null {
  try {
    return backend.fs.readText(path).trim();
  } catch {
    return null;
  }
}

/** A readiness answer (src/machine/readiness.ts, shared with doctor) as a capability. */
function asCap(r: Readiness): Capability {
  return r.ok ? have(r.detail) : lack(r.detail, r.fix ?? 'see iovh doctor');
}

function probeTracefs(backend: Backend): { cap: Capability; root: string | null } {
  const t = tracefsReadiness(backend.fs);
  return { cap: asCap(t), root: t.root };
}

/**
 * Can this kernel take a kprobe from us? tracefs may be there and still refuse
 * every definition: kernel lockdown in confidentiality mode answers EPERM
 * (kernel/trace/trace_kprobe.c checks security_locked_down(LOCKDOWN_KPROBES)),
 * a non-root user gets EACCES from kprobe_events. So one probe is defined on a
 * function of the symbol table that this kernel lists, and removed again.
 * Enabling is each scenario's session's business (a failure there is a skip
 * naming the probe, steps.ts requirePathTrace). A definition that cannot be
 * removed is pushed onto `left`: caps/kernel reports it.
 */
function probeKprobes(
  backend: Backend,
  root: string | null,
  tracefs: Capability,
  symbols: SymbolScan,
  left: string[],
): Capability {
  if (!root) return lack(`no kprobe events: ${tracefs.detail}`, tracefs.enable ?? 'mount tracefs');
  const candidates = [...symbols.sgProbes, ...(symbols.revision?.probes ?? []), ...REVISIONS.flatMap((r) => r.probes)];
  const point = candidates.find((p) => symbols.symbols.has(p.symbol));
  if (!point) {
    return lack(
      `no function of the probe table is in /proc/kallsyms (${
        symbols.why ??
        `${candidates
          .map((p) => p.symbol)
          .filter((n, i, a) => a.indexOf(n) === i)
          .join(', ')} missing`
      })`,
      'boot Linux 6.19+ with vfio dma-buf export (CONFIG_VFIO_PCI_DMABUF), and read /proc/kallsyms as root',
    );
  }
  const got = TraceSession.tryDefinition(backend.fs, root, point);
  if (!got.ok) return lack(`a kprobe on ${point.symbol} could not be defined: ${got.why}`, kprobeEnable(got.code));
  if ('left' in got) {
    left.push(`${root}/kprobe_events: ${got.left}`);
    return lack(
      `a kprobe on ${point.symbol} was defined but could not be removed`,
      `remove it by hand: echo '-:GROUP/probe' >> ${root}/kprobe_events`,
    );
  }
  return have(
    `a ${point.kind === 'entry' ? 'p' : 'r'}-probe on ${point.symbol} was defined in ${root}/kprobe_events and removed`,
  );
}

function kprobeEnable(code: string): string {
  if (code === 'EPERM') {
    return 'the kernel refuses kprobes (EPERM: kernel lockdown in confidentiality mode, see /sys/kernel/security/lockdown); boot with lockdown=integrity or none';
  }
  if (code === 'EACCES') return 'run as root (tracefs kprobe_events is writable by root only)';
  return 'check dmesg for the kprobe error, and that the kernel has CONFIG_KPROBES=y and CONFIG_KPROBE_EVENTS=y';
}

/**
 * iommufd as a dma-buf importer (docs/iommufd.md): /dev/iommu opens and
 * allocates an IOAS (then closed: the context's release frees it), and
 * whether the target VF has a VFIO cdev for the bound path.
 */
function probeIommufd(backend: Backend, target: Target | null): Capability {
  if (!backend.fs.exists('/dev/iommu'))
    return lack(
      'no /dev/iommu: the kernel is built without CONFIG_IOMMUFD (Debian 7.2 stock kernels are)',
      'boot a kernel with CONFIG_IOMMUFD=y and CONFIG_VFIO_DEVICE_CDEV=y (`iovh qemu` builds one)',
    );
  let fd: number | null = null;
  try {
    fd = backend.dev.open('/dev/iommu', O.RDWR | O.CLOEXEC);
    const ioas = backend.dev.iommuIoasAlloc(fd);
    const cdev = target ? vfioCdevOf(backend, target.vf.bdf) : null;
    return have(
      `/dev/iommu allocates IOAS ${ioas}${target ? `; ${target.vf.bdf} ${cdev ? `has the VFIO cdev ${cdev}` : 'has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV)'}` : ''}`,
    );
  } catch (e) {
    return lack(
      `/dev/iommu is there but unusable (${codeOf(e)})`,
      codeOf(e) === 'EACCES' ? 'run as root or join the group of /dev/iommu' : 'see dmesg for iommufd',
    );
  } finally {
    if (fd !== null) backend.dev.close(fd);
  }
}

function probeIommu(backend: Backend, target: Target | null): { cap: Capability; mode: string } {
  const groupsReady = iommuReadiness(new SysReader(backend.fs));
  const groups = groupsReady.groups;
  const noiommu = groupsReady.noiommu ? 'Y' : null;
  const iommufd = backend.fs.exists('/dev/iommu');
  const hasVfio = backend.fs.exists('/dev/vfio/vfio');
  if (!hasVfio && !iommufd) {
    return {
      cap: lack(
        'no /dev/vfio/vfio and no /dev/iommu',
        'modprobe vfio-pci (and boot with intel_iommu=on or an IOMMU enabled)',
      ),
      mode: 'none',
    };
  }
  let container = '';
  if (hasVfio) {
    try {
      const c = VfioContainer.open(backend);
      try {
        const types = [
          c.checkExtension(VFIO.TYPE1v2_IOMMU) > 0 ? 'TYPE1v2' : null,
          c.checkExtension(VFIO.TYPE1_IOMMU) > 0 ? 'TYPE1' : null,
          c.checkExtension(VFIO.NOIOMMU_IOMMU) > 0 ? 'NOIOMMU' : null,
        ].filter((t): t is string => t !== null);
        container = types.length > 0 ? types.join('/') : 'no IOMMU type';
      } finally {
        c.close();
      }
    } catch (e) {
      container = `container unusable (${codeOf(e)})`;
    }
  }
  // The path openVfioDevice takes: the group when the VF has one, the cdev only without it.
  const vfDir = target ? `/sys/bus/pci/devices/${target.vf.bdf}` : null;
  const cdev =
    vfDir !== null && iommufd && backend.fs.exists(`${vfDir}/vfio-dev`) && !backend.fs.exists(`${vfDir}/iommu_group`);
  const mode = cdev
    ? 'iommufd (cdev)'
    : noiommu === 'Y' && groups === 0
      ? 'noiommu'
      : hasVfio
        ? `vfio group, ${container}`
        : 'iommufd (cdev)';
  if (!groupsReady.ok) return { cap: lack(`${groupsReady.detail} (${mode})`, groupsReady.fix!), mode };
  return { cap: have(`${mode}, ${groups} IOMMU groups`), mode };
}

function probeDmaBuf(backend: Backend, target: Target | null): { cap: Capability; probe: FeatureProbe } {
  if (!target)
    return {
      cap: lack('no VF on vfio-pci to probe', 'bind a VF to vfio-pci (iovh bind <VF> vfio-pci)'),
      probe: { result: 'not run', why: 'no VF on vfio-pci' },
    };
  let device;
  try {
    device = openVfioDevice(backend, target.vf.bdf);
  } catch (e) {
    const why = `cannot open VF ${target.vf.bdf} through VFIO: ${e instanceof Error ? e.message : String(e)}`;
    return {
      cap: lack(why, 'make sure no other process (a VMM) holds the VF, and run as root'),
      probe: { result: 'not run', why },
    };
  }
  try {
    const probe = device.probeFeature(VFIO.FEATURE_DMA_BUF);
    if (probe.supported)
      return {
        cap: have(`VFIO_DEVICE_FEATURE PROBE|GET|DMA_BUF on ${target.vf.bdf} returned 0`),
        probe: { result: 'supported' },
      };
    const why = isErrno(probe.error, 'EOPNOTSUPP')
      ? 'the VF driver does not export dma-bufs (EOPNOTSUPP: xe-vfio-pci and other variant drivers do not, docs/kernel.md §3.3)'
      : 'the kernel does not know VFIO_DEVICE_FEATURE_DMA_BUF (ENOTTY: built without CONFIG_VFIO_PCI_DMABUF, or older than 6.19)';
    return {
      cap: lack(
        why,
        isErrno(probe.error, 'EOPNOTSUPP')
          ? `bind ${target.vf.bdf} to plain vfio-pci`
          : 'boot Linux 6.19+ with CONFIG_VFIO_PCI_DMABUF=y (needs PCI_P2PDMA)',
      ),
      probe: { result: 'errno', code: codeOf(probe.error) },
    };
  } catch (e) {
    const why = `PROBE failed: ${e instanceof Error ? e.message : String(e)}`;
    return { cap: lack(why, 'check dmesg for vfio-pci errors'), probe: { result: 'errno', code: codeOf(e) } };
  } finally {
    device.close();
  }
}

function probeXe(backend: Backend, target: Target | null, nodes: DrmNode[]): { cap: Capability; node: string | null } {
  if (!target) return { cap: lack('no PF under test', 'bring up an xe PF with VFs'), node: null };
  if (target.pf.driver !== 'xe') {
    return {
      cap: lack(
        `PF ${target.pf.bdf} is driven by ${target.pf.driver ?? 'no driver'}, not xe`,
        'run on an Intel GPU PF bound to xe (BMG, ATS-M, ...)',
      ),
      node: null,
    };
  }
  const node = nodes.find((n) => n.kind === 'render' && n.bdf === target.pf.bdf);
  if (!node)
    return {
      cap: lack(`no DRM render node for ${target.pf.bdf}`, 'check that xe probed the PF (dmesg) and /dev/dri exists'),
      node: null,
    };
  try {
    const drm = DrmDevice.open(backend, node.path);
    try {
      const name = drm.version().name;
      if (name !== 'xe') return { cap: lack(`${node.path} is driven by ${name}`, 'run on an xe PF'), node: null };
    } finally {
      drm.close();
    }
  } catch (e) {
    return { cap: lack(`cannot open ${node.path} (${codeOf(e)})`, 'run as root or join the render group'), node: null };
  }
  return { cap: have(`xe PF ${target.pf.bdf} at ${node.path}`), node: node.path };
}

function probeVgem(backend: Backend): { cap: Capability; node: string | null } {
  try {
    const nodes = findRenderNodes(backend, 'vgem');
    if (nodes.length > 0) return { cap: have(`vgem at ${nodes[0]!.path}`), node: nodes[0]!.path };
  } catch (e) {
    return { cap: lack(`cannot list DRM render nodes (${codeOf(e)})`, 'run as root'), node: null };
  }
  return { cap: lack('no vgem render node', 'modprobe vgem (CONFIG_DRM_VGEM)'), node: null };
}

export function probeCapabilities(
  backend: Backend,
  want: { pf?: string | null; vf?: string | null; policy?: RunPolicy },
): Capabilities {
  const fs = backend.fs;
  const version = readText(backend, '/proc/version');
  // uname -r: /proc/sys/kernel/osrelease, else the release word of /proc/version (fs/proc/version.c: "Linux version %s ...").
  const release =
    readText(backend, '/proc/sys/kernel/osrelease') ??
    (version ? (/^Linux version (\S+)/.exec(version)?.[1] ?? null) : null);
  const cmdline = readText(backend, '/proc/cmdline');
  const machine: Machine = discover(fs);
  const pfs = machine.pfs;
  let target: Target | null = null;
  let targetCap: Capability;
  try {
    target = chooseTarget(machine, want);
    targetCap = have(
      `PF ${target.pf.bdf} (${target.pf.driver ?? 'no driver'}), VF ${target.vf.bdf} on vfio-pci: ${target.why}`,
    );
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
    targetCap = lack(e.message, e.enable);
  }
  // One read of /proc/kallsyms for the shape and the probe table (a real one is ~10 MB: src/uapi/kallsyms.ts).
  let kallsyms: string | null = null;
  let kallsymsWhy: string | null = null;
  try {
    kallsyms = fs.readText('/proc/kallsyms');
  } catch (e) {
    kallsymsWhy = `/proc/kallsyms unreadable (${codeOf(e)})`;
  }
  const dmaBuf = probeDmaBuf(backend, target);
  const shape = detectShape({ kallsyms, kallsymsError: kallsymsWhy, probe: dmaBuf.probe, release });
  const symbols = scanSymbols(kallsyms, kallsymsWhy, shape);
  const interconnect: Capability = !symbols.readable
    ? lack(
        symbols.why ?? '/proc/kallsyms unreadable',
        'run as root (kernel.kptr_restrict hides nothing but names need /proc)',
      )
    : shape.iov
      ? have(`kernel shape ${shape.summary}: ${shape.iov.markers.join(', ')} present`)
      : lack(
          `kernel shape ${shape.summary}`,
          shape.name === 'unknown'
            ? 'this kernel matches no row of the symbol table (src/shape/table.ts); iovh profiles lists the kernels iovh knows'
            : 'boot a kernel with an IOV import path (the interconnect RFC v1 or v2, or mapping types with the IOV type); iovh profiles lists them',
        );
  const sgProbes: Capability =
    symbols.sg.missing.length === 0
      ? have(`${symbols.sg.present.join(', ')} present`)
      : lack(
          `${symbols.sg.missing.join(', ')} missing from /proc/kallsyms`,
          'boot Linux 6.19+ with vfio dma-buf export',
        );
  // The provisioning interface is the PF's, whether or not a VF is ready for the scenarios yet.
  const provPf = target?.pf ?? pfs.find((p) => p.driver === 'xe') ?? pfs[0] ?? null;
  const provisioning = asCap(provisioningReadiness(provPf, debugfsReadiness(new SysReader(fs)).ok));
  const lmem = target ? lmemBar(target.vf) : null;
  const lmemCap: Capability = lmem
    ? have(`VF ${target!.vf.bdf} BAR 2: 0x${lmem.start.toString(16)}, ${lmem.size} bytes`)
    : lack(
        target ? `VF ${target.vf.bdf} has no memory BAR 2 (not an xe VF with LMEM)` : 'no VF',
        'run on an xe PF whose VFs have an LMEM BAR (discrete GPU)',
      );
  const iommu = probeIommu(backend, target);
  const iommufd = probeIommufd(backend, target);
  const tracefs = probeTracefs(backend);
  const left: string[] = [];
  const kprobes = probeKprobes(backend, tracefs.root, tracefs.cap, symbols, left);
  const kmsg = KmsgMonitor.open(fs);
  const kmemleak: Capability = fs.exists(KMEMLEAK)
    ? have(KMEMLEAK)
    : lack(`no ${KMEMLEAK}`, 'boot a kernel with CONFIG_DEBUG_KMEMLEAK=y and kmemleak=on, with debugfs mounted');
  const bufinfo: Capability = fs.exists(BUFINFO)
    ? have(BUFINFO)
    : lack(`no ${BUFINFO}`, 'mount debugfs (mount -t debugfs none /sys/kernel/debug), CONFIG_DEBUG_FS=y');
  const drmNodes = machine.drmNodes;
  const xe = probeXe(backend, target, drmNodes);
  const vgem = probeVgem(backend);
  const udmabuf: Capability = fs.exists('/dev/udmabuf')
    ? have('/dev/udmabuf')
    : lack('no /dev/udmabuf', 'modprobe udmabuf (CONFIG_UDMABUF)');
  return {
    release,
    version,
    cmdline,
    caps: {
      target: targetCap,
      dmaBufExport: dmaBuf.cap,
      lmemBar: lmemCap,
      interconnect,
      sgProbes,
      provisioning,
      iommu: iommu.cap,
      iommufd,
      tracefs: tracefs.cap,
      kprobes,
      kmemleak,
      kmsg: kmsg.available ? have('/dev/kmsg') : lack(kmsg.why ?? '/dev/kmsg unreadable', 'run as root'),
      bufinfo,
      xe: xe.cap,
      vgem: vgem.cap,
      udmabuf,
    },
    target,
    pfs,
    symbols,
    shape,
    tracefsRoot: tracefs.root,
    xeNode: xe.node,
    vgemNode: vgem.node,
    drmNodes,
    iommuMode: iommu.mode,
    policy: withMemoryJournal(want.policy ?? DEFAULT_POLICY),
    left,
  };
}

function withMemoryJournal(policy: RunPolicy): RunPolicy {
  if (policy.journal !== null || policy.memoryJournal) return policy;
  return {
    ...policy,
    memoryJournal: Journal.memory({ backend: 'mock', where: '(kept in memory: the kernel ends with the run)' }),
  };
}

/** The capabilities as JSON for the report. */
export function capabilitiesJson(c: Capabilities): JsonObject {
  const caps: { [k: string]: Json } = {};
  for (const [name, cap] of Object.entries(c.caps)) caps[name] = { ok: cap.ok, detail: cap.detail, enable: cap.enable };
  return {
    release: c.release,
    version: c.version,
    cmdline: c.cmdline,
    iommuMode: c.iommuMode,
    interconnectRevision: c.symbols.revision?.name ?? null,
    shape: shapeJson(c.shape),
    symbolRows: c.symbols.rows.map((r) => ({ revision: r.name, present: r.present, missing: r.missing })),
    tracefs: c.tracefsRoot,
    xeNode: c.xeNode,
    vgemNode: c.vgemNode,
    allowDestructive: (c.policy ?? DEFAULT_POLICY).allowDestructive,
    caps,
  };
}

/** The topology as JSON for the report. */
export function topologyJson(c: Capabilities): JsonObject {
  return {
    target: c.target
      ? { pf: c.target.pf.bdf, vf: c.target.vf.bdf, vfioVfs: c.target.vfioVfs.map((v) => v.bdf), why: c.target.why }
      : null,
    pfs: c.pfs.map((pf) => ({
      bdf: pf.bdf,
      driver: pf.driver,
      device:
        pf.vendor !== null && pf.device !== null
          ? `${pf.vendor.toString(16).padStart(4, '0')}:${pf.device.toString(16).padStart(4, '0')}`
          : null,
      totalVfs: pf.totalvfs,
      numVfs: pf.numvfs,
      offset: pf.offset,
      stride: pf.stride,
      provisioning: pf.provisioning?.kind ?? null,
      vfs: pf.vfs.map((vf) => {
        const bar2 = lmemBar(vf);
        return {
          bdf: vf.bdf,
          index: vf.id - 1,
          driver: vf.driver,
          iommuGroup: vf.iommuGroup,
          bar2: bar2 ? { start: `0x${bar2.start.toString(16)}`, size: `0x${bar2.size.toString(16)}` } : null,
          quota: vf.vramQuota === null ? null : `0x${vf.vramQuota.toString(16)}`,
        };
      }),
    })),
  };
}

/** The kernel shape as JSON for the reports (docs/report-schema.md). */
export function shapeJson(s: KernelShape): JsonObject {
  return {
    name: s.name,
    summary: s.summary,
    iovPath: s.iov?.name ?? null,
    release: s.evidence.release,
    version: s.evidence.version,
    kallsyms: s.evidence.kallsyms,
    seen: s.evidence.seen,
    probe: s.evidence.probe,
    why: s.evidence.why,
  };
}
