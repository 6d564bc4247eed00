// Killed at every possible step, then `iovh restore`: sysfs comes back byte
// for byte (issue 5 "Done when"): after or before every write of the bring-up
// script, and as scenarios of an `iovh run` after it start. The command that dies runs as a real child
// process (the bundled CLI) and is SIGKILLed by its own test hook right after
// its n-th sysfs write, or between its n-th journal entry and that write; the
// commands before it and the restore after it run in this process.
//
// `iovh run` killed as a scenario starts leaves what the run's bring-up and
// the scenarios before it left: a kill there checks that each of them undid
// or journaled its own changes. `npm test` kills it at a sample: the first
// scenario (the bring-up's journal alone), the scenario after each one that
// changed the machine in an uninterrupted run (a journal session `run <id>`:
// the state its undo left), and the last (everything before it); the
// uninterrupted run itself, restored, covers the last scenario. Each killed
// run replays the catalog up to its scenario, so all of them cost about half
// a catalog run per scenario (47 processes, minutes on a loaded machine).
// The full sweep, every scenario, runs in CI (.ci/run):
//   IOVH_KILL_SWEEP=full npx vitest run test/cli/kill-sweep.test.ts
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, bundleCli, diffSnapshots, spawnCli } from './helpers.js';
import { tempDir } from '../host/helpers.js';
import { CATALOG } from '../../src/harness/catalog/index.js';
import { CAPS_ID } from '../../src/harness/summary.js';

const FULL = process.env.IOVH_KILL_SWEEP === 'full';
const PF = '0000:03:00.0';
const SCRIPT: string[][] = [
  ['vfs', 'enable', PF, '4'],
  ['provision', PF, '--vf', '1', '--vram', '2G'],
  ['provision', PF, '--vf', '2', '--vram', '2G'],
  ['bind', '0000:03:00.1', 'vfio-pci'],
  ['bind', '0000:03:00.2', 'vfio-pci'],
];

let bundle: string;
const scratch = tempDir('iovh-bundle-');
beforeAll(async () => {
  bundle = await bundleCli(scratch.path);
}, 60_000);
afterAll(() => scratch.remove());

/** The mock's state file and the journal directory, kept in memory to start many cases from one point. */
interface Checkpoint {
  files: Map<string, Buffer>;
}

function save(lab: Lab): Checkpoint {
  const files = new Map<string, Buffer>();
  if (existsSync(lab.state)) files.set(lab.state, readFileSync(lab.state));
  if (existsSync(lab.stateDir))
    for (const n of readdirSync(lab.stateDir)) files.set(join(lab.stateDir, n), readFileSync(join(lab.stateDir, n)));
  return { files };
}

function load(lab: Lab, c: Checkpoint): void {
  rmSync(lab.stateDir, { recursive: true, force: true });
  rmSync(lab.state, { force: true });
  mkdirSync(lab.stateDir, { recursive: true });
  for (const [path, data] of c.files) writeFileSync(path, data);
}

/** The commands of every session in the journals under `dir`, in order. */
function journalSessions(dir: string): string[] {
  return readdirSync(dir).flatMap((n) =>
    readFileSync(join(dir, n), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { t: string; command?: string })
      .filter((r) => r.t === 'begin' && typeof r.command === 'string')
      .map((r) => r.command!),
  );
}

/**
 * Where `npm test` kills the run: the first scenario, the one after each that
 * wrote to the machine, and the last, in catalog order.
 */
function killSample(ids: string[], writers: string[]): string[] {
  const at = new Set([ids[0]!, ids.at(-1)!]);
  for (const w of writers) {
    const next = ids[ids.indexOf(w) + 1];
    if (next !== undefined) at.add(next);
  }
  return ids.filter((id) => at.has(id));
}

const writesOf = (out: string) => out.split('\n').filter((l) => l.startsWith('+ echo')).length;

function child(lab: Lab, argv: string[], env: Record<string, string>) {
  return spawnCli(bundle, ['--backend', 'mock', '--mock-state', lab.state, ...argv], {
    IOVH_STATE_DIR: lab.stateDir,
    ...env,
  });
}

