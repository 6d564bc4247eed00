// Undoing journaled writes, newest first, each verified by reading back
// (docs/bringup.md "Restore"; the VFIO selftests' cleanup.sh replays its records the
// same way). Undo is by state, not by replaying inverse writes blindly: a
// record whose target already holds what the write replaced needs nothing,
// which is what makes restore safe after a kill between a journal entry and
// its write, and after a restore that was itself interrupted.
import type { FileOps } from '../backend/types.js';
import { isErrno } from '../uapi/errors.js';
import { formatBdf, parseBdf, vfAddress } from '../uapi/bdf.js';
import { BringupError } from './errors.js';
import type { Journal, WriteRecord } from './journal.js';
import { canonical, formatStep, stepWrite, type AttrKind, type Plan, type Step } from './plan.js';
import { SysReader, devicePath, parseDecimal } from '../machine/sysfs.js';
import { VFIO_ENABLE_SRIOV } from './planner.js';
import { Interrupted, countWrite, stopRequested, verify, type ApplyHooks } from './writes.js';

/** What undo needs to know about the machine: the live kernel, or a prediction on top of it (--dry-run). */
export interface StateView {
  /** An attribute's canonical text, or null when the file does not exist. */
  attr(path: string, kind: AttrKind): string | null;
  /** The driver a device is bound to ('' for none). */
  driver(bdf: string): string;
  exists(bdf: string): boolean;
  /**
   * False for a VRAM quota whose value xe chose itself after this restore
   * raised the VF count with no quota preset (auto-provisioning, docs/kernel.md §9): restore then
   * writes the journaled value whatever the file reads, so that --dry-run,
   * which cannot know xe's choice, predicts exactly the writes the run makes.
   */
  known(step: Step): boolean;
  /** Records the effect of a step made (or, for --dry-run, predicted). */
  apply(step: Step): void;
}

/** The PF whose sriov_numvfs a step writes, or null. */
function numvfsPf(step: Step): string | null {
  if (step.op !== 'set' || step.kind !== 'count') return null;
  const m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/sriov_numvfs$/.exec(step.path);
  return m ? m[1]! : null;
}

/** The PF of a VRAM quota file (sriov_admin or the debugfs tile layout, which name the PF), or null. */
function quotaPathPf(path: string): string | null {
  const m =
    /^\/sys\/bus\/pci\/devices\/([^/]+)\/sriov_admin\/vf\d+\//.exec(path) ??
    /^\/sys\/kernel\/debug\/dri\/([^/]+)\/sriov\/vf\d+\//.exec(path);
  return m ? m[1]! : null;
}

/** The PF whose VRAM quota a step writes, or null. */
function quotaPf(step: Step): string | null {
  if (step.op !== 'set' || step.kind !== 'u64') return null;
  if (step.enabledVf) return step.enabledVf.pf;
  return quotaPathPf(step.path);
}

/**
 * Which PFs' quotas xe chose itself during this restore, for
 * StateView.known: a VF count raised from 0 with no quota preset since the
 * count went to 0 auto-provisions (docs/kernel.md §9); a count of 0 releases
 * every quota (they read 0), and a preset turns auto-provisioning off.
 */
class Recount {
  private readonly auto = new Set<string>();
  private readonly preset = new Set<string>();

  note(step: Step): void {
    const pf = numvfsPf(step);
    if (pf && step.op === 'set') {
      if (step.value === '0') {
        this.auto.delete(pf);
        this.preset.delete(pf);
      } else if (!this.preset.has(pf)) this.auto.add(pf);
      else this.auto.delete(pf);
      return;
    }
    const qpf = quotaPf(step);
    if (qpf && step.op === 'set' && step.value !== '0') this.preset.add(qpf);
  }

  /** True when xe auto-provisioned the PF's VFs since this restore raised its count. */
  autoProvisioned(pf: string): boolean {
    return this.auto.has(pf);
  }

  known(step: Step): boolean {
    const pf = quotaPf(step);
    return pf === null || !this.auto.has(pf);
  }
}

export class LiveView implements StateView {
  private readonly recount = new Recount();

  constructor(readonly r: SysReader) {}

  known(step: Step): boolean {
    return this.recount.known(step);
  }

  attr(path: string, kind: AttrKind): string | null {
    try {
      const raw = this.r.fs.readText(path);
      return canonical(kind, raw) ?? raw.replace(/\n$/, '');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return null;
      throw e;
    }
  }

