// Harness pieces against the mock kernel: the capability probe per profile,
// kprobe sessions that leave tracefs as they found it, and SR-IOV
// snapshot/restore that leaves sysfs byte for byte as it was.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { declareTopology, shippedTopology } from './declared.js';
import { bringUpForCatalog } from '../../src/harness/bringup.js';
import { probeCapabilities } from '../../src/harness/caps.js';
import { TraceSession } from '../../src/harness/tracefs.js';
import { REVISIONS, SG_PROBES } from '../../src/harness/symbols.js';
import { chooseTarget, TargetError } from '../../src/machine/target.js';
import { discover } from '../../src/machine/topology.js';
import { disableVfsInUse } from '../../src/harness/sriov.js';
import { Journal } from '../../src/host/journal.js';

function mock(profile: 'rfc-v1' | 'fixed' | 'upstream-7.1', declared = true): MockBackend {
  return createMockBackend(
    declared ? { profile, topology: declareTopology(defaultTopology())!.topology } : { profile },
  );
}

function using<T>(b: MockBackend, f: (b: MockBackend) => T): T {
  try {
    return f(b);
  } finally {
    b.close();
  }
}

describe('capability probe on the mock', () => {
  it('rfc-v1: every capability, the rfc-v1 symbol row, the declared VFs', () => {
    using(mock('rfc-v1'), (b) => {
      const c = probeCapabilities(b, {});
      const missing = Object.entries(c.caps).filter(([, v]) => !v.ok);
      expect(missing).toEqual([]);
      expect(c.symbols.revision?.name).toBe('rfc-v1');
      expect(c.release).toBe('7.2.13-rfc-iov-v1');
      expect(c.target?.vf.bdf).toBe('0000:03:00.1');
      expect(c.target?.vfioVfs.map((v) => v.vramQuota === 0n)).toEqual([false, false, false, true]);
      expect(c.caps.dmaBufExport.detail).toMatch(/PROBE\|GET\|DMA_BUF on 0000:03:00.1 returned 0/);
      expect(c.iommuMode).toMatch(/vfio group, TYPE1v2/);
      expect(c.target?.pf.provisioning?.kind).toBe('sriov_admin');
    });
  });

  it('upstream: no IOV path, and the reason names the kernel shape', () => {
    using(mock('upstream-7.1'), (b) => {
      const c = probeCapabilities(b, {});
      expect(c.symbols.revision).toBeNull();
      expect(c.shape.name).toBe('upstream-7.1');
      expect(c.caps.interconnect.ok).toBe(false);
      expect(c.caps.interconnect.detail).toBe(
        'kernel shape upstream-7.1 — no IOV import path: xe imports a VF BAR as P2P',
      );
      expect(c.caps.sgProbes.ok).toBe(true);
    });
  });

  it('a fresh mock has no VF on vfio-pci: the target capability says how to get one', () => {
    using(mock('rfc-v1', false), (b) => {
      const c = probeCapabilities(b, {});
      expect(c.target).toBeNull();
      expect(c.caps.target.enable).toMatch(/iovh vfs enable 0000:03:00.0 2 && iovh bind <VF> vfio-pci/);
      expect(c.caps.dmaBufExport.ok).toBe(false);
    });
  });

  it('--pf/--vf pick the target, and a wrong one is explained', () => {
    using(mock('fixed'), (b) => {
      const pfs = discover(b.fs);
      expect(chooseTarget(pfs, { vf: '0000:03:00.3' }).vf.id).toBe(3);
      expect(() => chooseTarget(pfs, { vf: '0000:03:00.0' })).toThrow(TargetError);
      expect(() => chooseTarget(pfs, { pf: '0000:05:00.0' })).toThrow(/no SR-IOV PF at that address/);
    });
  });
});

describe('kprobe sessions', () => {
  it('arm in their own group and instance, see hits, and leave kprobe_events and instances as they were', () => {
    using(mock('rfc-v1'), (b) => {
      const root = '/sys/kernel/tracing';
      const before = { events: b.fs.readText(`${root}/kprobe_events`), instances: b.fs.readdir(`${root}/instances`) };
      const c = probeCapabilities(b, {});
      const s = TraceSession.create(b.fs, root);
      s.arm([...REVISIONS[0]!.probes, ...SG_PROBES], c.symbols.symbols);
      expect(s.unavailable).toEqual([]);
      expect(b.fs.readText(`${root}/kprobe_events`)).toMatch(
        new RegExp(`^r:${s.group}/match_r dma_buf_match_interconnects ret=\\$retval:u8$`, 'm'),
      );
      expect(s.hits()).toEqual([]);
      s.close();
      expect(b.fs.readText(`${root}/kprobe_events`)).toBe(before.events);
      expect(b.fs.readdir(`${root}/instances`)).toEqual(before.instances);
    });
  });

  it('a symbol the kernel does not have is reported as unavailable, never armed', () => {
    using(mock('upstream-7.1'), (b) => {
      const c = probeCapabilities(b, {});
      const s = TraceSession.create(b.fs, '/sys/kernel/tracing');
      s.arm(REVISIONS[0]!.probes, c.symbols.symbols);
      expect(s.unavailable.map((u) => u.why)).toContain('dma_buf_match_interconnects not in /proc/kallsyms');
      expect(s.armedProbes.map((a) => a.point.symbol)).toEqual([
        'xe_gt_sriov_pf_config_get_lmem_obj',
        'xe_gt_sriov_pf_config_get_lmem_obj',
      ]);
      s.close();
    });
  });
});

