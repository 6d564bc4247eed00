// Ctrl-C and SIGTERM during `iovh run` and `iovh setup` (issue 7, item 5),
// with real child processes (the bundled CLI, test/cli/helpers.ts). No
// timers: iovh's own test hooks make the child signal itself at a chosen
// step (IOVH_TEST_SIGINT_AT: as a scenario starts; IOVH_TEST_SIGINT_AFTER:
// after the n-th bring-up write), and fixtures/signal-hook.mjs turns that
// SIGINT into SIGTERM or sends it twice, so every run stops at the same place.
//
// What must hold: the exit status is 128 + the signal; the partial results
// are written (the JSON report, marked interrupted, every scenario not reached
// listed as not run); a scenario stopped midway had its cleanups run; the
// machine is left as the run found it (sysfs byte for byte, no kprobe or trace
// instance left); the bring-up journal is intact, and `iovh restore` then
// brings the machine back to where it was before the bring-up.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/harness/catalog/index.js';
import { CAPS_ID } from '../../src/harness/summary.js';
import { createMockBackend } from '../../src/mock/backend.js';
import type { ProfileName } from '../../src/mock/contracts.js';
import type { RunResult } from '../../src/report/model.js';
import { bundleCli, diffSnapshots, Lab } from '../cli/helpers.js';
import { tempDir } from '../host/helpers.js';

const PF = '0000:03:00.0';
const HOOK = join(import.meta.dirname, 'fixtures', 'signal-hook.mjs');
const BASELINES = join(import.meta.dirname, '..', '..', 'baselines');
/** The order `iovh run` runs the catalog in. */
const ORDER = [CAPS_ID, ...CATALOG.map((s) => s.id).filter((id) => id !== CAPS_ID)];

let bundle: string;
const scratch = tempDir('iovh-signals-');
beforeAll(async () => {
  bundle = await bundleCli(scratch.path);
}, 60_000);
afterAll(() => scratch.remove());

