// Plans for each bring-up command, with the ordering pitfalls of
// docs/bringup.md "The plan and its order" and docs/kernel.md §9 built in:
// - sriov_drivers_autoprobe goes to 0 right before sriov_numvfs is written,
//   or the PF's driver (xe) binds the new VFs itself;
// - sriov_numvfs goes to 0 before another non-zero count (EBUSY otherwise);
// - the VRAM quotas of VFs about to be created are written before
//   sriov_numvfs creates them, so that xe keeps them (changeCount);
// - before VFs go away, each VF's driver, override and quota are undone as
//   steps of their own, so that the journal holds them and restore can bring
//   them back (disabling VFs would drop them without a trace);
// - a VF is bound by driver_override then drivers_probe with its own BDF, so
//   exactly that one device is probed;
// - an override is cleared by writing a newline and reading "(null)" back.
// Every builder validates its input before producing a single step, and
// returns no steps when the machine is already as asked (idempotence).
import { clip } from './quote.js';
import { BringupError, InputError, requireBdf } from './errors.js';
import type { Plan, Step } from './plan.js';
import { VRAM_ALIGNMENT } from '../machine/provisioning.js';
import { formatSize } from './size.js';
import { applyNumvfs, hasQuota, type PfState, type PlanState, type VfState } from './state.js';
import { type SysReader, devicePath, driverPath, isDriverName } from '../machine/sysfs.js';
import type { VramBudget } from '../machine/vram.js';

/** What the planner needs from the live machine besides the predicted state. */
export interface PlanContext {
  state: PlanState;
  reader: SysReader;
  /** What VRAM a PF can give its VFs (src/machine/vram.ts); without it, quotas are not checked and the plan says so. */
  vram?: (pf: string) => VramBudget;
}

// ------------------------------------------------------------ input

/** A BDF that must name an SR-IOV PF. */
export function requirePf(ctx: PlanContext, text: string): PfState {
  const bdf = requireBdf(text, 'PF');
  const pf = ctx.state.pf(bdf);
  if (pf) return pf;
  const vf = ctx.state.vf(bdf);
  if (vf) throw new InputError(`${bdf} is VF ${vf.vf.id} of ${vf.pf.bdf}; this command takes a PF (try ${vf.pf.bdf})`);
  if (ctx.reader.exists(devicePath(bdf))) {
    if (ctx.reader.exists(devicePath(bdf, 'physfn'))) throw new InputError(`${bdf} is a VF; this command takes a PF`);
    throw new InputError(`${bdf} is not an SR-IOV PF (it has no sriov_totalvfs)`);
  }
  throw new InputError(`no PCI device ${bdf} on this machine (see \`iovh topology\`)`);
}

/** A BDF that must name an enabled VF. */
export function requireVf(ctx: PlanContext, text: string): { pf: PfState; vf: VfState } {
  const bdf = requireBdf(text, 'VF');
  const hit = ctx.state.vf(bdf);
  if (hit) return hit;
  const pf = ctx.state.pf(bdf);
  if (pf) {
    const first = [...pf.vfs.values()][0];
    const hint = first ? ` (its VFs start at ${first.bdf})` : ' (it has no VFs enabled: `iovh vfs enable`)';
    throw new InputError(`${bdf} is a PF; this command takes a VF${hint}`);
  }
  if (ctx.reader.exists(devicePath(bdf))) throw new InputError(`${bdf} is not an SR-IOV VF`);
  throw new InputError(`no PCI device ${bdf} on this machine (see \`iovh topology\`)`);
}

function requireCount(pf: PfState, n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`${what}: '${n}' is not a VF count`);
  if (n > pf.totalvfs) throw new InputError(`${what}: ${n} VFs exceeds sriov_totalvfs of ${pf.bdf} (${pf.totalvfs})`);
}

/** A VF count (or, with `noun`, a VF number) typed by a user; the message quotes what was typed. */
export function parseCount(text: string, what: string, noun = 'VF count'): number {
  const t = text.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t)))
    throw new InputError(`${what}: '${clip(text)}' is not a ${noun}`);
  return Number(t);
}

