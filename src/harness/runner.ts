// The runner: probes capabilities, then runs each scenario inside the kernel
// monitors with its own timeout and cleanup stack, turns what happened into a
// status (../shared/DESIGN.md "Evidence and verdicts"), judges it against the
// baseline, and collects everything into one RunResult.
//
// A scenario that throws or times out is recorded and the run goes on. On
// timeout the scenario's cleanups still run: cleanups are how a blocked kernel
// wait is unblocked (closing the xe handle lets a pending VFIO reset complete,
// kernel-abi §11.6). On interrupt (SIGINT/SIGTERM, wired by the CLI through
// `interrupt`) the current scenario's cleanups run, the scenarios not reached
// are recorded as not run, and the partial result is returned for writing.

import type { Backend } from '../backend/types.js';
import { SystemError } from '../kernel/errors.js';
import {
  emptyCleanliness,
  type Cleanliness,
  type RunResult,
  type ScenarioError,
  type ScenarioResult,
  type Status,
} from '../report/model.js';
import { judge, type Baseline } from './baseline.js';
import { CAPABILITY_NAMES, capabilitiesJson, probeCapabilities, topologyJson, type Capabilities, type Capability, type CapabilityName, type RunPolicy } from './caps.js';
import { Context } from './context.js';
import {
  BUFINFO,
  CRASH_TAINTS,
  describeBuffer,
  formatKmsg,
  isComplaintLine,
  isCrashLine,
  KmemleakMonitor,
  kmemleakFailure,
  KmsgMonitor,
  openKernelFds,
  readBufinfo,
  readTaint,
  taintLetters,
  codeOf,
} from './monitors.js';
import { SkipScenario, type Scenario, type ShapeFactory } from './scenario.js';
import { CAPS_ID } from './summary.js';
import { assembleRun, type MachineJson, type RunFrame } from './assemble.js';
import type { Timing } from './timing.js';
import type { BufinfoObject } from '../kernel/bufinfo.js';

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
  /** Mock only: builds a sibling kernel with the shape a scenario needs (scenario.ts TopologyShape). */
  siblings?: ShapeFactory;
}

const LOG_CAP = 200;

/** Capabilities when the probe itself failed: everything missing, citing that failure. */
function failedCapabilities(message: string): Capabilities {
  const cap: Capability = { ok: false, detail: `capability probe failed: ${message}`, enable: 'see the caps/kernel result' };
  const names: readonly CapabilityName[] = CAPABILITY_NAMES;
  return {
    release: null,
    version: null,
    cmdline: null,
    caps: Object.fromEntries(names.map((n) => [n, cap])) as Record<CapabilityName, Capability>,
    target: null,
    pfs: [],
    symbols: { readable: false, why: message, revision: null, rows: [], sg: { present: [], missing: [] }, symbols: new Set() },
    tracefsRoot: null,
    xeNode: null,
    vgemNode: null,
    drmNodes: [],
    iommuMode: 'unknown',
  };
}

function errorOf(e: unknown): ScenarioError {
  if (e instanceof SystemError) {
    return { kind: 'kernel', message: e.message, code: e.code, stack: null };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: 'harness', message: `${err.name}: ${err.message}`, code: null, stack: err.stack ?? null };
}

type Outcome =
  | { kind: 'done' }
  | { kind: 'threw'; error: unknown }
  | { kind: 'timeout' }
  | { kind: 'interrupted'; signal: string };