  driver(bdf: string): string {
    return this.r.driverOf(bdf) ?? '';
  }

  exists(bdf: string): boolean {
    return this.r.exists(devicePath(bdf));
  }

  apply(step: Step): void {
    this.recount.note(step);
  }
}

/**
 * The live machine with the predicted effect of steps laid over it: a set
 * attribute reads its new value, a bound device its driver, and a VF count
 * creates unbound VFs without override (or removes them) at the addresses
 * First VF Offset and VF Stride give (drivers/pci/iov.c).
 */
export class PredictedView implements StateView {
  private attrs = new Map<string, string | null>();
  private drivers = new Map<string, string>();
  private present = new Map<string, boolean>();
  private readonly recount = new Recount();

  constructor(readonly live: LiveView) {}

  known(step: Step): boolean {
    return this.recount.known(step);
  }

  attr(path: string, kind: AttrKind): string | null {
    if (this.attrs.has(path)) return this.attrs.get(path)!;
    const dev = /^\/sys\/bus\/pci\/devices\/([^/]+)\//.exec(path);
    const qpf = quotaPathPf(path);
    if (qpf !== null && this.released.has(qpf) && !this.recount.autoProvisioned(qpf)) return '0';
    if (dev && this.present.get(dev[1]!) === false) return null;
    return this.live.attr(path, kind);
  }

  driver(bdf: string): string {
    if (this.drivers.has(bdf)) return this.drivers.get(bdf)!;
    return this.live.driver(bdf);
  }

  exists(bdf: string): boolean {
    return this.present.get(bdf) ?? this.live.exists(bdf);
  }

  apply(step: Step): void {
    this.recount.note(step);
    switch (step.op) {
      case 'set':
        this.attrs.set(step.path, step.value);
        if (step.kind === 'count' && step.path.endsWith('/sriov_numvfs'))
          this.numvfs(step.path.split('/')[5]!, Number(step.value));
        return;
      case 'unbind': {
        // vfio_pci_remove disables the PF's VFs first (vfio_pci_core_unregister_device).
        const count = devicePath(step.bdf, 'sriov_numvfs');
        if (step.driver === 'vfio-pci' && (this.attr(count, 'count') ?? '0') !== '0') {
          this.attrs.set(count, '0');
          this.numvfs(step.bdf, 0);
        }
        this.drivers.set(step.bdf, '');
        return;
      }
      case 'bind':
      case 'probe':
        this.drivers.set(step.bdf, step.driver);
        return;
    }
  }

  /** The PF's count went to 0 in this prediction: its quotas were released and read 0 unless set since. */
  private readonly released = new Set<string>();

  private numvfs(pf: string, n: number): void {
    const a = parseBdf(pf);
    const offset = parseDecimal(this.live.r.maybe(devicePath(pf, 'sriov_offset')) ?? '') ?? 0;
    const stride = parseDecimal(this.live.r.maybe(devicePath(pf, 'sriov_stride')) ?? '') ?? 0;
    const total = parseDecimal(this.live.r.maybe(devicePath(pf, 'sriov_totalvfs')) ?? '') ?? 0;
    if (!a) return;
    for (let id = 1; id <= total; id++) {
      const v = vfAddress(a, offset, stride, id);
      if (!v) continue;
      const bdf = formatBdf(v);
      const on = id <= n;
      this.present.set(bdf, on);
      this.drivers.set(bdf, '');
      for (const [path] of this.attrs) if (path.startsWith(`${devicePath(bdf)}/`)) this.attrs.delete(path);
      if (on) this.attrs.set(devicePath(bdf, 'driver_override'), '');
    }
    // Disabling releases every quota; enabling without a preset lets xe choose them (docs/kernel.md §9):
    // unknown until read (Recount makes undo write them); with presets they stay as written, 0 for the rest.
    if (n === 0) this.released.add(pf);
    if (n === 0 || this.recount.autoProvisioned(pf)) {
      for (const [path] of this.attrs) if (quotaPathPf(path) === pf) this.attrs.delete(path);
    }
  }
}

