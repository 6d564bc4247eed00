import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ApplyFailed, Interrupted, applyPlan } from '../../src/host/apply.js';
import { Journal, type WriteRecord } from '../../src/host/journal.js';
import { formatStep, stepWrite } from '../../src/host/plan.js';
import { planBind, planProvision, planSetup, planVfsDisable, planVfsEnable } from '../../src/host/planner.js';
import { planRestore, undoRecords } from '../../src/host/restore.js';
import { SysReader } from '../../src/machine/sysfs.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { contextOf, mockMachine, recording, snapshot, tempDir, type Recorded } from './helpers.js';

const PF = '0000:03:00.0';
const dev = (bdf: string, attr: string) => `/sys/bus/pci/devices/${bdf}/${attr}`;
const quiet = { out: { step: () => undefined } };
const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

/** The mock machine, its FileOps recording every write (`writes`), and a text snapshot of its sysfs. */
interface Machine extends Recorded {
  b: MockBackend;
  snapshot(): string;
}

function machine(): Machine {
  const b = mockMachine();
  return Object.assign(recording(b.fs), { b, snapshot: () => snapshot(b) });
}

/** The driver a device is bound to, as sysfs says. */
function driverOf(k: Machine, bdf: string): string | null {
  const p = dev(bdf, 'driver');
  return k.b.fs.exists(p) ? k.b.fs.readlink(p).split('/').pop()! : null;
}

/** VF `vf`'s VRAM quota (1-based), as sriov_admin says. */
function quotaOf(k: Machine, vf: number): bigint {
  return BigInt(k.b.fs.readText(dev(PF, `sriov_admin/vf${vf}/profile/vram_quota`)).trim());
}

function journalIn(): Journal {
  const d = tempDir('iovh-apply-');
  dirs.push(d);
  return Journal.open(d.path, { backend: 'mock', where: '/test/state.json' });
}

async function run(
  k: Machine,
  j: Journal,
  build: Parameters<typeof planSetup>[0] extends infer C ? (ctx: C) => ReturnType<typeof planSetup> : never,
) {
  const plan = build(contextOf(k));
  j.begin('test');
  try {
    return { plan, applied: await applyPlan(k, plan, j, quiet) };
  } finally {
    j.end('ok');
  }
}

function restoreAll(k: Machine, j: Journal): number {
  return undoRecords(new SysReader(k), j, j.pending(), undefined, () => undefined);
}

