// The simulated kernel as one object: it boots the machine of a topology
// under a profile, owns every subsystem (vfs, PCI and SR-IOV, the xe PF
// provisioning, memory and the physical bus, dma-buf core, vfio-pci, vgem,
// udmabuf, kernel services), and implements contracts.ts MockPlatform for the
// device models. When xe binds a PF it creates the PF's provisioning state
// (src/mock/xe-pf.ts) and the xe DRM device of src/mock/xe/
// (createXeDriver(platform, pf, { minor }).bind()), which registers
// /dev/dri/card<minor> and renderD<128+minor> through addCharDevice.

import { LogLevel, type CharDevice, type MockPlatform, type PciBar, type PciDevice } from './contracts.js';
import { fail } from './errno.js';
import { DmaBufCoreImpl } from './dmabuf.js';
import { FdTableImpl } from './fds.js';
import { IovhIcModule } from './iovh-ic.js';
import { MockFiles } from './files.js';
import { KernelCore } from './kernel.js';
import { MappingRegistry } from './mapping.js';
import { ChunkedMemory } from './memory.js';
import { PciDev, PciSubsystem, type PciDriverModel } from './pci.js';
import { PcieFabric } from './pcie.js';
import { PhysicalBusImpl } from './physbus.js';
import { MockProcess } from './process.js';
import { buildModules, buildProcfs, ProcPids } from './procfs.js';
import type { ProfileImpl } from './profiles.js';
import { SysMem, SystemRamImpl } from './sysmem.js';
import type { BarSpec, DeviceSpec, ParsedTopology } from './topology.js';
import { cmdlineEnableSriov, VfioSubsystem } from './vfio.js';
import { IommufdSubsystem } from './iommufd.js';
import { enabled } from './kconfig.js';
import { Vfs } from './vfs.js';
import { Vgem } from './vgem.js';
import { XePf, type XePfSaved } from './xe-pf.js';
import { MOCK_GPU_DRIVER, MockGpuDevice, MockGpuPf, type MockGpuSaved } from './mock-gpu.js';
import { createXeDriver, type XeDriver, type XeLiveObjects } from './xe/index.js';
import { relativeLink } from './vfs.js';

/** Per-device state a state file carries over (src/mock/state.ts). */
export interface DeviceState {
  bdf: string;
  driver: string | null;
  driverOverride: string | null;
  sriov?: {
    numvfs: number;
    autoprobe: boolean;
    vfs: { driver: string | null; driverOverride: string | null; iommuGroup: number | null }[];
  };
  xe?: XePfSaved;
  mockGpu?: MockGpuSaved;
  /** A PF on vfio-pci: its VF token (vfio_pci_core.c keeps it as long as the PF stays registered). */
  vfToken?: string;
}

export interface LiveCounts {
  /** processes alive (the backend's own and those from spawnProcess that have not exited) */
  processes: number;
  /** fds the live processes hold (beyond stdio) */
  fds: number;
  /** kernel files alive (fds plus files kept by the kernel: an importer's dma-buf, a mapping's file) */
  openFiles: number;
  dmabufs: number;
  attachments: number;
  /** dma_buf_map_attachment maps not unmapped */
  sgMaps: number;
  /** dma_buf_map_interconnect maps not unmapped */
  interconnectMaps: number;
  vfioDevicesOpen: number;
  vfioGroupsOpen: number;
  /** mmaps of the live processes (platform mappings and xe BO mappings) */
  mappings: number;
  /** xe GEM objects, imports, VMs, exec queues, syncobjs, DRM files */
  bos: number;
  imports: number;
  vms: number;
  execQueues: number;
  syncobjs: number;
  drmFiles: number;
  vgemObjects: number;
  lmemObjects: number;
  memfds: number;
  udmabufs: number;
  /** /dev/iommu contexts open (one a bound VFIO cdev device holds counts) and files mapped into their IOASes */
  iommufdContexts: number;
  ioasMappings: number;
  /** kernel waits not finished (a revoke waiting for an importer to unmap) */
  pendingWaits: number;
}

function barsOf(spec: readonly BarSpec[]): PciBar[] {
  return spec.map((b) => ({
    index: b.index,
    start: b.start,
    size: b.size,
    kind: b.kind,
    prefetchable: b.prefetchable,
  }));
}

