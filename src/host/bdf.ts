// PCI addresses as users type them for the bring-up commands. The grammar
// (full and short forms, domains past 0xffff) is src/uapi/bdf.ts, shared
// with `iovh run --pf/--vf`, the VFIO wrappers and the mock's topologies.
import { clip } from './quote.js';
import { InputError } from './errors.js';
import { formatBdf, parseBdf, type PciAddress } from '../uapi/bdf.js';

export { formatBdf, parseBdf, type PciAddress };

/** The canonical sysfs name of a BDF typed by a user, or an InputError naming what is wrong. */
export function normalizeBdf(text: string, what = 'device'): string {
  const a = parseBdf(text);
  if (!a) {
    throw new InputError(
      `'${clip(text)}' is not a PCI address for the ${what} (expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:03:00.0)`,
    );
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
 * RFC quirk 5). Null when it would leave the 16-bit routing ID space.
 */
export function vfAddress(pf: PciAddress, offset: number, stride: number, vfId: number): PciAddress | null {
  const rid = routingId(pf) + offset + (vfId - 1) * stride;
  if (rid > 0xffff) return null;
  return { domain: pf.domain, bus: rid >> 8, slot: (rid >> 3) & 0x1f, fn: rid & 7 };
}
