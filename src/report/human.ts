// Output for people: a progress line while the run goes (rewritten in place on
// a terminal, one plain line per scenario otherwise), then a table of scenario,
// status, path, baseline verdict and one-line reason, then a summary. Two
// separate questions: in place needs a terminal that understands cursor
// control; colour also needs NO_COLOR unset (https://no-color.org). Colours
// via picocolors.

import pc from 'picocolors';
import Table from 'cli-table3';
import type { RunResult, ScenarioResult, Status, Verdict } from './model.js';

type Colors = ReturnType<typeof pc.createColors>;

export interface HumanStyle {
  /** SGR colour and bold codes. */
  color: boolean;
  /** Rewrite the progress line in place with `\r` and erase-line (a terminal with cursor control). */
  tty: boolean;
  /** Terminal width for the reason column; 180 when not a terminal. */
  columns: number;
}

/**
 * In place only on a TTY whose TERM names a terminal: TERM=dumb (Emacs
 * shells) has no cursor control, and a TTY without TERM (a serial console
 * under init, as in the QEMU guest) may be a log. Colour on top of that only
 * without NO_COLOR (set and not empty).
 */
export function styleFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv = process.env): HumanStyle {
  const term = env.TERM;
  const tty = stream.isTTY === true && term !== undefined && term !== '' && term !== 'dumb';
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  // Not a terminal (a CI log, a file): wide lines are cheap there and cut reasons are not.
  return { color: tty && !noColor, tty, columns: stream.columns && stream.columns > 40 ? stream.columns : 180 };
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

/** The line left behind once scenario `index` has a result. */
export function progressDone(index: number, total: number, r: ScenarioResult, style: HumanStyle): string {
  const c = colors(style);
  const path = r.path ? ` (${r.path})` : '';
  const verdict = r.baseline && r.baseline.verdict !== 'expected' ? ` [${paintVerdict(r.baseline.verdict, c)}]` : '';
  const head = `${c.dim(counter(index, total))} ${r.id}: ${paintStatus(r.status, c)}${path}${verdict}`;
  const reason = r.status === 'pass' ? '' : ` — ${clip(r.reason, Math.max(30, style.columns - head.length - 8))}`;
  return `${style.tty ? REWRITE : ''}${head}${reason}\n`;
}

export function renderTable(run: RunResult, style: HumanStyle): string {
  const c = colors(style);
  const withBaseline = run.baseline !== null;
  const head = ['scenario', 'status', 'path', ...(withBaseline ? ['baseline'] : []), 'reason'];
  const fixed = 30 + 9 + 14 + (withBaseline ? 12 : 0) + head.length * 3;
  const reasonWidth = Math.max(30, Math.min(style.tty ? 90 : 120, style.columns - fixed));
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true, 'padding-left': 1, 'padding-right': 1 },
    wordWrap: false,
  });
  for (const r of run.scenarios) {
    table.push([
      r.id,
      paintStatus(r.status, c),
      r.path ?? '',
      ...(withBaseline ? [paintVerdict(r.baseline?.verdict, c)] : []),
      clip(r.reason, reasonWidth),
    ]);
  }
  return `${table.toString()}\n`;
}

/** `--verbose`: for every scenario that did not simply pass, the whole reason and its evidence in words. */
export function renderDetails(run: RunResult, style: HumanStyle): string {
  const c = colors(style);
  const out: string[] = [];
  for (const r of run.scenarios) {
    if (r.status === 'pass') continue;
    out.push(`${c.bold(r.id)}: ${paintStatus(r.status, c)}${r.path ? ` (path ${r.path}${r.expectedPath && r.expectedPath !== r.path ? `, expected ${r.expectedPath}` : ''})` : ''}`);
    out.push(`  ${r.reason}`);
    if (r.skip) out.push(`  to enable: ${r.skip.enable}`);
    for (const q of r.quirks) out.push(`  ${q.number !== null ? `quirk ${q.number}` : q.id} (${q.title}): ${q.evidence}`);
    for (const line of r.cleanliness.kernelComplaints.slice(0, 8)) out.push(`  kernel: ${line}`);
    for (const u of r.cleanliness.unavailable) out.push(`  not measured: ${u}`);
    if (r.error?.stack && r.error.kind === 'harness') out.push(...r.error.stack.split('\n').slice(0, 6).map((l) => `  ${l}`));
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

export function renderSummary(run: RunResult, style: HumanStyle): string {
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
  const known = run.scenarios.filter((r) => r.baseline?.verdict === 'expected' && r.status !== 'pass' && r.status !== 'skip');
  if (known.length > 0) {
    lines.push('known defects of this kernel (expected by the baseline):');
    for (const r of known) {
      const quirks = r.quirks.map((q) => `${q.number !== null ? `quirk ${q.number}` : q.id}: ${q.title}`).join('; ');
      lines.push(`  ${r.id}: ${r.status}${quirks ? ` — ${quirks}` : ''}`);
    }
  }
  if (run.interrupted) lines.push(c.yellow(`interrupted by ${run.interrupted.signal}: the results above are partial; every cleanup ran`));
  lines.push(`backend: ${run.backend.name} (${run.backend.reason}); kernel ${run.kernel.release ?? 'unknown'}`);
  const verdict = s.exitCode === 0 ? c.green(s.exitReason) : s.exitCode === 77 ? c.yellow(s.exitReason) : c.red(s.exitReason);
  lines.push(`exit ${s.exitCode}: ${verdict}`);
  return `${lines.join('\n')}\n`;
}