interface Window {
  kmsgStart: number;
  taint: number | null;
  fds: Map<number, string> | null;
  fdsWhy: string | null;
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
    let fds: Map<number, string> | null = null;
    let fdsWhy: string | null = null;
    try {
      fds = openKernelFds(fs);
    } catch (e) {
      fdsWhy = `/proc/self/fd unreadable (${codeOf(e)})`;
    }
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
    return { kmsgStart: this.kmsg.position(), taint: readTaint(fs), fds, fdsWhy, bufs: readBufinfo(fs), kmemleak, kmemleakWhy };
  }

  async end(w: Window, sleep: (ms: number) => Promise<void>, timing: Timing): Promise<{ cleanliness: Cleanliness; log: string[]; crash: string | null }> {
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
    if (w.fds) {
      try {
        const after = openKernelFds(fs);
        for (const [fd, target] of after) if (w.fds.get(fd) !== target) c.fdsLeft.push(`fd ${fd} -> ${target}`);
      } catch (e) {
        c.unavailable.push(`/proc/self/fd unreadable (${codeOf(e)})`);
      }
    } else if (w.fdsWhy) c.unavailable.push(w.fdsWhy);
    if (w.bufs) {
      const after = readBufinfo(fs);
      if (after) {
        for (const [ino, o] of after) if (!w.bufs.has(ino)) c.dmabufsLeft.push(describeBuffer(o));
      } else {
        c.unavailable.push(`${BUFINFO} unreadable at the end of the scenario: dma-buf objects left behind were not checked`);
      }
    } else {
      c.unavailable.push(`${BUFINFO} unreadable (mount debugfs, CONFIG_DEBUG_FS)`);
    }
    if (w.kmemleak) {
      await sleep(timing.kmemleakAgeMs);
      try {
        const blocks = this.kmemleak.end();
        c.kmemleak = { measured: true, newObjects: blocks.length, excerpt: blocks.slice(0, 5).map((b) => b.join(' | ')) };
      } catch (e) {
        c.unavailable.push(kmemleakFailure(e).why);
      }
    } else if (w.kmemleakWhy) c.unavailable.push(w.kmemleakWhy);
    const crashLine = records.find((r) => isCrashLine(r.text));
    const crashTaint = c.taint.added.find((l) => CRASH_TAINTS.has(l));
    const crash = crashLine ? crashLine.text : crashTaint ? `kernel tainted ${crashTaint} (${crashTaint === 'D' ? 'died: an oops' : crashTaint === 'M' ? 'machine check' : 'bad page'})` : null;
    return { cleanliness: c, log: log.slice(-LOG_CAP), crash };
  }
}

