// Running the validation scenarios from a program: the library's runScenarios()
// and what `iovh run` calls. It opens the backend (native on a machine with
// an SR-IOV PF and VFs, the mock elsewhere), brings a machine of its own up to the catalog shape (src/harness/bringup.ts),
// removes what a dead iovh left in tracefs, picks the baseline, runs the
// scenarios and closes the backend whatever happens. Nothing here writes to
// stdout or stderr: progress, notices and partial results go to callbacks.
//
// With `resume` (a results file of a run that did not finish, src/api/
// resume.ts) it runs only what that run did not finish and returns the
// merged result.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openBackend } from '../backend/select.js';
import type { Backend, BackendChoice } from '../backend/types.js';
import { BaselineError, loadBaseline, shippedBaselinePath, type Baseline } from '../harness/baseline.js';
import { CATALOG } from '../harness/catalog/index.js';
import { ChildProcessExecutor } from '../harness/executor.js';
import { describeRemoval, removeStaleLeftovers, selfPid } from '../harness/leftovers.js';
import { bringUpForCatalog } from '../harness/bringup.js';
import { runScenarios as runHarness, type ProgressSink } from '../harness/runner.js';
import type { Scenario } from '../harness/scenario.js';
import { CAPS_ID } from '../harness/summary.js';
import { normalizeBdf } from '../uapi/bdf.js';
import { wantedProblem } from '../machine/target.js';
import { discover } from '../machine/topology.js';
import { timingFor } from '../harness/timing.js';
import { InputError } from '../host/errors.js';
import type { RunResult, ScenarioResult } from '../report/model.js';
import { VERSION } from '../version.js';
import { listScenarios } from './catalog.js';
import { mergeResumed, planResume, readPstore, type ResumePlan } from './resume.js';

/** What a run reports while it goes. */
export interface RunProgress {
  /** A scenario starts (index from 1). */
  start?(index: number, total: number, id: string): void;
  /** A scenario has its result. */
  done?(index: number, total: number, result: ScenarioResult): void;
}

export interface RunScenariosOptions {
  /** `auto` (default): native when an SR-IOV PF with VFs, /dev/vfio and the addon are here, else the mock. */
  backend?: BackendChoice;
  /** Mock: the kernel profile (`upstream`, `rfc-v1`, `fixed`; default rfc-v1). */
  profile?: string;
  /** Mock: a topology file recorded by `iovh capture`. */
  topology?: string;
  /** Mock: a state file kept across runs. */
  mockState?: string;
  /** Native: read /sys, /proc and /dev under this directory. */
  root?: string;
  /** Scenario id globs (`import/*`, `!stress/*`); none: every scenario. caps/kernel always runs first. */
  filters?: string[];
  /** Per-scenario timeout in seconds (default 60). */
  timeoutSec?: number;
  /** The PF and VF under test (default: the first xe PF with a VF on vfio-pci). */
  pf?: string | null;
  vf?: string | null;
  /**
   * Expected statuses: a baseline file's path, a loaded Baseline, or null for
   * none. Undefined: a modelled kernel is judged by its profile's shipped
   * baseline, a real one by none.
   */
  baseline?: string | Baseline | null;
  /** A scenario the baseline expects to pass may skip without failing the run. */
  allowSkips?: boolean;
  /** Run scenarios that disable every VF of the PF even when other VFs are in use (journaled). */
  allowDestructive?: boolean;
  /** Native: a new scenario process for every scenario. */
  freshProcess?: boolean;
  /** Abort it (with a reason such as 'SIGINT') to stop after the current scenario's cleanups. */
  signal?: AbortSignal;
  /** A run that did not finish (readResults): run what it did not finish and merge. */
  resume?: RunResult;
  onProgress?: RunProgress;
  /** One-line notices (stale probes removed, a resumed scenario not run again). */
  onNotice?: (line: string) => void;
  /** The run so far, as each scenario starts and ends: for report files that survive a run that dies. */
  onPartial?: (run: RunResult) => void;
}

/** An iovh installation that cannot run (a missing build artefact, an unusable shipped file). */
export class BrokenInstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokenInstallError';
  }
}

export const DEFAULT_TIMEOUT_SEC = 60;

/**
 * Node timers hold a signed 32-bit count of milliseconds: a longer delay
 * becomes 1 ms with a TimeoutOverflowWarning (lib/internal/timers.js), and
 * under 1 ms is 0. So a timeout is 0.001 to 2147483 seconds (about 24.8 days).
 */