function requireDriverLoaded(ctx: PlanContext, driver: string): void {
  if (!isDriverName(driver)) throw new InputError(`'${clip(driver)}' is not a driver name`);
  if (!ctx.reader.exists(driverPath(driver))) {
    throw new BringupError(
      `driver ${driver} is not loaded (no ${driverPath(driver)}); load it first: modprobe ${driver}`,
    );
  }
}

function requireSrIovDriver(pf: PfState): void {
  // Only the PF driver's sriov_configure creates VFs: ENOENT without one (docs/kernel.md §9).
  if (pf.driver === null)
    throw new BringupError(
      `${pf.bdf} has no driver bound; its driver creates the VFs (bind it first, e.g. modprobe xe)`,
    );
}

/** /sys/module/vfio_pci/parameters/enable_sriov (drivers/vfio/pci/vfio_pci.c: bool, 0644). */
export const VFIO_ENABLE_SRIOV = '/sys/module/vfio_pci/parameters/enable_sriov';

/**
 * vfio-pci changes a PF's VF count only with its enable_sriov parameter on:
 * vfio_pci_sriov_configure answers every sriov_numvfs write, 0 too, with
 * ENOENT otherwise (drivers/vfio/pci/vfio_pci.c), the same errno as a PF
 * without a driver. Said before anything is written, creating or removing.
 */
function requireVfioSriov(ctx: PlanContext, pf: PfState, n: number): void {
  if (pf.driver !== 'vfio-pci') return;
  const v = ctx.reader.maybe(VFIO_ENABLE_SRIOV)?.trim() ?? null;
  if (v === 'Y' || v === '1') return;
  const reads = `(${VFIO_ENABLE_SRIOV} reads ${v ?? 'nothing'})`;
  if (n > 0)
    throw new BringupError(
      `${pf.bdf} is bound to vfio-pci, which creates VFs only with vfio_pci.enable_sriov=1 ${reads}: boot with vfio_pci.enable_sriov=1 on the kernel command line (vfio-pci built in) or load it with modprobe vfio-pci enable_sriov=1`,
    );
  // The parameter is writable at run time (module_param 0644), so the VFs can go without a reboot.
  throw new BringupError(
    `${pf.bdf} is bound to vfio-pci, which removes VFs only with vfio_pci.enable_sriov=1 ${reads}, so its ${pf.numvfs} VF${pf.numvfs === 1 ? '' : 's'} stay: \`echo 1 > ${VFIO_ENABLE_SRIOV}\` first`,
  );
}

// ------------------------------------------------------------ steps

function setAutoprobe(pf: PfState, on: boolean, why: string): Step {
  const before = pf.autoprobe === null ? null : pf.autoprobe ? '1' : '0';
  pf.autoprobe = on;
  return {
    op: 'set',
    path: devicePath(pf.bdf, 'sriov_drivers_autoprobe'),
    kind: 'bool',
    value: on ? '1' : '0',
    before,
    why,
  };
}

function setNumvfs(pf: PfState, n: number, why: string): Step {
  const before = String(pf.numvfs);
  applyNumvfs(pf, n);
  return { op: 'set', path: devicePath(pf.bdf, 'sriov_numvfs'), kind: 'count', value: String(n), before, why };
}

function setOverride(vf: VfState, driver: string | null, why: string): Step {
  const before = vf.override ?? '';
  vf.override = driver;
  return { op: 'set', path: devicePath(vf.bdf, 'driver_override'), kind: 'override', value: driver ?? '', before, why };
}

function unbind(vf: VfState, why: string): Step {
  const driver = vf.driver!;
  vf.driver = null;
  return { op: 'unbind', bdf: vf.bdf, driver, why };
}

function setQuotas(pf: PfState, id: number, bytes: bigint, why: string): Step[] {
  const iface = pf.provisioning!;
  const paths = iface.quotaPaths(id);
  const before = pf.quotas.get(id);
  pf.quotas.set(id, bytes);
  const enabledVf = pf.vfs.has(id) ? { enabledVf: { pf: pf.bdf, id } } : {};
  // One file per tile (debugfs): a quota is planned only for single-tile PFs (requireProvisioning); releasing
  // one writes 0 to every tile, whose own value the plan does not know (apply reads and journals it).
  const known = paths.length === 1 && before !== undefined && before !== null;
  return paths.map((path) => ({
    op: 'set',
    path,
    kind: 'u64',
    value: bytes.toString(),
    before: known ? before.toString() : null,
    why,
    ...enabledVf,
  }));
}

