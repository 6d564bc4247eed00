// @ts-check
// The machines the QEMU CI boots: a q35 PC under TCG with an emulated IOMMU
// (Intel VT-d or virtio-iommu) and an emulated SR-IOV device (igb NIC or NVMe
// controller) behind a PCIe root port, plus two virtio-9p shares: this host's
// root, read-only (the guest runs this machine's node and the built addon),
// and a writable results folder (README.md, "Variants").
import { spawnSync } from 'node:child_process';

/** @typedef {'igb' | 'nvme' | 'mock-gpu'} DeviceKind */
/** @typedef {'intel' | 'virtio'} IommuKind */
/**
 * Devices a machine carries besides its SR-IOV device, each on a PCIe root
 * port of its own (see EXTRA_DEVICES). The guest program binds each to the
 * driver its entry names before iovh runs.
 * @typedef {'ivshmem'} ExtraKind
 */

/**
 * @typedef {object} Variant
 * @property {string} name
 * @property {DeviceKind} device
 * @property {IommuKind} iommu
 * @property {ExtraKind[]} [extras]
 * @property {Record<string, string>} [deviceProps] QEMU properties of the device over its defaults (mock-gpu)
 * @property {string[]} [moduleParams] `<module>.<param>=<value>` for the guest's out-of-tree modules (the mock GPU PF
 *                                   driver's translation), on the kernel command line: /init hands them to insmod
 * @property {boolean} [pcieSwitch]  the device sits behind a PCIe switch (an xio3130 upstream port below the
 *                                   root port, a downstream port below it) instead of on the root port: its
 *                                   functions then meet at a bridge with no ACS (QEMU's xio3130 ports have no
 *                                   ACS capability; its pcie-root-port has one, which Linux turns on with an
 *                                   IOMMU). That would make the route between the PF and a VF a bus address
 *                                   (drivers/pci/p2pdma.c calc_map_type_and_dist), but the same missing ACS
 *                                   puts the VFs in the PF's IOMMU group (drivers/iommu/iommu.c
 *                                   pci_device_group), which igb on the PF makes unusable for VFIO: measured on
 *                                   7.2.13, the VF cannot be opened (docs/kernels.md "The switch machine")
 * @property {'vfio-pci'} [pfDriver]   the guest binds the PF to this driver before it creates the VFs (`iovh bind
 *                                   PF vfio-pci`): vfio-pci creates them (vfio_pci.enable_sriov=1 on the command
 *                                   line), they join its IOMMU group on vfio-pci and open with its VF token, so the
 *                                   group is viable below a switch (drivers/vfio/pci/vfio_pci_core.c)
 */

/** @type {Variant[]} */
export const VARIANTS = [
  { name: 'igb-intel-iommu', device: 'igb', iommu: 'intel' },
  { name: 'nvme-virtio-iommu', device: 'nvme', iommu: 'virtio' },
  { name: 'igb-virtio-iommu', device: 'igb', iommu: 'virtio' },
  { name: 'nvme-intel-iommu', device: 'nvme', iommu: 'intel' },
  // The IOV interconnect series' guest (docs/rfc-kernel.md): igb's PF/VF match plus an exporter whose BAR is RAM.
  { name: 'igb-ivshmem-intel-iommu', device: 'igb', iommu: 'intel', extras: ['ivshmem'] },
  // The igb machine with the NIC behind a switch (not booted by default: its VFs share the PF's IOMMU group, so
  // VFIO cannot open them while igb holds the PF; docs/kernels.md "The switch machine").
  { name: 'igb-switch-intel-iommu', device: 'igb', iommu: 'intel', pcieSwitch: true },
  // The same machine with the PF on vfio-pci: every function below the switch on VFIO, the VFs opened with the PF's
  // VF token, so that P2P between two functions takes the switch (docs/kernels.md "The switch machine").
  { name: 'igb-switch-vfio-intel-iommu', device: 'igb', iommu: 'intel', pcieSwitch: true, pfDriver: 'vfio-pci' },
];

/**
 * The extra devices: their QEMU arguments on the root port given, and what the
 * guest does with them. ivshmem-plain (hw/misc/ivshmem.c): BAR 0 registers,
 * BAR 2 the memory backend (4 MiB of host RAM), no doorbell; a function of its
 * own, so it is its own physical function and the series' IOV match
 * (importer device == pci_physfn(exporter), same BAR; RFC 4/8) holds for it.
 * The guest binds it to vfio-pci (driver_override, then drivers_probe with its
 * address) so that iovh can export its BAR 2.
 * @type {Record<ExtraKind, { vendor: number, device: number, bind: string, args: (bus: string, id: string) => string[] }>}
 */
