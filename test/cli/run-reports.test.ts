// Report options are checked, and every report file made, before the backend
// opens: a bad value is a usage error (2), a path that cannot be written an
// operational error (1), both with nothing run (no progress line, no mock
// state saved) — not after a whole run that then reports "exit 0".
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iovh } from './run-cli.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

function dir(): string {
  return scratchDir('iovh-run-reports-');
}

describe('iovh run: report options fail before anything runs', () => {
  it.each([
    [
      'a missing directory',
      (d: string) => ['--json', join(d, 'missing', 'r.json')],
      /^iovh: cannot write the JSON report to .*missing\/r\.json: ENOENT; nothing was run\n$/,
    ],
    [
      'a path under a regular file',
      (d: string) => ['--junit', join(d, 'file', 'r.xml')],
      /^iovh: cannot write the JUnit report to .*file\/r\.xml: ENOTDIR; nothing was run\n$/,
    ],
    [
      'a directory',
      (d: string) => ['--ktap', join(d, 'adir')],
      /^iovh: cannot write the KTAP report to .*adir: EISDIR; nothing was run\n$/,
    ],
  ])('%s: exit 1, one line, no scenario ran, the mock never opened', async (_what, args, message) => {
    const d = dir();
    writeFileSync(join(d, 'file'), 'x');
    mkdirSync(join(d, 'adir'));
    const state = join(d, 'state.json');
    const r = await iovh('run', '--backend', 'mock', '--mock-state', state, ...args(d));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(state)).toBe(false);
  });

  it.each([
    [
      ['--kcidb', '-', '--kcidb-build-id', 'bad id'],
      /^iovh: --kcidb-build-id: KCIDB build id must be 'iovh:' followed by the build's id within that origin, got 'bad id'\n$/,
    ],
    [['--kcidb', '-', '--kcidb-origin', 'lab', '--kcidb-build-id', 'iovh:7.2'], /must be 'lab:' followed by/],
    [['--kcidb', '-', '--kcidb-build-id', 'iovh:'], /must be 'iovh:' followed by/],
    [['--kcidb', '-', '--kcidb-build-id', 'iovh:a\nb'], /must be one line of text/],
  ])('%j: usage error, exit 2, nothing run', async (args, message) => {
    const d = dir();
    const state = join(d, 'state.json');
    const r = await iovh('run', '--backend', 'mock', '--mock-state', state, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(existsSync(state)).toBe(false);
  });

  it('a good build id is used as given', async () => {
    const d = dir();
    const r = await iovh(
      'run',
      '--backend',
      'mock',
      '--filter',
      'export/single-range',
      '--kcidb',
      join(d, 'k.json'),
      '--kcidb-origin',
      'lab',
      '--kcidb-build-id',
      'lab:7.2-rc1 build 5',
    );
    expect(r.code).toBe(0);
    const k = JSON.parse(readFileSync(join(d, 'k.json'), 'utf8')) as { tests: { build_id: string }[] };
    expect(k.tests.map((t) => t.build_id)).toEqual(['lab:7.2-rc1 build 5', 'lab:7.2-rc1 build 5']);
  });

  it('after a complete run the JSON report says complete, with nothing pending', async () => {
    const d = dir();
    const r = await iovh('run', '--backend', 'mock', '--filter', 'export/single-range', '--json', join(d, 'r.json'));
    expect(r.code).toBe(0);
    const json = JSON.parse(readFileSync(join(d, 'r.json'), 'utf8')) as RunResult;
    expect(json.complete).toBe(true);
    expect(json.pending).toEqual([]);
    expect(json.scenarios.map((s) => s.id)).toEqual(['caps/kernel', 'export/single-range']);
  });
});
