// `iovh capture`: the machine's SR-IOV PFs as a topology file
// (docs/topology.md, schema iovh-topology/1) that the mock loads with
// --topology, so a lab machine can be replayed in CI. Reads only: sysfs for
// the PCI side (resource, sriov_*, config space for the VF Resizable BAR),
// debugfs/sysfs for the provisioning interface, /proc/iomem for RAM, and one
// DRM_XE_DEVICE_QUERY for an xe PF's VRAM size. Also the bridges above the
// PFs: their IDs and ACS capability (config space), and the host bridge.
import type { Backend } from '../backend/types.js';
import { isErrno } from '../uapi/errors.js';
import { XE } from '../uapi/constants.js';
import { XeDevice } from '../uapi/xe.js';
import { listDrmNodes } from '../uapi/drm.js';
import { BDF_PATTERN, ROOT_BUS_PATTERN } from '../uapi/bdf.js';
import { SysReader, devicePath, parseHex } from '../machine/sysfs.js';
import { discover, type Bar, type PfInfo } from '../machine/topology.js';

export const TOPOLOGY_SCHEMA = 'iovh-topology/1';

export interface CapturedBar {
  index: number;
  start: string;
  size: string;
  kind: 'mem64' | 'mem32' | 'io';
  prefetchable: boolean;
  resizableSizes?: string;
}

/** A bridge above the captured PFs (docs/topology.md "Bridges and ACS"). */
export interface CapturedBridge {
  bdf: string;
  vendor?: string;
  device?: string;
  acs?: string | null;
  /** A root-bus device off the PFs' paths that is not 00.0: whether it is a root port (src/mock/topology.ts). */
  rootPort?: boolean;
}

export interface CapturedDevice {
  bdf: string;
  vendor: string;
  device: string;
  class: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  revision?: string;
  driver: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  parent?: string;
  bars: CapturedBar[];
  /** iovh's mock GPU (docs/mock-gpu.md): its geometry and each VF's blocks, read from its driver's files. */
  mockGpu?: { lmem: string; blockSize: string; vfLmem: string; blocks: number[][] };
  sriov: {
    totalvfs: number;
    numvfs: number;
    offset: number;
    stride: number;
    vfDevice: string;
    autoprobe: boolean;
    vfBars: CapturedBar[];
    vfs: {
      index: number;
      driver: string | null;
      driverOverride: string | null;
      iommuGroup: number | null;
      vramQuota: string | null;
    }[];
  };
  xe?: { vram: string; tiles: number; provisioning?: 'sriov_admin' | 'debugfs' | 'legacy' };
}

export interface CapturedTopology {
  schema: typeof TOPOLOGY_SCHEMA;
  machine?: string;
  kernel?: { release?: string; cmdline?: string };
  ram?: { start: string; size: string }[];
  bridges?: CapturedBridge[];
  devices: CapturedDevice[];
}

