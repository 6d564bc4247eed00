import { describe, expect, it } from 'vitest';
import {
  DEFAULT_COLUMNS,
  progressDone,
  progressStart,
  renderSummary,
  renderTable,
  styleFor,
} from '../../src/report/human.js';
import { mixedRun } from './fixture.js';

const ANSI = /\x1b\[/;
const plain = { color: false, tty: false, columns: 120 };
const tty = { color: true, tty: true, columns: 120 };

describe('human output', () => {
  it('colours only on a terminal and without NO_COLOR', () => {
    const xterm = { TERM: 'xterm-256color' };
    expect(styleFor({ isTTY: false }, xterm).color).toBe(false);
    expect(styleFor({ isTTY: true }, xterm).color).toBe(true);
    expect(styleFor({ isTTY: true }, { ...xterm, NO_COLOR: '1' }).color).toBe(false);
    expect(styleFor({ isTTY: true }, { ...xterm, NO_COLOR: '' }).color).toBe(true); // no-color.org: set and not empty
    expect(styleFor({ isTTY: true }, { TERM: 'dumb' }).color).toBe(false);
  });

  it('FORCE_COLOR as Node reads it: on for "", 1, 2, 3, true whatever the stream and NO_COLOR; off for anything else', () => {
    const xterm = { TERM: 'xterm-256color' };
    for (const on of ['', '1', '2', '3', 'true']) {
      expect(styleFor({ isTTY: false }, { FORCE_COLOR: on }).color, on).toBe(true);
      expect(styleFor({ isTTY: false }, { FORCE_COLOR: on, NO_COLOR: '1' }).color, on).toBe(true);
      // Colour only: a CI log is still not rewritten in place.
      expect(styleFor({ isTTY: false }, { FORCE_COLOR: on }).tty, on).toBe(false);
    }
    for (const off of ['0', 'false', 'no'])
      expect(styleFor({ isTTY: true }, { ...xterm, FORCE_COLOR: off }).color).toBe(false);
    expect(renderSummary(mixedRun(), styleFor({ isTTY: false }, { FORCE_COLOR: '1' }))).toMatch(ANSI);
    expect(renderSummary(mixedRun(), styleFor({ isTTY: true }, { ...xterm, FORCE_COLOR: '0' }))).not.toMatch(ANSI);
  });

  it('rewrites in place only on a TTY whose TERM has cursor control; NO_COLOR does not change that', () => {
    expect(styleFor({ isTTY: true }, { TERM: 'xterm' }).tty).toBe(true);
    expect(styleFor({ isTTY: true }, { TERM: 'xterm', NO_COLOR: '1' })).toMatchObject({ tty: true, color: false });
    expect(styleFor({ isTTY: false }, { TERM: 'xterm' }).tty).toBe(false);
    expect(styleFor({ isTTY: true }, { TERM: 'dumb' }).tty).toBe(false);
    // A serial console under init (the QEMU guest): a TTY, no TERM.
    expect(styleFor({ isTTY: true }, { NO_COLOR: '1' })).toMatchObject({ tty: false, color: false });
  });

  it("takes the terminal's width, and DEFAULT_COLUMNS (100) off a terminal or when the TTY has no size", () => {
    expect(DEFAULT_COLUMNS).toBe(100);
    expect(styleFor({ isTTY: true, columns: 80 }, { TERM: 'xterm' }).columns).toBe(80);
    expect(styleFor({ isTTY: true, columns: 0 }, { TERM: 'xterm' }).columns).toBe(100);
    expect(styleFor({ isTTY: false, columns: 80 }, {}).columns).toBe(100);
    expect(styleFor({}, {}).columns).toBe(100);
  });

  it('keeps the in-place line shorter than the terminal (erase-line clears one row only)', () => {
    const narrow = { color: false, tty: true, columns: 24 };
    const line = progressStart(12, 40, 'lifecycle/vf-disable-while-imported', narrow);
    expect(line.startsWith('\r\x1b[2K')).toBe(true);
    expect(line.slice('\r\x1b[2K'.length).length).toBeLessThan(24);
    expect(line).toContain('[12/40] lifecycle/');
  });

  it('plain output has no escape sequences and one line per finished scenario', () => {
    const r = mixedRun();
    expect(progressStart(1, 10, 'caps/kernel', plain)).toBe('');
    const line = progressDone(4, 10, r.scenarios[3]!, plain);
    expect(line).toMatch(/^\[ 4\/10\] edge\/last-page: fail \(untranslated\) — range in the last BAR page/);
    expect(line.endsWith('\n')).toBe(true);
    expect(line).not.toMatch(ANSI);
    expect(renderTable(r, plain)).not.toMatch(ANSI);
    expect(renderSummary(r, plain)).not.toMatch(ANSI);
  });

  it('on a TTY the progress line is rewritten in place, with colour', () => {
    const r = mixedRun();
    expect(progressStart(2, 10, 'export/single-range', tty)).toMatch(/^\r\x1b\[2K/);
    expect(progressDone(6, 10, r.scenarios[5]!, tty)).toMatch(ANSI);
  });

  it('the table fits the width: whole scenario ids, reasons cut with an ellipsis', () => {
    const r = mixedRun();
    r.scenarios[0]!.reason = `a reason much longer than any terminal ${'is wide '.repeat(40)}`;
    const width = (line: string) => [...line.replace(/\x1b\[[0-9;]*m/g, '')].length;
    for (const columns of [80, 100, 132]) {
      for (const style of [
        { ...plain, columns },
        { ...tty, columns },
      ]) {
        const table = renderTable(r, style);
        const lines = table.trimEnd().split('\n');
        expect(Math.max(...lines.map(width)), `${columns} columns`).toBeLessThanOrEqual(columns);
        for (const s of r.scenarios) expect(table).toContain(` ${s.id} `);
        expect(table).toMatch(/a reason much[^│\n]*…/);
      }
    }
    // A wide terminal leaves short reasons whole, in their column.
    expect(renderTable(r, { ...plain, columns: 400 })).toMatch(
      /│ export\/single-range +│ pass +│ +│ expected +│ pass because of reasons +│/,
    );
    // Too narrow for a useful reason column: each reason on its own line under its row.
    const narrow = renderTable(r, { ...plain, columns: 80 });
    expect(narrow).not.toMatch(/│ reason/);
    expect(narrow).toMatch(/│ export\/single-range +│ pass +│ +│ expected +│\n│ {3}pass because of reasons +│\n/);
  });

  it('a finished progress line cuts its reason to the width, never the id', () => {
    const r = mixedRun();
    const failing = { ...r.scenarios[3]!, reason: 'x'.repeat(300) };
    const line = progressDone(4, 10, failing, { ...plain, columns: 80 });
    expect(line.length - 1).toBeLessThanOrEqual(80);
    expect(line).toContain(`${failing.id}: fail`);
    expect(line.trimEnd().endsWith('…')).toBe(true);
  });

  it('the table lists scenario, status, path, baseline verdict and reason', () => {
    const table = renderTable(mixedRun(), plain);
    for (const h of ['scenario', 'status', 'path', 'baseline', 'reason']) expect(table).toContain(h);
    expect(table).toMatch(/edge\/last-page\s+│\s+fail\s+│\s+untranslated\s+│\s+expected/);
    expect(table).toMatch(/data\/gpu-write-cpu-read\s+│\s+fail\s+│\s+│\s+regression/);
  });

  it('the summary counts statuses, names known defects with their quirks, and explains the exit', () => {
    const s = renderSummary(mixedRun(), plain);
    expect(s).toMatch(/^10 scenarios: 3 pass, 3 fail, 1 skip, 1 warn, 1 crash, 1 timeout/);
    expect(s).toContain('edge/last-page: fail — quirk 1: last page of the VF BAR not recognised');
    expect(s).toContain('edge/unprovisioned-vf: crash — quirk 4: unprovisioned VF');
    expect(s).toMatch(
      /exit 1: 4 unexpected results: data\/gpu-write-cpu-read, lifecycle\/revoke-on-reset, leak\/fds-and-buffers, stress\/max-ranges/,
    );
  });
});

describe('human details (--verbose)', () => {
  it('explain every result that is not a plain pass: reason, how to enable, quirk evidence', async () => {
    const { renderDetails } = await import('../../src/report/human.js');
    const d = renderDetails(mixedRun(), { color: false, tty: false, columns: 120 });
    expect(d).toContain(
      'import/iov-single-range: skip\n  no interconnect symbols in /proc/kallsyms\n  to enable: boot a kernel with the RFC series',
    );
    expect(d).toContain('edge/last-page: fail (path untranslated, expected iov)');
    expect(d).toContain('  quirk 1 (last page of the VF BAR not recognised): no lmem_obj call # for vfid 1');
    expect(d).not.toContain('export/single-range');
  });
});

describe('human summary: what was not measured', () => {
  it('a run without /dev/kmsg says so under the counts, once per reason, with how many scenarios it concerns', () => {
    const kmsg = '/dev/kmsg unreadable (EACCES): run as root or set kernel.dmesg_restrict=0';
    const r = mixedRun();
    for (const s of r.scenarios) s.cleanliness.unavailable = s.status === 'skip' ? [] : [kmsg];
    r.scenarios[0]!.cleanliness.unavailable.push(
      '/sys/kernel/debug/dma_buf/bufinfo unreadable (mount debugfs, CONFIG_DEBUG_FS)',
    );
    const lines = renderSummary(r, plain).split('\n');
    expect(lines).toContain(`not measured: ${kmsg} (every scenario that ran)`);
    expect(lines).toContain(
      'not measured: /sys/kernel/debug/dma_buf/bufinfo unreadable (mount debugfs, CONFIG_DEBUG_FS) (1 of 9 scenarios that ran)',
    );
    expect(lines.findIndex((l) => l.startsWith('not measured'))).toBeLessThan(
      lines.findIndex((l) => l.startsWith('backend:')),
    );
  });

  it('nothing when every monitor measured', () => {
    const r = mixedRun();
    for (const s of r.scenarios) s.cleanliness.unavailable = [];
    expect(renderSummary(r, plain)).not.toMatch(/not measured/);
  });
});
