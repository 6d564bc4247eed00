// A flag typed on the command line beats the environment variable of the same
// option, wherever the flag is placed (src/cli/global.ts resolveOptions,
// docs/safety.md). Before, with IOVH_BACKEND=native exported, `iovh --backend
// mock vfs enable ...` acted on the native root: the subcommand's copy of the
// option, filled from the environment, overwrote the root's command-line value.
// The native root here is a fixture tree whose attributes are read-only, so
// that a command that wrongly picks it fails instead of writing it.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../src/mock/topology.js';
import { Lab, attr, iovh, readOnlyRoot, withEnv } from './helpers.js';

const PF = '0000:03:00.0';
const VF = '0000:03:00.1';

let lab: Lab;
let nativeRoot: string;
const numvfsOf = (root: string) => readFileSync(join(root, `sys/devices/pci0000:00/${PF}/sriov_numvfs`), 'utf8');
const mtimeOf = (root: string) => statSync(join(root, `sys/devices/pci0000:00/${PF}/sriov_numvfs`)).mtimeMs;

beforeEach(() => {
  lab = new Lab();
  nativeRoot = readOnlyRoot(join(lab.dir, 'native-root'));
});
afterEach(() => lab.remove());

/** The three places a global flag can be typed: before the subcommand, right after it, at the end. */
function placements(words: string[], args: string[], flag: string[]): string[][] {
  return [
    [...flag, ...words, ...args],
    [...words, ...flag, ...args],
    [...words, ...args, ...flag],
  ];
}

describe('the command line beats IOVH_BACKEND and IOVH_ROOT, wherever --backend is typed', () => {
  const env = () => ({ IOVH_BACKEND: 'native', IOVH_ROOT: nativeRoot });

  it('vfs enable acts on the mock state, never on the native root', async () => {
    const before = mtimeOf(nativeRoot);
    for (const argv of placements(['vfs', 'enable'], [PF, '2'], ['--backend', 'mock', '--mock-state', lab.state])) {
      await withEnv(env(), async () => {
        const r = await iovh(...argv, '--json');
        expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
        expect(r.err).toContain(`iovh: vfs: acting on mock state ${lab.state} (backend mock, profile rfc-v1`);
      });
      expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('2\n');
      expect((await lab.run('vfs', 'disable', PF)).code).toBe(0);
    }
    expect(numvfsOf(nativeRoot)).toBe('0\n');
    expect(mtimeOf(nativeRoot)).toBe(before);
  });

  it('provision, bind, unbind, setup, vfs disable and restore act on the mock', async () => {
    const plan = lab.file('plan.json', JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 3 }] }));
    const commands: [string[], string[]][] = [
      [
        ['vfs', 'enable'],
        [PF, '2'],
      ],
      [['provision'], [PF, '--vf', '1', '--vram', '1G']],
      [['bind'], [VF, 'vfio-pci']],
      [['unbind'], [VF]],
      [['vfs', 'disable'], [PF]],
      [['setup'], [plan]],
      [['restore'], []],
    ];
    for (const [i, where] of [0, 1, 2].entries()) {
      for (const [words, args] of commands) {
        const argv = placements(words, args, ['--backend', 'mock', '--mock-state', lab.state])[where]!;
        const r = await withEnv(env(), () => iovh(...argv));
        expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
        expect(r.err, argv.join(' ')).toContain(`acting on mock state ${lab.state}`);
      }
      expect(attr(lab.sysfs(), PF, 'sriov_numvfs'), `round ${i}`).toBe('0\n');
    }
    expect(numvfsOf(nativeRoot)).toBe('0\n');
  });

  it('doctor, topology and capture read the mock', async () => {
    for (const [words, args] of [
      [['doctor'], ['--json']],
      [['topology'], ['--json']],
    ] as const) {
      for (const argv of placements([...words], [...args], ['--backend', 'mock'])) {
        const r = await withEnv(env(), () => iovh(...argv));
        expect((JSON.parse(r.out) as { backend: { name: string } }).backend.name, argv.join(' ')).toBe('mock');
      }
    }
    for (const argv of placements(['capture'], [], ['--backend', 'mock'])) {
      const r = await withEnv(env(), () => iovh(...argv));
      expect(r.code, r.err).toBe(0);
      // The mock's PF is an xe GPU with 24 VFs; the native root's is an igb with 7.
      expect((JSON.parse(r.out) as { devices: { sriov?: { totalvfs: number } }[] }).devices[0]!.sriov!.totalvfs).toBe(
        24,
      );
    }
  });

  it('run uses the mock whichever side of `run` --backend is on', async () => {
    for (const argv of placements(['run'], ['--filter', 'caps/*', '--no-baseline'], ['--backend', 'mock'])) {
      const r = await withEnv(env(), () => iovh(...argv));
      expect(r.out, argv.join(' ')).toMatch(/^backend: mock \(--backend mock[;)]/m);
    }
  });
});