export class MockKernel implements MockPlatform {
  readonly vfs = new Vfs();
  readonly kernel: KernelCore;
  readonly fds = new FdTableImpl();
  readonly pci: PciSubsystem;
  readonly bus: PhysicalBusImpl;
  readonly ram: SystemRamImpl;
  readonly dmabuf: DmaBufCoreImpl;
  readonly vfio: VfioSubsystem;
  /** CONFIG_IOMMUFD: /dev/iommu (null on a kernel built without it, like Debian's). */
  readonly iommufd: IommufdSubsystem | null;
  readonly sysmem: SysMem;
  readonly vgem: Vgem;
  /** iovh's stand-in importer module (kernel/iovh-ic-importer), loaded on every mock machine. */
  readonly iovhIc: IovhIcModule;
  readonly maps: MappingRegistry;
  readonly files: MockFiles;
  private readonly xePfs = new Map<PciDev, XePf>();
  /** PFs bound to iovh's mock GPU driver (src/mock/mock-gpu.ts). */
  private readonly mockGpus = new Map<PciDev, MockGpuPf>();
  /** The mock GPU devices themselves (LMEM, block table), bound or not. */
  private readonly mockGpuHw = new Map<PciDev, MockGpuDevice>();
  private readonly vram = new Map<string, ChunkedMemory>();
  private readonly xeDrivers = new Map<PciDev, XeDriver>();
  private readonly xeMinors = new Map<string, number>();
  private readonly classEntries = new Map<string, string[]>();
  /** VF driver_override / IOMMU group to restore when a PF's VFs are next enabled (boot from state). */
  private readonly vfRestore = new Map<PciDev, { driverOverride: string | null; iommuGroup: number | null }[]>();
  /** Live processes by pid (src/mock/process.ts); `current` makes the system call being served. */
  private readonly procs = new Map<number, MockProcess>();
  private readonly procPids: ProcPids;
  private pidNext: number;
  /** The process the mock backend was created for. */
  readonly initial: MockProcess;
  current: MockProcess;
  /** Inside a system call (process context): an oops then kills the caller. */
  private inCall = 0;

