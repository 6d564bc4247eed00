// The plan printed by --dry-run is exactly the sequence of writes the real run
// makes: the writes are recorded at the FileOps seam of the backend the
// command opens (openBackend is wrapped), not taken from iovh's own output.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../src/backend/types.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { Lab, attr, diffSnapshots } from './helpers.js';

const recorded: { path: string; data: string }[] = [];

vi.mock('../../src/backend/select.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/backend/select.js')>();
  return {
    ...real,
    openBackend: async (...args: Parameters<typeof real.openBackend>): Promise<Backend> => {
      const b = await real.openBackend(...args);
      const fs = b.fs;
      const recordingFs: typeof fs = Object.create(fs) as typeof fs;
      recordingFs.writeFile = (path, data, options) => {
        recorded.push({ path, data });
        return fs.writeFile(path, data, options);
      };
      return { ...b, fs: recordingFs, close: () => b.close() };
    },
  };
});

const PF = '0000:03:00.0';
let lab: Lab;
beforeEach(() => {
  lab = new Lab();
  recorded.length = 0;
});
afterEach(() => lab.remove());

/** The writes a --dry-run plan lists, from its `echo DATA > PATH` lines. */
function planned(out: string): { path: string; data: string }[] {
  const writes: { path: string; data: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^ +\d+\. echo(?: (.*?))? > (\S+) {4}# /.exec(line);
    if (m) writes.push({ path: m[2]!, data: `${m[1] ?? ''}\n` });
  }
  return writes;
}

async function dryThenReal(
  ...argv: string[]
): Promise<{ plan: { path: string; data: string }[]; made: { path: string; data: string }[] }> {
  const dry = await lab.run(...argv, '--dry-run');
  expect(dry.code, dry.err).toBe(0);
  expect(recorded, 'a dry run writes nothing').toEqual([]);
  const real = await lab.run(...argv);
  expect(real.code, real.err).toBe(0);
  const made = recorded.splice(0);
  return { plan: planned(dry.out), made };
}

