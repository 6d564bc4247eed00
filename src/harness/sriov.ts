// Taking a PF's VFs away and putting them back exactly as they were, for
// lifecycle/vf-disable-while-imported. The snapshot is what sysfs says before
// (kernel-abi §9): sriov_numvfs, sriov_drivers_autoprobe, and per VF its
// driver, driver_override and VRAM quota. Restoring follows the bring-up
// ordering rules (anchors.md "Pitfalls", src/host/planner.ts): quotas are
// written while the VFs are disabled (a non-zero quota set before enabling
// keeps xe from auto-provisioning, so VFs that had none get none), autoprobe
// off before sriov_numvfs, each VF bound by driver_override then
// drivers_probe, autoprobe back last; then every value is read back and any
// difference is an error.

import type { Backend, FileOps } from '../backend/types.js';
import { isErrno, SystemError } from '../uapi/errors.js';
import { openVfioDevice, VfioSetupError, type VfioDevice } from '../uapi/vfio.js';
import type { Journal } from '../host/journal.js';
import { formatStep, stepWrite, type Step } from '../host/plan.js';
import { undoRecords } from '../host/restore.js';
import { SysReader } from '../host/sysfs.js';
import { verify } from '../host/writes.js';
import { PCI_DEVICES, quotaPath, readQuota, type PfInfo } from './target.js';

export interface VfSnapshot {
  id: number;
  bdf: string;
  driver: string | null;
  override: string | null;
  quota: bigint | null;
}

export interface SriovSnapshot {
  pf: string;
  numVfs: number;
  autoprobe: boolean | null;
  provisioning: PfInfo['provisioning'];
  vfs: VfSnapshot[];
}

export function snapshotSriov(pf: PfInfo): SriovSnapshot {
  return {
    pf: pf.bdf,
    numVfs: pf.numVfs,
    autoprobe: pf.autoprobe,
    provisioning: pf.provisioning,
    vfs: pf.vfs.map((v) => ({ id: v.index + 1, bdf: v.bdf, driver: v.driver, override: v.override, quota: v.quota })),
  };
}

/**
 * Fields of a snapshot that sysfs did not answer for, read again strictly.
 * discoverPfs() takes any read error for "absent" (right for discovery); for a
 * snapshot that is restored and compared later, an unreadable `driver` link
 * or `driver_override` would be restored as none and compared as none, so a
 * VF would silently lose its binding. ENOENT is an answer (no driver, no
 * attribute); any other errno, or a value that differs from the snapshot,
 * makes the snapshot untrustworthy. Empty: every field was read.
 */
export function unreadableSnapshot(fs: FileOps, s: SriovSnapshot): string[] {
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
  const dir = `${PCI_DEVICES}/${s.pf}`;
  const numvfs = strict(`${dir}/sriov_numvfs`, () => fs.readText(`${dir}/sriov_numvfs`).trim());
  if (typeof numvfs === 'string' && numvfs !== String(s.numVfs))
    out.push(`${dir}/sriov_numvfs reads ${numvfs}, the snapshot says ${s.numVfs}`);
  const ap = strict(`${dir}/sriov_drivers_autoprobe`, () => fs.readText(`${dir}/sriov_drivers_autoprobe`).trim());
  if (typeof ap === 'string' && (s.autoprobe === null || ap !== (s.autoprobe ? '1' : '0')))
    out.push(`${dir}/sriov_drivers_autoprobe reads ${ap}, the snapshot says ${s.autoprobe ?? 'unknown'}`);
  if (s.vfs.length !== s.numVfs) out.push(`${s.vfs.length} of ${s.numVfs} VFs could be listed`);
  for (const v of s.vfs) {
    const vdir = `${PCI_DEVICES}/${v.bdf}`;
    const driver = strict(`${vdir}/driver`, () => fs.readlink(`${vdir}/driver`).split('/').pop() ?? null);
    if (driver !== undefined && driver !== v.driver)
      out.push(`${vdir}/driver is ${driver ?? 'none'}, the snapshot says ${v.driver ?? 'none'}`);
    const ov = strict(`${vdir}/driver_override`, () => fs.readText(`${vdir}/driver_override`).trim());
    const override = ov === null || ov === undefined || ov === '(null)' || ov === '' ? null : ov;
    if (ov !== undefined && override !== v.override)
      out.push(`${vdir}/driver_override is ${override ?? '(null)'}, the snapshot says ${v.override ?? '(null)'}`);
    // The quota too: one the snapshot lost to a read error would not be journaled, and after a kill (when the
    // scenario's own comparison never runs) nobody would notice it missing.
    const qpath = quotaPath(fs, s.pf, v.id, s.provisioning);
    if (qpath) {
      const q = strict(qpath, () => fs.readText(qpath).trim());
      const quota = q === null || q === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(q) ? null : BigInt(q);
      if (q !== undefined && quota !== v.quota)
        out.push(`${qpath} reads ${quota ?? 'nothing'}, the snapshot says ${v.quota ?? 'unknown'}`);
    }
  }
  return out;
}

