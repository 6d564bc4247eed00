// The PCIe fabric above the devices: root ports, switch ports and host
// bridges, with the one fact about them that decides both the IOMMU group of a
// new function and the route of a P2P map between two functions: each port's
// ACS (Access Control Services) capability. docs/topology.md `bridges`.
//
// With an IOMMU the kernel asks for ACS (pci_request_acs) and enables, on every
// port with an ACS Extended Capability, the Source Validation, Request and
// Completion Redirect and Upstream Forwarding bits the capability has
// (drivers/pci/pci.c pci_enable_acs -> pci_std_enable_acs). From that one
// register:
// - pci_device_group (drivers/iommu/iommu.c) gives a function a group of its
//   own when the path from its bus up to the root bus isolates it
//   (pci_acs_path_enabled with REQ_ACS_FLAGS = SV|RR|CR|UF), else the group of
//   the first bridge on the way that does not, where its PF already is;
// - calc_map_type_and_dist (drivers/pci/p2pdma.c) routes a P2P map by bus
//   address when provider and client meet at a common upstream device with no
//   ACS redirect (RR|CR|EC in the control register) on either path, else
//   through the host bridge, which only a whitelisted host bridge (or an AMD Zen
//   CPU, which the mock is not) allows.
// So a port that isolates the VFs (groups of their own, usable by VFIO while the
// PF's driver holds the PF) also redirects their P2P traffic to the host bridge.

import type { ParsedTopology } from './topology.js';

/** PCI_ACS_* (include/uapi/linux/pci_regs.h). */
export const ACS = { SV: 0x01, TB: 0x02, RR: 0x04, CR: 0x08, UF: 0x10, EC: 0x20, DT: 0x40 } as const;

/** drivers/iommu/iommu.c REQ_ACS_FLAGS: what isolates a device for IOMMU grouping. */
const REQ_ACS_FLAGS = ACS.SV | ACS.RR | ACS.CR | ACS.UF;

/** The ACS Control bits firmware leaves before the kernel's (caps.fw_ctrl): the mock models none. */
const FIRMWARE_ACS_CTRL = 0;

/** The ACS capability a root or downstream port the topology does not list is given (docs/topology.md). */
export const DEFAULT_PORT_ACS = ACS.SV | ACS.TB | ACS.RR | ACS.CR | ACS.UF;

/** enum pci_p2pdma_map_type (include/linux/pci-p2pdma.h). */
export const P2P_MAP = { NOT_SUPPORTED: 2, BUS_ADDR: 3, THRU_HOST_BRIDGE: 4 } as const;
export type P2pMapType = (typeof P2P_MAP)[keyof typeof P2P_MAP];

/** drivers/pci/p2pdma.c pci_p2pdma_whitelist[] (7.2.13): vendor, device (-1 = PCI_ANY_ID), REQ_SAME_HOST_BRIDGE. */
const P2PDMA_WHITELIST: readonly [number, number, boolean][] = [
  [0x8086, 0x3c00, true], // Intel Xeon E5/Core i7
  [0x8086, 0x3c01, true],
  [0x8086, 0x2f00, true], // Intel Xeon E7 v3/Xeon E5 v3/Core i7
  [0x8086, 0x2f01, true],
  [0x8086, 0x2030, false], // Intel Skylake-E
  [0x8086, 0x2031, false],
  [0x8086, 0x2032, false],
  [0x8086, 0x2033, false],
  [0x8086, 0x2020, false],
  [0x8086, 0x09a2, false],
  [0x8086, 0x0b25, false], // PCI_DEVICE_ID_INTEL_DSA_SPR0
  [0x8086, 0x0cfe, false], // PCI_DEVICE_ID_INTEL_IAX_SPR0
  [0x8086, 0x11fb, false], // PCI_DEVICE_ID_INTEL_DSA_GNRD
  [0x8086, 0x1212, false], // PCI_DEVICE_ID_INTEL_DSA_DMR
  [0x8086, 0x1216, false], // PCI_DEVICE_ID_INTEL_IAA_DMR
  [0x8086, 0x4940, false], // PCI_DEVICE_ID_INTEL_QAT_4XXX
  [0x8086, 0x4942, false], // PCI_DEVICE_ID_INTEL_QAT_401XX
  [0x8086, 0x4944, false], // PCI_DEVICE_ID_INTEL_QAT_402XX
  [0x8086, 0x4946, false], // PCI_DEVICE_ID_INTEL_QAT_420XX
  [0x8086, 0x4948, false], // PCI_DEVICE_ID_INTEL_QAT_6XXX
  [0x1ae0, -1, false], // Google SoCs
];

