// Resuming a run that did not finish (`iovh run --resume results.json`), as
// IGT's igt_resume does for a tool that deliberately crashes kernels: the
// results file of the interrupted run says what has a result, what never ran
// (`pending`, and `notRun` results of an interrupted run) and which scenario
// was running when it stopped (`running`). The resumed run runs the rest with
// the first run's choices (filters, timeout, PF/VF, baseline) and the two
// merge into one result.
//
// The scenario that was running is the delicate one. If the machine went down
// during it (the boot id changed: a kernel crash with panic_on_oops, a
// watchdog, a power cut), running it again would most likely take the
// machine down again, forever under a lab that reboots and resumes: it is
// recorded as a crash instead, naming the known defects its oops shows when
// the previous boot's log is in pstore (/sys/fs/pstore/dmesg-*). If the
// machine kept running (same boot id), iovh itself died and the scenario runs
// again.

import type { Backend } from '../backend/types.js';
import { judge, type Baseline } from '../harness/baseline.js';
import { scenarioById } from '../harness/catalog/index.js';
import { isComplaintLine } from '../harness/monitors.js';
import { QUIRKS, quirksOfOops } from '../harness/quirks.js';
import { summarize } from '../harness/summary.js';
import { InputError } from '../host/errors.js';
import { emptyCleanliness, type RunResult, type ScenarioResult } from '../report/model.js';

export interface ResumePlan {
  previous: RunResult;
  /** Scenario ids to run, in the first run's order. */
  todo: string[];
  /** Results made here: the scenario that was running when the machine went down. */
  made: ScenarioResult[];
  notices: string[];
  startedAt: string;
  bootId: string | null;
}

export interface ResumeContext {
  backend: string;
  profile: string | null;
  release: string | null;
  bootId: string | null;
  baseline: Baseline | null;
  /** The previous boot's kernel log from pstore, when there is one. */
  pstore: string[];
}

const notRun = (r: ScenarioResult): boolean => r.evidence.notRun === true;

/** The previous boot's kernel log as pstore kept it (ramoops or EFI), newest records last; empty without pstore. */
export function readPstore(backend: Backend): string[] {
  const dir = '/sys/fs/pstore';
  let names: string[];
  try {
    names = backend.fs.readdir(dir).filter((n) => /^dmesg-/.test(n));
  } catch {
    return [];
  }
  const lines: string[] = [];
  for (const n of names.sort()) {
    try {
      lines.push(...backend.fs.readText(`${dir}/${n}`).split('\n'));
    } catch {
      // a record that cannot be read (compressed without the kernel's support): the others still tell
    }
  }
  return lines.filter((l) => l.trim() !== '');
}

function wentDown(id: string, prev: RunResult, ctx: ResumeContext): ScenarioResult {
  const scenario = scenarioById(id);
  const before = prev.kernel.bootId ?? null;
  const how =
    before !== null && ctx.bootId !== null
      ? `the machine went down while it ran (boot id ${before} then ${ctx.bootId})`
      : 'the run stopped while it ran and this machine cannot tell whether it went down (no boot id)';
  const oops = ctx.pstore.filter(isComplaintLine);
  const quirks = quirksOfOops(ctx.pstore).map((q) => ({
    id: QUIRKS[q].id,
    number: QUIRKS[q].number,
    title: QUIRKS[q].title,
    evidence: 'the oops in the previous boot kept by pstore',
  }));
  const r: ScenarioResult = {
    id,
    title: scenario?.title ?? id,
    status: 'crash',
    path: null,
    expectedPath: scenario?.expectedPath ?? null,
    reason: `${how}: a kernel crash, a watchdog or a power cut; iovh run --resume did not run it again${oops[0] ? `; pstore: ${oops[0]}` : ''}`,
    skip: null,
    quirks,
    bugs: [],
    evidence: { diedDuring: true, bootIdBefore: before, bootIdAfter: ctx.bootId, pstoreLines: ctx.pstore.length },
    cleanliness: { ...emptyCleanliness(), kernelComplaints: oops.slice(0, 50) },
    startedAt: prev.finishedAt,
    durationMs: 0,
    timeoutMs: Math.round(prev.options.timeoutSec * 1000),
    baseline: null,
    log: ctx.pstore.slice(-200),
    error: null,
    cleanup: { ran: 0, failed: [] },
  };
  if (ctx.baseline)
    r.baseline = judge(
      ctx.baseline.scenarios.get(id),
      'crash',
      quirks.map((q) => q.id),
    );
  return r;
}

