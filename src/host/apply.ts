// Making a plan's writes: for each step, check that the machine is still as
// the plan predicted, journal what the write replaces (durably), write, and
// read back. A write the kernel clamped or ignored is a failure, as is a
// device that did not come or go as predicted (a write is
// verified by reading it back: docs/bringup.md "The plan and its order"). On a failure the steps of this command are undone in
// reverse (the transaction rolls back); when `interrupt` is aborted (SIGINT/SIGTERM,
// src/cli/signals.ts) the command stops between two steps and leaves its journal for `iovh restore`.
import type { FileOps } from '../backend/types.js';
import { SystemError, isErrno } from '../uapi/errors.js';
import { BringupError } from './errors.js';
import type { Journal } from './journal.js';
import { formatStep, isImplied, stepWrite, type Plan, type Step } from './plan.js';
import { undoRecords } from './restore.js';
import { SysReader, devicePath } from '../machine/sysfs.js';
import {
  Interrupted,
  stopRequested,
  countWrite,
  currentOf,
  describe,
  expectedBefore,
  verify,
  type ApplyHooks,
} from './writes.js';

export { Interrupted } from './writes.js';
export type { ApplyHooks } from './writes.js';

export interface ApplyOutput {
  /** One line per write as it is made (`+ echo 0 > ...`). */
  step(line: string): void;
}

/** The failed step, with what was rolled back. */
export class ApplyFailed extends BringupError {
  constructor(
    message: string,
    readonly rolledBack: boolean,
    /** The errno name of the write that failed, when the kernel refused it (EACCES, EPERM, ...). */
    readonly code: string | null = null,
    /** Writes the rollback made: 0 with rolledBack means nothing had changed. */
    readonly undone = 0,
    /** The file the failed step writes. */
    readonly path: string | null = null,
    /** What failed: the kernel's SystemError, or the BringupError of a read-back. */
    readonly failure: unknown = null,
  ) {
    super(message);
    this.name = 'ApplyFailed';
  }
}

/** One step: check, journal, write, verify. */
function applyStep(r: SysReader, journal: Journal, step: Step, hooks: ApplyHooks | undefined, out: ApplyOutput): void {
  const target = step.op === 'set' ? step.path : devicePath(step.bdf);
  let before: string;
  try {
    before = currentOf(r, step);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new BringupError(`${target} does not exist: the machine is not as planned`);
    throw e;
  }
  const predicted = expectedBefore(step);
  if (predicted !== null && before !== predicted) {
    throw new BringupError(
      `${target} is ${describe(step, before)}, not ${describe(step, predicted)} as planned: the machine changed; run the command again`,
    );
  }
  journal.recordWrite(step, before);
  if (isImplied(step)) return;
  countWrite(hooks, 'before');
  const w = stepWrite(step);
  out.step(`+ ${formatStep(step)}`);
  r.fs.writeFile(w.path, w.data);
  countWrite(hooks, 'after');
  verify(r, step);
}

export interface ApplyOptions {
  hooks?: ApplyHooks;
  out: ApplyOutput;
  /** Called when a step failed and its command's steps are being undone. */
  rollbackNote?(line: string): void;
  /** Aborted (with the signal's name) to stop between two writes: Interrupted, the journal left for restore. */
  interrupt?: AbortSignal;
  /** The restore command for the journal's target (default \`iovh restore\`): named when rolling back fails. */
  restoreCommand?: string;
}

/**
 * Makes the plan's writes inside a journal session that the caller began.
 * Resolves with the number of writes made; rejects with Interrupted (journal
 * left for restore), ApplyFailed (rolled back, or not when the rollback
 * failed too), or the SystemError of a write.
 */