describe('apply', () => {
  it('makes exactly the planned writes, journaling each one before it', async () => {
    const k = machine();
    const j = journalIn();
    const { plan, applied } = await run(k, j, (ctx) =>
      planSetup(ctx, {
        pfs: [
          {
            pf: PF,
            numvfs: 2,
            vfs: [
              { vf: 1, vram: 1n << 30n, driver: 'vfio-pci' },
              { vf: 2, driver: 'vfio-pci' },
            ],
          },
        ],
      }),
    );
    expect(applied).toBe(plan.steps.length);
    expect(k.writes).toEqual(plan.steps.map(stepWrite));
    const lines = readFileSync(j.file!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { t: string; before?: string });
    expect(lines.map((l) => l.t)).toEqual(['journal', 'begin', ...plan.steps.map(() => 'write'), 'end']);
    const befores = (lines.filter((l) => l.t === 'write') as { before: string }[]).map((l) => l.before);
    // VF 1's quota is set before the VFs exist (so xe keeps it), then autoprobe, then the count.
    expect(befores).toEqual(['0', '1', '0', '', '', '', '']);
    expect(driverOf(k, '0000:03:00.1')).toBe('vfio-pci');
    expect(driverOf(k, '0000:03:00.2')).toBe('vfio-pci');
    expect(quotaOf(k, 1)).toBe(1n << 30n);
  });

  it('restore after a normal run puts every attribute back, and a second restore has nothing to do', async () => {
    const k = machine();
    const before = k.snapshot();
    const j = journalIn();
    await run(k, j, (ctx) =>
      planSetup(ctx, {
        pfs: [
          {
            pf: PF,
            numvfs: 3,
            vfs: [
              { vf: 1, vram: 4n << 30n, driver: 'vfio-pci' },
              { vf: 3, driver: 'vfio-pci' },
            ],
          },
        ],
      }),
    );
    expect(k.snapshot()).not.toBe(before);
    j.begin('restore');
    restoreAll(k, j);
    j.end('ok');
    expect(k.snapshot()).toBe(before);
    expect(j.pending()).toEqual([]);
    expect(j.dropIfSettled()).toBe(true);
  });

  it('restores a VF that was bound to xe back to xe (override restored before the rebind)', async () => {
    const k = machine();
    k.writeFile(dev(PF, 'sriov_numvfs'), '2\n');
    k.writeFile(dev('0000:03:00.1', 'driver_override'), 'xe\n');
    const before = k.snapshot();
    k.writes.length = 0;
    const j = journalIn();
    await run(k, j, (ctx) => planBind(ctx, '0000:03:00.1', 'vfio-pci'));
    expect(driverOf(k, '0000:03:00.1')).toBe('vfio-pci');
    restoreAll(k, j);
    expect(k.snapshot()).toBe(before);
  });

  it('a second run of the same command changes nothing', async () => {
    const k = machine();
    const j = journalIn();
    await run(k, j, (ctx) => planVfsEnable(ctx, PF, '2'));
    const n = k.writes.length;
    const again = await run(k, j, (ctx) => planVfsEnable(ctx, PF, '2'));
    expect(again.applied).toBe(0);
    expect(k.writes.length).toBe(n);
  });

  it('fails when the kernel clamps a write, and rolls the command back', async () => {
    const k = machine();
    k.writeFile(dev(PF, 'sriov_drivers_autoprobe'), '0\n');
    k.writeFile(dev(PF, 'sriov_numvfs'), '2\n');
    const before = k.snapshot();
    const quota = dev(PF, 'sriov_admin/vf2/profile/vram_quota');
    // xe's store takes 512 MiB of the 2 GiB asked (a clamp), and says it took the write
    k.b.kernel.injectFault({ nth: 1, store: quota, takes: String(512n << 20n) });
    const j = journalIn();
    const err = await run(k, j, (ctx) =>
      planSetup(ctx, {
        pfs: [
          {
            pf: PF,
            vfs: [
              { vf: 1, vram: 2n << 30n },
              { vf: 2, vram: 2n << 30n },
            ],
          },
        ],
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyFailed);
    expect((err as ApplyFailed).rolledBack).toBe(true);
    expect((err as Error).message).toMatch(
      /step 2 of 2 .* failed: the kernel did not take .* reads '536870912', expected '2147483648' \(clamped, rounded or ignored\); rolled back with 2 writes/,
    );
    expect(k.snapshot()).toBe(before);
    expect(j.pending()).toEqual([]);
  });

  it('fails when the kernel ignores a write (driver_override that does not stick)', async () => {
    const k = machine();
    k.writeFile(dev(PF, 'sriov_drivers_autoprobe'), '0\n');
    k.writeFile(dev(PF, 'sriov_numvfs'), '1\n');
    k.b.kernel.injectFault({ nth: 1, store: dev('0000:03:00.1', 'driver_override'), ignores: true });
    const j = journalIn();
    const err = await run(k, j, (ctx) => planBind(ctx, '0000:03:00.1', 'vfio-pci')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/driver_override reads \(null\), expected 'vfio-pci'/);
    expect((err as Error).message).toMatch(/nothing was changed/);
  });

  it("reports a write's errno and rolls back what came before it", async () => {
    const k = machine();
    const before = k.snapshot();
    // sriov_numvfs_store returns the PF driver's sriov_configure error (drivers/pci/iov.c)
    k.b.kernel.injectFault({ nth: 1, store: dev(PF, 'sriov_numvfs'), errno: 'ENOMEM' });
    const j = journalIn();
    const err = await run(k, j, (ctx) => planVfsEnable(ctx, PF, '4')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(
      /step 2 of 2 \(echo 4 > .*sriov_numvfs\) failed: ENOMEM.*; rolled back with 1 write$/,
    );
    expect(k.snapshot()).toBe(before);
  });

  it('refuses to write when the machine changed since the plan was made', async () => {
    const k = machine();
    const plan = planVfsEnable(contextOf(k), PF, '2');
    k.writeFile(dev(PF, 'sriov_drivers_autoprobe'), '0\n');
    k.writes.length = 0;
    const j = journalIn();
    j.begin('test');
    const err = await applyPlan(k, plan, j, quiet).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/sriov_drivers_autoprobe is '0', not '1' as planned: the machine changed/);
    expect(k.writes).toEqual([]);
  });

  it('stops between two writes when interrupted (the CLI aborts on SIGINT) and leaves the journal for restore', async () => {
    const k = machine();
    const before = k.snapshot();
    const j = journalIn();
    const plan = planSetup(contextOf(k), { pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 1, driver: 'vfio-pci' }] }] });
    j.begin('test');
    let seen = 0;
    const interrupt = new AbortController();
    const err = await applyPlan(k, plan, j, {
      hooks: { afterWrite: () => void (++seen === 2 && interrupt.abort('SIGINT')) },
      out: { step: () => undefined },
      interrupt: interrupt.signal,
    }).catch((e: unknown) => e);
    j.end('interrupted');
    expect(err).toBeInstanceOf(Interrupted);
    expect((err as Interrupted).done).toBe(2);
    expect((err as Interrupted).message).toBe(`interrupted by SIGINT after 2 of ${plan.steps.length} writes`);
    expect(k.writes.length).toBe(2);
    expect(j.pending().length).toBe(k.writes.length);
    restoreAll(k, j);
    expect(k.snapshot()).toBe(before);
  });
});

