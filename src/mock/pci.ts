// PCI devices, SR-IOV and the driver core as sysfs shows them
// (drivers/pci/{pci-sysfs.c,iov.c,pci-driver.c}, drivers/base/{bus.c,dd.c};
// docs/kernel.md §9). Driver models (xe, vfio-pci, the topology's other drivers)
// plug in as PciDriverModel; this file owns matching, binding, VF creation and
// removal, IOMMU groups and every sysfs file of it.

import type { Mapping } from '../backend/types.js';
import { LogLevel, type KernelFile, type PciBar, type PciBus, type PciDevice } from './contracts.js';
import { fail, isKernelErrno, KernelErrno } from './errno.js';
import { kstrtobool, kstrtouint, sysfsStreq } from './kstrto.js';
import type { KernelCore } from './kernel.js';
import { relativeLink, type AttrSpec, type Vfs } from './vfs.js';
import { vfBarSize, type BarSpec, type DeviceSpec, type SriovSpec } from './topology.js';
import type { PcieFabric } from './pcie.js';
import { formatBdf as formatPciAddress, parseSysfsBdf, vfAddress } from '../uapi/bdf.js';

const PCI_ANY_ID = 0xffffffff;

/** include/linux/ioport.h resource flags for the `resource` file. */
function resourceFlags(kind: PciBar['kind'], prefetchable: boolean): bigint {
  switch (kind) {
    case 'io':
      return 0x40101n; // IORESOURCE_IO | IORESOURCE_SIZEALIGN | PCI_BASE_ADDRESS_SPACE_IO
    case 'mem32':
      return prefetchable ? 0x42208n : 0x40200n;
    case 'mem64':
      return prefetchable ? 0x14220cn : 0x140204n; // | IORESOURCE_MEM_64 | PCI_BASE_ADDRESS_MEM_TYPE_64
    case 'none':
      return 0n;
  }
}

export interface SriovRuntime {
  readonly spec: SriovSpec;
  numvfs: number;
  autoprobe: boolean;
  vfs: PciDev[];
  /** Per-VF BAR sizes for the current numvfs (VF BAR2 resized by xe before enabling). */
  vfBarSizes: Map<number, bigint>;
  /** VFs are being removed (the remover waits for a vfio device to be closed). */
  disabling: boolean;
}

export class PciDev implements PciDevice {
  driver: string | null = null;
  driverOverride: string | null;
  iommuGroup: number | null;
  sriov: SriovRuntime | null = null;
  /** Config-space bytes the sysfs `config` file shows (and takes writes into). */
  readonly config: Uint8Array = new Uint8Array(4096);
  /** Device is going away: unbind or VF removal waiting for its users. */
  removing = false;

  constructor(
    readonly bdf: string,
    readonly domain: number,
    readonly bus: number,
    readonly devfn: number,
    readonly vendor: number,
    readonly device: number,
    readonly klass: number,
    readonly subsystemVendor: number,
    readonly subsystemDevice: number,
    readonly revision: number,
    readonly parentPath: string,
    public bars: PciBar[],
    readonly physfn: PciDev | null,
    readonly vfIndex: number | null,
    readonly spec: DeviceSpec | null,
    iommuGroup: number | null,
    driverOverride: string | null,
  ) {
    this.iommuGroup = iommuGroup;
    this.driverOverride = driverOverride;
    const dv = new DataView(this.config.buffer);
    dv.setUint16(0, vendor, true);
    dv.setUint16(2, device, true);
    dv.setUint16(6, 0x0010, true); // status: capabilities list
    dv.setUint8(8, revision);
    dv.setUint8(9, klass & 0xff);
    dv.setUint16(10, klass >> 8, true);
    dv.setUint16(0x2c, subsystemVendor, true);
    dv.setUint16(0x2e, subsystemDevice, true);
    for (const b of bars) {
      if (b.kind === 'none') continue;
      const low =
        Number(b.start & 0xfffffff0n) | (b.kind === 'io' ? 1 : (b.kind === 'mem64' ? 4 : 0) | (b.prefetchable ? 8 : 0));
      dv.setUint32(0x10 + 4 * b.index, low >>> 0, true);
      if (b.kind === 'mem64' && b.index < 5) dv.setUint32(0x14 + 4 * b.index, Number(b.start >> 32n), true);
    }
  }

