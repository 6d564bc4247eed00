// The bring-up commands on the native backend's FileOps over a sysfs fixture
// tree (regular files and symlinks under a temporary root: no kernel behind
// them). What this shows: the permission check comes before any write, and
// the read-back catches a "kernel" that takes a write without doing what it
// means (sriov_numvfs reads 2, but no VF appeared), and rolls back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../src/backend/types.js';
import { createNativeBackend } from '../../src/backend/native.js';
import { FixtureTree, resourceText } from '../host/fixture-tree.js';
import { tempDir } from '../host/helpers.js';
import { iovh } from './helpers.js';

let root = '';
vi.mock('../../src/backend/select.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/backend/select.js')>();
  return { ...real, openBackend: async (): Promise<Backend> => createNativeBackend({ root, reason: 'fixture tree' }) };
});

const PF = '0000:01:00.0';
const dirs: { remove(): void }[] = [];
let stateDir = '';
beforeEach(() => {
  const d = tempDir('iovh-native-');
  dirs.push(d);
  root = join(d.path, 'root');
  stateDir = join(d.path, 'state');
  process.env.IOVH_STATE_DIR = stateDir;
  new FixtureTree(root).device(
    PF,
    {
      vendor: '0x8086',
      device: '0x10c9',
      class: '0x020000',
      sriov_totalvfs: '7',
      sriov_numvfs: '0',
      sriov_offset: '128',
      sriov_stride: '2',
      sriov_drivers_autoprobe: '1',
    },
    { driver: 'igb', group: 3, resource: resourceText({ 0: [0xfe800000n, 0x20000n, 0x40200] }) },
  );
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.IOVH_STATE_DIR;
  dirs.splice(0).forEach((d) => d.remove());
});

const attr = (name: string) => readFileSync(join(root, `sys/devices/pci0000:00/${PF}/${name}`), 'utf8');

describe('native backend over a fixture tree', () => {
  it('refuses to change sysfs without root, before writing anything', async () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(1000);
    const r = await iovh('--backend', 'native', '--root', root, 'vfs', 'enable', PF, '2');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `iovh: vfs: acting on native root ${root} (backend native: fixture tree)\n` +
        'iovh: permission denied: changing sysfs needs root; run as root (sudo); nothing was written\n',
    );
    expect(attr('sriov_drivers_autoprobe')).toBe('1\n');
    // --dry-run needs no privilege: it only reads.
    const dry = await iovh('--backend', 'native', '--root', root, 'vfs', 'enable', PF, '2', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`echo 2 > /sys/bus/pci/devices/${PF}/sriov_numvfs`);
  });

  it('fails a write the "kernel" took without creating the VFs, and rolls back', async () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(0);
    const r = await iovh('--backend', 'native', '--root', root, 'vfs', 'enable', PF, '2');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `iovh: vfs: acting on native root ${root} (backend native: fixture tree)\n` +
        `iovh: step 2 of 2 (echo 2 > /sys/bus/pci/devices/${PF}/sriov_numvfs) failed: /sys/bus/pci/devices/${PF}/sriov_numvfs reads 2 but virtfn0 is missing; rolled back with 2 writes\n`,
    );
    expect(r.out).toContain(
      `rollback: + echo 0 > /sys/bus/pci/devices/${PF}/sriov_numvfs\nrollback: + echo 1 > /sys/bus/pci/devices/${PF}/sriov_drivers_autoprobe\n`,
    );
    expect(attr('sriov_numvfs')).toBe('0\n');
    expect(attr('sriov_drivers_autoprobe')).toBe('1\n');
    // Rolled back completely: nothing left for restore.
    expect((await iovh('--backend', 'native', '--root', root, 'restore')).out).toMatch(
      /^nothing to restore on native root /,
    );
  });
});