/**
 * Steps that take a VF back to no driver, no override and (when `quota`) no
 * VRAM, so that each is journaled before the VF disappears.
 */
function releaseVf(pf: PfState, vf: VfState, quota: boolean): Step[] {
  const steps: Step[] = [];
  if (vf.driver !== null) steps.push(unbind(vf, `VF ${vf.id} leaves ${vf.driver} before VFs are removed`));
  if (vf.override !== null)
    steps.push(setOverride(vf, null, `VF ${vf.id}: clear driver_override before VFs are removed`));
  const q = pf.quotas.get(vf.id);
  if (quota && pf.provisioning && q !== undefined && q !== 0n) {
    steps.push(
      ...setQuotas(pf, vf.id, 0n, `VF ${vf.id}: release its VRAM quota before VFs are removed (restore gives it back)`),
    );
  }
  return steps;
}

/**
 * The steps that take the VF count to `n`. `presets` plans the VRAM quotas
 * of VFs about to be created: they are written while no VF exists, because
 * xe auto-provisions at enabling only when no quota is set (docs/kernel.md §9;
 * Documentation/ABI/testing/sysfs-driver-intel-xe-sriov, vram_quota: "Any
 * non-zero initial VRAM provisioning will block VFs auto-provisioning"), and
 * auto-provisioning hands out all the free VRAM, so a quota raised after it
 * fails with ENOSPC. The sriov_admin/vfN files exist up to sriov_totalvfs
 * before enabling (xe_sriov_pf_sysfs.c pf_setup_tree), and so do the debugfs
 * sriov/vfN directories (xe_sriov_pf_debugfs.c makes vf1..vfN at probe).
 */
function changeCount(ctx: PlanContext, pf: PfState, n: number, presets: () => Step[] = () => []): Step[] {
  if (pf.numvfs === n) return [];
  requireSrIovDriver(pf);
  requireVfioSriov(ctx, pf, n);
  const steps: Step[] = [];
  if (pf.numvfs > 0) {
    for (const vf of [...pf.vfs.values()]) steps.push(...releaseVf(pf, vf, pf.provisioning !== null));
    steps.push(setNumvfs(pf, 0, n > 0 ? `the count can only change from 0 (EBUSY otherwise)` : 'disable the VFs'));
  }
  if (n > 0) {
    steps.push(...presets());
    if (pf.autoprobe !== false)
      steps.push(setAutoprobe(pf, false, 'autoprobe off right before the VFs appear, so no driver (xe) grabs them'));
    steps.push(setNumvfs(pf, n, `create ${n} VF${n > 1 ? 's' : ''}`));
  }
  return steps;
}

function requireProvisioning(pf: PfState): void {
  if (!pf.provisioning) throw new NotAvailable(`VRAM provisioning on ${pf.bdf}: ${pf.provisioningNote}`);
  if (pf.provisioning.quotaPaths(1).length > 1) {
    throw new BringupError(
      `${pf.bdf} has ${pf.provisioning.tiles} tiles and only per-tile debugfs quotas (dri/${pf.bdf}/sriov/vfN/tileT/vram_quota); iovh sets one quota per VF: use a kernel with sriov_admin (7.0+)`,
    );
  }
}

function requireQuota(bytes: bigint, what: string): void {
  if (bytes % VRAM_ALIGNMENT !== 0n) {
    throw new InputError(
      `${what}: ${formatSize(bytes)} is not a multiple of 2 MiB (xe provisions VRAM in 2 MiB units and would round it up)`,
    );
  }
}

/**
 * sriov_admin's vram_quota of a multi-tile PF is one total that xe splits
 * over the tiles, each share in 2 MiB units (as src/mock/xe-pf.ts
 * setQuotaAllTiles models it: evenly): a total that does not split so is
 * rounded and would not read back.
 */
function requireTileSplit(pf: PfState, bytes: bigint, what: string): void {
  const tiles = BigInt(pf.provisioning?.tiles ?? 1);
  if (tiles > 1n && bytes % (VRAM_ALIGNMENT * tiles) !== 0n)
    throw new InputError(
      `${what}: ${formatSize(bytes)} does not split into ${tiles} tiles of 2 MiB units (${pf.bdf} splits a VF's quota evenly over its tiles); use a multiple of ${formatSize(VRAM_ALIGNMENT * tiles)}`,
    );
}

