// The machine the mock kernel runs on: PCI devices (with SR-IOV and xe data),
// system RAM, and the bridges above them (ACS). docs/topology.md documents
// the JSON format (`iovh-topology/1`); `iovh capture` writes it from a real
// machine's sysfs and the mock loads it with --topology.
//
// `Topology` is the JSON shape (u64 values are hex strings, because JSON
// numbers cannot hold them). parseTopology() validates it and gives the typed
// form the platform uses; any problem is a MockConfigError naming the source
// and the field, in one line.

import { LIMITS, parseUserJson, readUserFile, UserFileError } from '../userfile.js';
import { configProblem, isModelledOption, type KernelConfig } from './kconfig.js';
import { formatBdf as formatPciAddress, parseSysfsBdf, vfAddress } from '../uapi/bdf.js';
import { TOPOLOGY_SCHEMA_JSON } from './topology-schema.js';
import { schemaProblem } from '../schema/validate.js';
import type { MockGpuSpec } from './mock-gpu.js';

/**
 * A topology or state file the mock cannot use. The message is one line:
 * control characters from quoted input (V8 quotes the JSON text around a parse
 * error, newlines included) are escaped, so the CLI's usage error stays one line.
 */
export class MockConfigError extends Error {
  constructor(message: string) {
    super(oneLine(message));
    this.name = 'MockConfigError';
  }
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

export const TOPOLOGY_SCHEMA = 'iovh-topology/1';

// ------------------------------------------------------------ JSON shape

export interface TopologyBarJson {
  index: number;
  start: string;
  /** For a VF BAR: the size of one VF's BAR at enumeration. */
  size: string;
  kind: 'mem64' | 'mem32' | 'io';
  prefetchable?: boolean;
  /** VF Resizable BAR: supported sizes, bit n = 2^n MiB (PCIe r6.0 §7.8.7; docs/kernel.md §9). */
  resizableSizes?: string;
}

export interface TopologyVfJson {
  index: number;
  driver?: string | null;
  driverOverride?: string | null;
  iommuGroup?: number | null;
  /** xe: the VF's VRAM quota when the state was captured (bytes, hex). */
  vramQuota?: string | null;
}

export interface TopologySriovJson {
  totalvfs: number;
  numvfs?: number;
  offset: number;
  stride: number;
  vfDevice: string;
  autoprobe?: boolean;
  vfBars: TopologyBarJson[];
  vfs?: TopologyVfJson[];
}

export interface TopologyXeJson {
  vram: string;
  tiles?: number;
  provisioning?: 'sriov_admin' | 'debugfs' | 'legacy';
  /** Cap on VRAM allocation blocks, to force discontiguous LMEM objects. */
  vramBlockSize?: string | null;
  /** VRAM the PF driver keeps for itself at probe (firmware, page tables). */
  pfReserved?: string;
  /** xe's spare LMEM (pf_get_spare_lmem; at least 128 MiB). */
  vramSpare?: string;
  /** xe runs as SR-IOV PF (IS_SRIOV_PF); false models a PF-capable GPU in native mode. */
  pfMode?: boolean;
}

export interface TopologyDeviceJson {
  bdf: string;
  vendor: string;
  device: string;
  class: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  revision?: string;
  driver?: string | null;
  driverOverride?: string | null;
  iommuGroup?: number | null;
  /** The device's parent under /sys/devices, e.g. `pci0000:00/0000:00:01.0`. */
  parent?: string;
  bars: TopologyBarJson[];
  sriov?: TopologySriovJson;
  xe?: TopologyXeJson;
  /** iovh's mock GPU (QEMU device iovh-mock-gpu, docs/mock-gpu.md), as `iovh capture` reads it from its PF driver. */
  mockGpu?: TopologyMockGpuJson;
}

export interface TopologyMockGpuJson {
  /** LMEM bytes (PF BAR 2), block bytes, one VF's BAR 2 bytes. */
  lmem: string;
  blockSize: string;
  vfLmem: string;
  /** Per VF, in VF order: the PF blocks behind its BAR 2 slots (lmem_blocks). */
  blocks: number[][];
}

export interface Topology {
  schema: typeof TOPOLOGY_SCHEMA;
  /** What /sys/class/dmi says, shown in splats' "Hardware name:". */
  machine?: string;
  kernel?: {
    release?: string;
    cmdline?: string;
    /** How the kernel was built, for the options the mock models (src/mock/kconfig.ts): `{ "IOMMUFD": "y" }`. */
    config?: Record<string, 'y' | 'n'>;
  };
  /** System RAM ranges (page_is_ram). */
  ram?: { start: string; size: string }[];
  /**
   * The bridges on the devices' parent paths (root ports, switch ports) with
   * their ACS capability, and host bridges (00.0 of a root bus) with their IDs:
   * what decides VF IOMMU groups and P2P routes (src/mock/pcie.ts).
   */
  bridges?: TopologyBridgeJson[];
  devices: TopologyDeviceJson[];
}

export interface TopologyBridgeJson {
  bdf: string;
  vendor?: string;
  device?: string;
  /** The ACS Capability register (hex), null for a port without an ACS Extended Capability. */
  acs?: string | null;
  /**
   * Only for a device on a root bus off every device's path: whether it is a
   * root port. Required there unless it is 00.0 (the host bridge): it decides
   * whether the kernel checks the P2PDMA whitelist against it when it is the
   * first device on the bus (drivers/pci/p2pdma.c pci_host_bridge_dev).
   */
  rootPort?: boolean;
}

// ------------------------------------------------------------ typed form

export interface BarSpec {
  readonly index: number;
  readonly start: bigint;
  readonly size: bigint;
  readonly kind: 'mem64' | 'mem32' | 'io';
  readonly prefetchable: boolean;
  readonly resizableSizes: bigint | null;
}

export interface VfSpec {
  readonly index: number;
  readonly driver: string | null;
  readonly driverOverride: string | null;
  readonly iommuGroup: number | null;
  readonly vramQuota: bigint | null;
}

export interface SriovSpec {
  readonly totalvfs: number;
  readonly numvfs: number;
  readonly offset: number;
  readonly stride: number;
  readonly vfDevice: number;
  readonly autoprobe: boolean;
  readonly vfBars: readonly BarSpec[];
  readonly vfs: readonly VfSpec[];
}

export interface XeSpec {
  readonly vram: bigint;
  readonly tiles: number;
  readonly provisioning: 'sriov_admin' | 'debugfs' | 'legacy';
  readonly vramBlockSize: bigint | null;
  readonly pfReserved: bigint;
  readonly vramSpare: bigint;
  readonly pfMode: boolean;
}

export interface DeviceSpec {
  readonly bdf: string;
  readonly domain: number;
  readonly bus: number;
  readonly devfn: number;
  readonly vendor: number;
  readonly device: number;
  readonly class: number;
  readonly subsystemVendor: number;
  readonly subsystemDevice: number;
  readonly revision: number;
  readonly driver: string | null;
  readonly driverOverride: string | null;
  readonly iommuGroup: number | null;
  readonly parent: string;
  readonly bars: readonly BarSpec[];
  readonly sriov: SriovSpec | null;
  readonly xe: XeSpec | null;
  readonly mockGpu: MockGpuSpec | null;
}

export interface ParsedTopology {
  readonly machine: string;
  readonly release: string | null;
  readonly cmdline: string | null;
  /** Build options over the profile's (docs/topology.md `kernel.config`). */
  readonly config: KernelConfig;
  readonly ram: readonly { start: bigint; size: bigint }[];
  readonly bridges: readonly BridgeSpec[];
  readonly devices: readonly DeviceSpec[];
}

export interface BridgeSpec {
  readonly bdf: string;
  /** Its root bus, `pciDDDD:BB`. */
  readonly root: string;
  readonly vendor: number | null;
  readonly device: number | null;
  /** ACS Capability register; null: none; undefined: the default for its kind (src/mock/pcie.ts). */
  readonly acs: number | null | undefined;
  /** Off every path: a root port (true) or not; on a path: its kind follows its depth (src/mock/pcie.ts portKind). */
  readonly rootPort: boolean;
}

// ------------------------------------------------------------ default

const GiB = 1n << 30n;
const MiB = 1n << 20n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

/**
 * One Battlemage-like PF (8086:e20b) at 0000:03:00.0 behind the card's own
 * switch, 16 GiB of VRAM, 24 VFs with 1 GiB VF BAR2 each at enumeration and a
 * VF Resizable BAR (2 MiB .. 16 GiB) that xe grows when fewer VFs are enabled
 * (docs/kernel.md §9: pci_iov_vf_bar_get_sizes / resize_vf_vram_bar). RAM has the
 * usual hole below 4 GiB where the non-prefetchable BARs live.
 */
export function defaultTopology(): Topology {
  return {
    schema: TOPOLOGY_SCHEMA,
    machine: 'iovh mock machine (Battlemage-like SR-IOV PF), BIOS 0.1 11/24/2026',
    // A lab's own kernel build: iommufd and the VFIO cdev, unlike Debian's stock 7.2 (docs/kernel.md §4), with the
    // sanitizers and lock debugging of iovh's own guest build (kconfig/iovh-guest.config, tinyconfig-based: no LSMs).
    kernel: {
      config: {
        IOMMUFD: 'y',
        VFIO_DEVICE_CDEV: 'y',
        KASAN: 'y',
        SLUB_RCU_DEBUG: 'y',
        PROVE_LOCKING: 'y',
        SECURITY: 'n',
      },
    },
    ram: [
      { start: '0x0', size: hex(2n * GiB) },
      { start: hex(4n * GiB), size: hex(14n * GiB) },
    ],
    // A Xeon host (the host bridge at 00.0 is a whitelisted P2PDMA host bridge) with the card's own switch below a
    // root port; the root port and the card's downstream port have ACS, which gives each VF an IOMMU group of its own
    // and routes PF<->VF P2P through the host bridge (docs/topology.md "The default machine").
    bridges: [
      { bdf: '0000:00:00.0', vendor: '0x8086', device: '0x09a2' },
      { bdf: '0000:00:01.0', acs: '0x1f' },
      { bdf: '0000:01:00.0', acs: null },
      { bdf: '0000:02:01.0', vendor: '0x8086', device: '0xe2f0', acs: '0x1f' },
    ],
    devices: [
      {
        bdf: '0000:03:00.0',
        vendor: '0x8086',
        device: '0xe20b',
        class: '0x030000',
        subsystemVendor: '0x8086',
        subsystemDevice: '0x1100',
        revision: '0x00',
        driver: 'xe',
        driverOverride: null,
        iommuGroup: 13,
        parent: 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0',
        bars: [
          { index: 0, start: hex(0x88000000n), size: hex(16n * MiB), kind: 'mem64', prefetchable: false },
          { index: 2, start: hex(0x4000000000n), size: hex(16n * GiB), kind: 'mem64', prefetchable: true },
        ],
        sriov: {
          totalvfs: 24,
          numvfs: 0,
          offset: 1,
          stride: 1,
          vfDevice: '0xe20b',
          autoprobe: true,
          vfBars: [
            { index: 0, start: hex(0x89000000n), size: hex(16n * MiB), kind: 'mem64', prefetchable: false },
            {
              index: 2,
              start: hex(0x4400000000n),
              size: hex(GiB),
              kind: 'mem64',
              prefetchable: true,
              resizableSizes: '0x7ffe',
            },
          ],
          vfs: [],
        },
        xe: {
          vram: hex(16n * GiB),
          tiles: 1,
          provisioning: 'sriov_admin',
          vramBlockSize: null,
          pfReserved: hex(64n * MiB),
          vramSpare: hex(128n * MiB),
          pfMode: true,
        },
      },
    ],
  };
}

// ------------------------------------------------------------ validation

class Ctx {
  constructor(readonly source: string) {}
  fail(field: string, problem: string): never {
    throw new MockConfigError(`${this.source}: ${field}: ${problem}`);
  }
}

// The file's shape (types, forms, ranges of single fields, no unknown field)
// is the published schema's job (src/mock/topology-schema.ts, checked with ajv
// first); the helpers below convert what it has already accepted, and the
// checks that stay here are those that need more than one field.
const u64 = (v: unknown): bigint => BigInt(v as string);
const hexNum = (v: unknown): number => Number(BigInt(v as string));
const orNull = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

/** One past the last x86 I/O port (IO_SPACE_LIMIT 0xffff). */
const IO_SPACE_END = 0x10000n;

/** The location of a device name the topology already validated (isBdf). */
export function parseBdf(bdf: string): { domain: number; bus: number; devfn: number } {
  const a = parseSysfsBdf(bdf);
  if (!a) throw new RangeError(`not a PCI address: '${bdf}'`);
  return { domain: a.domain, bus: a.bus, devfn: (a.slot << 3) | a.fn };
}

export function formatBdf(domain: number, bus: number, devfn: number): string {
  return formatPciAddress({ domain, bus, slot: devfn >> 3, fn: devfn & 7 });
}

function bars(ctx: Ctx, field: string, list: readonly TopologyBarJson[], vf: boolean): BarSpec[] {
  const seen = new Set<number>();
  return list.map((b, i) => {
    const f = `${field}[${i}]`;
    const index = b.index;
    if (seen.has(index)) ctx.fail(`${f}.index`, `BAR ${index} listed twice`);
    seen.add(index);
    const kind = b.kind;
    const start = u64(b.start);
    const size = u64(b.size);
    if (size === 0n || (size & (size - 1n)) !== 0n) ctx.fail(`${f}.size`, 'a BAR size is a non-zero power of two');
    if (kind !== 'io' && size < 4096n && vf) ctx.fail(`${f}.size`, 'a VF memory BAR is at least 4 KiB');
    if (start % size !== 0n) ctx.fail(`${f}.start`, `must be aligned to the BAR size ${hex(size)}`);
    if (kind === 'mem32' && start + size > 1n << 32n) ctx.fail(`${f}.start`, 'a 32-bit BAR must end below 4 GiB');
    let resizableSizes: bigint | null = null;
    if (b.resizableSizes !== undefined) {
      if (index !== 2) ctx.fail(`${f}.resizableSizes`, 'only VF BAR 2 is modelled as resizable');
      resizableSizes = u64(b.resizableSizes);
      if (resizableSizes === 0n) ctx.fail(`${f}.resizableSizes`, 'needs at least one size bit');
    }
    return { index, start, size, kind, prefetchable: b.prefetchable ?? false, resizableSizes };
  });
}

/** VF BAR2 size for `numVfs` (pci_iov_vf_bar_get_sizes + xe's __fls pick; docs/kernel.md §9). */
export function vfBarSize(bar: BarSpec, totalvfs: number, numVfs: number): bigint {
  if (bar.resizableSizes === null || numVfs === 0) return bar.size;
  const reservation = bar.size * BigInt(totalvfs);
  const perVf = reservation / BigInt(numVfs);
  let pow = 1n;
  while (pow <= perVf) pow <<= 1n; // roundup_pow_of_two(perVf + 1)
  const sizes = ((pow - 1n) >> 20n) & bar.resizableSizes;
  if (sizes === 0n) return bar.size;
  let bit = 0n;
  for (let b = 0n; b < 64n; b++) if ((sizes >> b) & 1n) bit = b;
  return MiB << bit;
}

export function parseTopology(data: unknown, source = 'topology'): ParsedTopology {
  const ctx: Ctx = new Ctx(source);
  const replaced = replacedField(data);
  if (replaced) throw new MockConfigError(`${source}: ${replaced}`);
  const problem = schemaProblem(TOPOLOGY_SCHEMA_JSON, data);
  if (problem) throw new MockConfigError(`${source}: ${problem}`);
  const input = data as Topology;
  const kernel = input.kernel;
  const release = orNull(kernel?.release);
  const cmdline = orNull(kernel?.cmdline);
  const config: KernelConfig = {};
  for (const [name, v] of Object.entries(kernel?.config ?? {})) {
    const opt = name.replace(/^CONFIG_/, '');
    if (isModelledOption(opt)) config[opt] = v;
  }
  const configIssue = configProblem(config);
  if (configIssue) ctx.fail('kernel.config', configIssue);
  const machine = input.machine ?? 'iovh mock machine, BIOS 0.1 11/24/2026';
  const ramIn = input.ram ?? [
    { start: '0x0', size: '0x80000000' },
    { start: '0x100000000', size: '0x380000000' },
  ];
  const ram = ramIn.map((r, i) => {
    const start = u64(r.start);
    const size = u64(r.size);
    if (size === 0n || start % 4096n !== 0n || size % 4096n !== 0n)
      ctx.fail(`ram[${i}]`, 'start and size must be non-zero multiples of 4096');
    return { start, size };
  });
  const devices: DeviceSpec[] = [];
  const bdfs = new Set<string>();
  const named = new Set(input.devices.map((d) => d.bdf));
  for (const [i, d] of input.devices.entries()) {
    const f = `devices[${i}]`;
    if (bdfs.has(d.bdf)) ctx.fail(`${f}.bdf`, `${d.bdf} listed twice`);
    bdfs.add(d.bdf);
    const loc = parseBdf(d.bdf);
    const parent = d.parent ?? `pci${d.bdf.slice(0, d.bdf.indexOf(':'))}:00`;
    let sriov: SriovSpec | null = null;
    if (d.sriov !== undefined) {
      const s = d.sriov;
      const sf = `${f}.sriov`;
      const totalvfs = s.totalvfs;
      const numvfs = s.numvfs ?? 0;
      if (numvfs > totalvfs) ctx.fail(`${sf}.numvfs`, `must be at most totalvfs (${totalvfs}), got ${numvfs}`);
      const { offset, stride } = s;
      if (stride === 0 && totalvfs > 1) ctx.fail(`${sf}.stride`, 'must be non-zero with more than one VF');
      const pfAt = parseSysfsBdf(d.bdf)!;
      for (let n = 0; n < totalvfs; n++) {
        const at = vfAddress(pfAt, offset, stride, n + 1);
        if (!at) ctx.fail(`${sf}.offset`, `VF ${n} would land beyond bus 0xff`);
        const b = formatPciAddress(at);
        if (named.has(b)) ctx.fail(`${sf}.offset`, `VF ${n} would be ${b}, which is another device`);
      }
      const vfBars = bars(ctx, `${sf}.vfBars`, s.vfBars, true);
      const vfsIn = s.vfs ?? [];
      if (vfsIn.length !== numvfs) ctx.fail(`${sf}.vfs`, `lists ${vfsIn.length} VFs but numvfs is ${numvfs}`);
      const vfs = vfsIn.map((v, n) => {
        if (v.index !== n) ctx.fail(`${sf}.vfs[${n}].index`, `expected ${n} (VFs in order)`);
        return {
          index: v.index,
          driver: orNull(v.driver),
          driverOverride: orNull(v.driverOverride),
          iommuGroup: orNull(v.iommuGroup),
          vramQuota: v.vramQuota === undefined || v.vramQuota === null ? null : u64(v.vramQuota),
        };
      });
      sriov = {
        totalvfs,
        numvfs,
        offset,
        stride,
        vfDevice: hexNum(s.vfDevice),
        autoprobe: s.autoprobe ?? true,
        vfBars,
        vfs,
      };
    }
    let xe: XeSpec | null = null;
    if (d.xe !== undefined) {
      const x = d.xe;
      const xf = `${f}.xe`;
      const vram = u64(x.vram);
      if (vram < 256n * MiB || vram % (2n * MiB) !== 0n)
        ctx.fail(`${xf}.vram`, 'must be a multiple of 2 MiB and at least 256 MiB');
      let vramBlockSize: bigint | null = null;
      if (x.vramBlockSize !== undefined && x.vramBlockSize !== null) {
        vramBlockSize = u64(x.vramBlockSize);
        if (vramBlockSize < 2n * MiB || (vramBlockSize & (vramBlockSize - 1n)) !== 0n)
          ctx.fail(
            `${xf}.vramBlockSize`,
            'must be a power of two of at least 2 MiB (xe allocates LMEM in 2 MiB blocks)',
          );
      }
      const pfReserved = x.pfReserved === undefined ? 64n * MiB : u64(x.pfReserved);
      const vramSpare = x.vramSpare === undefined ? 128n * MiB : u64(x.vramSpare);
      if (pfReserved + vramSpare >= vram)
        ctx.fail(`${xf}.pfReserved`, 'reserved plus spare VRAM leaves nothing for VFs');
      xe = {
        vram,
        tiles: x.tiles ?? 1,
        provisioning: x.provisioning ?? 'sriov_admin',
        vramBlockSize,
        pfReserved,
        vramSpare,
        pfMode: x.pfMode ?? true,
      };
      if (sriov && !sriov.vfBars.some((b) => b.index === 2))
        ctx.fail(`${f}.sriov.vfBars`, 'an xe PF needs VF BAR 2 (the VF LMEM BAR)');
    }
    let mockGpu: MockGpuSpec | null = null;
    if (d.mockGpu !== undefined) {
      const g = d.mockGpu;
      const gf = `${f}.mockGpu`;
      const pow2 = (v: bigint) => v > 0n && (v & (v - 1n)) === 0n;
      const lmem = u64(g.lmem);
      const blockSize = u64(g.blockSize);
      const vfLmem = u64(g.vfLmem);
      // hw/misc/iovh-mock-gpu.c realize: powers of two, a block no larger than a VF's window, a window no larger than LMEM.
      if (!pow2(lmem)) ctx.fail(`${gf}.lmem`, 'must be a power of two');
      if (!pow2(blockSize) || blockSize < 4096n || blockSize > vfLmem)
        ctx.fail(`${gf}.blockSize`, 'must be a power of two from 4 KiB to vfLmem');
      if (!pow2(vfLmem) || vfLmem > lmem) ctx.fail(`${gf}.vfLmem`, 'must be a power of two no larger than lmem');
      const nBlocks = blockSize > 0n ? Number(lmem / blockSize) : 0;
      const slots = blockSize > 0n ? Number(vfLmem / blockSize) : 0;
      const seen = new Set<number>();
      g.blocks.forEach((list, i) => {
        if (list.length > slots) ctx.fail(`${gf}.blocks[${i}]`, `more blocks than the ${slots} slots of a VF's BAR 2`);
        for (const b of list) {
          if (!Number.isInteger(b) || b < 0 || b >= nBlocks)
            ctx.fail(`${gf}.blocks[${i}]`, `block ${b} is not one of the ${nBlocks} blocks of LMEM`);
          if (seen.has(b)) ctx.fail(`${gf}.blocks[${i}]`, `block ${b} is held by two VFs`);
          seen.add(b);
        }
      });
      if (!sriov?.vfBars.some((b) => b.index === 2))
        ctx.fail(`${f}.sriov.vfBars`, 'the mock GPU needs VF BAR 2 (the VF LMEM window)');
      mockGpu = { lmem, blockSize, vfLmem, blocks: g.blocks.map((l) => [...l]) };
    }
    devices.push({
      bdf: d.bdf,
      ...loc,
      vendor: hexNum(d.vendor),
      device: hexNum(d.device),
      class: hexNum(d.class),
      subsystemVendor: d.subsystemVendor === undefined ? 0 : hexNum(d.subsystemVendor),
      subsystemDevice: d.subsystemDevice === undefined ? 0 : hexNum(d.subsystemDevice),
      revision: d.revision === undefined ? 0 : hexNum(d.revision),
      driver: orNull(d.driver),
      driverOverride: orNull(d.driverOverride),
      iommuGroup: orNull(d.iommuGroup),
      parent,
      bars: bars(ctx, `${f}.bars`, d.bars, false),
      sriov,
      xe,
      mockGpu,
    });
  }
  // Two address spaces: memory BARs (and whole VF BAR reservations) share the
  // physical address map with RAM; I/O-port BARs live in the separate port
  // space (IORESOURCE_IO under ioport_resource, kernel/resource.c), which
  // x86 limits to 64 KiB (IO_SPACE_LIMIT 0xffff, arch/x86/include/asm/io.h).
  // No span may overlap another of its own space.
  type Span = { what: string; start: bigint; end: bigint };
  const memory: Span[] = ram.map((r, i) => ({ what: `ram[${i}]`, start: r.start, end: r.start + r.size }));
  const ports: Span[] = [];
  for (const [i, d] of devices.entries()) {
    for (const [j, b] of d.bars.entries()) {
      const span = { what: `devices[${i}].bars (BAR ${b.index})`, start: b.start, end: b.start + b.size };
      if (b.kind !== 'io') memory.push(span);
      else if (span.end > IO_SPACE_END)
        ctx.fail(`devices[${i}].bars[${j}].start`, `an I/O BAR must end within the 64 KiB port space (0x0-0xffff)`);
      else ports.push(span);
    }
    for (const [j, b] of (d.sriov?.vfBars ?? []).entries()) {
      // VF BARs are memory BARs only (PCI-SIG SR-IOV 1.1 §3.3.14: VFs do not support I/O space).
      if (b.kind === 'io')
        ctx.fail(`devices[${i}].sriov.vfBars[${j}].kind`, 'a VF BAR is a memory BAR (VFs have no I/O space)');
      memory.push({
        what: `devices[${i}].sriov.vfBars (BAR ${b.index})`,
        start: b.start,
        end: b.start + b.size * BigInt(d.sriov!.totalvfs),
      });
    }
  }
  for (const spans of [memory, ports]) {
    spans.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (let i = 1; i < spans.length; i++) {
      if (spans[i]!.start < spans[i - 1]!.end) ctx.fail(spans[i]!.what, `overlaps ${spans[i - 1]!.what}`);
    }
  }
  const bridges = parseBridges(ctx, input.bridges ?? [], devices);
  return { machine, release, cmdline, config, ram, bridges, devices };
}

/**
 * Each listed bridge is on some device's parent path (a root or switch port)
 * or is the host bridge at 00.0 of a root bus some device sits on; a host
 * bridge has no ACS here (the kernel reads ACS only on ports).
 */
function parseBridges(ctx: Ctx, list: readonly TopologyBridgeJson[], devices: readonly DeviceSpec[]): BridgeSpec[] {
  const onPath = new Map<string, string>();
  const roots = new Set<string>();
  for (const d of devices) {
    const [root, ...path] = d.parent.split('/');
    roots.add(root!);
    for (const b of path) onPath.set(b, root!);
  }
  const names = new Set(devices.map((d) => d.bdf));
  const seen = new Set<string>();
  return list.map((b, i) => {
    const f = `bridges[${i}]`;
    if (seen.has(b.bdf)) ctx.fail(`${f}.bdf`, `${b.bdf} listed twice`);
    seen.add(b.bdf);
    if (names.has(b.bdf)) ctx.fail(`${f}.bdf`, `${b.bdf} is also in devices`);
    let root = onPath.get(b.bdf);
    if (root === undefined) {
      const at = parseSysfsBdf(b.bdf)!;
      const own = `pci${b.bdf.slice(0, b.bdf.indexOf(':'))}:${at.bus.toString(16).padStart(2, '0')}`;
      const hostBridge = at.slot === 0 && at.fn === 0;
      if (!roots.has(own) || (!hostBridge && b.rootPort === undefined))
        ctx.fail(
          `${f}.bdf`,
          `${b.bdf} is on no device's parent path and is not a host bridge (00.0 of a root bus a device sits on) or a root-bus device with "rootPort"`,
        );
      if (b.acs !== undefined)
        ctx.fail(
          `${f}.acs`,
          `${b.bdf} is ${hostBridge ? 'a host bridge' : "off every device's path"}: ACS is a port's (give it only vendor and device)`,
        );
      root = own;
    } else if (b.rootPort !== undefined)
      ctx.fail(`${f}.rootPort`, `${b.bdf} is on a device's parent path: its kind follows its depth (remove the field)`);
    return {
      bdf: b.bdf,
      root,
      vendor: b.vendor === undefined ? null : hexNum(b.vendor),
      device: b.device === undefined ? null : hexNum(b.device),
      acs: b.acs === undefined ? undefined : b.acs === null ? null : hexNum(b.acs),
      rootPort: b.rootPort === true,
    };
  });
}

/**
 * Fields earlier versions of the format had, refused by name with what replaces them: each was one setting for the
 * whole machine where the kernel derives the answer per device from the ports' ACS (src/mock/pcie.ts).
 */
function replacedField(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const t = data as { p2p?: unknown; devices?: unknown };
  if (t.p2p !== undefined)
    return "p2p: no longer a setting: the P2P route is derived per pair of devices from the ports' ACS and the host bridge (bridges[], docs/topology.md); remove the field";
  if (Array.isArray(t.devices))
    for (const [i, d] of t.devices.entries()) {
      const s = (d as { sriov?: { vfIommuGroup?: unknown } } | null)?.sriov;
      if (s && typeof s === 'object' && s.vfIommuGroup !== undefined)
        return `devices[${i}].sriov.vfIommuGroup: no longer a setting: a VF's IOMMU group follows the ACS of the ports above its PF; for "pf" list those ports in bridges[] with "acs": null, for "own" remove the field (docs/topology.md)`;
    }
  return null;
}

/** Read and validate a topology file. */
export function loadTopologyFile(path: string): ParsedTopology {
  return readTopologyFile(path).parsed;
}

/** Read and validate a topology file: the JSON as written (for a state file) and what it declares. */
export function readTopologyFile(path: string): { json: Topology; parsed: ParsedTopology } {
  let text: string;
  try {
    text = readUserFile(path, LIMITS.topology, 'a topology file');
  } catch (e) {
    if (e instanceof UserFileError) throw new MockConfigError(`topology ${path}: ${e.message}`);
    throw e;
  }
  let json: unknown;
  try {
    json = parseUserJson(text);
  } catch (e) {
    if (e instanceof UserFileError) throw new MockConfigError(`topology ${path}: ${e.message}`);
    throw e;
  }
  return { json: json as Topology, parsed: parseTopology(json, `topology ${path}`) };
}