interface Child {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** The bundled CLI on the lab's mock, with iovh's signal hook `hook` and the signal it sends turned into `signal`. */
function child(
  lab: Lab,
  argv: string[],
  hook: Record<string, string>,
  signal: 'SIGINT' | 'SIGTERM',
  twice = false,
): Child {
  const r = spawnSync(
    process.execPath,
    ['--import', HOOK, bundle, '--backend', 'mock', '--mock-state', lab.state, ...argv],
    {
      env: {
        ...process.env,
        IOVH_STATE_DIR: lab.stateDir,
        IOVH_TEST_SIGNAL_AS: signal,
        IOVH_TEST_SIGNAL_TWICE: twice ? '1' : '0',
        NO_COLOR: '1',
        ...hook,
      },
      encoding: 'utf8',
    },
  );
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** What the kernel of the lab's state file has in tracefs: kprobe definitions and trace instances. */
function tracefs(lab: Lab): { kprobes: string; instances: string[] } {
  const b = createMockBackend({ statePath: lab.state, stateAccess: 'read' });
  try {
    return {
      kprobes: b.fs.readText('/sys/kernel/tracing/kprobe_events'),
      instances: b.fs.readdir('/sys/kernel/tracing/instances'),
    };
  } finally {
    b.close();
  }
}

/** A mock kernel of `profile` in the lab's state file, as it boots (read-only commands do not save it). */
async function boot(lab: Lab, profile: ProfileName): Promise<void> {
  createMockBackend({ statePath: lab.state, profile }).close();
  const r = await lab.run('topology');
  expect(r.code, r.err).toBe(0);
}

/** Two VFs, both on vfio-pci, through the journaled bring-up commands (as a user would before `iovh run`). */
async function bringUp(lab: Lab): Promise<void> {
  for (const argv of [
    ['vfs', 'enable', PF, '2'],
    ['bind', '0000:03:00.1', 'vfio-pci'],
    ['bind', '0000:03:00.2', 'vfio-pci'],
  ]) {
    const r = await lab.run(...argv);
    expect(r.code, r.err).toBe(0);
  }
}

describe('signals during iovh run', () => {
  // The mock completes a scenario without returning to the event loop unless it waits on a timer, so the
  // signal lands inside a scenario only where one does: on `upstream` (7.2's deferred unmap), the VFIO reset
  // of lifecycle/revoke-on-reset stalls and its stall watch sleeps. Elsewhere it is seen as the scenario ends.
  const cases: Array<{ signal: 'SIGINT' | 'SIGTERM'; at: string; exit: number; profile: ProfileName }> = [
    { signal: 'SIGINT', at: 'lifecycle/revoke-on-reset', exit: 130, profile: 'upstream-7.1' },
    // Disables the VFs under an import: they must be back. (`fixed`: rfc-v1 leaks the LMEM a VF had, so after
    // the scenarios before this one its quota cannot be given back in full; the harness reports that, see
    // lifecycle/vf-disable-while-imported's notRestored evidence.)
    { signal: 'SIGTERM', at: 'lifecycle/vf-disable-while-imported', exit: 143, profile: 'fixed' },
    { signal: 'SIGTERM', at: 'export/multi-range', exit: 143, profile: 'rfc-v1' },
  ];
  const stoppedMidway: string[] = [];

  for (const c of cases) {
    it(`${c.signal} as ${c.at} starts (${c.profile}): partial report, cleanups run, the machine as the run found it, the journal restorable`, async () => {
      const lab = new Lab();
      try {
        await boot(lab, c.profile);
        const initial = lab.sysfs();
        await bringUp(lab);
        const ready = lab.sysfs();
        const report = join(lab.dir, 'run.json');
        const r = child(
          lab,
          ['run', '--baseline', join(BASELINES, `${c.profile}.json`), '--json', report],
          { IOVH_TEST_SIGINT_AT: c.at },
          c.signal,
        );
        expect(r.signal, r.err).toBeNull();
        expect(r.status, r.err).toBe(c.exit);
        expect(r.err).toContain(
          `iovh: ${c.signal}: running the current scenario's cleanups, then writing what was collected`,
        );

        const run = JSON.parse(readFileSync(report, 'utf8')) as RunResult;
        expect(run.interrupted).toEqual({ signal: c.signal });
        expect(run.summary.exitCode).toBe(c.exit);
        expect(run.scenarios.map((s) => s.id)).toEqual(ORDER);
        // Before it: results. It: a result, or stopped with its cleanups run. After it: not run.
        const k = ORDER.indexOf(c.at);
        const notRun = (i: number) => run.scenarios[i]!.reason === `not run: the run was interrupted by ${c.signal}`;
        for (let i = 0; i < k; i++) expect(notRun(i), ORDER[i]).toBe(false);
        const it = run.scenarios[k]!;
        expect(notRun(k)).toBe(false);
        if (it.reason.startsWith('interrupted by')) {
          stoppedMidway.push(c.at);
          expect(it.reason).toBe(`interrupted by ${c.signal} before it finished; cleanups ran`);
          expect(it.cleanup.ran).toBeGreaterThan(0);
        }
        expect(it.cleanup.failed).toEqual([]);
        for (let i = k + 1; i < ORDER.length; i++) expect(notRun(i), ORDER[i]).toBe(true);

        // Nothing the run did is left: sysfs as after the bring-up, no probe, no trace instance.
        expect(diffSnapshots(ready, lab.sysfs())).toEqual([]);
        expect(tracefs(lab)).toEqual({ kprobes: '', instances: [] });
        // The bring-up journal is whole: restore takes the machine back to before it.
        const restore = await lab.run('restore');
        expect(restore.code, restore.err).toBe(0);
        expect(diffSnapshots(initial, lab.sysfs())).toEqual([]);
        expect(readdirSync(lab.stateDir)).toEqual([]);
      } finally {
        lab.remove();
      }
    }, 120_000);
  }

  it('one of those signals landed inside a scenario (so its cleanup path ran, not only the not-run path)', () => {
    expect(stoppedMidway).toContain('lifecycle/revoke-on-reset');
  });

  it('a second Ctrl-C exits at once with 130, saying the cleanups were not waited for', () => {
    const lab = new Lab();
    try {
      const report = join(lab.dir, 'run.json');
      const r = child(
        lab,
        ['run', '--no-baseline', '--json', report],
        { IOVH_TEST_SIGINT_AT: 'export/single-range' },
        'SIGINT',
        true,
      );
      expect(r.status, r.err).toBe(130);
      expect(r.err).toMatch(/iovh: SIGINT again: exiting without waiting for cleanups/);
      // The report made before the run began (and rewritten after each scenario) stays as the last rewrite
      // left it: marked incomplete, what had no result yet listed as pending, and nothing pending passed.
      const partial = JSON.parse(readFileSync(report, 'utf8')) as RunResult;
      expect(partial.complete).toBe(false);
      expect(partial.interrupted).toBeNull();
      expect(partial.pending.length).toBeGreaterThan(0);
      expect(partial.pending).toContain(ORDER[ORDER.length - 1]);
      for (const id of partial.pending) expect(partial.scenarios.find((s) => s.id === id)?.status, id).not.toBe('pass');
    } finally {
      lab.remove();
    }
  }, 60_000);
});

describe('signals during iovh setup', () => {
  it('SIGTERM stops between two writes, exits 143, and restore undoes what was made', async () => {
    const lab = new Lab();
    try {
      const initial = lab.sysfs();
      const plan = lab.file(
        'plan.json',
        JSON.stringify({
          schema: 'iovh-setup/1',
          pfs: [
            {
              pf: PF,
              numvfs: 2,
              vfs: [
                { vf: 1, vram: '1G', driver: 'vfio-pci' },
                { vf: 2, driver: 'vfio-pci' },
              ],
            },
          ],
        }),
      );
      const r = child(lab, ['setup', plan], { IOVH_TEST_SIGINT_AFTER: '2' }, 'SIGTERM');
      expect(r.signal, r.err).toBeNull();
      expect(r.status, r.err).toBe(143);
      expect(r.err).toMatch(
        /^iovh: setup: interrupted by SIGTERM after 2 of \d+ writes; `iovh restore --backend mock --mock-state \S+` undoes the 2 made$/m,
      );
      const journal = readdirSync(lab.stateDir).filter((n) => n.endsWith('.jsonl'));
      expect(journal).toHaveLength(1);
      const records = readFileSync(join(lab.stateDir, journal[0]!), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { t: string; status?: string });
      expect(records.filter((x) => x.t === 'write')).toHaveLength(2);
      expect(records.at(-1)).toMatchObject({ t: 'end', status: 'interrupted' });
      expect(diffSnapshots(initial, lab.sysfs()).length).toBeGreaterThan(0);
      const restore = await lab.run('restore');
      expect(restore.code, restore.err).toBe(0);
      expect(diffSnapshots(initial, lab.sysfs())).toEqual([]);
    } finally {
      lab.remove();
    }
  }, 60_000);
});
