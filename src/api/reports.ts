// Every report format from one result (src/report/model.ts): the library's
// renderReport() and writeReport(), and what `iovh report` re-renders.
import { renderBaseline } from '../report/baseline.js';
import { ReportFiles, type ReportSpec } from '../report/files.js';
import { DEFAULT_COLUMNS, renderDetails, renderSummary, renderTable } from '../report/human.js';
import { renderJson } from '../report/json.js';
import { renderJunit } from '../report/junit.js';
import { kcidbOptionsProblem, renderKcidb, type KcidbOptions } from '../report/kcidb.js';
import { renderKtap } from '../report/ktap.js';
import type { RunResult } from '../report/model.js';
import { InputError } from '../host/errors.js';

/**
 * `json` the result as it is (docs/report-schema.md), `junit` JUnit XML,
 * `ktap` KTAP version 1, `kcidb` KCIDB v4.5 JSON, `baseline` a baseline file
 * of this run's statuses, `text` the table, details and summary `iovh run`
 * prints (without colour).
 */
export const REPORT_FORMATS = ['json', 'junit', 'ktap', 'kcidb', 'baseline', 'text'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface RenderOptions {
  /** kcidb: the origin (`^[a-z0-9_]+$`, default iovh) and the tested build's id (`<origin>:...`). */
  kcidb?: KcidbOptions;
}

/** The name of a format in messages. */
export const FORMAT_NAMES: Record<ReportFormat, string> = {
  json: 'JSON',
  junit: 'JUnit',
  ktap: 'KTAP',
  kcidb: 'KCIDB',
  baseline: 'baseline',
  text: 'text',
};

function renderText(run: RunResult): string {
  const style = { color: false, tty: false, columns: DEFAULT_COLUMNS };
  return `${renderTable(run, style)}\n${renderDetails(run, style)}\n${renderSummary(run, style)}`;
}

/** The report of `run` in `format`. Throws InputError for KCIDB options that break the format's id rules. */
export function renderReport(run: RunResult, format: ReportFormat, options: RenderOptions = {}): string {
  switch (format) {
    case 'json':
      return renderJson(run);
    case 'junit':
      return renderJunit(run);
    case 'ktap':
      return renderKtap(run);
    case 'kcidb': {
      const problem = kcidbOptionsProblem(options.kcidb ?? {});
      if (problem) throw new InputError(problem);
      return renderKcidb(run, options.kcidb ?? {});
    }
    case 'baseline':
      return renderBaseline(run);
    case 'text':
      return renderText(run);
    default:
      throw new InputError(`unknown report format '${String(format)}' (one of ${REPORT_FORMATS.join(', ')})`);
  }
}

/** A ReportSpec for report files (src/report/files.ts). */
export function reportSpec(format: ReportFormat, path: string, options: RenderOptions = {}): ReportSpec {
  return { what: FORMAT_NAMES[format], path, render: (run) => renderReport(run, format, options) };
}

/**
 * Write the report of `run` to `path` as `iovh run` writes its report files:
 * a regular file is replaced atomically (a temporary file renamed over it),
 * a FIFO or a character device is written to. Throws ReportFileError naming
 * the file and the errno.
 */
export function writeReport(run: RunResult, format: ReportFormat, path: string, options: RenderOptions = {}): void {
  if (path === '-') throw new InputError("writeReport writes files; use renderReport for '-' (stdout)");
  const spec = reportSpec(format, path, options);
  ReportFiles.open([spec], run).write(run, () => true);
}
