// `iovh run`: the validation harness (src/harness/) and its reports
// (src/report/). `--list` needs no device and no addon: it never opens a
// backend. Everything the user typed is validated before the backend opens;
// the backend is closed whatever happens (the mock saves --mock-state there).
//
// Output: the human progress, table and summary on stdout (on stderr when
// `--json -` puts the JSON report on stdout), plus any report files asked for.
// Exit status: src/harness/summary.ts (0, 1, 77, 130/143), 2 on usage errors
// (the table: src/report/exit.ts).

import { clip } from '../../host/quote.js';
import { codeOf, OutputFileError, outputMode, sameFileProblem, writeOutput } from '../../outfile.js';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { globalOptions, resolveOptions, type GlobalOptions } from '../global.js';
import { CliError, UsageError } from '../errors.js';
import { HumanOutput, stdoutFailureTold } from '../output.js';
import { trapSignals } from '../signals.js';
import { EXIT, SKIP_EXITS, withSkipExit } from '../../report/exit.js';
import { VERSION } from '../../version.js';
import { CATALOG } from '../../harness/catalog/index.js';
import { makeFilter, FilterError } from '../../harness/filter.js';
import { BaselineError, loadBaseline, type Baseline } from '../../harness/baseline.js';
import type { Scenario } from '../../harness/scenario.js';
import { CAPS_ID } from '../../harness/summary.js';
import { normalizeBdf } from '../../uapi/bdf.js';
import { progressDone, progressStart, renderVerdict, styleFor } from '../../report/human.js';
import { renderJson } from '../../report/json.js';
import { renderJunit } from '../../report/junit.js';
import { renderKtap } from '../../report/ktap.js';
import { kcidbOptionsProblem, renderKcidb, type KcidbOptions } from '../../report/kcidb.js';
import { renderBaseline } from '../../report/baseline.js';
import { ReportFileError, ReportFiles, type ReportSpec } from '../../report/files.js';
import { assembleRun, type RunFrame } from '../../harness/assemble.js';
import { runScenarios } from '../../api/run.js';
import { readResults } from '../../api/results.js';
import type { RunResult, ScenarioResult } from '../../report/model.js';
import { scenarioInfo } from '../../api/catalog.js';

/** The schema name of `iovh run --list --json`: {schema, scenarios: [{id, group, title, description, expectedPath}]}. */
export const LIST_SCHEMA = 'iovh-list/1';

interface RunOptions {
  list?: boolean;
  /** --resume FILE: the results file of a run that did not finish (read in runCommand). */
  resume?: string;
  verbose?: boolean;
  /** -q: no progress and no table; the results that fail the run and the exit line (renderQuiet). */
  quiet?: boolean;
  /** The status for a run where every scenario skipped: '77' (default) or kselftest's '4'. */
  skipExit?: string;
  filter: string[];
  json?: string;
  junit?: string;
  ktap?: string;
  kcidb?: string;
  kcidbOrigin?: string;
  kcidbBuildId?: string;
  baseline?: string | false;
  timeout: string;
  pf?: string;
  vf?: string;
  allowSkips?: boolean;
  allowDestructive?: boolean;
  freshProcess?: boolean;
  writeBaseline?: string;
}

const DEFAULT_TIMEOUT_S = 60;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function wrap(text: string, width: number, indent: string): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(indent + line);
  return out.join('\n');
}

export function renderList(scenarios: readonly Scenario[], verbose: boolean): string {
  const width = Math.max(...scenarios.map((s) => s.id.length));
  if (!verbose) return `${scenarios.map((s) => `${s.id.padEnd(width)}  ${s.title}`).join('\n')}\n`;
  return `${scenarios
    .map((s) => {
      const path = s.expectedPath ? ` (expects path ${s.expectedPath})` : '';
      return `${s.id} — ${s.title}${path}\n${wrap(s.description, 76, '    ')}`;
    })
    .join('\n\n')}\n`;
}

interface Validated {
  scenarios: Scenario[];
  timeoutMs: number;
  pf: string | null;
  vf: string | null;
  baseline: Baseline | null | undefined;
}

/**
 * Node timers hold a signed 32-bit count of milliseconds: a longer delay
 * becomes 1 ms with a TimeoutOverflowWarning (lib/internal/timers.js), and
 * under 1 ms is 0. So --timeout is 0.001 to 2147483 seconds (about 24.8 days).
 */
