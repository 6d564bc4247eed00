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
interface RunModule {
  judge(goal: Goal | null, r: Record<string, unknown>): { checked: number | null; met: boolean | null };
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
    expect(bench.judge(QEMU_GOAL, r)).toEqual({ checked: 32.66, met: true });
    expect(bench.judge(QEMU_GOAL, { ...r, check: 61 })).toEqual({ checked: 61, met: false });
    expect(bench.judge(QEMU_GOAL, { ...r, check: 60 }).met).toBe(false);
    // A slowest guest under 60 s does not make a 70 s step pass.
    expect(bench.judge(QEMU_GOAL, { ...r, measured: { value: 40, unit: 's' }, check: 70 }).met).toBe(false);
  });

  it('a goal on a value the figure did not produce is an error, not a pass', () => {
    expect(() => bench.judge(QEMU_GOAL, { measured: { value: 31.7, unit: 's' }, ratio: 5.57 })).toThrow(/goal on step/);
    expect(() => bench.judge({ op: '~', value: 1 }, { ratio: 1 })).toThrow(/operator/);
  });

  it('judges ratio, measured and slope as before', () => {
    expect(bench.judge(null, { ratio: 3 })).toEqual({ checked: null, met: null });
    expect(bench.judge({ op: '<=', value: 1.5 }, { ratio: 1.5 }).met).toBe(true);
    expect(bench.judge({ op: '>=', value: 0.8 }, { ratio: 0.79 }).met).toBe(false);
    expect(bench.judge({ op: '<', value: 2, on: 'measured' }, { measured: { value: 0.15 }, ratio: 9 }).met).toBe(true);
    expect(bench.judge({ op: '<=', value: 1.1, on: 'slope' }, { ratio: 0.1, check: 1.2 }).met).toBe(false);
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