  get isVirtfn(): boolean {
    return this.physfn !== null;
  }

  get sysPath(): string {
    return `/sys/devices/${this.parentPath}/${this.bdf}`;
  }

  bar(index: number): PciBar | undefined {
    return this.bars.find((b) => b.index === index && b.kind !== 'none');
  }
}

/** A driver as the PCI core sees it (struct pci_driver). */
export interface PciDriverModel {
  readonly name: string;
  /** /sys/module/<module> */
  readonly module: string;
  /** The static id_table: `any` matches, `override-only` matches only devices with driver_override set. */
  matchStatic(dev: PciDev): 'match' | 'override-only' | 'none';
  /** .probe: throws KernelErrno to refuse. */
  probe(dev: PciDev): void;
  /**
   * .remove. Returns a readiness check when the removal has to wait for
   * userspace (vfio_unregister_group_dev waits for the device to be closed).
   */
  remove(dev: PciDev): (() => boolean) | undefined;
  /** .sriov_configure (absent: sriov_numvfs writes fail ENOENT). */
  sriovConfigure?(pf: PciDev, numVfs: number): number;
}

interface DynId {
  vendor: number;
  device: number;
  subvendor: number;
  subdevice: number;
  klass: number;
  classMask: number;
}

interface Driver {
  readonly model: PciDriverModel;
  dynIds: DynId[];
}

export interface PciState {
  autoprobe: boolean;
  dynIds: Record<string, DynId[]>;
  /** /sys/module/vfio_pci/parameters/enable_sriov (writable at run time; src/mock/vfio.ts). */
  vfioEnableSriov?: boolean;
}

export class PciSubsystem implements PciBus {
  private readonly devices = new Map<string, PciDev>();
  private readonly drivers: Driver[] = [];
  private readonly groups = new Map<number, Set<PciDev>>();
  /** /sys/bus/pci/drivers_autoprobe */
  private autoprobe = true;
  /** Lowest IOMMU group number for new VFs: above every group the topology names. */
  private groupFloor = 0;
  /** A driver bound or unbound a device (vfio group nodes track this). */
  onBindingChange: (dev: PciDev) => void = () => undefined;
  /** Maps `length` bytes of the physical bus at `start` for a sysfs resourceN mmap (the platform wires it). */
  mapResource: (file: KernelFile, start: bigint, length: number) => Mapping = () => fail('ENODEV');

  constructor(
    private readonly vfs: Vfs,
    private readonly kernel: KernelCore,
    /** The ports above the devices: their ACS decides a new VF's IOMMU group (src/mock/pcie.ts). */
    readonly fabric: PcieFabric,
  ) {
    vfs.mkdirp('/sys/bus/pci/devices');
    vfs.mkdirp('/sys/bus/pci/drivers');
    vfs.mkdirp('/sys/kernel/iommu_groups');
    vfs.addFile('/sys/bus/pci/drivers_probe', { store: (d) => this.driversProbe(d) });
    vfs.addFile('/sys/bus/pci/drivers_autoprobe', {
      show: () => `${this.autoprobe ? 1 : 0}\n`,
      // drivers/base/bus.c drivers_autoprobe_store: "0" first turns it off, anything else on; never an error.
      store: (d) => {
        this.autoprobe = d[0] !== '0';
      },
    });
  }

  // ------------------------------------------------------------ PciBus (contracts)

  device(bdf: string): PciDev | undefined {
    return this.devices.get(bdf);
  }

  devicesOnBus(domain: number, bus: number): PciDev[] {
    return [...this.devices.values()]
      .filter((d) => d.domain === domain && d.bus === bus)
      .sort((a, b) => a.devfn - b.devfn);
  }

  vfsOf(pf: PciDevice): PciDev[] {
    const d = this.devices.get(pf.bdf);
    return d?.sriov ? [...d.sriov.vfs] : [];
  }

  all(): PciDev[] {
    return [...this.devices.values()].sort((a, b) => (a.bdf < b.bdf ? -1 : 1));
  }

  groupMembers(group: number): PciDev[] {
    return [...(this.groups.get(group) ?? [])];
  }

  // ------------------------------------------------------------ drivers

