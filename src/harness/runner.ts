// The runner: probes capabilities, then runs each scenario in a process of
// its own (executor.ts, IGT's runner model) inside the kernel monitors, turns
// what happened into a status (docs/internals.md "Principles"),
// judges it against the baseline, and collects everything into one RunResult,
// handing a partial one to `onPartial` after every scenario.
//
// A scenario that throws or times out is recorded and the run goes on. On
// timeout the scenario's process is asked to stop and runs its cleanups:
// cleanups are how a blocked kernel wait is unblocked (closing the xe handle
// lets a pending VFIO reset complete, docs/kernel.md §11.6); a process that does
// not finish them in time is killed. A process the kernel kills (an oops in
// its system call) is a crash with the log excerpt, and what it left in
// tracefs is removed here. On interrupt (SIGINT/SIGTERM, wired by the CLI
// through `interrupt`) the current scenario's cleanups run, the scenarios not
// reached are recorded as not run, and the partial result is returned.

import { channel } from 'node:diagnostics_channel';
import { undoRecords } from '../host/restore.js';
import { SysReader } from '../machine/sysfs.js';
import { Journal, stateDir } from '../host/journal.js';
import { detectShape } from '../shape/index.js';
import type { Backend } from '../backend/types.js';
import {
  emptyCleanliness,
  type Cleanliness,
  type RunResult,
  type ScenarioError,
  type ScenarioResult,
  type Status,
} from '../report/model.js';
import { judge, type Baseline } from './baseline.js';
import {
  CAPABILITY_NAMES,
  capabilitiesJson,
  probeCapabilities,
  topologyJson,
  type Capabilities,
  type Capability,
  type CapabilityName,
  type RunPolicy,
} from './caps.js';
import {
  BUFINFO,
  CRASH_TAINTS,
  describeBuffer,
  formatKmsg,
  isComplaintLine,
  isCrashLine,
  KmemleakMonitor,
  attributeKmemleak,
  kmemleakFailure,
  KmsgMonitor,
  readBufinfo,
  readTaint,
  taintLetters,
  type KmsgRecord,
} from './monitors.js';
import type { Scenario } from './scenario.js';
import { InProcessExecutor, type Execution, type Executor } from './executor.js';
import { errorOf, type JobReport, type ScenarioJob } from './job.js';
import { removeLeftovers, tracefsRoot } from './leftovers.js';
import { quirksOfOops, suspectsOf } from './quirks.js';
import { bugsOfKasan, kasanExcerpt } from './bugs.js';
import { defectEvent, named as namedIn, ScenarioRecord } from './record.js';
import { CAPS_ID } from './summary.js';
import { assembleRun, type MachineJson, type RunFrame } from './assemble.js';
import { kernelSleep, type Timing } from './timing.js';
import type { BufinfoObject } from '../uapi/bufinfo.js';

/**
 * Scenario boundaries in this process, for observers that are not the run's
 * caller (node:diagnostics_channel; nothing is built when nobody listens):
 * `{ phase: 'start' | 'done', id, status? }`. The QEMU CI's replay on the
 * mock takes code coverage per scenario at these (scripts/qemu-ci/coverage.mjs).
 */
export const SCENARIO_CHANNEL = channel('iovh:harness:scenario');

export interface ProgressSink {
  start(index: number, total: number, scenario: Scenario): void;
  done(index: number, total: number, result: ScenarioResult): void;
}

export interface RunnerOptions {
  backend: Backend;
  backendInfo: { name: string; reason: string; profile: string | null };
  /** In run order; caps/kernel (the capability probe) must be first when present. */
  scenarios: readonly Scenario[];
  timeoutMs: number;
  timing: Timing;
  /** The PF/VF asked for, and what the run may change (caps.ts RunPolicy; absent: DEFAULT_POLICY). */
  want: { pf: string | null; vf: string | null; policy?: RunPolicy };
  baseline: Baseline | null;
  filters: string[];
  setup: string[];
  toolVersion: string;
  /** --allow-skips: a scenario the baseline expects to pass may skip (summary.ts). */
  allowSkips?: boolean;
  /** Aborted with the signal's name (`SIGINT`, `SIGTERM`) to stop the run. */
  interrupt?: AbortSignal;
  progress?: ProgressSink;
  /** Where each scenario runs (default: InProcessExecutor, a mock kernel process; ChildProcessExecutor on native). */
  executor?: Executor;
  /** After each scenario: the run so far (complete: false while scenarios are pending), for reports that survive a dying run. */
  onPartial?: (run: RunResult) => void;
}

