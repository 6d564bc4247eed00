// `iovh report RESULTS.json`: any report format from a results file, without
// running anything (as IGT's igt_results re-renders a run): the human table
// and summary on stdout by default, or the files asked for (`--junit`,
// `--ktap`, `--kcidb`, `--json`, `--write-baseline`; `-` for stdout). The
// file is checked against docs/schemas/iovh-run.schema.json first (a bad one
// is one line and exit 2). Exit 0 once the reports are written, or with
// `--exit-status` the run's own status (summary.exitCode), for a wrapper that
// gates on a run it did not start.
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readResults } from '../../api/results.js';
import { ReportFileError, ReportFiles } from '../../report/files.js';
import { renderVerdict, styleFor } from '../../report/human.js';
import { kcidbOptionsProblem } from '../../report/kcidb.js';
import { EXIT } from '../../report/exit.js';
import { CliError, UsageError } from '../errors.js';
import { HumanOutput } from '../output.js';
import { resolveOptions } from '../global.js';
import { checkQuiet, exitStatusOf, kcidbOptions, reportSpecs, skipExitOption } from './run.js';

interface ReportOptions {
  json?: string;
  junit?: string;
  ktap?: string;
  kcidb?: string;
  kcidbOrigin?: string;
  kcidbBuildId?: string;
  writeBaseline?: string;
  verbose?: boolean;
  quiet?: boolean;
  skipExit?: string;
  exitStatus?: boolean;
}

/** The same file, by device and inode when both exist, else by resolved path. */
function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    try {
      return realpathSync(a) === resolve(b);
    } catch {
      return resolve(a) === resolve(b);
    }
  }
}

function check(input: string, o: ReportOptions): void {
  const given: [string, string | undefined][] = [
    ['--json', o.json],
    ['--junit', o.junit],
    ['--ktap', o.ktap],
    ['--kcidb', o.kcidb],
    ['--write-baseline', o.writeBaseline],
  ];
  const outputs = given.filter((x): x is [string, string] => x[1] !== undefined);
  if (outputs.filter(([, f]) => f === '-').length > 1) throw new UsageError('only one report can go to stdout (-)');
  const seen = new Map<string, string>();
  for (const [flag, f] of outputs) {
    if (f === '-') continue;
    // Writing a report over the results file would destroy the only copy of the run.
    if (sameFile(f, input))
      throw new UsageError(`${flag} names the results file itself (${f}): write the report to another file`);
    const key = resolve(f);
    const other = seen.get(key);
    if (other) throw new UsageError(`${other} and ${flag} name the same file (${f}): give each report its own`);
    seen.set(key, flag);
  }
  if (o.kcidbOrigin !== undefined && !/^[a-z0-9_]+$/.test(o.kcidbOrigin))
    throw new UsageError(`--kcidb-origin must match ^[a-z0-9_]+$, got '${o.kcidbOrigin}'`);
  checkQuiet(o);
  const problem = kcidbOptionsProblem(kcidbOptions(o));
  if (problem) throw new UsageError(`--kcidb-build-id: ${problem}`);
}

export async function reportCommand(input: string, o: ReportOptions): Promise<number> {
  check(input, o);
  const run = readResults(input);
  const specs = reportSpecs(o);
  const out = new HumanOutput(process.stdout);
  try {
    const status = exitStatusOf(run, o);
    if (specs.length === 0) out.write(renderVerdict(run, styleFor(process.stdout), o, status));
    else {
      try {
        ReportFiles.open(specs, run).write(run, (text) => out.write(text));
      } catch (e) {
        if (e instanceof ReportFileError) throw new CliError(e.message, EXIT.FAILED);
        throw e;
      }
    }
    await out.settle();
    if (out.lost !== null && out.lost !== 'EPIPE')
      throw new CliError(`cannot write to stdout: ${out.lost}`, EXIT.FAILED);
    return o.exitStatus ? status : EXIT.OK;
  } finally {
    out.release();
  }
}

export function registerReport(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('report')
    .argument('<results.json>', 'a results file written by `iovh run --json` (complete or not)')
    .description('write any report format from a results file, running nothing (the table and summary by default)')
    .option('--json <file>', 'the JSON report (the result as it is, checked) to FILE, or - for stdout')
    .option('--junit <file>', 'a JUnit XML report to FILE (or -)')
    .option('--ktap <file>', 'a KTAP version 1 report to FILE (or -)')
    .option('--kcidb <file>', 'KCIDB JSON (schema v4.5) to FILE (or -)')
    .option('--kcidb-origin <name>', 'KCIDB origin (CI system name)')
    .option('--kcidb-build-id <id>', 'KCIDB build id (origin:...); default <origin>:<kernel release>')
    .option('--write-baseline <file>', "the run's statuses as a baseline file to FILE (or -)")
    .option('--verbose', 'with the table: the evidence of every result that is not a plain pass')
    .option('-q, --quiet', 'instead of the table: only the results that failed the run and the exit line')
    .option('--exit-status', "exit with the run's own status (0, 1, 77, ...) instead of 0")
    .addOption(skipExitOption())
    .action(async (input: string, _o: unknown, c: Command) => {
      setStatus(await reportCommand(input, resolveOptions<ReportOptions>(c)));
    });
}
