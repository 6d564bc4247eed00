// Trace evidence that must never claim more than it saw: a path is iov or
// untranslated only when the probes that would have seen a fallback were
// armed and enabled (review finding 1).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import type { Capabilities } from '../../src/harness/caps.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import { Gpu } from '../../src/harness/gpu.js';
import { importAndBind } from '../../src/harness/imports.js';
import type { Scenario, ScenarioContext } from '../../src/harness/scenario.js';
import { exportDmaBuf, openVf, PAGE, requirePathTrace } from '../../src/harness/steps.js';
import type { DmaBuf } from '../../src/uapi/dmabuf.js';
import { SystemError } from '../../src/uapi/errors.js';
import { XE } from '../../src/uapi/constants.js';
import { openVfioDevice } from '../../src/uapi/vfio.js';
import { XeDevice } from '../../src/uapi/xe.js';
import type { JsonObject } from '../../src/report/model.js';
import type { Topology } from '../../src/mock/topology.js';
import { probeCapabilities } from '../../src/harness/caps.js';
import { classifyPath } from '../../src/harness/path.js';
import { REVISIONS, SG_PROBES, type ProbeKey } from '../../src/harness/symbols.js';
import { ownTasks, TraceSession, type TraceHit } from '../../src/harness/tracefs.js';
import { declaredMock, runOn, withFs, wrapFs } from './evidence-helpers.js';

function hit(key: ProbeKey, args: Record<string, string> = {}): TraceHit {
  return { key, event: `${key}_x`, task: 'node', pid: 1, timestamp: 1, site: 'x', args };
}

const ALL: ProbeKey[] = [
  'match',
  'exporterMatch',
  'importerOffers',
  'mapInterconnect',
  'exporterMapInterconnect',
  'translate',
  'translateRet',
  'unmapInterconnect',
  'exporterSgMap',
  'sgMap',
];
const without = (...keys: ProbeKey[]): Set<ProbeKey> => new Set(ALL.filter((k) => !keys.includes(k)));
const IOV_HITS = [
  hit('match', { ret: '0x1' }),
  hit('mapInterconnect', { ret: '0xffff888012340000' }),
  hit('translate', { vfid: '1' }),
  hit('translateRet', { ret: '0xffff888100000000' }),
];

describe('path classification needs the probes that would have seen the other branch', () => {
  it('iov only when both scatter-gather probes were armed', () => {
    expect(classifyPath({ refused: null, hits: IOV_HITS, armed: new Set(ALL) }).path).toBe('iov');
    for (const blind of ['exporterSgMap', 'sgMap'] as const) {
      const v = classifyPath({ refused: null, hits: IOV_HITS, armed: without(blind) });
      expect(v.path).toBe('unknown');
      expect(v.why).toContain(blind);
      expect(v.why).toMatch(/fallback to the P2P path would not have been seen/);
    }
  });

  it('untranslated only when the lookup return and the scatter-gather probes were armed', () => {
    const negotiated = [hit('match', { ret: '0x1' }), hit('mapInterconnect', { ret: '0xffff888012340000' })];
    expect(classifyPath({ refused: null, hits: negotiated, armed: new Set(ALL) }).path).toBe('untranslated');
    expect(classifyPath({ refused: null, hits: negotiated, armed: without('translateRet') }).path).toBe('unknown');
    expect(classifyPath({ refused: null, hits: negotiated, armed: without('sgMap', 'exporterSgMap') }).path).toBe(
      'unknown',
    );
  });

  it('a fallback seen by the one armed scatter-gather probe is still p2p', () => {
    expect(
      classifyPath({ refused: null, hits: [...IOV_HITS, hit('sgMap')], armed: without('exporterSgMap') }).path,
    ).toBe('p2p');
  });
});