describe('restore', () => {
  it('skips records whose target already holds what they replaced (a kill before the write)', async () => {
    const k = machine();
    const before = k.snapshot();
    const j = journalIn();
    const plan = planVfsEnable(contextOf(k), PF, '2');
    j.begin('test');
    // Journal both entries, make only the first write: what a kill between entry 2 and its write leaves.
    j.recordWrite(plan.steps[0]!, '1');
    k.writeFile(stepWrite(plan.steps[0]!).path, stepWrite(plan.steps[0]!).data);
    j.recordWrite(plan.steps[1]!, '0');
    const writes = restoreAll(k, j);
    expect(writes).toBe(1);
    expect(k.snapshot()).toBe(before);
  });

  it('--dry-run predicts the writes restore then makes', async () => {
    const k = machine();
    const j = journalIn();
    await run(k, j, (ctx) =>
      planSetup(ctx, { pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 1, vram: 2n << 30n, driver: 'vfio-pci' }] }] }),
    );
    const predicted = planRestore(k, j.pending(), 'x').steps.map(stepWrite);
    k.writes.length = 0;
    restoreAll(k, j);
    expect(k.writes).toEqual(predicted);
    expect(
      predicted.map((w) =>
        formatStep({ op: 'set', path: w.path, kind: 'count', value: w.data.trim(), before: null, why: '' }),
      )[0],
    ).toBe('echo 0000:03:00.1 > /sys/bus/pci/drivers/vfio-pci/unbind');
  });

  it('does not preset the quota of a VF that someone else removed meanwhile (xe released it with the VF)', async () => {
    const k = machine();
    const j = journalIn();
    await run(k, j, (ctx) => planVfsEnable(ctx, PF, '2'));
    await run(k, j, (ctx) => planProvision(ctx, PF, '2', 2n << 30n));
    // Another tool disables the VFs between bring-up and restore.
    k.writeFile(dev(PF, 'sriov_numvfs'), '0\n');
    k.writes.length = 0;
    restoreAll(k, j);
    expect(k.writes).toEqual([{ path: dev(PF, 'sriov_drivers_autoprobe'), data: '1\n' }]);
    expect(quotaOf(k, 2)).toBe(0n);
    // A quota journaled for a VF that was not enabled is restored even with no VFs.
    await run(k, j, (ctx) => planProvision(ctx, PF, '3', 2n << 30n));
    restoreAll(k, j);
    expect(quotaOf(k, 3)).toBe(0n);
  });

  it('writes back the quotas of VFs it re-creates before the count, and a restore killed after any write is finished by the next', async () => {
    // A PF set up with VF 1 at 2 GiB (preset: xe then gives VFs 2-4 nothing), then disabled.
    const bringUp = async () => {
      const k = machine();
      const before = k.snapshot();
      const j = journalIn();
      await run(k, j, (ctx) => planSetup(ctx, { pfs: [{ pf: PF, numvfs: 4, vfs: [{ vf: 1, vram: 2n << 30n }] }] }));
      expect([1, 2, 3, 4].map((vf) => quotaOf(k, vf))).toEqual([2n << 30n, 0n, 0n, 0n]);
      await run(k, j, (ctx) => planVfsDisable(ctx, PF));
      k.writes.length = 0;
      return { k, j, before };
    };
    const { k, j, before } = await bringUp();
    const predicted = planRestore(k, j.pending(), 'x').steps.map(stepWrite);
    restoreAll(k, j);
    expect(k.writes).toEqual(predicted);
    expect(k.snapshot()).toBe(before);
    // The re-created VFs get their quota back before they exist: the first two writes.
    expect(predicted.slice(0, 2)).toEqual([
      { path: dev(PF, 'sriov_admin/vf1/profile/vram_quota'), data: `${2n << 30n}\n` },
      { path: dev(PF, 'sriov_numvfs'), data: '4\n' },
    ]);
    for (let n = 1; n <= predicted.length; n++) {
      const m = await bringUp();
      let made = 0;
      const died = new Error('killed');
      const hooks = {
        afterWrite: () => {
          made += 1;
          if (made === n) throw died;
        },
      };
      expect(
        () => undoRecords(new SysReader(m.k), m.j, m.j.pending(), hooks, () => undefined),
        `kill after ${n}`,
      ).toThrow(died);
      restoreAll(m.k, m.j);
      expect(m.k.snapshot(), `kill after restore write ${n}`).toBe(m.before);
      expect(m.j.pending()).toEqual([]);
    }
  });

  it('says which record it could not undo, and leaves it pending', async () => {
    const k = machine();
    const j = journalIn();
    await run(k, j, (ctx) => planProvision(ctx, PF, '1', 2n << 30n));
    // xe's vram_quota store fails with the GuC's EIO
    k.b.kernel.injectFault({ nth: 1, store: dev(PF, 'sriov_admin/vf1/profile/vram_quota'), errno: 'EIO' });
    expect(() => restoreAll(k, j)).toThrow(/EIO/);
    expect(j.pending().length).toBe(1);
    expect((j.pending()[0] as WriteRecord).step.op).toBe('set');
  });
});
