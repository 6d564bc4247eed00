// The part of the machine's state a plan changes, as a plan predicts it. It
// starts as what discovery read and each planned step updates it the way the
// kernel will (drivers/pci/iov.c: enabling VFs creates them unbound when
// autoprobe is off, with no override; disabling removes them and releases
// their provisioning, docs/kernel.md §9).
import { formatBdf, parseBdf, vfAddress } from '../uapi/bdf.js';
import type { Provisioning } from '../machine/provisioning.js';
import type { HostTopology, PfInfo } from '../machine/topology.js';

export interface VfState {
  id: number;
  bdf: string;
  driver: string | null;
  override: string | null;
  iommuGroup: number | null;
}

export interface PfState {
  bdf: string;
  driver: string | null;
  totalvfs: number;
  numvfs: number;
  autoprobe: boolean | null;
  offset: number;
  stride: number;
  iommuGroup: number | null;
  provisioning: Provisioning | null;
  provisioningNote: string;
  /**
   * VRAM quota by VF id, for every id up to totalvfs when the PF has a
   * provisioning interface; null: unknown (xe chooses it when VFs are enabled).
   */
  quotas: Map<number, bigint | null>;
  /** enabled VFs by id (1-based) */
  vfs: Map<number, VfState>;
}

export class PlanState {
  readonly pfs = new Map<string, PfState>();

  static from(topology: HostTopology): PlanState {
    return PlanState.of(topology.pfs);
  }

  /** The state of these PFs alone (a caller that has read them already, strictly). */
  static of(pfs: readonly PfInfo[]): PlanState {
    const s = new PlanState();
    for (const pf of pfs) s.pfs.set(pf.bdf, pfState(pf));
    return s;
  }

  pf(bdf: string): PfState | undefined {
    return this.pfs.get(bdf);
  }

  /** The PF and VF state of a VF's BDF, when the VF exists (or is predicted to). */
  vf(bdf: string): { pf: PfState; vf: VfState } | undefined {
    for (const pf of this.pfs.values()) {
      for (const vf of pf.vfs.values()) if (vf.bdf === bdf) return { pf, vf };
    }
    return undefined;
  }
}

function pfState(pf: PfInfo): PfState {
  const vfs = new Map<number, VfState>();
  for (const vf of pf.vfs) {
    vfs.set(vf.id, { id: vf.id, bdf: vf.bdf, driver: vf.driver, override: vf.override, iommuGroup: vf.iommuGroup });
  }
  const quotas = new Map<number, bigint | null>();
  pf.quotas.forEach((q, i) => quotas.set(i + 1, q));
  return {
    bdf: pf.bdf,
    driver: pf.driver,
    totalvfs: pf.totalvfs,
    numvfs: pf.numvfs,
    autoprobe: pf.autoprobe,
    offset: pf.offset,
    stride: pf.stride,
    iommuGroup: pf.iommuGroup,
    provisioning: pf.provisioning,
    provisioningNote: pf.provisioningNote,
    quotas,
    vfs,
  };
}

/** The BDF VF `id` will have (First VF Offset and VF Stride); null if it does not fit. */
export function predictVfBdf(pf: PfState, id: number): string | null {
  const a = parseBdf(pf.bdf);
  if (!a) return null;
  const v = vfAddress(a, pf.offset, pf.stride, id);
  return v ? formatBdf(v) : null;
}

/** Some VF has a non-zero VRAM quota. */
export function hasQuota(pf: PfState): boolean {
  for (const q of pf.quotas.values()) if (q !== null && q !== 0n) return true;
  return false;
}

/**
 * sriov_numvfs = n. Disabling removes the VFs and releases all their
 * provisioning; enabling creates VFs 1..n unbound (autoprobe is off in every
 * plan that enables) with no override. xe auto-provisions the new VFs when
 * no quota was set before (an equal share of the free VRAM each, unknown
 * until read); a non-zero quota set before enabling turns that off, and
 * every VF then keeps the quota it had, 0 for none (docs/kernel.md §9;
 * Documentation/ABI/testing/sysfs-driver-intel-xe-sriov, vram_quota).
 */
export function applyNumvfs(pf: PfState, n: number): void {
  pf.numvfs = n;
  pf.vfs.clear();
  if (n === 0) {
    for (const id of pf.quotas.keys()) pf.quotas.set(id, 0n);
    return;
  }
  // Legacy lmem_quota kernels have no custom mode: enabling provisions every VF (src/host/planner.ts presetsKept).
  const auto = pf.provisioning?.kind === 'legacy' || !hasQuota(pf);
  for (let id = 1; id <= n; id++) {
    pf.vfs.set(id, {
      id,
      bdf: predictVfBdf(pf, id) ?? `${pf.bdf}+vf${id}`,
      driver: null,
      override: null,
      iommuGroup: pf.iommuGroup,
    });
    if (auto && pf.quotas.has(id)) pf.quotas.set(id, null);
  }
}