describe('a probe counts as armed only once it is enabled', () => {
  it('an enable that fails leaves the probe out of armed, removes its definition, and says why', () => {
    const b = declaredMock('fixed');
    try {
      const root = '/sys/kernel/tracing';
      const before = b.fs.readText(`${root}/kprobe_events`);
      const c = probeCapabilities(b, {});
      const fs = wrapFs(b.fs, {
        refuse: (op, path) => (op === 'write' && /\/sgMap_e\/enable$/.test(path) ? 'EIO' : null),
      });
      const s = TraceSession.create(fs, root);
      s.arm([...REVISIONS[0]!.probes, ...SG_PROBES], c.symbols.symbols);
      expect(s.armedProbes.map((a) => a.point.key)).not.toContain('sgMap');
      expect(s.armedProbes.map((a) => a.point.key)).toContain('exporterSgMap');
      expect(s.unavailable.map((u) => u.why)).toEqual([
        expect.stringMatching(/^enabling iovh_\d+_\d+\/sgMap_e failed \(EIO\)$/),
      ]);
      expect(b.fs.readText(`${root}/kprobe_events`)).not.toMatch(/sgMap_e/);
      s.close();
      expect(b.fs.readText(`${root}/kprobe_events`)).toBe(before);
    } finally {
      b.close();
    }
  });
});

describe('a kernel whose scatter-gather functions cannot be probed (review finding 1)', () => {
  // --profile fixed with vfio_pci_dma_buf_map and dma_buf_map_attachment gone from kallsyms: a fallback to P2P
  // could not be seen, so neither scenario may claim iov or untranslated.
  const hideSymbols = SG_PROBES.map((p) => p.symbol);

  it('edge/beyond-quota and edge/unprovisioned-vf skip citing sgProbes instead of claiming a path', async () => {
    const b = declaredMock('fixed');
    const run = await runOn(withFs(b, wrapFs(b.fs, { hideSymbols })), [
      'edge/beyond-quota',
      'edge/unprovisioned-vf',
      'import/iov-single-range',
    ]);
    for (const r of run.scenarios.slice(1)) {
      expect(r.status, r.id).toBe('skip');
      expect(r.skip?.capability, r.id).toBe('sgProbes');
      expect(r.path).toBeNull();
    }
  });

  it('with the symbols listed but their probes unarmable, no import is called iov: the scenarios skip saying which probes', async () => {
    // caps/kernel's own probe (on vfio_pci_dma_buf_map) succeeds: the refusal is met by the scenario's session.
    const b = declaredMock('fixed');
    const fs = wrapFs(b.fs, {
      refuse: (op, path, data) =>
        op === 'write' && path.endsWith('/kprobe_events') && /^[pr]:\S+ dma_buf_map_attachment/.test(data ?? '')
          ? 'EPERM'
          : null,
    });
    const run = await runOn(withFs(b, fs), [
      'edge/beyond-quota',
      'import/iov-single-range',
      'import/wrong-bar',
      'stress/max-ranges',
    ]);
    for (const r of run.scenarios.slice(1)) {
      expect(r.path, r.id).not.toBe('iov');
      expect(r.path, r.id).not.toBe('untranslated');
    }
    for (const r of run.scenarios.slice(1, 4)) {
      expect(r.status, r.id).toBe('skip');
      expect(r.skip?.capability, r.id).toBe('kprobes');
      expect(r.reason, r.id).toMatch(
        /^the probes on dma_buf_map_attachment could not be armed, so the path cannot be told: defining a p-probe on dma_buf_map_attachment failed \(EPERM\)$/,
      );
    }
    // Data still runs without the path: its bytes are checked, nothing claims iov.
    expect(run.scenarios[4]!.status).toBe('pass');
    expect(run.scenarios[4]!.path).toBe('unknown');
  });
});

describe('skips on a PF that is not xe name xe, not the LMEM BAR', () => {
  it('an igb PF with VFs on vfio-pci: import, edge and lifecycle scenarios skip citing xe', async () => {
    const topology = JSON.parse(
      readFileSync(new URL('../../scripts/qemu-ci/topology-igb.json', import.meta.url), 'utf8'),
    ) as Topology;
    const sriov = topology.devices[0]!.sriov!;
    sriov.numvfs = 2;
    sriov.vfs = [0, 1].map((index) => ({ index, driver: 'vfio-pci', driverOverride: 'vfio-pci' }));
    const b = createMockBackend({ profile: 'upstream-7.1', topology });
    const ids = ['import/iov-single-range', 'edge/last-page', 'data/gpu-write-cpu-read', 'lifecycle/revoke-on-reset'];
    const run = await runOn(b, ids);
    expect(run.scenarios[0]!.reason).toMatch(/missing: .*xe/);
    for (const r of run.scenarios.slice(1)) {
      expect(r.status, r.id).toBe('skip');
      expect(r.skip?.capability, r.id).toBe('xe');
      expect(r.reason, r.id).toMatch(/driven by igb, not xe/);
    }
  });
});

