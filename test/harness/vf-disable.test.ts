// lifecycle/vf-disable-while-imported takes every VF of the PF away (review
// finding 7a and the non-root should-fix): it runs only when the other VFs
// are free or the user allows it, its change is journaled through bring-up's
// journal so that `iovh restore` undoes it after a kill, and a kernel that
// refuses the write (no root) gets a skip with nothing changed.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { declareTopology } from './declared.js';
import { DEFAULT_POLICY, type RunPolicy } from '../../src/harness/caps.js';
import { disableVfsInUse } from '../../src/harness/sriov.js';
import { discover } from '../../src/machine/topology.js';
import { Journal, stateDir, type JournalTarget } from '../../src/host/journal.js';
import { runRestore, type CommandIo } from '../../src/cli/state-change.js';
import { declaredMock, runKeep, runOn, withFs, wrapFs } from './evidence-helpers.js';
import { scratchDir } from '../support/scratch.js';

const ID = 'lifecycle/vf-disable-while-imported';
const PF = '0000:03:00.0';

function bindTo(b: MockBackend, vf: string, driver: string): void {
  b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', vf);
  b.fs.writeFile(`/sys/bus/pci/devices/${vf}/driver_override`, driver);
  b.fs.writeFile('/sys/bus/pci/drivers_probe', vf);
}

/**
 * What differs, apart from the VFIO cdev names: a VFIO device's index (vfio<N>
 * under vfio-dev/) is allocated when vfio-pci probes it (vfio_main.c
 * vfio_init_device, ida_alloc), so VFs bound again in another order get other
 * names; iovh never writes them.
 */
function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const cdev = /\/vfio-dev(\/|$)/;
  return [...new Set([...before.keys(), ...after.keys()])].filter(
    (k) => !cdev.test(k) && before.get(k) !== after.get(k),
  );
}

const want = (policy: RunPolicy) => ({ want: { pf: null, vf: null, policy } });