export const TIMEOUT_RANGE_S = { min: 0.001, max: 2147483 } as const;

export function parseTimeout(text: string): number {
  const s = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || s < TIMEOUT_RANGE_S.min || s > TIMEOUT_RANGE_S.max) {
    throw new UsageError(
      `--timeout must be a number of seconds from ${TIMEOUT_RANGE_S.min} to ${TIMEOUT_RANGE_S.max}, got '${clip(text)}'`,
    );
  }
  return Math.round(s * 1000);
}

/** Everything the user typed, checked before any backend opens. */
function validate(o: RunOptions, g: GlobalOptions): Validated {
  checkQuiet(o);
  let filter: (id: string) => boolean;
  try {
    filter = makeFilter(o.filter);
  } catch (e) {
    if (e instanceof FilterError) throw new UsageError(e.message);
    throw e;
  }
  const chosen = CATALOG.filter((s) => filter(s.id));
  if (o.filter.length > 0 && chosen.every((s) => s.id === CAPS_ID) && !o.filter.some((f) => makeFilter([f])(CAPS_ID))) {
    throw new UsageError(
      `no scenario matches --filter ${o.filter.map((f) => `'${f}'`).join(' ')} (see iovh run --list)`,
    );
  }
  // A pattern that matches no scenario is a typo (`--filter '!expor/*'` would exclude nothing, silently).
  for (const f of o.filter) {
    const t = f.trim();
    const glob = t.startsWith('!') ? t.slice(1) : t;
    if (!CATALOG.some((s) => makeFilter([glob])(s.id)))
      throw new UsageError(
        `--filter '${clip(f)}' ${t.startsWith('!') ? 'excludes' : 'matches'} no scenario (see iovh run --list)`,
      );
  }
  const scenarios = o.list
    ? chosen
    : [CATALOG.find((s) => s.id === CAPS_ID)!, ...chosen.filter((s) => s.id !== CAPS_ID)];
  const timeoutMs = parseTimeout(o.timeout);
  const bdf = (flag: string, v: string | undefined): string | null => {
    if (v === undefined) return null;
    const n = normalizeBdf(v);
    if (!n)
      throw new UsageError(
        `${flag} '${clip(v)}' is not a PCI address (expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:03:00.1)`,
      );
    return n;
  };
  const stdoutUsers = [o.json, o.junit, o.ktap, o.kcidb, o.writeBaseline].filter((f) => f === '-').length;
  if (stdoutUsers > 1) throw new UsageError('only one report can go to stdout (-)');
  // Two reports to one file: the second would silently replace the first.
  const files = new Map<string, string>();
  const outputs: { flag: string; path: string }[] = [];
  for (const [flag, f] of [
    ['--json', o.json],
    ['--junit', o.junit],
    ['--ktap', o.ktap],
    ['--kcidb', o.kcidb],
    ['--write-baseline', o.writeBaseline],
  ] as const) {
    if (f === undefined || f === '-') continue;
    const key = resolve(f);
    const other = files.get(key);
    if (other) throw new UsageError(`${other} and ${flag} name the same file (${f}): give each report its own`);
    files.set(key, flag);
    outputs.push({ flag, path: f });
  }
  // A report written over an input destroys it before the run even starts (the placeholder report): refuse.
  const clash = sameFileProblem(
    outputs,
    [
      ['--topology', g.topology],
      ['--baseline', typeof o.baseline === 'string' ? o.baseline : undefined],
      ['--mock-state', g.mockState],
    ]
      .filter((x): x is [string, string] => x[1] !== undefined)
      .map(([flag, path]) => ({ flag, path })),
  );
  if (clash) throw new UsageError(`${clash}; nothing was run`);
  if (o.kcidbOrigin !== undefined && !/^[a-z0-9_]+$/.test(o.kcidbOrigin))
    throw new UsageError(`--kcidb-origin must match ^[a-z0-9_]+$, got '${o.kcidbOrigin}'`);
  const kcidbProblem = kcidbOptionsProblem(kcidbOptions(o));
  if (kcidbProblem) throw new UsageError(`--kcidb-build-id: ${kcidbProblem}`);
  let baseline: Baseline | null | undefined;
  if (o.baseline === false) baseline = null;
  else if (typeof o.baseline === 'string') {
    try {
      baseline = loadBaseline(o.baseline);
    } catch (e) {
      if (e instanceof BaselineError) throw new UsageError(e.message);
      throw e;
    }
    // Ids this iovh has no scenario for (renamed, or from another version) judge nothing: say so once.
    const known = new Set(CATALOG.map((s) => s.id));
    const unknown = [...baseline.scenarios.keys()].filter((id) => !known.has(id));
    if (unknown.length > 0)
      process.stderr.write(
        `iovh: warning: baseline ${o.baseline} lists ${unknown.length} scenario${unknown.length === 1 ? '' : 's'} this iovh does not have (${clip(unknown.slice(0, 5).join(', '))}${unknown.length > 5 ? ', ...' : ''}); they are ignored\n`,
      );
  }
  return { scenarios, timeoutMs, pf: bdf('--pf', o.pf), vf: bdf('--vf', o.vf), baseline };
}