  constructor(
    readonly profile: ProfileImpl,
    readonly topology: ParsedTopology,
    pid: number,
  ) {
    this.kernel = new KernelCore(profile, pid, this.vfs, topology.machine);
    this.maps = new MappingRegistry(() => this.current.pid);
    this.files = new MockFiles(this.vfs);
    const cmdline =
      topology.cmdline ??
      `BOOT_IMAGE=/boot/vmlinuz-${profile.release} root=UUID=6f1c2e0a-5b1d-4c7e-9a0e-1f0c2b3d4e5f ro quiet intel_iommu=on`;
    this.pci = new PciSubsystem(this.vfs, this.kernel, new PcieFabric(topology, cmdline));
    this.bus = new PhysicalBusImpl(
      topology.ram,
      this.pci,
      (pf) => this.xePfs.get(pf) ?? null,
      (pf) => this.vram.get(pf.bdf) ?? null,
      (dev) => this.vfio.decodes(dev),
    );
    this.ram = new SystemRamImpl(topology.ram, this.bus);
    this.dmabuf = new DmaBufCoreImpl(this.kernel, this.fds);
    this.iommufd = enabled(profile, 'IOMMUFD')
      ? new IommufdSubsystem(this.kernel, this.vfs, this.fds, this.dmabuf, enabled(profile, 'TRANSPARENT_HUGEPAGE'))
      : null;
    this.vfio = new VfioSubsystem(
      this.kernel,
      this.vfs,
      this.pci,
      this.fds,
      this.dmabuf,
      this.bus,
      {
        xeOfPf: (pf) => this.xePfs.get(pf) ?? null,
        iommufd: enabled(profile, 'VFIO_DEVICE_CDEV') ? this.iommufd : null,
        enableSriov: cmdlineEnableSriov(topology.cmdline ?? ''),
      },
      this.maps,
    );
    this.sysmem = new SysMem(this.kernel, this.fds, this.dmabuf, this.bus, this.ram, this.vfs, this.maps);
    this.pci.onBindingChange = () => this.bus.invalidate();
    // A sysfs resourceN mapping holds its file, as a VMA holds vm_file, and reads what the bus decodes there.
    this.pci.mapResource = (file, start, length) => {
      this.fds.ref(file);
      return this.maps.create(
        length,
        {
          read: (o, out) => out.set(this.bus.read(start + BigInt(o), out.length)),
          write: (o, d) => this.bus.write(start + BigInt(o), d),
        },
        () => this.fds.unref(file),
      );
    };

    let minor = 0;
    for (const d of topology.devices) if (d.xe) this.xeMinors.set(d.bdf, minor++);
    this.pci.registerDriver(this.xeModel());
    if (topology.devices.some((d) => d.mockGpu)) this.pci.registerDriver(this.mockGpuModel());
    this.bus.mockGpuOf = (pf) => this.mockGpuDevice(pf);
    this.pci.registerDriver(this.vfio.driverModel());
    for (const name of this.otherDrivers()) this.pci.registerDriver(this.genericModel(name));
    this.vgem = new Vgem(this.kernel, this.fds, this.dmabuf, this.vfs, minor);
    this.iovhIc = new IovhIcModule(this.kernel, this.fds, this.dmabuf, this.pci, this.bus, this.vfs);
    this.iovhIc.mockGpuOf = (pf) => this.mockGpus.get(pf) ?? null;
    // The PF driver module is loaded with the machine that has the device (its translation installed at load).
    const hasMockGpu = topology.devices.some((d) => d.mockGpu);
    this.iovhIc.xlateInstalled = () => hasMockGpu;
    this.iovhIc.isRam = (addr) => this.topology.ram.some((r) => addr >= r.start && addr < r.start + r.size);
    this.staticFiles();
    buildModules(this.vfs);
    buildProcfs(this.vfs, this.kernel, profile, cmdline);
    this.procPids = new ProcPids(this.vfs, this.fds);
    this.procPids.selfLinks(() => this.current);
    this.pidNext = pid;
    this.initial = this.spawn('node');
    this.current = this.initial;
    this.enter(this.initial);
    // An oops in process context ends the calling thread (arch/x86/kernel/dumpstack.c oops_end ->
    // make_task_dead -> do_exit of that task): the process and its files live on (src/mock/process.ts).
    this.kernel.onOops = (reason) => {
      const p = this.current;
      if (this.inCall > 0 && !p.exited && p.killedBy === null) p.killedBy = reason;
    };
    // A wait in a system call (wait_for_completion: TASK_UNINTERRUPTIBLE) puts the caller in D state until it ends.
    this.kernel.onBlock = (wchan, stack) => {
      const p = this.current;
      p.blocked = { wchan, stack };
      return () => {
        if (p.blocked?.wchan === wchan) p.blocked = null;
      };
    };
    this.kernel.log(LogLevel.NOTICE, null, `Linux version ${profile.release} (iovh@mock) #1 SMP PREEMPT_DYNAMIC`);
    this.kernel.log(LogLevel.INFO, null, `Command line: ${cmdline}`);
    this.kernel.log(LogLevel.INFO, null, 'DMAR: IOMMU enabled');
    // __pci_config_acs's pci_info for each port pci=disable_acs_redir= named: "%#06x". The kernel's vsprintf
    // (lib/vsprintf.c number) gives 0 its 0x prefix too, unlike C's printf: 0 prints as 0x0000.
    if (this.pci.fabric.cannotParse)
      this.kernel.log(LogLevel.WARNING, null, "PCI: Can't parse ACS command line parameter");
    for (const { bdf, ctrl } of this.pci.fabric.configured)
      this.kernel.log(LogLevel.INFO, `pci ${bdf}`, `Configured ACS to 0x${ctrl.toString(16).padStart(4, '0')}`);
  }

  // ------------------------------------------------------------ MockPlatform

  xePf(pf: PciDevice): XePf | null {
    const d = this.pci.device(pf.bdf);
    return d ? (this.xePfs.get(d) ?? null) : null;
  }

  /**
   * A /dev node; with a PCI parent it also gets its class entry, as a DRM minor
   * does (drivers/gpu/drm/drm_sysfs.c): <device>/drm/<name>/{dev,device,subsystem}
   * and /sys/class/drm/<name> linking there.
   */
  addCharDevice(dev: CharDevice): void {
    this.vfs.addChar(dev.path, dev);
    const parent = dev.parent ? this.pci.device(dev.parent.bdf) : undefined;
    if (!parent) return;
    const cls = dev.path.startsWith('/dev/dri/') ? 'drm' : 'misc';
    const name = dev.path.split('/').pop()!;
    const dir = `${parent.sysPath}/${cls}/${name}`;
    this.vfs.addText(`${dir}/dev`, () => `${dev.major}:${dev.minor}\n`);
    this.vfs.addLink(`${dir}/device`, relativeLink(dir, parent.sysPath), true);
    this.vfs.addLink(`${dir}/subsystem`, relativeLink(dir, `/sys/class/${cls}`), true);
    this.vfs.addLink(`/sys/class/${cls}/${name}`, relativeLink(`/sys/class/${cls}`, dir), true);
    this.classEntries.set(dev.path, [dir, `/sys/class/${cls}/${name}`]);
  }

  removeCharDevice(path: string): void {
    this.vfs.remove(path);
    for (const p of this.classEntries.get(path) ?? []) this.vfs.remove(p);
    this.classEntries.delete(path);
  }

