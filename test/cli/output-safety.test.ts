// What iovh writes never destroys what it did not create (docs/safety.md):
// a report or capture named like one of the command's inputs is refused
// before anything is written (by real path and by inode); `capture --out`
// follows a symlink instead of replacing it, writes a FIFO or a device node
// in place instead of renaming a regular file over it, and never clobbers a `<out>.tmp` that
// belongs to someone else.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../src/mock/topology.js';
import { Lab, iovh } from './helpers.js';

/** Can this process make device nodes (root, CAP_MKNOD)? Tests that need one skip, saying so, otherwise. */
const CAN_MKNOD = ((): boolean => {
  const dir = mkdtempSync(join(tmpdir(), 'iovh-mknod-'));
  try {
    execFileSync('mknod', [join(dir, 'n'), 'c', '1', '3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
})();
if (!CAN_MKNOD) console.warn('output-safety: device-node cases skipped: mknod needs root (CAP_MKNOD)');

let lab: Lab;
let topology: string;
const TOPOLOGY_TEXT = `${JSON.stringify(defaultTopology(), null, 2)}\n`;

beforeEach(() => {
  lab = new Lab();
  topology = lab.file('topology.json', TOPOLOGY_TEXT);
});
afterEach(() => lab.remove());

/** Exit 2 with one line naming both options, and every input byte for byte as before. */
async function refused(argv: string[], files: Record<string, string>, message: RegExp): Promise<void> {
  const before = Object.fromEntries(Object.keys(files).map((f) => [f, readFileSync(f)]));
  const r = await iovh(...argv);
  expect(r.code, r.err).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err.split('\n')).toHaveLength(2);
  expect(r.out).toBe('');
  for (const f of Object.keys(files)) expect(readFileSync(f).equals(before[f]!), f).toBe(true);
}

describe('an output that is an input is refused before anything is written', () => {
  it('run --topology T --json T', async () => {
    await refused(
      ['--backend', 'mock', 'run', '--topology', topology, '--json', topology],
      { [topology]: '' },
      /^iovh: --json .*topology\.json is the --topology file: writing it would destroy that input; name another file; nothing was run$/m,
    );
  });

  it('run --baseline B --junit B, and --write-baseline B', async () => {
    const baseline = join(import.meta.dirname, '../../baselines/rfc-v1.json');
    const copy = lab.file('baseline.json', readFileSync(baseline, 'utf8'));
    for (const out of ['--junit', '--write-baseline', '--ktap', '--kcidb']) {
      await refused(
        ['--backend', 'mock', 'run', '--baseline', copy, out, copy],
        { [copy]: '' },
        new RegExp(`^iovh: ${out} .* is the --baseline file`),
      );
    }
  });

  it('run --mock-state M --json M', async () => {
    expect((await lab.run('vfs', 'enable', '0000:03:00.0', '2')).code).toBe(0);
    await refused(
      ['--backend', 'mock', '--mock-state', lab.state, 'run', '--json', lab.state],
      { [lab.state]: '' },
      /is the --mock-state file/,
    );
  });

  it('through a symlink and through a hard link (the same inode)', async () => {
    const link = join(lab.dir, 'link.json');
    symlinkSync(topology, link);
    await refused(
      ['--backend', 'mock', 'run', '--topology', topology, '--json', link],
      { [topology]: '' },
      /is the --topology file/,
    );
    const hard = join(lab.dir, 'hard.json');
    linkSync(topology, hard);
    await refused(
      ['--backend', 'mock', 'run', '--topology', topology, '--json', hard],
      { [topology]: '' },
      /is the --topology file \(the same inode\)/,
    );
  });

  it('capture --topology T --out T, and --mock-state M --out M', async () => {
    await refused(
      ['--backend', 'mock', 'capture', '--topology', topology, '--out', topology],
      { [topology]: '' },
      /^iovh: capture: --out .* is the --topology file/,
    );
    expect((await lab.run('vfs', 'enable', '0000:03:00.0', '1')).code).toBe(0);
    await refused(
      ['--backend', 'mock', '--mock-state', lab.state, 'capture', '--out', lab.state],
      { [lab.state]: '' },
      /is the --mock-state file/,
    );
  });
});

describe('capture --out writes what the path names, never renames over it', () => {
  it('a symlink is followed: the link stays, its target gets the topology', async () => {
    const target = lab.file('target.json', 'old\n');
    const link = join(lab.dir, 'out.json');
    symlinkSync('target.json', link);
    const r = await iovh('--backend', 'mock', 'capture', '--out', link);
    expect(r.code, r.err).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('target.json');
    expect(JSON.parse(readFileSync(target, 'utf8')).schema).toBe('iovh-topology/1');
  });

  it('a dangling symlink: its target is created, the link stays', async () => {
    const link = join(lab.dir, 'dangling.json');
    symlinkSync('made.json', link);
    expect((await iovh('--backend', 'mock', 'capture', '--out', link)).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(lab.dir, 'made.json'), 'utf8')).schema).toBe('iovh-topology/1');
  });

  it('a FIFO is written in place: it stays a FIFO and its reader gets the topology', async () => {
    const fifo = join(lab.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d: Buffer) => {
      got += d.toString();
    });
    const done = new Promise((resolve) => reader.on('close', resolve));
    try {
      const r = await iovh('--backend', 'mock', 'capture', '--out', fifo);
      expect(r.code, r.err).toBe(0);
      // Before, the FIFO was replaced by a regular file and the reader waited forever.
      await Promise.race([
        done,
        new Promise((_, reject) => setTimeout(() => reject(new Error('the reader got no EOF')), 10_000)),
      ]);
    } finally {
      reader.kill();
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(JSON.parse(got).schema).toBe('iovh-topology/1');
  });

  // `--out /dev/null` as root renamed a regular file over the null device. The device here is a node of the
  // test's own, made in its scratch directory (the null device's numbers, 1:3), so /dev is not touched.
  it.skipIf(!CAN_MKNOD)(
    'a device node is written in place: it stays that device (capture --out, run --json)',
    async () => {
      const dev = join(lab.dir, 'null');
      execFileSync('mknod', [dev, 'c', '1', '3']);
      const before = lstatSync(dev);
      for (const argv of [
        ['capture', '--out', dev],
        ['run', '--filter', 'caps/*', '--no-baseline', '--json', dev],
      ]) {
        const r = await iovh('--backend', 'mock', '--mock-state', lab.state, ...argv);
        expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
        const after = lstatSync(dev);
        expect(after.isCharacterDevice(), argv.join(' ')).toBe(true);
        expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
      }
      expect(readdirSync(lab.dir).filter((n) => n.startsWith('.'))).toEqual([]);
    },
  );

  it('a link loop and a directory are errors, and nothing is left behind', async () => {
    const loop = join(lab.dir, 'loop');
    symlinkSync('loop', loop);
    const r = await iovh('--backend', 'mock', 'capture', '--out', loop);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`iovh: capture: cannot write ${loop} (ELOOP (a symbolic link loop)); nothing was captured\n`);
    const dir = join(lab.dir, 'dir');
    mkdirSync(dir);
    const d = await iovh('--backend', 'mock', 'capture', '--out', dir);
    expect(d.err).toBe(`iovh: capture: cannot write ${dir} (EISDIR); nothing was captured\n`);
    expect(lstatSync(loop).isSymbolicLink()).toBe(true);
  });

  it("a file named <out>.tmp is someone else's: left alone", async () => {
    const out = join(lab.dir, 'capture.json');
    const theirs = lab.file('capture.json.tmp', 'not iovh\n');
    expect((await iovh('--backend', 'mock', 'capture', '--out', out)).code).toBe(0);
    expect(readFileSync(theirs, 'utf8')).toBe('not iovh\n');
    expect(existsSync(out)).toBe(true);
  });

  it('run --list --json into a missing directory: one line, exit 1 (was an internal error, exit 99)', async () => {
    const out = join(lab.dir, 'missing', 'list.json');
    const r = await iovh('run', '--list', '--json', out);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`iovh: cannot write the scenario list to ${out}: ENOENT\n`);
  });

  it('a regular file keeps its permission bits', async () => {
    const out = lab.file('kept.json', 'old\n');
    execFileSync('chmod', ['0640', out]);
    expect((await iovh('--backend', 'mock', 'capture', '--out', out)).code).toBe(0);
    expect(lstatSync(out).mode & 0o777).toBe(0o640);
  });
});
