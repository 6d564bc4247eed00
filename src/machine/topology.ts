// The machine as iovh sees it, read from sysfs in one place for every command
// (doctor, topology, bring-up, run): every SR-IOV PF (a device with
// sriov_totalvfs), its VFs through the virtfnN links (0-based: virtfn0 is VF
// 1, docs/kernel.md §9), drivers, overrides, IOMMU groups, BARs, VRAM quotas per
// tile from whichever provisioning interface the PF has, and the DRM nodes
// with the PCI device behind each. Reads only.
import type { FileOps } from '../backend/types.js';
import { parseBdf } from '../uapi/bdf.js';
import { SystemError } from '../uapi/errors.js';
import { listDrmNodes, type DrmNode } from '../uapi/drm.js';
import { probeProvisioning, readQuota, readQuotaTiles, type Provisioning } from './provisioning.js';
import {
  IORESOURCE_PREFETCH,
  IOMMU_GROUPS,
  PCI_DEVICES,
  PCI_IOV_RESOURCES,
  SysReader,
  barKind,
  devicePath,
  parseBool,
  parseDecimal,
  parseHex,
  parseResource,
  type BarKind,
} from './sysfs.js';

export interface Bar {
  index: number;
  start: bigint;
  size: bigint;
  kind: BarKind;
  prefetchable: boolean;
}

/** A VF BAR as the PF's SR-IOV capability reserves it, and as the enabled VFs have it now. */
export interface VfBar extends Bar {
  /**
   * The BAR's size on the enabled VFs when it is not `size`: the PF driver
   * resized it through the VF Resizable BAR (xe grows VF BAR 2 when fewer
   * VFs are enabled, docs/kernel.md §9). Null when it is `size`, or no VF is
   * enabled.
   */
  resizedTo: bigint | null;
}

export interface VfInfo {
  /** 1-based, xe's vfN; virtfn(id - 1) */
  id: number;
  bdf: string;
  vendor: number | null;
  device: number | null;
  driver: string | null;
  override: string | null;
  iommuGroup: number | null;
  bars: Bar[];
  /** bytes, the sum over tiles; null when the PF has no provisioning interface or a file cannot be read */
  vramQuota: bigint | null;
  /** bytes per tile, in tile order (one entry unless debugfs shows several tiles); null as vramQuota */
  vramQuotaTiles: bigint[] | null;
}

export interface PfInfo {
  bdf: string;
  vendor: number | null;
  device: number | null;
  class: number | null;
  driver: string | null;
  iommuGroup: number | null;
  totalvfs: number;
  numvfs: number;
  /** sriov_drivers_autoprobe; null when unreadable */
  autoprobe: boolean | null;
  /** First VF Offset and VF Stride (sriov_offset, sriov_stride) */
  offset: number;
  stride: number;
  vfDevice: number | null;
  bars: Bar[];
  /**
   * One VF's BAR at enumeration (its slot in the IOV resource), per VF BAR
   * index, start = the IOV resource's start: see perVfBarSize() for how the
   * size is found, and `resizedTo` for the size enabled VFs have now.
   */
  vfBars: VfBar[];
  provisioning: Provisioning | null;
  /** Why provisioning is (not) available, in words. */
  provisioningNote: string;
  /**
   * Quota of every VF id 1..totalvfs, enabled or not (xe keeps a quota set
   * before enabling, docs/kernel.md §9); index id-1; empty without provisioning.
   */
  quotas: (bigint | null)[];
  vfs: VfInfo[];
}

export interface HostTopology {
  pfs: PfInfo[];
  /** Number of IOMMU groups (0: no IOMMU, or it is off). */
  iommuGroups: number;
  /** /dev/dri nodes and the PCI device behind each (null: a platform device such as vgem). */
  drmNodes: DrmNode[];
}

/** The machine model's name for what discover() returns. */
export type Machine = HostTopology;

