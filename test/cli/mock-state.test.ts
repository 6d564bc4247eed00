// The mock's --mock-state file under concurrency and odd names (docs/safety.md).
// Before: the state was loaded before any lock and every command, read-only
// ones included, saved its whole kernel at exit, so 4 parallel `bind`s lost
// binds and a `topology` beside a `setup` wiped the VFs the setup made; a
// symlinked state file was replaced by a regular file at the first save (the
// link's target kept the old kernel), and a symlink loop was taken as a fresh
// kernel. Now a command that may change the kernel locks the file before it
// loads it and saves it (atomically) before it unlocks; a read-only command
// neither locks nor saves. The commands run as real parallel processes (the
// bundled CLI).
import { execFileSync, spawn } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../host/helpers.js';
import { Lab, attr, bundleCli, iovh, type ChildResult } from './helpers.js';

const PF = '0000:03:00.0';
let bundle: string;
const scratch = tempDir('iovh-bundle-');
beforeAll(async () => {
  bundle = await bundleCli(scratch.path);
}, 60_000);
afterAll(() => scratch.remove());

let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(() => lab.remove());

/** The bundled CLI in a child process, not waited for: several run at once. */
function start(argv: string[], env: Record<string, string> = {}, killAfterMs?: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...argv], {
      env: { ...process.env, IOVH_STATE_DIR: lab.stateDir, ...env },
      ...(killAfterMs === undefined ? {} : { timeout: killAfterMs, killSignal: 'SIGKILL' as const }),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, out, err }));
  });
}

const mock = () => ['--backend', 'mock', '--mock-state', lab.state];

describe('commands in parallel on one mock state', () => {
  it('4 binds at once: every bind lands (3 trials)', async () => {
    for (let trial = 0; trial < 3; trial++) {
      expect((await lab.run('vfs', 'enable', PF, '4')).code).toBe(0);
      const vfs = ['0000:03:00.1', '0000:03:00.2', '0000:03:00.3', '0000:03:00.4'];
      const results = await Promise.all(vfs.map((vf) => start([...mock(), 'bind', vf, 'vfio-pci'])));
      for (const r of results) expect(r.status, r.err).toBe(0);
      const sysfs = lab.sysfs();
      for (const vf of vfs) expect(attr(sysfs, vf, 'driver_override'), `trial ${trial}: ${vf}`).toBe('vfio-pci\n');
      expect((await lab.run('restore')).code).toBe(0);
    }
  }, 120_000);

  // The race is narrow (a reader's load and save are milliseconds apart): the test after this one shows its cause
  // deterministically, a read-only command saving the kernel it loaded.
  it('topology and capture beside a setup: the setup is kept', async () => {
    const plan = lab.file('plan.json', JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 24 }] }));
    for (let trial = 0; trial < 1; trial++) {
      // Readers one after the other for as long as the setup runs, so that one loads before its save and ends after.
      let done = false;
      const reader = async (words: string[]) => {
        for (let i = 0; i < 8 && !done; i++) {
          const r = await start([...mock(), ...words]);
          expect(r.status, r.err).toBe(0);
        }
      };
      const setup = start([...mock(), 'setup', plan]).then((r) => {
        done = true;
        return r;
      });
      const [r] = await Promise.all([setup, reader(['topology']), reader(['capture'])]);
      expect(r!.status, r!.err).toBe(0);
      expect(attr(lab.sysfs(), PF, 'sriov_numvfs'), `trial ${trial}`).toBe('24\n');
      expect((await lab.run('restore')).code).toBe(0);
    }
  }, 120_000);
});

describe('read-only commands never save', () => {
  it('topology, capture, doctor-free dry runs leave the state file byte for byte and untouched', async () => {
    expect((await lab.run('vfs', 'enable', PF, '2')).code).toBe(0);
    const text = readFileSync(lab.state);
    const mtime = statSync(lab.state).mtimeMs;
    for (const argv of [
      ['topology'],
      ['topology', '--json'],
      ['capture'],
      ['vfs', 'enable', PF, '3', '--dry-run'],
      ['provision', PF, '--vf', '1', '--vram', '1G', '--dry-run'],
      ['bind', '0000:03:00.1', 'vfio-pci', '--dry-run'],
      ['restore', '--dry-run'],
    ]) {
      const r = await lab.run(...argv);
      expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
      expect(readFileSync(lab.state).equals(text), argv.join(' ')).toBe(true);
      expect(statSync(lab.state).mtimeMs, argv.join(' ')).toBe(mtime);
    }
  });
});