export interface CaptureResult {
  topology: CapturedTopology;
  /** What could not be captured and what the mock will assume instead, one line each. */
  notes: string[];
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const hex4 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;

function capturedBar(b: Bar): CapturedBar | null {
  if (b.kind === 'none') return null;
  return { index: b.index, start: hex(b.start), size: hex(b.size), kind: b.kind, prefetchable: b.prefetchable };
}

/**
 * Supported sizes of the VF Resizable BAR for VF BAR `index`: the extended
 * capability 0x24 (PCI_EXT_CAP_ID_VF_REBAR, include/uapi/linux/pci_regs.h),
 * whose capability register holds the sizes in bits 4..31 (bit 4 = 1 MiB),
 * i.e. bit n of (cap >> 4) is 2^n MiB. Null when config space past the first
 * 256 bytes cannot be read (not root) or the capability is absent.
 */
export function vfRebarSizes(config: Uint8Array, index: number): bigint | null {
  if (config.length < 0x104) return null;
  const dv = new DataView(config.buffer, config.byteOffset, config.byteLength);
  let at = 0x100;
  for (let hops = 0; hops < 64 && at >= 0x100 && at + 4 <= config.length; hops++) {
    const header = dv.getUint32(at, true);
    if (header === 0 || header === 0xffffffff) return null;
    const id = header & 0xffff;
    if (id === 0x24) {
      // PCI_REBAR_CTRL bits 7:5: number of resizable BARs; each entry is cap (4) + ctrl (4).
      const count = (dv.getUint32(at + 8, true) >> 5) & 7;
      for (let i = 0; i < count && at + 8 + i * 8 + 4 <= config.length; i++) {
        const cap = dv.getUint32(at + 4 + i * 8, true);
        const ctrl = dv.getUint32(at + 8 + i * 8, true);
        if ((ctrl & 7) === index) return BigInt(cap >>> 4);
      }
      return null;
    }
    at = header >>> 20;
  }
  return null;
}

/**
 * The ACS Capability register in a function's config space (PCI_EXT_CAP_ID_ACS
 * 0x000d, register at +4: drivers/pci/pci.c pci_acs_init); null when the
 * extended list has none, undefined when the config space past 256 bytes
 * could not be read (it needs root).
 */
export function acsCapability(config: Uint8Array | null): number | null | undefined {
  if (config === null || config.length < 0x104) return undefined;
  const dv = new DataView(config.buffer, config.byteOffset, config.byteLength);
  let at = 0x100;
  for (let hops = 0; hops < 64 && at >= 0x100 && at + 8 <= config.length; hops++) {
    const header = dv.getUint32(at, true);
    if (header === 0 || header === 0xffffffff) return null;
    if ((header & 0xffff) === 0x000d) return dv.getUint16(at + 4, true);
    at = header >>> 20;
  }
  return null;
}

/** System RAM ranges from /proc/iomem (addresses read as zero for non-root: then unknown). */
export function parseIomemRam(text: string): { start: bigint; size: bigint }[] | null {
  const out: { start: bigint; size: bigint }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) : System RAM$/i.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    if (end === 0n) return null;
    // The mock wants page-aligned ranges; the firmware's first page and odd tails are dropped.
    const s = ((start + 4095n) / 4096n) * 4096n;
    const e = ((end + 1n) / 4096n) * 4096n;
    if (e > s) out.push({ start: s, size: e - s });
  }
  return out.length ? out : null;
}

function dmi(r: SysReader): string | undefined {
  const f = (n: string) => r.maybe(`/sys/class/dmi/id/${n}`)?.trim() || null;
  const vendor = f('sys_vendor');
  const product = f('product_name');
  if (!vendor && !product) return undefined;
  const bios = [f('bios_version'), f('bios_date')].filter(Boolean).join(' ');
  return `${[vendor, product].filter(Boolean).join(' ')}${bios ? `, BIOS ${bios}` : ''}`;
}

/** VRAM of an xe PF, from DRM_XE_DEVICE_QUERY_MEM_REGIONS on its render node (docs/kernel.md §7). */
function xeVram(backend: Backend, pf: string): { vram: bigint; tiles: number } | null {
  const node = listDrmNodes(backend).find((n) => n.kind === 'render' && n.bdf === pf);
  if (!node) return null;
  const dev = XeDevice.open(backend, node.path);
  try {
    const vram = dev.memRegions().filter((m) => m.memClass === XE.MEM_REGION_CLASS_VRAM);
    if (vram.length === 0) return null;
    return { vram: vram.reduce((a, m) => a + m.totalSize, 0n), tiles: vram.length };
  } finally {
    dev.close();
  }
}

/** `../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0`: the part a topology's `parent` holds (src/mock/topology.ts). */
const PARENT_LINK = new RegExp(`devices/(${ROOT_BUS_PATTERN}(?:/${BDF_PATTERN})*)/[^/]+$`);

function parentOf(r: SysReader, bdf: string): string | undefined {
  try {
    const link = r.fs.readlink(devicePath(bdf));
    const m = PARENT_LINK.exec(link);
    return m ? m[1] : undefined;
  } catch (e) {
    if (isErrno(e, 'ENOENT') || isErrno(e, 'EINVAL')) return undefined;
    throw e;
  }
}