describe('kill sweep', () => {
  let lab: Lab;
  let before: Map<string, string>;
  /** checkpoints[i]: after the first i commands of the script */
  const checkpoints: Checkpoint[] = [];
  const counts: number[] = [];

  beforeAll(async () => {
    lab = new Lab();
    before = lab.sysfs();
    checkpoints.push(save(lab));
    for (const argv of SCRIPT) {
      const r = await lab.run(...argv);
      expect(r.code, r.err).toBe(0);
      counts.push(writesOf(r.out));
      checkpoints.push(save(lab));
    }
  }, 60_000);
  afterAll(() => lab.remove());

  it('after every write and before every write of the script, restore puts sysfs back', async () => {
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total).toBe(8);
    let cases = 0;
    for (const when of ['IOVH_TEST_KILL_AFTER', 'IOVH_TEST_KILL_BEFORE'] as const) {
      for (let n = 1; n <= total; n++) {
        // The command that makes global write n, and its own write number.
        let cmd = 0;
        let k = n;
        while (k > counts[cmd]!) k -= counts[cmd++]!;
        load(lab, checkpoints[cmd]!);
        const dead = child(lab, SCRIPT[cmd]!, { [when]: String(k) });
        expect(dead.signal, `${when}=${k} on ${SCRIPT[cmd]!.join(' ')}: ${dead.err}`).toBe('SIGKILL');
        // The next command, whatever it is, notices the stale journal in one line.
        const look = await lab.run('topology');
        expect(look.code).toBe(0);
        expect(look.err.startsWith(`iovh: note: \`iovh ${SCRIPT[cmd]!.join(' ')}\` (pid `), look.err).toBe(true);
        expect(look.err.trim().split('\n')).toHaveLength(1);
        expect(look.err).toContain(`run \`iovh restore --backend mock --mock-state ${lab.state}\` to undo them`);
        const r = await lab.run('restore');
        expect(r.code, `${when}=${n}: ${r.err}`).toBe(0);
        expect(diffSnapshots(before, lab.sysfs()), `${when}=${n}`).toEqual([]);
        expect(readdirSync(lab.stateDir)).toEqual([]);
        cases += 1;
      }
    }
    expect(cases).toBe(2 * total);
  }, 120_000);

  it(
    `iovh run after the script, killed as ${FULL ? 'any' : 'a sample'} of its scenarios starts: restore puts sysfs back as before the script`,
    async () => {
      // The whole script, then `iovh run` (its scenarios change the kernel: lifecycle/vf-disable-while-imported takes
      // the VFs away under the bring-up journal and puts them back), killed as each scenario starts.
      const ids = [CAPS_ID, ...CATALOG.map((x) => x.id).filter((id) => id !== CAPS_ID)];
      // Uninterrupted first: which scenarios change the machine, and that what the whole run leaves is restorable.
      load(lab, checkpoints[SCRIPT.length]!);
      const report = join(lab.dir, 'whole-run.json');
      const whole = await lab.run('run', '--no-baseline', '--json', report);
      expect([0, 1]).toContain(whole.code);
      const scenarios = (JSON.parse(readFileSync(report, 'utf8')) as { scenarios: { id: string }[] }).scenarios;
      rmSync(report);
      expect(scenarios.map((r) => r.id)).toEqual(ids);
      // A scenario's machine changes are journaled as a session named `run <id>` (src/host/journal.ts).
      const writers = journalSessions(lab.stateDir)
        .map((command) => /^run ([\w-]+\/[\w.-]+)$/.exec(command)?.[1])
        .filter((id): id is string => id !== undefined);
      // The sample means something only while the catalog has scenarios that change the machine under a journal.
      expect(writers).toContain('lifecycle/vf-disable-while-imported');
      const restored = await lab.run('restore');
      expect(restored.code, restored.err).toBe(0);
      expect(diffSnapshots(before, lab.sysfs()), 'after the whole run').toEqual([]);
      expect(readdirSync(lab.stateDir), 'after the whole run').toEqual([]);
      const sample = FULL ? ids : killSample(ids, writers);
      for (const id of sample) {
        load(lab, checkpoints[SCRIPT.length]!);
        const dead = child(lab, ['run', '--no-baseline'], { IOVH_TEST_KILL_AT: id });
        expect(dead.signal, `killed at ${id}: ${dead.err}`).toBe('SIGKILL');
        const r = await lab.run('restore');
        expect(r.code, `killed at ${id}: ${r.err}`).toBe(0);
        expect(diffSnapshots(before, lab.sysfs()), `killed at ${id}`).toEqual([]);
        expect(readdirSync(lab.stateDir), `killed at ${id}`).toEqual([]);
      }
    },
    FULL ? 900_000 : 180_000,
  );

  it('a restore killed after any of its writes is finished by the next restore', async () => {
    const all = checkpoints[SCRIPT.length]!;
    load(lab, all);
    const writes = writesOf((await lab.run('restore')).out);
    expect(writes).toBeGreaterThanOrEqual(8);
    for (let n = 1; n <= writes; n++) {
      load(lab, all);
      const dead = child(lab, ['restore'], { IOVH_TEST_KILL_AFTER: String(n) });
      expect(dead.signal, dead.err).toBe('SIGKILL');
      const again = await lab.run('restore');
      expect(again.code, again.err).toBe(0);
      expect(again.out).toMatch(/^restored: /m);
      expect(diffSnapshots(before, lab.sysfs()), `killed after restore write ${n}`).toEqual([]);
    }
  }, 120_000);

  it('Ctrl-C during restore stops between two records, and the next restore finishes', async () => {
    load(lab, checkpoints[SCRIPT.length]!);
    const r = child(lab, ['restore'], { IOVH_TEST_SIGINT_AFTER: '2' });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(130);
    expect(r.err).toMatch(
      /^iovh: restore: interrupted by SIGINT after 2 of 8 journaled writes undone; run `iovh restore --backend mock --mock-state \S+` again to undo the 6 left$/m,
    );
    expect((await lab.run('topology')).err).toBe('');
    const again = await lab.run('restore');
    expect(again.out).toMatch(/^restored: 6 journaled writes undone/m);
    expect(diffSnapshots(before, lab.sysfs())).toEqual([]);
  }, 60_000);

  it('Ctrl-C stops between two writes, says so, and restore undoes what was made', async () => {
    const own = new Lab();
    try {
      const initial = own.sysfs();
      const plan = own.file(
        'p.json',
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
      const r = child(own, ['setup', plan], { IOVH_TEST_SIGINT_AFTER: '3' });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(130);
      expect(r.err).toMatch(
        /^iovh: setup: interrupted by SIGINT after 3 of 7 writes; `iovh restore --backend mock --mock-state \S+` undoes the 3 made$/m,
      );
      const file = join(own.stateDir, readdirSync(own.stateDir)[0]!);
      const records = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { t: string; status?: string });
      expect(records.filter((x) => x.t === 'write')).toHaveLength(3);
      expect(records.at(-1)).toEqual({ t: 'end', session: 1, status: 'interrupted' });
      // Not stale: the process ended on its own terms.
      expect((await own.run('topology')).err).toBe('');
      expect((await own.run('restore')).code).toBe(0);
      expect(diffSnapshots(initial, own.sysfs())).toEqual([]);
    } finally {
      own.remove();
    }
  }, 60_000);
});
