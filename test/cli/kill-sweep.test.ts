// Killed at every possible step, then `iovh restore`: sysfs comes back byte
// for byte (issue 5 "Done when"). The command that dies runs as a real child
// process (the bundled CLI) and is SIGKILLed by its own test hook right after
// its n-th sysfs write, or between its n-th journal entry and that write; the
// commands before it and the restore after it run in this process.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, bundleCli, diffSnapshots, spawnCli } from './helpers.js';
import { tempDir } from '../host/helpers.js';

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

/** Writes each command of the script makes, from a reference run. */
async function writesPerCommand(): Promise<number[]> {
  const lab = new Lab();
  try {
    const counts: number[] = [];
    for (const argv of SCRIPT) {
      const r = await lab.run(...argv);
      expect(r.code, r.err).toBe(0);
      counts.push(r.out.split('\n').filter((l) => l.startsWith('+ echo')).length);
    }
    return counts;
  } finally {
    lab.remove();
  }
}

function child(lab: Lab, argv: string[], env: Record<string, string>) {
  return spawnCli(bundle, ['--backend', 'mock', '--mock-state', lab.state, ...argv], { IOVH_STATE_DIR: lab.stateDir, ...env });
}

describe('kill sweep', () => {
  it('after every write and before every write of the script, restore puts sysfs back', async () => {
    const counts = await writesPerCommand();
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total).toBe(8);
    let cases = 0;
    for (const when of ['IOVH_TEST_KILL_AFTER', 'IOVH_TEST_KILL_BEFORE'] as const) {
      for (let n = 1; n <= total; n++) {
        const lab = new Lab();
        try {
          const before = lab.sysfs();
          // Find the command that makes global write n, and its own write number.
          let cmd = 0;
          let k = n;
          while (k > counts[cmd]!) k -= counts[cmd++]!;
          for (let i = 0; i < cmd; i++) expect((await lab.run(...SCRIPT[i]!)).code).toBe(0);
          const dead = child(lab, SCRIPT[cmd]!, { [when]: String(k) });
          expect(dead.signal, `${when}=${k} on ${SCRIPT[cmd]!.join(' ')}: ${dead.err}`).toBe('SIGKILL');
          // The next command, whatever it is, notices the stale journal in one line.
          const look = await lab.run('topology');
          expect(look.code).toBe(0);
          const notice = `iovh: note: \`iovh ${SCRIPT[cmd]!.join(' ')}\` (pid `;
          expect(look.err.startsWith(notice), look.err).toBe(true);
          expect(look.err.trim().split('\n')).toHaveLength(1);
          expect(look.err).toContain(`run \`iovh restore\` --mock-state ${lab.state} to undo them`);
          const r = await lab.run('restore');
          expect(r.code, `${when}=${n}: ${r.err}`).toBe(0);
          expect(diffSnapshots(before, lab.sysfs()), `${when}=${n}`).toEqual([]);
          expect(readdirSync(lab.stateDir)).toEqual([]);
          cases += 1;
        } finally {
          lab.remove();
        }
      }
    }
    expect(cases).toBe(2 * total);
  }, 120_000);

  it('a restore killed after any of its writes is finished by the next restore', async () => {
    const probe = new Lab();
    let writes: number;
    try {
      for (const argv of SCRIPT) await probe.run(...argv);
      writes = (await probe.run('restore')).out.split('\n').filter((l) => l.startsWith('+ echo')).length;
    } finally {
      probe.remove();
    }
    expect(writes).toBeGreaterThanOrEqual(8);
    for (let n = 1; n <= writes; n++) {
      const lab = new Lab();
      try {
        const before = lab.sysfs();
        for (const argv of SCRIPT) expect((await lab.run(...argv)).code).toBe(0);
        const dead = child(lab, ['restore'], { IOVH_TEST_KILL_AFTER: String(n) });
        expect(dead.signal, dead.err).toBe('SIGKILL');
        const again = await lab.run('restore');
        expect(again.code, again.err).toBe(0);
        expect(again.out).toMatch(/^restored: /m);
        expect(diffSnapshots(before, lab.sysfs()), `killed after restore write ${n}`).toEqual([]);
      } finally {
        lab.remove();
      }
    }
  }, 120_000);

  it('Ctrl-C stops between two writes, says so, and restore undoes what was made', async () => {
    const lab = new Lab();
    try {
      const before = lab.sysfs();
      const plan = lab.file('p.json', JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 1, vram: '1G', driver: 'vfio-pci' }, { vf: 2, driver: 'vfio-pci' }] }] }));
      const r = child(lab, ['setup', plan], { IOVH_TEST_SIGINT_AFTER: '3' });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(130);
      expect(r.err).toMatch(/^iovh: setup: interrupted by SIGINT after 3 of 7 writes; `iovh restore` undoes the 3 made$/m);
      const file = join(lab.stateDir, readdirSync(lab.stateDir)[0]!);
      const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { t: string; status?: string });
      expect(records.filter((x) => x.t === 'write')).toHaveLength(3);
      expect(records.at(-1)).toEqual({ t: 'end', session: 1, status: 'interrupted' });
      // Not stale: the process ended on its own terms.
      expect((await lab.run('topology')).err).toBe('');
      expect((await lab.run('restore')).code).toBe(0);
      expect(diffSnapshots(before, lab.sysfs())).toEqual([]);
    } finally {
      lab.remove();
    }
  }, 60_000);
});
