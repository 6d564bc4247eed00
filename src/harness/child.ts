// The scenario process's side of ChildProcessExecutor (executor.ts): a child
// node process that receives a job over the fork IPC channel, opens its own
// backend, runs the scenario with its cleanups (job.ts), sends every record
// event as it happens and the report at the end. Then it exits, or, when the
// job says `keep`, closes its backend and waits for the next job: the runner
// reuses a process whose scenario ended clean (node's start costs seconds
// under QEMU's TCG), and retires it (an `exit` message) otherwise; an idle
// process whose runner goes away exits too.
//
// Signals: Ctrl-C reaches the terminal's whole foreground process group, this
// child included. The runner decides what a signal means (it asks the child
// to stop, so that its cleanups run), so the child ignores SIGINT and SIGTERM
// and listens to the runner; if the runner goes away (its IPC channel closes)
// the child stops the scenario, runs its cleanups and exits.

import type { Backend } from '../backend/types.js';
import { errorOf, runJob, type JobReport, type ScenarioJob } from './job.js';
import { reviveCapabilities } from './caps.js';
import type { RecordEvent } from './record.js';
import type { Scenario } from './scenario.js';

export type ParentMessage =
  | { t: 'job'; job: ScenarioJob; root: string | null; keep: boolean }
  | { t: 'stop'; reason: string }
  | { t: 'exit' };
export type ChildMessage =
  | { t: 'event'; e: RecordEvent }
  /** The job arrived: the scenario's timeout runs from here (executor.ts). */
  | { t: 'started' }
  | { t: 'report'; report: JobReport }
  | { t: 'fatal'; message: string };

export interface ChildServices {
  /** The scenario process's own backend. */
  open(root: string | null): Backend;
  find(id: string): Scenario | undefined;
}

export function serveScenario(services: ChildServices): void {
  const send = process.send?.bind(process);
  if (!send) {
    process.stderr.write('iovh: the scenario process runs only as a child of `iovh run` (no IPC channel)\n');
    process.exitCode = 2;
    return;
  }
  const post = (m: ChildMessage, then?: () => void): void => {
    // With the runner gone there is nobody to tell: the scenario's cleanups still run.
    if (!process.connected) return then?.();
    send(m, undefined, {}, () => then?.());
  };
  const ignore = (): void => undefined;
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  // One controller per job: a stop that arrives between two jobs is for the job that just ended.
  let stop = new AbortController();
  let busy = false;
  process.on('disconnect', () => {
    if (busy) stop.abort('the runner went away');
    else process.exit(0);
  });
  process.on('message', (m: ParentMessage) => {
    if (m.t === 'stop') {
      if (busy) stop.abort(m.reason);
    } else if (m.t === 'exit') {
      // Retired by the runner between two jobs. (Not the runner's disconnect(): on Node 20 a channel the parent
      // closes leaves its ChildProcess without a 'close' event, and 'close' is how the runner learns the end.)
      if (!busy) process.exit(0);
    } else if (m.t === 'job' && !busy) {
      busy = true;
      stop = new AbortController();
      // Said before the scenario runs, and written before it starts: a scenario that blocks the event loop at once
      // (a system call that never returns) has still started its clock.
      const { job, root, keep } = m;
      post({ t: 'started' }, () => void serve(job, root, keep));
    }
  });

  const fatal = (message: string): void => {
    post({ t: 'fatal', message }, () => process.exit(1));
  };

  async function serve(job: ScenarioJob, root: string | null, keep: boolean): Promise<void> {
    const scenario = services.find(job.scenarioId);
    if (!scenario) return fatal(`no scenario ${job.scenarioId} in this build of iovh`);
    let backend: Backend;
    try {
      backend = services.open(root);
    } catch (e) {
      return fatal(`cannot open the backend: ${errorOf(e).message}`);
    }
    let report: JobReport;
    try {
      reviveCapabilities(job.caps);
      report = await runJob(backend, scenario, job, {
        pid: process.pid,
        sink: (e) => post({ t: 'event', e }),
        stop: stop.signal,
      });
    } catch (e) {
      backend.close();
      return fatal(errorOf(e).message);
    }
    backend.close();
    if (!keep) return post({ t: 'report', report }, () => process.exit(0));
    busy = false;
    // The runner gone while the job ran: nobody will send another.
    if (!process.connected) return process.exit(0);
    post({ t: 'report', report });
  }
}
