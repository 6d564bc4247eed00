// A small in-memory sysfs with the PCI core's and the driver core's write
// semantics, for unit tests of src/host/ that must not wait for, or depend
// on, the full mock kernel (src/mock/). It models only what bring-up touches
// (docs/kernel.md §4, §9): sriov_numvfs (EINVAL/ERANGE/ENOENT/EBUSY),
// sriov_drivers_autoprobe, driver_override ("(null)" when unset, a newline
// clears it), drivers_probe, drivers/<d>/{bind,unbind}, virtfnN/physfn,
// iommu_group links, and xe's sriov_admin vram_quota (rounded up to 2 MiB,
// EBUSY while the VF is bound). Knobs let a test make the kernel clamp or
// ignore a write, or fail the n-th write with an errno.
import type { FileOps, FileStat } from '../../src/backend/types.js';
import { SystemError, Errno, type ErrnoName } from '../../src/uapi/errors.js';

export interface FakePf {
  bdf: string;
  vendor?: number;
  device?: number;
  driver: string | null;
  totalvfs: number;
  offset: number;
  stride: number;
  iommuGroup?: number | null;
  /** xe PFs get sriov_admin quota files; VFs created with autoprobe on bind to this driver */
  xe?: boolean;
  vfDriver?: string;
}

interface Dev {
  bdf: string;
  vendor: number;
  device: number;
  driver: string | null;
  override: string | null;
  group: number | null;
  pf: string | null;
  vfIndex: number | null;
}

interface PfSt {
  spec: FakePf;
  numvfs: number;
  autoprobe: boolean;
  quotas: bigint[];
}

const MIB2 = 2n * 1024n * 1024n;

function err(code: ErrnoName, syscall: string, path: string): SystemError {
  return new SystemError({ errno: Errno[code], syscall, path });
}