  addTextFile(path: string, render: () => string, mode?: number): void {
    this.vfs.addText(path, render, mode);
  }

  removeFile(path: string): void {
    this.vfs.remove(path);
  }

  // ------------------------------------------------------------ drivers

  private otherDrivers(): string[] {
    const names = new Set<string>();
    for (const d of this.topology.devices) {
      if (d.driver && d.driver !== 'xe' && d.driver !== 'vfio-pci' && !(d.mockGpu && d.driver === MOCK_GPU_DRIVER))
        names.add(d.driver);
      for (const v of d.sriov?.vfs ?? [])
        if (v.driver && v.driver !== 'xe' && v.driver !== 'vfio-pci') names.add(v.driver);
    }
    return [...names].sort();
  }

  /** A driver the topology names that the mock does not model beyond binding (igb, nvme, ...). */
  private genericModel(name: string): PciDriverModel {
    const ids = new Set<string>();
    for (const d of this.topology.devices) {
      if (d.driver === name) ids.add(`${d.vendor}:${d.device}`);
      if (d.sriov?.vfs.some((v) => v.driver === name)) ids.add(`${d.vendor}:${d.sriov.vfDevice}`);
    }
    return {
      name,
      module: name.replace(/-/g, '_'),
      matchStatic: (dev) => (ids.has(`${dev.vendor}:${dev.device}`) ? 'match' : 'none'),
      probe: () => undefined,
      remove: () => undefined,
      sriovConfigure: (pf, n) => {
        if (n === 0) this.pci.disableVfs(pf, () => this.bus.invalidate());
        else this.pci.enableVfs(pf, n, this.takeRestore(pf));
        this.bus.invalidate();
        return n;
      },
    };
  }

  /** The mock GPU device behind a PF of the topology's (its LMEM and table live as long as the machine). */
  private mockGpuDevice(pf: PciDev): MockGpuDevice | null {
    const spec = pf.spec?.mockGpu;
    if (!spec || pf.isVirtfn) return null;
    let hw = this.mockGpuHw.get(pf);
    if (!hw) {
      hw = new MockGpuDevice(spec, pf.sriov?.spec.totalvfs ?? 0);
      this.mockGpuHw.set(pf, hw);
    }
    return hw;
  }

  /** pci_enable_sriov / pci_disable_sriov for a PF driver, the bus routing rebuilt after each. */
  private sriovOps(added: (vfs: PciDev[]) => void = () => undefined) {
    return {
      enable: (pf: PciDev, n: number) => {
        added(this.pci.enableVfs(pf, n, this.takeRestore(pf)));
        this.bus.invalidate();
      },
      disable: (pf: PciDev, then: () => void) =>
        this.pci.disableVfs(pf, () => {
          this.bus.invalidate();
          then();
        }),
    };
  }

  private takeRestore(pf: PciDev) {
    const r = this.vfRestore.get(pf);
    this.vfRestore.delete(pf);
    return r;
  }

  /**
   * iovh's mock GPU PF driver (kernel/iovh-mock-gpu/main.c): the topology's
   * mock GPU PFs (its VFs share the ID; the driver takes only a PF), sysfs
   * files and provisioning in src/mock/mock-gpu.ts.
   */
  private mockGpuModel(): PciDriverModel {
    const ids = new Set<string>();
    for (const d of this.topology.devices) if (d.mockGpu) ids.add(`${d.vendor}:${d.device}`);
    return {
      name: MOCK_GPU_DRIVER,
      module: MOCK_GPU_DRIVER,
      matchStatic: (dev) => (!dev.isVirtfn && ids.has(`${dev.vendor}:${dev.device}`) ? 'match' : 'none'),
      probe: (dev) => {
        if (!dev.spec?.mockGpu || dev.isVirtfn) fail('ENODEV');
        const mg = new MockGpuPf(dev, this.mockGpuDevice(dev)!, this.vfs, this.kernel, this.sriovOps());
        this.mockGpus.set(dev, mg);
        this.bus.invalidate();
      },
      remove: (dev) => {
        const mg = this.mockGpus.get(dev);
        if (!mg) return;
        let done = false;
        // A VF's open vfio device makes the removal wait, as it makes sriov_numvfs wait.
        mg.remove(() => {
          this.mockGpus.delete(dev);
          this.bus.invalidate();
          done = true;
        });
        if (!done) return () => done;
      },
      sriovConfigure: (pf, n) => {
        const mg = this.mockGpus.get(pf);
        if (!mg) fail('ENODEV');
        return mg.sriovConfigure(n);
      },
    };
  }

