// The topology for people (a tree) and for scripts (JSON). Addresses are hex
// strings; sizes are numbers of bytes (exact: every BAR and VRAM size is far
// below 2^53), or strings in the rare case one is not.
import { formatSize } from './size.js';
import type { Bar, HostTopology, PfInfo, VfBar, VfInfo } from '../machine/topology.js';

function hex(n: number | null, width: number): string | null {
  return n === null ? null : `0x${n.toString(16).padStart(width, '0')}`;
}

function bytes(n: bigint | null): number | string | null {
  if (n === null) return null;
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

function barJson(b: Bar): object {
  return {
    index: b.index,
    start: `0x${b.start.toString(16)}`,
    size: bytes(b.size),
    kind: b.kind,
    prefetchable: b.prefetchable,
  };
}

/** `size` is the per-VF slot; `resizedTo` the enabled VFs' BAR when the PF driver resized it (null otherwise). */
function vfBarJson(b: VfBar): object {
  return { ...barJson(b), resizedTo: bytes(b.resizedTo) };
}

function vfJson(vf: VfInfo): object {
  return {
    vf: vf.id,
    bdf: vf.bdf,
    vendor: hex(vf.vendor, 4),
    device: hex(vf.device, 4),
    driver: vf.driver,
    override: vf.override,
    iommuGroup: vf.iommuGroup,
    vramQuota: bytes(vf.vramQuota),
    bars: vf.bars.filter((b) => b.kind !== 'none').map(barJson),
  };
}

function pfJson(pf: PfInfo): object {
  return {
    bdf: pf.bdf,
    vendor: hex(pf.vendor, 4),
    device: hex(pf.device, 4),
    class: hex(pf.class, 6),
    driver: pf.driver,
    iommuGroup: pf.iommuGroup,
    totalvfs: pf.totalvfs,
    numvfs: pf.numvfs,
    autoprobe: pf.autoprobe,
    vfOffset: pf.offset,
    vfStride: pf.stride,
    vfDevice: hex(pf.vfDevice, 4),
    bars: pf.bars.filter((b) => b.kind !== 'none').map(barJson),
    vfBars: pf.vfBars.filter((b) => b.kind !== 'none').map(vfBarJson),
    provisioning: { interface: pf.provisioning?.kind ?? null, note: pf.provisioningNote },
    vfs: pf.vfs.map(vfJson),
  };
}

export interface TopologyExtras {
  backend: { name: string; reason: string };
  /** Journaled writes not yet undone on this machine. */
  pendingWrites: number;
}

export function topologyJson(t: HostTopology, extras: TopologyExtras): object {
  return {
    schema: 'iovh-host-topology/1',
    backend: extras.backend,
    iommuGroups: t.iommuGroups,
    pendingWrites: extras.pendingWrites,
    pfs: t.pfs.map(pfJson),
  };
}

function bars(list: (Bar & { resizedTo?: bigint | null })[]): string {
  const used = list.filter((b) => b.kind !== 'none');
  if (used.length === 0) return 'none';
  const resized = (b: { resizedTo?: bigint | null }) =>
    b.resizedTo ? ` (resized to ${formatSize(b.resizedTo)} by the PF driver)` : '';
  return used
    .map((b) => `${b.index}: ${formatSize(b.size)} ${b.kind}${b.prefetchable ? ' pref' : ''}${resized(b)}`)
    .join(', ');
}

function driverText(driver: string | null, override: string | null): string {
  const d = driver ?? 'no driver';
  return override === null ? d : `${d} (override ${override})`;
}

export function topologyTree(t: HostTopology, extras: TopologyExtras): string {
  const { name, reason } = extras.backend;
  const lines: string[] = [`backend: ${name} (${reason})`];
  if (t.pfs.length === 0) {
    lines.push('no SR-IOV PF on this machine (no PCI device has sriov_totalvfs)');
  }
  for (const pf of t.pfs) {
    const id = `${hex(pf.vendor, 4)?.slice(2) ?? '????'}:${hex(pf.device, 4)?.slice(2) ?? '????'}`;
    const auto = pf.autoprobe === null ? 'autoprobe ?' : `autoprobe ${pf.autoprobe ? 'on' : 'off'}`;
    const group = pf.iommuGroup === null ? 'no IOMMU group' : `group ${pf.iommuGroup}`;
    lines.push(
      `${pf.bdf}  ${id}  ${pf.driver ?? 'no driver'}  VFs ${pf.numvfs}/${pf.totalvfs}  ${auto}  offset ${pf.offset} stride ${pf.stride}  ${group}`,
    );
    lines.push(`  BARs: ${bars(pf.bars)}`);
    // The slot each VF has in the SR-IOV reservation; a VF's own BAR may be larger when the PF driver resized it.
    lines.push(`  VF BARs (per-VF slot): ${bars(pf.vfBars)}`);
    lines.push(`  VRAM provisioning: ${pf.provisioningNote}`);
    pf.vfs.forEach((vf, i) => {
      const branch = i === pf.vfs.length - 1 ? '└─' : '├─';
      const vgroup = vf.iommuGroup === null ? 'no IOMMU group' : `group ${vf.iommuGroup}`;
      const quota = pf.provisioning ? `  VRAM ${vf.vramQuota === null ? '?' : formatSize(vf.vramQuota)}` : '';
      lines.push(
        `  ${branch} VF ${vf.id}  ${vf.bdf}  ${driverText(vf.driver, vf.override)}  ${vgroup}${quota}  BARs: ${bars(vf.bars)}`,
      );
    });
  }
  if (extras.pendingWrites > 0) {
    lines.push(
      `bring-up: ${extras.pendingWrites} journaled write${extras.pendingWrites === 1 ? '' : 's'} not yet undone (\`iovh restore\` undoes them)`,
    );
  }
  return `${lines.join('\n')}\n`;
}
