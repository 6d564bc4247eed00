// scripts/lava/iovh.yaml run by LAVA's own code (test/consumers/lava-job.py):
// LAVA's generator writes run.sh with the job's parameters as unexported
// shell assignments, lava-test-runner runs it through lava-test-shell, and
// lava-test-case records each case. The parameters must reach `iovh run`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consumers, ROOT } from './cache.js';
import { scratchDir } from '../support/scratch.js';

const c = consumers();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface LavaRun {
  status: number | null;
  stdout: string;
  stderr: string;
  runSh: string;
  /** <LAVA_SIGNAL_TESTCASE ...> lines as {id: RESULT [MEASUREMENT]} */
  cases: Map<string, { result: string; measurement: string | null }>;
  /** what lava-test-case wrote under the results directory */
  recorded: (id: string) => string | null;
  output: string;
}

function lavaJob(parameters: Record<string, string> | null): LavaRun {
  if ('skip' in c) throw new Error(c.skip);
  const dir = scratchDir('iovh-lava-job-');
  dirs.push(dir);
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      checkout: ROOT,
      workdir: join(dir, 'w'),
      testShell: c.manifest.lava.testShell,
      path: 'scripts/lava/iovh.yaml',
      parameters,
    }),
  );
  // The "clone" links to this checkout's node_modules: an `npm ci` in it (INSTALL lost on the way) would empty them.
  // An npm that refuses to run stands in for the real one.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho "npm must not run in this test (INSTALL=false)" >&2\nexit 1\n', {
    mode: 0o755,
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    PYTHONPATH: c.manifest.lava.sitePackages,
  };
  // Nothing of the test's own environment may stand in for a LAVA parameter.
  for (const k of [
    'BACKEND',
    'FILTER',
    'TIMEOUT',
    'BASELINE',
    'PF',
    'VF',
    'IOVH_BACKEND',
    'IOVH_CMD',
    'IOVH_OUTPUT_DIR',
  ])
    delete env[k];
  const r = spawnSync(c.python, [join(ROOT, 'test/consumers/lava-job.py'), config], {
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
  const testDir = join(dir, 'w', 'lava-4242', '0', 'tests', '0_iovh');
  const cases = new Map<string, { result: string; measurement: string | null }>();
  for (const m of r.stdout.matchAll(
    /^<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=(\S+) RESULT=(\S+)(?: UNITS=\S+ MEASUREMENT=(\S+))?>$/gm,
  ))
    cases.set(m[1]!, { result: m[2]!, measurement: m[3] ?? null });
  const results = join(dir, 'w', 'lava-4242', '0', 'results');
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    runSh: existsSync(join(testDir, 'run.sh')) ? readFileSync(join(testDir, 'run.sh'), 'utf8') : '',
    cases,
    recorded: (id) => {
      const out = spawnSync('sh', ['-c', `cat "${results}"/*/results/"$1"/result 2>/dev/null`, 'sh', id], {
        encoding: 'utf8',
      });
      return out.stdout.trim() || null;
    },
    output: join(testDir, 'lava-output'),
  };
}

describe("LAVA's generated run script", () => {
  it('passes every job parameter to iovh run (backend, filter, timeout, KCIDB origin and build id)', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const r = lavaJob({
      BACKEND: 'mock',
      FILTER: 'caps/* export/*',
      TIMEOUT: '20',
      KCIDB_ORIGIN: 'my_lab',
      KCIDB_BUILD_ID: 'my_lab:build-1234',
      INSTALL: 'false',
    });
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.status).toBe(0);
    // LAVA's generator wrote the parameters as plain assignments: nothing exports them.
    expect(r.runSh).toContain("###test parameters from job submission###\nBACKEND='mock'\nFILTER='caps/* export/*'\n");
    expect(r.runSh).not.toMatch(/export (BACKEND|FILTER)/);
    const report = JSON.parse(readFileSync(join(r.output, 'iovh.json'), 'utf8'));
    expect(report.backend.name).toBe('mock');
    expect(report.options).toMatchObject({ filters: ['caps/*', 'export/*'], timeoutSec: 20 });
    const ids = report.scenarios.map((s: { id: string }) => s.id) as string[];
    expect(ids.every((id) => id === 'caps/kernel' || id.startsWith('export/'))).toBe(true);
    const kcidb = JSON.parse(readFileSync(join(r.output, 'iovh.kcidb.json'), 'utf8'));
    for (const t of kcidb.tests) expect(t).toMatchObject({ origin: 'my_lab', build_id: 'my_lab:build-1234' });
    expect(kcidb.tests[0].id).toMatch(/^my_lab:/);
    // One LAVA test case per scenario, plus iovh-run and iovh-verdict (no iovh-install: INSTALL false).
    expect([...r.cases.keys()].sort()).toEqual(
      ['iovh-run', 'iovh-verdict', ...ids.map((id) => id.replace('/', '.'))].sort(),
    );
    expect(r.cases.get('export.single-range')).toMatchObject({ result: 'pass' });
    expect(r.cases.get('export.single-range')!.measurement).toMatch(/^\d+(\.\d+)?$/);
    expect(r.cases.get('iovh-verdict')).toEqual({ result: 'pass', measurement: null });
    // lava-test-case itself recorded them where LAVA collects results.
    expect(r.recorded('export.single-range')).toBe('pass');
    expect(r.stdout).toMatch(/<LAVA_SIGNAL_ENDRUN 0_iovh 4242_1\.1\.1>/);
  });

  it('a parameter iovh refuses fails iovh-run and reports no scenario', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const r = lavaJob({ BACKEND: 'mock', TIMEOUT: 'soon', INSTALL: 'false' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("--timeout must be a number of seconds from 0.001 to 2147483, got 'soon'");
    expect(r.cases.get('iovh-run')).toEqual({ result: 'fail', measurement: null });
    expect(r.cases.size).toBe(1);
  });
});