function sleepPlain(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Pass/fail/skip/timeout from what the scenario did, then the monitors' warn/crash on top. */
function compose(
  outcome: Outcome,
  ctx: Context,
  timeoutMs: number,
  settled: boolean,
  mon: { cleanliness: Cleanliness; crash: string | null },
  cleanupFailures: string[],
): { status: Status; reason: string; error: ScenarioError | null; skip: { capability: string; enable: string } | null } {
  let status: Status;
  let reason: string;
  let error: ScenarioError | null = null;
  let skip: { capability: string; enable: string } | null = null;
  const firstFailure = (): string => `${ctx.failures[0]}${ctx.failures.length > 1 ? ` (+${ctx.failures.length - 1} more)` : ''}`;
  switch (outcome.kind) {
    case 'timeout':
      status = 'timeout';
      reason = `no result after ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`}; cleanups ran${settled ? '' : ', and the scenario was still blocked after them'}`;
      if (ctx.failures.length > 0) reason += `; before that: ${firstFailure()}`;
      break;
    case 'interrupted':
      status = 'skip';
      reason = `interrupted by ${outcome.signal} before it finished; its cleanups ran`;
      ctx.record('interrupted', true);
      break;
    case 'threw':
      if (outcome.error instanceof SkipScenario) {
        status = 'skip';
        reason = outcome.error.why;
        skip = { capability: outcome.error.capability, enable: outcome.error.enable };
        if (ctx.failures.length > 0) {
          status = 'fail';
          reason = firstFailure();
        }
        break;
      }
      status = 'fail';
      error = errorOf(outcome.error);
      reason = ctx.failures.length > 0 ? firstFailure() : error.kind === 'kernel' ? `unexpected ${error.message}` : `harness error: ${error.message}`;
      break;
    case 'done':
      if (ctx.failures.length > 0) {
        status = 'fail';
        reason = firstFailure();
      } else {
        status = 'pass';
        reason = ctx.notes.length > 0 ? ctx.notes.join('; ') : 'every check passed';
      }
      break;
  }
  const c = mon.cleanliness;
  if (mon.crash) {
    const was = status === 'fail' ? `; ${reason}` : '';
    status = 'crash';
    reason = `kernel crashed: ${mon.crash}${was}`;
    return { status, reason, error, skip };
  }
  const complaints: string[] = [];
  if (c.kernelComplaints.length > 0) complaints.push(`kernel complained: ${c.kernelComplaints[0]!.replace(/^\[[^\]]*\]\s*/, '')}`);
  else if (c.taint.added.length > 0) complaints.push(`kernel taint added: ${c.taint.added.join('')}`);
  if (c.fdsLeft.length > 0) complaints.push(`left ${c.fdsLeft.length} fd${c.fdsLeft.length > 1 ? 's' : ''} open (${c.fdsLeft.join(', ')})`);
  if (c.dmabufsLeft.length > 0) complaints.push(`left ${c.dmabufsLeft.length} dma-buf${c.dmabufsLeft.length > 1 ? 's' : ''} behind (${c.dmabufsLeft.join('; ')})`);
  if (c.kmemleak.measured && (c.kmemleak.newObjects ?? 0) > 0 && ctx.quirks.every((q) => q.id !== 'ranges-leak')) {
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
  const results: ScenarioResult[] = [];
  let caps: Capabilities | null = null;
  let interrupted: { signal: string } | null = null;
  const total = o.scenarios.length;
  const interruptedBy = (): string | null => (o.interrupt?.aborted ? String(o.interrupt.reason ?? 'SIGINT') : null);

  for (let i = 0; i < total; i++) {
    const scenario = o.scenarios[i]!;
    // Let the event loop turn between scenarios, so that a signal that arrived during one is seen before the next starts.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const signal = interruptedBy();
    if (signal) {
      interrupted = { signal };
      results.push(notRun(scenario, signal, o.timeoutMs));
      continue;
    }
    o.progress?.start(i + 1, total, scenario);
    const result = await runOne(scenario);
    results.push(result);
    o.progress?.done(i + 1, total, result);
  }
  const lateSignal = interruptedBy();
  if (lateSignal && !interrupted) interrupted = { signal: lateSignal };

  async function runOne(scenario: Scenario): Promise<ScenarioResult> {
    const startedAt = new Date().toISOString();
    const s0 = performance.now();
    let probeError: Outcome | null = null;
    if (scenario.id === CAPS_ID || caps === null) {
      try {
        caps = probeCapabilities(o.backend, o.want);
      } catch (e) {
        caps = failedCapabilities(e instanceof Error ? e.message : String(e));
        if (scenario.id === CAPS_ID) probeError = { kind: 'threw', error: e };
      }
    }
    // The machine this scenario runs on: the one under test, or a sibling mock kernel of the shape it needs.
    let backend = o.backend;
    let current: Capabilities = caps!;
    let mon = monitors;
    let sibling: { backend: Backend; description: string } | null = null;
    if (!probeError && scenario.shape && !scenario.shape.present(current) && o.siblings) {
      sibling = o.siblings(scenario.shape.need);
      if (sibling) {
        backend = sibling.backend;
        mon = new Monitors(backend);
        try {
          current = probeCapabilities(backend, {});
        } catch (e) {
          current = failedCapabilities(e instanceof Error ? e.message : String(e));
        }
      }
    }
    const window = mon.begin(scenario.kmemleak === true);
    const ctx = new Context(backend, current, current.target, o.timing, mon.kmsg, window.kmsgStart, scenario.expectedPath);
    if (sibling) ctx.record('declaredTopology', sibling.description);
    const timeoutMs = o.timeoutMs;
    let settled = true;
    const runPromise: Promise<Outcome> | null = probeError
      ? null
      : scenario.run(ctx).then(
          (): Outcome => ({ kind: 'done' }),
          (error: unknown): Outcome => ({ kind: 'threw', error }),
        );
    const outcome: Outcome = probeError ?? (await (async (): Promise<Outcome> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onInterrupt: (() => void) | undefined;
      const timeout = new Promise<Outcome>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
      });
      const interruption = new Promise<Outcome>((resolve) => {
        if (!o.interrupt) return;
        onInterrupt = () => resolve({ kind: 'interrupted', signal: String(o.interrupt!.reason ?? 'SIGINT') });
        if (o.interrupt.aborted) onInterrupt();
        else o.interrupt.addEventListener('abort', onInterrupt, { once: true });
      });
      const first = await Promise.race([runPromise!, timeout, interruption]);
      clearTimeout(timer);
      if (onInterrupt) o.interrupt?.removeEventListener('abort', onInterrupt);
      return first;
    })());
    const stopped = outcome.kind === 'timeout' || outcome.kind === 'interrupted';
    if (stopped) ctx.stop(outcome.kind === 'timeout' ? `timed out after ${timeoutMs} ms` : 'interrupted');
    const cleanupFailures: string[] = [];
    let ran = 0;
    const runCleanups = async (): Promise<void> => {
      for (const c of ctx.takeCleanups()) {
        ran += 1;
        try {
          await c.fn();
        } catch (e) {
          cleanupFailures.push(`${c.label}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    };
    await runCleanups();
    if (stopped && runPromise) {
      // The cleanups may have unblocked the kernel call the scenario waited on; let its code unwind, then clean what it opened since.
      const grace = new Promise<'grace'>((resolve) => setTimeout(() => resolve('grace'), o.timing.graceMs));
      settled = (await Promise.race([runPromise, grace])) !== 'grace';
      await runCleanups();
      if (!settled) ctx.record('stillRunning', 'the scenario had not unwound after its cleanups and the grace period');
    }
    const ended = await mon.end(window, sleepPlain, o.timing);
    if (sibling) {
      monitors.complaints.push(...mon.complaints);
      sibling.backend.close();
    }
    const composed = compose(outcome, ctx, timeoutMs, settled, ended, cleanupFailures);
    if (scenario.id === CAPS_ID) ctx.record('capabilities', capabilitiesJson(current));
    if (ctx.failures.length > 1) ctx.record('failures', [...ctx.failures]);
    const baseline = o.baseline
      ? judge(
          o.baseline.scenarios.get(scenario.id),
          composed.status,
          ctx.quirks.map((q) => q.id),
        )
      : null;
    return {
      id: scenario.id,
      title: scenario.title,
      status: composed.status,
      path: ctx.path,
      expectedPath: scenario.expectedPath,
      reason: composed.reason,
      skip: composed.skip,
      quirks: ctx.quirks,
      evidence: ctx.evidence,
      cleanliness: ended.cleanliness,
      startedAt,
      durationMs: Math.round((performance.now() - s0) * 1000) / 1000,
      timeoutMs,
      baseline,
      log: ended.log,
      error: composed.error,
      cleanup: { ran, failed: cleanupFailures },
    };
  }

  function notRun(scenario: Scenario, signal: string, timeoutMs: number): ScenarioResult {
    const r: ScenarioResult = {
      id: scenario.id,
      title: scenario.title,
      status: 'skip',
      path: null,
      expectedPath: scenario.expectedPath,
      reason: `not run: the run was interrupted by ${signal}`,
      skip: { capability: 'run', enable: 'run again without interrupting it' },
      quirks: [],
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
  return assembleRun(frame, machineJson(finalCaps), { results, pending: [], interrupted, kernelLog: [...new Set(monitors.complaints)].slice(0, LOG_CAP) });
}

function machineJson(c: Capabilities): MachineJson {
  return { kernel: { release: c.release, version: c.version, cmdline: c.cmdline }, capabilities: capabilitiesJson(c), topology: topologyJson(c) };
}
