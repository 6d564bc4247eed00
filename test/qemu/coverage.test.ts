// The pinned share's two halves (scripts/qemu-ci/coverage.mjs): the branch
// table of a JavaScript file, and which branches a V8 precise-coverage take
// says ran; then which steps count.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { branchTable, countedUnits, pinnedShare, totalShare } from '../../scripts/qemu-ci/coverage.mjs';

const COVERAGE = join(import.meta.dirname, '..', '..', 'scripts', 'qemu-ci', 'coverage.mjs');

const dir = mkdtempSync(join(tmpdir(), 'iovh-coverage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `
export function pick(x, y) {
  if (x > 1) {
    return 'big';
  }
  const z = y ?? 3;
  switch (z) {
    case 1:
      return 'one';
    default:
      return x > 0 ? 'pos' : 'neg';
  }
}
export function risky(f) {
  try {
    return f();
  } catch {
    return 'caught';
  }
}
`;

describe('branch table', () => {
  it('counts both arms of if (implicit else too), ?:, ??, each case and catch', () => {
    const sub = join(dir, 'table');
    mkdirSync(sub);
    writeFileSync(join(sub, 'm.js'), SOURCE);
    const t = branchTable(sub);
    expect(t.branches.map((b) => b.kind)).toEqual([
      'if',
      'else (implicit)',
      'logical: right side',
      'logical: short-circuit',
      'case',
      'default',
      '?: true',
      '?: false',
      'catch',
    ]);
  });
});

describe('replay coverage', () => {
  it('attributes the branches each step ran to that step', () => {
    const sub = join(dir, 'replay');
    mkdirSync(sub);
    writeFileSync(join(sub, 'm.js'), SOURCE);
    // In a plain node process: vitest would load the module through its own transform, at other offsets.
    const script = `
      const { startReplayCoverage, branchTable } = await import(${JSON.stringify(pathToFileURL(COVERAGE).href)});
      const cov = await startReplayCoverage(${JSON.stringify(sub)});
      const m = await import(${JSON.stringify(pathToFileURL(join(sub, 'm.js')).href)});
      cov.mark('boot');
      m.pick(5);
      cov.mark('big');
      m.pick(0, 1);
      cov.mark('one');
      m.risky(() => { throw new Error('x'); });
      cov.mark('catch');
      const r = cov.finish();
      const t = branchTable(${JSON.stringify(sub)});
      const kinds = (id) => r.units.find((u) => u.id === id).hits.map((i) => t.branches[i].kind);
      console.log(JSON.stringify({ total: r.total, big: kinds('big'), one: kinds('one'), caught: kinds('catch') }));
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const r = JSON.parse(run.stdout) as { total: number; big: string[]; one: string[]; caught: string[] };
    expect(r.big).toEqual(['if']);
    expect(r.one).toEqual(['else (implicit)', 'logical: short-circuit', 'case']);
    expect(r.caught).toEqual(['catch']);
    expect(r.total).toBe(9);
  });
});

describe('which steps count', () => {
  const row = (id: string, agree: boolean, status = 'pass') => ({ id, agree, real: { status } });
  it('a step the kernel answered and the mock agreed with; boot with the capture and the topology', () => {
    const rows = [
      row('cli.capture', true),
      row('a', true),
      row('b', false),
      row('c', true, 'skip'),
      { id: 'topology', agree: true, real: null },
    ];
    expect([...countedUnits(rows)].sort()).toEqual(['a', 'boot', 'cli.capture']);
    const cov = {
      digest: 'x',
      total: 10,
      units: [
        { id: 'boot', hits: [0, 1] },
        { id: 'a', hits: [1, 2] },
        { id: 'b', hits: [3] },
        { id: 'c', hits: [4] },
      ],
    };
    const s = pinnedShare('k', cov, rows);
    expect([s.pinned, s.total, s.share, s.counted]).toEqual([3, 10, 0.3, 2]);
    const other = pinnedShare('k2', { ...cov, units: [{ id: 'b', hits: [5, 6] }] }, [row('b', true)]);
    expect(totalShare([s, other])).toEqual({ total: 10, pinned: 5, share: 0.5 });
  });
});
