// Changing the machine under an import and putting it back exactly as it
// was: a PF's VFs taken away (lifecycle/vf-disable-while-imported,
// leak/lmem-object), a VF's quota changed (lifecycle/requota-while-imported).
// Each change is a plan of bring-up's planner (src/host/planner.ts) applied by
// the one engine (src/host/apply.ts TemporaryChange): journaled before it is
// made, read back, undone through the journal, so `iovh restore` finishes it
// after a kill. This file only decides whether the VFs may be taken, and
// whether what the plan relies on could be read.

import type { Backend, FileOps } from '../backend/types.js';
import { isErrno, SystemError } from '../uapi/errors.js';
import { openVfioDevice, VfioSetupError, type VfioDevice } from '../uapi/vfio.js';
import { ApplyFailed, TemporaryChange } from '../host/apply.js';
import type { Journal } from '../host/journal.js';
import type { Plan } from '../host/plan.js';
import { planProvision, planVfsDisableInUse } from '../host/planner.js';
import { PlanState } from '../host/state.js';
import { devicePath, parseOverride, parseU64, SysReader } from '../machine/sysfs.js';
import type { PfInfo } from '../machine/topology.js';

/**
 * What the plan relies on that sysfs did not answer for, read again
 * strictly. Discovery takes any read error for "absent" (right for
 * listing); a plan built on it would journal an unreadable `driver` link or
 * `driver_override` as none, or leave out an unreadable VRAM quota, and the
 * VF would silently lose its binding or its VRAM when restored. ENOENT is an
 * answer (no driver, no attribute; but a quota file the PF's interface has must
 * be there); any other errno,
 * or a value that differs from what discovery read, makes the state
 * untrustworthy. Empty: every field was read.
 */
