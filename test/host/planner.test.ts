import { describe, expect, it } from 'vitest';
import { BringupError, InputError } from '../../src/host/errors.js';
import { formatStep, stepWrite } from '../../src/host/plan.js';
import {
  NotAvailable,
  planBind,
  planProvision,
  planSetup,
  planUnbind,
  planVfsDisable,
  planVfsEnable,
} from '../../src/host/planner.js';
import type { VramBudget } from '../../src/machine/vram.js';
import { contextOf, IGB_PF, mockMachine, withVfs } from './helpers.js';

const PF = '0000:03:00.0';
const dev = (bdf: string, attr: string) => `/sys/bus/pci/devices/${bdf}/${attr}`;

describe('plans', () => {
  it('turns autoprobe off before writing sriov_numvfs (anchors "Pitfalls")', () => {
    const k = mockMachine();
    const plan = planVfsEnable(contextOf(k.fs), '03:00.0', '2');
    expect(plan.steps.map(formatStep)).toEqual([
      `echo 0 > ${dev(PF, 'sriov_drivers_autoprobe')}`,
      `echo 2 > ${dev(PF, 'sriov_numvfs')}`,
    ]);
    expect(stepWrite(plan.steps[1]!)).toEqual({ path: dev(PF, 'sriov_numvfs'), data: '2\n' });
  });

  it('goes through 0 to change a count, releasing each VF first so the journal holds it', () => {
    const k = mockMachine();
    k.fs.writeFile(dev(PF, 'sriov_numvfs'), '2\n'); // autoprobe on: xe binds both VFs
    k.fs.writeFile(dev('0000:03:00.1', 'driver_override'), 'xe\n');
    const lines = planVfsEnable(contextOf(k.fs), PF, '4').steps.map(formatStep);
    expect(lines).toEqual([
      'echo 0000:03:00.1 > /sys/bus/pci/drivers/xe/unbind',
      `echo > ${dev('0000:03:00.1', 'driver_override')}`,
      `echo 0 > ${dev(PF, 'sriov_admin/vf1/profile/vram_quota')}`,
      'echo 0000:03:00.2 > /sys/bus/pci/drivers/xe/unbind',
      `echo 0 > ${dev(PF, 'sriov_admin/vf2/profile/vram_quota')}`,
      `echo 0 > ${dev(PF, 'sriov_numvfs')}`,
      `echo 0 > ${dev(PF, 'sriov_drivers_autoprobe')}`,
      `echo 4 > ${dev(PF, 'sriov_numvfs')}`,
    ]);
  });

  it('is empty when the machine already is as asked (idempotence)', () => {
    const k = mockMachine();
    withVfs(k, 3); // autoprobe off, 1 GiB of VRAM each
    expect(planVfsEnable(contextOf(k.fs), PF, '3').steps).toEqual([]);
    expect(planVfsDisable(contextOf(mockMachine().fs), PF).steps).toEqual([]);
    k.fs.writeFile(dev('0000:03:00.2', 'driver_override'), 'vfio-pci\n');
    k.fs.writeFile('/sys/bus/pci/drivers_probe', '0000:03:00.2\n');
    expect(planBind(contextOf(k.fs), '0000:03:00.2', 'vfio-pci').steps).toEqual([]);
    expect(planProvision(contextOf(k.fs), PF, '1', 1n << 30n).steps).toEqual([]);
    expect(planUnbind(contextOf(k.fs), '0000:03:00.1').steps).toEqual([]);
  });

  it('binds by override then drivers_probe of exactly that VF', () => {
    const k = mockMachine();
    k.fs.writeFile(dev(PF, 'sriov_numvfs'), '2\n'); // bound to xe by autoprobe
    const lines = planBind(contextOf(k.fs), '0000:03:00.2', 'vfio-pci').steps.map(formatStep);
    expect(lines).toEqual([
      'echo 0000:03:00.2 > /sys/bus/pci/drivers/xe/unbind',
      `echo vfio-pci > ${dev('0000:03:00.2', 'driver_override')}`,
      'echo 0000:03:00.2 > /sys/bus/pci/drivers_probe',
    ]);
    expect(planUnbind(contextOf(k.fs), '0000:03:00.2').steps.map(formatStep)).toEqual([
      'echo 0000:03:00.2 > /sys/bus/pci/drivers/xe/unbind',
    ]);
  });

  it('rejects bad input before planning a single write', () => {
    const k = mockMachine();
    k.fs.writeFile(dev(PF, 'sriov_numvfs'), '2\n');
    const ctx = contextOf(k.fs);
    expect(() => planVfsEnable(ctx, '0000:09:00.0', '2')).toThrow(
      new InputError('no PCI device 0000:09:00.0 on this machine (see `iovh topology`)'),
    );
    expect(() => planVfsEnable(ctx, '0000:03:00.1', '2')).toThrow(
      /0000:03:00.1 is VF 1 of 0000:03:00.0; this command takes a PF/,
    );
    expect(() => planVfsEnable(ctx, '0000:00:02.0', '2')).toThrow(/not an SR-IOV PF/);
    expect(() => planVfsEnable(ctx, PF, '9')).toThrow(/9 VFs exceeds sriov_totalvfs of 0000:03:00.0 \(8\)/);
    expect(() => planVfsEnable(ctx, PF, 'two')).toThrow(InputError);
    expect(() => planVfsEnable(ctx, PF, '99999999999999999999')).toThrow(
      new InputError("vfs enable: '99999999999999999999' is not a VF count"),
    );
    expect(() => planProvision(ctx, PF, '1x', 1n << 30n)).toThrow(new InputError("--vf: '1x' is not a VF number"));
    expect(() => planVfsEnable(ctx, PF, '0')).toThrow(/vfs disable/);
    expect(() => planBind(ctx, PF, 'vfio-pci')).toThrow(
      /has 2 VFs enabled: a PF changes driver only without VFs \(`iovh vfs disable 0000:03:00.0` first\)/,
    );
    expect(() => planProvision(ctx, PF, '9', 1n << 30n)).toThrow(/VF 9 does not exist/);
    expect(() => planProvision(ctx, PF, '1', (1n << 30n) + 4096n)).toThrow(/not a multiple of 2 MiB/);
    expect(() => planBind(ctx, '0000:03:00.1', 'nosuchdrv')).toThrow(BringupError);
    expect(() => planBind(ctx, '0000:03:00.1', 'vfio pci')).toThrow(InputError);
  });

  it('answers "not available" for provisioning on a PF that is not xe', () => {
    const ctx = contextOf(mockMachine().fs);
    expect(() => planProvision(ctx, IGB_PF, '1', 1n << 30n)).toThrow(NotAvailable);
    expect(() => planProvision(ctx, IGB_PF, '1', 1n << 30n)).toThrow(
      /driver igb; VRAM provisioning is an xe PF feature/,
    );
  });

  it('refuses vfio-pci for a VF without an IOMMU group, and VFs of a PF without a driver', () => {
    const k = mockMachine({ xeGroup: null });
    k.fs.writeFile(dev(PF, 'sriov_numvfs'), '1\n');
    expect(() => planBind(contextOf(k.fs), '0000:03:00.1', 'vfio-pci')).toThrow(/no IOMMU group/);
    const k2 = mockMachine({ xeDriver: null });
    expect(() => planVfsEnable(contextOf(k2.fs), PF, '1')).toThrow(/has no driver bound/);
  });

  it('writes shrinking quotas of enabled VFs before growing ones, and says when the growth may not fit', () => {
    const k = mockMachine();
    withVfs(k, 2); // autoprobe off, 1 GiB of VRAM each
    const grow = planSetup(contextOf(k.fs), {
      pfs: [
        {
          pf: PF,
          vfs: [
            { vf: 1, vram: 3n << 30n },
            { vf: 2, vram: 512n << 20n },
          ],
        },
      ],
    });
    expect(grow.steps.map(formatStep)).toEqual([
      `echo 536870912 > ${dev(PF, 'sriov_admin/vf2/profile/vram_quota')}`,
      `echo 3221225472 > ${dev(PF, 'sriov_admin/vf1/profile/vram_quota')}`,
    ]);
    // Without a VRAM query (no device here), the plan says the quotas were not checked.
    expect(grow.notes).toEqual([
      expect.stringMatching(
        /^0000:03:00.0: the plan raises quotas of enabled VFs by 1536 MiB more than it frees; xe answers ENOSPC/,
      ),
      '0000:03:00.0: the VRAM quotas were not checked against what xe can give (no VRAM query here); if they do not fit, xe answers ENOSPC at the write and the plan rolls back',
    ]);
    const even = planSetup(contextOf(k.fs), {
      pfs: [
        {
          pf: PF,
          vfs: [
            { vf: 1, vram: 1536n << 20n },
            { vf: 2, vram: 512n << 20n },
          ],
        },
      ],
    });
    expect(even.notes).toEqual([]);
  });

  it('says what xe does with VRAM when VFs appear: auto-provisioning, or none for VFs without a preset quota', () => {
    const k = mockMachine();
    expect(planVfsEnable(contextOf(k.fs), PF, '4').notes).toEqual([
      '0000:03:00.0: xe auto-provisions VRAM for the new VFs (an equal share each); see `iovh topology`',
    ]);
    k.fs.writeFile(dev(PF, 'sriov_admin/vf3/profile/vram_quota'), `${1n << 30n}\n`);
    const plan = planVfsEnable(contextOf(k.fs), PF, '4');
    expect(plan.notes).toEqual([expect.stringMatching(/turns xe's auto-provisioning off: VFs 1-2, 4 get no VRAM/)]);
    expect(planProvision(contextOf(k.fs), PF, '5', 1n << 30n).notes).toEqual([
      expect.stringMatching(/^VF 5 is not enabled yet: .* \(VFs without a quota then get no VRAM\)$/),
      expect.stringMatching(/quotas were not checked/),
    ]);
  });

  it('plans a whole setup against the predicted state: VFs that do not exist yet get bound', () => {
    const k = mockMachine();
    const plan = planSetup(contextOf(k.fs), {
      pfs: [
        {
          pf: PF,
          numvfs: 2,
          vfs: [
            { vf: 1, vram: 1n << 30n, driver: 'vfio-pci' },
            { vf: 2, vram: 2n << 30n },
          ],
        },
      ],
    });
    // Quotas of VFs about to be created go in before them: xe keeps them instead of auto-provisioning.
    expect(plan.steps.map(formatStep)).toEqual([
      `echo 1073741824 > ${dev(PF, 'sriov_admin/vf1/profile/vram_quota')}`,
      `echo 2147483648 > ${dev(PF, 'sriov_admin/vf2/profile/vram_quota')}`,
      `echo 0 > ${dev(PF, 'sriov_drivers_autoprobe')}`,
      `echo 2 > ${dev(PF, 'sriov_numvfs')}`,
      `echo vfio-pci > ${dev('0000:03:00.1', 'driver_override')}`,
      'echo 0000:03:00.1 > /sys/bus/pci/drivers_probe',
    ]);
    expect(() =>
      planSetup(contextOf(k.fs), { pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 3, driver: 'vfio-pci' }] }] }, 'p.json'),
    ).toThrow('p.json: pfs[0].vfs[0].vf: VF 3 does not exist with 2 VFs on 0000:03:00.0');
    expect(() => planSetup(contextOf(k.fs), { pfs: [{ pf: '0000:03:00.1', vfs: [] }] }, 'p.json')).toThrow(
      /^p.json: pfs\[0\].pf: no PCI device/,
    );
    expect(() => planSetup(contextOf(k.fs), { pfs: [{ pf: PF, numvfs: 99, vfs: [] }] }, 'p.json')).toThrow(
      /^p.json: pfs\[0\].numvfs: 99 VFs exceeds/,
    );
  });
});

