// Where an xe PF keeps its VFs' VRAM quotas. Three generations coexist
// (docs/kernel.md §9 and §11.11), probed in order
// of preference:
//   sriov_admin  /sys/bus/pci/devices/<PF>/sriov_admin/vfN/profile/vram_quota (sysfs, 7.0+)
//   debugfs      /sys/kernel/debug/dri/<PF>/sriov/vfN/tileT/vram_quota         (tile layout)
//   legacy       /sys/kernel/debug/dri/<X>/gt0/vfN/lmem_quota                    (older kernels;
//                X is the PF's BDF or its DRM minor)
// Quotas are u64 bytes; xe rounds a request up to 2 MiB
// (drivers/gpu/drm/xe/xe_gt_sriov_pf_config.c pf_get_lmem_alignment), so
// bring-up only asks for multiples of it and verifies the read-back exactly.
import { DEBUGFS, type SysReader, devicePath, parseU64 } from './sysfs.js';

export type ProvisioningKind = 'sriov_admin' | 'debugfs' | 'legacy';

/** xe provisions VRAM in 2 MiB units (pf_get_lmem_alignment). */
export const VRAM_ALIGNMENT = 2n * 1024n * 1024n;

export interface Provisioning {
  readonly kind: ProvisioningKind;
  /** Tiles whose quota files exist (debugfs); 1 for the others. */
  readonly tiles: number;
  /** The file(s) that hold VF `vfId`'s quota (1-based), one per tile for debugfs. */
  quotaPaths(vfId: number): string[];
  /**
   * The per-tile files that show how VF `vfId`'s quota is split over tiles
   * (debugfs sriov/vfN/tileT/vram_quota, also beside sriov_admin when debugfs
   * is mounted); empty when nothing shows the split.
   */
  tilePaths(vfId: number): string[];
}

/**
 * The files as path templates ('{vf}' stands for the VF number): plain data,
 * so that a Provisioning survives the structured clone that carries the
 * capabilities to a scenario process (methods on the prototype do not
 * travel; reviveProvisioning() puts them back there).
 */
class ProvisioningFiles implements Provisioning {
  constructor(
    readonly kind: ProvisioningKind,
    readonly tiles: number,
    readonly quotaTemplates: readonly string[],
    readonly tileTemplates: readonly string[],
  ) {}

  quotaPaths(vfId: number): string[] {
    return this.quotaTemplates.map((t) => t.replaceAll('{vf}', String(vfId)));
  }

  tilePaths(vfId: number): string[] {
    return this.tileTemplates.map((t) => t.replaceAll('{vf}', String(vfId)));
  }
}

/** A Provisioning after a structured clone (its data without its methods), made whole again. */
export function reviveProvisioning(p: Provisioning | null | undefined): Provisioning | null {
  if (!p) return null;
  if (p instanceof ProvisioningFiles) return p;
  const d = p as unknown as ProvisioningFiles;
  return new ProvisioningFiles(d.kind, d.tiles, d.quotaTemplates, d.tileTemplates);
}

export type ProvisioningProbe = { iface: Provisioning; reason: string } | { iface: null; reason: string };

/**
 * PF drivers with xe's provisioning files: xe, and iovh's mock GPU PF driver
 * (kernel/iovh-mock-gpu/main.c, QEMU device iovh-mock-gpu: the same
 * sriov_admin/vfN/profile/vram_quota in bytes, kept across VF enable as xe's).
 */
export const XE_SHAPED_DRIVERS: readonly string[] = ['xe', 'iovh_mock_gpu'];

