// Machines for tests: the default mock topology with the catalog's shape
// declared present at boot (a topology file may declare VFs, their drivers
// and quotas: docs/topology.md), and the topologies shipped in topologies/
// for the scenarios that need another shape. `iovh run` brings the default
// machine up through sysfs instead (src/harness/bringup.ts); tests that
// only need the shape start from it declared, which is faster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultTopology,
  parseTopology,
  vfBarSize,
  type Topology,
  type TopologyDeviceJson,
} from '../../src/mock/topology.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const DECLARED_VFS = 4;
const ROOT = join(import.meta.dirname, '..', '..');

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The first xe PF with SR-IOV in a topology. */
function xePf(t: Topology): TopologyDeviceJson | null {
  return t.devices.find((d) => d.driver === 'xe' && d.sriov && d.xe) ?? null;
}

/** A topology shipped in topologies/ (for `iovh run --topology`). */
export function shippedTopology(name: 'vf-next-bus' | 'vram-blocks' | 'two-gpus'): Topology {
  return JSON.parse(readFileSync(join(ROOT, 'topologies', `${name}.json`), 'utf8')) as Topology;
}

/** The shipped topology a scenario needs (steps.ts skipForShape names it), or the default. */
export function topologyFor(id: string): Topology {
  if (id === 'edge/vf-next-bus') return shippedTopology('vf-next-bus');
  if (id === 'edge/lmem-discontiguous') return shippedTopology('vram-blocks');
  if (id === 'import/foreign-device') return shippedTopology('two-gpus');
  return defaultTopology();
}

/**
 * The catalog's shape on `base`, present at boot: DECLARED_VFS VFs on
 * vfio-pci, VF 1's quota filling its whole BAR 2, VFs 2 and 3 with 1 GiB
 * (less than their BAR), VF 4 with none, when the first xe PF's VRAM allows
 * them; null when the topology has no xe PF with SR-IOV.
 */
export function declareTopology(base: Topology): { topology: Topology; setup: string[] } | null {
  const t = clone(base);
  const pf = xePf(t);
  if (!pf?.sriov || !pf.xe) return null;
  const spec = parseTopology(t, 'topology').devices.find((d) => d.bdf === pf.bdf)!;
  const n = Math.min(DECLARED_VFS, spec.sriov!.totalvfs);
  const bar2 = spec.sriov!.vfBars.find((b) => b.index === 2)!;
  const barSize = vfBarSize(bar2, spec.sriov!.totalvfs, n);
  const available = spec.xe!.vram - spec.xe!.pfReserved - spec.xe!.vramSpare;
  const small = barSize > 2n * GiB ? GiB : (barSize / 4n / (2n * MiB)) * (2n * MiB);
  const quotas: bigint[] = [barSize, small, small, 0n].slice(0, n);
  while (quotas.length < n) quotas.push(small);
  if (quotas.reduce((a, b) => a + b, 0n) > available) {
    // Not enough VRAM for a whole-BAR VF: leave provisioning to xe (edge/last-page then skips, saying why).
    quotas.fill(0n);
  }
  pf.sriov.numvfs = n;
  pf.sriov.autoprobe = false;
  pf.sriov.vfs = quotas.map((q, index) => ({
    index,
    driver: 'vfio-pci',
    driverOverride: 'vfio-pci',
    vramQuota: q > 0n ? hex(q) : null,
  }));
  const setup = [
    `enabled ${n} VFs on ${pf.bdf} (sriov_drivers_autoprobe 0), each bound to vfio-pci through driver_override`,
    quotas.some((q) => q > 0n)
      ? `VRAM quotas: ${quotas.map((q, i) => `VF ${i + 1} ${q > 0n ? gib(q) : 'none'}`).join(', ')} (VF BAR 2 is ${gib(barSize)})`
      : 'VRAM quotas: provisioned by xe',
  ];
  return { topology: t, setup };
}

function gib(v: bigint): string {
  return v % GiB === 0n ? `${v / GiB} GiB` : `${v / MiB} MiB`;
}

/** `topologyFor(id)` with the catalog's shape declared at boot. */
export function declaredFor(id: string): Topology {
  return declareTopology(topologyFor(id))!.topology;
}