describe('the state file through a symlink', () => {
  it('a symlinked --mock-state is one state: the link stays, its target is saved', async () => {
    const link = join(lab.dir, 'link.json');
    symlinkSync('mock-state.json', link);
    expect((await iovh('--backend', 'mock', '--mock-state', link, 'vfs', 'enable', PF, '2')).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('mock-state.json');
    expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('2\n');
    // Through either name, the same kernel, and one journal: restore by the other name undoes it.
    expect((await lab.run('bind', '0000:03:00.1', 'vfio-pci')).code).toBe(0);
    const r = await iovh('--backend', 'mock', '--mock-state', link, 'restore');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^restored: 4 journaled writes/m);
    expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('0\n');
  });

  it('a symlink loop is an error, not a fresh kernel', async () => {
    const loop = join(lab.dir, 'loop.json');
    symlinkSync('loop.json', loop);
    for (const argv of [['topology'], ['vfs', 'enable', PF, '1'], ['restore']]) {
      const r = await iovh('--backend', 'mock', '--mock-state', loop, ...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toBe(`iovh: state file ${loop}: a symbolic link loop (ELOOP)\n`);
    }
  });

  it('a FIFO or a device as the state file is refused', async () => {
    const fifo = join(lab.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const nodes = [fifo];
    // A device of the test's own in its directory (the null device's numbers), not /dev/null; it needs root.
    const dev = join(lab.dir, 'null');
    try {
      execFileSync('mknod', [dev, 'c', '1', '3'], { stdio: 'ignore' });
      nodes.push(dev);
    } catch {
      console.warn('mock-state: the device case is skipped: mknod needs root (CAP_MKNOD)');
    }
    for (const node of nodes) {
      const r = await iovh('--backend', 'mock', '--mock-state', node, 'topology');
      expect(r.code).toBe(2);
      expect(r.err.startsWith(`iovh: state file ${node}: not a regular file`), r.err).toBe(true);
    }
  });
});

/** The saved xe provisioning of a state file, as far as these tests change it. */
type Xe = { pfBlocks: { dpa: string; size: string }[][]; vfs: { lmem: unknown[] }[] };

describe('VRAM blocks in a state file', () => {
  // Before: a block whose size was 0 made the buddy allocator's order -Infinity and the boot searched for ever
  // (src/mock/vram.ts claimOne, at full CPU: test/property/files.test.ts ran for 20+ minutes). The child is
  // killed after 30 s so that such a hang fails the test instead of stalling the run.
  const edit = (change: (xe: Xe) => void) => {
    const json = JSON.parse(readFileSync(lab.state, 'utf8'));
    change(json.devices.find((d: { xe?: unknown }) => d.xe).xe);
    writeFileSync(lab.state, JSON.stringify(json));
  };
  const block = (dpa: string, size: string) => [{ dpa, size }];

  it.each([
    ['a PF block of size 0', (x: Xe) => (x.pfBlocks[0]![0]!.size = '0')],
    ['a size that is no power of two', (x: Xe) => (x.pfBlocks[0]![0]!.size = '12288')],
    ['a size below one 4 KiB chunk', (x: Xe) => (x.pfBlocks[0]![0]!.size = '2048')],
    ['a negative size', (x: Xe) => (x.pfBlocks[0]![0]!.size = '-4096')],
    ['a size of 2^64', (x: Xe) => (x.vfs[0]!.lmem[0] = block('0', '18446744073709551616'))],
    // Sizes of the right form that cannot be a block of this VRAM: the boot refuses them (not a hang either).
    ['a block not aligned to its size', (x: Xe) => (x.vfs[0]!.lmem[0] = block('4096', '8192'))],
    ['a block past the end of the VRAM', (x: Xe) => (x.vfs[0]!.lmem[0] = block('1099511627776', '4096'))],
    ['a block larger than the VRAM', (x: Xe) => (x.vfs[0]!.lmem[0] = block('0', '2199023255552'))],
    ["a block overlapping the PF's", (x: Xe) => (x.vfs[0]!.lmem[0] = x.pfBlocks[0])],
  ])(
    '%s: one line naming the state file, exit 2, no hang',
    async (_what, change) => {
      expect((await lab.run('provision', PF, '--vf', '1', '--vram', '1G')).code).toBe(0);
      edit(change);
      for (const command of [['topology'], ['vfs', 'enable', PF, '1']]) {
        const r = await start([...mock(), ...command], {}, 30_000);
        expect(r.signal, `${command.join(' ')}: killed after 30 s`).toBe(null);
        expect(r.status, r.err).toBe(2);
        expect(r.err.split('\n').filter((l) => l !== '')).toHaveLength(1);
        expect(r.err.startsWith(`iovh: state file ${lab.state}: devices`), r.err).toBe(true);
      }
    },
    120_000,
  );
});

describe('the state lock', () => {
  const lock = () => `${lab.state}.lock`;

  it('a lock held by a live process: waited for, then one line naming it and how to clear it', async () => {
    expect((await lab.run('vfs', 'enable', PF, '1')).code).toBe(0);
    const holder = spawn('sleep', ['30']);
    try {
      const began = readFileSync(`/proc/${holder.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      writeFileSync(lock(), JSON.stringify({ pid: holder.pid, boot, start: began, command: 'setup x.json' }));
      const r = await start([...mock(), 'vfs', 'disable', PF], { IOVH_LOCK_WAIT: '0.3' });
      expect(r.status).toBe(1);
      expect(r.err).toContain(`iovh: waiting for pid ${holder.pid} (\`iovh setup x.json\`) to finish with mock state`);
      expect(r.err).toContain(
        `iovh: mock state ${lab.state} is in use by pid ${holder.pid} (\`iovh setup x.json\`); waited 0.3 s (IOVH_LOCK_WAIT); wait for it to finish, or, if pid ${holder.pid} is no iovh, remove ${lock()}\n`,
      );
      expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('1\n');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("a lock of a dead process, or of a pid now another process's, is taken over", async () => {
    const holder = spawn('sleep', ['30']);
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      // The pid is alive but started at another time: reused after the lock's owner died.
      writeFileSync(lock(), JSON.stringify({ pid: holder.pid, boot, start: '1', command: 'bind x' }));
      const r = await lab.run('vfs', 'enable', PF, '1');
      expect(r.code, r.err).toBe(0);
      expect(() => statSync(lock())).toThrow(/ENOENT/);
      // A pid from another boot.
      writeFileSync(lock(), JSON.stringify({ pid: holder.pid, boot: 'another-boot', start: null, command: 'bind x' }));
      expect((await lab.run('vfs', 'disable', PF)).code).toBe(0);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('an empty or foreign lock file is not guessed about: one line saying to remove it', async () => {
    writeFileSync(lock(), '');
    const r = await lab.run('vfs', 'enable', PF, '1');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `iovh: mock state ${lab.state} is locked by ${lock()}, which is not an iovh lock (""); remove it if no iovh is running\n`,
    );
  });
});
