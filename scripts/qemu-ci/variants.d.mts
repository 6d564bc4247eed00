// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * The mock GPU's -device value: its defaults, then @props over them.
 * @param {Record<string, string>} [props]
 */
export function mockGpuDevice(props?: Record<string, string>): string;
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
export function mockGpuRefusal(qemu: string, o?: {
    port?: string;
    device?: string;
}): string | null;
/** @param {string[]} names */
export function pickVariants(names: string[]): Variant[];
/**
 * Modules the guest loads, in this order, by name (modprobe resolves their
 * dependencies). virtio_iommu goes first: the device drivers must find their
 * IOMMU at probe time, or igb's probe is deferred and SR-IOV cannot be
 * configured (seen on the sid guest with igb loaded first). vfio_iommu_type1 is a
 * soft dependency of vfio that modprobe would load on demand; there is no
 * modprobe in the guest, so it is named. udmabuf is built in (CONFIG_UDMABUF=y).
 * @param {Variant} v
 */
export function moduleNames(v: Variant): string[];
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
export function qemuOptValue(s: string): string;
/**
 * QEMU arguments for a variant. The serial console goes to stdout, where the
 * host reads it; `-no-reboot` turns the kernel's reboot after a panic
 * (panic=-1) into QEMU's exit.
 * @param {Variant} v
 * @param {MachineOptions} o
 */
export function qemuArgs(v: Variant, o: MachineOptions): string[];
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
export const VARIANTS: Variant[];
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
export const EXTRA_DEVICES: Record<ExtraKind, {
    vendor: number;
    device: number;
    bind: string;
    args: (bus: string, id: string) => string[];
}>;
/**
 * iovh's mock SR-IOV GPU (QEMU device iovh-mock-gpu, docs/mock-gpu.md): only
 * iovh's own QEMU build (scripts/qemu-ci/qemu-build.mjs) has it, so it is
 * not among VARIANTS (`all` boots the system's QEMU); `iovh qemu --device
 * mock-gpu` picks it. The machine also carries QEMU's ivshmem-plain on a
 * root port of its own, the memory BAR the rfc/* scenarios export, so one
 * boot serves both.
 * @type {Variant}
 */
export const MOCK_GPU_VARIANT: Variant;
/**
 * Where the firmware iovh's QEMU build lacks is found (SeaBIOS and the option ROMs -kernel uses): the system's,
 * from the qemu-system-x86 package the QEMU CI's setup installs (qemu-system-data, seabios).
 */
export const MOCK_GPU_FIRMWARE: string[];
export namespace MOCK_GPU {
    let vfs: number;
    let props: Record<string, string>;
    let port: string;
}
/**
 * What CI runs by default: each device and each IOMMU once, in two VMs that
 * run side by side on two cores (measured: two -smp 1 VMs in
 * parallel take about the time of one).
 */
export const DEFAULT_VARIANTS: string[];
/** Number of VFs the guest enables. */
export const NUM_VFS: 2;
export type MachineOptions = {
    /**
     * vmlinuz
     */
    kernel: string;
    initrd: string;
    /**
     * host folder the guest may write
     */
    resultsDir: string;
    /**
     * guest parameters (iovh.*), joined to the kernel's
     */
    append: string;
    /**
     * host file for the guest's second serial port (ttyS1): the
     *     verdict channel, apart from the kernel console on ttyS0
     */
    channel?: string | undefined;
    smp?: number | undefined;
    memory?: string | undefined;
};
export type DeviceKind = "igb" | "nvme" | "mock-gpu";
export type IommuKind = "intel" | "virtio";
/**
 * Devices a machine carries besides its SR-IOV device, each on a PCIe root
 * port of its own (see EXTRA_DEVICES). The guest program binds each to the
 * driver its entry names before iovh runs.
 */
export type ExtraKind = "ivshmem";
export type Variant = {
    name: string;
    device: DeviceKind;
    iommu: IommuKind;
    extras?: "ivshmem"[] | undefined;
    /**
     * QEMU properties of the device over its defaults (mock-gpu)
     */
    deviceProps?: Record<string, string> | undefined;
    /**
     * `<module>.<param>=<value>` for the guest's out-of-tree modules (the mock GPU PF
     * driver's translation), on the kernel command line: /init hands them to insmod
     */
    moduleParams?: string[] | undefined;
    /**
     * the device sits behind a PCIe switch (an xio3130 upstream port below the
     *   root port, a downstream port below it) instead of on the root port: its
     *   functions then meet at a bridge with no ACS (QEMU's xio3130 ports have no
     *   ACS capability; its pcie-root-port has one, which Linux turns on with an
     *   IOMMU). That would make the route between the PF and a VF a bus address
     *   (drivers/pci/p2pdma.c calc_map_type_and_dist), but the same missing ACS
     *   puts the VFs in the PF's IOMMU group (drivers/iommu/iommu.c
     *   pci_device_group), which igb on the PF makes unusable for VFIO: measured on
     *   7.2.13, the VF cannot be opened (docs/kernels.md "The switch machine")
     */
    pcieSwitch?: boolean | undefined;
    /**
     * the guest binds the PF to this driver before it creates the VFs (`iovh bind
     *  PF vfio-pci`): vfio-pci creates them (vfio_pci.enable_sriov=1 on the command
     *  line), they join its IOMMU group on vfio-pci and open with its VF token, so the
     *  group is viable below a switch (drivers/vfio/pci/vfio_pci_core.c)
     */
    pfDriver?: "vfio-pci" | undefined;
};