function vfBdf(pf: string, offset: number, stride: number, index: number): string {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(pf)!;
  const rid =
    (Number.parseInt(m[2]!, 16) << 8) + (Number.parseInt(m[3]!, 16) << 3) + Number(m[4]) + offset + index * stride;
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${m[1]}:${h(rid >> 8, 2)}:${h((rid >> 3) & 0x1f, 2)}.${rid & 7}`;
}

export class FakeKernel implements FileOps {
  readonly devs = new Map<string, Dev>();
  readonly pfs = new Map<string, PfSt>();
  readonly drivers = new Set<string>(['vfio-pci']);
  /** Every write made, in order. */
  readonly writes: { path: string; data: string }[] = [];
  /** path -> what the attribute stores instead of the written value (the kernel clamps). */
  readonly clamp = new Map<string, (value: string) => string>();
  /** Paths whose writes succeed and change nothing (the kernel ignores them). */
  readonly ignore = new Set<string>();
  /** Fail the n-th write (1-based) with this errno. */
  failWrite: { nth: number; code: ErrnoName } | null = null;
  /** Paths that are read-only (mode 0444). */
  readonly readOnly = new Set<string>();
  private nextGroup = 20;

  constructor(pfs: FakePf[], others: string[] = []) {
    for (const spec of pfs) {
      this.devs.set(spec.bdf, {
        bdf: spec.bdf,
        vendor: spec.vendor ?? 0x8086,
        device: spec.device ?? 0xe20b,
        driver: spec.driver,
        override: null,
        group: spec.iommuGroup === undefined ? 10 : spec.iommuGroup,
        pf: null,
        vfIndex: null,
      });
      if (spec.driver) this.drivers.add(spec.driver);
      if (spec.vfDriver) this.drivers.add(spec.vfDriver);
      this.pfs.set(spec.bdf, { spec, numvfs: 0, autoprobe: true, quotas: new Array<bigint>(spec.totalvfs).fill(0n) });
    }
    for (const bdf of others)
      this.devs.set(bdf, {
        bdf,
        vendor: 0x8086,
        device: 0x1234,
        driver: null,
        override: null,
        group: 3,
        pf: null,
        vfIndex: null,
      });
  }

  // ---------------------------------------------------------- model

  private setNumvfs(pf: PfSt, path: string, data: string): void {
    const t = data.replace(/\n$/, '');
    if (!/^\d+$/.test(t)) throw err('EINVAL', 'write', path);
    const n = Number(t);
    if (n > pf.spec.totalvfs) throw err('ERANGE', 'write', path);
    if (n === pf.numvfs) return;
    if (!this.devs.get(pf.spec.bdf)!.driver) throw err('ENOENT', 'write', path);
    if (n !== 0 && pf.numvfs !== 0) throw err('EBUSY', 'write', path);
    if (n === 0) {
      for (let i = 0; i < pf.numvfs; i++) this.devs.delete(vfBdf(pf.spec.bdf, pf.spec.offset, pf.spec.stride, i));
      pf.quotas.fill(0n);
      pf.numvfs = 0;
      return;
    }
    // Any non-zero quota set before enabling turns auto-provisioning off (sysfs-driver-intel-xe-sriov, vram_quota).
    const preset = pf.quotas.some((q) => q !== 0n);
    for (let i = 0; i < n; i++) {
      const bdf = vfBdf(pf.spec.bdf, pf.spec.offset, pf.spec.stride, i);
      const pfGroup = this.devs.get(pf.spec.bdf)!.group;
      this.devs.set(bdf, {
        bdf,
        vendor: 0x8086,
        device: 0xe20b,
        driver: pf.autoprobe && pf.spec.vfDriver ? pf.spec.vfDriver : null,
        override: null,
        group: pfGroup === null ? null : this.nextGroup++,
        pf: pf.spec.bdf,
        vfIndex: i,
      });
      if (pf.spec.xe && !preset) pf.quotas[i] = 1024n * 1024n * 1024n;
    }
    pf.numvfs = n;
  }

  private probe(path: string, bdf: string, driver: string | null): void {
    const dev = this.devs.get(bdf);
    if (!dev) throw err('ENODEV', 'write', path);
    if (driver === null) {
      if (dev.driver) return;
      const pf = dev.pf ? this.pfs.get(dev.pf)! : null;
      const target = dev.override ?? (pf?.autoprobe ? (pf.spec.vfDriver ?? null) : null);
      if (target && this.drivers.has(target)) dev.driver = target;
      return;
    }
    if (!this.drivers.has(driver)) throw err('ENOENT', 'open', path);
    if (dev.driver) throw err('EBUSY', 'write', path);
    if (dev.override !== null && dev.override !== driver) throw err('ENODEV', 'write', path);
    const pf = dev.pf ? this.pfs.get(dev.pf)! : null;
    // With autoprobe off a VF probes only with driver_override set (docs/kernel.md §9).
    if (pf && !pf.autoprobe && dev.override === null) throw err('ENODEV', 'write', path);
    if (driver === 'vfio-pci' && dev.override !== 'vfio-pci') throw err('ENODEV', 'write', path);
    if (driver === 'vfio-pci' && dev.group === null) throw err('EINVAL', 'write', path);
    dev.driver = driver;
  }

  // ---------------------------------------------------------- files

  private pcipath(path: string): { dev: Dev; attr: string } | null {
    const m = /^\/sys\/bus\/pci\/devices\/([^/]+)(?:\/(.+))?$/.exec(path);
    if (!m) return null;
    const dev = this.devs.get(m[1]!);
    if (!dev) return null;
    return { dev, attr: m[2] ?? '' };
  }

  private quotaOf(path: string): { pf: PfSt; index: number } | null {
    const m = /^\/sys\/bus\/pci\/devices\/([^/]+)\/sriov_admin\/vf(\d+)\/profile\/vram_quota$/.exec(path);
    if (!m) return null;
    const pf = this.pfs.get(m[1]!);
    if (!pf?.spec.xe || this.devs.get(pf.spec.bdf)!.driver !== 'xe') return null;
    const index = Number(m[2]) - 1;
    if (index < 0 || index >= pf.spec.totalvfs) return null;
    return { pf, index };
  }

  readText(path: string): string {
    const q = this.quotaOf(path);
    if (q) return `${q.pf.quotas[q.index]}\n`;
    const p = this.pcipath(path);
    if (!p) throw err('ENOENT', 'open', path);
    const { dev, attr } = p;
    const pf = this.pfs.get(dev.bdf);
    const hex = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}\n`;
    switch (attr) {
      case 'vendor':
        return hex(dev.vendor, 4);
      case 'device':
        return hex(dev.device, 4);
      case 'class':
        return hex(0x030000, 6);
      case 'driver_override':
        return `${dev.override ?? '(null)'}\n`;
      case 'resource': {
        const line = (s: bigint, size: bigint, flags: number) =>
          `0x${s.toString(16).padStart(16, '0')} 0x${(size === 0n ? 0n : s + size - 1n).toString(16).padStart(16, '0')} 0x${flags.toString(16).padStart(16, '0')}`;
        const lines: string[] = [];
        for (let i = 0; i < 13; i++) {
          if (i === 0) lines.push(line(0xa0000000n, 0x1000000n, 0x140204));
          else if (i === 2) lines.push(line(0x4000000000n, 0x400000000n, 0x14220c));
          else if (pf && i === 9) lines.push(line(0x5000000000n, 0x40000000n * BigInt(pf.spec.totalvfs), 0x14220c));
          else lines.push(line(0n, 0n, 0));
        }
        return `${lines.join('\n')}\n`;
      }
    }
    if (pf) {
      switch (attr) {
        case 'sriov_totalvfs':
          return `${pf.spec.totalvfs}\n`;
        case 'sriov_numvfs':
          return `${pf.numvfs}\n`;
        case 'sriov_offset':
          return `${pf.spec.offset}\n`;
        case 'sriov_stride':
          return `${pf.spec.stride}\n`;
        case 'sriov_vf_device':
          return `e20b\n`;
        case 'sriov_drivers_autoprobe':
          return `${pf.autoprobe ? 1 : 0}\n`;
      }
    }
    throw err('ENOENT', 'open', path);
  }

  readFile(path: string): Uint8Array {
    return new TextEncoder().encode(this.readText(path));
  }

  writeFile(path: string, data: string): void {
    if (!this.exists(path)) throw err('ENOENT', 'open', path);
    if (this.readOnly.has(path)) throw err('EACCES', 'open', path);
    this.writes.push({ path, data });
    if (this.failWrite && this.failWrite.nth === this.writes.length) throw err(this.failWrite.code, 'write', path);
    if (this.ignore.has(path)) return;
    const clamp = this.clamp.get(path);
    const value = clamp ? `${clamp(data.replace(/\n$/, ''))}\n` : data;
    if (path === '/sys/bus/pci/drivers_probe') return this.probe(path, value.trim(), null);
    const drv = /^\/sys\/bus\/pci\/drivers\/([^/]+)\/(bind|unbind)$/.exec(path);
    if (drv) {
      const dev = this.devs.get(value.trim());
      if (drv[2] === 'unbind') {
        if (!dev || dev.driver !== drv[1]) throw err('ENODEV', 'write', path);
        dev.driver = null;
        return;
      }
      return this.probe(path, value.trim(), drv[1]!);
    }
    const q = this.quotaOf(path);
    if (q) {
      const t = value.trim();
      if (!/^(\d+|0x[0-9a-f]+)$/i.test(t)) throw err('EINVAL', 'write', path);
      const vf =
        q.index < q.pf.numvfs
          ? this.devs.get(vfBdf(q.pf.spec.bdf, q.pf.spec.offset, q.pf.spec.stride, q.index))
          : undefined;
      if (vf?.driver) throw err('EBUSY', 'write', path);
      const v = BigInt(t);
      q.pf.quotas[q.index] = ((v + MIB2 - 1n) / MIB2) * MIB2;
      return;
    }
    const p = this.pcipath(path)!;
    const pf = this.pfs.get(p.dev.bdf);
    switch (p.attr) {
      case 'driver_override': {
        const t = value.replace(/\n$/, '');
        p.dev.override = t === '' ? null : t;
        return;
      }
      case 'sriov_numvfs':
        if (pf) return this.setNumvfs(pf, path, value);
        break;
      case 'sriov_drivers_autoprobe': {
        if (!pf) break;
        const t = value.trim().toLowerCase();
        if (['1', 'y', 'on'].includes(t)) pf.autoprobe = true;
        else if (['0', 'n', 'off'].includes(t)) pf.autoprobe = false;
        else throw err('EINVAL', 'write', path);
        return;
      }
    }
    throw err('EACCES', 'open', path);
  }

  readdir(path: string): string[] {
    if (path === '/sys/bus/pci/devices') return [...this.devs.keys()].sort();
    if (path === '/sys/kernel/iommu_groups')
      return [...new Set([...this.devs.values()].map((d) => d.group).filter((g) => g !== null))].map(String);
    if (path === '/sys/bus/pci/drivers') return [...this.drivers].sort();
    const p = this.pcipath(path);
    if (p && p.attr === '') return ['vendor', 'device', 'class', 'resource', 'driver_override'];
    throw err('ENOENT', 'scandir', path);
  }

  readlink(path: string): string {
    const p = this.pcipath(path);
    if (!p) throw err('ENOENT', 'readlink', path);
    const { dev, attr } = p;
    if (attr === 'driver' && dev.driver) return `../../../bus/pci/drivers/${dev.driver}`;
    if (attr === 'iommu_group' && dev.group !== null) return `../../../kernel/iommu_groups/${dev.group}`;
    if (attr === 'physfn' && dev.pf) return `../${dev.pf}`;
    const v = /^virtfn(\d+)$/.exec(attr);
    const pf = this.pfs.get(dev.bdf);
    if (v && pf && Number(v[1]) < pf.numvfs)
      return `../${vfBdf(dev.bdf, pf.spec.offset, pf.spec.stride, Number(v[1]))}`;
    throw err('ENOENT', 'readlink', path);
  }

  stat(path: string): FileStat {
    if (!this.exists(path)) throw err('ENOENT', 'stat', path);
    const ro =
      this.readOnly.has(path) ||
      /\/(vendor|device|class|resource|sriov_totalvfs|sriov_offset|sriov_stride|sriov_vf_device)$/.test(path);
    const wo = /\/(bind|unbind|drivers_probe)$/.test(path);
    return { kind: 'file', mode: ro ? 0o444 : wo ? 0o200 : 0o644, size: 4096 };
  }

  lstat(path: string): FileStat {
    return this.stat(path);
  }

  exists(path: string): boolean {
    if (
      [
        '/sys/bus/pci/devices',
        '/sys/bus/pci/drivers',
        '/sys/bus/pci/drivers_probe',
        '/sys/kernel/iommu_groups',
      ].includes(path)
    )
      return true;
    const drv = /^\/sys\/bus\/pci\/drivers\/([^/]+)(?:\/(bind|unbind))?$/.exec(path);
    if (drv) return this.drivers.has(drv[1]!);
    if (this.quotaOf(path)) return true;
    try {
      this.readText(path);
      return true;
    } catch {
      try {
        this.readlink(path);
        return true;
      } catch {
        const p = this.pcipath(path);
        return p !== null && p.attr === '';
      }
    }
  }

  mkdir(path: string): void {
    throw err('EPERM', 'mkdir', path);
  }

  rmdir(path: string): void {
    throw err('EPERM', 'rmdir', path);
  }

  readRecords(path: string): string[] {
    throw err('ENOENT', 'open', path);
  }

  /** Everything bring-up can change, as text, for before/after comparisons. */
  snapshot(): string {
    const out: string[] = [];
    for (const [bdf, d] of [...this.devs].sort())
      out.push(`${bdf} driver=${d.driver} override=${d.override} group=${d.group}`);
    for (const [bdf, p] of [...this.pfs].sort())
      out.push(`${bdf} numvfs=${p.numvfs} autoprobe=${p.autoprobe} quotas=${p.quotas.join(',')}`);
    return out.join('\n');
  }
}