export const TIMEOUT_RANGE_SEC = { min: 0.001, max: 2147483 } as const;

/** The scenarios a run runs: caps/kernel first, then those the filters keep, in catalog order. */
export function plannedScenarios(filters: readonly string[]): Scenario[] {
  const ids = new Set(listScenarios(filters).map((s) => s.id));
  if (filters.length > 0 && ![...ids].some((id) => id !== CAPS_ID) && !ids.has(CAPS_ID))
    throw new InputError(`no scenario matches the filters ${filters.map((f) => `'${f}'`).join(' ')}`);
  return [CATALOG.find((s) => s.id === CAPS_ID)!, ...CATALOG.filter((s) => s.id !== CAPS_ID && ids.has(s.id))];
}

function bdfOption(name: string, v: string | null | undefined): string | null {
  if (v === undefined || v === null) return null;
  const n = normalizeBdf(v);
  if (!n) throw new InputError(`${name} '${v}' is not a PCI address (expected DDDD:BB:DD.F or BB:DD.F)`);
  return n;
}

function baselineOption(b: RunScenariosOptions['baseline']): Baseline | null | undefined {
  if (b === undefined || b === null || typeof b === 'object') return b;
  try {
    return loadBaseline(b);
  } catch (e) {
    if (e instanceof BaselineError) throw new InputError(e.message);
    throw e;
  }
}

/**
 * The scenario process's entry module: dist/cli/scenario-process.js (this
 * file's sibling directory when iovh runs built), else the package's dist/
 * (this file loaded from src/ by a test runner). Null when neither exists.
 */
export function scenarioProcessEntry(): string | null {
  const candidates = [
    new URL('../cli/scenario-process.js', import.meta.url),
    new URL('../../dist/cli/scenario-process.js', import.meta.url),
  ];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  return null;
}

/** A /proc file's first line, or null when it cannot be read (a resumed run then cannot tell, and says so). */
function procLine(backend: Backend, path: string): string | null {
  try {
    return backend.fs.readText(path).trim() || null;
  } catch {
    return null;
  }
}

