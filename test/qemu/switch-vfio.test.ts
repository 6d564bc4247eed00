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
// Held against the real 7.2.13 KASAN guest's run of the same machine
// (test/qemu/fixtures/igb-switch-vfio-7.2.13.json): the same steps, and the same
// route and map for each importer the mock's machine has (the real one also
// had QEMU's virtio-9p function on the root bus: not supported, EINVAL).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend/select.js';
import { readGuestRun } from '../../src/qemu/run.js';
import { stateScratchDir } from '../support/scratch.js';
import { runGuestOnMock } from './guest-on-mock.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const PF = '0000:03:00.0';

type Route = { importer: string; role: string; route: string; map: string; path: string };
const real = JSON.parse(readFileSync(join(fixtures, 'igb-switch-vfio-7.2.13.json'), 'utf8')) as {
  cmdline: string;
  steps: { id: string; status: string }[];
  scenarios: { id: string; status: string; path: string | null }[];
  routes: Route[];
  vfToken: string;
  cdevRun: { scenarios: { id: string; status: string; path: string | null }[] };
};
/** How the sanitizer kernel was built, for the options the mock models (the KASAN guest's fixture). */
const kasanConfig = (
  JSON.parse(readFileSync(join(fixtures, 'kernel-kasan-igb.json'), 'utf8')) as { kernelConfig: Record<string, string> }
).kernelConfig;

const dir = stateScratchDir('iovh-switch-vfio-');

/** The switch machine's topology with (or without) vfio_pci.enable_sriov=1 on its command line. */
function topology(name: string, enableSriov: boolean, config?: Record<string, string>): string {
  const t = JSON.parse(readFileSync(join(fixtures, 'topology-igb-switch.json'), 'utf8'));
  t.kernel = {
    ...t.kernel,
    ...(config ? { config: { ...t.kernel?.config, ...config } } : {}),
    // The real guest's command line as far as the kernel's vfio and IOMMU are concerned (the fixture's).
    cmdline: enableSriov ? real.cmdline : real.cmdline.replace(/\s*vfio_pci\.enable_sriov=1/, ''),
  };
  const path = join(dir(), `${name}.json`);
  writeFileSync(path, `${JSON.stringify(t, null, 2)}\n`);
  return path;
}

type Step = { id: string; status: string; detail: string };

/**
 * The guest program of the switch machine on the mock, in a directory `name` of
 * its own: import/p2p-route unless `filters` says otherwise. `steps` are the
 * rows of its results.json (the guest's steps and `run:` rows) by id.
 */
async function runSwitch(
  name: string,
  o: { enableSriov?: boolean; config?: Record<string, string>; filters?: string[] } = {},
): Promise<{ code: number; results: string; sub: string; topo: string; steps: Map<string, Step> }> {
  const sub = join(dir(), name);
  mkdirSync(sub);
  const topo = topology(name, o.enableSriov ?? true, o.config);
  const { code, results } = await runGuestOnMock(sub, {
    topology: topo,
    profile: 'upstream-7.1',
    variant: 'igb-switch-vfio-intel-iommu',
    numvfs: 2,
    filters: o.filters ?? ['import/p2p-route'],
  });
  const doc = JSON.parse(readFileSync(join(results, 'results.json'), 'utf8')) as { scenarios: Step[] };
  return { code, results, sub, topo, steps: new Map(doc.scenarios.map((s) => [s.id, s])) };
}

describe('the igb-switch-vfio machine on the mock', () => {
  it('puts the PF on vfio-pci, opens the VF with the VF token, routes PF and other VF by bus address, restores igb', async () => {
    const { code, results, sub, topo, steps: byId } = await runSwitch('on');
    // The guest program's own steps, as on the real guest.
    for (const want of real.steps) expect([want.id, byId.get(want.id)?.status]).toEqual([want.id, want.status]);
    const route = byId.get('run:import/p2p-route');
    expect(route?.status, route?.detail).toBe('pass');
    expect(route?.detail).toMatch(/the VF itself [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/its PF [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/another VF of its PF [0-9a-f:.]+: p2p \(bus address\), map ok/);
    expect(route?.detail).toMatch(/VF opened with the VF token of PF 0000:03:00\.0 \(on vfio-pci\)/);
    expect(byId.get('qemu.restore')?.status).toBe('pass');
    expect(code).toBe(0);
    const { run } = readGuestRun(results);
    const ran = run!.scenarios.find((s) => s.id === 'import/p2p-route')!;
    const want = real.scenarios.find((s) => s.id === 'import/p2p-route')!;
    expect([ran.status, ran.path]).toEqual([want.status, want.path]);
    expect((ran.evidence as { vfToken?: string }).vfToken).toBe(real.vfToken);
    // Route, map and PCI path per importer: every one the mock's machine has, as the real kernel answered.
    const mockRoutes = (ran.evidence as { routes: Route[] }).routes;
    expect(mockRoutes.map((r) => r.role)).toEqual(['the VF itself', 'its PF', 'another VF of its PF']);
    for (const r of mockRoutes) expect(r).toEqual(real.routes.find((x) => x.importer === r.importer));
    // The one the mock's machine lacks, on the real guest: across the root port's ACS to the q35 host bridge.
    expect(real.routes.find((x) => x.role === 'a device on the root bus')).toMatchObject({
      route: 'not supported',
      map: 'EINVAL',
    });
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

  it('binds the VF through its cdev with the VF token and imports into iommufd, as on the real guest', async () => {
    const { code, results } = await runSwitch('cdev', {
      config: kasanConfig,
      filters: real.cdevRun.scenarios.map((x) => x.id).filter((id) => id !== 'caps/kernel'),
    });
    const { run } = readGuestRun(results);
    const got = new Map(run!.scenarios.map((x) => [x.id, x]));
    for (const want of real.cdevRun.scenarios) {
      if (want.id === 'caps/kernel') continue;
      const x = got.get(want.id);
      expect([want.id, x?.status, x?.path ?? null]).toEqual([want.id, want.status, want.path]);
    }
    expect(code).toBe(0);
  });

  it('without vfio_pci.enable_sriov=1 the VFs are not created, and the step names the parameter', async () => {
    const { code, steps: byId } = await runSwitch('off', { enableSriov: false });
    expect(byId.get('qemu.pf-bind')?.status).toBe('pass');
    const enable = byId.get('qemu.vfs-enable');
    expect(enable?.status).toBe('fail');
    expect(enable?.detail).toMatch(/vfio_pci\.enable_sriov=1/);
    expect(byId.get('qemu.bind')?.status).toBe('skip');
    expect(byId.get('qemu.restore')?.status).toBe('pass');
    expect(code).toBe(1);
  });
});
