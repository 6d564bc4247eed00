// The mock against a real kernel on iovh's mock GPU, without QEMU: the edge/*
// scenarios that `iovh qemu --device mock-gpu` ran in a guest on the RFC v1
// kernel (test/qemu/fixtures/mock-gpu-rfc-v1.json: what iovh capture wrote
// there, and what each scenario said) run again on the mock loaded with that
// topology and the rfc-v1 profile, and must agree scenario by scenario:
// status, path, and the quirks named. The mock models the device, its PF
// driver and the translation that driver installs in the stand-in importer
// (src/mock/mock-gpu.ts); docs/mock-gpu.md says how to record a new run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CliResult, iovh } from '../cli/run-cli.js';
import { scratchDir } from '../support/scratch.js';
import { loadMockGpuFixture, MOCK_GPU_FIXED_FIXTURE, MOCK_GPU_FIXTURE } from './mock-gpu-fixture.js';

/** The fixture's topology in a scratch folder, and `iovh` there with a state directory of its own. */
function onFixtureTopology(fixture: { topology: unknown }): {
  dir: string;
  topology: string;
  run: (...argv: string[]) => Promise<CliResult>;
} {
  const dir = scratchDir('iovh-mock-gpu-conf-');
  const topology = join(dir, 'topology.json');
  writeFileSync(topology, JSON.stringify(fixture.topology));
  const run = async (...argv: string[]) => {
    const prev = process.env.IOVH_STATE_DIR;
    process.env.IOVH_STATE_DIR = join(dir, 'state');
    try {
      return await iovh(...argv);
    } finally {
      if (prev === undefined) delete process.env.IOVH_STATE_DIR;
      else process.env.IOVH_STATE_DIR = prev;
    }
  };
  return { dir, topology, run };
}

describe('the mock against the RFC v1 kernel on the mock GPU (mock-gpu-rfc-v1.json, mock-gpu-fixed.json)', () => {
  it.each([
    ['RFC v1 translation, profile rfc-v1', MOCK_GPU_FIXTURE],
    ['fixed translation, profile fixed', MOCK_GPU_FIXED_FIXTURE],
  ])(
    '%s: agrees on every edge/* scenario: status, path and the quirks named',
    async (_, file) => {
      const fixture = loadMockGpuFixture(file);
      const { dir, topology, run: cli } = onFixtureTopology(fixture);
      const report = join(dir, 'run.json');
      await cli(
        'run',
        '--backend',
        'mock',
        '--topology',
        topology,
        '--profile',
        fixture.profile,
        '--vf',
        fixture.vf,
        '--no-baseline',
        '--filter',
        'edge/*',
        '--json',
        report,
      );
      const run = JSON.parse(readFileSync(report, 'utf8')) as {
        scenarios: { id: string; status: string; path: string | null; quirks?: { id: string }[] }[];
      };
      const model = new Map(run.scenarios.map((s) => [s.id, s]));
      const edge = fixture.scenarios.filter((s) => s.id.startsWith('edge/'));
      expect(edge.map((s) => s.id).sort()).toEqual(
        [
          'edge/beyond-quota',
          'edge/last-page',
          'edge/lmem-discontiguous',
          'edge/npot-ranges',
          'edge/unprovisioned-vf',
          'edge/vf-next-bus',
        ].sort(),
      );
      const disagreements: string[] = [];
      for (const real of edge) {
        const m = model.get(real.id);
        const mine = m
          ? { status: m.status, path: m.path ?? null, quirks: (m.quirks ?? []).map((q) => q.id).sort() }
          : null;
        const theirs = { status: real.status, path: real.path, quirks: real.quirks };
        if (JSON.stringify(mine) !== JSON.stringify(theirs))
          disagreements.push(`${real.id}: kernel ${JSON.stringify(theirs)}, mock ${JSON.stringify(mine)}`);
      }
      expect(disagreements).toEqual([]);
    },
    120_000,
  );

  it("captures on the mock what the guest captured: the device, its geometry and every VF's blocks", async () => {
    const fixture = loadMockGpuFixture();
    const { dir, topology, run: cli } = onFixtureTopology(fixture);
    const out = join(dir, 'captured.json');
    const r = await cli('capture', '--backend', 'mock', '--topology', topology, '--out', out);
    expect(r.code).toBe(0);
    const captured = JSON.parse(readFileSync(out, 'utf8')) as typeof fixture.topology;
    const want = fixture.topology.devices[0]!;
    const got = captured.devices.find((d) => d.bdf === want.bdf)!;
    expect(got.mockGpu).toEqual(want.mockGpu);
    expect(got.sriov?.vfs.map((v) => v.vramQuota)).toEqual(want.sriov?.vfs.map((v) => v.vramQuota));
  });
});