function capturePf(backend: Backend, r: SysReader, pf: PfInfo, notes: string[]): CapturedDevice {
  const opt = (attr: string) => {
    const raw = r.maybe(devicePath(pf.bdf, attr));
    const v = raw === null ? null : parseHex(raw);
    return v === null ? undefined : v;
  };
  let config: Uint8Array | null = null;
  try {
    config = r.fs.readFile(devicePath(pf.bdf, 'config'));
  } catch (e) {
    if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EACCES') && !isErrno(e, 'EPERM')) throw e;
  }
  const vfBars = pf.vfBars.map(capturedBar).filter((b): b is CapturedBar => b !== null);
  for (const b of vfBars) {
    const sizes = config ? vfRebarSizes(config, b.index) : null;
    if (sizes !== null) b.resizableSizes = hex(sizes);
  }
  for (const b of vfBars.filter((x) => x.resizableSizes === undefined)) {
    // A VF whose BAR is not the enumeration size was resized (xe grows VF BAR 2 for fewer VFs, docs/kernel.md §9).
    const resized = pf.vfs.find((vf) =>
      vf.bars.some((x) => x.index === b.index && x.kind !== 'none' && hex(x.size) !== b.size),
    );
    if (resized) {
      const why =
        config === null || config.length <= 0x100
          ? 'config space past 256 bytes needs root'
          : 'no VF Resizable BAR capability found in config space';
      notes.push(
        `${pf.bdf}: VF BAR ${b.index} was resized (${resized.bdf} has ${hex(resized.bars.find((x) => x.index === b.index)!.size)}) but its supported sizes are unknown (${why}): the mock will keep it at ${b.size}`,
      );
    }
  }
  const sub = {
    subsystemVendor: opt('subsystem_vendor'),
    subsystemDevice: opt('subsystem_device'),
    revision: opt('revision'),
  };
  const dev: CapturedDevice = {
    bdf: pf.bdf,
    vendor: hex4(pf.vendor ?? 0xffff),
    device: hex4(pf.device ?? 0xffff),
    class: `0x${(pf.class ?? 0).toString(16).padStart(6, '0')}`,
    ...(sub.subsystemVendor !== undefined ? { subsystemVendor: hex4(sub.subsystemVendor) } : {}),
    ...(sub.subsystemDevice !== undefined ? { subsystemDevice: hex4(sub.subsystemDevice) } : {}),
    ...(sub.revision !== undefined ? { revision: `0x${sub.revision.toString(16).padStart(2, '0')}` } : {}),
    driver: pf.driver,
    driverOverride: r.overrideOf(pf.bdf),
    iommuGroup: pf.iommuGroup,
    ...(parentOf(r, pf.bdf) ? { parent: parentOf(r, pf.bdf)! } : {}),
    bars: pf.bars.map(capturedBar).filter((b): b is CapturedBar => b !== null),
    sriov: {
      totalvfs: pf.totalvfs,
      numvfs: pf.vfs.length,
      offset: pf.offset,
      stride: pf.stride,
      vfDevice: hex4(pf.vfDevice ?? pf.device ?? 0xffff),
      autoprobe: pf.autoprobe ?? true,
      vfBars,
      vfs: pf.vfs.map((vf, index) => ({
        index,
        driver: vf.driver,
        driverOverride: vf.override,
        iommuGroup: vf.iommuGroup,
        vramQuota: vf.vramQuota === null ? null : hex(vf.vramQuota),
      })),
    },
  };
  if (pf.driver === 'iovh_mock_gpu') {
    const g = mockGpuOf(r, pf, notes);
    if (g) dev.mockGpu = g;
  }
  if (pf.driver === 'xe') {
    let v: { vram: bigint; tiles: number } | null = null;
    try {
      v = xeVram(backend, pf.bdf);
    } catch (e) {
      notes.push(`${pf.bdf}: VRAM query failed (${e instanceof Error ? e.message : String(e)})`);
    }
    if (v === null) {
      const bar2 = pf.bars.find((b) => b.index === 2);
      v = { vram: bar2?.size ?? 0n, tiles: pf.provisioning?.tiles ?? 1 };
      notes.push(
        `${pf.bdf}: VRAM size taken from BAR 2 (${hex(v.vram)}): no xe render node answered DRM_XE_DEVICE_QUERY_MEM_REGIONS`,
      );
    }
    dev.xe = { vram: hex(v.vram), tiles: v.tiles, ...(pf.provisioning ? { provisioning: pf.provisioning.kind } : {}) };
  }
  return dev;
}