describe('a kernel that refuses every kprobe (lockdown: EPERM on kprobe_events; review finding 2)', () => {
  const lockdown = (op: string, path: string): string | null =>
    op === 'write' && path.endsWith('/kprobe_events') ? 'EPERM' : null;

  it('caps/kernel says kprobes are missing and why; nothing is left in tracefs', () => {
    const b = declaredMock('rfc-v1');
    try {
      const instances = b.fs.readdir('/sys/kernel/tracing/instances');
      const c = probeCapabilities(withFs(b, wrapFs(b.fs, { refuse: lockdown })), {});
      expect(c.caps.tracefs.ok).toBe(true);
      expect(c.caps.kprobes.ok).toBe(false);
      expect(c.caps.kprobes.detail).toMatch(
        /^a kprobe on vfio_pci_dma_buf_map could not be defined: defining a p-probe on vfio_pci_dma_buf_map failed \(EPERM\)$/,
      );
      expect(c.caps.kprobes.enable).toMatch(/lockdown/);
      expect(b.fs.readdir('/sys/kernel/tracing/instances')).toEqual(instances);
      expect(b.fs.readText('/sys/kernel/tracing/kprobe_events')).toBe('');
      const ok = probeCapabilities(b, {});
      expect(ok.caps.kprobes).toEqual({
        ok: true,
        detail: expect.stringMatching(
          /^a p-probe on vfio_pci_dma_buf_map was defined in \/sys\/kernel\/tracing\/kprobe_events and removed$/,
        ),
        enable: null,
      });
    } finally {
      b.close();
    }
  });

  it('a probe definition that cannot be removed is retried once, then reported by caps/kernel, never left silently', async () => {
    const once = declaredMock('fixed');
    let refusals = 1;
    const flaky = wrapFs(once.fs, {
      refuse: (op, path, data) =>
        op === 'write' && path.endsWith('/kprobe_events') && data?.startsWith('-:') && refusals-- > 0 ? 'EBUSY' : null,
    });
    const c = probeCapabilities(withFs(once, flaky), {});
    expect(c.caps.kprobes.ok).toBe(true);
    expect(c.left).toEqual([]);
    expect(once.fs.readText('/sys/kernel/tracing/kprobe_events')).toBe('');
    once.close();
    const b = declaredMock('fixed');
    const stuck = wrapFs(b.fs, {
      refuse: (op, path, data) =>
        op === 'write' && path.endsWith('/kprobe_events') && data?.startsWith('-:') ? 'EBUSY' : null,
    });
    const run = await runOn(withFs(b, stuck), []);
    const r = run.scenarios[0]!;
    expect(r.status).toBe('fail');
    expect(r.reason).toMatch(
      /^the capability probe could not be restored: \/sys\/kernel\/tracing\/kprobe_events: p:iovh_\d+_\d+\/probe vfio_pci_dma_buf_map \(removing it failed: EBUSY\)$/,
    );
    expect(r.evidence.notRestored).toHaveLength(1);
  });

  it('the catalog on rfc-v1: every path scenario skips citing kprobes, none fails for want of trace', async () => {
    const b = declaredMock('rfc-v1');
    const ids = [
      'import/iov-single-range',
      'import/iov-multi-range',
      'import/iov-every-vf',
      'import/wrong-bar',
      'edge/last-page',
      'edge/unprovisioned-vf',
      'edge/npot-ranges',
      'edge/beyond-quota',
      'stress/many-buffers',
      'stress/max-ranges',
      'data/gpu-write-cpu-read',
    ];
    const run = await runOn(withFs(b, wrapFs(b.fs, { refuse: lockdown })), ids);
    expect(run.scenarios[0]!.reason).toMatch(/missing: kprobes/);
    const byId = new Map(run.scenarios.map((r) => [r.id, r]));
    for (const id of ids.slice(0, 8)) {
      expect(byId.get(id)!.status, id).toBe('skip');
      expect(byId.get(id)!.skip?.capability, id).toBe('kprobes');
    }
    for (const id of ids.slice(8)) expect(byId.get(id)!.status, id).toBe('pass');
  });
});