/** What to run to finish `prev`, or why it cannot be finished here (InputError). */
export function planResume(prev: RunResult, ctx: ResumeContext): ResumePlan {
  // The report names the backend it was made on (iovh-run/1's backend field, filled from Backend.traits).
  const { name: madeOn } = prev.backend;
  if (madeOn !== ctx.backend)
    throw new InputError(
      `the results were made on the ${madeOn} backend; this run would use ${ctx.backend}: resume with --backend ${madeOn}`,
    );
  if (prev.backend.profile !== ctx.profile)
    throw new InputError(
      `the results were made with mock profile ${prev.backend.profile}; this run would use ${ctx.profile}: resume with --profile ${prev.backend.profile}`,
    );
  if (prev.kernel.release !== null && ctx.release !== null && prev.kernel.release !== ctx.release)
    throw new InputError(
      `the results were made on kernel ${prev.kernel.release}; this is ${ctx.release}: resume on the kernel the run judged`,
    );
  const notices: string[] = [];
  const unfinished = [...prev.scenarios.filter(notRun).map((r) => r.id), ...prev.pending];
  const todo: string[] = [];
  const made: ScenarioResult[] = [];
  const running = prev.running ?? null;
  for (const id of unfinished) {
    if (!scenarioById(id)) {
      notices.push(`${id} is not in this version's catalog: it stays without a result`);
      continue;
    }
    if (id !== running) {
      todo.push(id);
      continue;
    }
    const before = prev.kernel.bootId ?? null;
    if (before !== null && ctx.bootId !== null && before === ctx.bootId) {
      notices.push(`${id} was running when the run stopped and the machine kept running (same boot): running it again`);
      todo.push(id);
    } else {
      const r = wentDown(id, prev, ctx);
      made.push(r);
      notices.push(`${id} was running when the run stopped: ${r.reason}`);
    }
  }
  if (unfinished.length === 0) notices.push('nothing to resume: every scenario of the run has a result');
  return { previous: prev, todo, made, notices, startedAt: new Date().toISOString(), bootId: ctx.bootId };
}

/**
 * The first run with the resumed one's results merged in, in the first run's
 * order. `now` is the resumed run (a partial one while it goes), or null when
 * nothing was left to run.
 */
export function mergeResumed(plan: ResumePlan, now: RunResult | null): RunResult {
  const prev = plan.previous;
  if (now === null && plan.made.length === 0 && plan.todo.length === 0) return prev;
  const byId = new Map<string, ScenarioResult>();
  for (const r of prev.scenarios) if (!notRun(r)) byId.set(r.id, r);
  for (const r of plan.made) byId.set(r.id, r);
  for (const r of now?.scenarios ?? []) byId.set(r.id, r);
  const order = [...new Set([...prev.scenarios.map((r) => r.id), ...prev.pending])];
  const scenarios = order.filter((id) => byId.has(id)).map((id) => byId.get(id)!);
  const pending = now ? now.pending : [];
  const interrupted = now?.interrupted ?? null;
  const ran = (now?.scenarios ?? []).filter((r) => !notRun(r)).map((r) => r.id);
  return {
    ...prev,
    finishedAt: now?.finishedAt ?? new Date().toISOString(),
    durationMs: prev.durationMs + (now?.durationMs ?? 0),
    scenarios,
    summary: summarize(scenarios, interrupted, { pending, allowSkips: prev.summary.skipsAllowed === true }),
    interrupted,
    complete: pending.length === 0,
    pending,
    running: now?.running ?? null,
    resumed: [
      ...(prev.resumed ?? []),
      { startedAt: plan.startedAt, bootId: plan.bootId, scenarios: ran, wentDown: plan.made.map((r) => r.id) },
    ],
    kernelLog: [...new Set([...prev.kernelLog, ...(now?.kernelLog ?? [])])].slice(0, 200),
  };
}