interface RootBusDevice {
  readonly bdf: string;
  readonly devfn: number;
  readonly vendor: number | null;
  readonly device: number | null;
  readonly rootPort: boolean;
}

export type PortKind = 'root-port' | 'upstream' | 'downstream';

/** One bridge on a device's path, as the kernel sees it for ACS. */
export interface Port {
  readonly bdf: string;
  readonly kind: PortKind;
  /** The ACS Capability register, null without an ACS Extended Capability. */
  readonly acsCap: number | null;
  readonly vendor: number | null;
  readonly device: number | null;
}

/** What the fabric needs to know of a PCI function: where it sits, and its PF when it is a VF. */
export interface FabricFunction {
  readonly bdf: string;
  readonly parentPath: string;
  readonly physfn: FabricFunction | null;
}

/** The route of one P2P map and the kernel's warnings on the way (calc_map_type_and_dist, verbose). */
export interface P2pRoute {
  readonly type: P2pMapType;
  /** Lines pci_warn prints: [device the line is about, text]. */
  readonly warnings: readonly [string, string][];
}

/** The bridges of a sysfs parent path, root bus first: `pci0000:00/0000:00:01.0/0000:01:00.0` -> [00:01.0, 01:00.0]. */
export function pathBridges(parentPath: string): string[] {
  return parentPath.split('/').slice(1);
}

/** Root port first, then switch upstream and downstream ports in turn (PCIe switches: one upstream port, N downstream). */
export function portKind(depth: number): PortKind {
  return depth === 0 ? 'root-port' : depth % 2 === 1 ? 'upstream' : 'downstream';
}

export class PcieFabric {
  private readonly ports = new Map<string, Port>();
  /** Per root bus (`pci0000:00`): the first device on it, whose IDs the whitelist is checked against. */
  private readonly hostBridges = new Map<string, RootBusDevice | null>();

  /** Per port, the ACS Control register after pci_enable_acs. */
  private readonly ctrl = new Map<string, number>();
  /** The ports `pci=disable_acs_redir=` matched, with the control register it left (pci_info at enumeration). */
  readonly configured: readonly { bdf: string; ctrl: number }[];
  /** A port with ACS reached an entry of `pci=disable_acs_redir=` the kernel cannot parse (its pr_warn_once). */
  readonly cannotParse: boolean;