function quotaSteps(pf: PfState, id: number, bytes: bigint): Step[] {
  const current = pf.quotas.get(id);
  if (current === bytes) return [];
  const exists = pf.vfs.has(id) || !presetsKept(pf) ? '' : ' before the VF exists, so that xe keeps it';
  return setQuotas(pf, id, bytes, `VF ${id} gets ${formatSize(bytes)} of VRAM${exists}`);
}

/**
 * Several quotas of one PF: the ones that shrink first, so that the VRAM
 * they give back is free for the ones that grow (xe answers ENOSPC when a
 * quota does not fit the free VRAM, pf_query_max_lmem).
 */
function quotaPlan(pf: PfState, wants: { vf: number; vram: bigint }[]): Step[] {
  const shrinks = (w: { vf: number; vram: bigint }) => {
    const q = pf.quotas.get(w.vf);
    return q !== undefined && q !== null && w.vram < q;
  };
  return [...wants.filter(shrinks), ...wants.filter((w) => !shrinks(w))].flatMap((w) => quotaSteps(pf, w.vf, w.vram));
}

/** `2, 5-24`: VF ids as ranges. */
function idRanges(ids: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j]! + 1) j++;
    out.push(j === i ? `${ids[i]}` : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return out.join(', ');
}

/**
 * Whether xe keeps a quota set before the VFs are enabled. Kernels with only
 * the legacy gtN/vfN/lmem_quota debugfs files have no custom provisioning
 * mode: pf_enable_vfs provisions every new VF fairly, replacing any quota
 * set before (xe_pci_sriov.c pf_provision_vfs -> xe_gt_sriov_pf_config_set_fair).
 */
function presetsKept(pf: PfState): boolean {
  return pf.provisioning !== null && pf.provisioning.kind !== 'legacy';
}

/**
 * What xe does with VRAM when `n` VFs appear, given the quotas set before
 * (docs/kernel.md §9): auto-provisioning (an equal share each) unless a non-zero
 * quota was preset, and then nothing for the VFs without one.
 */
function enableNotes(pf: PfState, n: number): string[] {
  if (!pf.provisioning) return [];
  if (!presetsKept(pf))
    return [
      `${pf.bdf}: xe auto-provisions VRAM for the new VF${n > 1 ? 's' : ''} (an equal share each), replacing any quota set before (this kernel has only the legacy lmem_quota files); see \`iovh topology\``,
    ];
  if (!hasQuota(pf))
    return [
      `${pf.bdf}: xe auto-provisions VRAM for the new VF${n > 1 ? 's' : ''} (an equal share each); see \`iovh topology\``,
    ];
  const bare: number[] = [];
  for (let id = 1; id <= n; id++) if ((pf.quotas.get(id) ?? 0n) === 0n) bare.push(id);
  if (bare.length === 0) return [];
  return [
    `${pf.bdf}: a quota set before the VFs exist turns xe's auto-provisioning off: VF${bare.length > 1 ? 's' : ''} ${idRanges(bare)} get${bare.length > 1 ? '' : 's'} no VRAM (give ${bare.length > 1 ? 'them' : 'it'} a vram in the plan, or \`iovh provision\` later)`,
  ];
}

/** A raise of enabled VFs' quotas larger than what the plan frees may not fit: xe's auto-provisioning leaves little free VRAM. */
function raiseNotes(pf: PfState, wants: { vf: number; vram: bigint }[]): string[] {
  let raised = 0n;
  let freed = 0n;
  for (const w of wants) {
    const q = pf.quotas.get(w.vf);
    if (!pf.vfs.has(w.vf) || q === undefined) continue;
    if (q === null || w.vram > q) raised += w.vram - (q ?? 0n);
    else freed += q - w.vram;
  }
  if (raised <= freed) return [];
  return [
    `${pf.bdf}: the plan raises quotas of enabled VFs by ${formatSize(raised - freed)} more than it frees; xe answers ENOSPC when that is more than the free VRAM (auto-provisioning leaves almost none), and the plan then rolls back: lower other VFs' quotas in the same plan, or set the quotas together with numvfs so they are written before the VFs exist`,
  ];
}