export function kcidbOptions(o: { kcidbOrigin?: string; kcidbBuildId?: string }): KcidbOptions {
  const options: KcidbOptions = {};
  if (o.kcidbOrigin) options.origin = o.kcidbOrigin;
  if (o.kcidbBuildId !== undefined) options.buildId = o.kcidbBuildId;
  return options;
}

/** The reports asked for on the command line, in a fixed order. */
export function reportSpecs(o: {
  json?: string;
  junit?: string;
  ktap?: string;
  kcidb?: string;
  kcidbOrigin?: string;
  kcidbBuildId?: string;
  writeBaseline?: string;
}): ReportSpec[] {
  const specs: ReportSpec[] = [];
  if (o.json) specs.push({ what: 'JSON', path: o.json, render: renderJson });
  if (o.junit) specs.push({ what: 'JUnit', path: o.junit, render: renderJunit });
  if (o.ktap) specs.push({ what: 'KTAP', path: o.ktap, render: renderKtap });
  if (o.kcidb) {
    const options = kcidbOptions(o);
    specs.push({ what: 'KCIDB', path: o.kcidb, render: (run) => renderKcidb(run, options) });
  }
  if (o.writeBaseline) specs.push({ what: 'baseline', path: o.writeBaseline, render: renderBaseline });
  return specs;
}

/**
 * Make every report file before the backend opens (finding: an unwritable
 * path used to surface after the whole run): each gets a report of a run
 * that has not started, which later rewrites replace.
 */
function openReports(o: RunOptions, v: Validated, g: GlobalOptions, resumed: RunResult | null): ReportFiles {
  // A resumed run's files start as the run it resumes: its results file must never be replaced by an empty run.
  if (resumed) {
    try {
      return ReportFiles.open(reportSpecs(o), resumed);
    } catch (e) {
      if (e instanceof ReportFileError) throw new CliError(`${e.message}; nothing was run`, EXIT.FAILED);
      throw e;
    }
  }
  const frame: RunFrame = {
    startedAt: new Date(),
    t0: performance.now(),
    toolVersion: VERSION,
    backend: { name: g.backend, reason: 'not opened yet: the run had not started', profile: null },
    options: { filters: o.filter, timeoutSec: v.timeoutMs / 1000, pf: v.pf, vf: v.vf },
    baseline: v.baseline ?? null,
    setup: [],
  };
  const placeholder = assembleRun(frame, null, {
    results: [],
    pending: v.scenarios.map((s) => s.id),
    interrupted: null,
    kernelLog: [],
  });
  try {
    return ReportFiles.open(reportSpecs(o), placeholder);
  } catch (e) {
    if (e instanceof ReportFileError) throw new CliError(`${e.message}; nothing was run`, EXIT.FAILED);
    throw e;
  }
}

/** SIGINT/SIGTERM during a run: the first stops it after the current scenario's cleanups; a second one exits at once. */
const RUN_SIGNALS = {
  first: (sig: string) =>
    `\niovh: ${sig}: running the current scenario's cleanups, then writing what was collected (again to exit now)\n`,
  again: (sig: string) => `\niovh: ${sig} again: exiting without waiting for cleanups\n`,
};

/** Options a resumed run takes from the run it resumes: giving one is a mistake. */
export const RESUME_FIXED = ['filter', 'timeout', 'pf', 'vf', 'baseline', 'allowSkips', 'writeBaseline'] as const;

