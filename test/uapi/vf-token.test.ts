// openVfioDevice and the VF token (src/uapi/vfio.ts): a VF whose PF is on
// vfio-pci opens with the run's token, on the group path ("BDF vf_token=UUID")
// and on the cdev (VFIO_DEVICE_BIND_FLAG_TOKEN), the PF's token set once by
// opening the PF with it; and the bring-up commands around a PF on vfio-pci
// (src/host/planner.ts planBind of a PF, planVfsEnable and enable_sriov).
// On the mock's igb-switch machine (test/qemu/fixtures/topology-igb-switch.json).
import { describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { BringupError, InputError } from '../../src/host/errors.js';
import { applyPlan } from '../../src/host/apply.js';
import { Journal } from '../../src/host/journal.js';
import {
  planBind,
  planVfsDisable,
  planVfsDisableInUse,
  planVfsEnable,
  VFIO_ENABLE_SRIOV,
  type PlanContext,
} from '../../src/host/planner.js';
import { planRestore, undoRecords } from '../../src/host/restore.js';
import { stepWrite } from '../../src/host/plan.js';
import { PlanState } from '../../src/host/state.js';
import { SysReader } from '../../src/machine/sysfs.js';
import { discover } from '../../src/machine/topology.js';
import { O } from '../../src/uapi/constants.js';
import { disableVfsInUse } from '../../src/harness/sriov.js';
import { SystemError } from '../../src/uapi/errors.js';
import type { Backend } from '../../src/backend/types.js';
import { PF, pfOnVfio, SYS, switchTopology, VF0, VF1 } from '../support/switch-machine.js';
import { envVfToken, openVfioDevice, uuidBytes, VfioSetupError, vfioPfOf, vfTokenFor } from '../../src/uapi/vfio.js';

function machine(enableSriov: boolean): MockBackend {
  return createMockBackend({
    // ACS on the switch's downstream port: each VF in a group of its own (pci_device_group).
    topology: switchTopology({ enableSriov, ownGroups: true }),
    profile: 'upstream-7.1',
    kernelConfig: { IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' },
  });
}

function ctx(b: MockBackend): PlanContext {
  return { state: PlanState.from(discover(b.fs)), reader: new SysReader(b.fs) };
}

describe('openVfioDevice with a PF on vfio-pci', () => {
  it('opens each VF with the run token on the group path and the cdev; one token per backend', () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      const token = vfTokenFor(b);
      expect(vfTokenFor(b)).toBe(token);
      const g = openVfioDevice(b, VF0, { access: 'group' });
      g.close();
      const c = openVfioDevice(b, VF1, { access: 'cdev' });
      // The PF itself while a VF is open: it needs the current token, the run's.
      const pf = openVfioDevice(b, PF, { access: 'group' });
      pf.close();
      expect(() => openVfioDevice(b, PF, { access: 'group', vfToken: null })).toThrow(/EACCES/);
      c.close();
      // No token asked for: the kernel's refusal comes through.
      expect(() => openVfioDevice(b, VF0, { access: 'group', vfToken: null })).toThrow(/EACCES/);
    } finally {
      b.close();
    }
  });

  it('a VF held open under another token: the PF cannot take the run token, and the error says why', () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      const other = 'bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3';
      // Another user: sets its token through the PF's cdev and keeps VF1 open with it.
      const iommufd = b.dev.open('/dev/iommu', O.RDWR);
      const cdev = (bdf: string) => `/dev/vfio/devices/${b.fs.readdir(`${SYS}/${bdf}/vfio-dev`)[0]}`;
      const pf = b.dev.open(cdev(PF), O.RDWR);
      b.dev.vfioDeviceBindIommufd(pf, iommufd, 1, uuidBytes(other));
      b.dev.close(pf);
      const vf1 = b.dev.open(cdev(VF1), O.RDWR);
      b.dev.vfioDeviceBindIommufd(vf1, iommufd, 1, uuidBytes(other));
      const e = (() => {
        try {
          openVfioDevice(b, VF0);
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(e).toBeInstanceOf(VfioSetupError);
      expect((e as Error).message).toMatch(/cannot set the VF token of PF 0000:03:00\.0.*open with another token/);
      b.dev.close(vf1);
      b.dev.close(iommufd);
    } finally {
      b.close();
    }
  });
});

describe("IOVH_VF_TOKEN: the user's own VF token", () => {
  const mine = 'BD8D9D2B-5A5F-4F5A-A211-F591514BA1F3';

  it('is the token iovh sets on the PF and opens VFs with, so a VM manager holding it still opens them', () => {
    const saved = process.env.IOVH_VF_TOKEN;
    process.env.IOVH_VF_TOKEN = mine;
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      expect(vfTokenFor(b)).toBe(mine.toLowerCase());
      openVfioDevice(b, VF0, { access: 'group' }).close();
      // No VF open now: the PF keeps the token iovh set, the user's (a random one would refuse this open).
      openVfioDevice(b, VF1, { access: 'cdev', vfToken: mine.toLowerCase() }).close();
      expect(() =>
        openVfioDevice(b, VF0, { access: 'group', vfToken: '2ab74924-c335-45f4-9b16-8569e5b08258' }),
      ).toThrow(/EACCES/);
    } finally {
      b.close();
      if (saved === undefined) delete process.env.IOVH_VF_TOKEN;
      else process.env.IOVH_VF_TOKEN = saved;
    }
  });

  it('is refused in one line when it is not a UUID', () => {
    expect(envVfToken({ IOVH_VF_TOKEN: mine })).toBe(mine.toLowerCase());
    expect(envVfToken({})).toBeNull();
    for (const bad of ['', 'bd8d9d2b', `${mine}0`, 'bd8d9d2b-5a5f-4f5a-a211-f591514ba1fg', ` ${mine}`])
      expect(() => envVfToken({ IOVH_VF_TOKEN: bad })).toThrow(/^IOVH_VF_TOKEN '.*' is not a UUID/);
  });
});