/** Sum of every VF's quota (sriov_admin/vfN for N up to totalvfs, enabled or not: xe holds preset ones too); null when one is unknown. */
function quotaSum(pf: PfState): bigint | null {
  let sum = 0n;
  for (const q of pf.quotas.values()) {
    if (q === null) return null;
    sum += q;
  }
  return sum;
}

/**
 * Refuses a plan whose quotas cannot all fit before anything is written: xe
 * answers ENOSPC when a quota exceeds its free VRAM minus the PF's spare
 * (pf_query_max_lmem), counting what the VF's old quota gives back. Quotas
 * are planned shrinking ones first and released before VFs go away, so the
 * most the plan ever holds is what it holds at the end: that must fit in the
 * VRAM free now plus every quota held now, less the spare. `held` is the sum
 * of quotas before planning, `pf` the state after. An old quota's VRAM comes
 * back only when its LMEM object's last reference goes: xe replaces the
 * object at the write (pf_provision_vf_lmem, no EBUSY), and an importer of
 * the VF's memory keeps the old one alive, so the check holds for VFs whose
 * memory nothing imports (docs/bringup.md). Returns the notes: none
 * when checked (or when the plan holds no more than before), a note saying
 * why not otherwise. `what` prefixes the error (the option or plan field).
 */
function fitCheck(
  ctx: PlanContext,
  pf: PfState,
  held: bigint | null,
  what: string,
): { checked: boolean; notes: string[] } {
  const want = quotaSum(pf);
  if (want !== null && held !== null && want <= held) return { checked: true, notes: [] };
  const unchecked = (why: string) => ({
    checked: false,
    notes: [
      `${pf.bdf}: the VRAM quotas were not checked against what xe can give (${why}); if they do not fit, xe answers ENOSPC at the write and the plan rolls back`,
    ],
  });
  if (held === null) return unchecked('a VF quota could not be read');
  if (want === null) return unchecked('xe chooses the quotas of the VFs it auto-provisions');
  const budget = ctx.vram ? ctx.vram(pf.bdf) : { known: false as const, why: 'no VRAM query here' };
  if (!budget.known) return unchecked(budget.why);
  const spare = budget.spare ?? 0n;
  const room = budget.free + held > spare ? budget.free + held - spare : 0n;
  if (want <= room) return { checked: true, notes: [] };
  const parts = [...pf.quotas].filter(([, q]) => q !== null && q !== 0n).map(([id, q]) => `VF ${id} ${formatSize(q!)}`);
  const list = parts.length > 6 ? `${parts.slice(0, 6).join(', ')}, ...` : parts.join(', ');
  const spareText =
    budget.spare === null
      ? ' (its spare VRAM unknown: debugfs vram_spare unreadable)'
      : ` - ${formatSize(spare)} PF spare`;
  throw new InputError(
    `${what}: the VRAM quotas of ${pf.bdf} would add up to ${formatSize(want)} (${list}), more than the ${formatSize(room)} xe can give its VFs (${formatSize(budget.free)} free${held > 0n ? ` + ${formatSize(held)} held by VF quotas now` : ''}${spareText}); lower a quota, or release other VFs' quotas in the same plan`,
  );
}

function bindSteps(vf: VfState, driver: string): Step[] {
  const steps: Step[] = [];
  if (vf.driver !== null && vf.driver !== driver) steps.push(unbind(vf, `release VF ${vf.id} from ${vf.driver}`));
  if (vf.override !== driver) steps.push(setOverride(vf, driver, `only ${driver} may bind VF ${vf.id}`));
  if (vf.driver !== driver) {
    vf.driver = driver;
    steps.push({ op: 'probe', bdf: vf.bdf, driver, why: `probe exactly VF ${vf.id}: it binds to ${driver}` });
  }
  return steps;
}

function unbindSteps(vf: VfState): Step[] {
  const steps: Step[] = [];
  if (vf.driver !== null) steps.push(unbind(vf, `release VF ${vf.id} from ${vf.driver}`));
  if (vf.override !== null)
    steps.push(setOverride(vf, null, `VF ${vf.id}: clear driver_override (a newline clears it)`));
  return steps;
}