export const EXTRA_DEVICES = {
  ivshmem: {
    vendor: 0x1af4,
    device: 0x1110,
    bind: 'vfio-pci',
    args: (bus, id) => [
      '-object',
      `memory-backend-ram,id=${id}-mem,size=4M`,
      '-device',
      `ivshmem-plain,memdev=${id}-mem,bus=${bus},id=${id}`,
    ],
  },
};

/**
 * iovh's mock SR-IOV GPU (QEMU device iovh-mock-gpu, docs/mock-gpu.md): only
 * iovh's own QEMU build (scripts/qemu-ci/qemu-build.mjs) has it, so it is
 * not among VARIANTS (`all` boots the system's QEMU); `iovh qemu --device
 * mock-gpu` picks it. The machine also carries QEMU's ivshmem-plain on a
 * root port of its own, the memory BAR the rfc/* scenarios export, so one
 * boot serves both.
 * @type {Variant}
 */
export const MOCK_GPU_VARIANT = {
  name: 'mock-gpu-intel-iommu',
  device: 'mock-gpu',
  iommu: 'intel',
  extras: ['ivshmem'],
};

/**
 * Where the firmware iovh's QEMU build lacks is found (SeaBIOS and the option ROMs -kernel uses): the system's,
 * from the qemu-system-x86 package the QEMU CI's setup installs (qemu-system-data, seabios).
 */
export const MOCK_GPU_FIRMWARE = ['-L', '/usr/share/qemu', '-L', '/usr/share/seabios'];

/**
 * The mock GPU's layout (QEMU properties; docs/mock-gpu.md): 64 MiB of LMEM in
 * 2 MiB blocks (xe's LMEM granule), 4 VFs with a 16 MiB BAR 2 each, First VF
 * Offset 0xfd so that VFs 1-3 sit on the PF's bus and VF 4 on the next one.
 */
export const MOCK_GPU = {
  vfs: 4,
  /** @type {Record<string, string>} */
  props: {
    'total-vfs': '4',
    'vf-offset': '0xfd',
    'vf-stride': '1',
    'lmem-size': '64M',
    'vf-lmem-size': '16M',
    'block-size': '2M',
  },
  // bus-reserve: the bus after the PF's, where VF 4 is; pref64-reserve: room for the VF BARs.
  port: 'pcie-root-port,id=rp1,chassis=1,slot=1,bus-reserve=1,pref64-reserve=512M,mem-reserve=16M',
};

/**
 * The mock GPU's -device value: its defaults, then @props over them.
 * @param {Record<string, string>} [props]
 */
export function mockGpuDevice(props = {}) {
  const all = { ...MOCK_GPU.props, ...props };
  return ['iovh-mock-gpu,bus=rp1,id=pf0', ...Object.entries(all).map(([k, v]) => `${k}=${qemuOptValue(v)}`)].join(',');
}

/**
 * Does QEMU accept the mock GPU as configured? It realizes the devices before
 * its main loop and exits with the reason when one refuses its properties
 * (hw/misc/iovh-mock-gpu.c, qemu/patches); a machine it accepts waits,
 * paused (-S), for the monitor's `quit`. No guest boots.
 * @param {string} qemu
 * @param {{ port?: string, device?: string }} [o]  the root port's and the device's -device values
 *   (default: MOCK_GPU.port and mockGpuDevice())
 * @returns {string | null} why QEMU refuses (its message without its own prefix), or null when it accepts
 */
export function mockGpuRefusal(qemu, o = {}) {
  const r = spawnSync(
    qemu,
    [
      ...MOCK_GPU_FIRMWARE,
      '-machine',
      'q35',
      '-accel',
      'tcg',
      '-nodefaults',
      '-display',
      'none',
      '-S',
      '-monitor',
      'stdio',
      '-device',
      o.port ?? MOCK_GPU.port,
      '-device',
      o.device ?? mockGpuDevice(),
    ],
    { input: 'quit\n', encoding: 'utf8', timeout: 120_000 },
  );
  // A QEMU that refuses may exit before it reads its `quit` (EPIPE): its status and message stand.
  if (r.error && r.status === null) return `${qemu}: ${r.error.message}`;
  if (r.status === 0) return null;
  const line = `${r.stderr ?? ''}`.trim().split('\n').pop() ?? '';
  // "qemu-system-x86_64: -device <the whole value>: iovh-mock-gpu: <why>": the why (iovh names the device itself).
  return line.replace(/^.*?: -device [^ ]*?: /, '') || `QEMU exited ${r.status ?? r.signal}`;
}

