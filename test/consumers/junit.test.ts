// iovh's JUnit XML read by junitparser (test/consumers/junit-read.py), as CI
// tools that build on it see it: each scenario's outcome, with the reason and
// the kernel log in the outcome's body, which is what GitLab shows.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderJunit } from '../../src/report/junit.js';
import { emptyCleanliness, type RunResult } from '../../src/report/model.js';
import { mixedRun, run, scenario } from '../report/fixture.js';
import { consumers, ROOT } from './cache.js';
import { scratchDir } from '../support/scratch.js';

const c = consumers();
const dir = scratchDir('iovh-junitparser-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ReadCase {
  classname: string;
  name: string;
  time: number;
  passed: boolean;
  skipped: boolean;
  results: { kind: string; type: string | null; message: string | null; text: string | null }[];
  systemOut: string | null;
  systemErr: string | null;
}
interface Read {
  tests: number;
  failures: number;
  errors: number;
  suites: { name: string; tests: number; failures: number; errors: number; skipped: number; cases: ReadCase[] }[];
}

function junitparser(result: RunResult, name: string): Read {
  if ('skip' in c) throw new Error(c.skip);
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, renderJunit(result));
  const r = spawnSync(c.python, [join(ROOT, 'test/consumers/junit-read.py'), file], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: c.manifest.junit.sitePackages },
  });
  if (r.status !== 0) throw new Error(`junit-read.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Read;
}

const cases = (read: Read): Map<string, ReadCase> =>
  new Map(read.suites.flatMap((s) => s.cases.map((k) => [`${k.classname.replace(/^iovh\./, '')}/${k.name}`, k])));

describe('JUnit XML read by junitparser', () => {
  it('every outcome with its type, one-line message and a body holding the reason', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const r = mixedRun();
    const read = cases(junitparser(r, 'mixed'));
    const expected: Record<string, string | null> = {
      'caps/kernel': null,
      'export/single-range': null,
      'import/iov-single-range': 'skipped skip',
      'edge/last-page': 'skipped xfail',
      'edge/unprovisioned-vf': 'skipped xfail',
      'data/gpu-write-cpu-read': 'failure fail',
      'lifecycle/revoke-on-reset': 'error timeout',
      'leak/fds-and-buffers': 'failure warn',
      'edge/npot-ranges': null,
      'stress/max-ranges': 'failure fail',
    };
    expect([...read.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const s of r.scenarios) {
      const k = read.get(s.id)!;
      const outcome = k.results[0];
      expect(outcome ? `${outcome.kind} ${outcome.type}` : null, s.id).toBe(expected[s.id]);
      expect(k.passed, s.id).toBe(expected[s.id] === null);
      if (!outcome) continue;
      expect(outcome.text, s.id).toContain(s.reason);
      expect(outcome.message, s.id).not.toContain('\n');
    }
    expect(read.get('edge/last-page')!.results[0]!.text).toContain(
      'quirk 1 last-page (last page of the VF BAR not recognised): no lmem_obj call # for vfid 1',
    );
    expect(read.get('edge/last-page')!.results[0]!.text).toContain(
      'kernel log:\nxe 0000:03:00.0: bell and <tag> & stuff',
    );
  });

  it("a crash's body carries the kernel's complaint and the log's last lines; totals match", (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const read = junitparser(
      run([
        scenario({ id: 'caps/kernel', status: 'pass' }),
        scenario({
          id: 'edge/unprovisioned-vf',
          status: 'crash',
          reason: 'kernel oops during import',
          cleanliness: { ...emptyCleanliness(), kernelComplaints: ['BUG: kernel NULL pointer dereference'] },
          log: ['xe 0000:03:00.0: [drm] VF1 import', 'BUG: kernel NULL pointer dereference'],
        }),
      ]),
      'crash',
    );
    expect({ tests: read.tests, failures: read.failures, errors: read.errors }).toEqual({
      tests: 2,
      failures: 0,
      errors: 1,
    });
    const k = cases(read).get('edge/unprovisioned-vf')!;
    expect(k.results[0]).toMatchObject({ kind: 'error', type: 'crash', message: 'kernel oops during import' });
    expect(k.results[0]!.text).toBe(
      [
        'kernel oops during import',
        'kernel complaints:',
        'BUG: kernel NULL pointer dereference',
        'kernel log:',
        'xe 0000:03:00.0: [drm] VF1 import',
        'BUG: kernel NULL pointer dereference',
      ].join('\n'),
    );
    expect(k.systemErr).toContain('VF1 import');
  });
});