/** Something this machine cannot do at all (no xe, no provisioning files): an answer, not an error. */
export class NotAvailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAvailable';
  }
}

// ------------------------------------------------------------ commands

export function planVfsEnable(ctx: PlanContext, pfText: string, countText: string): Plan {
  const pf = requirePf(ctx, pfText);
  const n = parseCount(countText, 'vfs enable');
  requireCount(pf, n, 'vfs enable');
  if (n === 0)
    throw new InputError('vfs enable: the count must be at least 1 (use `iovh vfs disable PF` to remove VFs)');
  const steps = changeCount(ctx, pf, n);
  return {
    title: `enable ${n} VF${n > 1 ? 's' : ''} on ${pf.bdf}`,
    steps,
    notes: steps.length > 0 ? enableNotes(pf, n) : [],
  };
}

export function planVfsDisable(ctx: PlanContext, pfText: string): Plan {
  const pf = requirePf(ctx, pfText);
  return { title: `disable the VFs of ${pf.bdf}`, steps: changeCount(ctx, pf, 0), notes: [] };
}

/**
 * sriov_numvfs = 0 on a PF one of whose VFs is in use (its LMEM imported by
 * the PF): the count is the one real write besides autoprobe, and what the
 * kernel clears with it (each VF's binding and override, its VRAM quota) is
 * journaled as implied steps (plan.ts isImplied) so that restore brings it
 * back. The order is the restore order read backwards, as undo runs newest
 * first: quotas go back while the count is 0 (restore.ts presets: a quota set
 * before enabling keeps xe from auto-provisioning), then the count with
 * autoprobe off (the VFs come back unbound), then the overrides, then the
 * bindings, then autoprobe; a VF bound without an override is bound last,
 * once autoprobe is back (with autoprobe off only an override lets a VF
 * probe, docs/kernel.md §9).
 */
export function planVfsDisableInUse(ctx: PlanContext, pfText: string, why: string): Plan {
  const pf = requirePf(ctx, pfText);
  if (pf.numvfs === 0) return { title: `disable the VFs of ${pf.bdf}`, steps: [], notes: [] };
  requireSrIovDriver(pf);
  // Before the autoprobe write: vfio-pci would refuse the count after it (ENOENT).
  requireVfioSriov(ctx, pf, 0);
  const implied = <T extends Step>(step: T): T => ({ ...step, implied: true });
  const vfs = [...pf.vfs.values()];
  // Restore binds newest record first: the highest VF is journaled first so that VF 1 is bound first again, and
  // each gets the vfio device number (/dev/vfio/devices/vfioN, an ida: lowest free) it had.
  const highestFirst = [...vfs].reverse();
  const steps: Step[] = [];
  const removes = `${why}: sriov_numvfs = 0 removes the VF`;
  for (const vf of highestFirst)
    if (vf.driver !== null && vf.override === null) steps.push(implied(unbind(vf, removes)));
  if (pf.autoprobe === true) steps.push(setAutoprobe(pf, false, `${why}: the VFs come back unbound`));
  for (const vf of highestFirst) if (vf.driver !== null) steps.push(implied(unbind(vf, removes)));
  for (const vf of vfs) if (vf.override !== null) steps.push(implied(setOverride(vf, null, removes)));
  if (pf.provisioning) {
    for (const vf of vfs) {
      const q = pf.quotas.get(vf.id);
      if (q === undefined || q === null || q === 0n) continue;
      steps.push(...setQuotas(pf, vf.id, 0n, `${why}: xe releases VF quotas with the VFs`).map(implied));
    }
  }
  steps.push(setNumvfs(pf, 0, `${why}: disable the VFs under an import`));
  return { title: `disable the VFs of ${pf.bdf} while one is in use`, steps, notes: [] };
}

