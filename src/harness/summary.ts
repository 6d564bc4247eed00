// The run's summary and exit status (the table: src/report/exit.ts): 0 no
// unexpected failure; 1 an unexpected fail/warn/crash/timeout, or a scenario
// the baseline expects to pass skipped (a lab whose tracefs disappeared must
// not stay green; --allow-skips accepts such skips); 77 everything skipped;
// 130/143 when SIGINT/SIGTERM stopped the run. Usage errors (2) never get
// this far.

import {
  isBad,
  STATUSES,
  VERDICTS,
  type RunSummary,
  type ScenarioResult,
  type Status,
  type Verdict,
} from '../report/model.js';
import { EXIT, signalExit } from '../report/exit.js';

/** The capability probe is bookkeeping, not a verdict: "everything skipped" ignores it. */
export const CAPS_ID = 'caps/kernel';

/**
 * The capability a scenario skips on when the machine lacks a shape it needs
 * (steps.ts skipForShape): a fact of the machine it was given, named with how
 * to get one that has it, not a capability the kernel lost. A scenario the
 * baseline expects to pass that skips for it does not fail the run.
 */
export const SHAPE_CAPABILITY = 'shape';

/** A bad status that no baseline entry expects (with no baseline, every bad status). */
export function isUnexpected(r: ScenarioResult): boolean {
  return isBad(r.status) && r.baseline?.verdict !== 'expected';
}

export interface SummaryOptions {
  /**
   * Scenarios without a result yet: the summary of a report written while the
   * run goes on (RunResult.complete false). Such a report never says exit 0:
   * if it is the last one written, the run died before it finished.
   */
  pending?: readonly string[];
  /** --allow-skips: a scenario the baseline expects to pass may skip without making the run fail. */
  allowSkips?: boolean;
}

/**
 * Skipped where the baseline expects a pass (a scenario the run never reached
 * is not counted: it says so itself; nor one the machine has no shape for).
 */
export function isSkippedPass(r: ScenarioResult): boolean {
  return (
    r.status === 'skip' &&
    r.baseline?.expected === 'pass' &&
    r.evidence.notRun !== true &&
    r.skip?.capability !== SHAPE_CAPABILITY
  );
}

export function summarize(
  results: readonly ScenarioResult[],
  interrupted: { signal: string } | null,
  options: SummaryOptions = {},
): RunSummary {
  const pending = options.pending ?? [];
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  const byVerdict = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  for (const r of results) {
    byStatus[r.status] += 1;
    if (r.baseline) byVerdict[r.baseline.verdict] += 1;
  }
  const unexpected = results.filter(isUnexpected).map((r) => r.id);
  const skippedPasses = results.filter(isSkippedPass).map((r) => r.id);
  const skipsAllowed = options.allowSkips === true;
  const skipsFail = skippedPasses.length > 0 && !skipsAllowed;
  const skippedLine = `${skippedPasses.length} ${skippedPasses.length === 1 ? 'scenario' : 'scenarios'} the baseline expects to pass skipped: ${skippedPasses.join(', ')}`;
  const verdicts = results.filter((r) => r.id !== CAPS_ID);
  let exitCode: number;
  let exitReason: string;
  if (interrupted) {
    exitCode = signalExit(interrupted.signal);
    exitReason = `interrupted by ${interrupted.signal}: results are partial`;
  } else if (pending.length > 0) {
    exitCode = EXIT.FAILED;
    const so = unexpected.length > 0 ? `; so far ${unexpected.length} unexpected: ${unexpected.join(', ')}` : '';
    exitReason = `incomplete: ${pending.length} of ${results.length + pending.length} scenarios have no result (the run had not finished when this was written)${so}`;
  } else if (unexpected.length > 0 || skipsFail) {
    exitCode = EXIT.FAILED;
    const parts: string[] = [];
    for (const r of results.filter((x) => x.evidence.notRestored !== undefined))
      parts.push(
        `${r.id} left the machine changed, so the scenarios after it were not run: put it back (\`iovh restore\` undoes what is journaled) before another run`,
      );
    if (unexpected.length > 0)
      parts.push(
        `${unexpected.length} unexpected ${unexpected.length === 1 ? 'result' : 'results'}: ${unexpected.join(', ')}`,
      );
    if (skipsFail) parts.push(`${skippedLine} (--allow-skips accepts that)`);
    exitReason = parts.join('; ');
  } else if (verdicts.length > 0 && verdicts.every((r) => r.status === 'skip')) {
    exitCode = EXIT.SKIPPED;
    exitReason = 'every scenario was skipped: nothing was validated';
  } else {
    exitCode = EXIT.OK;
    const expectedBad = results.filter((r) => isBad(r.status)).length;
    exitReason =
      expectedBad > 0
        ? `no unexpected result (${expectedBad} known ${expectedBad === 1 ? 'failure' : 'failures'} match the baseline)`
        : 'no unexpected result';
    if (skippedPasses.length > 0) exitReason += `; ${skippedLine}, accepted by --allow-skips`;
  }
  return { total: results.length, byStatus, byVerdict, unexpected, skippedPasses, skipsAllowed, exitCode, exitReason };
}
