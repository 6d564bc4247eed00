// The profiles table of docs/profiles.md (and of issue 12), row by row,
// through what `iovh run` reports on each mock profile: scenario statuses,
// paths, errnos and the quirks they name. Never through the profile's flags:
// a profile whose model drifted from its row fails here however its data
// reads. Each run is the whole catalog against the shipped baseline (exit 0).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult, ScenarioResult } from '../../src/report/model.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { iovh } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'iovh-profiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  json: RunResult;
  by: Map<string, ScenarioResult>;
}

async function run(name: string, ...extra: string[]): Promise<Run> {
  const out = join(dir, `${name}.json`);
  const cli = await iovh('run', '--backend', 'mock', '--json', out, ...extra);
  const json = JSON.parse(readFileSync(out, 'utf8')) as RunResult;
  return { code: cli.code, json, by: new Map(json.scenarios.map((s) => [s.id, s])) };
}

/** Scenario -> the shipped topology with the machine shape it needs. */
const SHAPED: [string, string][] = [
  ['edge/vf-next-bus', 'vf-next-bus'],
  ['edge/lmem-discontiguous', 'vram-blocks'],
  ['import/foreign-device', 'two-gpus'],
];
const topologyFile = (name: string): string => fileURLToPath(new URL(`../../topologies/${name}.json`, import.meta.url));

const runs = new Map<string, Run>();
const shapedRuns = new Map<string, Run>();
beforeAll(async () => {
  for (const p of ['upstream-6.19', 'upstream-7.0', 'upstream-7.1', 'rfc-v1', 'rfc-v2', 'maptype-rfc', 'fixed'])
    runs.set(p, await run(p, '--profile', p));
  // upstream-7.1 before the kref fix: the same line at 7.2.12 (a topology's kernel.release is `uname -r`).
  const base = defaultTopology();
  const topo = { ...base, kernel: { ...base.kernel, release: '7.2.12' } };
  const file = join(dir, 'topology-7.2.12.json');
  writeFileSync(file, JSON.stringify(topo));
  runs.set('upstream-7.1@7.2.12', await run('upstream-7.1-7.2.12', '--profile', 'upstream-7.1', '--topology', file));
  // The scenarios that need a machine shape the default topology lacks skip there; they run on the shipped
  // topology that has it (topologies/), as a lab would run them.
  for (const p of ['rfc-v1', 'rfc-v2', 'fixed'])
    for (const [id, topology] of SHAPED)
      shapedRuns.set(
        `${p} ${id}`,
        await run(`${p}-${topology}`, '--profile', p, '--topology', topologyFile(topology), '--filter', id),
      );
}, 300_000);

const get = (p: string): Run => runs.get(p)!;
const s = (p: string, id: string): ScenarioResult => {
  const r = (shapedRuns.get(`${p} ${id}`) ?? get(p)).by.get(id);
  if (!r) throw new Error(`${p}: no result for ${id}`);
  return r;
};
// The known defects a result names: the RFC's quirks and the merged path's bugs (src/harness/bugs.ts).
const quirks = (p: string, id: string): string[] => [...s(p, id).quirks, ...s(p, id).bugs].map((q) => q.id);
const IOV = ['import/iov-single-range', 'import/iov-multi-range', 'import/iov-every-vf'];
const evidence = (p: string, id: string, key: string): unknown => (s(p, id).evidence as Record<string, unknown>)[key];
const resetStalled = (p: string): boolean =>
  (evidence(p, 'lifecycle/revoke-on-reset', 'reset') as { stalled: boolean }).stalled;

describe('every profile runs the whole catalog and meets its shipped baseline', () => {
  it('exit 0, the baseline named after the profile, and the kernel shape its row names', () => {
    const shapes: Record<string, string> = {
      'upstream-6.19': 'upstream-6.19',
      'upstream-7.0': 'upstream-7.0',
      'upstream-7.1': 'upstream-7.1',
      'upstream-7.1@7.2.12': 'upstream-7.1',
      'rfc-v1': 'rfc-v1',
      'rfc-v2': 'rfc-v2',
      'maptype-rfc': 'maptype-rfc',
      fixed: 'rfc-v1',
    };
    for (const [p, r] of runs) {
      // The shipped baseline is the line at its default release (7.2.13); at 7.2.12 the kref fix is missing.
      // So is the xe dma-buf reference that fixes the failed-attach use-after-free (first seen in 7.2.13).
      if (p === 'upstream-7.1@7.2.12')
        expect([...r.json.summary.unexpected].sort()).toEqual(['bugs/ttm-attach-uaf', 'lifecycle/close-while-revoked']);
      else expect(r.code, `${p}: ${r.json.summary.exitReason}`).toBe(0);
      expect(r.json.kernel.shape?.name, p).toBe(shapes[p]);
      expect(r.json.scenarios.length, p).toBe(get('rfc-v1').json.scenarios.length);
    }
  });
});