export function planProvision(ctx: PlanContext, pfText: string, vfText: string, sizeBytes: bigint): Plan {
  const pf = requirePf(ctx, pfText);
  const id = parseCount(vfText, '--vf', 'VF number');
  if (id < 1 || id > pf.totalvfs)
    throw new InputError(
      `--vf: VF ${id} does not exist on ${pf.bdf} (VFs are numbered 1..${pf.totalvfs}, like sriov_admin/vfN)`,
    );
  requireQuota(sizeBytes, '--vram');
  requireProvisioning(pf);
  requireTileSplit(pf, sizeBytes, '--vram');
  const notes: string[] = [];
  if (id > pf.numvfs) {
    notes.push(
      presetsKept(pf)
        ? `VF ${id} is not enabled yet: xe keeps the quota for when it is, and a quota set before enabling turns auto-provisioning off (VFs without a quota then get no VRAM)`
        : `VF ${id} is not enabled yet: this kernel (legacy lmem_quota) provisions every VF afresh when VFs are enabled, replacing this quota`,
    );
  }
  const held = quotaSum(pf);
  const steps = quotaSteps(pf, id, sizeBytes);
  notes.push(...fitCheck(ctx, pf, held, '--vram').notes);
  return { title: `give VF ${id} of ${pf.bdf} ${formatSize(sizeBytes)} of VRAM`, steps, notes };
}

export function planBind(ctx: PlanContext, vfText: string, driver: string): Plan {
  const bdf = requireBdf(vfText, 'VF');
  const pf = ctx.state.pf(bdf);
  if (pf) return planBindPf(ctx, pf, driver);
  const { vf } = requireVf(ctx, vfText);
  requireDriverLoaded(ctx, driver);
  requireIommu(vf, driver);
  return { title: `bind ${vf.bdf} to ${driver}`, steps: bindSteps(vf, driver), notes: [] };
}

/**
 * A PF to another driver (vfio-pci: the PF's VFs then need its VF token,
 * docs/kernels.md "The switch machine"), only while it has no VFs: its
 * driver's remove would take them away unjournaled. Unbind, driver_override,
 * probe of that PF alone; restore undoes them newest first (the PF leaves
 * the new driver, its override goes, its old driver binds it again).
 */
function planBindPf(ctx: PlanContext, pf: PfState, driver: string): Plan {
  requireDriverLoaded(ctx, driver);
  const override = ctx.reader.overrideOf(pf.bdf);
  // Already there (its VFs made by that driver, say): nothing to do.
  if (pf.driver === driver && override === driver)
    return { title: `bind PF ${pf.bdf} to ${driver}`, steps: [], notes: [] };
  if (pf.numvfs > 0)
    throw new InputError(
      `${pf.bdf} has ${pf.numvfs} VF${pf.numvfs > 1 ? 's' : ''} enabled: a PF changes driver only without VFs (\`iovh vfs disable ${pf.bdf}\` first)`,
    );
  if (driver === 'vfio-pci' && pf.iommuGroup === null)
    throw new BringupError(
      `${pf.bdf} has no IOMMU group: vfio-pci needs an IOMMU (boot with intel_iommu=on iommu=pt; see \`iovh doctor\`)`,
    );
  const steps: Step[] = [];
  if (pf.driver !== null && pf.driver !== driver) {
    steps.push({ op: 'unbind', bdf: pf.bdf, driver: pf.driver, why: `release PF ${pf.bdf} from ${pf.driver}` });
    pf.driver = null;
  }
  if (override !== driver)
    steps.push({
      op: 'set',
      path: devicePath(pf.bdf, 'driver_override'),
      kind: 'override',
      value: driver,
      before: override ?? '',
      why: `only ${driver} may bind PF ${pf.bdf}`,
    });
  if (pf.driver !== driver) {
    pf.driver = driver;
    steps.push({ op: 'probe', bdf: pf.bdf, driver, why: `probe exactly PF ${pf.bdf}: it binds to ${driver}` });
  }
  const notes =
    driver === 'vfio-pci' && steps.length > 0
      ? [
          `${pf.bdf} on vfio-pci: VFs it creates (vfio_pci.enable_sriov=1) get driver_override vfio-pci and open only with its VF token, which iovh run sets`,
        ]
      : [];
  return { title: `bind PF ${pf.bdf} to ${driver}`, steps, notes };
}

function requireIommu(vf: VfState, driver: string): void {
  // vfio-pci refuses a device without an IOMMU group (probe fails -EINVAL: drivers/vfio/group.c vfio_group_find_or_alloc).
  if (driver === 'vfio-pci' && vf.iommuGroup === null) {
    throw new BringupError(
      `${vf.bdf} has no IOMMU group: vfio-pci needs an IOMMU (boot with intel_iommu=on iommu=pt; see \`iovh doctor\`)`,
    );
  }
}