describe('VRAM that cannot fit is refused before anything is written (xe pf_query_max_lmem)', () => {
  const GiB = 1n << 30n;
  const MiB = 1n << 20n;
  /** A 16 GiB PF: what xe reports free now (total_size - used), and a 128 MiB spare. */
  const withBudget = (k: ReturnType<typeof mockMachine>, free: bigint, spare: bigint | null = 128n * MiB) => {
    const asked: string[] = [];
    const ctx = {
      ...contextOf(k.fs),
      vram: (pf: string): VramBudget => (asked.push(pf), { known: true, free, spare }),
    };
    return { ctx, asked };
  };

  it('refuses a quota larger than the free VRAM plus what the VF gives back, minus the spare', () => {
    const k = mockMachine();
    withVfs(k, 2); // autoprobe off, 1 GiB of VRAM each
    const { ctx } = withBudget(k, 14n * GiB);
    expect(() => planProvision(ctx, PF, '1', 100n * GiB)).toThrow(
      new InputError(
        "--vram: the VRAM quotas of 0000:03:00.0 would add up to 101 GiB (VF 1 100 GiB, VF 2 1 GiB), more than the 16256 MiB xe can give its VFs (14 GiB free + 2 GiB held by VF quotas now - 128 MiB PF spare); lower a quota, or release other VFs' quotas in the same plan",
      ),
    );
    // What does fit (VF 1's old 1 GiB comes back) is planned, without a note.
    const { ctx: ok } = withBudget(k, 14n * GiB);
    const plan = planProvision(ok, PF, '1', 15n * GiB - 128n * MiB);
    expect(plan.steps).toHaveLength(1);
    expect(plan.notes).toEqual([]);
    const { ctx: over } = withBudget(k, 14n * GiB);
    expect(() => planProvision(over, PF, '1', 15n * GiB - 126n * MiB)).toThrow(InputError);
  });

  it('refuses a setup whose VFs together do not fit, counting the VFs that keep their quota', () => {
    const fresh = mockMachine();
    const { ctx } = withBudget(fresh, 16n * GiB);
    const twoNine = {
      pfs: [
        {
          pf: PF,
          numvfs: 2,
          vfs: [
            { vf: 1, vram: 9n * GiB },
            { vf: 2, vram: 9n * GiB },
          ],
        },
      ],
    };
    expect(() => planSetup(ctx, twoNine, 'p.json')).toThrow(
      /^p.json: pfs\[0\].vfs: the VRAM quotas of 0000:03:00.0 would add up to 18 GiB \(VF 1 9 GiB, VF 2 9 GiB\), more than the 16256 MiB xe can give/,
    );
    // Count unchanged: VF 2 keeps its 1 GiB, so VF 1 may take 15 GiB less the spare, not 16.
    const k = mockMachine();
    withVfs(k, 2); // autoprobe off, 1 GiB of VRAM each
    expect(() =>
      planSetup(withBudget(k, 14n * GiB).ctx, { pfs: [{ pf: PF, vfs: [{ vf: 1, vram: 15n * GiB }] }] }),
    ).toThrow(/VF 1 15 GiB, VF 2 1 GiB/);
    // ...unless the same plan releases it: shrinks are written first, and the check is on what the plan ends with.
    const both = planSetup(withBudget(k, 14n * GiB).ctx, {
      pfs: [
        {
          pf: PF,
          vfs: [
            { vf: 1, vram: 15n * GiB },
            { vf: 2, vram: 0n },
          ],
        },
      ],
    });
    expect(both.steps.map(formatStep)).toEqual([
      `echo 0 > ${dev(PF, 'sriov_admin/vf2/profile/vram_quota')}`,
      `echo ${15n * GiB} > ${dev(PF, 'sriov_admin/vf1/profile/vram_quota')}`,
    ]);
    // A raise that was checked and fits needs no "may not fit" note.
    expect(both.notes).toEqual([]);
  });

  it('checks nothing when a plan holds no more VRAM than before, and says so when it cannot check', () => {
    const k = mockMachine();
    withVfs(k, 2); // autoprobe off, 1 GiB of VRAM each
    const { ctx, asked } = withBudget(k, 0n);
    expect(planProvision(ctx, PF, '1', 512n * MiB).notes).toEqual([]);
    expect(asked).toEqual([]);
    const unknown = {
      ...contextOf(k.fs),
      vram: (): VramBudget => ({
        known: false,
        why: 'no render node of 0000:03:00.0 under /dev/dri to ask DRM_XE_DEVICE_QUERY_MEM_REGIONS',
      }),
    };
    expect(planProvision(unknown, PF, '1', 100n * GiB).notes).toEqual([
      '0000:03:00.0: the VRAM quotas were not checked against what xe can give (no render node of 0000:03:00.0 under /dev/dri to ask DRM_XE_DEVICE_QUERY_MEM_REGIONS); if they do not fit, xe answers ENOSPC at the write and the plan rolls back',
    ]);
    // An unreadable spare counts as none: the check still refuses only what cannot fit.
    expect(() => planProvision(withBudget(k, 14n * GiB, null).ctx, PF, '1', 17n * GiB)).toThrow(
      /\(14 GiB free \+ 2 GiB held by VF quotas now \(its spare VRAM unknown: debugfs vram_spare unreadable\)\)/,
    );
  });
});
