// The last scenarios of a QEMU guest, shared by the guest program of `iovh
// qemu` (src/qemu/guest.ts) and the CI's (test/qemu/guest/flow.mjs, which
// loads this file from dist/): bugs/* provoke the kernel's known bugs, and on
// a kernel that has them they write into freed memory (bugs/opath-stale-file)
// or leave a task asleep in the kernel (bugs/revoke-hang-*), so they run after
// everything else, in a bring-up of their own (the guest's restore took the
// VFs away), with --allow-destructive (a guest is a machine thrown away after
// the run) and with no restore after them. The console's kernel reports of
// that run are set apart by kmsg markers (./markers.ts): they are expected
// only when every failure of the run is a known bug of the kernel's baseline.
import { readFileSync } from 'node:fs';
import type { Backend } from '../backend/types.js';
import { CATALOG } from '../harness/catalog/index.js';
import { makeFilter } from '../harness/filter.js';
import { summarize } from '../harness/summary.js';
import { SysReader } from '../machine/sysfs.js';
import { readPf } from '../machine/topology.js';
import type { RunResult } from '../report/model.js';
import { LAST_BEGIN, LAST_END } from './markers.js';

/** The last run's report, next to the main run's iovh-run.json (src/qemu/run.ts readGuestRun reads both as one). */
export const LAST_REPORT = 'iovh-run-last.json';

/** The scenarios that run last. */
export const LAST_FILTER = 'bugs/*';

const HUNG_TIMEOUT = '/proc/sys/kernel/hung_task_timeout_secs';

/**
 * A guest's --filter list cut in two: `first` for the guest's main `iovh run`
 * (the user's filters and `!bugs/*`), `last` for the last run: the bugs/*
 * scenarios the user's filters let through. Filters OR their includes
 * (src/harness/filter.ts), so with includes of the user's the last run gets
 * the matching ids one by one (`--filter export/*` alone runs no bugs/*); with
 * excludes only it gets `bugs/*` and the excludes. Empty: no last run
 * (`--filter '!bugs/*'` leaves them out).
 */
export function splitFilters(filters: readonly string[]): { first: string[]; last: string[] } {
  const user = makeFilter(filters);
  const ids = CATALOG.map((s) => s.id).filter((id) => makeFilter([LAST_FILTER])(id) && user(id));
  const includes = filters.some((f) => !f.trim().startsWith('!'));
  const last = ids.length === 0 ? [] : includes ? ids : [LAST_FILTER, ...filters];
  return { first: [...filters, `!${LAST_FILTER}`], last };
}

/**
 * `fn` on a backend opened for it and closed after: the guest programs open
 * one for each look at the machine, since the mock's state changes under the
 * CLI they run in the same process.
 */
export async function withOpened<T>(open: () => Backend | Promise<Backend>, fn: (b: Backend) => T): Promise<T> {
  const b = await open();
  try {
    return fn(b);
  } finally {
    b.close();
  }
}

export interface LastRunOptions {
  /** src/cli/main.ts main(), in this process. */
  cli: (argv: string[]) => Promise<number>;
  /** A backend on the kernel the CLI acts on, opened for each use (the mock's state changes under the CLI). */
  open: () => Backend | Promise<Backend>;
  /** What selects that kernel on the CLI (--backend native, or the mock's state and topology). */
  backendArgs: string[];
  pf: string;
  numvfs: number;
  /** splitFilters().last (or the CI's own). */
  filters: string[];
  /** How the run is judged (--no-baseline, or --baseline FILE --allow-skips), --timeout: passed as is. */
  runArgs: string[];
  /** The run's JSON report. */
  file: string;
}

/**
 * The bring-up (`iovh vfs enable`, `iovh bind` of VF 0), the hung-task
 * period shortened, the kmsg markers, and one `iovh run --allow-destructive`
 * of the last scenarios. `failed` says why there is no report: a failed
 * bring-up fails each of these scenarios, never skips them.
 */