export async function runCommand(
  o: RunOptions,
  g: GlobalOptions,
  given: (name: string) => boolean = () => false,
): Promise<number> {
  let resumed: RunResult | null = null;
  if (o.resume !== undefined) {
    if (o.list) throw new UsageError('--resume runs scenarios; --list lists them: give one');
    const fixed = RESUME_FIXED.filter(given);
    if (fixed.length > 0)
      throw new UsageError(
        `--resume finishes a run with that run's own options: drop ${fixed.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}`,
      );
    // The results file is the JSON report of the resumed run: it is rewritten with the merged result.
    if (o.json !== undefined && resolve(o.json) !== resolve(o.resume))
      throw new UsageError(`--resume rewrites ${o.resume} with the merged result: --json cannot name another file`);
    resumed = readResults(o.resume);
    o = { ...o, json: o.resume, filter: resumed.options.filters };
  }
  const v = validate(o, g);
  const out = new HumanOutput(process.stdout);
  const err = new HumanOutput(process.stderr);
  try {
    if (o.list) {
      if (o.json === undefined) {
        out.write(renderList(v.scenarios, o.verbose === true));
        return EXIT.OK;
      }
      // `--list --json` (or `--json FILE`): the catalog for programs, as the library's listScenarios() gives it.
      const text = `${JSON.stringify({ schema: LIST_SCHEMA, scenarios: v.scenarios.map(scenarioInfo) }, null, 2)}\n`;
      if (o.json === '-') out.write(text);
      else {
        // As every file iovh writes (src/outfile.ts): atomic and fsynced, a link followed, a FIFO written in place.
        try {
          writeOutput(outputMode(o.json), text);
        } catch (e) {
          throw new CliError(
            `cannot write the scenario list to ${o.json}: ${e instanceof OutputFileError ? e.message : codeOf(e)}`,
            EXIT.FAILED,
          );
        }
      }
      return EXIT.OK;
    }
    return await runWith(o, g, v, out, err, resumed);
  } finally {
    out.release();
    err.release();
  }
}

async function runWith(
  o: RunOptions,
  g: GlobalOptions,
  v: Validated,
  out: HumanOutput,
  err: HumanOutput,
  resumed: RunResult | null,
): Promise<number> {
  const human =
    o.json === '-' || o.junit === '-' || o.ktap === '-' || o.kcidb === '-' || o.writeBaseline === '-' ? err : out;
  const style = styleFor(human.stream);
  const reports = openReports(o, v, g, resumed);
  const signals = trapSignals((line) => err.write(line), RUN_SIGNALS);
  let run: RunResult;
  try {
    run = await runScenarios({
      backend: g.backend,
      mockState: g.mockState,
      topology: g.topology,
      profile: g.profile,
      root: g.root,
      filters: o.filter,
      timeoutSec: v.timeoutMs / 1000,
      pf: v.pf,
      vf: v.vf,
      // undefined: the run picks the modelled kernel's shipped baseline.
      ...(v.baseline !== undefined ? { baseline: v.baseline } : {}),
      allowSkips: o.allowSkips === true,
      allowDestructive: o.allowDestructive === true,
      freshProcess: o.freshProcess === true,
      ...(resumed ? { resume: resumed } : {}),
      signal: signals.signal,
      ...(o.quiet
        ? {}
        : {
            onProgress: {
              start: (i: number, n: number, id: string) => human.write(progressStart(i, n, id, style)),
              done: (i: number, n: number, r: ScenarioResult) => human.write(progressDone(i, n, r, style)),
            },
          }),
      // Quiet: a notice (a leftover, a baseline chosen) is still worth a line, on stderr with the warnings.
      onNotice: (line) => (o.quiet ? err : human).write(`iovh: ${line}\n`),
      onPartial: (partial) => {
        for (const problem of reports.rewrite(partial)) err.write(`iovh: ${problem}\n`);
      },
    });
  } finally {
    signals.release();
  }
  const status = exitStatusOf(run, o);
  // After the progress lines, a blank line before the table.
  human.write(`${o.quiet ? '' : '\n'}${renderVerdict(run, style, o, status)}`);
  // EPIPE is the reader saying it has seen enough (`| head`); anything else is worth a line where it can still go.
  if (human.lost !== null && human.lost !== 'EPIPE') {
    err.write(`iovh: the human output stopped (${human.lost}); the run went on and its reports hold every result\n`);
    if (human.stream === process.stdout) stdoutFailureTold();
  }
  try {
    reports.write(run, (text) => out.write(text));
  } catch (e) {
    if (e instanceof ReportFileError) throw new CliError(e.message, EXIT.FAILED);
    throw e;
  }
  const onStdout = reports.onStdout;
  if (onStdout) {
    await out.settle();
    if (out.lost !== null)
      throw new CliError(`cannot write the ${onStdout.what} report to stdout: ${out.lost}`, EXIT.FAILED);
  }
  return status;
}