  registerDriver(model: PciDriverModel): void {
    this.drivers.push({ model, dynIds: [] });
    const dir = `/sys/bus/pci/drivers/${model.name}`;
    this.vfs.mkdirp(dir);
    this.vfs.addFile(`${dir}/bind`, { store: (d) => this.bindStore(model.name, d) });
    this.vfs.addFile(`${dir}/unbind`, { store: (d) => this.unbindStore(model.name, d) });
    this.vfs.addFile(`${dir}/new_id`, { store: (d) => this.newId(model.name, d) });
    this.vfs.addFile(`${dir}/remove_id`, { store: (d) => this.removeId(model.name, d) });
    this.vfs.addFile(`${dir}/uevent`, { store: () => undefined });
    this.vfs.addLink(`${dir}/module`, relativeLink(dir, `/sys/module/${model.module}`));
  }

  private driver(name: string): Driver {
    const d = this.drivers.find((x) => x.model.name === name);
    if (!d) throw new Error(`mock: no driver ${name}`);
    return d;
  }

  hasDriver(name: string): boolean {
    return this.drivers.some((x) => x.model.name === name);
  }

  /** pci_match_device (drivers/pci/pci-driver.c). */
  private matches(drv: Driver, dev: PciDev): boolean {
    if (dev.driverOverride !== null && dev.driverOverride !== drv.model.name) return false;
    for (const id of drv.dynIds) if (matchOne(id, dev)) return true;
    const s = drv.model.matchStatic(dev);
    if (s === 'match') return true;
    if (s === 'override-only' && dev.driverOverride !== null) return true;
    // "driver_override will always match, send a dummy id"
    return dev.driverOverride !== null;
  }

  /** pci_device_can_probe: a VF probes only with autoprobe on its PF, or driver_override set (docs/kernel.md §9). */
  private canProbe(dev: PciDev): boolean {
    return !dev.physfn || dev.physfn.sriov!.autoprobe || dev.driverOverride !== null;
  }

  /** really_probe: returns the probe's errno (0 on success). */
  private probe(drv: Driver, dev: PciDev): number {
    if (dev.removing) return 19; // ENODEV: dev->p->dead
    if (dev.driver !== null) return 16; // EBUSY
    if (!this.canProbe(dev)) return 19;
    dev.driver = drv.model.name;
    try {
      drv.model.probe(dev);
    } catch (e) {
      dev.driver = null;
      if (!(e instanceof KernelErrno)) throw e;
      if (e.errno !== 19 && e.errno !== 6) {
        this.kernel.log(
          LogLevel.ERR,
          `${drv.model.name} ${dev.bdf}`,
          `probe with driver ${drv.model.name} failed with error -${e.errno}`,
        );
      }
      return e.errno;
    }
    this.vfs.addLink(`${dev.sysPath}/driver`, relativeLink(dev.sysPath, `/sys/bus/pci/drivers/${drv.model.name}`));
    this.vfs.addLink(
      `/sys/bus/pci/drivers/${drv.model.name}/${dev.bdf}`,
      relativeLink(`/sys/bus/pci/drivers/${drv.model.name}`, dev.sysPath),
    );
    this.onBindingChange(dev);
    return 0;
  }

  /** device_attach: the first driver, in registration order, that matches and probes. */
  attach(dev: PciDev): boolean {
    if (dev.driver !== null) return true;
    for (const drv of this.drivers) {
      if (!this.matches(drv, dev)) continue;
      if (this.probe(drv, dev) === 0) return true;
    }
    return false;
  }

  /**
   * device_release_driver. `then` runs when the driver let go (at once, or when
   * the remover's wait ends); a wait is reported as a hung task of the writer.
   */
  release(dev: PciDev, then: () => void = () => undefined, stack: readonly string[] = []): void {
    if (dev.driver === null) {
      then();
      return;
    }
    const drv = this.driver(dev.driver);
    const wait = drv.model.remove(dev);
    const finish = () => {
      this.vfs.remove(`${dev.sysPath}/driver`);
      this.vfs.remove(`/sys/bus/pci/drivers/${drv.model.name}/${dev.bdf}`);
      dev.driver = null;
      this.onBindingChange(dev);
      then();
    };
    if (wait && !wait()) {
      this.kernel.hungTask([...stack, 'device_release_driver_internal+0x19e/0x200', 'unbind_store+0xd3/0xe0']);
      this.kernel.waitFor(wait, finish);
    } else {
      finish();
    }
  }

