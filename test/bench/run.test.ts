// bench/run.mjs's pure parts: goal judging and the merge of a partial run
// into bench/results.json. No figure is measured here (timings belong to
// npm run bench, not npm test).
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Goal {
  op: string;
  value: number;
  on?: string;
  unit?: string;
}
interface Figure {
  id: string;
  title: string;
  measuredAt?: string;
  machine?: string;
  [k: string]: unknown;
}
interface Results {
  date: string;
  machine: Record<string, unknown>;
  figures: Figure[];
  [k: string]: unknown;
}
interface Judged {
  checked: number | null;
  met: boolean | null;
  verdict: 'met' | 'crosses' | 'MISSED' | null;
  range?: [number, number];
}
interface Summary {
  measured: { value: number; unit: string };
  baseline: { value: number; unit: string };
  ratio: number;
  rounds: number;
  check?: number;
  spread: { ratio: [number, number]; measured: [number, number]; check?: [number, number] };
}
interface RunModule {
  judge(goal: Goal | null, r: Record<string, unknown>): Judged;
  summarize(
    rounds: Array<{ measured: number; baseline: number; check?: number }>,
    units: { measured: string },
  ): Summary;
  replaceGenerated(text: string, generated: string): string;
  markdownTables(out: Results): { full: string; summary: string };
  machineLine(m: unknown): string;
  mergeResults(
    previous: unknown,
    current: Results,
    ids: string[],
  ): { out: Results; kept: string[]; dropped: { machine: string; ids: string[] }[]; retired: string[] };
  isEarlier(out: Results, r: Figure): boolean;
}

const runFile = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'run.mjs');
const bench = (await import(pathToFileURL(runFile).href)) as RunModule;

const QEMU_GOAL = { op: '<', value: 60, on: 'step', unit: 's' };

describe('judge', () => {
  it('judges the QEMU figure on the whole step, not the slowest guest or the ratio', () => {
    const r = { measured: { value: 31.7, unit: 's' }, ratio: 5.57, check: 32.66 };
    expect(bench.judge(QEMU_GOAL, r)).toEqual({ checked: 32.66, met: true, verdict: 'met' });
    expect(bench.judge(QEMU_GOAL, { ...r, check: 61 })).toEqual({ checked: 61, met: false, verdict: 'MISSED' });
    expect(bench.judge(QEMU_GOAL, { ...r, check: 60 }).met).toBe(false);
    // A slowest guest under 60 s does not make a 70 s step pass.
    expect(bench.judge(QEMU_GOAL, { ...r, measured: { value: 40, unit: 's' }, check: 70 }).met).toBe(false);
  });

  it('a goal on a value the figure did not produce is an error, not a pass', () => {
    expect(() => bench.judge(QEMU_GOAL, { measured: { value: 31.7, unit: 's' }, ratio: 5.57 })).toThrow(/goal on step/);
    expect(() => bench.judge({ op: '~', value: 1 }, { ratio: 1 })).toThrow(/operator/);
  });

  it('judges ratio, measured and slope as before', () => {
    expect(bench.judge(null, { ratio: 3 })).toEqual({ checked: null, met: null, verdict: null });
    expect(bench.judge({ op: '<=', value: 1.5 }, { ratio: 1.5 }).met).toBe(true);
    expect(bench.judge({ op: '>=', value: 0.8 }, { ratio: 0.79 }).met).toBe(false);
    expect(bench.judge({ op: '<', value: 2, on: 'measured' }, { measured: { value: 0.15 }, ratio: 9 }).met).toBe(true);
    expect(bench.judge({ op: '<=', value: 1.1, on: 'slope' }, { ratio: 0.1, check: 1.2 }).met).toBe(false);
  });
});