  /** xe (drivers/gpu/drm/xe/xe_pci.c): PFs of the topology's xe devices and their VFs (same ID lists). */
  private xeModel(): PciDriverModel {
    const ids = new Set<number>();
    for (const d of this.topology.devices) {
      if (!d.xe) continue;
      ids.add(d.device);
      if (d.sriov) ids.add(d.sriov.vfDevice);
    }
    return {
      name: 'xe',
      module: 'xe',
      matchStatic: (dev) => (dev.vendor === 0x8086 && ids.has(dev.device) ? 'match' : 'none'),
      probe: (dev) => this.xeProbe(dev),
      remove: (dev) => this.xeRemove(dev),
      sriovConfigure: (pf, n) => {
        const xe = this.xePfs.get(pf);
        if (!xe) fail('ENODEV');
        if (n === 0) {
          xe.disableVfs();
          return 0;
        }
        return xe.enableVfs(n);
      },
    };
  }

  private xeProbe(dev: PciDev): void {
    const src = `xe ${dev.bdf}`;
    if (dev.isVirtfn) {
      this.kernel.log(LogLevel.INFO, src, '[drm] Running in SR-IOV VF mode');
      return;
    }
    const spec = dev.spec?.xe;
    if (!spec) fail('ENODEV');
    let vram = this.vram.get(dev.bdf);
    if (!vram) {
      vram = new ChunkedMemory(spec.vram);
      this.vram.set(dev.bdf, vram);
    }
    const minor = this.xeMinors.get(dev.bdf) ?? 0;
    const dbg = `/sys/kernel/debug/dri/${dev.bdf}`;
    this.vfs.mkdirp(dbg);
    this.vfs.addLink(`/sys/kernel/debug/dri/${minor}`, dev.bdf);
    this.vfs.addLink(`/sys/kernel/debug/dri/${128 + minor}`, dev.bdf);
    this.kernel.log(
      LogLevel.INFO,
      src,
      `[drm] Found battlemage (device ID ${dev.device.toString(16)}) discrete display version 14.01 stepping B0`,
    );
    const xe = new XePf(
      dev,
      spec,
      vram,
      this.vfs,
      this.kernel,
      this.sriovOps((vfs) => xe.linkVfs(vfs)),
    );
    this.xePfs.set(dev, xe);
    this.kernel.log(LogLevel.INFO, src, `[drm] Initialized xe 1.1.0 for ${dev.bdf} on minor ${minor}`);
    const drm = createXeDriver(this, dev, { minor });
    drm.bind();
    this.xeDrivers.set(dev, drm);
    this.bus.invalidate();
  }

  private xeRemove(dev: PciDev): (() => boolean) | undefined {
    if (dev.isVirtfn) return;
    const xe = this.xePfs.get(dev);
    if (!xe) return;
    let done = false;
    // xe_pci_remove: SR-IOV off first (which may wait for a VF's vfio users), then the DRM device goes.
    xe.destroy(() => {
      const minor = this.xeMinors.get(dev.bdf) ?? 0;
      this.xeDrivers.get(dev)?.unbind();
      this.xeDrivers.delete(dev);
      this.xePfs.delete(dev);
      this.vfs.remove(`/sys/kernel/debug/dri/${minor}`);
      this.vfs.remove(`/sys/kernel/debug/dri/${128 + minor}`);
      this.bus.invalidate();
      done = true;
    });
    if (!done) return () => done;
  }

  // ------------------------------------------------------------ boot

