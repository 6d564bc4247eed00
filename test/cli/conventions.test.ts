// CLI conventions wrappers rely on: --quiet (only what fails the run, and the
// exit line), --skip-exit 4 (kselftest's skip status for a run all skipped;
// test/consumers/kselftest.test.ts runs it under kselftest's own runner), the
// flag beating its environment variable IOVH_SKIP_EXIT, and FORCE_COLOR.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { withEnv } from './helpers.js';
import { ALL_SKIPPED, iovh, ONE_REGRESSION } from './run-cli.js';
import { scratchDir } from '../support/scratch.js';

const ANSI = /\x1b\[/;

let dir = '';
beforeAll(() => {
  dir = scratchDir('iovh-conventions-');
});

describe('--quiet', () => {
  it('a run as expected prints its exit line alone: no progress, no table', async () => {
    const r = await withEnv({ NO_COLOR: '1', FORCE_COLOR: undefined }, () =>
      iovh('run', '--backend', 'mock', '--filter', 'export/single-range', '-q', '--json', join(dir, 'q.json')),
    );
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('exit 0: no unexpected result\n');
    // The report is whole: quiet is about the terminal only.
    const json = JSON.parse(readFileSync(join(dir, 'q.json'), 'utf8')) as { scenarios: unknown[] };
    expect(json.scenarios).toHaveLength(2);
  });

  it('a run that fails names each result that fails it, with its reason, then the exit line', async () => {
    const r = await withEnv({ NO_COLOR: '1', FORCE_COLOR: undefined }, () => iovh(...ONE_REGRESSION, '--quiet'));
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^edge\/npot-ranges: fail — \S/);
    expect(lines[1]).toBe('exit 1: 1 unexpected result: edge/npot-ranges');
  });

  it('--quiet with --verbose is a usage error, nothing run', async () => {
    const r = await iovh('run', '--backend', 'mock', '--quiet', '--verbose');
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('iovh: --quiet and --verbose contradict each other: give one of them\n');
  });

  it('iovh report --quiet: the same lines from the results file', async () => {
    await iovh(...ONE_REGRESSION, '--json', join(dir, 'fail.json'));
    const r = await withEnv({ NO_COLOR: '1', FORCE_COLOR: undefined }, () =>
      iovh('report', join(dir, 'fail.json'), '--quiet', '--exit-status'),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^edge\/npot-ranges: fail — .*\nexit 1: 1 unexpected result: edge\/npot-ranges\n$/);
  });
});

describe('--skip-exit', () => {
  it('77 by default for a run all skipped; 4 (KSFT_SKIP) with --skip-exit 4, and the exit line says so', async () => {
    const plain = await iovh(...ALL_SKIPPED, '--quiet');
    expect(plain.code).toBe(77);
    const ksft = await iovh(...ALL_SKIPPED, '--quiet', '--skip-exit', '4', '--json', join(dir, 'skip.json'));
    expect(ksft.code).toBe(4);
    expect(ksft.stdout).toBe('exit 4: every scenario was skipped: nothing was validated\n');
    // The report keeps the run's own status: the mapping is the command's, for its caller.
    const json = JSON.parse(readFileSync(join(dir, 'skip.json'), 'utf8')) as { summary: { exitCode: number } };
    expect(json.summary.exitCode).toBe(77);
    const report = await iovh('report', join(dir, 'skip.json'), '--quiet', '--exit-status', '--skip-exit', '4');
    expect(report.code).toBe(4);
  });

  it('maps nothing else: a failing run still exits 1', async () => {
    expect((await iovh(...ONE_REGRESSION, '--quiet', '--skip-exit', '4')).code).toBe(1);
  });

  it('IOVH_SKIP_EXIT=4 does the same, and a flag on the command line beats it', async () => {
    expect((await withEnv({ IOVH_SKIP_EXIT: '4' }, () => iovh(...ALL_SKIPPED, '-q'))).code).toBe(4);
    expect((await withEnv({ IOVH_SKIP_EXIT: '4' }, () => iovh(...ALL_SKIPPED, '-q', '--skip-exit', '77'))).code).toBe(
      77,
    );
  });

  it('any other status is a usage error naming the choices', async () => {
    const r = await iovh(...ALL_SKIPPED, '--skip-exit', '5');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--skip-exit <status>' argument '5' is invalid\. Allowed choices are 77, 4/);
  });
});

describe('FORCE_COLOR', () => {
  it('colours the human output off a terminal (a CI log), over NO_COLOR; FORCE_COLOR=0 keeps it plain', async () => {
    const forced = await withEnv({ FORCE_COLOR: '1', NO_COLOR: '1' }, () => iovh(...ONE_REGRESSION));
    expect(forced.stdout).toMatch(ANSI);
    const off = await withEnv({ FORCE_COLOR: '0', NO_COLOR: undefined }, () => iovh(...ONE_REGRESSION));
    expect(off.stdout).not.toMatch(ANSI);
  });
});