let dir = '';
let saved: string | undefined;
beforeEach(() => {
  dir = scratchDir('iovh-vfdisable-');
  saved = process.env.IOVH_STATE_DIR;
  process.env.IOVH_STATE_DIR = join(dir, 'state');
});
afterEach(() => {
  if (saved === undefined) delete process.env.IOVH_STATE_DIR;
  else process.env.IOVH_STATE_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A kernel on which the scenario gets to disable the VFs and passes: 6.19 does not wait for the importer's
 * unmap (on 7.1 lines xe's deferred unmap holds the revoke, and the scenario stops there).
 */
const PROFILE = 'upstream-6.19';

describe('consent: every other VF free, or --allow-destructive', () => {
  it('another VF bound to xe: skip citing destructive, and nothing changed', async () => {
    const b = declaredMock(PROFILE);
    bindTo(b, '0000:03:00.3', 'xe');
    const before = b.kernel.snapshotSysfs();
    const run = await runKeep(b, [ID], want(DEFAULT_POLICY));
    const r = run.scenarios[1]!;
    expect(r.status).toBe('skip');
    expect(r.skip).toEqual({ capability: 'destructive', enable: expect.stringMatching(/--allow-destructive/) });
    expect(r.reason).toBe(
      `sriov_numvfs = 0 would remove every VF of ${PF}, and not all are free: VF 0000:03:00.3 is bound to xe`,
    );
    expect(diff(before, b.kernel.snapshotSysfs())).toEqual([]);
    b.close();
  });

  it('another VF held through VFIO by another process: skip', async () => {
    const b = declaredMock(PROFILE);
    const vmm = b.kernel.spawnProcess('qemu-system-x86');
    const { openVfioDevice } = await import('../../src/uapi/vfio.js');
    const held = openVfioDevice(vmm, '0000:03:00.2');
    const run = await runKeep(b, [ID], want(DEFAULT_POLICY));
    expect(run.scenarios[1]!.skip?.capability).toBe('destructive');
    expect(run.scenarios[1]!.reason).toMatch(/VF 0000:03:00.2 is held through VFIO by another process/);
    held.close();
    vmm.close();
    b.close();
  });

  it('with --allow-destructive it runs, and puts the xe-bound VF back on xe', async () => {
    const b = declaredMock(PROFILE);
    bindTo(b, '0000:03:00.3', 'xe');
    const before = b.kernel.snapshotSysfs();
    const run = await runKeep(b, [ID], want({ allowDestructive: true, journal: null }));
    const r = run.scenarios[1]!;
    expect(r.reason).toMatch(
      /^VFs disabled under an import without a crash, the mapping refused, 4 VFs restored as they were$/,
    );
    expect(r.status).toBe('pass');
    expect(diff(before, b.kernel.snapshotSysfs())).toEqual([]);
    b.close();
  });
});

describe('the change is journaled for iovh restore', () => {
  it('a normal run leaves no journal behind', async () => {
    const state = join(dir, 'mock.state');
    const b = createMockBackend({
      profile: PROFILE,
      topology: declareTopology(defaultTopology())!.topology,
      statePath: state,
    });
    const target: JournalTarget = { backend: 'mock', where: state };
    const run = await runOn(b, [ID], want({ allowDestructive: false, journal: target }));
    expect(run.scenarios[1]!.status).toBe('pass');
    expect(run.scenarios[1]!.evidence.journal).toMatch(/journal-mock-.*\.jsonl$/);
    expect(readdirSync(stateDir()).filter((n) => n.endsWith('.jsonl'))).toEqual([]);
  });

  it('killed after sriov_numvfs = 0: iovh restore brings every VF back as it was', async () => {
    const state = join(dir, 'mock.state');
    const topology = join(dir, 'topology.json');
    writeFileSync(topology, JSON.stringify(declareTopology(defaultTopology())!.topology));
    const b = createMockBackend({ profile: 'fixed', topology, statePath: state });
    bindTo(b, '0000:03:00.4', 'xe');
    const before = b.kernel.snapshotSysfs();
    const journal = Journal.open(stateDir(), { backend: 'mock', where: state });
    const log: string[] = [];
    await disableVfsInUse(b.fs, discover(b.fs).pfs[0]!, journal, `run ${ID}`, (l) => log.push(l));
    expect(discover(b.fs).pfs[0]!.numvfs).toBe(0);
    // The process dies here: no restore; the kernel (the state file) keeps the VFs disabled.
    b.close();
    const out: string[] = [];
    const io: CommandIo = { out: (t) => void out.push(t), err: (t) => void out.push(t) };
    expect(await runRestore({ backend: 'mock', mockState: state, topology }, io)).toBe(0);
    expect(out.join('')).toMatch(/restored: \d+ journaled writes undone/);
    const after = createMockBackend({ profile: 'fixed', topology, statePath: state });
    try {
      expect(diff(before, after.kernel.snapshotSysfs())).toEqual([]);
    } finally {
      after.close();
    }
  });
});

describe('a kernel that refuses the write (not root)', () => {
  it('skips citing root with nothing changed and nothing left to restore', async () => {
    const b = declaredMock(PROFILE);
    const before = b.kernel.snapshotSysfs();
    const fs = wrapFs(b.fs, {
      refuse: (op, path) => (op === 'write' && /\/sriov_(numvfs|drivers_autoprobe)$/.test(path) ? 'EACCES' : null),
    });
    const run = await runKeep(withFs(b, fs), [ID], want(DEFAULT_POLICY));
    const r = run.scenarios[1]!;
    expect(r.status).toBe('skip');
    expect(r.skip?.capability).toBe('root');
    expect(r.reason).toBe(`the kernel refused /sys/bus/pci/devices/${PF}/sriov_numvfs (EACCES): nothing was changed`);
    expect(r.cleanup.failed).toEqual([]);
    expect(diff(before, b.kernel.snapshotSysfs())).toEqual([]);
    b.close();
  });
});
