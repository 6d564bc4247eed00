// What `iovh run` writes for people, on a fake TTY and elsewhere: in-place
// progress (\r + erase line) only on a terminal with cursor control, colour
// codes only without NO_COLOR, nothing but plain lines off a terminal.
import { afterEach, describe, expect, it } from 'vitest';
import { iovh } from './run-cli.js';

/** SGR (colour, bold, dim) sequences. */
const SGR = /\x1b\[[0-9;]*m/;
const ESC = /\x1b/;
const IN_PLACE = '\r\x1b[2K';

const saved = {
  isTTY: process.stdout.isTTY,
  columns: process.stdout.columns,
  NO_COLOR: process.env.NO_COLOR,
  TERM: process.env.TERM,
};

function terminal(o: { tty: boolean; columns?: number; env: { NO_COLOR?: string; TERM?: string } }): void {
  Object.defineProperty(process.stdout, 'isTTY', { value: o.tty, configurable: true, writable: true });
  Object.defineProperty(process.stdout, 'columns', { value: o.columns, configurable: true, writable: true });
  for (const k of ['NO_COLOR', 'TERM'] as const) {
    if (o.env[k] === undefined) delete process.env[k];
    else process.env[k] = o.env[k];
  }
}

afterEach(() => {
  Object.defineProperty(process.stdout, 'isTTY', { value: saved.isTTY, configurable: true, writable: true });
  Object.defineProperty(process.stdout, 'columns', { value: saved.columns, configurable: true, writable: true });
  for (const k of ['NO_COLOR', 'TERM'] as const) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const run = () => iovh('run', '--backend', 'mock', '--filter', 'export/*');

describe('iovh run output on a terminal and off it', () => {
  it('a TTY with NO_COLOR: the progress line is rewritten in place, and not one colour code', async () => {
    terminal({ tty: true, columns: 120, env: { TERM: 'xterm-256color', NO_COLOR: '1' } });
    const r = await run();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${IN_PLACE}[1/6] caps/kernel …`);
    expect(r.stdout).not.toMatch(SGR);
    // The only escape sequence is the erase-line of the in-place rewrite.
    expect(r.stdout.replaceAll(IN_PLACE, '')).not.toMatch(ESC);
  });

  it('a TTY without NO_COLOR: colours', async () => {
    terminal({ tty: true, columns: 120, env: { TERM: 'xterm-256color' } });
    const r = await run();
    expect(r.stdout).toMatch(SGR);
    expect(r.stdout).toContain(IN_PLACE);
  });

  it('not a TTY, or a TTY without cursor control (TERM dumb or unset): plain lines, no escape and no carriage return', async () => {
    for (const t of [
      { tty: false, env: { TERM: 'xterm-256color' } },
      { tty: true, columns: 120, env: { TERM: 'dumb' } },
      { tty: true, columns: 0, env: { NO_COLOR: '1' } },
    ]) {
      terminal(t);
      const r = await run();
      expect(r.code).toBe(0);
      expect(r.stdout, JSON.stringify(t)).not.toMatch(ESC);
      expect(r.stdout, JSON.stringify(t)).not.toContain('\r');
      expect(r.stdout).toMatch(/^\[1\/6\] caps\/kernel: pass\n\[2\/6\] export\/single-range: pass\n/);
    }
  });
});

describe('iovh run table width', () => {
  /** The table's lines (box drawing), their widths in characters. */
  const tableWidths = (out: string) =>
    out
      .split('\n')
      .filter((l) => /^[┌│├└]/.test(l))
      .map((l) => [...l].length);

  it('fits an 80-column terminal and a 100-column log; ids whole, reasons cut with an ellipsis', async () => {
    for (const [t, width] of [
      [{ tty: true, columns: 80, env: { TERM: 'xterm-256color', NO_COLOR: '1' } }, 80],
      [{ tty: false, env: {} }, 100],
    ] as const) {
      terminal(t);
      const r = await iovh('run', '--backend', 'mock', '--profile', 'rfc-v1');
      expect(r.code).toBe(0);
      const widths = tableWidths(r.stdout);
      expect(widths.length).toBeGreaterThan(30);
      expect(Math.max(...widths)).toBeLessThanOrEqual(width);
      for (const id of ['lifecycle/vf-disable-while-imported', 'edge/unprovisioned-vf', 'caps/kernel'])
        expect(r.stdout).toMatch(new RegExp(`│ ${id} +│`));
      expect(r.stdout).toMatch(/…\s*│\n/);
    }
  }, 60_000);
});