describe('each option against its environment variable', () => {
  it('--mock-state beats IOVH_MOCK_STATE', async () => {
    const other = join(lab.dir, 'other-state.json');
    for (const argv of placements(['vfs', 'enable'], [PF, '2'], ['--mock-state', lab.state])) {
      const r = await withEnv({ IOVH_BACKEND: 'mock', IOVH_MOCK_STATE: other }, () => iovh(...argv));
      expect(r.code, r.err).toBe(0);
      expect(attr(lab.sysfs(), PF, 'sriov_numvfs')).toBe('2\n');
      await lab.run('vfs', 'disable', PF);
    }
    expect(() => statSync(other)).toThrow(/ENOENT/);
  });

  it('--profile beats IOVH_PROFILE', async () => {
    for (const argv of placements(['vfs', 'enable'], [PF, '1', '--dry-run'], ['--profile', 'fixed'])) {
      const r = await withEnv({ IOVH_BACKEND: 'mock', IOVH_PROFILE: 'upstream' }, () => iovh(...argv));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain('(backend mock, profile fixed:');
    }
  });

  it('--topology beats IOVH_TOPOLOGY', async () => {
    const small = defaultTopology();
    small.devices[0]!.sriov!.totalvfs = 4;
    const t4 = lab.file('t4.json', JSON.stringify(small));
    const t24 = lab.file('t24.json', JSON.stringify(defaultTopology()));
    for (const argv of placements(['topology'], ['--json'], ['--topology', t4])) {
      const r = await withEnv({ IOVH_BACKEND: 'mock', IOVH_TOPOLOGY: t24 }, () => iovh(...argv));
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { pfs: { totalvfs: number }[] }).pfs[0]!.totalvfs).toBe(4);
    }
  });

  it('--root beats IOVH_ROOT', async () => {
    const other = readOnlyRoot(join(lab.dir, 'other-root'), '0000:05:00.0', 3);
    for (const argv of placements(['topology'], ['--json'], ['--backend', 'native', '--root', nativeRoot])) {
      const r = await withEnv({ IOVH_ROOT: other }, () => iovh(...argv));
      expect(r.code, r.err).toBe(0);
      expect((JSON.parse(r.out) as { pfs: { bdf: string }[] }).pfs.map((p) => p.bdf)).toEqual([PF]);
    }
  });
});

describe('options commander would settle silently are usage errors', () => {
  it.each([
    [['provision', PF, '--vf', '1', '--vf', '2', '--vram', '1G'], "iovh: --vf given 2 times ('1', '2'): give it once"],
    [['run', '--baseline', 'x.json', '--no-baseline'], 'iovh: --baseline and --no-baseline contradict each other'],
    [['--backend', 'mock', 'topology', '--backend', 'native'], "iovh: --backend given 2 times ('mock', 'native')"],
    [['run', '--json', ''], 'iovh: --json needs a value, got an empty string'],
    [['run', '--write-baseline', ''], 'iovh: --write-baseline needs a value, got an empty string'],
    [['--mock-state', '', 'topology'], 'iovh: --mock-state needs a value, got an empty string'],
  ])('%j', async (argv, message) => {
    const r = await iovh(...argv);
    expect(r.code).toBe(2);
    expect(r.err.startsWith(message), r.err).toBe(true);
    expect(r.err.split('\n')).toHaveLength(2);
  });

  it('an environment variable set to an empty string', async () => {
    const r = await withEnv({ IOVH_ROOT: '' }, () => iovh('topology'));
    expect(r.code).toBe(2);
    expect(r.err).toBe('iovh: IOVH_ROOT is set to an empty string: unset it or give it a value\n');
  });

  it('the same value twice is no contradiction', async () => {
    const r = await iovh('--backend', 'mock', 'vfs', 'enable', PF, '1', '--dry-run', '--backend', 'mock');
    expect(r.code, r.err).toBe(0);
  });

  it('a value echoed from input is cut', async () => {
    const long = 'x'.repeat(100_000);
    const r = await iovh('--backend', 'mock', 'bind', long, 'vfio-pci');
    expect(r.code).toBe(2);
    expect(r.err.length).toBeLessThan(1500);
    expect(r.err).toContain('(99800 more characters)');
  });
});