export function planUnbind(ctx: PlanContext, vfText: string): Plan {
  const { vf } = requireVf(ctx, vfText);
  return { title: `unbind ${vf.bdf}`, steps: unbindSteps(vf), notes: [] };
}

// ------------------------------------------------------------ setup

/** A declared state (docs/bringup.md, schema iovh-setup/1), validated by setup-schema.ts. */
export interface SetupSpec {
  pfs: SetupPf[];
}

export interface SetupPf {
  pf: string;
  numvfs?: number;
  vfs: SetupVf[];
}

export interface SetupVf {
  vf: number;
  vram?: bigint;
  /** a driver name; null: no driver and no override */
  driver?: string | null;
}

export function planSetup(ctx: PlanContext, spec: SetupSpec, where = 'plan'): Plan {
  const steps: Step[] = [];
  const notes: string[] = [];
  // Validate everything before planning anything.
  const resolved = spec.pfs.map((p, i) => {
    const at = `${where}: pfs[${i}]`;
    const pf = withPath(`${at}.pf`, () => requirePf(ctx, p.pf));
    const count = p.numvfs ?? pf.numvfs;
    if (p.numvfs !== undefined) requireCount(pf, p.numvfs, `${at}.numvfs`);
    p.vfs.forEach((v, j) => {
      const vat = `${at}.vfs[${j}]`;
      if (v.vf < 1 || v.vf > count)
        throw new InputError(
          `${vat}.vf: VF ${v.vf} does not exist with ${count} VF${count === 1 ? '' : 's'} on ${pf.bdf}`,
        );
      if (v.vram !== undefined) {
        requireQuota(v.vram, `${vat}.vram`);
        requireProvisioning(pf);
      }
      if (typeof v.driver === 'string') requireDriverLoaded(ctx, v.driver);
    });
    return { pf, spec: p };
  });
  const seen = new Set<string>();
  for (const { pf } of resolved) {
    if (seen.has(pf.bdf)) throw new InputError(`${where}: ${pf.bdf} appears twice in pfs`);
    seen.add(pf.bdf);
  }
  resolved.forEach(({ pf, spec: p }, i) => {
    const wants = p.vfs.flatMap((v) => (v.vram === undefined ? [] : [{ vf: v.vf, vram: v.vram }]));
    const held = quotaSum(pf);
    const raises: string[] = [];
    if (p.numvfs !== undefined && p.numvfs !== pf.numvfs) {
      // The quotas of a new set of VFs are written before it exists (changeCount), except where the
      // kernel replaces them when it enables VFs (legacy: no custom mode, see presetsKept).
      const preset = presetsKept(pf);
      steps.push(...changeCount(ctx, pf, p.numvfs, preset ? () => quotaPlan(pf, wants) : undefined));
      if (p.numvfs > 0) notes.push(...enableNotes(pf, p.numvfs));
      if (!preset) {
        raises.push(...raiseNotes(pf, wants));
        steps.push(...quotaPlan(pf, wants));
      }
    } else {
      raises.push(...raiseNotes(pf, wants));
      steps.push(...quotaPlan(pf, wants));
    }
    if (wants.length > 0) {
      const fit = fitCheck(ctx, pf, held, `${where}: pfs[${i}].vfs`);
      // A raise that was checked fits: the note that it may not would be wrong.
      notes.push(...(fit.checked ? [] : raises), ...fit.notes);
    } else notes.push(...raises);
    for (const v of p.vfs) {
      if (v.driver === undefined) continue;
      const vf = pf.vfs.get(v.vf)!;
      if (v.driver === null) steps.push(...unbindSteps(vf));
      else {
        requireIommu(vf, v.driver);
        steps.push(...bindSteps(vf, v.driver));
      }
    }
  });
  return { title: `set up ${resolved.map((r) => r.pf.bdf).join(', ')}`, steps, notes };
}

/** Runs `check`; an InputError it throws gets `at` (the field's path) in front of its message. */
function withPath<T>(at: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${at}: ${e.message}`);
    throw e;
  }
}