describe('--dry-run prints exactly the writes the real run makes', () => {
  it('for every command of a bring-up and its restore', async () => {
    const script: string[][] = [
      ['vfs', 'enable', PF, '4'],
      ['bind', '0000:03:00.1', 'vfio-pci'],
      ['bind', '0000:03:00.2', 'vfio-pci'],
      ['unbind', '0000:03:00.2'],
      ['vfs', 'enable', PF, '2'],
      ['provision', PF, '--vf', '1', '--vram', '2G'],
      ['provision', PF, '--vf', '2', '--vram', '1536M'],
      ['bind', '0000:03:00.2', 'vfio-pci'],
      ['vfs', 'disable', PF],
      ['restore'],
    ];
    let total = 0;
    for (const argv of script) {
      const { plan, made } = await dryThenReal(...argv);
      expect(made, argv.join(' ')).toEqual(plan);
      expect(made.length, argv.join(' ')).toBeGreaterThan(0);
      total += made.length;
    }
    expect(total).toBeGreaterThan(20);
  });

  it('for a setup file that creates VFs and binds ones that do not exist yet', async () => {
    const plan = lab.file(
      'p.json',
      JSON.stringify({
        schema: 'iovh-setup/1',
        pfs: [
          {
            pf: PF,
            numvfs: 3,
            vfs: [
              { vf: 1, vram: '1G', driver: 'vfio-pci' },
              { vf: 3, vram: '4G', driver: 'vfio-pci' },
            ],
          },
        ],
      }),
    );
    const { plan: p, made } = await dryThenReal('setup', plan);
    expect(made).toEqual(p);
    expect(made.map((w) => w.path.split('/').pop())).toEqual([
      'vram_quota',
      'vram_quota',
      'sriov_drivers_autoprobe',
      'sriov_numvfs',
      'driver_override',
      'drivers_probe',
      'driver_override',
      'drivers_probe',
    ]);
    // And back, also as planned.
    const back = await dryThenReal('restore');
    expect(back.made).toEqual(back.plan);
  });

  it('on a kernel with only the legacy lmem_quota files, writes quotas after the VFs exist (it would replace a preset)', async () => {
    const t = defaultTopology();
    t.devices[0]!.xe!.provisioning = 'legacy';
    const topo = lab.file('legacy.json', JSON.stringify(t));
    const before = lab.sysfs(topo);
    const file = lab.file(
      'p.json',
      JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 1, vram: '1G' }] }] }),
    );
    const run = async (...argv: string[]) => {
      const dry = await lab.run('--topology', topo, ...argv, '--dry-run');
      expect(dry.code, dry.err).toBe(0);
      const real = await lab.run('--topology', topo, ...argv);
      expect(real.code, real.err).toBe(0);
      const made = recorded.splice(0);
      expect(made).toEqual(planned(dry.out));
      return { dry, made };
    };
    const { dry, made } = await run('setup', file);
    expect(dry.out).toMatch(
      /^note: 0000:03:00.0: xe auto-provisions VRAM for the new VFs \(an equal share each\), replacing any quota set before/m,
    );
    expect(made.map((w) => w.path.split('/').pop())).toEqual(['sriov_drivers_autoprobe', 'sriov_numvfs', 'lmem_quota']);
    expect(made[2]).toEqual({ path: '/sys/kernel/debug/dri/0000:03:00.0/gt0/vf1/lmem_quota', data: `${1 << 30}\n` });
    await run('restore');
    expect(diffSnapshots(before, lab.sysfs(topo))).toEqual([]);
  });

  it('gives one VF more than its automatic share among 24 (the quota goes in before the VFs), and disable and restore keep it', async () => {
    const before = lab.sysfs();
    // 16 GiB of VRAM over 24 VFs is about 0.66 GiB each: 2 GiB only fits when xe does not auto-provision.
    const file = lab.file(
      'p.json',
      JSON.stringify({
        schema: 'iovh-setup/1',
        pfs: [{ pf: PF, numvfs: 24, vfs: [{ vf: 1, vram: '2G', driver: 'vfio-pci' }] }],
      }),
    );
    const dry = await lab.run('setup', file, '--dry-run');
    expect(dry.out).toMatch(
      /^note: 0000:03:00.0: a quota set before the VFs exist turns xe's auto-provisioning off: VFs 2-24 get no VRAM/m,
    );
    const { plan, made } = await dryThenReal('setup', file);
    expect(made).toEqual(plan);
    expect(made.map((w) => w.path.split('/').slice(-2).join('/'))).toEqual([
      'profile/vram_quota',
      '0000:03:00.0/sriov_drivers_autoprobe',
      '0000:03:00.0/sriov_numvfs',
      '0000:03:00.1/driver_override',
      'pci/drivers_probe',
    ]);
    const during = lab.sysfs();
    expect(attr(during, PF, 'sriov_admin/vf1/profile/vram_quota')).toBe(`${2 * 1024 ** 3}\n`);
    expect(attr(during, PF, 'sriov_admin/vf2/profile/vram_quota')).toBe('0\n');
    expect(attr(during, '0000:03:00.1', 'driver_override')).toBe('vfio-pci\n');
    // The same file again: nothing to do (the predicted quotas of VFs 2-24 are 0, not "xe's choice").
    expect((await lab.run('setup', file)).out).toBe('nothing to do: set up 0000:03:00.0 already holds\n');
    // A disable releases the quota; restore writes it back before re-creating the VFs, as its dry run says.
    const off = await dryThenReal('vfs', 'disable', PF);
    expect(off.made).toEqual(off.plan);
    const back = await dryThenReal('restore');
    expect(back.made).toEqual(back.plan);
    expect(back.made.slice(0, 2).map((w) => w.path.split('/').pop())).toEqual(['vram_quota', 'sriov_numvfs']);
    expect(diffSnapshots(before, lab.sysfs())).toEqual([]);
  });
});