const LOG_CAP = 200;

const OOPS_COUNT = '/sys/kernel/oops_count';
/** How often the kernel is checked for an oops while a scenario runs. */
const OOPS_POLL_MS = 1000;

function readOopsCount(fs: Backend['fs']): number | null {
  try {
    const n = Number(fs.readText(OOPS_COUNT).trim());
    return Number.isInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

/** Capabilities when the probe itself failed: everything missing, citing that failure. */
function failedCapabilities(message: string): Capabilities {
  const cap: Capability = {
    ok: false,
    detail: `capability probe failed: ${message}`,
    enable: 'see the caps/kernel result',
  };
  const names: readonly CapabilityName[] = CAPABILITY_NAMES;
  return {
    release: null,
    version: null,
    cmdline: null,
    caps: Object.fromEntries(names.map((n) => [n, cap])) as Record<CapabilityName, Capability>,
    target: null,
    pfs: [],
    symbols: {
      readable: false,
      why: message,
      revision: null,
      rows: [],
      sgProbes: [],
      sg: { present: [], missing: [] },
      symbols: new Set(),
    },
    shape: detectShape({
      kallsyms: null,
      kallsymsError: message,
      probe: { result: 'not run', why: message },
      release: null,
    }),
    tracefsRoot: null,
    xeNode: null,
    vgemNode: null,
    drmNodes: [],
    iommuMode: 'unknown',
  };
}

/** What happened to a scenario, from its process's ending (executor.ts). */
type Outcome =
  | { kind: 'done' }
  | { kind: 'skip'; capability: string; why: string; enable: string }
  | { kind: 'threw'; error: ScenarioError }
  | {
      kind: 'timeout' | 'interrupted';
      signal: string | null;
      after: 'cleaned' | 'blocked' | 'killed' | 'wedged' | 'overran';
      waitedMs: number;
    }
  | { kind: 'killed'; signal: string; reason: string | null }
  | { kind: 'lost'; detail: string };

function outcomeOf(x: Execution): Outcome {
  const e = x.ending;
  if (e.kind === 'killed') return { kind: 'killed', signal: e.signal, reason: e.reason };
  if (e.kind === 'abandoned')
    return {
      kind: 'killed',
      signal: 'SIGKILL',
      reason: `by iovh as soon as the kernel oopsed: the oops ended the thread in the system call, not the process${e.reaped ? '' : `; the process did not die and was left behind`}`,
    };
  if (e.kind === 'lost') return { kind: 'lost', detail: e.detail };
  if (x.overranMs !== undefined && e.kind === 'reported')
    return { kind: 'timeout', signal: null, after: 'overran', waitedMs: x.overranMs };
  if (x.stopped) {
    const kind = x.stopped.kind;
    const signal = x.stopped.kind === 'interrupted' ? x.stopped.signal : null;
    if (e.kind === 'killedAfterStop') return { kind, signal, after: 'killed', waitedMs: e.waitedMs };
    if (e.kind === 'wedged') return { kind, signal, after: 'wedged', waitedMs: e.waitedMs };
    // A scenario that returned just as it was asked to stop still counts as stopped: its result came too late.
    return { kind, signal, after: e.report.settled ? 'cleaned' : 'blocked', waitedMs: 0 };
  }
  if (e.kind !== 'reported')
    return { kind: 'lost', detail: `the scenario process ended (${e.kind}) without being asked to stop` };
  const o = e.report.outcome;
  // 'stopped' without a stop request cannot happen: the process stops only when asked.
  return o.kind === 'stopped' ? { kind: 'lost', detail: 'the scenario process stopped without being asked to' } : o;
}

/**
 * The runner's window around a scenario: the kernel log, taint, kmemleak and
 * the dma-buf objects that outlive the scenario's process. The process
 * reports its own fds and the buffers it still held (job.ts).
 */
interface Window {
  kmsgStart: number;
  taint: number | null;
  /** /sys/kernel/oops_count at the start (Linux 6.2+), null when unreadable. */
  oopsCount: number | null;
  bufs: Map<number, BufinfoObject> | null;
  kmemleak: boolean;
  kmemleakWhy: string | null;
}

class Monitors {
  readonly kmsg: KmsgMonitor;
  readonly kmemleak: KmemleakMonitor;
  readonly complaints: string[] = [];

  constructor(private readonly backend: Backend) {
    this.kmsg = KmsgMonitor.open(backend.fs);
    this.kmemleak = KmemleakMonitor.open(backend.fs);
  }

  begin(withKmemleak: boolean): Window {
    const fs = this.backend.fs;
    let kmemleak = false;
    let kmemleakWhy: string | null = null;
    if (withKmemleak) {
      if (!this.kmemleak.available) kmemleakWhy = this.kmemleak.why;
      else {
        try {
          this.kmemleak.begin();
          kmemleak = true;
        } catch (e) {
          kmemleakWhy = kmemleakFailure(e).why;
        }
      }
    }
    return {
      kmsgStart: this.kmsg.position(),
      taint: readTaint(fs),
      oopsCount: readOopsCount(fs),
      bufs: readBufinfo(fs),
      kmemleak,
      kmemleakWhy,
    };
  }

  /**
   * Whether the kernel oopsed since the window began: the oops counter went
   * up (make_task_dead() counts every task an oops kills, kernel/exit.c), or,
   * without the counter, the taint gained D (oops_end() adds TAINT_DIE,
   * arch/x86/kernel/dumpstack.c). A KASAN report alone is neither (it taints
   * B and the task goes on), so a scenario living through one is not cut
   * short. Returns the log's crash line, or what showed it.
   */
  oopsed(w: Window): string | null {
    const fs = this.backend.fs;
    let how: string | null = null;
    if (w.oopsCount !== null) {
      const now = readOopsCount(fs);
      if (now !== null && now > w.oopsCount) how = `${OOPS_COUNT} went from ${w.oopsCount} to ${now}`;
    } else if (w.taint !== null && !taintLetters(w.taint).includes('D')) {
      const now = readTaint(fs);
      if (now !== null && taintLetters(now).includes('D')) how = 'the kernel was tainted D (died: an oops)';
    }
    if (how === null) return null;
    return this.kmsg.since(w.kmsgStart).find((r) => isCrashLine(r.text))?.text ?? how;
  }

  async end(
    w: Window,
    sleep: (ms: number) => Promise<void>,
    timing: Timing,
    pids: ReadonlySet<number> = new Set(),
    skipped = false,
  ): Promise<{
    cleanliness: Cleanliness;
    log: string[];
    records: KmsgRecord[];
    crash: string | null;
    blind: string | null;
  }> {
    const fs = this.backend.fs;
    const c = emptyCleanliness();
    const records = this.kmsg.since(w.kmsgStart);
    const log = records.map(formatKmsg);
    c.kernelComplaints = records.filter((r) => isComplaintLine(r.text)).map(formatKmsg);
    this.complaints.push(...c.kernelComplaints);
    if (!this.kmsg.available) c.unavailable.push(this.kmsg.why ?? 'kmsg');
    c.taint.before = w.taint;
    c.taint.after = readTaint(fs);
    if (w.taint !== null && c.taint.after !== null) {
      const before = new Set(taintLetters(w.taint));
      c.taint.added = taintLetters(c.taint.after).filter((l) => !before.has(l));
    } else {
      c.unavailable.push('/proc/sys/kernel/tainted unreadable');
    }
    if (w.bufs) {
      const after = readBufinfo(fs);
      if (after) {
        // After the scenario's process exited: a buffer still here outlived every file that referenced it.
        for (const [ino, o] of after)
          if (!w.bufs.has(ino)) c.dmabufsLeft.push(`${describeBuffer(o)} (still there after its process exited)`);
      } else {
        c.unavailable.push(
          `${BUFINFO} unreadable at the end of the scenario: dma-buf objects left behind were not checked`,
        );
      }
    } else {
      c.unavailable.push(`${BUFINFO} unreadable (mount debugfs, CONFIG_DEBUG_FS)`);
    }
    // A scenario that skipped made nothing for kmemleak to find: its closing scans (two, after the minimum
    // object age: seconds each on a sanitizer kernel under TCG) would measure nothing.
    if (w.kmemleak && !skipped) {
      await sleep(timing.kmemleakAgeMs);
      try {
        const who = attributeKmemleak(this.kmemleak.end(), pids);
        c.kmemleak = {
          measured: true,
          newObjects: who.ours.length,
          excerpt: who.ours.slice(0, 5).map((o) => o.lines.join(' | ')),
          elsewhere: who.pathElsewhere.length + who.unrelated.length,
        };
      } catch (e) {
        c.unavailable.push(kmemleakFailure(e).why);
      }
    } else if (w.kmemleakWhy) c.unavailable.push(w.kmemleakWhy);
    const crashLine = records.find((r) => isCrashLine(r.text));
    const crashTaint = c.taint.added.find((l) => CRASH_TAINTS.has(l));
    const crash = crashLine
      ? crashLine.text
      : crashTaint
        ? `kernel tainted ${crashTaint} (${crashTaint === 'D' ? 'died: an oops' : crashTaint === 'M' ? 'machine check' : 'bad page'})`
        : null;
    // Without the log, only a crash taint the kernel adds can show an oops: one it cannot add (the mask unreadable, or
    // already holding it from an earlier oops: taint letters never clear) would go unseen.
    let blind: string | null = null;
    if (!this.kmsg.available) {
      const noLog = `the kernel log could not be read (${this.kmsg.why ?? 'kmsg'})`;
      const held = c.taint.before !== null ? taintLetters(c.taint.before).filter((l) => CRASH_TAINTS.has(l)) : [];
      if (c.taint.before === null || c.taint.after === null) blind = `${noLog} and neither could the taint mask`;
      else if (held.length > 0 && !crashTaint)
        blind = `${noLog} and the kernel was tainted ${held.join('')} before this scenario (an earlier crash), so a new one cannot show in the taint mask`;
    }
    return { cleanliness: c, log: log.slice(-LOG_CAP), records, crash, blind };
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** What became of a process asked to stop. */
function afterStop(
  o: { after: 'cleaned' | 'blocked' | 'killed' | 'wedged' | 'overran'; waitedMs: number },
  pid: number,
): string {
  switch (o.after) {
    case 'cleaned':
      return 'cleanups ran';
    case 'overran':
      return `it ran ${seconds(o.waitedMs)} without once yielding to the timer (the mock's kernel calls are synchronous), so it finished and its cleanups ran before it could be stopped`;
    case 'blocked':
      return 'cleanups ran, and the scenario was still blocked after them';
    case 'killed':
      return `its process ${pid} had not finished its cleanups ${seconds(o.waitedMs)} later and was killed (SIGKILL)`;
    case 'wedged':
      return `its process ${pid} had not finished its cleanups ${seconds(o.waitedMs)} later, and did not die when killed (SIGKILL): it is stuck in the kernel (D state) and was left behind`;
  }
}

/**
 * The machine changes a dead scenario process had journaled and could not
 * undo itself (its cleanups died with it), undone now as `iovh restore`
 * would, so that the next scenario meets the machine the run started with:
 * on iovh's own machine only (the mock: RunPolicy.memoryJournal, or its state
 * file's journal), and only the dead scenario's session, never the bring-up's
 * writes. A shared machine's journal is left for `iovh restore`: after an
 * oops the user decides.
 */
function undoAfterKill(backend: Backend, caps: Capabilities, rec: ScenarioRecord, failures: string[]): void {
  const policy = caps.policy;
  if (!policy || backend.traits.shared) return;
  const lines: string[] = [];
  const r = new SysReader(backend.fs);
  try {
    if (policy.memoryJournal) {
      const journal = policy.memoryJournal;
      if (journal.sessionPending().length === 0) return;
      undoRecords(r, journal, journal.sessionPending(), undefined, (l) => lines.push(l));
      journal.end('interrupted');
    } else if (policy.journal) {
      const journal = Journal.open(stateDir(), policy.journal);
      const dead = new Set(journal.openSessions().map((s) => s.begin.session));
      const writes = journal.pending().filter((w) => dead.has(w.session));
      if (writes.length === 0) return;
      journal.begin('run: undo what a killed scenario changed');
      try {
        undoRecords(r, journal, writes, undefined, (l) => lines.push(l));
      } finally {
        journal.end('ok');
      }
    } else return;
  } catch (e) {
    failures.push(`undoing what the killed process had changed: ${e instanceof Error ? e.message : String(e)}`);
  }
  rec.apply({ t: 'record', key: 'restoredAfterKill', value: lines });
}

/** Name the defects an oops shows (its RIP site, the scenario's suspects) when the scenario could not. */
function nameOopsDefects(rec: ScenarioRecord, mon: { records: KmsgRecord[]; crash: string | null }, how: string): void {
  const named = [
    ...suspectsOf(rec.evidence).map((s) => ({ id: s.id, why: `${s.evidence}; ` })),
    ...quirksOfOops(mon.records.map((r) => r.text)).map((id) => ({ id, why: '' })),
  ];
  for (const { id, why } of named) {
    if (namedIn(rec, id)) continue;
    rec.apply(defectEvent(id, `${why}${how}: ${mon.crash}`));
  }
}

/** Pass/fail/skip/timeout from what the scenario did, then the monitors' warn/crash on top. */
function compose(
  outcome: Outcome,
  rec: ScenarioRecord,
  pid: number,
  timeoutMs: number,
  mon: { cleanliness: Cleanliness; records: KmsgRecord[]; crash: string | null; blind: string | null },
  cleanupFailures: string[],
): {
  status: Status;
  reason: string;
  error: ScenarioError | null;
  skip: { capability: string; enable: string } | null;
} {
  let status: Status;
  let reason: string;
  let error: ScenarioError | null = null;
  let skip: { capability: string; enable: string } | null = null;
  const firstFailure = (): string =>
    `${rec.failures[0]}${rec.failures.length > 1 ? ` (+${rec.failures.length - 1} more)` : ''}`;
  switch (outcome.kind) {
    case 'timeout':
      status = 'timeout';
      reason = `no result after ${seconds(timeoutMs)}; ${afterStop(outcome, pid)}`;
      if (rec.failures.length > 0) reason += `; before that: ${firstFailure()}`;
      break;
    case 'interrupted':
      status = 'skip';
      reason = `interrupted by ${outcome.signal ?? 'a signal'} before it finished; ${afterStop(outcome, pid)}`;
      rec.apply({ t: 'record', key: 'interrupted', value: true });
      break;
    case 'skip':
      status = 'skip';
      reason = outcome.why;
      skip = { capability: outcome.capability, enable: outcome.enable };
      if (rec.failures.length > 0) {
        status = 'fail';
        reason = firstFailure();
      }
      break;
    case 'threw':
      status = 'fail';
      error = outcome.error;
      reason =
        rec.failures.length > 0
          ? firstFailure()
          : error.kind === 'kernel'
            ? `unexpected ${error.message}`
            : `harness error: ${error.message}`;
      break;
    case 'killed': {
      const how = `the scenario's process ${pid} was killed (${outcome.signal}${outcome.reason ? `: ${outcome.reason}` : ''})`;
      rec.apply({ t: 'record', key: 'process', value: { pid, killed: outcome.signal, reason: outcome.reason } });
      if (mon.crash) {
        // The kernel killed it: an oops in its system call. The process cannot name the defect any more; the oops's site can (quirks.ts).
        nameOopsDefects(rec, mon, `${how} by the oops`);
        return { status: 'crash', reason: `kernel crashed: ${mon.crash}; ${how}`, error: null, skip: null };
      }
      // Blind: not a bug in iovh but a kernel interface that failed it; whether the kernel killed the process is unknown.
      const message = mon.blind
        ? `${how}; ${mon.blind}, so whether the kernel killed it is unknown`
        : `${how}, and the kernel log shows no oops, BUG or taint`;
      error = { kind: mon.blind ? 'kernel' : 'harness', message, code: null, stack: null };
      status = 'fail';
      reason = `harness error: ${message}`;
      break;
    }
    case 'lost':
      status = 'fail';
      error = { kind: 'harness', message: outcome.detail, code: null, stack: null };
      reason = `harness error: ${outcome.detail}`;
      break;
    case 'done':
      if (rec.failures.length > 0) {
        status = 'fail';
        reason = firstFailure();
      } else {
        status = 'pass';
        reason = rec.notes.length > 0 ? rec.notes.join('; ') : 'every check passed';
      }
      break;
  }
  // A KASAN report names its bug whoever printed it (the scenario's process may live through it): bugs.ts.
  const log = mon.records.map((r) => r.text);
  for (const { id, head } of bugsOfKasan(log)) {
    if (namedIn(rec, id)) continue;
    rec.apply(defectEvent(id, `the kernel reported "${head}"`));
    if (rec.evidence.kasanReport === undefined)
      rec.apply({ t: 'record', key: 'kasanReport', value: kasanExcerpt(log) });
  }
  const c = mon.cleanliness;
  if (mon.crash) {
    // An oops that killed only the thread in the system call (a multi-threaded process such as node lives on
    // until the timeout's SIGKILL) names its defect the same way.
    nameOopsDefects(rec, mon, "the scenario's system call died in the oops");
    const was = status === 'fail' ? `; ${reason}` : '';
    status = 'crash';
    reason = `kernel crashed: ${mon.crash}${was}`;
    return { status, reason, error, skip };
  }
  const complaints: string[] = [];
  if (c.kernelComplaints.length > 0)
    complaints.push(`kernel complained: ${c.kernelComplaints[0]!.replace(/^\[[^\]]*\]\s*/, '')}`);
  else if (c.taint.added.length > 0) complaints.push(`kernel taint added: ${c.taint.added.join('')}`);
  if (c.fdsLeft.length > 0)
    complaints.push(`left ${c.fdsLeft.length} fd${c.fdsLeft.length > 1 ? 's' : ''} open (${c.fdsLeft.join(', ')})`);
  if (c.dmabufsLeft.length > 0)
    complaints.push(
      `left ${c.dmabufsLeft.length} dma-buf${c.dmabufsLeft.length > 1 ? 's' : ''} behind (${c.dmabufsLeft.join('; ')})`,
    );
  if (
    c.kmemleak.measured &&
    (c.kmemleak.newObjects ?? 0) > 0 &&
    rec.quirks.every((q) => q.id !== 'ranges-leak') &&
    rec.bugs.every((b) => b.id !== 'p2p-sgt-leak')
  ) {
    complaints.push(`kmemleak reports ${c.kmemleak.newObjects} new unreferenced objects`);
  }
  if (cleanupFailures.length > 0) complaints.push(`cleanup failed: ${cleanupFailures[0]}`);
  if (complaints.length > 0 && (status === 'pass' || status === 'skip')) {
    const was = status === 'skip' ? ` (after skipping: ${reason})` : '';
    status = 'warn';
    reason = `${complaints.join('; ')}${was}`;
  }
  return { status, reason, error, skip };
}

/** The process's own leftovers and the runner's after-exit view, one list each (a buffer seen by both is named once). */
function mergeLeftovers(c: Cleanliness, x: Execution): void {
  if (x.ending.kind !== 'reported') return;
  const own = x.ending.report.leftovers;
  c.fdsLeft.push(...own.fdsLeft);
  const ino = (line: string): string => /^ino \d+/.exec(line)?.[0] ?? line;
  const seen = new Set(c.dmabufsLeft.map(ino));
  c.dmabufsLeft.push(...own.dmabufsLeft.filter((l) => !seen.has(ino(l))));
  for (const u of own.unavailable) if (!c.unavailable.includes(u)) c.unavailable.push(u);
}

export async function runScenarios(o: RunnerOptions): Promise<RunResult> {
  const frame: RunFrame = {
    startedAt: new Date(),
    t0: performance.now(),
    toolVersion: o.toolVersion,
    backend: o.backendInfo,
    options: { filters: o.filters, timeoutSec: o.timeoutMs / 1000, pf: o.want.pf, vf: o.want.vf },
    baseline: o.baseline,
    setup: o.setup,
    allowSkips: o.allowSkips === true,
  };
  const monitors = new Monitors(o.backend);
  const executor: Executor = o.executor ?? new InProcessExecutor();
  const results: ScenarioResult[] = [];
  let caps: Capabilities | null = null;
  let interrupted: { signal: string } | null = null;
  const total = o.scenarios.length;
  const interruptedBy = (): string | null => (o.interrupt?.aborted ? String(o.interrupt.reason ?? 'SIGINT') : null);
  const kernelLog = (): string[] => [...new Set(monitors.complaints)].slice(0, LOG_CAP);

  // A scenario that left the machine changed (state it could not put back, evidence `notRestored`): the scenarios
  // after it would run on another machine than the one given, so they do not run.
  let changedBy: string | null = null;
  try {
    for (let i = 0; i < total; i++) {
      const scenario = o.scenarios[i]!;
      // Let the event loop turn between scenarios, so that a signal that arrived during one is seen before the next starts.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const signal = interruptedBy();
      if (signal) {
        interrupted = { signal };
        results.push(
          notRun(scenario, `the run was interrupted by ${signal}`, 'run again without interrupting it', o.timeoutMs),
        );
        continue;
      }
      if (changedBy !== null) {
        results.push(
          notRun(
            scenario,
            `${changedBy} left the machine changed`,
            'put the machine back (iovh restore undoes what is journaled), then run again',
            o.timeoutMs,
          ),
        );
        continue;
      }
      o.progress?.start(i + 1, total, scenario);
      if (SCENARIO_CHANNEL.hasSubscribers) SCENARIO_CHANNEL.publish({ phase: 'start', id: scenario.id });
      const result = await runOne(scenario);
      results.push(result);
      if (SCENARIO_CHANNEL.hasSubscribers)
        SCENARIO_CHANNEL.publish({ phase: 'done', id: scenario.id, status: result.status });
      if (result.evidence.notRestored !== undefined) changedBy = scenario.id;
      o.progress?.done(i + 1, total, result);
      if (o.onPartial) {
        const pending = o.scenarios.slice(i + 1).map((s) => s.id);
        o.onPartial(
          assembleRun(frame, caps ? machineJson(caps) : null, {
            results,
            pending,
            interrupted: null,
            kernelLog: kernelLog(),
          }),
        );
      }
    }
  } finally {
    executor.close?.();
  }
  const lateSignal = interruptedBy();
  if (lateSignal && !interrupted) interrupted = { signal: lateSignal };

  async function runOne(scenario: Scenario): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const s0 = performance.now();
    let probeError: unknown = null;
    if (scenario.id === CAPS_ID || caps === null) {
      try {
        caps = probeCapabilities(o.backend, o.want);
      } catch (e) {
        caps = failedCapabilities(e instanceof Error ? e.message : String(e));
        if (scenario.id === CAPS_ID) probeError = e;
      }
    }
    // Every scenario runs on the machine given: one that lacks a shape it needs skips, saying how to get it.
    const backend = o.backend;
    const current: Capabilities = caps!;
    const mon = monitors;
    const window = mon.begin(scenario.kmemleak === true);
    const timeoutMs = o.timeoutMs;
    let x: Execution;
    if (probeError !== null) {
      x = {
        pid: process.pid,
        stopped: null,
        ending: { kind: 'reported', report: probeFailed(probeError) },
        record: new ScenarioRecord(),
      };
    } else {
      const job: ScenarioJob = {
        scenarioId: scenario.id,
        caps: current,
        timing: o.timing,
        kmsgStart: window.kmsgStart,
      };
      x = await executor.run(backend, scenario, job, {
        timeoutMs,
        ...(o.interrupt ? { interrupt: o.interrupt } : {}),
        watch: { everyMs: OOPS_POLL_MS, check: () => mon.oopsed(window) },
      });
    }
    const rec = x.record;
    const report = x.ending.kind === 'reported' ? x.ending.report : null;
    const cleanupFailures = [...(report?.cleanup.failed ?? [])];
    // What the scenario's process left in tracefs (all of it when the kernel or iovh killed it) goes now, named after its pid.
    const root = current.tracefsRoot ?? tracefsRoot(backend.fs);
    if (root && probeError === null) {
      const removal = removeLeftovers(backend.fs, root, (pid) => pid === x.pid);
      if (removal.removed.length > 0) rec.apply({ t: 'record', key: 'tracefsLeftovers', value: removal.removed });
      for (const f of removal.failed) cleanupFailures.push(`removing the tracefs leftovers of process ${x.pid}: ${f}`);
    }
    // A process the kernel (or iovh) killed never ran its cleanups: undo what it journaled in memory.
    if (x.ending.kind !== 'reported') undoAfterKill(backend, current, rec, cleanupFailures);
    const skipped = x.ending.kind === 'reported' && x.ending.report.outcome.kind === 'skip';
    const ended = await mon.end(window, (ms) => kernelSleep(backend, ms), o.timing, new Set([x.pid]), skipped);
    mergeLeftovers(ended.cleanliness, x);
    const composed = compose(outcomeOf(x), rec, x.pid, timeoutMs, ended, cleanupFailures);
    if (scenario.id === CAPS_ID) rec.apply({ t: 'record', key: 'capabilities', value: capabilitiesJson(current) });
    if (rec.failures.length > 1) rec.apply({ t: 'record', key: 'failures', value: [...rec.failures] });
    let baseline = o.baseline
      ? judge(
          o.baseline.scenarios.get(scenario.id),
          composed.status,
          [...rec.quirks, ...rec.bugs].map((q) => q.id),
          [...o.baseline.quirks, ...o.baseline.bugs],
        )
      : null;
    // Whatever the kernel did, a machine left changed is never what a baseline expects.
    const notRestored = rec.evidence.notRestored;
    if (baseline && notRestored !== undefined)
      baseline = {
        ...baseline,
        verdict: 'regression',
        note: `it left the machine changed: ${Array.isArray(notRestored) ? notRestored.join('; ') : String(notRestored)}`,
      };
    return {
      id: scenario.id,
      title: scenario.title,
      status: composed.status,
      path: rec.path,
      expectedPath: scenario.expectedPath,
      reason: composed.reason,
      skip: composed.skip,
      quirks: rec.quirks,
      bugs: rec.bugs,
      evidence: rec.evidence,
      cleanliness: ended.cleanliness,
      startedAt,
      durationMs: Math.round((performance.now() - s0) * 1000) / 1000,
      timeoutMs,
      baseline,
      log: ended.log,
      error: composed.error,
      cleanup: { ran: report?.cleanup.ran ?? 0, failed: cleanupFailures },
    };
  }

  function notRun(scenario: Scenario, why: string, enable: string, timeoutMs: number): ScenarioResult {
    const r: ScenarioResult = {
      id: scenario.id,
      title: scenario.title,
      status: 'skip',
      path: null,
      expectedPath: scenario.expectedPath,
      reason: `not run: ${why}`,
      skip: { capability: 'run', enable },
      quirks: [],
      bugs: [],
      evidence: { notRun: true },
      cleanliness: emptyCleanliness(),
      startedAt: new Date().toISOString(),
      durationMs: 0,
      timeoutMs,
      baseline: null,
      log: [],
      error: null,
      cleanup: { ran: 0, failed: [] },
    };
    if (o.baseline) r.baseline = judge(o.baseline.scenarios.get(scenario.id), 'skip', []);
    return r;
  }

  const finalCaps = caps ?? failedCapabilities('no scenario ran');
  return assembleRun(frame, machineJson(finalCaps), { results, pending: [], interrupted, kernelLog: kernelLog() });
}

/** caps/kernel when the probe itself threw: no scenario process ran. */
function probeFailed(e: unknown): JobReport {
  return {
    outcome: { kind: 'threw', error: errorOf(e) },
    settled: true,
    cleanup: { ran: 0, failed: [] },
    leftovers: { fdsLeft: [], dmabufsLeft: [], unavailable: [] },
    record: { evidence: {}, failures: [], quirks: [], bugs: [], notes: [], path: null },
  };
}

function machineJson(c: Capabilities): MachineJson {
  return {
    kernel: {
      release: c.release,
      version: c.version,
      cmdline: c.cmdline,
      shape: { name: c.shape.name, summary: c.shape.summary },
    },
    capabilities: capabilitiesJson(c),
    topology: topologyJson(c),
  };
}