describe('trace hits are attributed to our threads (review finding 3)', () => {
  // Another process on the same kernel (a compositor, another VM's device) imports a buffer through the
  // ordinary P2P path while our import takes the IOV path: its dma_buf_map_attachment hits must not make
  // ours look like a fallback.
  function foreignP2pImport(b: MockBackend, caps: Capabilities): () => void {
    const other = b.kernel.spawnProcess('compositor');
    const vf = caps.target!.vfioVfs[1]!;
    const device = openVfioDevice(other, vf.bdf);
    const buf = device.exportDmaBuf({ region: 0, ranges: [{ offset: 0n, length: PAGE }] });
    const xe = XeDevice.open(other, caps.xeNode!);
    const vm = xe.vmCreate(0);
    const handle = xe.primeImport(buf);
    vm.map(handle, 1n << 32n, PAGE, { patIndex: XE.PAT_INDEX_WB_2WAY_XE2 });
    // Importer first, then the exporter: a VFIO close under a live import would wait for it (docs/kernel.md §11.6).
    return () => {
      vm.unmap(1n << 32n, PAGE);
      handle.close();
      vm.close();
      xe.close();
      buf.close();
      device.close();
      other.close();
    };
  }

  const foreignDuringImport: Scenario = {
    id: 'test/foreign-importer',
    title: 'an IOV import while another process imports through P2P',
    description: 'test',
    expectedPath: 'iov',
    async run(ctx: ScenarioContext) {
      const vf = ctx.target!.vf;
      const gpu = Gpu.open(ctx);
      const trace = requirePathTrace(ctx);
      const device = openVf(ctx, vf.bdf);
      const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
      let done: (() => void) | null = null;
      // The foreign import lands inside our trace window: after importAndBind cleared the buffer, before it reads it.
      const busy = new Proxy(gpu, {
        get: (target, name, receiver) => {
          if (name === 'import')
            return (d: DmaBuf) => ((done = foreignP2pImport(ctx.backend as MockBackend, ctx.caps)), target.import(d));
          return Reflect.get(target, name, receiver) as unknown;
        },
      });
      ctx.defer('end the other process', () => done?.());
      const imp = importAndBind(ctx, busy, trace, buf, PAGE, 'VF 1 page 0 with a busy neighbour');
      ctx.setPath(imp.verdict.path);
      ctx.check(imp.verdict.path === 'iov', `path ${imp.verdict.path}: ${imp.verdict.why}`);
    },
  };

  it("another process's P2P import in the window does not turn our IOV import into p2p; its hits are in the evidence", async () => {
    const b = declaredMock('rfc-v1');
    const run = await runOn(b, [], { scenarios: [scenarioById('caps/kernel')!, foreignDuringImport] });
    const r = run.scenarios[1]!;
    expect(r.reason).toMatch(/^every check passed$/);
    expect(r.path).toBe('iov');
    const trace = (r.evidence.imports as JsonObject[])[0]!.trace as JsonObject;
    const foreign = trace.foreign as { count: number; first: { probe: string; task: string }[] };
    expect(foreign.count).toBeGreaterThan(0);
    expect(foreign.first.map((h) => h.probe)).toEqual(expect.arrayContaining(['exporterSgMap', 'sgMap']));
    expect(foreign.first.every((h) => /^compositor-\d+$/.test(h.task))).toBe(true);
    expect((trace.hits as { task: string }[]).every((h) => /^node-\d+$/.test(h.task))).toBe(true);
  });

  it('threads come from /proc/self/task; a buffer that dropped entries makes no verdict from silence', () => {
    const b = declaredMock('fixed');
    try {
      expect(ownTasks(b.fs)).toEqual({ tids: new Set([Number(b.fs.readlink('/proc/self'))]), why: null });
      const noTask = wrapFs(b.fs, {
        refuse: (op, path) => (op === 'read' && path.startsWith('/proc/self/task') ? 'EACCES' : null),
      });
      const readdir = noTask.readdir;
      noTask.readdir = (p) => {
        if (p === '/proc/self/task') throw new SystemError({ errno: 13, syscall: 'scandir', path: p });
        return readdir(p);
      };
      expect(ownTasks(noTask).tids).toEqual(new Set([Number(b.fs.readlink('/proc/self'))]));
    } finally {
      b.close();
    }
    expect(classifyPath({ refused: null, hits: IOV_HITS, armed: new Set(ALL), lost: 3 })).toMatchObject({
      path: 'unknown',
      why: expect.stringMatching(/dropped 3 entries/),
    });
    expect(classifyPath({ refused: null, hits: [...IOV_HITS, hit('sgMap')], armed: new Set(ALL), lost: 3 }).path).toBe(
      'p2p',
    );
  });
});