export function probeProvisioning(r: SysReader, pf: string, driver: string | null): ProvisioningProbe {
  if (driver === null || !XE_SHAPED_DRIVERS.includes(driver)) {
    const what = driver === null ? 'no driver' : `driver ${driver}`;
    return { iface: null, reason: `not available: ${pf} has ${what}; VRAM provisioning is an xe PF feature` };
  }
  const admin = (vf: number | string) => devicePath(pf, `sriov_admin/vf${vf}/profile/vram_quota`);
  const sriov = `${DEBUGFS}/dri/${pf}/sriov`;
  const tiles = r
    .list(`${sriov}/vf1`)
    .filter((n) => /^tile\d+$/.test(n))
    .map((n) => Number(n.slice(4)))
    .sort((a, b) => a - b)
    .filter((t) => r.exists(`${sriov}/vf1/tile${t}/vram_quota`));
  const tileTemplates = tiles.map((t) => `${sriov}/vf{vf}/tile${t}/vram_quota`);
  if (r.exists(admin(1))) {
    return {
      iface: new ProvisioningFiles('sriov_admin', Math.max(1, tiles.length), [admin('{vf}')], tileTemplates),
      reason: 'sysfs sriov_admin (vfN/profile/vram_quota)',
    };
  }
  if (tiles.length > 0) {
    return {
      iface: new ProvisioningFiles('debugfs', tiles.length, tileTemplates, tileTemplates),
      reason: `debugfs dri/${pf}/sriov/vfN/tileT/vram_quota (${tiles.length} tile${tiles.length > 1 ? 's' : ''})`,
    };
  }
  const dir = legacyDir(r, pf);
  if (dir !== null && r.exists(`${dir}/gt0/vf1/lmem_quota`)) {
    return {
      iface: new ProvisioningFiles('legacy', 1, [`${dir}/gt0/vf{vf}/lmem_quota`], []),
      reason: `debugfs ${dir.slice(DEBUGFS.length + 1)}/gt0/vfN/lmem_quota (legacy)`,
    };
  }
  if (!r.exists(`${DEBUGFS}/dri`)) {
    return {
      iface: null,
      reason:
        'not available: no sriov_admin/vfN/profile/vram_quota and debugfs is not mounted or not readable (mount -t debugfs none /sys/kernel/debug, as root)',
    };
  }
  return {
    iface: null,
    reason: `not available: ${pf} is an xe PF without VRAM quota files (an integrated GPU has no VRAM to provision)`,
  };
}

/**
 * The debugfs directory of a DRM device: dri/<BDF> on current kernels, or the
 * dri/<minor> whose `name` reads "xe dev=<BDF> ..." (drivers/gpu/drm/drm_debugfs.c drm_name_info).
 */
function legacyDir(r: SysReader, pf: string): string | null {
  const root = `${DEBUGFS}/dri`;
  if (r.exists(`${root}/${pf}`)) return `${root}/${pf}`;
  for (const entry of r.list(root)) {
    if (!/^\d+$/.test(entry)) continue;
    const name = r.maybe(`${root}/${entry}/name`);
    if (name !== null && new RegExp(`\\bdev=${pf.replace(/\./g, '\\.')}\\b`).test(name)) return `${root}/${entry}`;
  }
  return null;
}

/**
 * The VF's quota on each tile, in tile order (one entry when nothing shows
 * the split), or null when a file cannot be read.
 */
export function readQuotaTiles(r: SysReader, iface: Provisioning, vfId: number): bigint[] | null {
  const split = iface.tilePaths(vfId);
  const out: bigint[] = [];
  for (const p of split.length > 0 ? split : iface.quotaPaths(vfId)) {
    const raw = r.maybe(p);
    const v = raw === null ? null : parseU64(raw);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}

/**
 * The VF's quota: the sum over tiles, as the VF sees its LMEM (its BAR 2 is
 * the per-tile LMEM objects concatenated in tile order, docs/kernel.md §9), or
 * null when a file cannot be read.
 */
export function readQuota(r: SysReader, iface: Provisioning, vfId: number): bigint | null {
  let total = 0n;
  for (const p of iface.quotaPaths(vfId)) {
    const raw = r.maybe(p);
    const v = raw === null ? null : parseU64(raw);
    if (v === null) return null;
    total += v;
  }
  return total;
}