  private findDevice(buf: string): PciDev | undefined {
    for (const d of this.devices.values()) if (sysfsStreq(d.bdf, buf)) return d;
    return undefined;
  }

  /** drivers/base/bus.c bind_store. */
  private bindStore(name: string, buf: string): void {
    const drv = this.driver(name);
    const dev = this.findDevice(buf);
    if (!dev || !this.matches(drv, dev)) fail('ENODEV');
    const err = this.probe(drv, dev);
    if (err !== 0) throw new KernelErrno(err);
  }

  /** drivers/base/bus.c unbind_store. */
  private unbindStore(name: string, buf: string): void {
    const dev = this.findDevice(buf);
    if (!dev || dev.driver !== name || dev.removing) fail('ENODEV');
    this.release(dev);
  }

  /**
   * drivers/base/bus.c drivers_probe_store: ENODEV when bus_find_device_by_name
   * finds no such device; a probe that binds nothing is not an error.
   */
  private driversProbe(buf: string): void {
    const dev = this.findDevice(buf);
    if (!dev) fail('ENODEV', `no device ${JSON.stringify(buf)} on the PCI bus`);
    this.attach(dev);
  }

  /** drivers/pci/pci-driver.c new_id_store. */
  private newId(name: string, buf: string): void {
    const drv = this.driver(name);
    const f = scanHex(buf, 7);
    if (f.length < 2) fail('EINVAL');
    const id: DynId = {
      vendor: f[0]!,
      device: f[1]!,
      subvendor: f[2] ?? PCI_ANY_ID,
      subdevice: f[3] ?? PCI_ANY_ID,
      klass: f[4] ?? 0,
      classMask: f[5] ?? 0,
    };
    if (f.length !== 7) {
      // An id the static table already matches is refused (a probe-only pci_dev, no override).
      const probe = {
        vendor: id.vendor,
        device: id.device,
        subsystemVendor: id.subvendor,
        subsystemDevice: id.subdevice,
        klass: id.klass,
        driverOverride: null,
      } as unknown as PciDev;
      if (drv.model.matchStatic(probe) === 'match') fail('EEXIST');
      // do_pci_add_dynid(check_dup): an id one of the driver's dynamic ids already matches is EEXIST too.
      if (drv.dynIds.some((d) => matchOne(d, probe))) fail('EEXIST');
    } else {
      // Only driver_data values of an existing id_table entry are accepted; ours have none.
      if (f[6] !== 0) fail('EINVAL');
    }
    drv.dynIds.push(id);
    // pci_add_dynid -> driver_attach: probe every unbound device the new id matches.
    for (const dev of this.all()) if (dev.driver === null && this.matches(drv, dev)) this.probe(drv, dev);
  }

  /** drivers/pci/pci-driver.c remove_id_store. */
  private removeId(name: string, buf: string): void {
    const drv = this.driver(name);
    const f = scanHex(buf, 6);
    if (f.length < 2) fail('EINVAL');
    const want: DynId = {
      vendor: f[0]!,
      device: f[1]!,
      subvendor: f[2] ?? PCI_ANY_ID,
      subdevice: f[3] ?? PCI_ANY_ID,
      klass: f[4] ?? 0,
      classMask: f[5] ?? 0,
    };
    const i = drv.dynIds.findIndex(
      (d) =>
        d.vendor === want.vendor &&
        d.device === want.device &&
        d.subvendor === want.subvendor &&
        d.subdevice === want.subdevice &&
        d.klass === want.klass &&
        d.classMask === want.classMask,
    );
    if (i < 0) fail('ENODEV');
    drv.dynIds.splice(i, 1);
  }

  // ------------------------------------------------------------ devices

  /** Add a device: sysfs directory, links, IOMMU group; probes when `probe`. */
  add(dev: PciDev, probe: boolean): void {
    this.devices.set(dev.bdf, dev);
    if (dev.iommuGroup !== null) this.groupFloor = Math.max(this.groupFloor, dev.iommuGroup + 1);
    this.createSysfs(dev);
    if (dev.iommuGroup !== null) this.joinGroup(dev, dev.iommuGroup);
    if (probe && this.autoprobe) this.attach(dev);
  }