describe('upstream-6.19: export and P2P import; attach checks peer2peer then revoked; a revoke does not wait', () => {
  it('no IOV path: the IOV scenarios skip naming the shape, imports take P2P', () => {
    for (const id of IOV) {
      expect(s('upstream-6.19', id).status).toBe('skip');
      expect(s('upstream-6.19', id).reason).toBe(
        'kernel shape upstream-6.19 — no IOV import path: xe imports a VF BAR as P2P',
      );
    }
    expect(s('upstream-6.19', 'data/gpu-write-cpu-read').path).toBe('p2p');
    for (const id of ['export/single-range', 'export/invalid-args', 'export/fd-properties'])
      expect(s('upstream-6.19', id).status).toBe('pass');
  });

  it('attach: a non-P2P importer is refused first (EOPNOTSUPP), a revoked buffer next (ENODEV)', () => {
    expect(evidence('upstream-6.19', 'import/non-p2p-importer', 'primeImport')).toBe('EOPNOTSUPP');
    expect(s('upstream-6.19', 'lifecycle/attach-after-revoke')).toMatchObject({ status: 'pass', path: 'refused' });
  });

  it('a revoke does not wait for the importer: a reset under a mapped xe import completes', () => {
    expect(s('upstream-6.19', 'lifecycle/revoke-on-reset').status).toBe('pass');
    expect(resetStalled('upstream-6.19')).toBe(false);
    expect(s('upstream-6.19', 'lifecycle/revoke-on-close').status).toBe('pass');
    // No kref to underflow: closing a revoked device is clean.
    expect(s('upstream-6.19', 'lifecycle/close-while-revoked').status).toBe('pass');
  });
});

describe('upstream-7.0: as 6.19, phys_vec naming', () => {
  it('every scenario ends as on 6.19; the release tells the shape apart', () => {
    for (const r of get('upstream-6.19').json.scenarios)
      expect([r.id, s('upstream-7.0', r.id).status]).toEqual([r.id, r.status]);
    const caps = evidence('upstream-7.0', 'caps/kernel', 'capabilities') as { shape: { why: string } };
    expect(caps.shape.why).toMatch(/release 7\.0\.9 is 7\.0/);
  });
});

describe('upstream-7.1: revoke waits for unmap with no timeout; the kref fix from 7.2.13', () => {
  it("a revoke under a mapped xe import waits for xe's deferred unmap: the deferred-unmap hang", () => {
    for (const id of ['lifecycle/revoke-on-reset', 'lifecycle/revoke-on-close', 'lifecycle/vf-disable-while-imported'])
      expect([id, s('upstream-7.1', id).status, quirks('upstream-7.1', id)]).toEqual([
        id,
        'fail',
        ['deferred-unmap-hang'],
      ]);
    expect(resetStalled('upstream-7.1')).toBe(true);
  });

  it('still no IOV path; a P2P import follows the VF through a quota change', () => {
    for (const id of IOV)
      expect(s('upstream-7.1', id).reason).toMatch(/^kernel shape upstream-7\.1 — no IOV import path/);
    expect(s('upstream-7.1', 'lifecycle/requota-while-imported')).toMatchObject({ status: 'pass', path: 'p2p' });
  });

  it('both sides of the xe dma-buf reference fix: a failed import, then the close, is a KASAN UAF only without it', () => {
    for (const p of ['upstream-6.19', 'upstream-7.0', 'maptype-rfc', 'upstream-7.1@7.2.12']) {
      expect([p, s(p, 'bugs/ttm-attach-uaf').status, quirks(p, 'bugs/ttm-attach-uaf')]).toEqual([
        p,
        'crash',
        ['ttm-attach-uaf'],
      ]);
      expect(String(s(p, 'bugs/ttm-attach-uaf').evidence.kasanReport)).toMatch(/ttm_bo_delayed_delete/);
    }
    for (const p of ['upstream-7.1', 'fixed', 'rfc-v1', 'rfc-v2'])
      expect([p, s(p, 'bugs/ttm-attach-uaf').status]).toEqual([p, 'pass']);
  });

  it('both sides of the kref fix: 7.2.13 closes a revoked device cleanly, 7.2.12 underflows and hangs', () => {
    expect(s('upstream-7.1', 'lifecycle/close-while-revoked').status).toBe('pass');
    const before = s('upstream-7.1@7.2.12', 'lifecycle/close-while-revoked');
    expect(before.status).toBe('fail');
    expect(quirks('upstream-7.1@7.2.12', 'lifecycle/close-while-revoked')).toEqual(['kref-underflow']);
    expect(before.log.join('\n')).toMatch(/refcount_t: underflow; use-after-free\.[\s\S]*blocked for more than/);
    // Everything else on that line is the same at 7.2.12.
    for (const r of get('upstream-7.1').json.scenarios)
      if (r.id !== 'lifecycle/close-while-revoked' && r.id !== 'bugs/ttm-attach-uaf')
        expect([r.id, s('upstream-7.1@7.2.12', r.id).status]).toEqual([r.id, r.status]);
  });
});

