// The machine shape the catalog exercises, brought up the way a lab brings
// up its own machine: through sysfs, by bring-up's planner and engine
// (src/host/planner.ts planSetup, apply.ts), each write journaled (in memory)
// and read back. It runs only on a machine that ends with the run
// (Backend.traits.location null: the mock without --mock-state) and has no
// VF on vfio-pci yet; any other machine is tested as it is, and what it
// lacks is skipped with how to get it.
//
// The shape, on the PF asked for (--pf) or the first xe PF: four VFs (fewer
// when the PF has fewer), autoprobe off, each on vfio-pci; VF 1's VRAM quota
// fills its whole BAR 2 (so the BAR's last page is memory: edge/last-page),
// VFs 2 and 3 get 1 GiB (less than their BAR: edge/beyond-quota), VF 4 none
// (edge/unprovisioned-vf). A VF's BAR 2 size is known only once the VFs
// exist (xe resizes VF BAR 2 for the number enabled, docs/kernel.md §9), and a
// quota set before enabling is what keeps xe from handing all the free VRAM
// out (auto-provisioning): so VF 2 gets a quota first, the VFs are enabled
// and bound, then VFs 1 to 3 get theirs. VFs a topology declares
// present at boot are kept, only bound to vfio-pci.

import type { Backend } from '../backend/types.js';
import { applyPlan } from '../host/apply.js';
import { BringupError, InputError } from '../host/errors.js';
import { Journal } from '../host/journal.js';
import { planSetup, type PlanContext, type SetupVf } from '../host/planner.js';
import type { Plan } from '../host/plan.js';
import { formatSize } from '../host/size.js';
import { PlanState } from '../host/state.js';
import { SysReader } from '../machine/sysfs.js';
import { chooseTarget, TargetError } from '../machine/target.js';
import { discover, lmemBar, type PfInfo } from '../machine/topology.js';
import { readVramBudget } from '../machine/vram.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
/** xe provisions in 2 MiB units (src/machine/provisioning.ts VRAM_ALIGNMENT). */
const UNIT = 2n * MiB;
const VFS = 4;

function context(backend: Backend): PlanContext {
  const reader = new SysReader(backend.fs);
  return {
    state: PlanState.from(discover(backend.fs)),
    reader,
    vram: (pf) => readVramBudget(backend, reader, pf),
  };
}

/**
 * The PF to bring up: --pf, else the first xe PF that can have VFs (also
 * when --pf names no PF here: what it names, a VF once there are VFs, is
 * then said by `iovh run`'s check of --pf/--vf).
 */
function pfToBringUp(pfs: readonly PfInfo[], want: string | null): PfInfo | null {
  return pfs.find((p) => p.bdf === want) ?? pfs.find((p) => p.driver === 'xe' && p.totalvfs > 0) ?? null;
}

/** The quota of VFs 2 and 3: 1 GiB, less than their BAR; a quarter of a smaller BAR. */
function smallQuota(bar: bigint): bigint {
  return bar > 2n * GiB ? GiB : (bar / 4n / UNIT) * UNIT;
}

async function apply(backend: Backend, journal: Journal, plan: Plan): Promise<number> {
  if (plan.steps.length === 0) return 0;
  journal.begin(`run: bring-up: ${plan.title}`);
  try {
    const n = await applyPlan(backend.fs, plan, journal, { out: { step: () => undefined } });
    journal.end('ok');
    return n;
  } catch (e) {
    journal.end('failed');
    throw e;
  }
}

/**
 * Brings the catalog's shape up on `backend` when it is iovh's to shape and
 * has no VF on vfio-pci; returns what was done, one line each
 * (RunResult.setup), empty when nothing was.
 */
export async function bringUpForCatalog(backend: Backend, want: { pf: string | null }): Promise<string[]> {
  const setup: string[] = [];
  try {
    await bringUp(backend, want, setup);
  } catch (e) {
    // The kernel refused a write, or a plan: the run goes on with the machine as the engine left it (rolled back).
    if (!(e instanceof BringupError)) throw e;
    setup.push(`bring-up stopped: ${e.message}; the scenarios run on the machine as it is`);
  }
  return setup;
}

async function bringUp(backend: Backend, want: { pf: string | null }, setup: string[]): Promise<void> {
  if (backend.traits.location !== null) return;
  const machine = discover(backend.fs);
  try {
    chooseTarget(machine, want);
    return;
  } catch (e) {
    if (!(e instanceof TargetError)) throw e;
  }
  const pf = pfToBringUp(machine.pfs, want.pf);
  if (!pf || pf.totalvfs === 0) return;
  const journal = Journal.memory({
    backend: backend.traits.name,
    where: '(kept in memory: the machine ends with the run)',
  });
  const bind = (n: number): SetupVf[] => Array.from({ length: n }, (_, i) => ({ vf: i + 1, driver: 'vfio-pci' }));
  if (pf.numvfs > 0) {
    // VFs present at boot (a topology that declares them): keep them as they are, only bind them.
    const writes = await apply(
      backend,
      journal,
      planSetup(context(backend), { pfs: [{ pf: pf.bdf, vfs: bind(pf.numvfs) }] }),
    );
    setup.push(`bound the ${pf.numvfs} VFs of ${pf.bdf} to vfio-pci (${writes} writes)`);
    return;
  }
  const n = Math.min(VFS, pf.totalvfs);
  const custom = pf.provisioning !== null && pf.provisioning.kind !== 'legacy';
  const slot = pf.vfBars.find((b) => b.index === 2)?.size ?? 0n;
  // One quota before enabling turns auto-provisioning off; VF 2's, or VF 1's when it is the only one.
  const preset = Math.min(2, n);
  const presets: SetupVf[] = bind(n).map((v) => (custom && v.vf === preset ? { ...v, vram: smallQuota(slot) } : v));
  const enabled = await apply(
    backend,
    journal,
    planSetup(context(backend), { pfs: [{ pf: pf.bdf, numvfs: n, vfs: presets }] }),
  );
  setup.push(
    `enabled ${n} VFs on ${pf.bdf} (sriov_drivers_autoprobe 0), each bound to vfio-pci through driver_override (${enabled} writes)`,
  );
  if (!custom) {
    setup.push('VRAM quotas: provisioned by xe');
    return;
  }
  const now = discover(backend.fs).pfs.find((p) => p.bdf === pf.bdf)!;
  const bar = now.vfs[0] ? (lmemBar(now.vfs[0])?.size ?? 0n) : 0n;
  const small = smallQuota(bar);
  const quotas = (first: bigint): bigint[] =>
    Array.from({ length: n }, (_, i) => (i === 0 ? first : i === 3 ? 0n : small));
  const plan = (q: bigint[]): Plan =>
    planSetup(context(backend), {
      pfs: [{ pf: pf.bdf, vfs: q.flatMap((vram, i) => (vram > 0n ? [{ vf: i + 1, vram }] : [])) }],
    });
  let given = quotas(bar);
  let provision: Plan;
  try {
    provision = plan(given);
  } catch (e) {
    // Not enough VRAM for a VF that fills its BAR: VF 1 gets the small quota (edge/last-page then skips, saying why).
    if (!(e instanceof InputError)) throw e;
    given = quotas(small);
    provision = plan(given);
  }
  const writes = await apply(backend, journal, provision);
  setup.push(
    `VRAM quotas: ${given.map((q, i) => `VF ${i + 1} ${q > 0n ? formatSize(q) : 'none'}`).join(', ')} (VF BAR 2 is ${formatSize(bar)}; ${writes} writes)`,
  );
}
