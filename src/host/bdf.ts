// PCI addresses as the kernel names devices in sysfs: `DDDD:BB:DD.F`
// (drivers/pci/probe.c pci_setup_device: "%04x:%02x:%02x.%d"), lower-case hex.
// Users also type the short `BB:DD.F` form lspci prints; it means domain 0.
import { InputError } from './errors.js';

export interface PciAddress {
  domain: number;
  bus: number;
  /** device number, 0..31 */
  slot: number;
  /** function number, 0..7 */
  fn: number;
}

// Domains wider than 16 bits exist (Intel VMD uses 0x10000 and up) and the
// kernel then prints more than four digits; buses are 8 bits, slots 5, functions 3.
const FULL = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
const SHORT = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/** Parses a BDF in the full or the short form; null when it is not one. */
export function parseBdf(text: string): PciAddress | null {
  const t = text.trim();
  let m = FULL.exec(t);
  let domain = 0;
  let rest: string[];
  if (m) {
    domain = Number.parseInt(m[1]!, 16);
    rest = [m[2]!, m[3]!, m[4]!];
  } else {
    m = SHORT.exec(t);
    if (!m) return null;
    rest = [m[1]!, m[2]!, m[3]!];
  }
  const bus = Number.parseInt(rest[0]!, 16);
  const slot = Number.parseInt(rest[1]!, 16);
  const fn = Number.parseInt(rest[2]!, 16);
  if (slot > 31) return null;
  return { domain, bus, slot, fn };
}

export function formatBdf(a: PciAddress): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn}`;
}

/** The canonical sysfs name of a BDF typed by a user, or an InputError naming what is wrong. */
export function normalizeBdf(text: string, what = 'device'): string {
  const a = parseBdf(text);
  if (!a) {
    throw new InputError(`'${text}' is not a PCI address for the ${what} (expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:03:00.0)`);
  }
  return formatBdf(a);
}

/** Routing ID: bus << 8 | devfn (PCIe; drivers/pci/iov.c pci_iov_virtfn_bus/devfn). */
export function routingId(a: PciAddress): number {
  return (a.bus << 8) | (a.slot << 3) | a.fn;
}

/**
 * The address of VF `vfId` (1-based, xe's `vfN`; virtfn(vfId-1)) of a PF: its
 * routing ID is the PF's + First VF Offset + (vfId-1) * VF Stride, which can
 * carry into the next bus number (drivers/pci/iov.c pci_iov_virtfn_bus,
 * rfc-model quirk 5). Null when it would leave the 16-bit routing ID space.
 */
export function vfAddress(pf: PciAddress, offset: number, stride: number, vfId: number): PciAddress | null {
  const rid = routingId(pf) + offset + (vfId - 1) * stride;
  if (rid > 0xffff) return null;
  return { domain: pf.domain, bus: rid >> 8, slot: (rid >> 3) & 0x1f, fn: rid & 7 };
}
