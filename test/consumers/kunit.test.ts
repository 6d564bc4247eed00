// iovh's KTAP read by the kernel's own parser, tools/testing/kunit/kunit.py
// parse (kunit_parser.py, from Debian's linux-source): it must never count a
// failure or a crash as a pass, must tell a crash apart, and must count what
// a run that died never reported.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderKtap } from '../../src/report/ktap.js';
import { emptyCleanliness, type RunResult, type Status } from '../../src/report/model.js';
import { iovh } from '../cli/run-cli.js';
import { mixedRun, run, scenario } from '../report/fixture.js';
import { consumers } from './cache.js';
import { scratchDir } from '../support/scratch.js';

const c = consumers();
const dir = scratchDir('iovh-kunit-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type KunitStatus = 'PASSED' | 'FAILED' | 'SKIPPED' | 'CRASHED';

interface Parsed {
  status: number | null;
  /** Each top-level test's verdict as kunit.py printed it. */
  tests: Map<string, KunitStatus>;
  counts: { passed: number; failed: number; crashed: number; skipped: number; errors: number };
  output: string;
}

/** `kunit.py parse FILE`, its per-test lines and its summary line. */
function kunitParse(ktap: string, name: string): Parsed {
  if ('skip' in c) throw new Error(c.skip);
  const file = join(dir, `${name}.ktap`);
  writeFileSync(file, ktap);
  const r = spawnSync(c.python, [c.manifest.kunit.kunitPy, 'parse', file], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const output = r.stdout;
  const tests = new Map<string, KunitStatus>();
  for (const line of output.split('\n')) {
    // "[PASSED] caps/kernel", and a subtest's footer "==== [CRASHED] edge/x ====".
    const m = /^\[[\d:]+\] (?:=+ )?\[(PASSED|FAILED|SKIPPED|CRASHED)\] (\S+)(?: =+)?$/.exec(line);
    if (m) tests.set(m[2]!, m[1] as KunitStatus);
  }
  // "Testing complete. Ran 5 tests: passed: 1, failed: 2, crashed: 1, skipped: 1, errors: 1" (zero counts left out).
  const summary = /Testing complete\. Ran \d+ tests: (.*)$/m.exec(output);
  if (!summary) throw new Error(`no summary line in kunit.py output:\n${output}\n${r.stderr}`);
  const counts = { passed: 0, failed: 0, crashed: 0, skipped: 0, errors: 0 };
  for (const m of summary[1]!.matchAll(/(passed|failed|crashed|skipped|errors): (\d+)/g))
    counts[m[1] as keyof typeof counts] = Number(m[2]);
  return { status: r.status, tests, counts, output };
}

const expectedKunit = (status: Status): KunitStatus =>
  status === 'pass' ? 'PASSED' : status === 'skip' ? 'SKIPPED' : status === 'crash' ? 'CRASHED' : 'FAILED';

describe("the kernel's KTAP parser (kunit.py parse)", () => {
  it('counts every status as itself: no failure or crash is a pass, expected by a baseline or not', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const r = mixedRun();
    r.scenarios.push(
      scenario({
        id: 'lifecycle/attach-after-revoke',
        status: 'crash',
        reason: 'kernel oops',
        cleanliness: { ...emptyCleanliness(), kernelComplaints: ['BUG: kernel NULL pointer dereference'] },
        baseline: { expected: 'fail', quirks: [], bugs: [], verdict: 'regression', note: 'expected fail, got crash' },
      }),
    );
    const p = kunitParse(renderKtap(r), 'mixed');
    for (const s of r.scenarios) expect(p.tests.get(s.id), `${s.id} (${s.status})`).toBe(expectedKunit(s.status));
    // Two crashes (one the baseline expects); each is also a "missing expected subtest" error to the parser.
    expect(p.counts).toEqual({ passed: 3, failed: 5, crashed: 2, skipped: 1, errors: 2 });
    expect(p.output).toContain('# lifecycle/attach-after-revoke: crash: the kernel crashed during this scenario');
    expect(p.status).toBe(1);
  });

  it('a run with nothing bad parses clean', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const p = kunitParse(
      renderKtap(
        run([
          scenario({ id: 'caps/kernel', status: 'pass' }),
          scenario({ id: 'import/iov-single-range', status: 'skip' }),
        ]),
      ),
      'clean',
    );
    expect(p.counts).toEqual({ passed: 1, failed: 0, crashed: 0, skipped: 1, errors: 0 });
    expect(p.status).toBe(0);
  });

  it('what a run that died never reported is counted as crashed, not passed', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const partial: RunResult = run([scenario({ id: 'caps/kernel', status: 'pass' })], {
      complete: false,
      pending: ['edge/unprovisioned-vf', 'leak/map-ranges'],
    });
    const p = kunitParse(renderKtap(partial), 'partial');
    expect(p.counts).toMatchObject({ passed: 1, crashed: 2 });
    expect(p.status).toBe(1);
  });
});

describe('kunit.py parse on the reports of real runs on the mock', () => {
  const reports = new Map<string, RunResult>();
  beforeAll(async () => {
    if ('skip' in c) return;
    for (const profile of ['rfc-v1', 'upstream-7.1']) {
      const json = join(dir, `${profile}.json`);
      const cli = await iovh(
        'run',
        '--backend',
        'mock',
        '--profile',
        profile,
        '--json',
        json,
        '--ktap',
        join(dir, `${profile}.run.ktap`),
      );
      if (![0, 1].includes(cli.code))
        throw new Error(`iovh run --profile ${profile} exited ${cli.code}: ${cli.stderr}`);
      reports.set(profile, JSON.parse(readFileSync(json, 'utf8')) as RunResult);
    }
  }, 120_000);

  it.for(['rfc-v1', 'upstream-7.1'])('profile %s: every scenario as the JSON report says', (profile, ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const json = reports.get(profile)!;
    const p = kunitParse(readFileSync(join(dir, `${profile}.run.ktap`), 'utf8'), profile);
    expect(p.tests.size).toBe(json.scenarios.length);
    for (const s of json.scenarios) expect(p.tests.get(s.id), `${s.id} (${s.status})`).toBe(expectedKunit(s.status));
    const bad = json.scenarios.filter((s) => s.status !== 'pass' && s.status !== 'skip').length;
    expect(p.counts.failed + p.counts.crashed).toBe(bad);
    expect(p.counts.crashed).toBe(json.summary.byStatus.crash);
  });
});
