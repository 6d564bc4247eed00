// Where a scenario runs: in a process of its own, as IGT's runner runs each
// test in a child. The runner (runner.ts) stays outside with the kernel
// monitors and the report; the scenario's process runs the scenario and its
// cleanups (job.ts). What that buys:
//
// - an oops in the scenario's system call ends only that process's calling
//   thread (arch/x86/kernel/dumpstack.c oops_end -> make_task_dead ->
//   do_exit); the process, which can no longer report, is killed, the runner
//   records a crash with the log excerpt, removes what the dead process left
//   in tracefs, and goes on;
// - a timeout or Ctrl-C can stop a scenario blocked in a synchronous kernel
//   call: the runner asks the process to stop (its cleanups run: they are
//   what unblocks a kernel wait), then kills it, and a process that does not
//   die even then is stuck in the kernel (D state) and reported as such.
//
// Two executors: ChildProcessExecutor (native: a child node process, IPC over
// the fork channel, child.ts) and InProcessExecutor (the mock: a process of
// the simulated kernel, MockControl.spawnProcess, in this node process so the
// tests stay fast; the mock's TaskKilledError is that process's thread dying,
// and the executor kills the process at once: it sees the oops the moment the
// call returns, where a native runner has to find it in the kernel's state).
// Without a mock kernel InProcessExecutor runs the scenario in this very
// process (unit tests with a fake backend): nothing isolates it then.

import { fork, type ChildProcess } from 'node:child_process';
import type { Backend, DeviceOps, FileOps } from '../backend/types.js';
import { TaskKilledError } from '../uapi/errors.js';
import type { ChildMessage, ParentMessage } from './child.js';
import { errorOf, runJob, type JobReport, type ScenarioJob } from './job.js';
import { ScenarioRecord, type RecordEvent } from './record.js';
import type { Scenario } from './scenario.js';
import { killTimes } from './timing.js';

export type StopReason = { kind: 'timeout' } | { kind: 'interrupted'; signal: string };

/** How the scenario's process ended. */
export type Ending =
  | { kind: 'reported'; report: JobReport }
  /** Died without a report, by a signal iovh did not send: the kernel killed it (an oops), or something else did. */
  | { kind: 'killed'; signal: string; reason: string | null }
  /** iovh killed it (SIGKILL): asked to stop, it had not finished its cleanups in time. */
  | { kind: 'killedAfterStop'; waitedMs: number }
  /** Still alive after SIGKILL: stuck in the kernel (uninterruptible sleep). */
  | { kind: 'wedged'; waitedMs: number }
  /** Ended without a report and without a signal: the process itself failed (a harness bug, the addon missing). */
  | { kind: 'lost'; detail: string }
  /**
   * The kernel oopsed while the scenario ran (ExecControl.watch): the oops
   * ends only the thread in the system call (make_task_dead() -> do_exit(),
   * kernel/exit.c), so a multi-threaded process such as node lives on with
   * that call never returning. iovh killed it (SIGKILL) at once; `reaped`:
   * it died, else it did not within reapMs and was left behind.
   */
  | { kind: 'abandoned'; line: string; reaped: boolean };

export interface Execution {
  /** The scenario process's pid (its tracefs leftovers are named after it). */
  pid: number;
  /** Why the runner asked it to stop, if it did. */
  stopped: StopReason | null;
  ending: Ending;
  /** What the scenario recorded: its final record when it reported, else everything it sent before it died. */
  record: ScenarioRecord;
  /**
   * Set when a scenario that never yielded to the event loop (the mock runs
   * kernel calls synchronously, so no timer can fire inside them) ran past
   * its timeout: how long it ran. It is a timeout all the same.
   */
  overranMs?: number;
}

export interface ExecControl {
  timeoutMs: number;
  /** Aborted with the signal's name to stop the run (the current scenario is asked to stop). */
  interrupt?: AbortSignal;
  /**
   * Polled every `everyMs` while the scenario runs: a line saying the kernel
   * oopsed (null while it has not). The scenario then ends at once (Ending
   * 'abandoned') instead of waiting for a system call that will never return.
   */
  watch?: { everyMs: number; check: () => string | null };
}

export interface Executor {
  run(machine: Backend, scenario: Scenario, job: ScenarioJob, control: ExecControl): Promise<Execution>;
  /** Releases what the executor keeps between scenarios (an idle scenario process); the runner calls it when the run ends. */
  close?(): void;
}

function recordOf(report: JobReport): ScenarioRecord {
  const r = new ScenarioRecord();
  Object.assign(r.evidence, report.record.evidence);
  r.failures.push(...report.record.failures);
  r.quirks.push(...report.record.quirks);
  r.bugs.push(...(report.record.bugs ?? []));
  r.notes.push(...report.record.notes);
  r.path = report.record.path;
  return r;
}

