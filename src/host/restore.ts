// Undoing journaled writes, newest first, each verified by reading back
// (anchors §(d).4; the VFIO selftests' cleanup.sh replays its records the
// same way). Undo is by state, not by replaying inverse writes blindly: a
// record whose target already holds what the write replaced needs nothing,
// which is what makes restore safe after a kill between a journal entry and
// its write, and after a restore that was itself interrupted.
import type { FileOps } from '../backend/types.js';
import { isErrno } from '../kernel/errors.js';
import { formatBdf, parseBdf, vfAddress } from './bdf.js';
import { BringupError } from './errors.js';
import type { Journal, WriteRecord } from './journal.js';
import { canonical, formatStep, stepWrite, type AttrKind, type Plan, type Step } from './plan.js';
import { SysReader, devicePath, parseDecimal } from './sysfs.js';
import { Interrupted, SignalWatch, countWrite, verify, type ApplyHooks } from './writes.js';

/** What undo needs to know about the machine: the live kernel, or a prediction on top of it (--dry-run). */
export interface StateView {
  /** An attribute's canonical text, or null when the file does not exist. */
  attr(path: string, kind: AttrKind): string | null;
  /** The driver a device is bound to ('' for none). */
  driver(bdf: string): string;
  exists(bdf: string): boolean;
  /**
   * False for a VRAM quota whose value xe chose itself after this restore
   * changed the VF count (auto-provisioning, kernel-abi §9): restore then
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

/** The PF whose VRAM quota a step writes, or null. */
function quotaPf(step: Step): string | null {
  if (step.op !== 'set' || step.kind !== 'u64') return null;
  if (step.enabledVf) return step.enabledVf.pf;
  const m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/sriov_admin\//.exec(step.path) ?? /^\/sys\/kernel\/debug\/dri\/([^/]+)\/sriov\//.exec(step.path);
  return m ? m[1]! : null;
}

/** Which PFs' VF counts this restore changed, for StateView.known. */
class Recount {
  private readonly pfs = new Set<string>();

  note(step: Step): void {
    const pf = numvfsPf(step);
    if (pf) this.pfs.add(pf);
  }

  known(step: Step): boolean {
    const pf = quotaPf(step);
    return pf === null || !this.pfs.has(pf);
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
        if (step.kind === 'count' && step.path.endsWith('/sriov_numvfs')) this.numvfs(step.path.split('/')[5]!, Number(step.value));
        return;
      case 'unbind':
        this.drivers.set(step.bdf, '');
        return;
      case 'bind':
      case 'probe':
        this.drivers.set(step.bdf, step.driver);
        return;
    }
  }

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
    // xe provisions new VFs itself (kernel-abi §9): their quotas are unknown until read.
    for (const [path] of this.attrs) if (path.includes('/sriov_admin/vf') || path.includes(`/dri/${pf}/`)) this.attrs.delete(path);
  }
}

/** The writes that take one journal record back to what it replaced, given what its target holds now. */
export function undoSteps(view: StateView, rec: WriteRecord): Step[] {
  const step = rec.step;
  const why = `undo #${rec.seq}`;
  if (step.op === 'set') {
    if (step.enabledVf) {
      // The quota belonged to an enabled VF; with the VF gone the kernel released it, and
      // writing the old value now would preset a quota for a VF that has none (kernel-abi §9).
      const numvfs = view.attr(devicePath(step.enabledVf.pf, 'sriov_numvfs'), 'count');
      if (numvfs !== null && Number(numvfs) < step.enabledVf.id) return [];
    }
    const now = view.attr(step.path, step.kind);
    if (now === rec.before && view.known(step)) return [];
    if (now === null) {
      // The attribute went away with its device (a VF removed after this write): nothing is left to restore on it.
      if (/\/driver_override$/.test(step.path) || step.path.includes('/sriov_admin/vf') || step.path.includes('/sys/kernel/debug/')) return [];
      throw new BringupError(`cannot restore ${step.path} to '${rec.before}': it no longer exists`);
    }
    const back: Step = { ...step, value: rec.before, before: now, why };
    // A VF count changes only through 0 (EBUSY otherwise, kernel-abi §9).
    if (step.kind === 'count' && now !== '0' && rec.before !== '0') return [{ ...step, value: '0', before: now, why }, { ...back, before: '0' }];
    return [back];
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

/** The restore plan as --dry-run prints it: the writes undo would make if the kernel does as predicted. */
export function planRestore(fs: FileOps, records: WriteRecord[], label: string): Plan {
  const view = new PredictedView(new LiveView(new SysReader(fs)));
  const steps: Step[] = [];
  for (const rec of [...records].reverse()) {
    for (const s of undoSteps(view, rec)) {
      steps.push(s);
      view.apply(s);
    }
  }
  return { title: `undo ${records.length} journaled write${records.length === 1 ? '' : 's'} on ${label}`, steps, notes: [] };
}

/** Undoes one record: the writes that bring its target back, each verified; then marks it undone. */
function undoOne(r: SysReader, view: LiveView, journal: Journal, rec: WriteRecord, hooks: ApplyHooks | undefined, say: (line: string) => void): number {
  let writes = 0;
  for (const step of undoSteps(view, rec)) {
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
export function undoRecords(r: SysReader, journal: Journal, records: WriteRecord[], hooks: ApplyHooks | undefined, say: (line: string) => void): number {
  const view = new LiveView(r);
  let writes = 0;
  for (const rec of [...records].reverse()) writes += undoOne(r, view, journal, rec, hooks, say);
  return writes;
}

/**
 * undoRecords for `iovh restore`: SIGINT or SIGTERM stops it between two
 * records (Interrupted), with the journal saying which are undone, so that
 * the next restore goes on from there.
 */
export async function restoreRecords(r: SysReader, journal: Journal, records: WriteRecord[], hooks: ApplyHooks | undefined, say: (line: string) => void): Promise<number> {
  const view = new LiveView(r);
  const signals = new SignalWatch();
  let writes = 0;
  let done = 0;
  try {
    for (const rec of [...records].reverse()) {
      if (await signals.stopRequested()) throw new Interrupted(signals.signal!, done, records.length, 'journaled writes undone');
      writes += undoOne(r, view, journal, rec, hooks, say);
      done += 1;
    }
    return writes;
  } finally {
    signals.stop();
  }
}
