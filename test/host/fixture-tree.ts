// A sysfs/procfs fixture on disk, read through the native backend's FileOps
// under a temporary root: real directories, files and relative symlinks laid
// out as the kernel lays them out (drivers/pci/pci-sysfs.c, drivers/pci/iov.c).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export class FixtureTree {
  constructor(readonly root: string) {}

  file(path: string, content: string | Uint8Array, mode = 0o644): this {
    const real = join(this.root, path);
    mkdirSync(dirname(real), { recursive: true });
    writeFileSync(real, content, { mode });
    return this;
  }

  link(path: string, target: string): this {
    const real = join(this.root, path);
    mkdirSync(dirname(real), { recursive: true });
    symlinkSync(target, real);
    return this;
  }

  dir(path: string): this {
    mkdirSync(join(this.root, path), { recursive: true });
    return this;
  }

  /** A PCI device under /sys/devices/pci0000:00/<bdf>, linked from /sys/bus/pci/devices. */
  device(bdf: string, attrs: Record<string, string>, opts: { driver?: string; group?: number; resource?: string } = {}): this {
    const dir = `/sys/devices/pci0000:00/${bdf}`;
    for (const [k, v] of Object.entries(attrs)) this.file(`${dir}/${k}`, `${v}\n`);
    this.file(`${dir}/driver_override`, '(null)\n');
    if (opts.resource) this.file(`${dir}/resource`, opts.resource);
    this.link(`/sys/bus/pci/devices/${bdf}`, `../../../devices/pci0000:00/${bdf}`);
    if (opts.driver) {
      this.dir(`/sys/bus/pci/drivers/${opts.driver}`);
      this.link(`${dir}/driver`, `../../../bus/pci/drivers/${opts.driver}`);
    }
    if (opts.group !== undefined) {
      this.dir(`/sys/kernel/iommu_groups/${opts.group}/devices`);
      this.link(`${dir}/iommu_group`, `../../../kernel/iommu_groups/${opts.group}`);
    }
    return this;
  }

  vf(pf: string, index: number, bdf: string, attrs: Record<string, string>, opts: { driver?: string; group?: number; resource?: string } = {}): this {
    this.device(bdf, attrs, opts);
    this.link(`/sys/devices/pci0000:00/${pf}/virtfn${index}`, `../${bdf}`);
    this.link(`/sys/devices/pci0000:00/${bdf}/physfn`, `../${pf}`);
    return this;
  }

  config(text: string): this {
    return this.file('/proc/config.gz', gzipSync(Buffer.from(text)));
  }
}

/** `resource` lines: [start, size, flags] for indexes 0..12. */
export function resourceText(entries: Record<number, [bigint, bigint, number]>): string {
  const lines: string[] = [];
  const h = (v: bigint | number) => `0x${v.toString(16).padStart(16, '0')}`;
  for (let i = 0; i < 13; i++) {
    const e = entries[i];
    lines.push(e ? `${h(e[0])} ${h(e[0] + e[1] - 1n)} ${h(e[2])}` : `${h(0)} ${h(0)} ${h(0)}`);
  }
  return `${lines.join('\n')}\n`;
}
