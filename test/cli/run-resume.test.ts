// `iovh run --resume results.json`: a run killed as a scenario starts (the
// kill test hook, as an oops or a power cut would), then resumed: the merged
// file is the run as if it had never stopped; a scenario the machine went
// down in (another boot id) is a crash and is not run again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/report/model.js';
import { iovh } from './run-cli.js';

const BIN = fileURLToPath(new URL('../../bin/iovh.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'iovh-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);
const read = (name: string): RunResult => JSON.parse(readFileSync(at(name), 'utf8')) as RunResult;

/** `iovh run` in a process of its own, SIGKILLed as scenario `id` starts. */
function killedAt(id: string, json: string): void {
  const r = spawnSync(
    process.execPath,
    [BIN, 'run', '--backend', 'mock', '--json', at(json), '--filter', '!stress/*'],
    {
      env: { ...process.env, IOVH_TEST_KILL_AT: id },
      encoding: 'utf8',
    },
  );
  expect(r.signal).toBe('SIGKILL');
}

let reference: RunResult;
beforeAll(async () => {
  const r = await iovh('run', '--backend', 'mock', '--json', at('full.json'), '--filter', '!stress/*');
  expect(r.code).toBe(0);
  reference = read('full.json');
}, 60_000);

const statuses = (run: RunResult): string[] => run.scenarios.map((s) => `${s.id} ${s.status}`);

describe('iovh run --resume', () => {
  it('finishes a run that was killed: every scenario once, as a full run judges them', async () => {
    killedAt('edge/npot-ranges', 'k.json');
    const dead = read('k.json');
    expect(dead).toMatchObject({ complete: false, running: 'edge/npot-ranges' });
    expect(dead.pending[0]).toBe('edge/npot-ranges');
    const r = await iovh('run', '--backend', 'mock', '--resume', at('k.json'), '--ktap', at('k.ktap'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The kernel kept running (same boot): the scenario iovh died in ran again.
    expect(r.stdout).toContain(
      'iovh: edge/npot-ranges was running when the run stopped and the machine kept running (same boot): running it again',
    );
    const merged = read('k.json');
    expect(merged).toMatchObject({ complete: true, pending: [], running: null, startedAt: dead.startedAt });
    expect(statuses(merged)).toEqual(statuses(reference));
    expect(merged.summary.exitCode).toBe(0);
    expect(merged.resumed).toHaveLength(1);
    expect(merged.resumed![0]!.scenarios[0]).toBe('edge/npot-ranges');
    expect(readFileSync(at('k.ktap'), 'utf8')).toMatch(/^# Totals: pass:\d+ fail:0 xfail:\d+/m);
  }, 60_000);

  it('does not run again the scenario the machine went down in', async () => {
    killedAt('edge/unprovisioned-vf', 'b.json');
    const dead = read('b.json');
    // As after a reboot: the file says another boot.
    dead.kernel.bootId = '00000000-0000-4000-8000-000000000000';
    writeFileSync(at('b.json'), JSON.stringify(dead));
    const r = await iovh('run', '--backend', 'mock', '--resume', at('b.json'));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^iovh: edge\/unprovisioned-vf was running when the run stopped: the machine went down while it ran/m,
    );
    const merged = read('b.json');
    const crashed = merged.scenarios.find((s) => s.id === 'edge/unprovisioned-vf')!;
    expect(crashed).toMatchObject({ status: 'crash', evidence: { diedDuring: true } });
    // Without the oops (no pstore here) it cannot name the quirk the baseline expects: a regression, never a pass.
    expect(crashed.baseline?.verdict).toBe('regression');
    expect(merged.resumed![0]!.scenarios).not.toContain('edge/unprovisioned-vf');
    expect(merged.resumed![0]!.wentDown).toEqual(['edge/unprovisioned-vf']);
    expect(merged.scenarios.map((s) => s.id)).toEqual(reference.scenarios.map((s) => s.id));
  }, 60_000);

  it('a finished run: nothing to resume, nothing run, the file as it was', async () => {
    const before = readFileSync(at('full.json'), 'utf8');
    const r = await iovh('run', '--backend', 'mock', '--resume', at('full.json'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('iovh: nothing to resume: every scenario of the run has a result');
    expect(readFileSync(at('full.json'), 'utf8')).toBe(before);
  });

  it.each([
    [['--filter', 'export/*'], /^iovh: --resume finishes a run with that run's own options: drop --filter\n$/],
    [['--timeout', '5', '--no-baseline'], /drop --timeout, --baseline\n$/],
    [
      ['--json', 'other.json'],
      /--resume rewrites .*full\.json with the merged result: --json cannot name another file/,
    ],
    [['--list'], /--resume runs scenarios; --list lists them: give one/],
    [
      ['--profile', 'fixed'],
      /the results were made with mock profile rfc-v1; this run would use fixed: resume with --profile rfc-v1/,
    ],
  ])('%j with --resume is a usage error', async (extra, message) => {
    const r = await iovh('run', '--backend', 'mock', '--resume', at('full.json'), ...extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a file that is not a results file is a usage error naming it', async () => {
    writeFileSync(at('nope.json'), '[]');
    const r = await iovh('run', '--backend', 'mock', '--resume', at('nope.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `iovh: ${at('nope.json')}: not an iovh run result: (top level): expected an object, got []\n`,
    );
  });
});
