// `iovh qemu`'s guest program (src/qemu/guest.ts) on the mock: bugs/* run last,
// in a bring-up of their own after restore, with --allow-destructive (the guest
// is a machine thrown away), as the CI's guest runs them (src/qemu/last.ts);
// the host reads both runs as one report (src/qemu/run.ts readGuestRun), and a
// known bug the kernel's baseline expects is an expected failure there and in
// the host's verdict, never a pass.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baselineJudge } from '../../scripts/qemu-ci/boot.mjs';
import { IGB_TOPOLOGY } from '../../scripts/qemu-ci/conformance.mjs';
import { LAST_REPORT, splitFilters } from '../../src/qemu/last.js';
import { readGuestRun } from '../../src/qemu/run.js';
import { stateScratchDir } from '../support/scratch.js';
import { runGuestOnMock } from './guest-on-mock.js';

const dir = stateScratchDir('iovh-guest-last-');

describe('the guest filters cut in two', () => {
  it('keeps bugs/* for the last run, with the user includes matching one by one', () => {
    expect(splitFilters([])).toEqual({ first: ['!bugs/*'], last: ['bugs/*'] });
    // Excludes only: bugs/* and the excludes.
    expect(splitFilters(['!bugs/revoke-hang-*'])).toEqual({
      first: ['!bugs/revoke-hang-*', '!bugs/*'],
      last: ['bugs/*', '!bugs/revoke-hang-*'],
    });
    // Includes OR (src/harness/filter.ts): bugs/* with export/* would run every export/* scenario last.
    expect(splitFilters(['export/*']).last).toEqual([]);
    expect(splitFilters(['export/*', 'bugs/opath*']).last).toEqual(['bugs/opath-stale-file']);
    // The way to leave them out.
    expect(splitFilters(['!bugs/*']).last).toEqual([]);
  });
});

describe("iovh qemu's guest program on the mock (upstream-7.1, KASAN)", () => {
  it('runs the kref scenario destructively, bugs/* last, and a known bug is an expected crash', async () => {
    // The sanitizer guest's build: KASAN with SLUB_RCU_DEBUG sees bugs/opath-stale-file's write (docs/bugs.md).
    const t = JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8'));
    t.kernel = { ...t.kernel, config: { ...t.kernel?.config, KASAN: 'y', SLUB_RCU_DEBUG: 'y' } };
    const topology = join(dir(), 'topology.json');
    writeFileSync(topology, `${JSON.stringify(t, null, 2)}\n`);
    const { code, results: resultsDir } = await runGuestOnMock(dir(), {
      topology,
      profile: 'upstream-7.1',
      variant: 'igb-intel-iommu',
      numvfs: 2,
      filters: ['export/single-range', 'lifecycle/close-while-revoked', 'bugs/opath-stale-file'],
    });
    const results = JSON.parse(readFileSync(join(resultsDir, 'results.json'), 'utf8'));
    const steps = Object.fromEntries(
      (results.scenarios as { id: string; status: string; bugs?: string[] }[]).map((s) => [s.id, s]),
    );
    expect(Object.keys(steps)).toEqual([
      'qemu.vfs-enable',
      'qemu.bind',
      'qemu.capture',
      'run:caps/kernel',
      'run:export/single-range',
      'run:lifecycle/close-while-revoked',
      'qemu.restore',
      // The last run's results, then the step that ran it.
      'run:bugs/opath-stale-file',
      'qemu.last',
    ]);
    // With consent the kref scenario runs (7.2.13 has the fix): without it, it would skip.
    expect(steps['run:lifecycle/close-while-revoked']?.status).toBe('pass');
    expect(steps['run:bugs/opath-stale-file']).toMatchObject({ status: 'crash', bugs: ['opath-stale-file'] });
    expect(results.shape).toBe('upstream-7.1');
    // The guest program's own exit: a crash is a bad result (the host's verdict judges it).
    expect(code).toBe(1);

    // The host's verdict: the crash is an expected failure of the shape's baseline (XFAIL), never a pass.
    const { judge } = await baselineJudge(results);
    expect(judge?.(steps['run:bugs/opath-stale-file'] as never)).toMatchObject({ verdict: 'expected' });

    // The report `iovh qemu` prints: both runs as one, the last run's probe dropped.
    const { run, runError } = readGuestRun(join(dir(), 'results'));
    expect(runError).toBeNull();
    expect(run?.scenarios.map((s) => [s.id, s.status, s.baseline?.verdict])).toEqual([
      ['caps/kernel', 'pass', 'expected'],
      ['export/single-range', 'pass', 'expected'],
      ['lifecycle/close-while-revoked', 'pass', 'expected'],
      ['bugs/opath-stale-file', 'crash', 'expected'],
    ]);
    expect(run?.summary).toMatchObject({ exitCode: 0, unexpected: [] });
    expect(run?.summary.exitReason).toMatch(/no unexpected result \(1 known failure/);
    expect(readFileSync(join(dir(), 'results', LAST_REPORT), 'utf8')).toContain('"bugs/opath-stale-file"');

    // Every filter a bugs/* one: the first run selects nothing and stops with caps/kernel pending ("no scenario
    // matches"); the last run answers it, and the whole is complete.
    const firstFile = join(dir(), 'results', 'iovh-run.json');
    const firstRun = readFileSync(firstFile, 'utf8');
    const empty = JSON.parse(firstRun);
    writeFileSync(firstFile, JSON.stringify({ ...empty, scenarios: [], complete: false, pending: ['caps/kernel'] }));
    const onlyBugs = readGuestRun(join(dir(), 'results')).run!;
    expect(onlyBugs.scenarios.map((s) => s.id)).toEqual(['caps/kernel', 'bugs/opath-stale-file']);
    expect([onlyBugs.complete, onlyBugs.pending, onlyBugs.summary.exitCode]).toEqual([true, [], 0]);
    writeFileSync(firstFile, firstRun);

    // A guest that died in the last run leaves its report incomplete (iovh run rewrites it as it goes): so is the
    // whole, and it fails, naming the scenario without a result.
    const lastFile = join(dir(), 'results', LAST_REPORT);
    const last = JSON.parse(readFileSync(lastFile, 'utf8'));
    writeFileSync(
      lastFile,
      JSON.stringify({
        ...last,
        complete: false,
        pending: ['bugs/revoke-hang-reset'],
        running: 'bugs/revoke-hang-reset',
      }),
    );
    const died = readGuestRun(join(dir(), 'results')).run!;
    expect([died.complete, died.running, died.summary.exitCode]).toEqual([false, 'bugs/revoke-hang-reset', 1]);
    expect(died.summary.exitReason).toMatch(/^incomplete: 1 of 5 scenarios have no result/);
  }, 120_000);
});