  constructor(topology: Pick<ParsedTopology, 'devices' | 'bridges'>, cmdline = '') {
    const listed = new Map(topology.bridges.map((b) => [b.bdf, b]));
    const rootBusDevices = new Map<string, RootBusDevice[]>();
    const onRoot = (root: string, e: RootBusDevice) => {
      const list = rootBusDevices.get(root) ?? [];
      list.push(e);
      rootBusDevices.set(root, list);
    };
    for (const d of topology.devices) {
      const root = d.parent.split('/')[0]!;
      const bridges = pathBridges(d.parent);
      bridges.forEach((bdf, depth) => {
        if (this.ports.has(bdf)) return;
        const spec = listed.get(bdf);
        const kind = portKind(depth);
        this.ports.set(bdf, {
          bdf,
          kind,
          acsCap: spec?.acs !== undefined ? spec.acs : kind === 'upstream' ? null : DEFAULT_PORT_ACS,
          vendor: spec?.vendor ?? null,
          device: spec?.device ?? null,
        });
        if (depth === 0)
          onRoot(root, {
            bdf,
            devfn: devfnOf(bdf),
            vendor: spec?.vendor ?? null,
            device: spec?.device ?? null,
            rootPort: true,
          });
      });
      if (bridges.length === 0)
        onRoot(root, { bdf: d.bdf, devfn: d.devfn, vendor: d.vendor, device: d.device, rootPort: false });
    }
    for (const b of topology.bridges) {
      if (this.ports.has(b.bdf)) continue;
      // Not on any device's path: the host bridge at 00.0 of a root bus, or another root-bus device with its kind
      // (parseTopology checked where it sits).
      onRoot(b.root, { bdf: b.bdf, devfn: devfnOf(b.bdf), vendor: b.vendor, device: b.device, rootPort: b.rootPort });
    }
    // pci_enable_acs, with an IOMMU (pci_acs_enable): the capability's SV RR CR UF over the firmware's control bits
    // (none in the mock), then pci=disable_acs_redir= (__pci_config_acs with mask RR|CR|EC and no flags: the
    // firmware's bits without those three, so the kernel's own SV and UF go too).
    const redir = disableAcsRedir(cmdline);
    const configured: { bdf: string; ctrl: number }[] = [];
    let cannotParse = false;
    for (const p of this.ports.values()) {
      if (p.acsCap === null) continue;
      let ctrl = p.acsCap & REQ_ACS_FLAGS;
      if (redir.entries.some((m) => m(p))) {
        ctrl = FIRMWARE_ACS_CTRL & ~(ACS.RR | ACS.CR | ACS.EC);
        configured.push({ bdf: p.bdf, ctrl });
      } else if (redir.unparsable) cannotParse = true;
      this.ctrl.set(p.bdf, ctrl);
    }
    this.configured = configured;
    this.cannotParse = cannotParse;
    // pci_host_bridge_dev: the first device on the root bus (bus order is devfn order) if it is 00.0 or a root port.
    for (const [root, list] of rootBusDevices) {
      list.sort((a, b) => a.devfn - b.devfn);
      const first = list[0]!;
      this.hostBridges.set(root, first.devfn === 0 || first.rootPort ? first : null);
    }
  }

  port(bdf: string): Port | undefined {
    return this.ports.get(bdf);
  }

  /** The ACS Control register pci_enable_acs left (0 for a port without ACS: no register). */
  private acsCtrl(p: Port): number {
    return this.ctrl.get(p.bdf) ?? 0;
  }

  /** drivers/pci/pci.c pci_acs_enabled for a port (the mock's ports are single-function, PCIe). */
  private acsEnabled(p: Port, flags: number): boolean {
    // Upstream ports are checked only when multifunction (PCIe 3.0 6.12.1.2); the mock's are not.
    if (p.kind === 'upstream') return true;
    // pci_acs_flags_enabled: no ACS capability fails; flags the capability lacks count as hard-wired enabled.
    if (p.acsCap === null) return false;
    const need = flags & (p.acsCap | ACS.EC);
    return (this.acsCtrl(p) & need) === need;
  }

  /** drivers/pci/pci.c pci_acs_path_enabled(start, NULL, flags): `path` is the root-bus-first bridge list ending at start. */
  private acsPathEnabled(path: readonly string[], flags: number): boolean {
    for (let i = path.length - 1; i >= 0; i--) if (!this.acsEnabled(this.ports.get(path[i]!)!, flags)) return false;
    return true;
  }

  /** drivers/pci/p2pdma.c pci_bridge_has_acs_redir. The mock gives endpoints no ACS capability. */
  private hasAcsRedir(bdf: string): boolean {
    const p = this.ports.get(bdf);
    return p !== undefined && (this.acsCtrl(p) & (ACS.RR | ACS.CR | ACS.EC)) !== 0;
  }