/**
 * What CI runs by default: each device and each IOMMU once, in two VMs that
 * run side by side on two cores (measured: two -smp 1 VMs in
 * parallel take about the time of one).
 */
export const DEFAULT_VARIANTS = ['igb-intel-iommu', 'nvme-virtio-iommu'];

/** @param {string[]} names */
export function pickVariants(names) {
  if (names.length === 1 && names[0] === 'all') return VARIANTS.slice();
  return names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v)
      throw new RangeError(`unknown variant '${n}' (choose from ${VARIANTS.map((x) => x.name).join(', ')}, or all)`);
    return v;
  });
}

/** Number of VFs the guest enables. */
export const NUM_VFS = 2;

/**
 * Modules the guest loads, in this order, by name (modprobe resolves their
 * dependencies). virtio_iommu goes first: the device drivers must find their
 * IOMMU at probe time, or igb's probe is deferred and SR-IOV cannot be
 * configured (seen on the sid guest with igb loaded first). vfio_iommu_type1 is a
 * soft dependency of vfio that modprobe would load on demand; there is no
 * modprobe in the guest, so it is named. udmabuf is built in (CONFIG_UDMABUF=y).
 * @param {Variant} v
 */
export function moduleNames(v) {
  return [
    ...(v.iommu === 'virtio' ? ['virtio_iommu'] : []),
    '9pnet_virtio',
    '9p',
    'vfio_iommu_type1',
    'vfio-pci',
    // The mock GPU's PF driver is out of tree (kernel/iovh-mock-gpu): loaded by /init through iovh.insmod.
    ...(v.device === 'mock-gpu' ? [] : [v.device]),
    'vgem',
  ];
}

/**
 * @typedef {object} MachineOptions
 * @property {string} kernel       vmlinuz
 * @property {string} initrd
 * @property {string} resultsDir   host folder the guest may write
 * @property {string} append       guest parameters (iovh.*), joined to the kernel's
 * @property {string} [channel]    host file for the guest's second serial port (ttyS1): the
 *                                 verdict channel, apart from the kernel console on ttyS0
 * @property {number} [smp]
 * @property {string} [memory]
 */

/**
 * A value inside a QEMU `key=value,...` option: commas are doubled (QemuOpts).
 * @param {string} s
 */
export function qemuOptValue(s) {
  return s.replaceAll(',', ',,');
}

/**
 * QEMU arguments for a variant. The serial console goes to stdout, where the
 * host reads it; `-no-reboot` turns the kernel's reboot after a panic
 * (panic=-1) into QEMU's exit.
 * @param {Variant} v
 * @param {MachineOptions} o
 */