describe('rfc-v1: the seed series on 7.2.13, with the corrected model', () => {
  it('imports of VF LMEM take the IOV path with the right bytes', () => {
    for (const id of [...IOV, 'data/gpu-write-cpu-read', 'data/cpu-write-gpu-read'])
      expect([id, s('rfc-v1', id).status, s('rfc-v1', id).path]).toEqual([id, 'pass', 'iov']);
  });

  it('quirks 1 and 5 end in quirk 2: an oops at VM_BIND that kills the process, naming the quirks', () => {
    expect(s('rfc-v1', 'edge/last-page').status).toBe('crash');
    expect(quirks('rfc-v1', 'edge/last-page').sort()).toEqual(['last-page', 'silent-untranslated']);
    expect(s('rfc-v1', 'edge/vf-next-bus').status).toBe('crash');
    expect(quirks('rfc-v1', 'edge/vf-next-bus').sort()).toEqual(['silent-untranslated', 'vf-other-bus']);
    expect(s('rfc-v1', 'edge/last-page').reason).toMatch(/killed \(SIGKILL: oops/);
  });

  it('the other quirks, each named where it shows', () => {
    expect(quirks('rfc-v1', 'edge/unprovisioned-vf')).toEqual(['unprovisioned-oops']);
    expect(quirks('rfc-v1', 'edge/npot-ranges')).toEqual(['order-from-length']);
    expect(quirks('rfc-v1', 'edge/lmem-discontiguous')).toEqual(['contiguity']);
    expect(quirks('rfc-v1', 'edge/beyond-quota')).toEqual(['quota-unchecked']);
    expect(quirks('rfc-v1', 'leak/map-ranges')).toEqual(['ranges-leak']);
    expect(quirks('rfc-v1', 'lifecycle/attach-after-revoke').sort()).toEqual([
      'closed-vdev-oops',
      'revoked-attach-bypass',
    ]);
    expect(quirks('rfc-v1', 'leak/lmem-object')).toEqual(['lmem-ref-leak']);
    expect(quirks('rfc-v1', 'lifecycle/requota-while-imported')).toEqual(['stale-lmem-import']);
    // The interconnect map takes no kref: a revoke does not wait for an IOV import.
    expect(s('rfc-v1', 'lifecycle/revoke-on-reset').status).toBe('pass');
  });
});

describe('rfc-v2: pointer-typed interconnect, fallback to map_dma_buf, the cross-VF check', () => {
  it('the interconnect is negotiated through dma_buf_match_interconnects, with v2 names', () => {
    const caps = evidence('rfc-v2', 'caps/kernel', 'capabilities') as { shape: { seen: string[] } };
    expect(caps.shape.seen).toEqual(expect.arrayContaining(['dma_buf_match_interconnects', 'iov_interconnect']));
    for (const id of IOV) expect([id, s('rfc-v2', id).path]).toEqual([id, 'iov']);
  });

  it('a failed translation falls back to P2P: quirks 1 and 5 show as a fallback, no oops', () => {
    for (const [id, q] of [
      ['edge/last-page', 'last-page'],
      ['edge/vf-next-bus', 'vf-other-bus'],
    ] as const) {
      expect([id, s('rfc-v2', id).status, s('rfc-v2', id).path, quirks('rfc-v2', id)]).toEqual([
        id,
        'fail',
        'p2p',
        [q],
      ]);
      expect(s('rfc-v2', id).reason).toMatch(/fell back to P2P/);
    }
    expect(s('rfc-v2', 'edge/unprovisioned-vf')).toMatchObject({ status: 'pass', path: 'p2p' });
  });

  it('ranges are unmapped (no quirk 6), no oops after close, but the bypass, 7, 8, the quota and the LMEM leak stay', () => {
    expect(s('rfc-v2', 'leak/map-ranges').status).toBe('pass');
    expect(s('rfc-v2', 'lifecycle/attach-after-revoke').status).toBe('fail');
    expect(quirks('rfc-v2', 'lifecycle/attach-after-revoke')).toEqual(['revoked-attach-bypass']);
    expect(quirks('rfc-v2', 'edge/npot-ranges')).toEqual(['order-from-length']);
    expect(quirks('rfc-v2', 'edge/lmem-discontiguous')).toEqual(['contiguity']);
    expect(quirks('rfc-v2', 'edge/beyond-quota')).toEqual(['quota-unchecked']);
    expect(quirks('rfc-v2', 'leak/lmem-object')).toEqual(['lmem-ref-leak']);
    expect(s('rfc-v2', 'lifecycle/vf-disable-while-imported').status).toBe('pass');
  });
});

describe('maptype-rfc: mapping types, vfio offers PAL then SGT_P2P, xe imports through SGT', () => {
  it('xe takes SGT_P2P: no IOV path, data through P2P', () => {
    for (const id of IOV)
      expect(s('maptype-rfc', id).reason).toMatch(
        /^kernel shape maptype-rfc — no IOV import path: xe imports through SGT_P2P/,
      );
    expect(s('maptype-rfc', 'data/gpu-write-cpu-read')).toMatchObject({ status: 'pass', path: 'p2p' });
  });

  it('a non-P2P importer matches no type (EINVAL from dma_buf_match_mapping), a closed device refuses at match', () => {
    expect(s('maptype-rfc', 'import/non-p2p-importer').status).toBe('pass');
    expect(evidence('maptype-rfc', 'import/non-p2p-importer', 'primeImport')).toBe('EINVAL');
    expect(s('maptype-rfc', 'lifecycle/attach-after-revoke')).toMatchObject({ status: 'pass', path: 'refused' });
  });

  it("the branch's vfio waits for unmap and still has the kref underflow", () => {
    expect(quirks('maptype-rfc', 'lifecycle/revoke-on-reset')).toEqual(['deferred-unmap-hang']);
    expect(quirks('maptype-rfc', 'lifecycle/close-while-revoked')).toEqual(['kref-underflow']);
  });
});

describe("fixed: only the RFC's defects removed; the xe deferred-unmap hang stays, a fix of its own", () => {
  it('every IOV scenario passes on the IOV path; every RFC quirk scenario passes', () => {
    for (const { id } of get('fixed').json.scenarios) {
      const r = s('fixed', id);
      if (r.expectedPath === 'iov') expect([r.id, r.path]).toEqual([r.id, 'iov']);
      if (r.id.startsWith('edge/') || r.id.startsWith('leak/') || r.id.startsWith('import/'))
        expect([r.id, r.status]).toEqual([r.id, 'pass']);
    }
    expect(s('fixed', 'lifecycle/requota-while-imported')).toMatchObject({ status: 'pass', path: 'iov' });
    expect(s('fixed', 'lifecycle/attach-after-revoke')).toMatchObject({ status: 'pass', path: 'refused' });
  });

  it('a revoke waits for the IOV mapping and xe defers its unmap: the deferred-unmap hang, named as such', () => {
    expect(quirks('fixed', 'lifecycle/revoke-on-reset')).toEqual(['deferred-unmap-hang']);
    expect(resetStalled('fixed')).toBe(true);
  });
});