export async function applyPlan(fs: FileOps, plan: Plan, journal: Journal, options: ApplyOptions): Promise<number> {
  const r = new SysReader(fs);
  let done = 0;
  for (const step of plan.steps) {
    const signal = await stopRequested(options.interrupt);
    if (signal !== null) throw new Interrupted(signal, done, plan.steps.length);
    try {
      applyStep(r, journal, step, options.hooks, options.out);
    } catch (e) {
      const why = e instanceof SystemError || e instanceof BringupError ? e.message : String(e);
      const code = e instanceof SystemError ? e.code : null;
      const path = stepWrite(step).path;
      const failedAt = `step ${done + 1} of ${plan.steps.length} (${formatStep(step)}) failed: ${why}`;
      const mine = journal.sessionPending();
      if (mine.length === 0) throw new ApplyFailed(`${failedAt}; nothing was changed`, true, code, 0, path, e);
      let undone: number;
      try {
        undone = undoRecords(r, journal, mine, options.hooks, options.rollbackNote ?? (() => undefined));
      } catch (u) {
        const uwhy = u instanceof Error ? u.message : String(u);
        throw new ApplyFailed(
          `${failedAt}; rolling back also failed (${uwhy}); run \`${options.restoreCommand ?? 'iovh restore'}\``,
          false,
          code,
          0,
          path,
        );
      }
      const how = undone === 0 ? 'nothing was changed' : `rolled back with ${undone} write${undone > 1 ? 's' : ''}`;
      throw new ApplyFailed(`${failedAt}; ${how}`, true, code, undone, path, e);
    }
    done += 1;
  }
  return done;
}

/**
 * A plan applied for a while and then undone, in a journal session of its
 * own that stays open in between (the harness's changes to the machine:
 * lifecycle/vf-disable-while-imported). If the process dies in between, the
 * session is stale and `iovh restore` undoes it; undo() does it in-process.
 */
export class TemporaryChange {
  private constructor(
    private readonly r: SysReader,
    private readonly journal: Journal,
  ) {}

  /**
   * Begins a session named `command` and applies `plan` in it. A failed
   * step is rolled back and the session closed (rolled back, or failed with
   * the journal left for restore); the error is ApplyFailed as for applyPlan.
   */
  static async apply(
    fs: FileOps,
    plan: Plan,
    journal: Journal,
    command: string,
    options: ApplyOptions,
  ): Promise<TemporaryChange> {
    journal.begin(command);
    try {
      await applyPlan(fs, plan, journal, options);
    } catch (e) {
      const rolledBack = e instanceof ApplyFailed && e.rolledBack;
      journal.end(rolledBack ? 'rolled-back' : e instanceof Interrupted ? 'interrupted' : 'failed');
      if (rolledBack) journal.dropIfSettled();
      throw e;
    }
    return new TemporaryChange(new SysReader(fs), journal);
  }

  /**
   * Undoes the session's writes, newest first (restore.ts undoRecords), then
   * reads every target back: each must hold what the journal says it held
   * before (an implied step's device must exist again to be read). Returns
   * what still differs, empty when the machine is as it was; the session is
   * closed ok, or failed with what remains journaled for `iovh restore`.
   */
  undo(say: (line: string) => void): string[] {
    const records = this.journal.sessionPending();
    const problems: string[] = [];
    try {
      undoRecords(this.r, this.journal, records, undefined, say);
    } catch (e) {
      problems.push(`the journaled restore stopped: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (problems.length === 0) problems.push(...differences(this.r, records));
    this.journal.end(problems.length === 0 ? 'ok' : 'failed');
    if (problems.length === 0) this.journal.dropIfSettled();
    return problems;
  }
}

/** Targets of `records` that do not read what they held before the records' writes. */
function differences(r: SysReader, records: readonly { step: Step; before: string }[]): string[] {
  const out: string[] = [];
  for (const { step, before } of records) {
    // A quota released with its VF reads 0 while the VF is gone: what undo restores is the VF's, checked with it.
    if (step.op === 'set' && step.enabledVf) {
      const n = r.maybe(devicePath(step.enabledVf.pf, 'sriov_numvfs'));
      if (n !== null && Number(n) < step.enabledVf.id) continue;
    }
    let now: string;
    try {
      now = currentOf(r, step);
    } catch (e) {
      out.push(
        `${step.op === 'set' ? step.path : devicePath(step.bdf)} cannot be read: ${e instanceof Error ? e.message : String(e)}`,
      );
      continue;
    }
    if (now !== before)
      out.push(
        `${step.op === 'set' ? step.path : `${step.bdf} driver`} is ${describe(step, now)}, was ${describe(step, before)}`,
      );
  }
  return out;
}
