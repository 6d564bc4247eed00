// The P2P route of a function importing its own BAR, on the igb guest's machine (scripts/qemu-ci/topology-igb.json:
// no P2P route between two functions). calc_map_type_and_dist (drivers/pci/p2pdma.c) meets the provider on its
// first step when provider == client, so the route is BUS_ADDR whatever lies above: the 7.2.13 KASAN guest maps an
// igb VF's dma-buf for the VF itself (import/p2p-route: path p2p) and the stand-in importer holds that mapping
// through the revoke triggers (bugs/revoke-hang-*: fail naming deferred-unmap-hang, no errno). The CI's conformance
// found the mock refusing both (EINVAL) before the model knew the case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KASAN_FIXTURE, mockUnavailable, runOnMock } from '../../scripts/qemu-ci/conformance.mjs';
import { scratchDir } from '../support/scratch.js';

let dir = '';
beforeAll(() => {
  dir = scratchDir('iovh-own-route-');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('a VF importing its own dma-buf on the igb guest machine (no P2P between functions)', () => {
  it('maps by bus address, and the stand-in holds it through the revoke triggers', async () => {
    expect(mockUnavailable()).toBeNull();
    const fixture = JSON.parse(readFileSync(KASAN_FIXTURE, 'utf8')) as { kernelConfig?: Record<string, 'y' | 'n'> };
    const scenarios = (await runOnMock({
      outDir: join(dir, 'out'),
      log: join(dir, 'mock.log'),
      ...(fixture.kernelConfig ? { kernelConfig: fixture.kernelConfig } : {}),
      modules: ['iovh_ic_importer'],
    })) as Array<{ id: string; status: string; path: string | null; errno: string | null; detail?: string }>;
    const byId = new Map(scenarios.map((s) => [s.id, s]));
    const route = byId.get('run:import/p2p-route');
    expect(route?.status).toBe('pass');
    expect(route?.path).toBe('p2p');
    expect(route?.detail).toMatch(/the VF itself [0-9a-f:.]+: p2p \(bus address\)/);
    expect(route?.detail).toMatch(/its PF [0-9a-f:.]+: p2p \(not supported\), map EINVAL/);
    for (const trigger of ['reset', 'flr', 'memory', 'close']) {
      const hang = byId.get(`run:bugs/revoke-hang-${trigger}`);
      expect(hang?.status, trigger).toBe('fail');
      expect(hang?.errno, trigger).toBeNull();
      expect(hang?.detail, trigger).toMatch(/deferred-unmap-hang/);
    }
  });
});
