// The devices under test, found through sysfs (kernel-abi §9): SR-IOV PFs
// (they have sriov_totalvfs), their VFs (virtfnN links, 0-based), drivers,
// IOMMU groups, BARs (the `resource` file) and each VF's LMEM quota from
// whichever provisioning interface the kernel has: sysfs
// sriov_admin/vfN/profile/vram_quota (7.0+), debugfs
// dri/<BDF>/sriov/vfN/tileT/vram_quota, or the legacy
// dri/<minor>/gtG/vfN/lmem_quota symlinks (kernel-abi §9, §11.11).
// Reads only.

import { basename } from 'node:path';
import type { FileOps } from '../backend/types.js';
import { parseBdf } from '../uapi/bdf.js';

export const PCI_DEVICES = '/sys/bus/pci/devices';

/** `--pf`/`--vf` as typed (`0000:03:00.1`, `03:00.1`, `10000:e0:00.0`): the sysfs name, or null (src/uapi/bdf.ts). */
export { normalizeBdf } from '../uapi/bdf.js';

/** The bus number of a device name (any domain width). */
export function busOf(bdf: string): number {
  const a = parseBdf(bdf);
  if (!a) throw new RangeError(`not a PCI address: '${bdf}'`);
  return a.bus;
}

export interface Bar {
  index: number;
  start: bigint;
  size: bigint;
  flags: bigint;
}

/** IORESOURCE_MEM / IORESOURCE_IO (include/linux/ioport.h). */
export const IORESOURCE_IO = 0x100n;
export const IORESOURCE_MEM = 0x200n;

/** sysfs `resource`: one `0x%016llx 0x%016llx 0x%016llx` line per resource (start end flags; drivers/pci/pci-sysfs.c resource_show). */
export function parseResource(text: string): Bar[] {
  const out: Bar[] = [];
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .forEach((line, index) => {
      const [s, e, f] = line
        .trim()
        .split(/\s+/)
        .map((x) => BigInt(x));
      if (s === undefined || e === undefined || f === undefined) return;
      const size = s === 0n && e === 0n ? 0n : e - s + 1n;
      out.push({ index, start: s, size, flags: f });
    });
  return out;
}

export type ProvisioningInterface = 'sriov_admin' | 'debugfs' | 'legacy';

export interface VfInfo {
  bdf: string;
  /** 0-based (virtfnN); xe's VF id is index + 1. */
  index: number;
  driver: string | null;
  override: string | null;
  iommuGroup: number | null;
  bars: Bar[];
  /** VRAM quota in bytes, or null when no provisioning interface answers. */
  quota: bigint | null;
}

export interface PfInfo {
  bdf: string;
  driver: string | null;
  vendor: number | null;
  device: number | null;
  totalVfs: number;
  numVfs: number;
  offset: number | null;
  stride: number | null;
  autoprobe: boolean | null;
  vfs: VfInfo[];
  provisioning: ProvisioningInterface | null;
}

export interface Target {
  pf: PfInfo;
  /** The VF the single-VF scenarios use: bound to vfio-pci. */
  vf: VfInfo;
  /** Every VF of the PF bound to vfio-pci (import/iov-every-vf, stress/many-buffers). */
  vfioVfs: VfInfo[];
  /** How the target was chosen. */
  why: string;
}

function read(fs: FileOps, path: string): string | null {
  try {
    return fs.readText(path).trim();
  } catch {
    return null;
  }
}

function readInt(fs: FileOps, path: string): number | null {
  const t = read(fs, path);
  if (t === null) return null;
  const n = t.startsWith('0x') ? parseInt(t, 16) : Number(t);
  return Number.isFinite(n) ? n : null;
}

function link(fs: FileOps, path: string): string | null {
  try {
    return basename(fs.readlink(path));
  } catch {
    return null;
  }
}

function bars(fs: FileOps, bdf: string): Bar[] {
  const text = read(fs, `${PCI_DEVICES}/${bdf}/resource`);
  if (text === null) return [];
  try {
    return parseResource(text);
  } catch {
    return [];
  }
}

/** Which provisioning interface the PF offers (kernel-abi §9). */
export function provisioningOf(fs: FileOps, pf: string): ProvisioningInterface | null {
  if (fs.exists(`${PCI_DEVICES}/${pf}/sriov_admin`)) return 'sriov_admin';
  if (fs.exists(`/sys/kernel/debug/dri/${pf}/sriov`)) return 'debugfs';
  if (legacyQuotaPath(fs, pf, 1) !== null) return 'legacy';
  return null;
}

function legacyQuotaPath(fs: FileOps, pf: string, vfid: number): string | null {
  const base = `/sys/kernel/debug/dri/${pf}`;
  const p = `${base}/gt0/vf${vfid}/lmem_quota`;
  return fs.exists(p) ? p : null;
}

