// The igb-switch-vfio machine (`iovh qemu --variant igb-switch-vfio`: igb
// behind an xio3130 switch, the PF bound to vfio-pci before its VFs are
// created, vfio_pci.enable_sriov=1) as the guest program runs it on the mock:
// `iovh bind PF vfio-pci`, `iovh vfs enable` (vfio-pci's sriov_configure; the
// VFs get driver_override vfio-pci and join the PF's IOMMU group, viable now),
// `iovh run` opening the VF with the run's VF token (set on the PF by opening
// it with that token, drivers/vfio/pci/vfio_pci_core.c
// vfio_pci_core_match_token_uuid), import/p2p-route finding the PF and the
// other VF by bus address (below one switch port, no ACS: drivers/pci/p2pdma.c
// calc_map_type_and_dist), then `iovh restore` putting igb back on the PF.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend/select.js';
import { readGuestRun } from '../../src/qemu/run.js';
import { scratchDir } from '../support/scratch.js';
import { runGuestOnMock } from './guest-on-mock.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const PF = '0000:03:00.0';

let dir = '';
const env = process.env.IOVH_STATE_DIR;
beforeAll(() => {
  dir = scratchDir('iovh-switch-vfio-');
  process.env.IOVH_STATE_DIR = join(dir, 'state');
});
afterAll(() => {
  if (env === undefined) delete process.env.IOVH_STATE_DIR;
  else process.env.IOVH_STATE_DIR = env;
  rmSync(dir, { recursive: true, force: true });
});

/** The switch machine's topology with (or without) vfio_pci.enable_sriov=1 on its command line. */
function topology(name: string, enableSriov: boolean): string {
  const t = JSON.parse(readFileSync(join(fixtures, 'topology-igb-switch.json'), 'utf8'));
  t.kernel = {
    ...t.kernel,
    cmdline: `console=ttyS0 intel_iommu=on${enableSriov ? ' vfio_pci.enable_sriov=1' : ''}`,
  };
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(t, null, 2)}\n`);
  return path;
}

type Step = { id: string; status: string; detail: string };

describe('the igb-switch-vfio machine on the mock', () => {
  it('puts the PF on vfio-pci, opens the VF with the VF token, routes PF and other VF by bus address, restores igb', async () => {
    const sub = join(dir, 'on');
    mkdirSync(sub);
    const topo = topology('on', true);
    const { code, results } = await runGuestOnMock(sub, {
      topology: topo,
      profile: 'upstream-7.1',
      variant: 'igb-switch-vfio-intel-iommu',
      numvfs: 2,
      filters: ['import/p2p-route'],
    });
    const doc = JSON.parse(readFileSync(join(results, 'results.json'), 'utf8')) as { scenarios: Step[] };
    const byId = new Map(doc.scenarios.map((s) => [s.id, s]));
    expect(byId.get('qemu.pf-bind')?.status).toBe('pass');
    expect(byId.get('qemu.vfs-enable')?.status).toBe('pass');
    expect(byId.get('qemu.bind')?.status).toBe('pass');
    const route = byId.get('run:import/p2p-route');
    expect(route?.status, route?.detail).toBe('pass');
    expect(route?.detail).toMatch(/the VF itself [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/its PF [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/another VF of its PF [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/VF opened with the VF token of PF 0000:03:00\.0 \(on vfio-pci\)/);
    expect(byId.get('qemu.restore')?.status).toBe('pass');
    expect(code).toBe(0);
    const { run } = readGuestRun(results);
    const ran = run!.scenarios.find((s) => s.id === 'import/p2p-route');
    expect(ran?.status).toBe('pass');
    // Restored: igb on the PF again, no VFs, no override.
    const b = await openBackend({
      backend: 'mock',
      mockState: join(sub, 'mock-state.json'),
      topology: topo,
      profile: 'upstream-7.1',
    });
    try {
      const sys = `/sys/bus/pci/devices/${PF}`;
      expect(b.fs.readlink(`${sys}/driver`)).toMatch(/\/igb$/);
      expect(b.fs.readText(`${sys}/sriov_numvfs`)).toBe('0\n');
      expect(b.fs.readText(`${sys}/driver_override`)).toBe('(null)\n');
    } finally {
      b.close();
    }
  });

  it('without vfio_pci.enable_sriov=1 the VFs are not created, and the step names the parameter', async () => {
    const sub = join(dir, 'off');
    mkdirSync(sub);
    const { code, results } = await runGuestOnMock(sub, {
      topology: topology('off', false),
      profile: 'upstream-7.1',
      variant: 'igb-switch-vfio-intel-iommu',
      numvfs: 2,
      filters: ['import/p2p-route'],
    });
    const doc = JSON.parse(readFileSync(join(results, 'results.json'), 'utf8')) as { scenarios: Step[] };
    const byId = new Map(doc.scenarios.map((s) => [s.id, s]));
    expect(byId.get('qemu.pf-bind')?.status).toBe('pass');
    const enable = byId.get('qemu.vfs-enable');
    expect(enable?.status).toBe('fail');
    expect(enable?.detail).toMatch(/vfio_pci\.enable_sriov=1/);
    expect(byId.get('qemu.bind')?.status).toBe('skip');
    expect(byId.get('qemu.restore')?.status).toBe('pass');
    expect(code).toBe(1);
  });
});