/**
 * Before a VF count is raised from 0 again, the VRAM quotas journaled for
 * the VFs it re-creates are written back first: xe then keeps them instead
 * of auto-provisioning (docs/kernel.md §9), which would hand out all the free
 * VRAM and make the journaled quotas fail with ENOSPC afterwards. `older`
 * is the pending records older than the count's, newest first: for each
 * quota file the newest of them holds the value the file had then. Quotas
 * of 0 need no preset (VFs without one get none once any is preset).
 */
function presets(pf: string, count: number, older: readonly WriteRecord[], why: string): Step[] {
  const seen = new Set<string>();
  const out: Step[] = [];
  for (const r of older) {
    const st = r.step;
    if (st.op !== 'set' || st.kind !== 'u64' || st.enabledVf?.pf !== pf || seen.has(st.path)) continue;
    // Legacy lmem_quota kernels replace every quota when they enable VFs (src/host/planner.ts presetsKept).
    if (st.path.endsWith('/lmem_quota')) return [];
    seen.add(st.path);
    if (st.enabledVf.id > count || r.before === '0') continue;
    const { implied: _, ...written } = st;
    out.push({
      ...written,
      value: r.before,
      before: '0',
      why: `${why}: VF ${st.enabledVf.id}'s quota (#${r.seq}) before the VFs exist, so xe keeps it`,
    });
  }
  return out;
}

/**
 * The writes that take one journal record back to what it replaced, given
 * what its target holds now. `older`: the pending records older than `rec`,
 * newest first (for the quotas a re-created set of VFs gets back first).
 */
export function undoSteps(view: StateView, rec: WriteRecord, older: readonly WriteRecord[] = []): Step[] {
  const step = rec.step;
  const why = `undo #${rec.seq}`;
  if (step.op === 'set') {
    if (step.enabledVf) {
      // The quota belonged to an enabled VF; with the VF gone the kernel released it, and
      // writing the old value now would preset a quota for a VF that has none (docs/kernel.md §9).
      const numvfs = view.attr(devicePath(step.enabledVf.pf, 'sriov_numvfs'), 'count');
      if (numvfs !== null && Number(numvfs) < step.enabledVf.id) return [];
    }
    const now = view.attr(step.path, step.kind);
    if (now === rec.before && view.known(step)) return [];
    if (now === null) {
      // The attribute went away with its device (a VF removed after this write): nothing is left to restore on it.
      if (
        /\/driver_override$/.test(step.path) ||
        step.path.includes('/sriov_admin/vf') ||
        step.path.includes('/sys/kernel/debug/')
      )
        return [];
      throw new BringupError(`cannot restore ${step.path} to '${rec.before}': it no longer exists`);
    }
    // Undoing is always a write of its own, whether or not the kernel made the change it undoes (plan.ts isImplied).
    const { implied: _, ...written } = step;
    const back: Step = { ...written, value: rec.before, before: now, why };
    const pf = numvfsPf(step);
    if (pf !== null && view.driver(pf) === 'vfio-pci' && view.attr(VFIO_ENABLE_SRIOV, 'bool') !== '1')
      return vfioPfCount(pf, now, rec, older, why);
    if (pf === null || rec.before === '0') return [back];
    // A VF count changes only through 0 (EBUSY otherwise, docs/kernel.md §9); the quotas go in while it is 0.
    const first: Step[] = now === '0' ? [] : [{ ...step, value: '0', before: now, why }];
    return [...first, ...presets(pf, Number(rec.before), older, why), { ...back, before: '0' }];
  }
  // Driver steps: the device must end up bound to what it had before ('' = none).
  if (!view.exists(step.bdf)) {
    if (rec.before === '') return [];
    throw new BringupError(`cannot rebind ${step.bdf} to ${rec.before}: the device no longer exists`);
  }
  const now = view.driver(step.bdf);
  if (now === rec.before) return [];
  const out: Step[] = [];
  if (now !== '') out.push({ op: 'unbind', bdf: step.bdf, driver: now, why });
  if (rec.before !== '') out.push({ op: 'bind', bdf: step.bdf, driver: rec.before, why });
  return out;
}

/**
 * A VF count of a PF on vfio-pci while vfio_pci.enable_sriov is off:
 * vfio_pci_sriov_configure answers every sriov_numvfs write, 0 too, with
 * ENOENT (drivers/vfio/pci/vfio_pci.c). Unbinding the PF still disables its
 * VFs (vfio_pci_remove -> vfio_pci_core_unregister_device ->
 * vfio_pci_core_sriov_configure(vdev, 0)), so when this journal moved the PF
 * onto vfio-pci (its oldest pending driver record found another driver, or
 * none) the unbind that undo makes anyway comes first. Otherwise the PF was
 * the user's on vfio-pci, which iovh does not take away: one line on what to
 * do first, the journal kept (the caller names the restore command for its
 * target: src/cli/state-change.ts restoreCommand).
 */
