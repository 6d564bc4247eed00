// One scenario inside its own process (executor.ts runs this in a child node
// process on native, in a process of the mock kernel on the mock): the
// scenario, its cleanup stack, what to do when the runner asks it to stop,
// and what the process itself leaves behind (its fds on kernel objects, the
// dma-buf objects it still holds). Everything the kernel decides about the
// window as a whole (the log, taint, kmemleak, buffers that outlive the
// process) stays with the runner, which watches from outside the process.

import type { Backend } from '../backend/types.js';
import type { BufinfoObject } from '../uapi/bufinfo.js';
import { SystemError } from '../uapi/errors.js';
import type { BugFinding, JsonObject, PathClass, QuirkFinding, ScenarioError } from '../report/model.js';
import type { Capabilities } from './caps.js';
import { Context } from './context.js';
import { BUFINFO, codeOf, describeBuffer, KmsgMonitor, openKernelFds, readBufinfo } from './monitors.js';
import type { RecordEvent } from './record.js';
import { SkipScenario, type Scenario } from './scenario.js';
import type { Timing } from './timing.js';

/** What the runner hands a scenario process (structured-clone safe: it crosses the IPC channel on native). */
export interface ScenarioJob {
  scenarioId: string;
  caps: Capabilities;
  timing: Timing;
  /** The kmsg sequence number the runner's window starts after (ctx.kmsgSinceStart). */
  kmsgStart: number;
}

export type JobOutcome =
  | { kind: 'done' }
  | { kind: 'skip'; capability: string; why: string; enable: string }
  | { kind: 'threw'; error: ScenarioError }
  /** The runner asked the process to stop (timeout, interrupt) before the scenario returned. */
  | { kind: 'stopped' };

export interface JobReport {
  outcome: JobOutcome;
  /** False when a stopped scenario had still not unwound after its cleanups and the grace period. */
  settled: boolean;
  cleanup: { ran: number; failed: string[] };
  /** What the process left: its fds on kernel objects, dma-bufs new since it started, what it could not check. */
  leftovers: { fdsLeft: string[]; dmabufsLeft: string[]; unavailable: string[] };
  /** The final record (the events sent on the way may predate later changes to a recorded value). */
  record: {
    evidence: JsonObject;
    failures: string[];
    quirks: QuirkFinding[];
    bugs: BugFinding[];
    notes: string[];
    path: PathClass | null;
  };
}

export function errorOf(e: unknown): ScenarioError {
  if (e instanceof SystemError) {
    return { kind: 'kernel', message: e.message, code: e.code, stack: null };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'harness', message: `${err.name}: ${err.message}`, code: null, stack: err.stack ?? null };
}

function outcomeOf(e: unknown): JobOutcome {
  if (e instanceof SkipScenario) return { kind: 'skip', capability: e.capability, why: e.why, enable: e.enable };
  return { kind: 'threw', error: errorOf(e) };
}

function sleep(ms: number): Promise<'grace'> {
  return new Promise((resolve) => setTimeout(() => resolve('grace'), ms));
}

export interface JobIo {
  /** The process the scenario runs in. */
  pid: number;
  /** Each record event, as it happens. */
  sink: (e: RecordEvent) => void;
  /** Aborted (with the reason) when the runner wants the scenario stopped: its cleanups then run. */
  stop: AbortSignal;
}

/** Run `scenario` on `backend` (the scenario process's own) until it returns or is stopped, then its cleanups. */
export async function runJob(backend: Backend, scenario: Scenario, job: ScenarioJob, io: JobIo): Promise<JobReport> {
  const fs = backend.fs;
  const unavailable: string[] = [];
  let fdsBefore: Map<number, string> | null = null;
  try {
    fdsBefore = openKernelFds(fs);
  } catch (e) {
    unavailable.push(`/proc/self/fd unreadable (${codeOf(e)})`);
  }
  const bufsBefore: Map<number, BufinfoObject> | null = readBufinfo(fs);
  const kmsg = KmsgMonitor.open(fs);
  const ctx = new Context(
    backend,
    job.caps,
    job.caps.target,
    job.timing,
    kmsg,
    job.kmsgStart,
    scenario.expectedPath,
    io.pid,
    io.sink,
  );

  const run: Promise<JobOutcome> = (async () => scenario.run(ctx))().then(
    (): JobOutcome => ({ kind: 'done' }),
    (e: unknown): JobOutcome => outcomeOf(e),
  );
  let onStop: (() => void) | undefined;
  const stopped = new Promise<'stopped'>((resolve) => {
    onStop = () => resolve('stopped');
    if (io.stop.aborted) onStop();
    else io.stop.addEventListener('abort', onStop, { once: true });
  });
  const first = await Promise.race([run, stopped]);
  if (onStop) io.stop.removeEventListener('abort', onStop);
  let outcome: JobOutcome;
  if (first === 'stopped') {
    ctx.stop(String(io.stop.reason ?? 'stopped'));
    outcome = { kind: 'stopped' };
  } else outcome = first;

  const failed: string[] = [];
  let ran = 0;
  const runCleanups = async (): Promise<void> => {
    for (const c of ctx.takeCleanups()) {
      ran += 1;
      try {
        await c.fn();
      } catch (e) {
        failed.push(`${c.label}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  await runCleanups();
  let settled = true;
  if (outcome.kind === 'stopped') {
    // The cleanups may have unblocked the kernel call the scenario waited on (closing the xe handle lets a pending
    // VFIO reset finish, docs/kernel.md §11.6): let its code unwind, then clean what it opened since.
    settled = (await Promise.race([run, sleep(job.timing.graceMs)])) !== 'grace';
    await runCleanups();
    if (!settled) ctx.record('stillRunning', 'the scenario had not unwound after its cleanups and the grace period');
  }

  const fdsLeft: string[] = [];
  if (fdsBefore) {
    try {
      for (const [fd, target] of openKernelFds(fs))
        if (fdsBefore.get(fd) !== target) fdsLeft.push(`fd ${fd} -> ${target}`);
    } catch (e) {
      unavailable.push(`/proc/self/fd unreadable (${codeOf(e)})`);
    }
  }
  const dmabufsLeft: string[] = [];
  if (bufsBefore) {
    const after = readBufinfo(fs);
    if (after) {
      for (const [ino, o] of after) if (!bufsBefore.has(ino)) dmabufsLeft.push(describeBuffer(o));
    } else {
      unavailable.push(
        `${BUFINFO} unreadable at the end of the scenario: dma-buf objects left behind were not checked`,
      );
    }
  } else {
    unavailable.push(`${BUFINFO} unreadable (mount debugfs, CONFIG_DEBUG_FS)`);
  }
  const r = ctx.recorded;
  return {
    outcome,
    settled,
    cleanup: { ran, failed },
    leftovers: { fdsLeft, dmabufsLeft, unavailable },
    record: {
      evidence: r.evidence,
      failures: r.failures,
      quirks: r.quirks,
      bugs: r.bugs,
      notes: r.notes,
      path: r.path,
    },
  };
}