/**
 * The clock of one execution: the timeout and the interrupt ask the process
 * to stop; `killMs` later it is killed.
 */
class Supervisor {
  stopped: StopReason | null = null;
  private timers: ReturnType<typeof setTimeout>[] = [];
  private readonly onInterrupt = (): void =>
    this.requestStop({ kind: 'interrupted', signal: String(this.control.interrupt?.reason ?? 'SIGINT') });

  private armed = false;

  /** `armed`: the timeout runs from now; else from arm(), when the scenario has started. */
  constructor(
    private readonly control: ExecControl,
    private readonly killMs: number,
    private readonly act: { stop(reason: string): void; kill(): void; oops?(line: string): void },
    armed = true,
  ) {
    if (armed) this.arm();
    if (control.interrupt) {
      if (control.interrupt.aborted) queueMicrotask(this.onInterrupt);
      else control.interrupt.addEventListener('abort', this.onInterrupt, { once: true });
    }
  }

  private poll: ReturnType<typeof setInterval> | null = null;

  /** Starts the scenario's timeout (once), and the oops watch. */
  arm(): void {
    if (this.armed) return;
    this.armed = true;
    this.timers.push(setTimeout(() => this.requestStop({ kind: 'timeout' }), this.control.timeoutMs));
    const watch = this.control.watch;
    const oops = this.act.oops;
    if (watch && oops) {
      this.poll = setInterval(() => {
        let line: string | null = null;
        try {
          line = watch.check();
        } catch {
          // A watch that cannot read leaves the scenario to its timeout, as without a watch.
        }
        if (line === null) return;
        if (this.poll) clearInterval(this.poll);
        this.poll = null;
        oops(line);
      }, watch.everyMs);
    }
  }

  get started(): boolean {
    return this.armed;
  }

  private requestStop(why: StopReason): void {
    if (this.stopped) return;
    this.stopped = why;
    this.act.stop(why.kind === 'timeout' ? 'timeout' : `interrupted by ${why.signal}`);
    this.timers.push(setTimeout(() => this.act.kill(), this.killMs));
  }

  later(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.control.interrupt?.removeEventListener('abort', this.onInterrupt);
  }
}

/**
 * `b` with every DeviceOps and FileOps call watched for TaskKilledError: the
 * first one is the moment the kernel killed the process, whatever the
 * scenario's code then does with the error (it may well catch it).
 */
function watchForKill(b: Backend, onKill: (e: TaskKilledError) => void): Backend {
  const seen = (e: unknown): void => {
    if (e instanceof TaskKilledError) onKill(e);
  };
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, name) {
        const v: unknown = Reflect.get(t, name, t);
        if (typeof v !== 'function') return v;
        const fn = v as (...args: unknown[]) => unknown;
        return (...args: unknown[]): unknown => {
          let r: unknown;
          try {
            r = fn.apply(t, args);
          } catch (e) {
            seen(e);
            throw e;
          }
          if (r instanceof Promise) {
            return r.catch((e: unknown) => {
              seen(e);
              throw e;
            });
          }
          return r;
        };
      },
    });
  // The rest (a mock's `kernel` control surface, which model tests reach through ctx.backend) stays as it is.
  return { ...b, dev: wrap<DeviceOps>(b.dev), fs: wrap<FileOps>(b.fs), close: () => b.close() };
}

/**
 * The mock: each scenario in a new process of the machine's simulated kernel
 * (its own pid and fd table; devices, sysfs, tracefs and the log shared).
 * Its exit (close) releases whatever it still holds, with the kernel's
 * release effects; a TaskKilledError is the kernel killing it.
 */