  private staticFiles(): void {
    const v = this.vfs;
    v.mkdirp('/sys/kernel/debug/dri');
    v.addText('/sys/kernel/debug/dma_buf/bufinfo', () => this.dmabuf.bufinfo());
    // kernel/exit.c oops_count_show (6.2+): oopses since boot, counted in make_task_dead.
    v.addText('/sys/kernel/oops_count', () => `${this.kernel.oopsCount}\n`);
    // CONFIG_DEBUG_KMEMLEAK: the test kernels have it, Debian's stock kernel does not.
    if (enabled(this.profile, 'DEBUG_KMEMLEAK'))
      v.addFile('/sys/kernel/debug/kmemleak', {
        mode: 0o644,
        show: () => this.kernel.kmemleak.report(),
        store: (d) => this.kernel.kmemleak.command(d),
      });
    v.addChar(
      '/dev/kmsg',
      {
        path: '/dev/kmsg',
        major: 1,
        minor: 11,
        mode: 0o644,
        open: () => ({ path: '/dev/kmsg', handlers: {}, fdinfo: () => [], release: () => undefined }),
      },
      { records: () => this.kernel.kmsg.formatted(), write: (d) => this.kernel.kmsg.writeUser(d) },
    );
    v.addChar('/dev/null', {
      path: '/dev/null',
      major: 1,
      minor: 3,
      mode: 0o666,
      open: () => ({ path: '/dev/null', handlers: {}, fdinfo: () => [], release: () => undefined }),
    });
    v.addText(`/boot/config-${this.profile.release}`, () => this.profile.config);
    v.addLink('/sys/class/iommu/dmar0', '../../devices/virtual/iommu/dmar0');
    v.addText('/sys/devices/virtual/iommu/dmar0/intel-iommu/version', () => '6:0\n');
    // DMI: the topology's machine line is "<vendor> <product>, BIOS <version> <date>" (what `iovh capture` writes).
    const dmi = /^(\S+)\s+(.*?)(?:, BIOS (\S+)(?: (\S+))?)?$/.exec(this.topology.machine);
    const id = (n: string, value: string | undefined) => {
      if (value) this.vfs.addText(`/sys/class/dmi/id/${n}`, () => `${value}\n`);
    };
    id('sys_vendor', dmi?.[1]);
    id('product_name', dmi?.[2]);
    id('bios_version', dmi?.[3]);
    id('bios_date', dmi?.[4]);
    v.addText('/proc/sys/kernel/osrelease', () => `${this.profile.release}\n`);
    v.addText('/proc/sys/kernel/ostype', () => 'Linux\n');
    v.addText('/proc/sys/kernel/random/boot_id', () => `${this.bootId()}\n`);
    v.addText('/proc/iomem', () => this.iomem());
  }