describe('rounds: median and spread', () => {
  it("reports the median of the rounds' ratios, their spread, and the median of each side", () => {
    const s = bench.summarize(
      [
        { measured: 10, baseline: 10 },
        { measured: 30, baseline: 10 },
        { measured: 12, baseline: 10 },
        { measured: 9, baseline: 10 },
        { measured: 11, baseline: 10 },
      ],
      { measured: 'ns/call' },
    );
    expect(s.ratio).toBe(1.1);
    expect(s.spread.ratio).toEqual([0.9, 3]);
    expect(s.measured).toEqual({ value: 11, unit: 'ns/call' });
    expect(s.baseline).toEqual({ value: 10, unit: 'ns/call' });
    expect(s.rounds).toBe(5);
    expect(s.check).toBeUndefined();
  });

  it('takes the median of an even count as the mean of the middle two, and summarizes check values', () => {
    const s = bench.summarize(
      [
        { measured: 2, baseline: 1, check: 0.5 },
        { measured: 4, baseline: 1, check: 0.9 },
      ],
      { measured: 's' },
    );
    expect(s.ratio).toBe(3);
    expect(s.check).toBe(0.7);
    expect(s.spread.check).toEqual([0.5, 0.9]);
  });

  it('refuses a figure without rounds', () => {
    expect(() => bench.summarize([], { measured: 's' })).toThrow(/no rounds/);
  });

  it('a goal is met only when the whole spread meets it; a median that meets it with a spread that does not crosses', () => {
    const goal = { op: '<=', value: 1.2 };
    const at = (ratio: number, lo: number, hi: number) => ({ ratio, spread: { ratio: [lo, hi] } });
    expect(bench.judge(goal, at(1.1, 1.05, 1.19))).toMatchObject({ met: true, verdict: 'met', range: [1.05, 1.19] });
    expect(bench.judge(goal, at(1.1, 1.05, 1.3))).toMatchObject({ met: false, verdict: 'crosses' });
    expect(bench.judge(goal, at(1.3, 1.1, 1.5))).toMatchObject({ met: false, verdict: 'MISSED' });
    const ge = { op: '>=', value: 0.95 };
    expect(bench.judge(ge, at(0.97, 0.93, 1.01)).verdict).toBe('crosses');
    // The spread judged is the one of the value the goal is on.
    const slope = { op: '<=', value: 1.1, on: 'slope' };
    expect(bench.judge(slope, { ratio: 9, check: 0.5, spread: { ratio: [8, 10], check: [0.4, 1.2] } }).verdict).toBe(
      'crosses',
    );
  });
});

describe('generated README tables', () => {
  const text = 'intro\n<!-- bench:begin (generated) -->\nold table\n<!-- bench:end -->\noutro\n';

  it('replaces what stands between the markers and nothing else', () => {
    expect(bench.replaceGenerated(text, 'new')).toBe(
      'intro\n<!-- bench:begin (generated) -->\nnew\n<!-- bench:end -->\noutro\n',
    );
    const again = bench.replaceGenerated(bench.replaceGenerated(text, 'new'), 'new');
    expect(again).toBe(bench.replaceGenerated(text, 'new'));
  });

  it('refuses a file without the markers, or with them out of order', () => {
    expect(() => bench.replaceGenerated('no markers', 'x')).toThrow(/markers/);
    expect(() => bench.replaceGenerated('<!-- bench:end -->\n<!-- bench:begin -->\n', 'x')).toThrow(/markers/);
  });

  it('says the machine, the date, the load and the spread, and "spread crosses" rather than met', () => {
    const machine = { cpu: 'Xeon', cpus: 2, memGiB: 24, kernel: '6.18', node: 'v20.20.2' };
    const out = {
      date: '2026-12-06T10:00:00.000Z',
      machine,
      load: { before: 0.4, after: 0.6 },
      figures: [
        {
          id: 'boundary.syscall',
          title: 'boundary long title',
          short: 'boundary',
          measuredAt: '2026-12-06T10:00:00.000Z',
          machine: bench.machineLine(machine),
          measured: { value: 300, unit: 'ns/call' },
          baseline: { value: 270, unit: 'ns/call' },
          ratio: 1.11,
          rounds: 9,
          spread: { ratio: [1.05, 1.25], measured: [290, 320] },
          goal: { op: '<=', value: 1.2 },
          checked: 1.11,
          met: false,
          verdict: 'crosses',
          detail: '9 rounds; x',
        },
      ],
    };
    const { full, summary } = bench.markdownTables(out);
    for (const t of [full, summary]) {
      expect(t).toContain('Measured 2026-12-06 10:00:00 UTC on Xeon, 2 CPUs, 24 GiB, Linux 6.18, Node v20.20.2');
      expect(t).toContain('load average 0.4 when the run started and 0.6 when it ended');
      expect(t).toContain('| 1.11x (1.05-1.25) | ratio <= 1.2 | spread crosses |');
    }
    expect(summary).toContain('| boundary |');
    expect(full).toContain('| boundary long title |');
    expect(full).toContain('9 rounds; x');
  });
});