export class InProcessExecutor implements Executor {
  async run(machine: Backend, scenario: Scenario, job: ScenarioJob, control: ExecControl): Promise<Execution> {
    // comm 'node', as the child node process on native is named: trace lines show `node-<pid>` on both.
    const proc = machine.spawnProcess?.('node') ?? null;
    const pid = proc ? proc.pid : process.pid;
    const record = new ScenarioRecord();
    const { killMs } = killTimes(job.timing);
    let ended = false;
    let resolveEnd: (e: Ending) => void = () => undefined;
    const end = new Promise<Ending>((resolve) => (resolveEnd = resolve));
    const finish = (e: Ending): void => {
      if (ended) return;
      ended = true;
      resolveEnd(e);
    };
    const backend = proc
      ? watchForKill(proc, (e) => finish({ kind: 'killed', signal: e.signal, reason: e.reason }))
      : machine;
    // Cloned as the IPC channel would: a value changed after it was recorded is not changed here.
    const sink = (e: RecordEvent): void => {
      if (!ended) record.apply(structuredClone(e));
    };
    const stopper = new AbortController();
    const sup = new Supervisor(control, killMs, {
      stop: (reason) => stopper.abort(reason),
      // In this node process "kill" is to stop waiting: the process exits below, the kernel releases what it held.
      kill: () => finish({ kind: 'killedAfterStop', waitedMs: killMs }),
      oops: (line) => finish({ kind: 'abandoned', line, reaped: true }),
    });
    const t0 = performance.now();
    runJob(backend, scenario, job, { pid, sink, stop: stopper.signal }).then(
      (report) => finish({ kind: 'reported', report }),
      (e: unknown) => finish({ kind: 'lost', detail: `the scenario process failed: ${errorOf(e).message}` }),
    );
    const ending = await end;
    const ranMs = performance.now() - t0;
    sup.dispose();
    proc?.close();
    const overran = sup.stopped === null && ending.kind === 'reported' && ranMs > control.timeoutMs;
    return {
      pid,
      stopped: sup.stopped,
      ending,
      record: ending.kind === 'reported' ? recordOf(ending.report) : record,
      ...(overran ? { overranMs: Math.round(ranMs) } : {}),
    };
  }
}

export interface ChildProcessOptions {
  /** The child's entry module (the CLI's dist/cli/scenario-process.js, or a test's). */
  module: string;
  /** The native backend's root (--root), passed on to the child. */
  root: string | null;
  /**
   * The signal that kills a process that did not stop in time (SIGKILL).
   * Tests give one the process survives (SIGCONT) to stand for a process
   * stuck in the kernel, which even SIGKILL does not end.
   */
  killSignal?: NodeJS.Signals;
  /** A new process for every scenario, even after one that ended clean (iovh run --fresh-process). */
  fresh?: boolean;
}

/** The bytes of the child's stderr kept for a report: the end of a stack trace. */
const STDERR_TAIL = 4000;

/** The line of a dying node process's stderr that says what happened: its last `...Error: message`, else its last line. */
export function lastWords(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Node\.js v\d/.test(l));
  const error = lines.filter((l) => /^([A-Za-z]*Error|Uncaught\b)[^:]*:/.test(l)).at(-1);
  return error ?? lines.at(-1) ?? '';
}

/** Whether a process whose scenario reported can take the next one: nothing went wrong and it left nothing behind. */
export function reusable(report: JobReport, stopped: StopReason | null): boolean {
  const { record, cleanup, leftovers } = report;
  return (
    stopped === null &&
    record.failures.length === 0 &&
    cleanup.failed.length === 0 &&
    leftovers.fdsLeft.length === 0 &&
    leftovers.dmabufsLeft.length === 0
  );
}

/**
 * Native: each scenario in a child node process (the same node, the same
 * execArgv), which opens its own native backend. The runner's side of the
 * protocol in child.ts.
 *
 * A process whose scenario ended clean (reported, no failure, no cleanup
 * failure, no fd or dma-buf left: `reusable`) runs the next scenario too,
 * as IGT's runner runs several subtests in one exec in its multiple mode:
 * a node start costs seconds under QEMU's TCG, and 29 of them were most of
 * a guest's wall time. Any other ending (a failure, a leak, a timeout, a
 * Ctrl-C, a kill) retires the process, so the next scenario starts in a new
 * one with nothing of it. `fresh: true` gives every scenario a new process
 * (iovh run --fresh-process).
 */
/** How long a scenario process may take to start (node's start, the job received) before it is given up. */
const START_MS = 60_000;

export class ChildProcessExecutor implements Executor {
  private idle: ChildProcess | null = null;

  constructor(private readonly options: ChildProcessOptions) {}

  /** Retires the idle process: it exits. */
  close(): void {
    const child = this.idle;
    this.idle = null;
    if (child?.connected) child.send({ t: 'exit' } satisfies ParentMessage, () => undefined);
  }

