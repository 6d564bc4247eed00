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

import type { FileOps } from '../backend/types.js';
import { isErrno } from '../kernel/errors.js';
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
  if (typeof numvfs === 'string' && numvfs !== String(s.numVfs)) out.push(`${dir}/sriov_numvfs reads ${numvfs}, the snapshot says ${s.numVfs}`);
  const ap = strict(`${dir}/sriov_drivers_autoprobe`, () => fs.readText(`${dir}/sriov_drivers_autoprobe`).trim());
  if (typeof ap === 'string' && (s.autoprobe === null || ap !== (s.autoprobe ? '1' : '0'))) out.push(`${dir}/sriov_drivers_autoprobe reads ${ap}, the snapshot says ${s.autoprobe ?? 'unknown'}`);
  if (s.vfs.length !== s.numVfs) out.push(`${s.vfs.length} of ${s.numVfs} VFs could be listed`);
  for (const v of s.vfs) {
    const vdir = `${PCI_DEVICES}/${v.bdf}`;
    const driver = strict(`${vdir}/driver`, () => fs.readlink(`${vdir}/driver`).split('/').pop() ?? null);
    if (driver !== undefined && driver !== v.driver) out.push(`${vdir}/driver is ${driver ?? 'none'}, the snapshot says ${v.driver ?? 'none'}`);
    const ov = strict(`${vdir}/driver_override`, () => fs.readText(`${vdir}/driver_override`).trim());
    const override = ov === null || ov === undefined || ov === '(null)' || ov === '' ? null : ov;
    if (ov !== undefined && override !== v.override) out.push(`${vdir}/driver_override is ${override ?? '(null)'}, the snapshot says ${v.override ?? '(null)'}`);
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
  if (s.autoprobe !== null && ap !== (s.autoprobe ? '1' : '0')) diffs.push(`${s.pf} sriov_drivers_autoprobe is ${ap}, was ${s.autoprobe ? 1 : 0}`);
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
    if (override !== v.override) diffs.push(`${v.bdf} driver_override is ${override ?? '(null)'}, was ${v.override ?? '(null)'}`);
    const q = readQuota(fs, s.pf, v.id, s.provisioning);
    if (q !== v.quota) diffs.push(`VF ${v.id} quota is ${q ?? 'unknown'}, was ${v.quota ?? 'unknown'}`);
  }
  return diffs;
}