/** The quota file of VF `vfid` (1-based) on `pf`, by interface; null when there is none. */
export function quotaPath(fs: FileOps, pf: string, vfid: number, iface: ProvisioningInterface | null): string | null {
  switch (iface) {
    case 'sriov_admin':
      return `${PCI_DEVICES}/${pf}/sriov_admin/vf${vfid}/profile/vram_quota`;
    case 'debugfs':
      return `/sys/kernel/debug/dri/${pf}/sriov/vf${vfid}/tile0/vram_quota`;
    case 'legacy':
      return legacyQuotaPath(fs, pf, vfid);
    case null:
      return null;
  }
}

export function readQuota(fs: FileOps, pf: string, vfid: number, iface: ProvisioningInterface | null): bigint | null {
  const path = quotaPath(fs, pf, vfid, iface);
  if (!path) return null;
  const t = read(fs, path);
  if (t === null || !/^(0x[0-9a-f]+|\d+)$/i.test(t)) return null;
  return BigInt(t);
}

function vfInfo(fs: FileOps, pf: string, index: number, iface: ProvisioningInterface | null): VfInfo | null {
  const bdf = link(fs, `${PCI_DEVICES}/${pf}/virtfn${index}`);
  if (!bdf) return null;
  const dir = `${PCI_DEVICES}/${bdf}`;
  const override = read(fs, `${dir}/driver_override`);
  const group = link(fs, `${dir}/iommu_group`);
  return {
    bdf,
    index,
    driver: link(fs, `${dir}/driver`),
    override: override === null || override === '(null)' || override === '' ? null : override,
    iommuGroup: group !== null && /^\d+$/.test(group) ? Number(group) : null,
    bars: bars(fs, bdf),
    quota: readQuota(fs, pf, index + 1, iface),
  };
}

/** Every SR-IOV PF on the machine, with its VFs. */
export function discoverPfs(fs: FileOps): PfInfo[] {
  let names: string[];
  try {
    names = fs.readdir(PCI_DEVICES);
  } catch {
    return [];
  }
  const out: PfInfo[] = [];
  for (const bdf of names.sort()) {
    const dir = `${PCI_DEVICES}/${bdf}`;
    const total = readInt(fs, `${dir}/sriov_totalvfs`);
    if (total === null) continue;
    const numVfs = readInt(fs, `${dir}/sriov_numvfs`) ?? 0;
    const iface = provisioningOf(fs, bdf);
    const vfs: VfInfo[] = [];
    for (let i = 0; i < numVfs; i++) {
      const vf = vfInfo(fs, bdf, i, iface);
      if (vf) vfs.push(vf);
    }
    const autoprobe = read(fs, `${dir}/sriov_drivers_autoprobe`);
    out.push({
      bdf,
      driver: link(fs, `${dir}/driver`),
      vendor: readInt(fs, `${dir}/vendor`),
      device: readInt(fs, `${dir}/device`),
      totalVfs: total,
      numVfs,
      offset: readInt(fs, `${dir}/sriov_offset`),
      stride: readInt(fs, `${dir}/sriov_stride`),
      autoprobe: autoprobe === null ? null : autoprobe === '1',
      vfs,
      provisioning: iface,
    });
  }
  return out;
}

