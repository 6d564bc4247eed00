// The mock as the harness uses it: which profile it models (for the shipped
// baseline), the machine shape the catalog needs, and sibling kernels for the
// scenarios that need another shape (scenario.ts TopologyShape).
//
// A mock without --mock-state is a throwaway kernel: if it has no VF on
// vfio-pci, the harness declares the topology the catalog needs instead of
// skipping everything (docs/topology.md, iovh-topology/1): four VFs on the
// first xe PF, autoprobe off, all on vfio-pci, with VF 1's quota filling its
// whole BAR 2 (so the BAR's last page is memory: edge/last-page), VFs 2 and 3
// with 1 GiB (smaller than their BAR: edge/beyond-quota) and VF 4 with none
// (edge/unprovisioned-vf). With --mock-state the user's kernel is used as it
// is (a bring-up script owns it), and what is missing is skipped with how to
// set it up.

import type { Backend } from '../backend/types.js';
import { createMockBackend, type MockBackend } from '../mock/backend.js';
import type { ProfileName } from '../mock/contracts.js';
import {
  defaultTopology,
  parseTopology,
  readTopologyFile,
  vfBarSize,
  type Topology,
  type TopologyDeviceJson,
} from '../mock/topology.js';
import type { ShapeFactory, TopologyShape } from './scenario.js';
import { chooseTarget, TargetError } from '../machine/target.js';
import { discover } from '../machine/topology.js';

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const DECLARED_VFS = 4;

export interface PreparedMock {
  backend: Backend;
  profile: string;
  /** What the harness set up, one line per step (RunResult.setup). */
  setup: string[];
  siblings: ShapeFactory;
}

function isMockBackend(b: Backend): b is MockBackend {
  return b.name === 'mock' && typeof (b as Partial<MockBackend>).kernel === 'object';
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * The first xe PF with SR-IOV in a topology that xe runs as an SR-IOV PF: one
 * with `pfMode: false` cannot enable VFs (sriov_numvfs writes fail ENODEV,
 * docs/topology.md), so no shape is declared on it and the run takes the
 * machine as it is, skipping what needs VFs.
 */
function xePf(t: Topology): TopologyDeviceJson | null {
  return t.devices.find((d) => d.driver === 'xe' && d.sriov && d.xe && d.xe.pfMode !== false) ?? null;
}

function gib(v: bigint): string {
  return v % GiB === 0n ? `${v / GiB} GiB` : `${v / MiB} MiB`;
}

/**
 * The catalog's shape on `base`: DECLARED_VFS VFs on vfio-pci with the quotas
 * described above, when the first xe PF's VRAM allows them; null when the
 * topology has no xe PF with SR-IOV.
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

/** `base` with the shape a scenario needs applied; null when it cannot be made. */
export function shapeTopology(
  base: Topology,
  shape: TopologyShape,
): { topology: Topology; description: string } | null {
  const t = clone(base);
  const pf = xePf(t);
  if (!pf?.sriov || !pf.xe) return null;
  const said: string[] = [];
  if (shape.vfOnNextBus) {
    // Routing ID = PF RID + First VF Offset + stride * n (PCIe SR-IOV §9.3.3.9/10): an offset past the
    // rest of the PF's bus puts VF 0 on the next bus number.
    const devfn = (parseInt(pf.bdf.slice(8, 10), 16) << 3) | parseInt(pf.bdf.slice(11), 10);
    pf.sriov.offset = 0x100 - devfn;
    said.push(`First VF Offset ${pf.sriov.offset}: the VFs of ${pf.bdf} sit on the next bus`);
  }
  if (shape.vramBlockSize !== undefined) {
    pf.xe.vramBlockSize = hex(shape.vramBlockSize);
    said.push(`VRAM handed out in blocks of at most ${gib(shape.vramBlockSize)}`);
  }
  if (shape.secondPf) {
    const other = clone(pf);
    other.bdf = '0000:13:00.0';
    other.iommuGroup = (pf.iommuGroup ?? 13) + 100;
    other.parent = 'pci0000:00/0000:00:1c.0';
    // Non-prefetchable BARs below 4 GiB in the RAM hole, LMEM BARs far above the first PF's.
    other.bars = [
      { index: 0, start: hex(0xa8000000n), size: hex(16n * MiB), kind: 'mem64', prefetchable: false },
      { index: 2, start: hex(0x8000000000n), size: hex(16n * GiB), kind: 'mem64', prefetchable: true },
    ];
    other.sriov!.numvfs = 0;
    other.sriov!.vfs = [];
    other.sriov!.vfBars = [
      { index: 0, start: hex(0xb0000000n), size: hex(16n * MiB), kind: 'mem64', prefetchable: false },
      {
        index: 2,
        start: hex(0x8400000000n),
        size: hex(GiB),
        kind: 'mem64',
        prefetchable: true,
        resizableSizes: '0x7ffe',
      },
    ];
    t.devices.push(other);
    said.push(`a second xe PF at ${other.bdf}`);
  }
  try {
    parseTopology(t, 'declared topology');
  } catch {
    return null;
  }
  return { topology: t, description: said.join('; ') };
}

function hasTarget(b: Backend): boolean {
  try {
    chooseTarget(discover(b.fs), {});
    return true;
  } catch (e) {
    if (e instanceof TargetError) return false;
    throw e;
  }
}

/**
 * Decide how the mock runs: as opened (a --mock-state kernel, or one that
 * already has a VF on vfio-pci), or replaced by a kernel of the declared
 * shape. `opened` is closed when it is replaced.
 */
export function prepareMock(
  opened: Backend,
  o: { profile?: string | undefined; mockState?: string | undefined; topology?: string | undefined },
): PreparedMock {
  if (!isMockBackend(opened)) throw new TypeError('prepareMock needs the mock backend');
  const profile = opened.kernel.profile.name as ProfileName;
  const user: Topology = o.topology ? readTopologyFile(o.topology).json : defaultTopology();
  let backend: Backend = opened;
  let base = user;
  const setup: string[] = [];
  if (!o.mockState && !hasTarget(opened)) {
    const declared = declareTopology(user);
    if (declared) {
      opened.close();
      backend = createMockBackend({
        profile,
        topology: declared.topology,
        reason: `${opened.reason}; the harness declared the machine shape the catalog needs`,
      });
      base = declared.topology;
      setup.push(...declared.setup);
    }
  }
  const siblings: ShapeFactory = (shape) => {
    const shaped = shapeTopology(declareTopology(base)?.topology ?? base, shape);
    if (!shaped) return null;
    return {
      backend: createMockBackend({
        profile,
        topology: shaped.topology,
        reason: `sibling mock kernel: ${shaped.description}`,
      }),
      description: shaped.description,
    };
  };
  return { backend, profile, setup, siblings };
}
