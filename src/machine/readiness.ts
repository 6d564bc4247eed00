// Is the machine ready for a part of what iovh does: the checks `iovh doctor`
// reports and the capability probe (`caps/kernel`) records, written once.
// Each answers what it found and, when not ready, the one line that fixes it;
// doctor turns an answer into pass/warn/fail, the probe into a capability a
// scenario skips on. The kernel's shape (interconnect symbols, revision) is
// src/shape/'s. Reads only.

import type { FileOps } from '../backend/types.js';
import { DEBUGFS, IOMMU_GROUPS, type SysReader } from './sysfs.js';
import type { PfInfo } from './topology.js';

export interface Readiness {
  ok: boolean;
  /** What was found, or why it is missing. */
  detail: string;
  /** How to get it when missing. */
  fix: string | null;
}

const ready = (detail: string): Readiness => ({ ok: true, detail, fix: null });
const missing = (detail: string, fix: string): Readiness => ({ ok: false, detail, fix });

/** Where tracefs is mounted: its own mount point, or under debugfs (kernel/trace/trace.c, Documentation/trace/ftrace.rst). */
export const TRACEFS_ROOTS = ['/sys/kernel/tracing', `${DEBUGFS}/tracing`];

/**
 * tracefs with kprobe_events and instances/: what the trace evidence needs
 * (kprobe events defined and enabled in an instance of iovh's own).
 */
export function tracefsReadiness(fs: FileOps): Readiness & { root: string | null } {
  const root = TRACEFS_ROOTS.find((r) => fs.exists(`${r}/kprobe_events`)) ?? null;
  if (!root) {
    const mounted = TRACEFS_ROOTS.find((r) => fs.exists(`${r}/trace`));
    return mounted
      ? { ...missing(`${mounted} has no kprobe_events`, 'boot a kernel with CONFIG_KPROBE_EVENTS=y'), root: null }
      : {
          ...missing(
            'tracefs is not mounted',
            'mount -t tracefs nodev /sys/kernel/tracing (kernel needs CONFIG_FTRACE, CONFIG_KPROBE_EVENTS)',
          ),
          root: null,
        };
  }
  if (!fs.exists(`${root}/instances`))
    return {
      ...missing(`${root} has no instances/ directory`, 'use a kernel with ftrace instances (any kernel since 3.10)'),
      root: null,
    };
  return { ...ready(`kprobe events at ${root}`), root };
}

/** debugfs mounted and readable: dma_buf/bufinfo, kmemleak and the xe debugfs provisioning files live there. */
export function debugfsReadiness(r: SysReader): Readiness {
  return r.list(DEBUGFS).length > 0
    ? ready(`${DEBUGFS} mounted`)
    : missing(`${DEBUGFS} not mounted or not readable`, 'mount -t debugfs none /sys/kernel/debug (as root)');
}

/**
 * IOMMU groups: vfio-pci refuses a device without one, and a VF's dma-buf is
 * exported through VFIO (docs/kernel.md §4). Unsafe no-IOMMU mode has none and
 * still works (its own VFIO type).
 */
export function iommuReadiness(r: SysReader): Readiness & { groups: number; noiommu: boolean } {
  const groups = r.list(IOMMU_GROUPS).length;
  const noiommu = r.maybe('/sys/module/vfio/parameters/enable_unsafe_noiommu_mode')?.trim() === 'Y';
  const flags = (r.maybe('/proc/cmdline') ?? '').split(/\s+/).filter((w) => /^(intel_iommu|amd_iommu|iommu)=/.test(w));
  const cmdline = flags.length ? ` (cmdline: ${flags.join(' ')})` : ' (no iommu options on the cmdline)';
  if (groups > 0) return { ...ready(`${groups} IOMMU group${groups === 1 ? '' : 's'}${cmdline}`), groups, noiommu };
  if (noiommu) return { ...ready('no IOMMU groups, vfio in unsafe no-IOMMU mode'), groups, noiommu };
  return {
    ...missing(
      `no IOMMU groups: the IOMMU is off or absent${cmdline}`,
      'boot with intel_iommu=on iommu=pt (AMD: amd_iommu=on), with VT-d/AMD-Vi enabled in firmware',
    ),
    groups,
    noiommu,
  };
}

/**
 * A PF's VRAM provisioning interface (src/machine/provisioning.ts): sysfs
 * sriov_admin/vfN/profile/vram_quota needs Linux 7.0, the debugfs files need
 * debugfs mounted (docs/kernel.md §9); an xe PF with debugfs mounted and neither
 * is an integrated GPU, which has no VRAM to provision.
 */
export function provisioningReadiness(pf: PfInfo | null, debugfsMounted: boolean): Readiness {
  if (!pf) return missing('no SR-IOV PF', 'run on a machine with an SR-IOV GPU, or with --backend mock');
  if (pf.provisioning) return ready(`${pf.bdf}: ${pf.provisioningNote}`);
  const fix =
    pf.driver !== 'xe'
      ? 'nothing to do unless this should be an xe PF (bind it to xe)'
      : !debugfsMounted
        ? 'mount -t debugfs none /sys/kernel/debug (as root), or use Linux 7.0 or later (sriov_admin/vfN/profile/vram_quota)'
        : 'nothing to do on an integrated GPU; on a discrete one, use Linux 7.0 or later (sriov_admin/vfN/profile/vram_quota)';
  return missing(`${pf.bdf}: VRAM provisioning ${pf.provisioningNote}`, fix);
}