describe('SR-IOV disable under use, and its undo', () => {
  it('disabling the VFs through the plan engine and undoing it leaves sysfs byte for byte as it was', async () => {
    const b = mock('fixed');
    try {
      const before = b.kernel.snapshotSysfs();
      const log: string[] = [];
      const journal = Journal.memory({ backend: 'mock', where: 'test' });
      const change = await disableVfsInUse(b.fs, discover(b.fs).pfs[0]!, journal, 'test', (l) => log.push(l));
      expect(discover(b.fs).pfs[0]!.numvfs).toBe(0);
      // Only the count is written (autoprobe is off already); what the kernel clears with it is journaled, not written.
      expect(log.filter((l) => !l.includes('made by the kernel'))).toEqual([
        '+ echo 0 > /sys/bus/pci/devices/0000:03:00.0/sriov_numvfs',
      ]);
      expect(change.undo((l) => log.push(l))).toEqual([]);
      const after = b.kernel.snapshotSysfs();
      const diff = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
      expect(diff).toEqual([]);
    } finally {
      b.close();
    }
  });
});

describe('the catalog shape, brought up through sysfs', () => {
  it('four VFs on vfio-pci, VF 1 filling its BAR, VFs 2 and 3 smaller than theirs, VF 4 without LMEM', async () => {
    const b = createMockBackend({ profile: 'fixed' });
    try {
      const setup = await bringUpForCatalog(b, { pf: null });
      expect(setup.join('\n')).toMatch(
        /VRAM quotas: VF 1 4 GiB, VF 2 1 GiB, VF 3 1 GiB, VF 4 none \(VF BAR 2 is 4 GiB; \d+ writes\)/,
      );
      const pf = discover(b.fs).pfs[0]!;
      expect(pf.numvfs).toBe(4);
      expect(pf.autoprobe).toBe(false);
      expect(pf.vfs.map((v) => [v.driver, v.override, v.vramQuota])).toEqual([
        ['vfio-pci', 'vfio-pci', 4n << 30n],
        ['vfio-pci', 'vfio-pci', 1n << 30n],
        ['vfio-pci', 'vfio-pci', 1n << 30n],
        ['vfio-pci', 'vfio-pci', 0n],
      ]);
      // The same shape as the one tests declare at boot.
      const declared = createMockBackend({ profile: 'fixed', topology: declareTopology(defaultTopology())!.topology });
      try {
        const d = discover(declared.fs).pfs[0]!;
        expect(d.vfs.map((v) => [v.bdf, v.driver, v.vramQuota])).toEqual(
          pf.vfs.map((v) => [v.bdf, v.driver, v.vramQuota]),
        );
      } finally {
        declared.close();
      }
      // A machine that is already brought up is left as it is.
      expect(await bringUpForCatalog(b, { pf: null })).toEqual([]);
    } finally {
      b.close();
    }
  });

  it('--pf names the PF to bring up (a second GPU gets the VFs), and a machine that persists is left alone', async () => {
    const b = createMockBackend({ profile: 'fixed', topology: shippedTopology('two-gpus') });
    try {
      expect((await bringUpForCatalog(b, { pf: '0000:13:00.0' })).length).toBeGreaterThan(0);
      const pfs = discover(b.fs).pfs;
      expect(pfs.map((p) => [p.bdf, p.numvfs])).toEqual([
        ['0000:03:00.0', 0],
        ['0000:13:00.0', 4],
      ]);
    } finally {
      b.close();
    }
    const dir = mkdtempSync(join(tmpdir(), 'iovh-bringup-'));
    try {
      const kept = createMockBackend({ profile: 'fixed', statePath: join(dir, 'state.json') });
      expect(await bringUpForCatalog(kept, { pf: null })).toEqual([]);
      expect(discover(kept.fs).pfs[0]!.numvfs).toBe(0);
      kept.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shipped topologies', () => {
  it('each has the shape it is shipped for', () => {
    using(createMockBackend({ topology: declareTopology(shippedTopology('vf-next-bus'))!.topology }), (b) => {
      expect(discover(b.fs).pfs[0]!.vfs[0]!.bdf).toBe('0000:04:00.0');
    });
    expect(shippedTopology('vram-blocks').devices[0]!.xe!.vramBlockSize).toBe('0x200000');
    using(createMockBackend({ topology: shippedTopology('two-gpus') }), (b) => {
      expect(discover(b.fs).pfs.map((p) => [p.bdf, p.driver])).toEqual([
        ['0000:03:00.0', 'xe'],
        ['0000:13:00.0', 'xe'],
      ]);
    });
  });
});