describe('bring-up of a PF on vfio-pci', () => {
  it('iovh bind takes a PF without VFs (unbind, override, probe), not one with VFs', () => {
    const b = machine(true);
    try {
      const plan = planBind(ctx(b), PF, 'vfio-pci');
      expect(plan.steps.map((s) => s.op)).toEqual(['unbind', 'set', 'probe']);
      expect(plan.title).toBe(`bind PF ${PF} to vfio-pci`);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '1');
      expect(() => planBind(ctx(b), PF, 'vfio-pci')).toThrow(InputError);
      // A PF on vfio-pci with the VFs it made: already as asked, no steps.
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '0');
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      expect(planBind(ctx(b), PF, 'vfio-pci').steps).toEqual([]);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '0');
      b.fs.writeFile(`${SYS}/${PF}/driver/unbind`, PF);
      b.fs.writeFile(`${SYS}/${PF}/driver_override`, '\n');
      b.fs.writeFile('/sys/bus/pci/drivers_probe', PF);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '1');
      expect(() => planBind(ctx(b), PF, 'vfio-pci')).toThrow(/1 VF enabled: .*iovh vfs disable 0000:03:00\.0/);
    } finally {
      b.close();
    }
  });

  it('iovh vfs enable on a PF on vfio-pci needs vfio_pci.enable_sriov=1, said before any write', () => {
    const b = machine(false);
    try {
      pfOnVfio(b);
      expect(() => planVfsEnable(ctx(b), PF, '2')).toThrow(BringupError);
      expect(() => planVfsEnable(ctx(b), PF, '2')).toThrow(/vfio_pci\.enable_sriov=1 .*reads N/);
      b.fs.writeFile('/sys/module/vfio_pci/parameters/enable_sriov', '1');
      expect(planVfsEnable(ctx(b), PF, '2').steps.length).toBeGreaterThan(0);
    } finally {
      b.close();
    }
  });

  it('iovh vfs disable on a PF on vfio-pci with enable_sriov off: refused before any write, said as removing', () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      b.fs.writeFile(VFIO_ENABLE_SRIOV, 'N');
      expect(() => planVfsDisable(ctx(b), PF)).toThrow(BringupError);
      expect(() => planVfsDisable(ctx(b), PF)).toThrow(
        /^0000:03:00\.0 is bound to vfio-pci, which removes VFs only with vfio_pci\.enable_sriov=1 .*reads N\), so its 2 VFs stay: `echo 1 > \/sys\/module\/vfio_pci\/parameters\/enable_sriov` first/,
      );
      b.fs.writeFile(VFIO_ENABLE_SRIOV, '1');
      expect(planVfsDisable(ctx(b), PF).steps.length).toBeGreaterThan(0);
    } finally {
      b.close();
    }
  });

  it('disabling VFs under an import (planVfsDisableInUse) on such a PF: refused before any write, journal empty', async () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '2');
      b.fs.writeFile(VFIO_ENABLE_SRIOV, 'N');
      expect(() => planVfsDisableInUse(ctx(b), PF, 'run x')).toThrow(/removes VFs only with vfio_pci\.enable_sriov=1/);
      const j = Journal.memory({ backend: 'mock', where: '/test/state.json' });
      const pf = discover(b.fs).pfs.find((p) => p.bdf === PF)!;
      const autoprobe = b.fs.readText(`${SYS}/${PF}/sriov_drivers_autoprobe`);
      const lines: string[] = [];
      await expect(disableVfsInUse(b.fs, pf, j, 'run x', (l) => lines.push(l))).rejects.toThrow(BringupError);
      expect(lines).toEqual([]);
      expect(j.pending()).toEqual([]);
      expect(b.fs.readText(`${SYS}/${PF}/sriov_drivers_autoprobe`)).toBe(autoprobe);
      expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`).trim()).toBe('2');
    } finally {
      b.close();
    }
  });

  // vfio_pci_sriov_configure (drivers/vfio/pci/vfio_pci.c) answers ENOENT to every sriov_numvfs write, 0 too,
  // once enable_sriov is off; vfio_pci_remove's vfio_pci_core_unregister_device disables the VFs regardless.
  it('restore after vfio_pci.enable_sriov went off: unbinding the PF from vfio-pci disables its VFs', async () => {
    const b = machine(true);
    try {
      const j = Journal.memory({ backend: 'mock', where: '/test/state.json' });
      const out = { out: { step: () => undefined } };
      for (const plan of [() => planBind(ctx(b), PF, 'vfio-pci'), () => planVfsEnable(ctx(b), PF, '2')]) {
        j.begin('x');
        await applyPlan(b.fs, plan(), j, out);
        j.end('ok');
      }
      expect(b.fs.readText(`${SYS}/${VF0}/driver_override`).trim()).toBe('vfio-pci');
      b.fs.writeFile(VFIO_ENABLE_SRIOV, '0');
      const predicted = planRestore(b.fs, j.pending(), 'x').steps.map(stepWrite);
      const made: string[] = [];
      undoRecords(new SysReader(b.fs), j, j.pending(), undefined, (l) => made.push(l));
      expect(made[0]).toBe(`+ echo ${PF} > /sys/bus/pci/drivers/vfio-pci/unbind`);
      expect(predicted.length).toBe(made.length);
      expect(j.pending()).toEqual([]);
      expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`).trim()).toBe('0');
      expect(new SysReader(b.fs).driverOf(PF)).toBe('igb');
    } finally {
      b.close();
    }
  });

  it('restore of VFs of a PF that was on vfio-pci before: one line on how to finish, journal kept', async () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      const j = Journal.memory({ backend: 'mock', where: '/test/state.json' });
      j.begin('x');
      await applyPlan(b.fs, planVfsEnable(ctx(b), PF, '2'), j, { out: { step: () => undefined } });
      j.end('ok');
      b.fs.writeFile(VFIO_ENABLE_SRIOV, 'N');
      const n = j.pending().length;
      const err = (() => {
        try {
          undoRecords(new SysReader(b.fs), j, j.pending(), undefined, () => undefined);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(BringupError);
      expect(err!.message).not.toContain('\n');
      expect(err!.message).toMatch(
        /0000:03:00\.0 keeps its 2 VFs: .*vfio_pci\.enable_sriov is off.*echo 1 > \/sys\/module\/vfio_pci\/parameters\/enable_sriov` first \(the journal is kept\)$/,
      );
      expect(j.pending().length).toBe(n);
      expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`).trim()).toBe('2');
    } finally {
      b.close();
    }
  });
});

describe('vfioPfOf', () => {
  it('is null only when the link is not there (ENOENT); EACCES or EIO on physfn or driver is reported', () => {
    const b = machine(true);
    try {
      pfOnVfio(b);
      b.fs.writeFile(`${SYS}/${PF}/sriov_numvfs`, '1');
      expect(vfioPfOf(b, VF0)).toBe(PF);
      expect(vfioPfOf(b, PF)).toBeNull();
      for (const [link, errno] of [
        ['/physfn', 13],
        ['/driver', 5],
      ] as const) {
        const fs = new Proxy(b.fs, {
          get(target, key, receiver) {
            if (key !== 'readlink') return Reflect.get(target, key, receiver);
            return (path: string) => {
              if (path.endsWith(link)) throw new SystemError({ errno, syscall: 'readlink', path });
              return target.readlink(path);
            };
          },
        });
        expect(() => vfioPfOf({ fs } as unknown as Backend, VF0)).toThrow(errno === 13 ? /^EACCES/ : /^EIO/);
      }
    } finally {
      b.close();
    }
  });
});