  private joinGroup(dev: PciDev, group: number): void {
    let set = this.groups.get(group);
    const dir = `/sys/kernel/iommu_groups/${group}`;
    if (!set) {
      set = new Set();
      this.groups.set(group, set);
      this.vfs.mkdirp(`${dir}/devices`);
      // Intel VT-d default domain with a flush queue (iommu.strict=0).
      this.vfs.addText(`${dir}/type`, () => 'DMA-FQ\n');
      this.vfs.addText(`${dir}/reserved_regions`, () => '0x00000000fee00000 0x00000000feefffff msi\n');
    }
    set.add(dev);
    this.vfs.addLink(`${dir}/devices/${dev.bdf}`, relativeLink(`${dir}/devices`, dev.sysPath));
    this.vfs.addLink(`${dev.sysPath}/iommu_group`, relativeLink(dev.sysPath, dir));
  }

  private leaveGroup(dev: PciDev): void {
    if (dev.iommuGroup === null) return;
    const set = this.groups.get(dev.iommuGroup);
    set?.delete(dev);
    this.vfs.remove(`/sys/kernel/iommu_groups/${dev.iommuGroup}/devices/${dev.bdf}`);
    if (set && set.size === 0) {
      this.groups.delete(dev.iommuGroup);
      this.vfs.remove(`/sys/kernel/iommu_groups/${dev.iommuGroup}`);
    }
  }

  /**
   * Groups the topology names for devices that do not exist yet (VFs present
   * at boot): while the machine boots, no other device is given one of them.
   * Null ends the reservation (the named devices exist by then, and an id
   * freed later is free again, as ida ids are).
   */
  reserveGroups(groups: readonly number[] | null): void {
    this.reserved = new Set(groups ?? []);
  }

  private reserved = new Set<number>();

  /** iommu_group_alloc: the lowest free id (ida), above the topology's groups. */
  private allocGroup(): number {
    let n = this.groupFloor;
    while (this.groups.has(n) || this.reserved.has(n)) n++;
    return n;
  }

  private removeDevice(dev: PciDev): void {
    this.leaveGroup(dev);
    this.devices.delete(dev.bdf);
    this.vfs.remove(dev.sysPath);
    this.vfs.remove(`/sys/bus/pci/devices/${dev.bdf}`);
  }

  private createSysfs(dev: PciDev): void {
    const v = this.vfs;
    const p = dev.sysPath;
    v.mkdirp(p);
    v.addLink(`/sys/bus/pci/devices/${dev.bdf}`, relativeLink('/sys/bus/pci/devices', p));
    v.addLink(`${p}/subsystem`, relativeLink(p, '/sys/bus/pci'));
    const h = (n: number, w: number) => `0x${n.toString(16).padStart(w, '0')}\n`;
    v.addText(`${p}/vendor`, () => h(dev.vendor, 4));
    v.addText(`${p}/device`, () => h(dev.device, 4));
    v.addText(`${p}/subsystem_vendor`, () => h(dev.subsystemVendor, 4));
    v.addText(`${p}/subsystem_device`, () => h(dev.subsystemDevice, 4));
    v.addText(`${p}/class`, () => h(dev.klass, 6));
    v.addText(`${p}/revision`, () => h(dev.revision, 2));
    const u = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
    v.addText(
      `${p}/modalias`,
      () =>
        `pci:v${u(dev.vendor, 8)}d${u(dev.device, 8)}sv${u(dev.subsystemVendor, 8)}sd${u(dev.subsystemDevice, 8)}bc${u(dev.klass >> 16, 2)}sc${u((dev.klass >> 8) & 0xff, 2)}i${u(dev.klass & 0xff, 2)}\n`,
    );
    v.addText(`${p}/resource`, () => this.resourceFile(dev));
    for (const b of dev.bars) {
      if (b.kind === 'none') continue;
      // Binary attributes with only mmap: read(2) and write(2) give EIO (fs/sysfs/file.c sysfs_kf_bin_read).
      // mmap is pci_mmap_resource (drivers/pci/pci-sysfs.c): memory BARs only, page aligned and within the BAR
      // (pci_mmap_fits), mapping the bus addresses the BAR decodes.
      const bin: AttrSpec = {
        mode: 0o600,
        size: () => Number(b.size),
        show: () => fail('EIO'),
        store: () => fail('EIO'),
        mmap: (file, offset, length) => {
          if (b.kind === 'io') fail('EINVAL', 'resource mmap of an I/O BAR');
          const pages = BigInt(Math.ceil(length / 4096) * 4096);
          if (length <= 0 || offset % 4096n !== 0n || offset + pages > b.size) fail('EINVAL', 'mapping beyond the BAR');
          return this.mapResource(file, b.start + offset, length);
        },
      };
      v.addFile(`${p}/resource${b.index}`, bin);
      if (b.prefetchable) v.addFile(`${p}/resource${b.index}_wc`, bin);
    }
    v.addFile(`${p}/config`, {
      mode: 0o644,
      size: () => dev.config.length,
      show: () => dev.config.slice(),
      store: (d) => {
        // pci_write_config via sysfs starts at offset 0 for a fresh open.
        const bytes = Buffer.from(d, 'latin1');
        dev.config.set(bytes.subarray(0, Math.min(bytes.length, dev.config.length)), 0);
      },
    });
    v.addFile(`${p}/driver_override`, {
      show: () => `${dev.driverOverride ?? '(null)'}\n`,
      store: (d) => {
        // driver_set_override (drivers/base/driver.c): a write of PAGE_SIZE - 1 bytes or more is EINVAL (the
        // show adds a newline); the value ends at the first NUL (strlen) and at the first newline; an
        // empty value, or one that starts with a newline, clears the override.
        if (d.length >= 4095) fail('EINVAL');
        const nul = d.indexOf('\0');
        const str = nul >= 0 ? d.slice(0, nul) : d;
        const nl = str.indexOf('\n');
        const value = nl >= 0 ? str.slice(0, nl) : str;
        dev.driverOverride = value.length === 0 ? null : value;
      },
    });
    if (dev.physfn) {
      v.addLink(`${p}/physfn`, relativeLink(p, dev.physfn.sysPath));
      // xe has no .sriov_set_msix_vec_count (drivers/pci/iov.c sriov_vf_msix_count_store).
      v.addFile(`${p}/sriov_vf_msix_count`, {
        store: (d) => {
          kstrtouint(d, 32);
          fail('EOPNOTSUPP');
        },
      });
    }
    if (dev.sriov) this.createSriovSysfs(dev);
  }