  /**
   * Whether a new function below `parentPath` joins the IOMMU group of the
   * bridge above it (and so of every function there, its PF included) instead
   * of getting one of its own: drivers/iommu/iommu.c pci_device_group walks up
   * from the function's bus and stops at the first bridge whose path to the
   * root bus is ACS-isolated (pci_acs_path_enabled with REQ_ACS_FLAGS); a
   * bridge before that is taken, and its group (made when the bridge was
   * probed, before anything below it) is returned. A VF is not multifunction
   * (drivers/pci/iov.c pci_iov_add_virtfn) and PCIe functions have no DMA
   * alias, so nothing else groups it. A function on the root bus has no bridge
   * above it: a group of its own.
   */
  sharesBridgeGroup(parentPath: string): boolean {
    const path = pathBridges(parentPath);
    return path.length > 0 && !this.acsPathEnabled(path, REQ_ACS_FLAGS);
  }

  /**
   * drivers/pci/p2pdma.c calc_map_type_and_dist(provider, client, verbose):
   * walk up from the provider until a device that is also on the client's
   * upward chain, counting ACS redirect on the provider's side (the common
   * device included) and on the client's side below it. pci_upstream_bridge
   * of a VF is its PF's upstream bridge (pci_physfn), so a VF and its PF meet
   * at the port above the PF. Met with no redirect: bus address. Redirect, or
   * no common device: through the host bridge if whitelisted, else not
   * supported. A client that is not a PCI device is not supported
   * (pci_p2pdma_map_type: !dev_is_pci).
   */
  route(provider: FabricFunction, client: FabricFunction | null): P2pRoute {
    if (client === null) return { type: P2P_MAP.NOT_SUPPORTED, warnings: [] };
    const chain = (f: FabricFunction): string[] => [f.bdf, ...pathBridges((f.physfn ?? f).parentPath).reverse()];
    const up = chain(provider);
    const down = chain(client);
    const warnings: [string, string][] = [];
    const redirected: string[] = [];
    let common: string | null = null;
    for (const a of up) {
      if (this.hasAcsRedir(a)) redirected.push(a);
      if (down.includes(a)) {
        common = a;
        break;
      }
    }
    let acsRedirects = false;
    if (common !== null) {
      for (const b of down) {
        if (b === common) break;
        if (this.hasAcsRedir(b)) redirected.push(b);
      }
      if (redirected.length === 0) return { type: P2P_MAP.BUS_ADDR, warnings };
      warnings.push([client.bdf, `ACS redirect is set between the client and provider (${provider.bdf})`]);
      warnings.push([
        client.bdf,
        `to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=${redirected.join(';')}`,
      ]);
      acsRedirects = true;
    }
    // map_through_host_bridge: !cpu_supports_p2pdma() (an Intel CPU) && !host_bridge_whitelist(provider, client, acs_redirects).
    if (this.hostBridgeWhitelisted(provider, client, acsRedirects, warnings))
      return { type: P2P_MAP.THRU_HOST_BRIDGE, warnings };
    warnings.push([
      client.bdf,
      `cannot be used for peer-to-peer DMA as the client and provider (${provider.bdf}) do not share an upstream bridge or whitelisted host bridge`,
    ]);
    return { type: P2P_MAP.NOT_SUPPORTED, warnings };
  }

  /** drivers/pci/p2pdma.c host_bridge_whitelist -> __host_bridge_whitelist for each side's root bus. */
  private hostBridgeWhitelisted(a: FabricFunction, b: FabricFunction, warn: boolean, out: [string, string][]): boolean {
    const rootOf = (f: FabricFunction) => (f.physfn ?? f).parentPath.split('/')[0]!;
    const ra = rootOf(a);
    const rb = rootOf(b);
    const one = (root: string, sameHostBridge: boolean): boolean => {
      const host = this.hostBridges.get(root) ?? null;
      if (host === null) return false;
      for (const [vendor, device, reqSame] of P2PDMA_WHITELIST) {
        if (host.vendor !== vendor) continue;
        if (device !== -1 && host.device !== device) continue;
        return !(reqSame && !sameHostBridge);
      }
      if (warn) {
        const id = (v: number | null) => (v === null ? '????' : v.toString(16).padStart(4, '0'));
        out.push([host.bdf, `Host bridge not in P2PDMA whitelist: ${id(host.vendor)}:${id(host.device)}`]);
      }
      return false;
    };
    if (ra === rb) return one(ra, true);
    return one(ra, false) && one(rb, false);
  }
}

