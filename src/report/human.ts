// Output for people: a progress line while the run goes (rewritten in place on
// a terminal, one plain line per scenario otherwise), then a table of scenario,
// status, path, baseline verdict and one-line reason, then a summary. Two
// separate questions: in place needs a terminal that understands cursor
// control; colour also needs NO_COLOR unset (https://no-color.org). Colours
// via picocolors.

import pc from 'picocolors';
import Table from 'cli-table3';
import { EXIT } from './exit.js';
import { bugLine, pathText, type RunResult, type ScenarioResult, type Status, type Verdict } from './model.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface HumanStyle {
  /** SGR colour and bold codes. */
  color: boolean;
  /** Rewrite the progress line in place with `\r` and erase-line (a terminal with cursor control). */
  tty: boolean;
  /** Width the output fits in: the terminal's, DEFAULT_COLUMNS when there is none. */
  columns: number;
}

/**
 * Width of the output when no terminal says its size (a CI log, a file, a
 * serial console): the full reasons are in the JSON report.
 */
export const DEFAULT_COLUMNS = 100;

/**
 * In place only on a TTY whose TERM names a terminal: TERM=dumb (Emacs
 * shells) has no cursor control, and a TTY without TERM (a serial console
 * under init, as in the QEMU guest) may be a log. Colour on top of that only
 * without NO_COLOR (set and not empty), unless FORCE_COLOR says otherwise
 * (forceColor).
 */
export function styleFor(
  stream: { isTTY?: boolean; columns?: number },
  env: NodeJS.ProcessEnv = process.env,
): HumanStyle {
  const term = env.TERM;
  const tty = stream.isTTY === true && term !== undefined && term !== '' && term !== 'dumb';
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  // A serial console's TTY reports 0 columns (no window size).
  const columns =
    stream.isTTY === true && stream.columns !== undefined && stream.columns > 0 ? stream.columns : DEFAULT_COLUMNS;
  return { color: forceColor(env) ?? (tty && !noColor), tty, columns };
}

/**
 * FORCE_COLOR as Node itself reads it (lib/internal/tty.js getColorDepth, and
 * chalk's supports-color): '', '1', '2', '3' or 'true' turn colour on whatever
 * the stream is and whatever NO_COLOR says (a CI log viewer that renders SGR
 * codes: GitLab, Jenkins' AnsiColor); any other value ('0', 'false') turns it
 * off, even on a terminal; unset leaves the choice to the terminal and
 * NO_COLOR. Colour only: the progress line is rewritten in place on a
 * terminal alone, forced or not.
 */
export function forceColor(env: NodeJS.ProcessEnv): boolean | null {
  const v = env.FORCE_COLOR;
  if (v === undefined) return null;
  return ['', '1', '2', '3', 'true'].includes(v);
}

function colors(style: HumanStyle): Colors {
  return pc.createColors(style.color);
}

export function paintStatus(status: Status, c: Colors): string {
  switch (status) {
    case 'pass':
      return c.green(status);
    case 'fail':
      return c.red(status);
    case 'crash':
      return c.bold(c.red(status));
    case 'timeout':
      return c.red(status);
    case 'warn':
      return c.yellow(status);
    case 'skip':
      return c.dim(status);
  }
}

function paintVerdict(verdict: Verdict | undefined, c: Colors): string {
  switch (verdict) {
    case undefined:
      return '';
    case 'expected':
      return c.dim(verdict);
    case 'regression':
      return c.bold(c.red(verdict));
    case 'fixed':
      return c.green(verdict);
    case 'changed':
      return c.yellow(verdict);
    case 'unlisted':
      return c.yellow(verdict);
  }
}

function clip(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= width ? line : `${line.slice(0, Math.max(1, width - 1))}…`;
}

function counter(index: number, total: number): string {
  const w = String(total).length;
  return `[${String(index).padStart(w)}/${total}]`;
}