/** A function's BARs (0-5) and, on a PF, its VF BARs (the IOV resources 7-12, indexed 0-5), from its `resource` file. */
export function barsOf(r: SysReader, bdf: string): { std: Bar[]; iov: Bar[] } {
  const raw = r.maybe(devicePath(bdf, 'resource'));
  if (raw === null) return { std: [], iov: [] };
  const lines = parseResource(raw);
  const toBar = (l: (typeof lines)[number], index: number): Bar => ({
    index,
    start: l.start,
    size: l.size,
    kind: barKind(l),
    prefetchable: (l.flags & IORESOURCE_PREFETCH) !== 0,
  });
  const std = lines.filter((l) => l.index < 6).map((l) => toBar(l, l.index));
  const iov = lines
    .filter((l) => l.index >= PCI_IOV_RESOURCES && l.index < PCI_IOV_RESOURCES + 6)
    .map((l) => toBar(l, l.index - PCI_IOV_RESOURCES));
  return { std, iov };
}

function readVf(r: SysReader, id: number, bdf: string, quota: bigint | null, tiles: bigint[] | null): VfInfo {
  return {
    id,
    bdf,
    vendor: hexOrNull(r.maybe(devicePath(bdf, 'vendor'))),
    device: hexOrNull(r.maybe(devicePath(bdf, 'device'))),
    driver: r.driverOf(bdf),
    override: r.overrideOf(bdf),
    iommuGroup: r.iommuGroupOf(bdf),
    bars: barsOf(r, bdf).std,
    vramQuota: quota,
    vramQuotaTiles: tiles,
  };
}

/**
 * One VF's BAR `index` at enumeration, from the PF's IOV resource (resource
 * 7+index) and, when VFs exist, a VF's own `resource` line.
 *
 * drivers/pci/iov.c sriov_init sizes the IOV resource as the VF BAR size
 * (a power of two: BARs are naturally sized) times the SR-IOV capability's
 * TotalVFs, and pci_iov_add_virtfn gives each VF pci_iov_resource_size(), the
 * per-VF size. But `sriov_totalvfs` shows driver_max_VFs, which a driver may
 * cap below the capability's TotalVFs (igb: pci_sriov_set_totalvfs(7) on an
 * 82576 whose capability says 8), so the IOV resource divided by
 * sriov_totalvfs need not be a VF BAR size (0x20000 / 7 = 18724).
 *
 * A VF's own BAR is the per-VF size unless the PF driver resized it through
 * the VF Resizable BAR (pci_iov_vf_bar_set_size changes the per-VF size and
 * leaves the IOV resource alone; xe grows VF BAR 2 when fewer VFs are
 * enabled, docs/kernel.md §9), which shows as a VF BAR larger than the IOV
 * resource can hold for sriov_totalvfs VFs: then, as without VFs, the size is
 * the largest power of two <= resource / sriov_totalvfs that divides the
 * resource. That is exact whenever the capability's TotalVFs is less than
 * twice sriov_totalvfs.
 */
export function perVfBarSize(iovSize: bigint, totalvfs: number, vfSize: bigint | null): bigint {
  if (iovSize === 0n || totalvfs <= 0) return 0n;
  const slot = iovSize / BigInt(totalvfs);
  if (vfSize !== null && vfSize > 0n && (vfSize & (vfSize - 1n)) === 0n && vfSize <= slot && iovSize % vfSize === 0n)
    return vfSize;
  let size = 1n;
  while (size * 2n <= slot) size *= 2n;
  while (size > 1n && iovSize % size !== 0n) size /= 2n;
  return size;
}

function hexOrNull(raw: string | null): number | null {
  return raw === null ? null : parseHex(raw);
}

function decOr(raw: string | null, fallback: number): number {
  const v = raw === null ? null : parseDecimal(raw);
  return v ?? fallback;
}