export async function runLast(o: LastRunOptions): Promise<{ report: RunResult | null; failed: string | null }> {
  const iovh = (argv: string[]) => o.cli([...argv, ...o.backendArgs]);
  const use = <T>(fn: (b: Backend) => T) => withOpened(o.open, fn);
  const mark = (line: string) =>
    use((b) => {
      try {
        b.fs.writeFile('/dev/kmsg', `<3>${line}\n`);
      } catch {
        // the mock's /dev/kmsg may refuse writes; the markers only sort console lines
      }
    });
  // No filter would run the whole catalog on a kernel the last scenarios may corrupt.
  if (o.filters.length === 0) return { report: null, failed: 'no last scenario to run (empty filter list)' };
  try {
    if ((await iovh(['vfs', 'enable', o.pf, String(o.numvfs)])) !== 0)
      return { report: null, failed: `iovh vfs enable ${o.pf} ${o.numvfs} failed` };
    const vf = await use((b) => readPf(new SysReader(b.fs), o.pf)?.vfs.find((v) => v.id === 1)?.bdf ?? null);
    if (!vf) return { report: null, failed: `${o.pf} shows no VF 1 (virtfn0) after iovh vfs enable` };
    if ((await iovh(['bind', vf, 'vfio-pci'])) !== 0)
      return { report: null, failed: `iovh bind ${vf} vfio-pci failed` };
    // bugs/revoke-hang-* wait up to two hung-task periods for khungtaskd's report of a stuck trigger (it checks once
    // per period): 5 s instead of the guest fragment's 30 keeps that wait short on a throwaway guest.
    await use((b) => {
      try {
        if (b.fs.exists(HUNG_TIMEOUT)) b.fs.writeFile(HUNG_TIMEOUT, '5');
      } catch {
        // the mock's is read-only: its clock jumps past the timeout anyway
      }
    });
    await mark(LAST_BEGIN);
    try {
      await iovh([
        'run',
        '--allow-destructive',
        ...o.filters.flatMap((f) => ['--filter', f]),
        ...o.runArgs,
        '--pf',
        o.pf,
        '--vf',
        vf,
        '--json',
        o.file,
      ]);
    } finally {
      await mark(LAST_END);
    }
    return { report: JSON.parse(readFileSync(o.file, 'utf8')) as RunResult, failed: null };
  } catch (e) {
    return { report: null, failed: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/**
 * One report of a guest's two runs: the main run's, then the last run's
 * scenarios (its capability probe dropped: every `iovh run` probes first, and
 * the first probe stands), the summary and exit status computed again over
 * both as `iovh run` computes them (each result carries the baseline verdict
 * its run gave it). A last run that died leaves its report incomplete, and so
 * is the whole.
 */
export function withLastRun(first: RunResult, last: RunResult): RunResult {
  const seen = new Set(first.scenarios.map((s) => s.id));
  const scenarios = [...first.scenarios, ...last.scenarios.filter((s) => !seen.has(s.id))];
  // A first run that selected nothing but caps/kernel (every filter a bugs/* one) stops at "no scenario matches"
  // with caps/kernel pending; the last run answers it.
  const answered = new Set(last.scenarios.map((s) => s.id));
  const firstPending = first.pending.filter((id) => !answered.has(id));
  const pending = [...firstPending, ...last.pending];
  const interrupted = first.interrupted ?? last.interrupted;
  return {
    ...first,
    finishedAt: last.finishedAt,
    durationMs: first.durationMs + last.durationMs,
    options: { ...first.options, filters: [...new Set([...first.options.filters, ...last.options.filters])] },
    scenarios,
    summary: summarize(scenarios, interrupted, { pending, allowSkips: first.summary.skipsAllowed }),
    interrupted,
    complete: (first.complete || (firstPending.length === 0 && !first.interrupted)) && last.complete,
    pending,
    ...(last.running ? { running: last.running } : {}),
    kernelLog: [...first.kernelLog, ...last.kernelLog],
  };
}