  private resourceFile(dev: PciDev): string {
    const line = (start: bigint, size: bigint, flags: bigint) =>
      size === 0n
        ? '0x0000000000000000 0x0000000000000000 0x0000000000000000\n'
        : `0x${start.toString(16).padStart(16, '0')} 0x${(start + size - 1n).toString(16).padStart(16, '0')} 0x${flags.toString(16).padStart(16, '0')}\n`;
    let out = '';
    for (let i = 0; i < 6; i++) {
      const b = dev.bar(i);
      out += b ? line(b.start, b.size, resourceFlags(b.kind, b.prefetchable)) : line(0n, 0n, 0n);
    }
    out += line(0n, 0n, 0n); // ROM
    for (let i = 0; i < 6; i++) {
      const b = dev.sriov?.spec.vfBars.find((x) => x.index === i);
      out += b
        ? line(b.start, b.size * BigInt(dev.sriov!.spec.totalvfs), resourceFlags(b.kind, b.prefetchable))
        : line(0n, 0n, 0n);
    }
    return out;
  }

  private createSriovSysfs(pf: PciDev): void {
    const v = this.vfs;
    const p = pf.sysPath;
    const s = pf.sriov!;
    v.addText(`${p}/sriov_totalvfs`, () => `${s.spec.totalvfs}\n`);
    v.addText(`${p}/sriov_offset`, () => `${s.spec.offset}\n`);
    v.addText(`${p}/sriov_stride`, () => `${s.spec.stride}\n`);
    v.addText(`${p}/sriov_vf_device`, () => `${s.spec.vfDevice.toString(16)}\n`);
    v.addText(`${p}/sriov_vf_total_msix`, () => '0\n');
    v.addFile(`${p}/sriov_numvfs`, { show: () => `${s.numvfs}\n`, store: (d) => this.numvfsStore(pf, d) });
    v.addFile(`${p}/sriov_drivers_autoprobe`, {
      show: () => `${s.autoprobe ? 1 : 0}\n`,
      store: (d) => {
        s.autoprobe = kstrtobool(d);
      },
    });
  }

