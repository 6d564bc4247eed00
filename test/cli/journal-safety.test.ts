// A journal tells restore what to write as root: nothing in it is trusted
// (src/host/journal.ts, docs/safety.md). Before, a planted record made
// restore write /etc/passwd under the root and a `..` path escaped --root; a
// journal that was a directory made every command exit 99 (EISDIR); a journal
// that was a symlink loop was "nothing to restore" with its writes left
// undone; any state directory was used, even one others could write. Native
// roots here are fixture trees under a temporary directory.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { journalFile } from '../../src/host/journal.js';
import { FixtureTree, resourceText } from '../host/fixture-tree.js';
import { Lab, attr, iovh } from './helpers.js';

const PF = '0000:03:00.0';
let lab: Lab;
let root: string;
let passwd: string;

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

beforeEach(() => {
  lab = new Lab();
  root = join(lab.dir, 'root');
  new FixtureTree(root)
    .device(
      PF,
      {
        vendor: '0x8086',
        device: '0x10c9',
        class: '0x020000',
        sriov_totalvfs: '7',
        sriov_numvfs: '0',
        sriov_offset: '1',
        sriov_stride: '1',
        sriov_drivers_autoprobe: '1',
      },
      { driver: 'igb', group: 3, resource: resourceText({ 0: [0xfe800000n, 0x20000n, 0x40200] }) },
    )
    .file('/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\n');
  passwd = join(root, 'etc/passwd');
  mkdirSync(lab.stateDir, { mode: 0o700 });
  // Restore on a native root checks for root before writing: as if run as root.
  vi.spyOn(process, 'getuid').mockReturnValue(0);
});
afterEach(() => {
  vi.restoreAllMocks();
  lab.remove();
});

/** A journal of a dead `iovh` for the native root, with these write records. */
function plant(writes: object[], target = { backend: 'native', where: root }): string {
  const file = journalFile(lab.stateDir, target as { backend: 'native'; where: string });
  const lines = [
    { t: 'journal', schema: 'iovh-journal/1', target },
    { t: 'begin', session: 1, pid: deadPid(), boot: null, command: 'vfs enable 0000:03:00.0 2' },
    ...writes.map((w, i) => ({ t: 'write', session: 1, seq: i + 1, ...w })),
  ];
  writeFileSync(file, lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
  return file;
}

const setStep = (path: string, before: string, kind = 'override') => ({
  step: { op: 'set', path, kind, value: 'x', before, why: 'planted' },
  before,
});
const numvfs = (before: string) => ({
  step: {
    op: 'set',
    path: `/sys/bus/pci/devices/${PF}/sriov_numvfs`,
    kind: 'count',
    value: '2',
    before,
    why: 'enable',
  },
  before,
});

const restore = () => iovh('--backend', 'native', '--root', root, 'restore');

describe('restore refuses a journal with a record iovh never makes, whole', () => {
  it.each([
    ['/etc/passwd under the root', setStep('/etc/passwd', 'pwned'), '"/etc/passwd" is not an attribute iovh journals'],
    [
      'a .. path out of sysfs',
      setStep('/sys/bus/pci/devices/../../../etc/passwd', ''),
      '"/sys/bus/pci/devices/../../../etc/passwd" is not an attribute iovh journals',
    ],
    [
      'a BDF that is not as sysfs names it',
      setStep('/sys/bus/pci/devices/0000:03:00.0 /driver_override', ''),
      'is not an attribute iovh journals',
    ],
    [
      'a value that is not of the attribute',
      { ...numvfs('0'), before: '2; reboot' },
      'replaced value "2; reboot" is not a count',
    ],
    [
      'a driver named ..',
      { step: { op: 'unbind', bdf: PF, driver: '..', why: 'x' }, before: '..' },
      '".." is not a driver name',
    ],
  ])('%s', async (_what, bad, problem) => {
    const file = plant([numvfs('0'), bad]);
    const before = readFileSync(join(root, `sys/devices/pci0000:00/${PF}/sriov_numvfs`), 'utf8');
    const r = await restore();
    expect(r.code).toBe(1);
    expect(r.err.startsWith(`iovh: journal ${file}: refusing it all: line 4 (write #2) is no write iovh makes: `)).toBe(
      true,
    );
    expect(r.err).toContain(problem);
    expect(r.err.endsWith('; inspect it, then remove it\n')).toBe(true);
    expect(r.err.split('\n')).toHaveLength(2);
    expect(readFileSync(passwd, 'utf8')).toBe('root:x:0:0:root:/root:/bin/bash\n');
    // Not even the valid record before it was undone.
    expect(readFileSync(join(root, `sys/devices/pci0000:00/${PF}/sriov_numvfs`), 'utf8')).toBe(before);
  });

  it('a journaled attribute reached through a symlink out of the root is not written', async () => {
    const outside = join(lab.dir, 'outside');
    new FixtureTree(outside).file(`/dev-${PF}/sriov_numvfs`, '2\n');
    // The root's device link, made absolute and pointing out of the root.
    const link = join(root, `sys/bus/pci/devices/${PF}`);
    spawnSync('rm', [link]);
    symlinkSync(join(outside, `dev-${PF}`), link);
    plant([numvfs('0')]);
    const r = await restore();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/EXDEV.*outside the root/);
    expect(readFileSync(join(outside, `dev-${PF}/sriov_numvfs`), 'utf8')).toBe('2\n');
  });
});