export function unreadableState(fs: FileOps, pf: PfInfo): string[] {
  const out: string[] = [];
  const strict = <T>(path: string, read: () => T): T | null | undefined => {
    try {
      return read();
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return null;
      out.push(`${path}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
  const numvfs = strict(devicePath(pf.bdf, 'sriov_numvfs'), () =>
    fs.readText(devicePath(pf.bdf, 'sriov_numvfs')).trim(),
  );
  if (typeof numvfs === 'string' && numvfs !== String(pf.numvfs))
    out.push(`${devicePath(pf.bdf, 'sriov_numvfs')} reads ${numvfs}, discovery read ${pf.numvfs}`);
  const apPath = devicePath(pf.bdf, 'sriov_drivers_autoprobe');
  const ap = strict(apPath, () => fs.readText(apPath).trim());
  if (typeof ap === 'string' && (pf.autoprobe === null || ap !== (pf.autoprobe ? '1' : '0')))
    out.push(`${apPath} reads ${ap}, discovery read ${pf.autoprobe ?? 'unknown'}`);
  if (pf.vfs.length !== pf.numvfs) out.push(`${pf.vfs.length} of ${pf.numvfs} VFs could be listed`);
  for (const v of pf.vfs) {
    const driver = strict(
      devicePath(v.bdf, 'driver'),
      () => fs.readlink(devicePath(v.bdf, 'driver')).split('/').pop() ?? null,
    );
    if (driver !== undefined && driver !== v.driver)
      out.push(`${devicePath(v.bdf, 'driver')} is ${driver ?? 'none'}, discovery read ${v.driver ?? 'none'}`);
    const ov = strict(devicePath(v.bdf, 'driver_override'), () =>
      parseOverride(fs.readText(devicePath(v.bdf, 'driver_override'))),
    );
    if (ov !== undefined && ov !== v.override)
      out.push(
        `${devicePath(v.bdf, 'driver_override')} is ${ov ?? '(null)'}, discovery read ${v.override ?? '(null)'}`,
      );
    // The quota too: one discovery lost to a read error would not be journaled, and after a kill (when the
    // scenario's own comparison never runs) nobody would notice it missing.
    const paths = pf.provisioning?.quotaPaths(v.id) ?? [];
    let sum: bigint | null = 0n;
    for (const qpath of paths) {
      const q = strict(qpath, () => fs.readText(qpath).trim());
      const quota = typeof q === 'string' ? parseU64(q) : null;
      sum = sum === null || quota === null ? null : sum + quota;
    }
    if (paths.length > 0 && sum !== null && sum !== v.vramQuota)
      out.push(
        `the VRAM quota of VF ${v.id} (${paths.join(', ')}) reads ${sum}, discovery read ${v.vramQuota ?? 'unknown'}`,
      );
    // A quota that could not be read would not be journaled, and the VF would come back without its VRAM.
    if (pf.provisioning && v.vramQuota === null)
      out.push(`the VRAM quota of VF ${v.id} (${pf.provisioning.quotaPaths(v.id).join(', ')}) could not be read`);
  }
  return out;
}

/**
 * Why each VF of `pf` other than `keep` is not free to be removed by
 * sriov_numvfs = 0, empty when all are. Free: no driver, or vfio-pci with
 * nobody holding the device (opening it through VFIO succeeds, and it is
 * closed again at once). A VF bound to another driver may be in use by the
 * host (xe in VF mode, a variant driver for a VM), and a vfio-pci VF another
 * process holds is most likely a running VM's (VFIO_GROUP_GET_DEVICE_FD
 * answers EBUSY, a group has one opener: docs/kernel.md §4).
 */
export function busyVfs(backend: Backend, pf: PfInfo, keep: string): string[] {
  const out: string[] = [];
  for (const vf of pf.vfs) {
    if (vf.bdf === keep || vf.driver === null) continue;
    if (vf.driver !== 'vfio-pci') {
      out.push(`VF ${vf.bdf} is bound to ${vf.driver}`);
      continue;
    }
    let device: VfioDevice;
    try {
      device = openVfioDevice(backend, vf.bdf);
    } catch (e) {
      if (e instanceof VfioSetupError || e instanceof SystemError) {
        out.push(`VF ${vf.bdf} is held through VFIO by another process (${e.message})`);
        continue;
      }
      throw e;
    }
    device.close();
  }
  return out;
}

/** A write the kernel refused before anything was changed (no root, a read-only sysfs): the change never happened. */
export class ChangeRefused extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`${path}: ${code}`);
    this.name = 'ChangeRefused';
  }
}

/**
 * sriov_numvfs = 0 on `pf` (as read, and checked with unreadableState) under
 * an import, as a TemporaryChange whose undo() brings the VFs back. A first
 * write the kernel refuses for want of privilege leaves nothing changed:
 * ChangeRefused. Any other errno that stopped it, once rolled back, is
 * thrown as the kernel's SystemError it is.
 */
export async function disableVfsInUse(
  fs: FileOps,
  pf: PfInfo,
  journal: Journal,
  command: string,
  log: (line: string) => void,
): Promise<TemporaryChange> {
  const reader = new SysReader(fs);
  const plan = planVfsDisableInUse({ state: PlanState.of([pf]), reader }, pf.bdf, command);
  return applyInUse(fs, plan, journal, command, log);
}

/**
 * VF `vfId`'s VRAM quota set to `bytes` under an import, as a plan of
 * bring-up's planner (planProvision: one file, read back exactly) applied
 * as a TemporaryChange whose undo() writes the old quota back; `iovh
 * restore` does it after a kill. Errors as disableVfsInUse: ChangeRefused
 * when nothing changed for want of privilege, the kernel's SystemError for
 * any other refused write; a BringupError (InputError, NotAvailable) when
 * bring-up cannot plan it (no single quota file: a multi-tile debugfs PF).
 */
export async function setQuotaInUse(
  fs: FileOps,
  pf: PfInfo,
  vfId: number,
  bytes: bigint,
  journal: Journal,
  command: string,
  log: (line: string) => void,
): Promise<TemporaryChange> {
  const reader = new SysReader(fs);
  const plan = planProvision({ state: PlanState.of([pf]), reader }, pf.bdf, String(vfId), bytes);
  return applyInUse(fs, plan, journal, command, log);
}

async function applyInUse(
  fs: FileOps,
  plan: Plan,
  journal: Journal,
  command: string,
  log: (line: string) => void,
): Promise<TemporaryChange> {
  try {
    return await TemporaryChange.apply(fs, plan, journal, command, { out: { step: log }, rollbackNote: log });
  } catch (e) {
    if (
      e instanceof ApplyFailed &&
      e.rolledBack &&
      e.undone === 0 &&
      (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS')
    )
      throw new ChangeRefused(e.path ?? 'sysfs', e.code);
    if (e instanceof ApplyFailed && e.rolledBack && e.failure instanceof SystemError) throw e.failure;
    throw e;
  }
}