/** One PF: null when `bdf` is not an SR-IOV PF (no sriov_totalvfs). */
export function readPf(r: SysReader, bdf: string): PfInfo | null {
  const totalRaw = r.maybe(devicePath(bdf, 'sriov_totalvfs'));
  if (totalRaw === null) return null;
  const driver = r.driverOf(bdf);
  const probe = probeProvisioning(r, bdf, driver);
  const b = barsOf(r, bdf);
  const totalvfs = decOr(totalRaw, 0);
  const numvfs = decOr(r.maybe(devicePath(bdf, 'sriov_numvfs')), 0);
  const autoRaw = r.maybe(devicePath(bdf, 'sriov_drivers_autoprobe'));
  const quotas: (bigint | null)[] = [];
  if (probe.iface) for (let id = 1; id <= totalvfs; id++) quotas.push(readQuota(r, probe.iface, id));
  const vfs: VfInfo[] = [];
  for (let i = 0; i < numvfs; i++) {
    const vf = r.linkName(devicePath(bdf, `virtfn${i}`));
    const tiles = probe.iface ? readQuotaTiles(r, probe.iface, i + 1) : null;
    if (vf !== null) vfs.push(readVf(r, i + 1, vf, quotas[i] ?? null, tiles));
  }
  const vfBars = b.iov.map((bar): VfBar => {
    const own = vfs[0]?.bars.find((x) => x.index === bar.index && x.kind !== 'none');
    const size = perVfBarSize(bar.size, totalvfs, own?.size ?? null);
    return { ...bar, size, resizedTo: own !== undefined && own.size !== size ? own.size : null };
  });
  const vfDeviceRaw = r.maybe(devicePath(bdf, 'sriov_vf_device'));
  return {
    bdf,
    vendor: hexOrNull(r.maybe(devicePath(bdf, 'vendor'))),
    device: hexOrNull(r.maybe(devicePath(bdf, 'device'))),
    class: hexOrNull(r.maybe(devicePath(bdf, 'class'))),
    driver,
    iommuGroup: r.iommuGroupOf(bdf),
    totalvfs,
    numvfs,
    autoprobe: autoRaw === null ? null : parseBool(autoRaw),
    offset: decOr(r.maybe(devicePath(bdf, 'sriov_offset')), 0),
    stride: decOr(r.maybe(devicePath(bdf, 'sriov_stride')), 0),
    vfDevice: hexOrNull(vfDeviceRaw),
    bars: b.std,
    vfBars,
    provisioning: probe.iface,
    provisioningNote: probe.reason,
    quotas,
    vfs,
  };
}

/** PCI devices in sysfs, sorted by address. */
export function listDevices(r: SysReader): string[] {
  return r
    .list(PCI_DEVICES)
    .filter((n) => parseBdf(n) !== null)
    .sort();
}

export function discover(fs: FileOps): HostTopology {
  const r = new SysReader(fs);
  const pfs: PfInfo[] = [];
  for (const bdf of listDevices(r)) {
    // A VF never has sriov_totalvfs; the physfn link is checked too because a
    // VF with its own SR-IOV capability is not something to bring up here.
    if (r.exists(devicePath(bdf, 'physfn'))) continue;
    const pf = readPf(r, bdf);
    if (pf) pfs.push(pf);
  }
  return { pfs, iommuGroups: r.list(IOMMU_GROUPS).length, drmNodes: drmNodes(fs) };
}

/** The DRM nodes, or none when /dev/dri cannot be listed (no DRM, or no permission to look). */
function drmNodes(fs: FileOps): DrmNode[] {
  try {
    return listDrmNodes({ fs });
  } catch (e) {
    if (e instanceof SystemError) return [];
    throw e;
  }
}

/** The VF's LMEM BAR (BAR 2, docs/kernel.md §9) when it is a memory BAR. */
export function lmemBar(vf: VfInfo): Bar | null {
  const b = vf.bars.find((x) => x.index === 2);
  return b && b.size > 0n && (b.kind === 'mem64' || b.kind === 'mem32') ? b : null;
}

/** The bus number of a device name (any domain width). */
export function busOf(bdf: string): number {
  const a = parseBdf(bdf);
  if (!a) throw new RangeError(`not a PCI address: '${bdf}'`);
  return a.bus;
}

/** What a BDF names on this machine. */
export type DeviceRole =
  | { role: 'pf'; pf: PfInfo }
  | { role: 'vf'; pf: string; id: number }
  | { role: 'other' }
  | { role: 'absent' };

export function roleOf(r: SysReader, bdf: string): DeviceRole {
  if (!r.exists(devicePath(bdf))) return { role: 'absent' };
  const physfn = r.linkName(devicePath(bdf, 'physfn'));
  if (physfn !== null) {
    const numvfs = decOr(r.maybe(devicePath(physfn, 'sriov_numvfs')), 0);
    for (let i = 0; i < numvfs; i++) {
      if (r.linkName(devicePath(physfn, `virtfn${i}`)) === bdf) return { role: 'vf', pf: physfn, id: i + 1 };
    }
    return { role: 'vf', pf: physfn, id: 0 };
  }
  const pf = readPf(r, bdf);
  if (pf) return { role: 'pf', pf };
  return { role: 'other' };
}