  /** drivers/pci/iov.c sriov_numvfs_store (docs/kernel.md §9). */
  private numvfsStore(pf: PciDev, buf: string): void {
    const s = pf.sriov!;
    let n: number;
    try {
      n = kstrtouint(buf, 16);
    } catch (e) {
      // "if (kstrtou16(buf, 0, &num_vfs) < 0) return -EINVAL;": overflow (ERANGE) is reported as EINVAL too.
      if (!isKernelErrno(e)) throw e;
      fail('EINVAL');
    }
    if (n > s.spec.totalvfs) fail('ERANGE');
    if (n === s.numvfs && !s.disabling) return;
    const src = `pci ${pf.bdf}`;
    if (pf.driver === null) {
      this.kernel.log(LogLevel.INFO, src, 'no driver bound to device; cannot configure SR-IOV');
      fail('ENOENT');
    }
    const drv = this.driver(pf.driver).model;
    if (!drv.sriovConfigure) {
      this.kernel.log(LogLevel.INFO, src, 'driver does not support SR-IOV configuration via sysfs');
      fail('ENOENT');
    }
    if (s.disabling) fail('EBUSY', 'VFs are still being removed');
    if (n === 0) {
      drv.sriovConfigure(pf, 0);
      return;
    }
    if (s.numvfs !== 0) {
      this.kernel.log(LogLevel.WARNING, src, `${s.numvfs} VFs already enabled. Disable before enabling ${n} VFs`);
      fail('EBUSY');
    }
    const got = drv.sriovConfigure(pf, n);
    if (got !== n) this.kernel.log(LogLevel.WARNING, src, `${n} VFs requested; only ${got} enabled`);
  }

  // ------------------------------------------------------------ SR-IOV

  /** Size each VF BAR gets with `numVfs` enabled (VF BAR2 per the resizable-BAR rule). */
  vfBarSizeFor(pf: PciDev, bar: BarSpec, numVfs: number): bigint {
    return vfBarSize(bar, pf.sriov!.spec.totalvfs, numVfs);
  }

  /**
   * pci_enable_sriov: create the VFs, their sysfs, links and IOMMU groups, then
   * probe them (pci_bus_add_device; docs/kernel.md §9 autoprobe rules).
   * `restore` carries per-VF state when rebuilding from a topology or state file.
   */
  enableVfs(
    pf: PciDev,
    n: number,
    restore?: readonly { driverOverride: string | null; iommuGroup: number | null }[],
    /** A bus notifier's BUS_NOTIFY_ADD_DEVICE, before the VF is probed (vfio_pci_bus_notifier sets driver_override). */
    onAdd?: (vf: PciDev) => void,
  ): PciDev[] {
    const s = pf.sriov!;
    s.vfBarSizes = new Map(s.spec.vfBars.map((b) => [b.index, this.vfBarSizeFor(pf, b, n)]));
    const created: PciDev[] = [];
    const pfAt = parseSysfsBdf(pf.bdf)!;
    for (let i = 0; i < n; i++) {
      // virtfn<i>: drivers/pci/iov.c pci_iov_virtfn_bus/devfn (the topology checked that every VF fits)
      const at = vfAddress(pfAt, s.spec.offset, s.spec.stride, i + 1)!;
      const bdf = formatPciAddress(at);
      const bars: PciBar[] = s.spec.vfBars.map((b) => {
        const size = s.vfBarSizes.get(b.index)!;
        return { index: b.index, start: b.start + size * BigInt(i), size, kind: b.kind, prefetchable: b.prefetchable };
      });
      const r = restore?.[i];
      // iommu_group_get_for_dev -> pci_device_group (drivers/iommu/iommu.c; src/mock/pcie.ts sharesBridgeGroup): a
      // bridge above the VF (on its PF's path) without an ACS-isolated path to the root bus makes the VF join that
      // bridge's group, where its PF already is. A new group otherwise.
      const group =
        r?.iommuGroup ??
        (pf.iommuGroup === null
          ? null
          : this.fabric.sharesBridgeGroup(pf.parentPath)
            ? pf.iommuGroup
            : this.allocGroup());
      const vf = new PciDev(
        bdf,
        pf.domain,
        at.bus,
        (at.slot << 3) | at.fn,
        pf.vendor,
        s.spec.vfDevice,
        pf.klass,
        pf.subsystemVendor,
        pf.subsystemDevice,
        pf.revision,
        pf.parentPath,
        bars,
        pf,
        i,
        null,
        group,
        r?.driverOverride ?? null,
      );
      s.vfs.push(vf);
      created.push(vf);
      this.devices.set(bdf, vf);
      this.createSysfs(vf);
      if (group !== null) this.joinGroup(vf, group);
      this.vfs.addLink(`${pf.sysPath}/virtfn${i}`, relativeLink(pf.sysPath, vf.sysPath));
      this.kernel.log(
        LogLevel.INFO,
        `pci ${bdf}`,
        `[${hex4(vf.vendor)}:${hex4(vf.device)}] type 00 class 0x${vf.klass.toString(16).padStart(6, '0')} PCIe Endpoint`,
      );
      if (group !== null) this.kernel.log(LogLevel.INFO, `pci ${bdf}`, `Adding to iommu group ${group}`);
      onAdd?.(vf);
    }
    s.numvfs = n;
    if (this.autoprobe) for (const vf of created) this.attach(vf);
    return created;
  }

