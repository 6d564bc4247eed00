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
  device(
    bdf: string,
    attrs: Record<string, string>,
    opts: { driver?: string; group?: number; resource?: string } = {},
  ): this {
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

  vf(
    pf: string,
    index: number,
    bdf: string,
    attrs: Record<string, string>,
    opts: { driver?: string; group?: number; resource?: string } = {},
  ): this {
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

const KiB = 1024n;

/**
 * An 82576 as QEMU's igb models it at 0000:01:00.0 with `vfs` VFs: the SR-IOV
 * capability says TotalVFs 8, so sriov_init sized each IOV resource as
 * 8 x 16 KiB, while igb caps sriov_totalvfs at 7 (pci_sriov_set_totalvfs).
 * `io` adds the PF's I/O-port BAR 2 (QEMU's igb has one at 0xc000, 32 bytes).
 */
export function igbTree(t: FixtureTree, vfs: number, io = false): FixtureTree {
  const pf = '0000:01:00.0';
  const resources: Record<number, [bigint, bigint, number]> = {
    0: [0xfe400000n, 128n * KiB, 0x40200],
    1: [0xfe420000n, 128n * KiB, 0x40200],
    3: [0xfe440000n, 16n * KiB, 0x140204],
    7: [0xfe800000n, 8n * 16n * KiB, 0x14220c],
    10: [0xfe820000n, 8n * 16n * KiB, 0x14220c],
  };
  if (io) resources[2] = [0xc000n, 0x20n, 0x40101];
  t.device(
    pf,
    {
      vendor: '0x8086',
      device: '0x10c9',
      class: '0x020000',
      sriov_totalvfs: '7',
      sriov_numvfs: String(vfs),
      sriov_offset: '128',
      sriov_stride: '2',
      sriov_vf_device: '10ca',
      sriov_drivers_autoprobe: '1',
    },
    { driver: 'igb', group: 5, resource: resourceText(resources) },
  );
  for (let i = 0; i < vfs; i++) {
    const at = 0xfe800000n + 16n * KiB * BigInt(i);
    // Routing ID 0x0100 + offset 0x80 + stride 2 * i: 0000:01:10.0, 0000:01:10.2, ...
    const devfn = 0x80 + 2 * i;
    const bdf = `0000:01:${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;
    t.vf(
      pf,
      i,
      bdf,
      { vendor: '0x8086', device: '0x10ca' },
      {
        group: 6 + i,
        resource: resourceText({ 0: [at, 16n * KiB, 0x14220c], 3: [at + 0x20000n, 16n * KiB, 0x14220c] }),
      },
    );
  }
  return t;
}
