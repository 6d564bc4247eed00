// Where the PCI core and the driver core keep what bring-up reads and writes,
// and how their files read (docs/kernel.md §4, §9; drivers/pci/pci-sysfs.c,
// drivers/pci/iov.c, drivers/base/bus.c).
import type { FileOps } from '../backend/types.js';
import { isErrno } from '../uapi/errors.js';

export const PCI_DEVICES = '/sys/bus/pci/devices';
export const PCI_DRIVERS = '/sys/bus/pci/drivers';
/** Writing a BDF here probes that one device (drivers/base/bus.c drivers_probe_store). */
export const DRIVERS_PROBE = '/sys/bus/pci/drivers_probe';
export const IOMMU_GROUPS = '/sys/kernel/iommu_groups';
export const DEBUGFS = '/sys/kernel/debug';

export function devicePath(bdf: string, attr?: string): string {
  return attr ? `${PCI_DEVICES}/${bdf}/${attr}` : `${PCI_DEVICES}/${bdf}`;
}

/**
 * A name the driver core could have registered a PCI driver under, safe to
 * join into a /sys/bus/pci/drivers/ path: letters, digits, '_', '-' and '.',
 * not starting with '.' (so never '.' or '..', which name the drivers
 * directory itself and its parent).
 */
export const DRIVER_NAME_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';
const DRIVER_NAME_RE = new RegExp(DRIVER_NAME_PATTERN);

export function isDriverName(name: string): boolean {
  return DRIVER_NAME_RE.test(name);
}

export function driverPath(driver: string, attr?: string): string {
  return attr ? `${PCI_DRIVERS}/${driver}/${attr}` : `${PCI_DRIVERS}/${driver}`;
}

/** Last component of a path or a link's text (`../../../devices/.../0000:03:00.1` -> `0000:03:00.1`). */
export function basename(p: string): string {
  const parts = p.split('/').filter((s) => s.length > 0);
  return parts[parts.length - 1] ?? '';
}

/** A sysfs attribute's value without the trailing newline sysfs_emit adds. */
export function attrText(raw: string): string {
  return raw.replace(/\n$/, '');
}

/**
 * driver_override as read back: the driver core prints "%s\n" of a NULL
 * pointer as "(null)" when no override is set (drivers/base/core.c /
 * bus.c driver_override_show, docs/kernel.md §4); an empty string means the same.
 */
export function parseOverride(raw: string): string | null {
  const t = attrText(raw).trim();
  return t === '' || t === '(null)' ? null : t;
}

/** Hex attributes (`vendor`, `device`, `class`, `sriov_vf_device`) print as 0x%04x / 0x%06x. */
export function parseHex(raw: string): number | null {
  const t = attrText(raw).trim();
  if (!/^(0x)?[0-9a-f]+$/i.test(t)) return null;
  return Number.parseInt(t.replace(/^0x/i, ''), 16);
}

export function parseDecimal(raw: string): number | null {
  const t = attrText(raw).trim();
  if (!/^\d+$/.test(t)) return null;
  return Number(t);
}

/** Unsigned decimal or 0x-hex u64 (vram_quota prints %llu; debugfs u64 attributes too). */
export function parseU64(raw: string): bigint | null {
  const t = attrText(raw).trim();
  if (/^\d+$/.test(t)) return BigInt(t);
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  return null;
}

/** kstrtobool's reading of what sriov_drivers_autoprobe prints ("%u\n": 0 or 1). */
export function parseBool(raw: string): boolean | null {
  const t = attrText(raw).trim().toLowerCase();
  if (t === '1' || t === 'y' || t === 'on') return true;
  if (t === '0' || t === 'n' || t === 'off') return false;
  return null;
}

// struct resource flags (include/linux/ioport.h).
export const IORESOURCE_IO = 0x100;
export const IORESOURCE_MEM = 0x200;
export const IORESOURCE_PREFETCH = 0x2000;
export const IORESOURCE_MEM_64 = 0x100000;

/** Index of the first SR-IOV resource in `resource` (PCI_IOV_RESOURCES, include/linux/pci.h). */
export const PCI_IOV_RESOURCES = 7;

export interface ResourceLine {
  index: number;
  start: bigint;
  /** end - start + 1, or 0 for an unused line */
  size: bigint;
  flags: number;
}

/**
 * The `resource` file: one "0x%016llx 0x%016llx 0x%016llx" line (start, end,
 * flags) per resource, zeros when unused (drivers/pci/pci-sysfs.c
 * resource_show). Lines 0-5 are the BARs, 6 the ROM, 7-12 a PF's VF BARs.
 */
export function parseResource(raw: string): ResourceLine[] {
  const out: ResourceLine[] = [];
  const lines = raw.split('\n').filter((l) => l.trim().length > 0);
  lines.forEach((line, index) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 3) return;
    const start = BigInt(f[0]!);
    const end = BigInt(f[1]!);
    const flags = Number(BigInt(f[2]!) & 0xffffffffn);
    const size = end === 0n && start === 0n ? 0n : end - start + 1n;
    out.push({ index, start, size, flags });
  });
  return out;
}

export type BarKind = 'mem64' | 'mem32' | 'io' | 'none';

export function barKind(line: ResourceLine): BarKind {
  if (line.size === 0n) return 'none';
  if (line.flags & IORESOURCE_IO) return 'io';
  if (line.flags & IORESOURCE_MEM) return line.flags & IORESOURCE_MEM_64 ? 'mem64' : 'mem32';
  return 'none';
}

/** Reads over a FileOps, with the absent cases the topology needs spelled out. */
export class SysReader {
  constructor(readonly fs: FileOps) {}

  /**
   * The attribute's text, or null when it does not exist (ENOENT) or the
   * kernel refuses to show it to us (ENODEV, EACCES, EPERM, EIO): discovery
   * reports such a value as unknown instead of failing the whole listing.
   */
  maybe(path: string): string | null {
    try {
      return attrText(this.fs.readText(path));
    } catch (e) {
      if (
        ['ENOENT', 'ENODEV', 'EACCES', 'EPERM', 'EIO', 'ENOTDIR', 'EINVAL', 'EUCLEAN', 'ENXIO'].some((c) =>
          isErrno(e, c),
        )
      )
        return null;
      throw e;
    }
  }

  /** The basename of a link's target, or null when there is no link. */
  linkName(path: string): string | null {
    try {
      return basename(this.fs.readlink(path));
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'EINVAL') || isErrno(e, 'ENOTDIR')) return null;
      throw e;
    }
  }

  list(path: string): string[] {
    try {
      return this.fs.readdir(path);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR') || isErrno(e, 'EACCES') || isErrno(e, 'EPERM')) return [];
      throw e;
    }
  }

  exists(path: string): boolean {
    return this.fs.exists(path);
  }

  /** The driver bound to a device (the `driver` link), or null when unbound. */
  driverOf(bdf: string): string | null {
    return this.linkName(devicePath(bdf, 'driver'));
  }

  overrideOf(bdf: string): string | null {
    const raw = this.maybe(devicePath(bdf, 'driver_override'));
    return raw === null ? null : parseOverride(raw);
  }

  iommuGroupOf(bdf: string): number | null {
    const name = this.linkName(devicePath(bdf, 'iommu_group'));
    return name === null ? null : parseDecimal(name);
  }
}
