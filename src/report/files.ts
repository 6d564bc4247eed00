// The report files of `iovh run` (--json, --junit, --ktap, --kcidb): made
// before the backend opens, so that a path that cannot be written stops the
// run before it touches the kernel, then rewritten after every scenario, so
// that a run that dies (a kernel oops killing iovh, the OOM killer, a power
// cut, a LAVA timeout) leaves valid reports of what finished, marked
// incomplete (RunResult.complete false).
//
// A rewrite is atomic: the text goes to a temporary file in the same
// directory, which is then renamed over the report (rename(2) replaces the
// name in one step), so a reader never sees half a report. That needs a
// regular file (or none yet): a report sent to a character device or a FIFO
// (/dev/stdout, a pipe to a collector) is written once, at the end, as is `-`.

import {
  accessSync,
  constants,
  lstatSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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

type Mode = { kind: 'stdout' } | { kind: 'atomic'; file: string } | { kind: 'direct' };

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.iovh-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch (cleanup) {
      // ENOENT: the temporary file was never made (or was renamed): nothing to remove. Anything else joins the report.
      if (codeOf(cleanup) !== 'ENOENT')
        throw new ReportFileError(
          `${codeOf(e)}, and the temporary file ${tmp} could not be removed (${codeOf(cleanup)})`,
        );
    }
    throw e;
  }
}

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
      const mode = ReportFiles.modeOf(spec);
      try {
        if (mode.kind === 'atomic') writeAtomic(mode.file, spec.render(placeholder));
        else accessSync(spec.path, constants.W_OK);
      } catch (e) {
        throw new ReportFileError(
          `cannot write the ${spec.what} report to ${spec.path}: ${e instanceof ReportFileError ? e.message : codeOf(e)}`,
        );
      }
      entries.push({ spec, mode });
    }
    return new ReportFiles(entries);
  }

  private static modeOf(spec: ReportSpec): Mode {
    let isLink: boolean;
    try {
      isLink = lstatSync(spec.path).isSymbolicLink();
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return { kind: 'atomic', file: spec.path };
      throw new ReportFileError(`cannot write the ${spec.what} report to ${spec.path}: ${codeOf(e)}`);
    }
    let target: string;
    try {
      // Renaming over a symlink would replace the link: write where it points (a dangling link: create its target).
      target = isLink ? realpathOrTarget(spec.path) : spec.path;
      const st = statSync(target, { throwIfNoEntry: false });
      // A directory stays 'atomic': the placeholder's rename fails with EISDIR, which is the message the user needs.
      if (st && !st.isFile() && !st.isDirectory()) return { kind: 'direct' };
    } catch (e) {
      throw new ReportFileError(`cannot write the ${spec.what} report to ${spec.path}: ${codeOf(e)}`);
    }
    return { kind: 'atomic', file: target };
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
        writeAtomic(mode.file, spec.render(run));
      } catch (e) {
        problems.push(
          `cannot update the ${spec.what} report ${spec.path}: ${e instanceof ReportFileError ? e.message : codeOf(e)}`,
        );
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
        } else if (mode.kind === 'atomic') writeAtomic(mode.file, text);
        else writeFileSync(spec.path, text);
      } catch (e) {
        problems.push(
          `cannot write the ${spec.what} report to ${spec.path}: ${e instanceof ReportFileError ? e.message : codeOf(e)}`,
        );
      }
    }
    if (problems.length > 0) throw new ReportFileError(problems.join('; '));
  }
}

/** realpath of a link, or, when it dangles, the path it names (relative to the link's directory). */
function realpathOrTarget(link: string): string {
  try {
    return realpathSync(link);
  } catch (e) {
    if (codeOf(e) !== 'ENOENT') throw e;
    return resolve(dirname(link), readlinkSync(link));
  }
}