describe('the journal file and the state directory', () => {
  it('a journal that is a directory: one line from every command that needs it, never exit 99', async () => {
    mkdirSync(journalFile(lab.stateDir, { backend: 'native', where: root }));
    for (const argv of [['topology'], ['restore'], ['vfs', 'enable', PF, '1']]) {
      const r = await iovh('--backend', 'native', '--root', root, ...argv);
      expect(r.code, argv.join(' ')).toBe(1);
      // vfs says which machine it acts on first, once its input is checked.
      expect(r.err).toMatch(
        /^(iovh: vfs: acting on .*\n)?iovh: journal .* is a directory, which iovh never makes; inspect it, then remove it\n$/,
      );
    }
    // A command on another target is not stopped by it.
    expect((await lab.run('topology')).code).toBe(0);
  });

  it('a journal that is a symlink (a loop, or to a planted file) is refused, not "nothing to restore"', async () => {
    expect((await lab.run('vfs', 'enable', PF, '2')).code).toBe(0);
    const file = journalFile(lab.stateDir, { backend: 'mock', where: lab.state });
    const real = `${file}.real`;
    writeFileSync(real, readFileSync(file));
    spawnSync('rm', [file]);
    symlinkSync(file, file);
    const r = await lab.run('restore');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `iovh: journal ${file} is a symbolic link, which iovh never makes; inspect it, then remove it\n`,
    );
    spawnSync('rm', [file]);
    symlinkSync(real, file);
    expect((await lab.run('restore')).err).toMatch(/is a symbolic link/);
    expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('2\n');
  });

  it('a state directory others can write, or of another user, is refused', async () => {
    plant([numvfs('0')]);
    chmodSync(lab.stateDir, 0o777);
    const r = await restore();
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `iovh: state directory ${lab.stateDir} is writable by its group (mode 0777): another user could plant a journal that restore would replay as you; use a directory only you can write (chmod go-w, or set IOVH_STATE_DIR)\n`,
    );
    chmodSync(lab.stateDir, 0o700);
    chownSync(lab.stateDir, 65534, 65534);
    expect((await restore()).err).toMatch(/^iovh: state directory .* belongs to uid 65534, not to you \(uid 0\)/);
  });
});

describe('driver names', () => {
  it.each([['..'], ['.'], ['.hidden']])('bind VF %j is a usage error', async (driver) => {
    expect((await lab.run('vfs', 'enable', PF, '1')).code).toBe(0);
    const r = await lab.run('bind', '0000:03:00.1', driver);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`iovh: '${driver}' is not a driver name\n`);
  });
});