/**
 * The mock GPU's layout from its PF driver's files (kernel/iovh-mock-gpu/main.c:
 * sriov_admin/geometry "lmem L block B blocks N vf_lmem V slots S total_vfs T",
 * sriov_admin/vfN/lmem_blocks the PF blocks in slot order), or null with a note.
 */
function mockGpuOf(r: SysReader, pf: PfInfo, notes: string[]): CapturedDevice['mockGpu'] | null {
  const geo = r.maybe(devicePath(pf.bdf, 'sriov_admin/geometry'));
  const m = geo === null ? null : /lmem (\d+) block (\d+) blocks \d+ vf_lmem (\d+) slots \d+ total_vfs (\d+)/.exec(geo);
  if (!m) {
    notes.push(`${pf.bdf}: the mock GPU's sriov_admin/geometry is unreadable: its layout is not captured`);
    return null;
  }
  const blocks: number[][] = [];
  for (let vf = 1; vf <= Number(m[4]); vf++) {
    const text = r.maybe(devicePath(pf.bdf, `sriov_admin/vf${vf}/lmem_blocks`));
    if (text === null) {
      notes.push(`${pf.bdf}: sriov_admin/vf${vf}/lmem_blocks is unreadable: the layout is not captured`);
      return null;
    }
    blocks.push(text.trim() === '' ? [] : text.trim().split(/\s+/).map(Number));
  }
  return { lmem: hex(BigInt(m[1]!)), blockSize: hex(BigInt(m[2]!)), vfLmem: hex(BigInt(m[3]!)), blocks };
}

const ON_BUS = new RegExp(`^${BDF_PATTERN}$`);

const devfnOf = (bdf: string): number => {
  const m = /([0-9a-f]{2})\.([0-7])$/i.exec(bdf)!;
  return (Number.parseInt(m[1]!, 16) << 3) | Number(m[2]);
};

/**
 * Whether a device is a PCIe root port (PCI_EXP_TYPE_ROOT_PORT in its PCI
 * Express capability), from config space; from its class (a PCI-to-PCI
 * bridge, 0x0604) when the capability list lies past what is readable.
 */
function isRootPort(r: SysReader, bdf: string): boolean {
  let config: Uint8Array | null = null;
  try {
    config = r.fs.readFile(devicePath(bdf, 'config'));
  } catch (e) {
    if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EACCES') && !isErrno(e, 'EPERM')) throw e;
  }
  if (config !== null && config.length >= 0x40 && (config[0x06]! & 0x10) !== 0) {
    // The standard capability list from PCI_CAPABILITY_LIST; at most 48 entries (drivers/pci/pci.c PCI_FIND_CAP_TTL).
    let at = config[0x34]! & 0xfc;
    for (let ttl = 48; ttl > 0 && at >= 0x40 && at + 4 <= config.length; ttl--) {
      if (config[at] === 0x10) return ((config[at + 2]! >> 4) & 0xf) === 0x4;
      at = config[at + 1]! & 0xfc;
    }
  }
  return (parseHex(r.maybe(devicePath(bdf, 'class')) ?? '') ?? 0) >> 8 === 0x0604;
}

/**
 * The kernel checks the P2PDMA host-bridge whitelist against the first device
 * on the root bus, when it is 00.0 or a root port, else against nothing
 * (drivers/pci/p2pdma.c pci_host_bridge_dev: list_first_entry of the bus's
 * devices, in scan order, which is devfn order at boot). The mock picks the
 * same way from what the topology holds (src/mock/pcie.ts): 00.0, the ports
 * on the PFs' paths, the PFs on the root bus. When the root bus has no 00.0
 * and its first device is none of those (a root port off the paths, an
 * endpoint such as an IOMMU function), that device with its kind, so that
 * the mock picks it too.
 */
function firstOnRootBus(
  r: SysReader,
  root: string,
  devices: readonly CapturedDevice[],
  ports: readonly string[],
): { bdf: string; rootPort: boolean } | null {
  const onBus = r
    .list(`/sys/devices/${root}`)
    // A directory without IDs is no device sysfs shows (the mock's bridges): left to the mock's own default.
    .filter((n) => ON_BUS.test(n) && r.maybe(devicePath(n, 'vendor')) !== null)
    .sort((a, b) => devfnOf(a) - devfnOf(b));
  const first = onBus[0];
  if (first === undefined || devfnOf(first) === 0) return null;
  if (ports.includes(first) || devices.some((d) => d.bdf === first)) return null;
  return { bdf: first, rootPort: isRootPort(r, first) };
}

