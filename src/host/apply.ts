// Making a plan's writes: for each step, check that the machine is still as
// the plan predicted, journal what the write replaces (durably), write, and
// read back. A write the kernel clamped or ignored is a failure, as is a
// device that did not come or go as predicted (the xe-gmi `write_verified`
// rule, anchors A9.2). On a failure the steps of this command are undone in
// reverse (the transaction rolls back); when `interrupt` is aborted (SIGINT/SIGTERM,
// src/cli/signals.ts) the command stops between two steps and leaves its journal for `iovh restore`.
import type { FileOps } from '../backend/types.js';
import { SystemError, isErrno } from '../uapi/errors.js';
import { BringupError } from './errors.js';
import type { Journal } from './journal.js';
import { formatStep, stepWrite, type Plan, type Step } from './plan.js';
import { undoRecords } from './restore.js';
import { SysReader, devicePath } from './sysfs.js';
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
      const failedAt = `step ${done + 1} of ${plan.steps.length} (${formatStep(step)}) failed: ${why}`;
      const mine = journal.sessionPending();
      if (mine.length === 0) throw new ApplyFailed(`${failedAt}; nothing was changed`, true);
      let undone: number;
      try {
        undone = undoRecords(r, journal, mine, options.hooks, options.rollbackNote ?? (() => undefined));
      } catch (u) {
        const uwhy = u instanceof Error ? u.message : String(u);
        throw new ApplyFailed(`${failedAt}; rolling back also failed (${uwhy}); run \`iovh restore\``, false);
      }
      const how = undone === 0 ? 'nothing was changed' : `rolled back with ${undone} write${undone > 1 ? 's' : ''}`;
      throw new ApplyFailed(`${failedAt}; ${how}`, true);
    }
    done += 1;
  }
  return done;
}
