import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lavaCases, lavaName, lavaResult } from '../../scripts/lava/lava-cases.mjs';
import { renderJson } from '../../src/report/json.js';
import { mixedRun, scenario, run } from './fixture.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_SH = join(ROOT, 'scripts/lava/run.sh');

describe('LAVA test cases from a report', () => {
  it('maps statuses to pass/fail/skip/unknown and names to LAVA-safe ids', () => {
    expect(lavaName('export/single-range')).toBe('export.single-range');
    expect(lavaName('a b/c#d')).toBe('a_b.c_d');
    expect(lavaResult({ id: 'x', status: 'warn', durationMs: 1 })).toBe('fail');
    expect(lavaResult({ id: 'x', status: 'skip', durationMs: 1, evidence: { notRun: true } })).toBe('unknown');
    const cases = lavaCases(JSON.parse(renderJson(mixedRun())));
    expect(cases.map((c) => `${c.name} ${c.result}`)).toEqual([
      'caps.kernel pass',
      'export.single-range pass',
      'import.iov-single-range skip',
      'edge.last-page fail',
      'edge.unprovisioned-vf fail',
      'data.gpu-write-cpu-read fail',
      'lifecycle.revoke-on-reset fail',
      'leak.fds-and-buffers fail',
      'edge.npot-ranges pass',
      'stress.max-ranges fail',
      'iovh-verdict fail',
    ]);
    expect(cases[1]!.seconds).toBe(0.012);
  });

  it('the verdict case follows the exit status', () => {
    const ok = lavaCases(JSON.parse(renderJson(run([scenario({ id: 'a/b', status: 'pass' })]))));
    expect(ok.at(-1)).toEqual({ name: 'iovh-verdict', result: 'pass', seconds: 0 });
    expect(() => lavaCases({ scenarios: [] })).toThrow(/not an iovh run report/);
  });
});

describe('scripts/lava', () => {
  it('the test definition names its format and runs run.sh', () => {
    const yaml = readFileSync(join(ROOT, 'scripts/lava/iovh.yaml'), 'utf8');
    expect(yaml).toMatch(/^metadata:\n {2}format: Lava-Test Test Definition 1\.0\n {2}name: iovh$/m);
    expect(yaml).toMatch(/^run:\n {2}steps:\n {4}- \.\/scripts\/lava\/run\.sh --backend /m);
    for (const p of [
      'BACKEND',
      'FILTER',
      'BASELINE',
      'TIMEOUT',
      'PF',
      'VF',
      'KCIDB_ORIGIN',
      'KCIDB_BUILD_ID',
      'INSTALL',
      'EXTRA_ARGS',
    ]) {
      expect(yaml).toMatch(new RegExp(`^ {2}${p}:`, 'm'));
      // Every parameter is handed to run.sh as an option: LAVA does not export them (test/consumers/lava.test.ts).
      expect(yaml).toMatch(new RegExp(` --${p.toLowerCase().replace(/_/g, '-')} "\\$${p}"`));
    }
  });

  it('run.sh runs iovh with every report format and calls lava-test-case once per scenario', () => {
    const dir = scratchDir('iovh-lava-');
    const calls = join(dir, 'calls.txt');
    const bin = join(dir, 'bin');
    spawnSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'lava-test-case'), `#!/bin/sh\necho "$@" >> ${calls}\n`);
    chmodSync(join(bin, 'lava-test-case'), 0o755);
    // A stand-in for iovh: writes the fixture report where --json says and exits 1, as a run with unexpected failures does.
    const report = join(dir, 'report.json');
    writeFileSync(report, renderJson(mixedRun()));
    const fake = join(dir, 'fake-iovh.mjs');
    writeFileSync(
      fake,
      `import { copyFileSync, writeFileSync } from 'node:fs';\n` +
        `const a = process.argv.slice(2);\n` +
        `writeFileSync(${JSON.stringify(join(dir, 'args.json'))}, JSON.stringify(a));\n` +
        `copyFileSync(${JSON.stringify(report)}, a[a.indexOf('--json') + 1]);\n` +
        `process.exit(1);\n`,
    );
    // A file named like a glob's match in the working directory: the globs must reach iovh unexpanded.
    spawnSync('mkdir', ['-p', join(dir, 'export')]);
    writeFileSync(join(dir, 'export', 'x'), '');
    const r = spawnSync(
      'bash',
      [
        RUN_SH,
        ...['--install', 'false', '--backend', 'mock', '--filter', 'export/* data/*', '--timeout', '5'],
        ...['--vf', '0000:03:00.1', '--pf', '', '--baseline', '', '--kcidb-origin', 'lab', '--kcidb-build-id', 'lab:7'],
        ...['--extra-args', '--allow-skips --verbose'],
      ],
      {
        encoding: 'utf8',
        cwd: dir,
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          IOVH_CMD: `node ${fake}`,
          IOVH_OUTPUT_DIR: join(dir, 'out'),
        },
      },
    );
    expect(r.status).toBe(0);
    const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as string[];
    expect(args.slice(0, 1)).toEqual(['run']);
    for (const f of ['--json', '--junit', '--ktap', '--kcidb']) expect(args).toContain(f);
    expect(args.join(' ')).toContain(
      '--backend mock --timeout 5 --filter export/* --filter data/* --vf 0000:03:00.1 --kcidb-origin lab --kcidb-build-id lab:7 --allow-skips --verbose',
    );
    expect(args).not.toContain('--pf');
    expect(args).not.toContain('--baseline');
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('iovh-run --result pass');
    expect(lines).toContain('edge.last-page --result fail --measurement 0.012 --units seconds');
    expect(lines).toContain('import.iov-single-range --result skip --measurement 0.012 --units seconds');
    expect(lines.at(-1)).toBe('iovh-verdict --result fail');
    expect(lines).toHaveLength(1 + mixedRun().scenarios.length + 1);
  });

  it('run.sh reports a run that wrote no report as a failed iovh-run, and prints LAVA signals outside LAVA', () => {
    const dir = scratchDir('iovh-lava-');
    const r = spawnSync('bash', [RUN_SH, '--install', 'false'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: '/usr/bin:/bin',
        IOVH_CMD: 'false',
        IOVH_OUTPUT_DIR: join(dir, 'out'),
      },
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=iovh-run RESULT=fail>');
    expect(existsSync(join(dir, 'out'))).toBe(true);
  });
});