/**
 * The ports on the captured PFs' paths with their IDs and ACS capability, and
 * each root bus's 00.0 (the host bridge the P2P whitelist is checked against)
 * or, without one, its first device when it is off the paths:
 * what the mock derives VF IOMMU groups and P2P routes from. A port whose
 * config space past 256 bytes cannot be read is listed without `acs` (the
 * mock then assumes its kind's default) and noted.
 */
function captureBridges(r: SysReader, devices: readonly CapturedDevice[], notes: string[]): CapturedBridge[] {
  const taken = new Set(devices.map((d) => d.bdf));
  const out: CapturedBridge[] = [];
  const ids = (bdf: string) => {
    const v = parseHex(r.maybe(devicePath(bdf, 'vendor')) ?? '');
    const d = parseHex(r.maybe(devicePath(bdf, 'device')) ?? '');
    return { ...(v !== null ? { vendor: hex4(v) } : {}), ...(d !== null ? { device: hex4(d) } : {}) };
  };
  const roots = new Set<string>();
  const ports: string[] = [];
  for (const d of devices) {
    const [root, ...path] = (d.parent ?? '').split('/');
    if (root) roots.add(root);
    for (const p of path) if (!ports.includes(p) && !taken.has(p)) ports.push(p);
  }
  for (const root of roots) {
    // pciDDDD:BB -> DDDD:BB:00.0, when the machine has one there and it is not on a path or captured already.
    const host = `${root.slice(3)}:00.0`;
    const first = firstOnRootBus(r, root, devices, ports);
    if (first !== null) out.push({ bdf: first.bdf, ...ids(first.bdf), rootPort: first.rootPort });
    if (taken.has(host) || ports.includes(host) || r.maybe(devicePath(host, 'vendor')) === null) continue;
    out.push({ bdf: host, ...ids(host) });
  }
  let unread = 0;
  for (const bdf of ports) {
    // A port sysfs does not show (the mock's machine has none) is left to the mock's default.
    if (r.maybe(devicePath(bdf, 'vendor')) === null) continue;
    let config: Uint8Array | null = null;
    try {
      config = r.fs.readFile(devicePath(bdf, 'config'));
    } catch (e) {
      if (!isErrno(e, 'ENOENT') && !isErrno(e, 'EACCES') && !isErrno(e, 'EPERM')) throw e;
    }
    const acs = acsCapability(config);
    if (acs === undefined) unread++;
    out.push({ bdf, ...ids(bdf), ...(acs === undefined ? {} : { acs: acs === null ? null : hex4(acs) }) });
  }
  if (unread > 0)
    notes.push(
      `ACS of ${unread} bridge${unread === 1 ? '' : 's'} not captured (config space past 256 bytes needs root): the mock assumes ACS on root and downstream ports, none on upstream ports`,
    );
  return out;
}

export function capture(backend: Backend): CaptureResult {
  const r = new SysReader(backend.fs);
  const notes: string[] = [];
  const t = discover(backend.fs);
  const machine = dmi(r);
  const release = r.maybe('/proc/sys/kernel/osrelease')?.trim();
  const cmdline = r.maybe('/proc/cmdline')?.trim();
  const iomem = r.maybe('/proc/iomem');
  const ram = iomem === null ? null : parseIomemRam(iomem);
  if (!ram)
    notes.push(
      'System RAM ranges not captured (/proc/iomem shows addresses to root only): the mock assumes its default RAM map',
    );
  const devices = t.pfs.map((pf) => capturePf(backend, r, pf, notes));
  const bridges = captureBridges(r, devices, notes);
  // Keys in the order docs/topology.md lists them, for people reading the file.
  return {
    topology: {
      schema: TOPOLOGY_SCHEMA,
      ...(machine ? { machine } : {}),
      ...(release || cmdline ? { kernel: { ...(release ? { release } : {}), ...(cmdline ? { cmdline } : {}) } } : {}),
      ...(ram ? { ram: ram.map((x) => ({ start: hex(x.start), size: hex(x.size) })) } : {}),
      ...(bridges.length > 0 ? { bridges } : {}),
      devices,
    },
    notes,
  };
}