export class TargetError extends Error {
  constructor(
    message: string,
    readonly enable: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/**
 * What is wrong with --pf/--vf on this machine, in one line, or null: the
 * address must name an SR-IOV PF (--pf) or one of its VFs (--vf), and a
 * --vf must belong to the --pf given with it. Whether the VF is bound to
 * vfio-pci is not checked here: that is the machine's state, a capability
 * every scenario then skips on with how to fix it (chooseTarget).
 */
export function wantedProblem(
  fs: FileOps,
  pfs: readonly PfInfo[],
  want: { pf?: string | null; vf?: string | null },
): string | null {
  const vfOf = (bdf: string): PfInfo | undefined => pfs.find((p) => p.vfs.some((v) => v.bdf === bdf));
  const present = (bdf: string): boolean => fs.exists(`${PCI_DEVICES}/${bdf}`);
  if (want.pf) {
    const pf = pfs.find((p) => p.bdf === want.pf);
    if (!pf) {
      const parent = vfOf(want.pf);
      if (parent) return `--pf ${want.pf} is a VF (of PF ${parent.bdf}), not a PF`;
      return present(want.pf)
        ? `--pf ${want.pf} is not an SR-IOV PF (no sriov_totalvfs); see \`iovh topology\``
        : `--pf ${want.pf}: no PCI device at that address; see \`iovh topology\``;
    }
  }
  if (want.vf) {
    const pf = vfOf(want.vf);
    if (!pf) {
      if (pfs.some((p) => p.bdf === want.vf)) return `--vf ${want.vf} is a PF, not a VF (use --pf)`;
      return present(want.vf)
        ? `--vf ${want.vf} is not a VF of any SR-IOV PF on this machine; see \`iovh topology\``
        : `--vf ${want.vf}: no PCI device at that address; see \`iovh topology\``;
    }
    if (want.pf && want.pf !== pf.bdf) return `--vf ${want.vf} belongs to PF ${pf.bdf}, not to --pf ${want.pf}`;
  }
  return null;
}

/**
 * Pick the PF and VF under test. With --vf, that VF (its PF follows); with
 * --pf, that PF's first VF on vfio-pci; otherwise the first PF driven by xe
 * with a VF on vfio-pci, then any PF with one (QEMU's igb/nvme: export
 * scenarios still run). A provisioned VF is preferred over an unprovisioned one.
 */
export function chooseTarget(pfs: readonly PfInfo[], want: { pf?: string | null; vf?: string | null }): Target {
  const vfio = (pf: PfInfo): VfInfo[] => pf.vfs.filter((v) => v.driver === 'vfio-pci');
  const preferProvisioned = (vfs: VfInfo[]): VfInfo => vfs.find((v) => v.quota === null || v.quota > 0n) ?? vfs[0]!;
  if (want.vf) {
    const pf = pfs.find((p) => p.vfs.some((v) => v.bdf === want.vf));
    if (!pf)
      throw new TargetError(
        `--vf ${want.vf}: not a VF of any SR-IOV PF on this machine`,
        'list the VFs with `iovh topology`',
      );
    if (want.pf && want.pf !== pf.bdf)
      throw new TargetError(
        `--vf ${want.vf} belongs to PF ${pf.bdf}, not --pf ${want.pf}`,
        'drop --pf or pick a VF of that PF',
      );
    const vf = pf.vfs.find((v) => v.bdf === want.vf)!;
    if (vf.driver !== 'vfio-pci') {
      throw new TargetError(
        `--vf ${vf.bdf} is bound to ${vf.driver ?? 'no driver'}, not vfio-pci`,
        `iovh bind ${vf.bdf} vfio-pci`,
      );
    }
    return { pf, vf, vfioVfs: vfio(pf), why: `--vf ${vf.bdf}` };
  }
  if (want.pf) {
    const pf = pfs.find((p) => p.bdf === want.pf);
    if (!pf)
      throw new TargetError(`--pf ${want.pf}: no SR-IOV PF at that address`, 'list the PFs with `iovh topology`');
    const vfs = vfio(pf);
    if (vfs.length === 0) {
      const how =
        pf.numVfs === 0
          ? `iovh vfs enable ${pf.bdf} 2 && iovh bind <VF> vfio-pci`
          : `iovh bind ${pf.vfs[0]?.bdf ?? '<VF>'} vfio-pci`;
      throw new TargetError(`--pf ${pf.bdf} has ${pf.numVfs} VFs and none is bound to vfio-pci`, how);
    }
    return { pf, vf: preferProvisioned(vfs), vfioVfs: vfs, why: `--pf ${pf.bdf}` };
  }
  const candidates = [...pfs.filter((p) => p.driver === 'xe'), ...pfs.filter((p) => p.driver !== 'xe')];
  for (const pf of candidates) {
    const vfs = vfio(pf);
    if (vfs.length > 0) {
      const vf = preferProvisioned(vfs);
      return { pf, vf, vfioVfs: vfs, why: `first ${pf.driver === 'xe' ? 'xe ' : ''}PF with a VF on vfio-pci` };
    }
  }
  if (pfs.length === 0) {
    throw new TargetError(
      'no SR-IOV PF on this machine',
      'run on a machine with an SR-IOV GPU, or with --backend mock',
    );
  }
  const pf = candidates[0]!;
  const how =
    pf.numVfs === 0
      ? `iovh vfs enable ${pf.bdf} 2 && iovh bind <VF> vfio-pci`
      : `iovh bind ${pf.vfs[0]?.bdf ?? '<VF>'} vfio-pci`;
  throw new TargetError(`no VF bound to vfio-pci (PF ${pf.bdf} has ${pf.numVfs} VFs enabled)`, how);
}

/** The VF's BAR 2 (LMEM, kernel-abi §9), if it is a memory BAR. */
export function lmemBar(vf: VfInfo): Bar | null {
  const b = vf.bars[2];
  return b && b.size > 0n && (b.flags & IORESOURCE_MEM) !== 0n ? b : null;
}