  run(_machine: Backend, scenario: Scenario, job: ScenarioJob, control: ExecControl): Promise<Execution> {
    // A scenario that wants a process of its own retires the idle one first.
    if (scenario.ownProcess === true) this.close();
    return new Promise((resolve) => {
      const { killMs, reapMs } = killTimes(job.timing);
      const keep = this.options.fresh !== true && scenario.ownProcess !== true;
      const record = new ScenarioRecord();
      let report: JobReport | null = null;
      let fatal: string | null = null;
      let stderr = '';
      let killedByUs = false;
      let oopsLine: string | null = null;
      let done = false;
      const reused = this.idle?.connected && this.idle.exitCode === null && this.idle.signalCode === null;
      const child = reused
        ? this.idle!
        : fork(this.options.module, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      this.idle = null;
      if (reused) {
        child.ref();
        (child.channel as { ref?: () => void } | undefined)?.ref?.();
      }
      const pid = child.pid ?? -1;
      const detach = (): void => {
        child.stderr?.off('data', onStderr);
        child.off('message', onMessage);
        child.off('error', onError);
        child.off('close', onClose);
      };
      const send = (m: ParentMessage): void => {
        // A child that is gone cannot be told anything; its 'close' reports how it ended.
        if (!child.connected) return;
        try {
          child.send(m, () => undefined);
        } catch (e) {
          // A job that cannot cross the channel (a value structured clone refuses) is a harness bug: say which.
          finish({
            kind: 'lost',
            detail: `cannot send the ${m.t} message to the scenario process: ${errorOf(e).message}`,
          });
          child.kill('SIGKILL');
        }
      };
      const finish = (ending: Ending): void => {
        if (done) return;
        done = true;
        sup.dispose();
        detach();
        if (ending.kind === 'wedged' || (ending.kind === 'abandoned' && !ending.reaped)) {
          // It may never die: let this process end without it.
          child.stderr?.destroy();
          if (child.connected) child.disconnect();
          child.unref();
        }
        resolve({ pid, stopped: sup.stopped, ending, record: report ? recordOf(report) : record });
      };
      // The timeout is the scenario's: it runs from the child's word that it has the job, not from fork(), so that
      // a node start slowed by load (seconds under QEMU's TCG or a busy CI machine) is not counted against it.
      // A child that never says so within START_MS is lost.
      const sup = new Supervisor(
        control,
        killMs,
        {
          stop: (reason) => send({ t: 'stop', reason }),
          kill: () => {
            killedByUs = true;
            child.kill(this.options.killSignal ?? 'SIGKILL');
            sup.later(reapMs, () => finish({ kind: 'wedged', waitedMs: killMs }));
          },
          // Its system call died in the oops: nothing it can still do is worth the wait. A process that does not die
          // (its other threads blocked on what the dead one held) is left behind after reapMs.
          oops: (line) => {
            if (done) return;
            oopsLine = line;
            killedByUs = true;
            child.kill(this.options.killSignal ?? 'SIGKILL');
            sup.later(reapMs, () => finish({ kind: 'abandoned', line, reaped: false }));
          },
        },
        false,
      );
      const startMs = Math.max(START_MS, control.timeoutMs);
      sup.later(startMs, () => {
        if (sup.started || done) return;
        child.kill('SIGKILL');
        finish({ kind: 'lost', detail: `the scenario process did not start within ${startMs / 1000} s` });
      });
      const onStderr = (d: Buffer): void => {
        stderr = (stderr + d.toString()).slice(-STDERR_TAIL);
      };
      const onMessage = (m: ChildMessage): void => {
        if (m.t === 'started') sup.arm();
        else if (m.t === 'event') record.apply(m.e);
        else if (m.t === 'fatal') fatal = m.message;
        else if (m.t === 'report') {
          report = m.report;
          if (!keep) return; // it exits by itself; its 'close' finishes
          if (reusable(m.report, sup.stopped) && child.connected) {
            // Idle until the next job; unreferenced, so that a runner that never calls close() still exits.
            this.idle = child;
            child.unref();
            (child.channel as { unref?: () => void } | undefined)?.unref?.();
            finish({ kind: 'reported', report: m.report });
          } else {
            send({ t: 'exit' }); // it exits; its 'close' finishes
          }
        }
      };
      const onError = (e: Error): void =>
        finish({ kind: 'lost', detail: `cannot run the scenario process ${this.options.module}: ${e.message}` });
      // 'close', not 'exit': it comes after the IPC channel closed, so every message the child sent has arrived.
      const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (report) finish({ kind: 'reported', report });
        else if (oopsLine !== null) finish({ kind: 'abandoned', line: oopsLine, reaped: true });
        else if (signal)
          finish(
            killedByUs && signal === 'SIGKILL'
              ? { kind: 'killedAfterStop', waitedMs: killMs }
              : { kind: 'killed', signal, reason: null },
          );
        else {
          const said = fatal ?? lastWords(stderr);
          finish({
            kind: 'lost',
            detail: `the scenario process exited with status ${code ?? 'unknown'} without a result${said ? `: ${said}` : ''}`,
          });
        }
      };
      child.stderr?.on('data', onStderr);
      child.on('message', onMessage);
      child.on('error', onError);
      child.on('close', onClose);
      send({ t: 'job', job, root: this.options.root, keep });
    });
  }
}