/** `--skip-exit`, which iovh run and iovh report both take: the status a run all skipped exits with. */
export function skipExitOption(): Option {
  return new Option(
    '--skip-exit <status>',
    "exit status when every scenario skipped (nothing validated): 77, or 4 for kselftest's runner (KSFT_SKIP)",
  )
    .choices(SKIP_EXITS)
    .env('IOVH_SKIP_EXIT');
}

/** -q and --verbose ask opposite things of the human output (iovh run, iovh report). */
export function checkQuiet(o: { quiet?: boolean; verbose?: boolean }): void {
  if (o.quiet && o.verbose) throw new UsageError('--quiet and --verbose contradict each other: give one of them');
}

/** The status iovh run and iovh report exit with for a run: its own, the all-skipped one as --skip-exit says. */
export function exitStatusOf(run: RunResult, o: { skipExit?: string }): number {
  return withSkipExit(run.summary.exitCode, Number(o.skipExit ?? EXIT.SKIPPED));
}

export function registerRun(program: Command, setStatus: (code: number) => void): Command {
  const cmd = program
    .command('run')
    .description('run the validation scenarios and report (on the mock when this machine has no SR-IOV GPU)')
    .option('--list', 'list the scenarios and exit (opens no device)')
    .option(
      '--resume <results.json>',
      'finish the run whose JSON report this is (after a reboot): run what it did not finish, with its options, and rewrite the file with the merged result',
    )
    .option(
      '--verbose',
      'with --list: each scenario with its description; with a run: the evidence of every result that is not a plain pass',
    )
    .option(
      '-q, --quiet',
      'no progress and no table: only the results that fail the run and the exit line (the reports are complete)',
    )
    .addOption(skipExitOption())
    .addOption(
      new Option('--filter <glob>', 'run the scenarios matching GLOB (repeatable; a leading ! excludes)')
        .argParser(collect)
        .default([]),
    )
    .option(
      '--json [file]',
      'write the JSON report (docs/report-schema.md) to FILE, or to stdout without FILE or with -; with --list: the catalog as JSON',
    )
    .option('--junit <file>', 'write a JUnit XML report to FILE (or -)')
    .option('--ktap <file>', 'write a KTAP version 1 report to FILE (or -)')
    .option('--kcidb <file>', 'write KCIDB-shaped JSON (schema v4.5) to FILE (or -)')
    .option('--kcidb-origin <name>', 'KCIDB origin (CI system name)', undefined)
    .option('--kcidb-build-id <id>', 'KCIDB build id (origin:...); default <origin>:<kernel release>')
    .option('--baseline <file>', 'expected statuses per scenario (default on the mock: baselines/<profile>.json)')
    .option('--no-baseline', 'judge without a baseline: every failure is unexpected')
    .option(
      '--write-baseline <file>',
      "record this run's statuses as a baseline file for later runs (--baseline FILE), or - for stdout",
    )
    .option('--timeout <seconds>', 'per-scenario timeout in seconds, 0.001 to 2147483', String(DEFAULT_TIMEOUT_S))
    .option('--pf <bdf>', 'the PF under test')
    .option('--vf <bdf>', 'the VF under test (bound to vfio-pci)')
    .option(
      '--allow-skips',
      'a scenario the baseline expects to pass may skip without making the run fail (exit 1 otherwise)',
    )
    .option(
      '--allow-destructive',
      'run scenarios that disable every VF of the PF (journaled; iovh restore undoes them) even when other VFs are in use',
    )
    .option(
      '--fresh-process',
      'native: a new scenario process for every scenario (by default one that ended clean runs the next)',
    )
    .action(async (_o: unknown, c: Command) => {
      const raw = resolveOptions<Omit<RunOptions, 'json'> & { json?: string | true }>(c);
      // A bare --json means stdout.
      const opts: RunOptions = { ...raw, json: raw.json === true ? '-' : raw.json };
      setStatus(await runCommand(opts, globalOptions(c), (name) => c.getOptionValueSource(name) === 'cli'));
    });
  return cmd;
}