function devfnOf(bdf: string): number {
  const m = /([0-9a-f]{2})\.([0-7])$/.exec(bdf)!;
  return (Number.parseInt(m[1]!, 16) << 3) | Number(m[2]);
}

/**
 * The ports `pci=disable_acs_redir=` names (drivers/pci/pci.c pci_setup splits
 * `pci=` at commas, the last disable_acs_redir= wins; __pci_config_acs splits it
 * at semicolons and pci_dev_str_match matches each entry): `[<domain>:]<bus>:<dev>.<fn>`
 * or `pci:<vendor>:<device>[:<subvendor>:<subdevice>]` (0 matches any; a port
 * whose IDs the topology does not give matches only 0:0). The path form
 * (`<bdf>/<dev>.<fn>...`) is not modelled and matches nothing. An entry
 * pci_dev_str_match cannot parse (-EINVAL) ends the list for every port that
 * did not match before it (`unparsable`: "Can't parse ACS command line
 * parameter", pr_warn_once).
 */
function disableAcsRedir(cmdline: string): { entries: ((p: Port) => boolean)[]; unparsable: boolean } {
  let param: string | null = null;
  for (const word of cmdline.split(/\s+/)) {
    if (!word.startsWith('pci=')) continue;
    for (const opt of word.slice(4).split(','))
      if (opt.startsWith('disable_acs_redir=')) param = opt.slice('disable_acs_redir='.length);
  }
  const entries: ((p: Port) => boolean)[] = [];
  if (!param) return { entries, unparsable: false };
  for (const e of param.split(';').filter((x) => x !== '')) {
    const m = acsRedirEntry(e);
    if (m === null) return { entries, unparsable: true };
    entries.push(m);
  }
  return { entries, unparsable: false };
}

/** One `pci=disable_acs_redir=` entry as a port matcher; null when pci_dev_str_match cannot parse it. */
function acsRedirEntry(e: string): ((p: Port) => boolean) | null {
  const ids = /^pci:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::[0-9a-f]{1,4}:[0-9a-f]{1,4})?$/i.exec(e);
  if (ids) {
    const vendor = Number.parseInt(ids[1]!, 16);
    const device = Number.parseInt(ids[2]!, 16);
    return (p) => (vendor === 0 || vendor === p.vendor) && (device === 0 || device === p.device);
  }
  // pci_dev_str_match_path: the path form (devfns below a BDF) is not modelled: no port matches it.
  if (/^(?:[0-9a-f]+:)?[0-9a-f]+:[0-9a-f]+\.[0-9a-f]+(?:\/[0-9a-f]+\.[0-9a-f]+)+$/i.test(e)) return () => false;
  // sscanf "%x:%x:%x.%x", else "%x:%x.%x" with segment 0; PCI_DEVFN keeps 5 bits of the slot, 3 of the function.
  const at = /^(?:([0-9a-f]+):)?([0-9a-f]+):([0-9a-f]+)\.([0-9a-f]+)$/i.exec(e);
  if (!at) return null;
  const domain = Number.parseInt(at[1] ?? '0', 16);
  const bus = Number.parseInt(at[2]!, 16);
  const devfn = ((Number.parseInt(at[3]!, 16) & 0x1f) << 3) | (Number.parseInt(at[4]!, 16) & 0x07);
  return (p) => {
    const m = /^([0-9a-f]+):([0-9a-f]{2}):/.exec(p.bdf)!;
    return Number.parseInt(m[1]!, 16) === domain && Number.parseInt(m[2]!, 16) === bus && devfnOf(p.bdf) === devfn;
  };
}