function vfioPfCount(pf: string, now: string, rec: WriteRecord, older: readonly WriteRecord[], why: string): Step[] {
  const moved = older.filter((o) => o.step.op !== 'set' && o.step.bdf === pf).at(-1);
  if (rec.before === '0' && moved !== undefined && moved.before !== 'vfio-pci')
    return [
      {
        op: 'unbind',
        bdf: pf,
        driver: 'vfio-pci',
        why: `${why}: vfio-pci refuses sriov_numvfs with vfio_pci.enable_sriov off; unbinding the PF disables its VFs`,
      },
    ];
  throw new BringupError(
    `${pf} keeps its ${now} VF${now === '1' ? '' : 's'}: it is on vfio-pci and vfio_pci.enable_sriov is off, so vfio-pci refuses sriov_numvfs (ENOENT): \`echo 1 > ${VFIO_ENABLE_SRIOV}\` first (the journal is kept)`,
  );
}

/** The restore plan as --dry-run prints it: the writes undo would make if the kernel does as predicted. */
export function planRestore(fs: FileOps, records: WriteRecord[], label: string): Plan {
  const view = new PredictedView(new LiveView(new SysReader(fs)));
  const steps: Step[] = [];
  const newestFirst = [...records].reverse();
  for (const [i, rec] of newestFirst.entries()) {
    for (const s of undoSteps(view, rec, newestFirst.slice(i + 1))) {
      steps.push(s);
      view.apply(s);
    }
  }
  return {
    title: `undo ${records.length} journaled write${records.length === 1 ? '' : 's'} on ${label}`,
    steps,
    notes: [],
  };
}

/** Undoes one record: the writes that bring its target back, each verified; then marks it undone. */
function undoOne(
  r: SysReader,
  view: LiveView,
  journal: Journal,
  rec: WriteRecord,
  older: readonly WriteRecord[],
  hooks: ApplyHooks | undefined,
  say: (line: string) => void,
): number {
  let writes = 0;
  for (const step of undoSteps(view, rec, older)) {
    countWrite(hooks, 'before');
    const w = stepWrite(step);
    say(`+ ${formatStep(step)}`);
    r.fs.writeFile(w.path, w.data);
    countWrite(hooks, 'after');
    verify(r, step);
    view.apply(step);
    writes += 1;
  }
  journal.recordUndone(rec.seq);
  return writes;
}

/**
 * Undoes records newest first, each write verified, marking a record undone
 * in the journal as soon as its target is back. Throws at the first that
 * cannot be undone; a later restore resumes there. Returns the writes made.
 */
export function undoRecords(
  r: SysReader,
  journal: Journal,
  records: WriteRecord[],
  hooks: ApplyHooks | undefined,
  say: (line: string) => void,
): number {
  const view = new LiveView(r);
  let writes = 0;
  const newestFirst = [...records].reverse();
  for (const [i, rec] of newestFirst.entries())
    writes += undoOne(r, view, journal, rec, newestFirst.slice(i + 1), hooks, say);
  return writes;
}

/**
 * undoRecords for `iovh restore`: an aborted `interrupt` (SIGINT or SIGTERM,
 * src/cli/signals.ts) stops it between two records (Interrupted), with the journal saying which are undone, so that
 * the next restore goes on from there.
 */
export async function restoreRecords(
  r: SysReader,
  journal: Journal,
  records: WriteRecord[],
  hooks: ApplyHooks | undefined,
  say: (line: string) => void,
  interrupt?: AbortSignal,
): Promise<number> {
  const view = new LiveView(r);
  let writes = 0;
  let done = 0;
  const newestFirst = [...records].reverse();
  for (const [i, rec] of newestFirst.entries()) {
    const signal = await stopRequested(interrupt);
    if (signal !== null) throw new Interrupted(signal, done, records.length, 'journaled writes undone');
    writes += undoOne(r, view, journal, rec, newestFirst.slice(i + 1), hooks, say);
    done += 1;
  }
  return writes;
}