/** Run the scenarios and return the result (the report model every format renders). */
export async function runScenarios(options: RunScenariosOptions = {}): Promise<RunResult> {
  let resume: ResumePlan | null = null;
  let filters = options.filters ?? [];
  let timeoutSec = options.timeoutSec ?? DEFAULT_TIMEOUT_SEC;
  let pfOption = options.pf;
  let vfOption = options.vf;
  let baselineChoice = options.baseline;
  let allowSkips = options.allowSkips === true;
  if (options.resume) {
    // The interrupted run's own choices stand: a resumed run finishes that run, not another.
    const prev = options.resume;
    filters = prev.options.filters;
    timeoutSec = prev.options.timeoutSec;
    pfOption = prev.options.pf;
    vfOption = prev.options.vf;
    baselineChoice = prev.baseline ? prev.baseline.path : null;
    allowSkips = prev.summary.skipsAllowed === true;
  }
  if (!(timeoutSec >= TIMEOUT_RANGE_SEC.min && timeoutSec <= TIMEOUT_RANGE_SEC.max))
    throw new InputError(
      `timeoutSec must be from ${TIMEOUT_RANGE_SEC.min} to ${TIMEOUT_RANGE_SEC.max} seconds, got ${timeoutSec}`,
    );
  let scenarios = plannedScenarios(filters);
  const pf = bdfOption('pf', pfOption);
  const vf = bdfOption('vf', vfOption);
  let baseline = baselineOption(baselineChoice);

  const backend: Backend = await openBackend({
    backend: options.backend ?? 'auto',
    mockState: options.mockState,
    topology: options.topology,
    profile: options.profile,
    root: options.root,
  });
  try {
    const profile = backend.traits.profile;
    // A baseline recorded on another kernel than this one judges it by that kernel's expectations: sometimes the
    // point (rfc-v1 against the fixed series' baseline shows its defects as regressions), never to go unsaid.
    const bp = baseline?.profile ?? null;
    if (baseline && bp !== null && bp !== profile)
      options.onNotice?.(
        `note: judging ${profile === null ? 'a real kernel' : `mock profile ${profile}`} by baseline ${baseline.path}, recorded for profile ${bp}`,
      );
    const bootId = procLine(backend, '/proc/sys/kernel/random/boot_id');
    if (options.resume) {
      resume = planResume(options.resume, {
        backend: backend.traits.name,
        profile,
        release: procLine(backend, '/proc/sys/kernel/osrelease'),
        bootId,
        baseline: baseline ?? null,
        pstore: readPstore(backend),
      });
      for (const line of resume.notices) options.onNotice?.(line);
      const todo = new Set(resume.todo);
      scenarios = scenarios.filter((s) => todo.has(s.id));
      if (scenarios.length === 0) return mergeResumed(resume, null);
    }
    // A machine that ends with the run (the mock without --mock-state) is brought up to the catalog's shape, through sysfs.
    const setup = await bringUpForCatalog(backend, { pf });
    // An address that names no PF/VF here is the caller's mistake: say so now, not with every scenario skipped.
    if (pf !== null || vf !== null) {
      const problem = wantedProblem(backend.fs, discover(backend.fs), { pf, vf });
      if (problem) throw new InputError(problem);
    }
    // Probes and trace instances a dead iovh left (an oops killed it, a power cut) would still be defined and enabled.
    const stale = removeStaleLeftovers(backend.fs, selfPid(backend));
    const staleLine = stale ? describeRemoval(stale) : null;
    if (staleLine) options.onNotice?.(staleLine);
    // A modelled kernel is judged by its profile's shipped baseline.
    if (baseline === undefined && profile !== null) {
      try {
        baseline = loadBaseline(shippedBaselinePath(profile));
      } catch (e) {
        if (e instanceof BaselineError)
          throw new BrokenInstallError(`the shipped baseline of profile ${profile} is unusable: ${e.message}`);
        throw e;
      }
    }
    let executor: ChildProcessExecutor | undefined;
    // A kernel whose processes live in this node process runs each scenario in one of them (the runner's default).
    if (!backend.spawnProcess) {
      const module = scenarioProcessEntry();
      if (!module)
        throw new BrokenInstallError(
          'the scenario process entry (dist/cli/scenario-process.js) is missing: run `npm run build:ts`',
        );
      executor = new ChildProcessExecutor({ module, root: options.root ?? null, fresh: options.freshProcess === true });
    }
    const stamp = (run: RunResult, running: string | null): RunResult => {
      const stamped: RunResult = { ...run, kernel: { ...run.kernel, bootId }, running };
      return resume ? mergeResumed(resume, stamped) : stamped;
    };
    let last: RunResult | null = null;
    // Test hooks (test/cli/run-signal.test.ts, test/cli/kill-sweep.test.ts): IOVH_TEST_SIGINT_AT=<id> makes the process
    // send itself SIGINT as that scenario starts; IOVH_TEST_KILL_AT=<id> kills it (SIGKILL), the backend closed first,
    // as the kernel outlives a killed process (the mock saves its state there).
    const sigintAt = process.env.IOVH_TEST_SIGINT_AT;
    const killAt = process.env.IOVH_TEST_KILL_AT;
    const progress: ProgressSink = {
      start: (i, n, s) => {
        // The reports say which scenario runs, so that a run that dies here names it (and --resume knows).
        if (last && options.onPartial) options.onPartial(stamp(last, s.id));
        options.onProgress?.start?.(i, n, s.id);
        if (sigintAt === s.id) process.kill(process.pid, 'SIGINT');
        if (killAt === s.id) {
          backend.close();
          process.kill(process.pid, 'SIGKILL');
        }
      },
      done: (i, n, r) => options.onProgress?.done?.(i, n, r),
    };
    const run = await runHarness({
      backend,
      backendInfo: { name: backend.traits.name, reason: backend.reason, profile },
      scenarios,
      timeoutMs: Math.round(timeoutSec * 1000),
      timing: timingFor(backend),
      // Scenarios that take the PF's VFs away run when the others are free, or with consent; a machine nobody shares is ours to change.
      want: {
        pf,
        vf,
        policy: {
          allowDestructive: options.allowDestructive === true || !backend.traits.shared,
          journal: backend.traits.location,
        },
      },
      baseline: baseline ?? null,
      filters,
      setup,
      toolVersion: VERSION,
      allowSkips,
      ...(options.signal ? { interrupt: options.signal } : {}),
      progress,
      ...(executor ? { executor } : {}),
      onPartial: (partial) => {
        last = partial;
        options.onPartial?.(stamp(partial, null));
      },
    });
    return stamp(run, null);
  } finally {
    backend.close();
  }
}
