// The report files of `iovh run` (--json, --junit, --ktap, --kcidb): made
// before the backend opens, so that a path that cannot be written stops the
// run before it touches the kernel, then rewritten after every scenario, so
// that a run that dies (a kernel oops killing iovh, the OOM killer, a power
// cut, a LAVA timeout) leaves valid reports of what finished, marked
// incomplete (RunResult.complete false).
//
// A rewrite is atomic and durable (src/outfile.ts: temporary file, fsync,
// rename, fsync of the directory), so a reader never sees half a report and a
// panic right after leaves a whole one. That needs a regular file (or none
// yet; a symlink is followed): a report sent to a character device or a FIFO
// (/dev/stdout, a pipe to a collector) is written in place once, at the end,
// as is `-`, and never renamed over.

import { codeOf, OutputFileError, outputMode, probeOutput, writeOutput, type OutputMode } from '../outfile.js';
import type { RunResult } from './model.js';

export interface ReportSpec {
  /** The format's name in messages: JSON, JUnit, KTAP, KCIDB. */
  what: string;
  /** A file path, or `-` for stdout. */
  path: string;
  render(run: RunResult): string;
}

/** A report file that cannot be written: the message names the report, the path and the errno. */
export class ReportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportFileError';
  }
}

type Mode = { kind: 'stdout' } | OutputMode;

export class ReportFiles {
  private constructor(private readonly entries: { spec: ReportSpec; mode: Mode }[]) {}

  /**
   * Check every report path and write `placeholder` (a run with no result
   * yet) to each file, so that a path that cannot be written fails now, with
   * nothing run. Throws ReportFileError naming the first that fails.
   */
  static open(specs: readonly ReportSpec[], placeholder: RunResult): ReportFiles {
    const entries: { spec: ReportSpec; mode: Mode }[] = [];
    for (const spec of specs) {
      if (spec.path === '-') {
        entries.push({ spec, mode: { kind: 'stdout' } });
        continue;
      }
      let mode: OutputMode;
      try {
        mode = outputMode(spec.path);
        if (mode.kind === 'atomic') writeOutput(mode, spec.render(placeholder));
        else probeOutput(mode);
      } catch (e) {
        throw new ReportFileError(`cannot write the ${spec.what} report to ${spec.path}: ${messageOf(e)}`);
      }
      entries.push({ spec, mode });
    }
    return new ReportFiles(entries);
  }

  /**
   * Rewrite every file report with `run` (complete or not). Stdout and
   * non-regular files are left for write(). Returns one line per report that
   * could not be rewritten; the run goes on without it.
   */
  rewrite(run: RunResult): string[] {
    const problems: string[] = [];
    for (const { spec, mode } of this.entries) {
      if (mode.kind !== 'atomic') continue;
      try {
        writeOutput(mode, spec.render(run));
      } catch (e) {
        problems.push(`cannot update the ${spec.what} report ${spec.path}: ${messageOf(e)}`);
      }
    }
    return problems;
  }

  /** The report that goes to stdout (`-`), if one does. */
  get onStdout(): ReportSpec | null {
    return this.entries.find((e) => e.mode.kind === 'stdout')?.spec ?? null;
  }

  /**
   * The final reports: every file, then stdout through `toStdout` (false when
   * stdout is gone). Throws ReportFileError after trying them all, naming
   * those that failed.
   */
  write(run: RunResult, toStdout: (text: string) => boolean): void {
    const problems: string[] = [];
    for (const { spec, mode } of this.entries) {
      try {
        const text = spec.render(run);
        if (mode.kind === 'stdout') {
          if (!toStdout(text)) problems.push(`cannot write the ${spec.what} report to stdout: it was closed`);
        } else writeOutput(mode, text);
      } catch (e) {
        problems.push(`cannot write the ${spec.what} report to ${spec.path}: ${messageOf(e)}`);
      }
    }
    if (problems.length > 0) throw new ReportFileError(problems.join('; '));
  }
}

function messageOf(e: unknown): string {
  return e instanceof OutputFileError ? e.message : codeOf(e);
}