describe('mergeResults', () => {
  const machine = { cpu: 'AMD EPYC', cpus: 2, memGiB: 24, kernel: '6.18.44', node: 'v20.20.2' };
  const ids = ['boundary.syscall', 'pattern.fill', 'pattern.verify', 'qemu.boot'];
  const fig = (id: string, at: string, m: Record<string, unknown> = machine, extra: Record<string, unknown> = {}) => ({
    id,
    title: id,
    measuredAt: at,
    machine: bench.machineLine(m),
    ratio: 1,
    ...extra,
  });

  it('replaces figures measured now, keeps the others with their own date and machine, in figure order', () => {
    const prev = {
      date: 'T1',
      machine,
      figures: [
        fig('pattern.verify', 'T1', machine, { ratio: 2 }),
        fig('boundary.syscall', 'T1'),
        fig('qemu.boot', 'T0'),
      ],
    };
    const current = {
      date: 'T2',
      machine,
      figures: [fig('pattern.verify', 'T2', machine, { ratio: 3 }), fig('pattern.fill', 'T2')],
    };
    const m = bench.mergeResults(prev, current, ids);
    expect(m.out.figures.map((f) => [f.id, f.measuredAt, f.ratio])).toEqual([
      ['boundary.syscall', 'T1', 1],
      ['pattern.fill', 'T2', 1],
      ['pattern.verify', 'T2', 3],
      ['qemu.boot', 'T0', 1],
    ]);
    expect(m.kept).toEqual(['boundary.syscall', 'qemu.boot']);
    expect(m.dropped).toEqual([]);
    expect(m.out.date).toBe('T2');
    expect(m.out.figures.filter((f) => bench.isEarlier(m.out, f)).map((f) => f.id)).toEqual([
      'boundary.syscall',
      'qemu.boot',
    ]);
  });

  it('a file written before figures carried measuredAt/machine lends them its top-level date and machine', () => {
    const prev = { date: 'T0', machine, figures: [{ id: 'qemu.boot', title: 'q', goal: null, met: null }] };
    const m = bench.mergeResults(prev, { date: 'T2', machine, figures: [fig('pattern.fill', 'T2')] }, ids);
    expect(m.out.figures[1]).toMatchObject({ id: 'qemu.boot', measuredAt: 'T0', machine: bench.machineLine(machine) });
  });

  it('drops earlier figures from a different machine line instead of mixing them, and ids no longer figures', () => {
    const other = { ...machine, kernel: '6.19.0' };
    const prev = {
      date: 'T1',
      machine: other,
      figures: [fig('qemu.boot', 'T1', other), fig('boundary.syscall', 'T1', other), fig('gone.figure', 'T1', other)],
    };
    const m = bench.mergeResults(prev, { date: 'T2', machine, figures: [fig('pattern.fill', 'T2')] }, ids);
    expect(m.out.figures.map((f) => f.id)).toEqual(['pattern.fill']);
    expect(m.kept).toEqual([]);
    expect(m.dropped).toEqual([{ machine: bench.machineLine(other), ids: ['qemu.boot', 'boundary.syscall'] }]);
    expect(m.retired).toEqual(['gone.figure']);
  });

  it('no previous file, or an unusable one, is just this run', () => {
    const current = { date: 'T2', machine, figures: [fig('pattern.fill', 'T2')] };
    expect(bench.mergeResults(null, current, ids).out).toEqual(current);
    expect(bench.mergeResults({ figures: 'nope' }, current, ids).out.figures).toEqual(current.figures);
  });
});
