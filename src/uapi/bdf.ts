// PCI addresses: the one grammar every reader of a BDF in iovh uses (the
// bring-up commands, `iovh run --pf/--vf`, the VFIO wrappers, sysfs links,
// the mock's topology files).
//
// The kernel names a PCI device "%04x:%02x:%02x.%d" from pci_domain_nr(),
// the bus number, PCI_SLOT and PCI_FUNC (drivers/pci/probe.c
// pci_setup_device), and a root bus "pci%04x:%02x" (drivers/pci/probe.c
// pci_register_host_bridge). The domain is an int: at least four hex digits,
// more when it is past 0xffff, as Intel VMD's are ("VMD domains start at
// 0x10000 to not clash with ACPI _SEG domains", drivers/pci/controller/vmd.c
// vmd_find_free_domain), so up to eight. Buses are 8 bits, slots 5,
// functions 3.

export interface PciAddress {
  domain: number;
  bus: number;
  /** device number, 0..31 */
  slot: number;
  /** function number, 0..7 */
  fn: number;
}

/** A domain as %04x prints it: four digits, or more without a leading zero. */
const DOMAIN = '(?:[0-9a-f]{4}|[1-9a-f][0-9a-f]{4,7})';

/**
 * A device name exactly as sysfs spells it, for matching inside longer text
 * (symlink targets, log lines): no anchors, no capture groups.
 */
export const BDF_PATTERN = `${DOMAIN}:[0-9a-f]{2}:[01][0-9a-f]\\.[0-7]`;

/** A root bus's name under /sys/devices (`pci0000:00`, `pci10000:e0`). */
export const ROOT_BUS_PATTERN = `pci${DOMAIN}:[0-9a-f]{2}`;

// What users type: any case, surrounding blanks, the domain with four to eight
// digits (leading zeros allowed), or the short BB:DD.F lspci prints (domain 0).
const TYPED = /^(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/**
 * A BDF as users type it (`0000:03:00.1`, `03:00.1`, `10000:E0:00.0`,
 * ` 0000:AF:1F.7 `); null when it is not one.
 */
export function parseBdf(text: string): PciAddress | null {
  const m = TYPED.exec(text.trim());
  if (!m) return null;
  const slot = Number.parseInt(m[3]!, 16);
  if (slot > 31) return null;
  return {
    domain: m[1] === undefined ? 0 : Number.parseInt(m[1], 16),
    bus: Number.parseInt(m[2]!, 16),
    slot,
    fn: Number(m[4]),
  };
}

/** The sysfs name of an address. */
export function formatBdf(a: PciAddress): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn}`;
}

/** The sysfs name of what a user typed, or null when it is not a BDF. */
export function normalizeBdf(text: string): string | null {
  const a = parseBdf(text);
  return a && formatBdf(a);
}

/** Exactly the kernel's spelling of a device name (lower case, no blanks, no short form, no extra zeros). */
export function isBdf(text: string): boolean {
  return normalizeBdf(text) === text;
}

/** The address of a name in the kernel's spelling; null for anything else. */
export function parseSysfsBdf(text: string): PciAddress | null {
  return isBdf(text) ? parseBdf(text) : null;
}

/** Routing ID: bus << 8 | devfn (PCIe; drivers/pci/iov.c pci_iov_virtfn_bus/devfn). */
export function routingId(a: PciAddress): number {
  return (a.bus << 8) | (a.slot << 3) | a.fn;
}

/**
 * The address of VF `vfId` (1-based, xe's `vfN`; virtfn(vfId-1)) of a PF: its
 * routing ID is the PF's + First VF Offset + (vfId-1) * VF Stride (PCIe
 * SR-IOV), and devfn + offset + stride * (vfId-1) can carry into the next
 * bus number (drivers/pci/iov.c pci_iov_virtfn_bus: bus + (that >> 8);
 * pci_iov_virtfn_devfn: that & 0xff; RFC quirk 5). Null past bus 0xff, where
 * sriov_enable() refuses ("can't enable %d VFs (bus %02x out of range ...)").
 * The one place of this rule (the mock places its VFs with it too).
 */
export function vfAddress(pf: PciAddress, offset: number, stride: number, vfId: number): PciAddress | null {
  const rid = routingId(pf) + offset + (vfId - 1) * stride;
  if (rid > 0xffff) return null;
  return { domain: pf.domain, bus: rid >> 8, slot: (rid >> 3) & 0x1f, fn: rid & 7 };
}