export function qemuArgs(v, o) {
  const args = [
    // iovh's QEMU build has no firmware of its own (Debian's +ds tarball drops it): the system's, from the
    // packages the QEMU CI's setup installs (docs/mock-gpu.md).
    ...(v.device === 'mock-gpu' ? MOCK_GPU_FIRMWARE : []),
    '-machine',
    'q35',
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    String(o.smp ?? 1),
    '-m',
    o.memory ?? '512M',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    // The second serial port (ttyS1) carries only what the guest's /init and
    // program write there (progress, results, the verdict): printk goes to
    // ttyS0, so a kernel message can never split or forge a verdict line.
    ...(o.channel ? ['-chardev', `file,id=verdict,path=${qemuOptValue(o.channel)}`, '-serial', 'chardev:verdict'] : []),
    '-no-reboot',
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
  ];
  // no_timer_check: under TCG on a busy host the IO-APIC timer check
  // (arch/x86/kernel/apic/io_apic.c, timer_irq_works) can miss its ticks and
  // panic "timer doesn't work through Interrupt-remapped IO-APIC" before init;
  // the check proves nothing about an emulated timer.
  // tsc=unstable: the guest's TSC frequency is measured against the PIT at boot
  // (arch/x86/kernel/tsc.c), and under TCG on a busy host that measurement can
  // be far off: a KASAN guest's uptime read 3118 s at /init a minute after QEMU
  // started, its clock kept running about 10x fast, and the guest's own
  // watchdog (855 s of guest time) fired 76 s of wall time into the run. The
  // clocksource watchdog does not catch it when its own reads are delayed by
  // the load. An unstable TSC leaves timekeeping to the HPET or ACPI PM timer,
  // which QEMU drives from the host's clock.
  const append = ['console=ttyS0', 'panic=-1', 'quiet', 'no_timer_check', 'tsc=unstable'];
  if (v.iommu === 'intel') {
    args.push('-device', 'intel-iommu');
    // CONFIG_INTEL_IOMMU_DEFAULT_ON is not set in Debian's config.
    append.push('intel_iommu=on');
  } else {
    args.push('-device', 'virtio-iommu-pci');
    // virtio-iommu has no interrupt remapping; type1 refuses to attach a group
    // without it (EPERM, "No interrupt remapping support") unless told so.
    append.push('vfio_iommu_type1.allow_unsafe_interrupts=1');
  }
  // vfio_pci_sriov_configure refuses (ENOENT) unless enable_sriov (drivers/vfio/pci/vfio_pci.c); built in, the
  // kernel takes it from here; as a module, /init hands it to insmod (init.sh).
  if (v.pfDriver === 'vfio-pci') append.push('vfio_pci.enable_sriov=1');
  // A kernel with xe built in must leave the mock PF (Battlemage's IDs, docs/mock-gpu.md) to iovh's driver.
  if (v.device === 'mock-gpu') append.push('xe.force_probe=!*');
  if (v.device === 'mock-gpu') {
    // Its extras (ivshmem, the rfc/* scenarios' exporter) follow on ports of their own, as every variant's.
    args.push('-device', MOCK_GPU.port, '-device', mockGpuDevice(v.deviceProps));
  } else if (v.device === 'igb') {
    args.push('-device', 'pcie-root-port,id=rp1,chassis=1,slot=1');
    // The NIC's port: the root port, or a switch's downstream port below it (x3130-upstream, xio3130-downstream).
    let port = 'rp1';
    if (v.pcieSwitch) {
      args.push(
        '-device',
        'x3130-upstream,id=usp1,bus=rp1',
        '-device',
        'xio3130-downstream,id=dsp1,bus=usp1,chassis=2,slot=0',
      );
      port = 'dsp1';
    }
    args.push('-device', `igb,bus=${port},id=pf0`);
  } else {
    // QEMU requires max_ioqpairs - sriov_vq_flexible >= 2; each VF needs a
    // flexible VQ and VI resource pair (QEMU hw/nvme/ctrl.c).
    args.push(
      '-device',
      'pcie-root-port,id=rp1,chassis=1,slot=1',
      '-device',
      'nvme-subsys,id=subsys0,nqn=subsys0',
      '-device',
      `nvme,bus=rp1,id=pf0,serial=iovh0001,subsys=subsys0,sriov_max_vfs=${NUM_VFS},` +
        `sriov_vq_flexible=${NUM_VFS * 2 + 2},sriov_vi_flexible=${NUM_VFS},max_ioqpairs=${NUM_VFS * 2 + 4},msix_qsize=${NUM_VFS + 2}`,
    );
  }
  // Extra devices after the SR-IOV device, each on its own root port (rp2, rp3, ...): a new device appends its
  // entry to the variant's `extras` and to EXTRA_DEVICES, and takes the next port.
  for (const [i, kind] of (v.extras ?? []).entries()) {
    const port = `rp${i + 2}`;
    args.push('-device', `pcie-root-port,id=${port},chassis=${i + 2},slot=${i + 2}`);
    args.push(...EXTRA_DEVICES[kind].args(port, `${kind}${i}`));
  }
  args.push(
    '-fsdev',
    'local,id=hostroot,path=/,security_model=none,readonly=on',
    '-device',
    'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-fsdev',
    `local,id=results,path=${qemuOptValue(o.resultsDir)},security_model=none`,
    '-device',
    'virtio-9p-pci,fsdev=results,mount_tag=results',
  );
  args.push('-append', `${append.join(' ')} ${o.append}`.trim());
  return args;
}