  /**
   * pci_disable_sriov: unbind and remove every VF, last first. Removal of a VF
   * whose vfio device is open waits for its close (vfio_unregister_group_dev):
   * the writer is reported hung and the rest completes when it is closed.
   */
  disableVfs(pf: PciDev, then: () => void): void {
    const s = pf.sriov!;
    s.disabling = true;
    const step = (i: number): void => {
      if (i < 0) {
        s.vfs = [];
        s.numvfs = 0;
        s.disabling = false;
        s.vfBarSizes = new Map();
        then();
        return;
      }
      const vf = s.vfs[i]!;
      vf.removing = true;
      this.release(vf, () => {
        this.vfs.remove(`${pf.sysPath}/virtfn${i}`);
        this.removeDevice(vf);
        step(i - 1);
      }, [
        'vfio_unregister_group_dev+0x9b/0x130 [vfio]',
        'vfio_pci_remove+0x17/0x30 [vfio_pci]',
        'pci_device_remove+0x3e/0xb0',
        'pci_iov_remove_virtfn+0xb9/0x130',
        'sriov_disable+0x3c/0xf0',
        'xe_pci_sriov_configure+0x2e1/0x4c0 [xe]',
        'sriov_numvfs_store+0xf3/0x1d0',
      ]);
    };
    step(s.vfs.length - 1);
  }

  /** /sys/bus/pci/drivers_autoprobe without the sysfs write (boot-time restore). */
  setBusAutoprobe(on: boolean): void {
    this.autoprobe = on;
  }

  get busAutoprobe(): boolean {
    return this.autoprobe;
  }

  // ------------------------------------------------------------ state

  save(): PciState {
    return { autoprobe: this.autoprobe, dynIds: Object.fromEntries(this.drivers.map((d) => [d.model.name, d.dynIds])) };
  }

  load(s: PciState): void {
    this.autoprobe = s.autoprobe;
    for (const d of this.drivers) d.dynIds = s.dynIds[d.model.name] ?? [];
  }

  /** Probe without the autoprobe gate (used when rebuilding saved bindings). */
  bindTo(dev: PciDev, name: string): boolean {
    if (!this.hasDriver(name)) return false;
    const drv = this.driver(name);
    if (!this.matches(drv, dev)) return false;
    return this.probe(drv, dev) === 0;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function matchOne(id: DynId, dev: PciDev): boolean {
  return (
    (id.vendor === PCI_ANY_ID || id.vendor === dev.vendor) &&
    (id.device === PCI_ANY_ID || id.device === dev.device) &&
    (id.subvendor === PCI_ANY_ID || id.subvendor === dev.subsystemVendor) &&
    (id.subdevice === PCI_ANY_ID || id.subdevice === dev.subsystemDevice) &&
    ((id.klass ^ dev.klass) & id.classMask) === 0
  );
}

/** sscanf("%x %x ...") up to `max` fields: stops at the first field that does not parse. */
function scanHex(buf: string, max: number): number[] {
  const out: number[] = [];
  for (const tok of buf.trim().split(/\s+/)) {
    if (out.length >= max) break;
    const m = /^(?:0[xX])?([0-9a-fA-F]+)/.exec(tok);
    if (!m) break;
    out.push(Number.parseInt(m[1]!.slice(-8), 16) >>> 0);
  }
  return out;
}