/** Erase the current line and go back to its start (ECMA-48 CR, then EL with parameter 2: the whole line). */
const REWRITE = '\r\x1b[2K';

/**
 * The line shown while scenario `index` of `total` runs. On a terminal it is
 * written with a carriage return and no newline, so the next one replaces it;
 * it is kept shorter than the terminal, since erase-line clears only the row
 * the cursor is on and a wrapped line would leave its first rows behind.
 * Elsewhere nothing: the finished line says it all.
 */
export function progressStart(index: number, total: number, id: string, style: HumanStyle): string {
  if (!style.tty) return '';
  const c = colors(style);
  const head = counter(index, total);
  return `${REWRITE}${c.dim(head)} ${clip(`${id} …`, Math.max(1, style.columns - head.length - 2))}`;
}

/** A reason is never cut shorter than this, even when the line then exceeds the terminal. */
const MIN_REASON = 12;

/** The line left behind once scenario `index` has a result; the reason is cut to fit the width. */
export function progressDone(index: number, total: number, r: ScenarioResult, style: HumanStyle): string {
  const c = colors(style);
  const path = r.path ? ` (${r.path})` : '';
  const shown = r.baseline && r.baseline.verdict !== 'expected' ? r.baseline.verdict : null;
  const plainHead = `${counter(index, total)} ${r.id}: ${r.status}${path}${shown ? ` [${shown}]` : ''}`;
  const head = `${c.dim(counter(index, total))} ${r.id}: ${paintStatus(r.status, c)}${path}${shown ? ` [${paintVerdict(shown, c)}]` : ''}`;
  // " — " before the reason; one column spare so that a full line does not wrap on terminals that wrap at the last column.
  const reason =
    r.status === 'pass' ? '' : ` — ${clip(r.reason, Math.max(MIN_REASON, style.columns - plainHead.length - 4))}`;
  return `${style.tty ? REWRITE : ''}${head}${reason}\n`;
}

/** Narrower than this, a reason column says too little: the reason goes on its own line under the row. */
const REASON_COLUMN_MIN = 24;

/**
 * The results table, as wide as `style.columns`: scenario, status, path and
 * baseline take what their longest cell needs (an id is never cut) and the
 * reason gets the rest, cut with an ellipsis (the JSON report has it whole).
 * When that leaves the reason fewer than REASON_COLUMN_MIN columns (long ids
 * on an 80-column terminal), each reason goes on a line of its own under its
 * row, across the table, cut the same way.
 */
export function renderTable(run: RunResult, style: HumanStyle): string {
  const c = colors(style);
  const withBaseline = run.baseline !== null;
  const fixedHead = ['scenario', 'status', 'path', ...(withBaseline ? ['baseline'] : [])];
  const plain = run.scenarios.map((r) => [
    r.id,
    r.status,
    r.path ?? '',
    ...(withBaseline ? [r.baseline?.verdict ?? ''] : []),
  ]);
  const fixed = fixedHead
    .map((h, i) => Math.max(h.length, ...plain.map((row) => row[i]!.length)))
    .reduce((a, b) => a + b, 0);
  // cli-table3, compact style: a padding space each side of a cell, a border between and around cells.
  const reasonColumn = style.columns - fixed - (3 * (fixedHead.length + 1) + 1);
  const stacked = reasonColumn < REASON_COLUMN_MIN;
  // A line spanning the fixed columns holds their widths and the 3 columns of each inner boundary; indented by 2.
  const reasonWidth = stacked
    ? Math.max(1, Math.min(fixed + 3 * (fixedHead.length - 1), style.columns - 4) - 2)
    : reasonColumn;
  const head = stacked ? fixedHead : [...fixedHead, 'reason'];
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
    wordWrap: false,
  });
  for (const r of run.scenarios) {
    const cells = [
      r.id,
      paintStatus(r.status, c),
      r.path ?? '',
      ...(withBaseline ? [paintVerdict(r.baseline?.verdict, c)] : []),
    ];
    const reason = clip(r.reason, reasonWidth);
    if (stacked) table.push(cells, [{ colSpan: fixedHead.length, content: `  ${c.dim(reason)}` }]);
    else table.push([...cells, reason]);
  }
  return `${table.toString()}\n`;
}

