import { describe, expect, it, vi } from 'vitest';

// --list must not open a backend at all: make opening one impossible.
vi.mock('../../src/backend/select.js', () => ({
  openBackend: () => {
    throw new Error('--list opened a backend');
  },
}));

const { iovh } = await import('./run-cli.js');
const { CATALOG } = await import('../../src/harness/catalog/index.js');

describe('iovh run --list', () => {
  it('lists every scenario id with its title, without opening a backend', async () => {
    const r = await iovh('run', '--list', '--backend', 'native');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const ids = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/)[0]);
    expect(ids).toEqual(CATALOG.map((s) => s.id));
    expect(r.stdout).toContain('import/iov-single-range');
  });

  it('--verbose gives each description, and a filter narrows the list', async () => {
    const r = await iovh('run', '--list', '--verbose', '--filter', 'edge/*');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^edge\/last-page — last page of the VF BAR \(expects path iov\)\n {4}Imports a range/);
    expect(r.stdout).not.toContain('import/');
    expect(r.stdout.split('\n\n')).toHaveLength(6);
  });
});

describe('iovh run --list --json', () => {
  it('prints the catalog for programs: schema iovh-list/1, one object per scenario, no backend opened', async () => {
    const r = await iovh('run', '--list', '--json', '--filter', 'edge/*', '--backend', 'native');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const list = JSON.parse(r.stdout) as { schema: string; scenarios: Record<string, unknown>[] };
    expect(list.schema).toBe('iovh-list/1');
    expect(list.scenarios.map((s) => s.id)).toEqual(CATALOG.filter((s) => s.id.startsWith('edge/')).map((s) => s.id));
    expect(list.scenarios[0]).toEqual({
      id: 'edge/last-page',
      group: 'edge',
      title: 'last page of the VF BAR',
      description: CATALOG.find((s) => s.id === 'edge/last-page')!.description,
      expectedPath: 'iov',
    });
    // `--json -` is the same; with every scenario, caps/kernel comes first.
    const all = JSON.parse((await iovh('run', '--list', '--json', '-')).stdout) as { scenarios: { id: string }[] };
    expect(all.scenarios.map((s) => s.id)).toEqual(CATALOG.map((s) => s.id));
  });
});

describe('the catalog', () => {
  it('has the ids the issue lists, each with a description paragraph', () => {
    const ids = CATALOG.map((s) => s.id);
    for (const id of [
      'caps/kernel',
      'export/single-range',
      'export/multi-range',
      'export/whole-bar',
      'export/invalid-args',
      'export/fd-properties',
      'import/iov-single-range',
      'import/iov-multi-range',
      'import/iov-every-vf',
      'import/wrong-bar',
      'import/foreign-device',
      'import/non-p2p-importer',
      'import/control-udmabuf',
      'data/gpu-write-cpu-read',
      'data/cpu-write-gpu-read',
      'edge/last-page',
      'edge/unprovisioned-vf',
      'edge/vf-next-bus',
      'edge/npot-ranges',
      'edge/lmem-discontiguous',
      'edge/beyond-quota',
      'lifecycle/revoke-on-reset',
      'lifecycle/revoke-on-close',
      'lifecycle/vf-disable-while-imported',
      'lifecycle/attach-after-revoke',
      'leak/map-ranges',
      'leak/fds-and-buffers',
      'stress/many-buffers',
      'stress/max-ranges',
    ])
      expect(ids).toContain(id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('caps/kernel');
    for (const s of CATALOG) {
      expect(s.id).toMatch(/^[a-z]+\/[a-z0-9-]+$/);
      expect(s.description.length).toBeGreaterThan(150);
    }
  });
});