function write(fs: FileOps, path: string, data: string, log: (line: string) => void): void {
  log(`+ echo ${JSON.stringify(data.trim() === '' ? '\\n' : data.trim())} > ${path}`);
  fs.writeFile(path, data);
}

/** sriov_numvfs = 0: the kernel unbinds and removes every VF (drivers/pci/iov.c). */
export function disableVfs(fs: FileOps, s: SriovSnapshot, log: (line: string) => void): void {
  write(fs, `${PCI_DEVICES}/${s.pf}/sriov_numvfs`, '0', log);
}

/**
 * Bring the VFs back as snapshotted; returns the differences that remain
 * (empty: restored). A write the kernel refuses does not stop the rest (a VF
 * without its quota is better than no VFs): it is reported with the others.
 */
export function restoreSriov(fs: FileOps, s: SriovSnapshot, log: (line: string) => void): string[] {
  const dir = `${PCI_DEVICES}/${s.pf}`;
  const refused: string[] = [];
  const tryWrite = (path: string, data: string): void => {
    try {
      write(fs, path, data, log);
    } catch (e) {
      refused.push(`${path} <- ${data.trim()}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const deferredQuotas: VfSnapshot[] = [];
  // Unreadable: unknown, so the whole sequence runs (writing 0 when it is 0 already is harmless).
  let numvfs: number | null = null;
  try {
    numvfs = Number(fs.readText(`${dir}/sriov_numvfs`).trim());
  } catch (e) {
    refused.push(`${dir}/sriov_numvfs could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (numvfs !== s.numVfs) {
    if (numvfs !== 0) tryWrite(`${dir}/sriov_numvfs`, '0');
    for (const v of s.vfs) {
      if (v.quota === null || v.quota === 0n) continue;
      const path = quotaPath(fs, s.pf, v.id, s.provisioning);
      if (path && fs.exists(path)) tryWrite(path, v.quota.toString());
      else deferredQuotas.push(v);
    }
    if (s.numVfs > 0) {
      tryWrite(`${dir}/sriov_drivers_autoprobe`, '0');
      tryWrite(`${dir}/sriov_numvfs`, String(s.numVfs));
    }
  }
  for (const v of deferredQuotas) {
    const path = quotaPath(fs, s.pf, v.id, s.provisioning);
    if (path) tryWrite(path, v.quota!.toString());
  }
  for (const v of s.vfs) {
    const vdir = `${PCI_DEVICES}/${v.bdf}`;
    if (v.override !== null) tryWrite(`${vdir}/driver_override`, v.override);
    if (v.driver !== null && !fs.exists(`${vdir}/driver`)) tryWrite('/sys/bus/pci/drivers_probe', v.bdf);
  }
  if (s.autoprobe !== null) tryWrite(`${dir}/sriov_drivers_autoprobe`, s.autoprobe ? '1' : '0');
  return [...refused.map((r) => `refused: ${r}`), ...compareSriov(fs, s)];
}

function readOr(fs: FileOps, path: string): string | null {
  try {
    return fs.readText(path).trim();
  } catch {
    return null;
  }
}

export function compareSriov(fs: FileOps, s: SriovSnapshot): string[] {
  const dir = `${PCI_DEVICES}/${s.pf}`;
  const diffs: string[] = [];
  const numvfs = readOr(fs, `${dir}/sriov_numvfs`);
  if (numvfs !== String(s.numVfs)) diffs.push(`${s.pf} sriov_numvfs is ${numvfs}, was ${s.numVfs}`);
  const ap = readOr(fs, `${dir}/sriov_drivers_autoprobe`);
  if (s.autoprobe !== null && ap !== (s.autoprobe ? '1' : '0'))
    diffs.push(`${s.pf} sriov_drivers_autoprobe is ${ap}, was ${s.autoprobe ? 1 : 0}`);
  for (const v of s.vfs) {
    const vdir = `${PCI_DEVICES}/${v.bdf}`;
    let driver: string | null = null;
    try {
      driver = fs.readlink(`${vdir}/driver`).split('/').pop() ?? null;
    } catch {
      driver = null;
    }
    if (driver !== v.driver) diffs.push(`${v.bdf} driver is ${driver ?? 'none'}, was ${v.driver ?? 'none'}`);
    const ov = readOr(fs, `${vdir}/driver_override`);
    const override = ov === null || ov === '(null)' || ov === '' ? null : ov;
    if (override !== v.override)
      diffs.push(`${v.bdf} driver_override is ${override ?? '(null)'}, was ${v.override ?? '(null)'}`);
    const q = readQuota(fs, s.pf, v.id, s.provisioning);
    if (q !== v.quota) diffs.push(`VF ${v.id} quota is ${q ?? 'unknown'}, was ${v.quota ?? 'unknown'}`);
  }
  return diffs;
}

/**
 * Why each VF of `pf` other than `keep` is not free to be removed by
 * sriov_numvfs = 0, empty when all are. Free: no driver, or vfio-pci with
 * nobody holding the device (opening it through VFIO succeeds, and it is
 * closed again at once). A VF bound to another driver may be in use by the
 * host (xe in VF mode, a variant driver for a VM), and a vfio-pci VF another
 * process holds is most likely a running VM's (VFIO_GROUP_GET_DEVICE_FD
 * answers EBUSY, a group has one opener: kernel-abi §4).
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

/** sriov_numvfs = 0 made under the bring-up journal, and its undo. */
export interface JournaledDisable {
  /** Put the VFs back through the journal (as `iovh restore` would); returns what still differs from the snapshot. */
  restore(log: (line: string) => void): string[];
}

/**
 * sriov_numvfs = 0 on `s.pf`, journaled so that `iovh restore` brings the VFs
 * back after a kill (src/host/journal.ts, restore.ts undoSteps). The journal
 * holds what the write replaces, including what the kernel clears with it:
 * each VF's driver binding and driver_override (the VFs go away,
 * drivers/pci/iov.c) and its VRAM quota (released with the VFs, kernel-abi
 * §9). Undo runs newest first, so the order below is the restore order read
 * backwards: quotas go back while the count is 0 (restore.ts presets: a quota
 * set before enabling keeps xe from auto-provisioning), then the count with
 * autoprobe off (the VFs come back unbound), then the overrides, then the
 * bindings, then autoprobe; a VF bound without an override is bound last,
 * once autoprobe is back (with autoprobe off only an override lets a VF
 * probe, kernel-abi §9). The two real writes (autoprobe off, then the count)
 * are read back as bring-up's are (src/host/writes.ts verify). A first write
 * the kernel refuses leaves nothing changed: ChangeRefused, the session
 * closed as rolled back.
 */
export function disableVfsJournaled(
  fs: FileOps,
  s: SriovSnapshot,
  journal: Journal,
  command: string,
  log: (line: string) => void,
): JournaledDisable {
  const r = new SysReader(fs);
  const dir = `${PCI_DEVICES}/${s.pf}`;
  const why = `${command}: sriov_numvfs = 0 removes the VF`;
  journal.begin(command);
  const virtual = (step: Step, before: string): void => void journal.recordWrite(step, before);
  let changed = false;
  const real = (step: Step, before: string): void => {
    journal.recordWrite(step, before);
    const w = stepWrite(step);
    log(`+ ${formatStep(step)}`);
    try {
      fs.writeFile(w.path, w.data);
    } catch (e) {
      if (!changed && (isErrno(e, 'EACCES') || isErrno(e, 'EPERM') || isErrno(e, 'EROFS')))
        throw new ChangeRefused(w.path, (e as { code: string }).code);
      throw e;
    }
    changed = true;
    verify(r, step);
  };
  try {
    for (const v of s.vfs)
      if (v.driver !== null && v.override === null)
        virtual({ op: 'unbind', bdf: v.bdf, driver: v.driver, why }, v.driver);
    if (s.autoprobe)
      real(
        {
          op: 'set',
          path: `${dir}/sriov_drivers_autoprobe`,
          kind: 'bool',
          value: '0',
          before: '1',
          why: `${command}: the VFs come back unbound`,
        },
        '1',
      );
    for (const v of s.vfs)
      if (v.driver !== null && v.override !== null)
        virtual({ op: 'unbind', bdf: v.bdf, driver: v.driver, why }, v.driver);
    for (const v of s.vfs)
      if (v.override !== null)
        virtual(
          {
            op: 'set',
            path: `${PCI_DEVICES}/${v.bdf}/driver_override`,
            kind: 'override',
            value: '',
            before: v.override,
            why,
          },
          v.override,
        );
    for (const v of s.vfs) {
      if (v.quota === null || v.quota === 0n) continue;
      const path = quotaPath(fs, s.pf, v.id, s.provisioning);
      const q = v.quota.toString();
      if (path)
        virtual(
          {
            op: 'set',
            path,
            kind: 'u64',
            value: '0',
            before: q,
            why: `${command}: xe releases VF quotas with the VFs`,
            enabledVf: { pf: s.pf, id: v.id },
          },
          q,
        );
    }
    real(
      {
        op: 'set',
        path: `${dir}/sriov_numvfs`,
        kind: 'count',
        value: '0',
        before: String(s.numVfs),
        why: `${command}: disable the VFs under an import`,
      },
      String(s.numVfs),
    );
  } catch (e) {
    // Roll back by state (what never happened needs nothing); what cannot be undone stays journaled for `iovh restore`.
    let rolledBack = true;
    try {
      undoRecords(r, journal, journal.sessionPending(), undefined, log);
    } catch (u) {
      rolledBack = false;
      log(`rollback stopped: ${u instanceof Error ? u.message : String(u)}`);
    }
    journal.end(rolledBack ? 'rolled-back' : 'failed');
    if (rolledBack) journal.dropIfSettled();
    throw e;
  }
  return {
    restore: (restoreLog) => {
      const problems: string[] = [];
      try {
        undoRecords(r, journal, journal.sessionPending(), undefined, restoreLog);
      } catch (e) {
        problems.push(`the journaled restore stopped: ${e instanceof Error ? e.message : String(e)}`);
      }
      problems.push(...compareSriov(fs, s));
      journal.end(problems.length === 0 ? 'ok' : 'failed');
      if (problems.length === 0) journal.dropIfSettled();
      return problems;
    },
  };
}

/** A VF quota write made under the bring-up journal, and its undo. */
export interface JournaledQuota {
  /** Writes the old quota back through the journal; returns what still differs. */
  restore(log: (line: string) => void): string[];
}

/**
 * One VF quota write (`path`, `before` -> `value`), journaled so that `iovh
 * restore` writes `before` back after a kill, read back as bring-up's writes
 * are. A write the kernel refuses leaves nothing changed and throws the
 * SystemError (the caller decides whether the refusal is an answer).
 */
export function setQuotaJournaled(
  fs: FileOps,
  target: { pf: string; vfid: number; path: string; before: bigint; value: bigint },
  journal: Journal,
  command: string,
  log: (line: string) => void,
): JournaledQuota {
  const r = new SysReader(fs);
  const step: Step = {
    op: 'set',
    path: target.path,
    kind: 'u64',
    value: target.value.toString(),
    before: target.before.toString(),
    why: `${command}: change VF ${target.vfid}'s VRAM quota under an import`,
    enabledVf: { pf: target.pf, id: target.vfid },
  };
  journal.begin(command);
  try {
    journal.recordWrite(step, target.before.toString());
    log(`+ ${formatStep(step)}`);
    fs.writeFile(target.path, target.value.toString());
    verify(r, step);
  } catch (e) {
    // Refused or not as asked: put back what may have changed; what cannot be is left to `iovh restore`.
    let rolledBack = true;
    try {
      undoRecords(r, journal, journal.sessionPending(), undefined, log);
    } catch (u) {
      rolledBack = false;
      log(`rollback stopped: ${u instanceof Error ? u.message : String(u)}`);
    }
    journal.end(rolledBack ? 'rolled-back' : 'failed');
    if (rolledBack) journal.dropIfSettled();
    throw e;
  }
  return {
    restore: (restoreLog) => {
      const problems: string[] = [];
      try {
        undoRecords(r, journal, journal.sessionPending(), undefined, restoreLog);
      } catch (e) {
        problems.push(`the journaled restore stopped: ${e instanceof Error ? e.message : String(e)}`);
      }
      const now = r.maybe(target.path)?.trim() ?? null;
      if (now === null || BigInt(now) !== target.before)
        problems.push(`${target.path} reads ${now ?? '(unreadable)'}, not ${target.before} as before`);
      journal.end(problems.length === 0 ? 'ok' : 'failed');
      if (problems.length === 0) journal.dropIfSettled();
      return problems;
    },
  };
}