/** `--verbose`: for every scenario that did not simply pass, the whole reason and its evidence in words. */
export function renderDetails(run: RunResult, style: HumanStyle): string {
  const c = colors(style);
  const out: string[] = [];
  for (const r of run.scenarios) {
    if (r.status === 'pass') continue;
    out.push(
      `${c.bold(r.id)}: ${paintStatus(r.status, c)}${r.path ? ` (path ${pathText(r)}${r.expectedPath && r.expectedPath !== r.path ? `, expected ${r.expectedPath}` : ''})` : ''}`,
    );
    out.push(`  ${r.reason}`);
    if (r.skip) out.push(`  to enable: ${r.skip.enable}`);
    for (const q of r.quirks)
      out.push(`  ${q.number !== null ? `quirk ${q.number}` : q.id} (${q.title}): ${q.evidence}`);
    for (const b of r.bugs ?? []) out.push(`  ${bugLine(b)}`);
    for (const line of r.cleanliness.kernelComplaints.slice(0, 8)) out.push(`  kernel: ${line}`);
    for (const u of r.cleanliness.unavailable) out.push(`  not measured: ${u}`);
    if (r.error?.stack && r.error.kind === 'harness')
      out.push(
        ...r.error.stack
          .split('\n')
          .slice(0, 6)
          .map((l) => `  ${l}`),
      );
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** Distinct "not measured" reasons shown in the summary; the JSON report has every scenario's. */
const NOT_MEASURED_SHOWN = 4;

/**
 * What the kernel monitors could not measure in the scenarios that ran, one
 * line per reason with how many scenarios it concerns. Without it a pass
 * reads as clean when, say, /dev/kmsg was unreadable and no oops could have
 * been seen (src/harness/monitors.ts reports each as unavailable).
 */
export function notMeasured(run: RunResult): string[] {
  const ran = run.scenarios.filter((r) => r.status !== 'skip');
  const count = new Map<string, number>();
  for (const r of ran) for (const u of new Set(r.cleanliness.unavailable)) count.set(u, (count.get(u) ?? 0) + 1);
  const reasons = [...count].sort((a, b) => b[1] - a[1]);
  const lines = reasons
    .slice(0, NOT_MEASURED_SHOWN)
    .map(
      ([u, n]) =>
        `not measured: ${u} (${n === ran.length ? 'every scenario that ran' : `${n} of ${ran.length} scenarios that ran`})`,
    );
  if (reasons.length > NOT_MEASURED_SHOWN)
    lines.push(`not measured: ${reasons.length - NOT_MEASURED_SHOWN} more reasons (see --verbose or the JSON report)`);
  return lines;
}

/**
 * The summary under the table. `exitCode` is the status the command exits
 * with when it is not the report's own (`--skip-exit 4` turns 77 into 4).
 */
export function renderSummary(run: RunResult, style: HumanStyle, exitCode = run.summary.exitCode): string {
  const c = colors(style);
  const s = run.summary;
  const lines: string[] = [];
  const counts = (Object.entries(s.byStatus) as [Status, number][])
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${paintStatus(status, c)}`)
    .join(', ');
  lines.push(`${s.total} scenarios: ${counts || 'none'} in ${(run.durationMs / 1000).toFixed(1)} s`);
  if (run.baseline) {
    const v = (Object.entries(s.byVerdict) as [Verdict, number][])
      .filter(([, n]) => n > 0)
      .map(([verdict, n]) => `${n} ${paintVerdict(verdict, c)}`)
      .join(', ');
    lines.push(`baseline ${run.baseline.name} (${run.baseline.path}): ${v || 'nothing compared'}`);
  }
  const known = run.scenarios.filter(
    (r) => r.baseline?.verdict === 'expected' && r.status !== 'pass' && r.status !== 'skip',
  );
  if (known.length > 0) {
    lines.push('known defects of this kernel (expected by the baseline):');
    for (const r of known) {
      const quirks = [
        ...r.quirks.map((q) => `${q.number !== null ? `quirk ${q.number}` : q.id}: ${q.title}`),
        ...(r.bugs ?? []).map((b) => `bug ${b.id}: ${b.title}`),
      ].join('; ');
      lines.push(`  ${r.id}: ${r.status}${quirks ? ` — ${quirks}` : ''}`);
    }
  }
  if (s.skippedPasses.length > 0) {
    const how = s.skipsAllowed ? 'accepted by --allow-skips' : 'unexpected; --allow-skips accepts that';
    lines.push(
      c.yellow(`skipped where the baseline expects a pass, so not checked (${how}): ${s.skippedPasses.join(', ')}`),
    );
  }
  lines.push(...notMeasured(run).map((l) => c.yellow(l)));
  // A task left asleep in the kernel (bugs/revoke-hang-*: evidence.rebootNeeded) holds its device until a reboot.
  for (const r of run.scenarios)
    if (typeof r.evidence.rebootNeeded === 'string')
      lines.push(c.red(`the machine needs a reboot: ${r.id}: ${r.evidence.rebootNeeded}`));
  if (run.interrupted)
    lines.push(c.yellow(`interrupted by ${run.interrupted.signal}: the results above are partial; every cleanup ran`));
  lines.push(`backend: ${run.backend.name} (${run.backend.reason}); kernel ${run.kernel.release ?? 'unknown'}`);
  if (run.kernel.shape) lines.push(`kernel shape: ${run.kernel.shape.summary}`);
  lines.push(exitLine(run, c, exitCode));
  return `${lines.join('\n')}\n`;
}

function exitLine(run: RunResult, c: Colors, exitCode: number): string {
  const s = run.summary;
  const verdict =
    s.exitCode === EXIT.OK
      ? c.green(s.exitReason)
      : s.exitCode === EXIT.SKIPPED
        ? c.yellow(s.exitReason)
        : c.red(s.exitReason);
  return `exit ${exitCode}: ${verdict}`;
}

/**
 * What iovh run and iovh report print once the results are in: the table
 * (with the evidence of each result under --verbose) and the summary, or
 * under --quiet only what fails the run and the exit line (renderQuiet).
 */
export function renderVerdict(
  run: RunResult,
  style: HumanStyle,
  o: { quiet?: boolean; verbose?: boolean },
  exitCode = run.summary.exitCode,
): string {
  if (o.quiet) return renderQuiet(run, style, exitCode);
  const details = o.verbose ? `\n${renderDetails(run, style)}\n` : '';
  return `${renderTable(run, style)}${details}${renderSummary(run, style, exitCode)}`;
}

/**
 * `--quiet`: what needs a person and nothing else. One line per result that
 * makes the run fail (an unexpected status, or a skip where the baseline
 * expects a pass and --allow-skips was not given), with its reason, then the
 * exit line; a run that is as expected prints that one line. No progress, no
 * table: the reports hold everything.
 */
export function renderQuiet(run: RunResult, style: HumanStyle, exitCode = run.summary.exitCode): string {
  const c = colors(style);
  const s = run.summary;
  const flagged = new Set([...s.unexpected, ...(s.skipsAllowed ? [] : s.skippedPasses)]);
  const lines: string[] = [];
  for (const r of run.scenarios) {
    if (!flagged.has(r.id)) continue;
    const width = Math.max(MIN_REASON, style.columns - `${r.id}: ${r.status} — `.length);
    lines.push(`${r.id}: ${paintStatus(r.status, c)}${r.reason ? ` — ${clip(r.reason, width)}` : ''}`);
  }
  lines.push(exitLine(run, c, exitCode));
  return `${lines.join('\n')}\n`;
}