  /** Stable for one mock machine and profile: a state file continues the same boot. */
  private bootId(): string {
    let h = 0x811c9dc5;
    for (const ch of `${this.profile.name}|${this.topology.machine}|${this.topology.devices.map((d) => d.bdf).join(',')}`)
      h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    const hex = `${h.toString(16).padStart(8, '0')}a1b2c3d4e5f60718293a4b5c`.slice(0, 32);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** /proc/iomem as root sees it (kernel/resource.c r_show: %0*llx with at least 8 digits). */
  private iomem(): string {
    const rows: { start: bigint; end: bigint; name: string; depth: number }[] = [];
    for (const r of this.topology.ram)
      rows.push({ start: r.start, end: r.start + r.size - 1n, name: 'System RAM', depth: 0 });
    for (const d of this.pci.all()) {
      for (const b of d.bars)
        if (b.kind !== 'io' && b.kind !== 'none')
          rows.push({ start: b.start, end: b.start + b.size - 1n, name: d.bdf, depth: 0 });
    }
    rows.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const x = (v: bigint) => v.toString(16).padStart(8, '0');
    return rows.map((r) => `${'  '.repeat(r.depth)}${x(r.start)}-${x(r.end)} : ${r.name}\n`).join('');
  }

  /** Create the topology's devices and bring them to the topology's (or a saved) state. */
  boot(saved: readonly DeviceState[] | null, busAutoprobe: boolean): void {
    this.pci.setBusAutoprobe(false);
    const specs = new Map<string, DeviceSpec>(this.topology.devices.map((d) => [d.bdf, d]));
    const state = new Map<string, DeviceState>((saved ?? []).map((s) => [s.bdf, s]));
    const devs: PciDev[] = [];
    for (const d of this.topology.devices) {
      const s = state.get(d.bdf);
      const dev = new PciDev(
        d.bdf,
        d.domain,
        d.bus,
        d.devfn,
        d.vendor,
        d.device,
        d.class,
        d.subsystemVendor,
        d.subsystemDevice,
        d.revision,
        d.parent,
        barsOf(d.bars),
        null,
        null,
        d,
        d.iommuGroup,
        s ? s.driverOverride : d.driverOverride,
      );
      if (d.sriov)
        dev.sriov = {
          spec: d.sriov,
          numvfs: 0,
          autoprobe: s?.sriov?.autoprobe ?? d.sriov.autoprobe,
          vfs: [],
          vfBarSizes: new Map(),
          disabling: false,
        };
      this.kernel.log(
        LogLevel.INFO,
        `pci ${d.bdf}`,
        `[${hex4(d.vendor)}:${hex4(d.device)}] type 00 class 0x${d.class.toString(16).padStart(6, '0')} PCIe Endpoint`,
      );
      this.pci.add(dev, false);
      devs.push(dev);
    }
    for (const dev of devs) {
      const spec = specs.get(dev.bdf)!;
      const s = state.get(dev.bdf);
      const driver = s ? s.driver : spec.driver;
      if (driver && !this.pci.bindTo(dev, driver))
        this.kernel.log(LogLevel.WARNING, `pci ${dev.bdf}`, `could not bind ${driver} at boot`);
    }
    // Every group the topology or the state names for a VF present at boot is taken before any is allocated:
    // VFs whose group is not named (created in order, PF by PF) must not get one another PF's VF is given.
    this.pci.reserveGroups(
      devs.flatMap((dev) =>
        (state.get(dev.bdf)?.sriov?.vfs ?? specs.get(dev.bdf)!.sriov?.vfs ?? []).flatMap((v) =>
          v.iommuGroup === null ? [] : [v.iommuGroup],
        ),
      ),
    );
    for (const dev of devs) {
      const spec = specs.get(dev.bdf)!;
      if (!spec.sriov || !dev.sriov) continue;
      const s = state.get(dev.bdf);
      const vfs = s?.sriov
        ? s.sriov.vfs
        : spec.sriov.vfs.map((v) => ({ driver: v.driver, driverOverride: v.driverOverride, iommuGroup: v.iommuGroup }));
      const n = s?.sriov ? s.sriov.numvfs : spec.sriov.numvfs;
      const xe = this.xePfs.get(dev);
      if (xe && s?.xe && !xe.load(s.xe)) throw new Error(`saved provisioning of ${dev.bdf} does not fit its VRAM`);
      if (xe && !s) {
        for (const v of spec.sriov.vfs)
          if (v.vramQuota !== null && v.vramQuota > 0n)
            for (let t = 0; t < spec.xe!.tiles; t++) xe.setQuota(v.index + 1, t, v.vramQuota / BigInt(spec.xe!.tiles));
      }
      const mg = this.mockGpus.get(dev);
      if (mg && !mg.load(s?.mockGpu ?? spec.mockGpu!))
        throw new Error(`saved provisioning of ${dev.bdf} does not fit its mock GPU`);
      // A PF on vfio-pci keeps its VF token for as long as it stays bound (vfio_pci_vf_init made it), VFs or not.
      if (dev.driver === 'vfio-pci' && s?.vfToken) this.vfio.restoreVfToken(dev, s.vfToken);
      if (n === 0) continue;
      if (dev.driver === null) throw new Error(`${dev.bdf} has ${n} VFs but no driver to enable them`);
      this.vfRestore.set(
        dev,
        vfs.map((v) => ({ driverOverride: v.driverOverride, iommuGroup: v.iommuGroup })),
      );
      // A PF on vfio-pci had created its VFs through vfio_pci_core_sriov_configure: its VFs need its token again.
      if (dev.driver === 'vfio-pci') this.vfio.restoreSriovPf(dev);
      if (xe) xe.enableVfs(n);
      else if (mg) mg.enableLoaded(n);
      else this.genericModel(dev.driver).sriovConfigure!(dev, n);
      for (const [i, vf] of dev.sriov.vfs.entries()) {
        const want = vfs[i]?.driver ?? null;
        if (want && !this.pci.bindTo(vf, want))
          this.kernel.log(LogLevel.WARNING, `pci ${vf.bdf}`, `could not bind ${want} at boot`);
      }
    }
    this.pci.reserveGroups(null);
    this.pci.setBusAutoprobe(busAutoprobe);
    this.bus.invalidate();
  }

  /** What a state file keeps of the devices. */
  deviceStates(): DeviceState[] {
    const out: DeviceState[] = [];
    for (const d of this.topology.devices) {
      const dev = this.pci.device(d.bdf);
      if (!dev) continue;
      const s: DeviceState = { bdf: d.bdf, driver: dev.driver, driverOverride: dev.driverOverride };
      if (dev.sriov) {
        s.sriov = {
          numvfs: dev.sriov.numvfs,
          autoprobe: dev.sriov.autoprobe,
          vfs: dev.sriov.vfs.map((v) => ({
            driver: v.driver,
            driverOverride: v.driverOverride,
            iommuGroup: v.iommuGroup,
          })),
        };
      }
      const xe = this.xePfs.get(dev);
      if (xe) s.xe = xe.save();
      const mg = this.mockGpus.get(dev);
      if (mg) s.mockGpu = mg.save();
      const token = dev.driver === 'vfio-pci' ? this.vfio.savedVfToken(dev) : null;
      if (token) s.vfToken = token;
      out.push(s);
    }
    return out;
  }

  // ------------------------------------------------------------ processes

  /**
   * A new process on this kernel (fork + exec of another node): its own pid
   * and fd table, empty but for `inherit`: those fds of `parent`, at 3, 4, ...
   * in order (the same open files: dup2 before exec, as Node's spawn() passes
   * `stdio` fds), without close-on-exec. An fd `parent` does not have is EBADF.
   */
  spawn(comm: string, inherit: readonly number[] = [], parent: MockProcess = this.current): MockProcess {
    const files = inherit.map((fd) => {
      const e = parent.fds.get(fd);
      if (!e) fail('EBADF', `fd ${fd} to inherit is not open`);
      return e.file;
    });
    const p = new MockProcess(this.pidNext++, comm);
    files.forEach((file, i) => {
      this.fds.ref(file);
      p.fds.set(3 + i, { file, cloexec: false });
    });
    this.procs.set(p.pid, p);
    this.procPids.add(p);
    return p;
  }

  /** The pid the next process gets (kept in the state file: pids do not repeat across invocations). */
  get nextPid(): number {
    return this.pidNext;
  }

  /** Make `p` the caller: its fd table, pid and comm (the kernel's `current`). */
  enter(p: MockProcess): void {
    this.current = p;
    this.fds.use(p.fds);
    this.kernel.pid = p.pid;
    this.kernel.comm = p.comm;
  }

  /** A system call of `p` begins (src/mock/syscalls.ts ProcessContext). */
  enterCall(p: MockProcess): void {
    // Outermost calls only: a kworker runs between tasks' system calls (KernelCore.queueWork).
    if (this.inCall === 0) this.kernel.schedule(p.pid);
    this.enter(p);
    this.inCall++;
  }

  leaveCall(): void {
    this.inCall--;
  }

  /** Live processes, the initial one first. */
  processes(): MockProcess[] {
    return [...this.procs.values()];
  }

  /**
   * Exit of `p` (its close(), or the end of a task the kernel killed):
   * mappings go (exit_mm), then every fd in order (exit_files), then xe's own
   * per-process state. Idempotent.
   */
  exitProcess(p: MockProcess): void {
    if (p.exited) return;
    const caller = this.current;
    this.enter(p);
    try {
      this.maps.unmapAll(p.pid);
      for (const fd of this.fds.list()) this.fds.close(fd);
      for (const d of this.xeDrivers.values()) d.processExit(p.pid);
      this.kernel.poll();
    } finally {
      p.exited = true;
      this.procs.delete(p.pid);
      this.procPids.remove(p);
      this.enter(caller.exited ? (this.procs.values().next().value ?? p) : caller);
    }
  }

  live(): LiveCounts {
    const core = this.dmabuf.live();
    const v = this.vfio.live();
    const sys = this.sysmem.live();
    const xe: XeLiveObjects = { files: 0, bos: 0, imports: 0, vms: 0, execQueues: 0, syncobjs: 0, mappings: 0 };
    for (const d of this.xeDrivers.values()) {
      const l = d.liveObjects();
      for (const k of Object.keys(xe) as (keyof XeLiveObjects)[]) xe[k] += l[k];
    }
    let lmem = 0;
    for (const x of this.xePfs.values()) lmem += x.liveLmemObjects();
    return {
      processes: this.procs.size,
      fds: this.processes().reduce((n, p) => n + p.fds.size, 0),
      openFiles: this.fds.openFiles(),
      dmabufs: core.dmabufs,
      attachments: core.attachments,
      sgMaps: core.sgMaps,
      interconnectMaps: core.interconnectMaps,
      vfioDevicesOpen: v.vfioDevicesOpen,
      vfioGroupsOpen: v.vfioGroupsOpen,
      mappings: this.maps.live.size + xe.mappings,
      bos: xe.bos,
      imports: xe.imports,
      vms: xe.vms,
      execQueues: xe.execQueues,
      syncobjs: xe.syncobjs,
      drmFiles: xe.files,
      vgemObjects: this.vgem.objects,
      lmemObjects: lmem,
      memfds: sys.memfds,
      udmabufs: sys.udmabufs,
      iommufdContexts: this.iommufd?.live().iommufdContexts ?? 0,
      ioasMappings: this.iommufd?.live().ioasMappings ?? 0,
      pendingWaits: this.kernel.pendingWaits(),
    };
  }

  /** Bytes the simulated machine holds (VRAM, RAM and BAR scratch actually written). */
  residentBytes(): number {
    let n = this.bus.residentBytes();
    for (const m of this.vram.values()) n += m.residentBytes();
    for (const hw of this.mockGpuHw.values()) n += hw.lmem.residentBytes();
    return n;
  }

  /** The xe DRM device of a PF (for tests). */
  xeDriver(bdf: string): XeDriver | undefined {
    const d = this.pci.device(bdf);
    return d ? this.xeDrivers.get(d) : undefined;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
