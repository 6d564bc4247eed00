// The scenario process's side of ChildProcessExecutor (executor.ts): a child
// node process that receives one job over the fork IPC channel, opens its own
// backend, runs the scenario with its cleanups (job.ts), sends every record
// event as it happens and the report at the end, and exits.
//
// Signals: Ctrl-C reaches the terminal's whole foreground process group, this
// child included. The runner decides what a signal means (it asks the child
// to stop, so that its cleanups run), so the child ignores SIGINT and SIGTERM
// and listens to the runner; if the runner goes away (its IPC channel closes)
// the child stops the scenario, runs its cleanups and exits.

import type { Backend } from '../backend/types.js';
import { errorOf, runJob, type JobReport, type ScenarioJob } from './job.js';
import type { RecordEvent } from './record.js';
import type { Scenario } from './scenario.js';

export type ParentMessage = { t: 'job'; job: ScenarioJob; root: string | null } | { t: 'stop'; reason: string };
export type ChildMessage = { t: 'event'; e: RecordEvent } | { t: 'report'; report: JobReport } | { t: 'fatal'; message: string };

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
  const stop = new AbortController();
  process.on('disconnect', () => stop.abort('the runner went away'));
  let started = false;
  process.on('message', (m: ParentMessage) => {
    if (m.t === 'stop') stop.abort(m.reason);
    else if (m.t === 'job' && !started) {
      started = true;
      void serve(m.job, m.root);
    }
  });

  const fatal = (message: string): void => {
    post({ t: 'fatal', message }, () => process.exit(1));
  };

  async function serve(job: ScenarioJob, root: string | null): Promise<void> {
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
      report = await runJob(backend, scenario, job, { pid: process.pid, sink: (e) => post({ t: 'event', e }), stop: stop.signal });
    } catch (e) {
      backend.close();
      return fatal(errorOf(e).message);
    }
    backend.close();
    post({ t: 'report', report }, () => process.exit(0));
  }
}
