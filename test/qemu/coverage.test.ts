// The pinned share's two halves (scripts/qemu-ci/coverage.mjs): the branch
// table of a JavaScript file, and which branches a V8 precise-coverage take
// says ran; then which steps count.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { branchTable, countedUnits, pinnedShare, runRows, totalShare } from '../../scripts/qemu-ci/coverage.mjs';
import { replayRun } from '../../scripts/qemu-ci/replay-run.mjs';

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

describe('an iovh run report against its replay', () => {
  it('counts a scenario whose status, path and defects agree, the real kernel not having skipped it', () => {
    const real = [
      { id: 'rfc/a', status: 'pass', path: 'iov', quirks: [] },
      { id: 'rfc/b', status: 'fail', path: 'iov', quirks: [{ id: 'q1' }], bugs: [{ id: 'b1' }] },
      { id: 'rfc/c', status: 'pass', path: 'refused', quirks: [] },
      { id: 'rfc/d', status: 'skip', path: null, quirks: [] },
      { id: 'caps/kernel', status: 'pass', path: null, quirks: [] },
    ];
    const model = [
      { id: 'rfc/a', status: 'pass', path: 'iov', quirks: [] },
      // A fixture names defects by id.
      { id: 'rfc/b', status: 'fail', path: 'iov', quirks: ['q1'], bugs: ['b1'] },
      { id: 'rfc/c', status: 'pass', path: 'p2p', quirks: [] },
      { id: 'rfc/d', status: 'skip', path: null, quirks: [] },
      { id: 'caps/kernel', status: 'pass', path: null, quirks: [] },
    ];
    const rows = runRows(real, model, (id) => id.startsWith('rfc/'));
    expect(rows.map((r) => [r.id, r.agree])).toEqual([
      ['run:rfc/a', true],
      ['run:rfc/b', true],
      ['run:rfc/c', false],
      ['run:rfc/d', true],
    ]);
    expect([...countedUnits(rows)].sort()).toEqual(['run:rfc/a', 'run:rfc/b']);
  });

  it('takes the coverage of `iovh run` on the mock per harness scenario', () => {
    const sub = join(dir, 'run');
    mkdirSync(sub);
    const coverage = join(sub, 'coverage.json');
    const r = replayRun({
      args: [
        'run',
        '--backend',
        'mock',
        '--profile',
        'rfc-v1',
        '--filter',
        'rfc/negotiate',
        '--json',
        join(sub, 'run.json'),
      ],
      env: { ...process.env, IOVH_STATE_DIR: join(sub, 'state'), NO_COLOR: '1' },
      coverage,
    });
    expect(r.status, r.stderr).toBe(0);
    const cov = JSON.parse(readFileSync(coverage, 'utf8')) as {
      total: number;
      units: { id: string; hits: number[] }[];
    };
    const units = new Map(cov.units.map((u) => [u.id, u.hits.length]));
    expect([...units.keys()]).toEqual(['boot', 'cli.run', 'run:caps/kernel', 'run:rfc/negotiate', 'cli.end']);
    expect(units.get('run:rfc/negotiate')).toBeGreaterThan(0);
    expect(cov.total).toBeGreaterThan(1000);
  }, 60_000);
});
