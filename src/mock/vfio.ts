// vfio-pci with the legacy group/container API and dma-buf export
// (drivers/vfio/{vfio_main.c,group.c,container.c},
// drivers/vfio/pci/{vfio_pci_core.c,vfio_pci_config.c,vfio_pci_dmabuf.c};
// docs/kernel.md §1-§4, §11) plus the RFC's IOV interconnect exporter (seed 4/8).
//
// Debian 7.2 has no IOMMUFD and no VFIO_NOIOMMU (docs/kernel.md §4), so there is
// no /dev/iommu, no /dev/vfio/devices and the cdev ioctls are unknown (ENOTTY).
// A kernel built with VFIO_DEVICE_CDEV (src/mock/kconfig.ts) also gives each
// device /dev/vfio/devices/vfioN (drivers/vfio/device_cdev.c): an fd that
// refuses everything (EINVAL) until VFIO_DEVICE_BIND_IOMMUFD opens the device
// bound to an iommufd (src/mock/iommufd.ts), and that blocks the group path
// while bound, as an open group blocks the bind (group.c
// vfio_device_block_group, vfio_group_fops_open).
//
// Revoke (docs/kernel.md §3.5): invalidate_mappings to every importer, then wait
// until every map is unmapped. The wait never blocks the JS thread: a
// VFIO_DEVICE_RESET stays pending (its promise resolves when the last map goes),
// and a synchronous path that would sleep (close, a config write) logs the
// hung-task report and completes when the importer unmaps.

import {
  LogLevel,
  type Attachment,
  type InterconnectOffer,
  type InterconnectRanges,
  type KernelAlloc,
  type KernelFile,
  type SgTable,
} from './contracts.js';
import type { Mapping, VfioDeviceInfo, VfioDmaBufRequest, VfioGroupStatus, VfioRegionInfo } from '../backend/types.js';
import { fail, KernelErrno } from './errno.js';
import type { FdTableImpl } from './fds.js';
import { MNT, O_LARGEFILE } from './fds.js';
import { boolRax, type KernelCore } from './kernel.js';
import type { DmaBufCoreImpl, DmaBufImpl } from './dmabuf.js';
import { rangesFromPacked, sgFromPacked, type AttachmentImpl } from './dmabuf.js';
import type { MappingRegistry } from './mapping.js';
import type { PciDev, PciDriverModel, PciSubsystem } from './pci.js';
import type { PhysicalBusImpl } from './physbus.js';
import { P2P_MAP, type P2pMapType } from './pcie.js';
import type { XePf } from './xe-pf.js';
import type { Vfs } from './vfs.js';
import { relativeLink } from './vfs.js';
import { IommufdFile, type IommufdSubsystem } from './iommufd.js';
import { O, VFIO } from '../uapi/constants.js';
import { enabled, structFileSize } from './kconfig.js';
import { kstrtobool } from './kstrto.js';
import { randomUUID } from 'node:crypto';
import {
  DMABUF_FILE_ALLOCATED,
  FILP_FREED_RCU,
  FILP_FREE_QUEUED,
  GET_FILE_ACTIVE,
  KASAN_REPORT_FRAMES,
  revokeFrames,
  type RevokeTrigger,
} from './frames.js';

const SHIFT = 40n;
const REGION_MASK = (1n << SHIFT) - 1n;
const KMALLOC_MAX_SIZE = 4 * 1024 * 1024; // SLUB: 2^(MAX_PAGE_ORDER + PAGE_SHIFT)
const VFIO_GROUP_MAJOR = 243;

const FEATURE_MIGRATION_SET = new Set([1, 2, 6, 7, 8, 9, 12]);

/** Virtual config space layout of a VF as vfio-pci presents it. */
const CFG = { COMMAND: 0x04, PM: 0x40, PMCSR: 0x44, EXP: 0x60, DEVCAP: 0x64, DEVCTL: 0x68 } as const;

type Power = 'D0' | 'D3hot';

export interface VfioHooks {
  /** The xe PF of a VF, for the FLR's LMEM sanitize (null when xe does not drive the PF). */
  xeOfPf(pf: PciDev): XePf | null;
  /** CONFIG_VFIO_DEVICE_CDEV with CONFIG_IOMMUFD: the device cdev and iommufd binding (null: not built). */
  iommufd: IommufdSubsystem | null;
  /** vfio_pci.enable_sriov at boot (the kernel command line; the parameter stays writable, 0644). */
  enableSriov: boolean;
}

/**
 * vfio_pci.enable_sriov from a kernel command line (kernel/params.c: '-' and
 * '_' are alike in a parameter name; a bool given without '=' is true,
 * param_set_bool; "name=" gives it "" (lib/cmdline.c next_arg), which
 * kstrtobool refuses).
 */
export function cmdlineEnableSriov(cmdline: string): boolean {
  let on = false;
  for (const word of cmdline.split(/\s+/)) {
    const m = /^vfio[-_]pci\.enable[-_]sriov(?:=(.*))?$/.exec(word);
    if (!m) continue;
    if (m[1] === undefined) on = true;
    else {
      try {
        on = kstrtobool(m[1]);
      } catch {
        // param_set_bool refuses it; the kernel keeps the default and says so at boot
      }
    }
  }
  return on;
}

/**
 * A UUID as uuid_parse reads it (lib/uuid.c uuid_is_valid: 36 characters,
 * '-' at 8, 13, 18 and 23, hex digits elsewhere, either case); null when it
 * is not one. The canonical form (lower case) is what uuid_equal compares.
 */
export function parseUuid(text: string): string | null {
  if (text.length < 36) return null;
  const t = text.slice(0, 36);
  for (let i = 0; i < 36; i++) {
    const c = t[i]!;
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== '-') return null;
    } else if (!/[0-9a-fA-F]/.test(c)) return null;
  }
  return t.toLowerCase();
}

/** The 16 bytes of a uuid_t (VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, token_uuid_ptr) in the string's order. */
export function uuidFromBytes(b: Uint8Array): string {
  const h = Buffer.from(b.subarray(0, 16)).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** struct vfio_pci_vf_token (drivers/vfio/pci/vfio_pci_core.c): a PF's, made by vfio_pci_vf_init. */
interface VfToken {
  /** canonical lower-case form */
  uuid: string;
  /** VFs of this PF open through vfio-pci (vfio_pci_core_finish_enable ++, vfio_pci_core_close_device --). */
  users: number;
}

/** The dynamic char major of the vfio-dev region (device_cdev.c vfio_cdev_init: alloc_chrdev_region). */
const VFIO_CDEV_MAJOR = 238;
const VFIO_BIND_FLAG_TOKEN = VFIO.DEVICE_BIND_FLAG_TOKEN;

// ------------------------------------------------------------ objects

/** An RCU grace period on an idle machine: a freed filp is poisoned this long after its free (SLUB_RCU_DEBUG). */
const RCU_GRACE_USEC = 10_000n;

class VfioDmaBuf {
  vdev: VfioDevice | null;
  revoked: boolean;
  /** Outstanding maps (the kref the revoke waits on). */
  outstanding = 0;
  /**
   * The kref already dropped to 0 by a revoke that was never re-armed (7.1
   * before the 2026-05 fix: a later cleanup puts it again, underflows and
   * waits for a completion nobody will signal).
   */
  krefSpent = false;
  dmabuf!: DmaBufImpl;
  /** RFC v2 4/8: the exporter's match data, copied at export (ic_match->dev = the VF, bar = region). */
  readonly icDev: VfioDevice['pci'];

  constructor(
    vdev: VfioDevice,
    readonly region: number,
    /** [paddr0, len0, paddr1, len1, ...] */
    readonly phys: BigUint64Array,
    readonly size: bigint,
  ) {
    this.vdev = vdev;
    this.icDev = vdev.pci;
    this.revoked = !vdev.memoryEnabled();
  }
}

class VfioDevice {
  openCount = 0;
  /** Bound to its group's iommufd at the first open through the group (vfio_df_iommufd_bind), until the last close. */
  compat: { ctx: IommufdFile; obj: ReturnType<IommufdSubsystem['bind']> } | null = null;
  readonly files = new Set<VfioDeviceFile>();
  readonly dmabufs = new Set<VfioDmaBuf>();
  power: Power = 'D0';
  lowPower = false;
  /** Virtual PCI_COMMAND memory bit (a VF has no_command_memory: it never stops decoding). */
  commandMemory = true;
  readonly vconfig: Uint8Array;
  /** vfio_unregister_group_dev started: new opens and exports get ENODEV. */
  unregistering = false;
  /** A revoke (reset, close, config write) is waiting for importers. */
  busy = 0;
  /** vfio_device.index (vfio_init_device: ida_alloc), naming /dev/vfio/devices/vfio<index>. */
  index = -1;
  /** A PF's VF token (vfio_pci_vf_init: a random uuid_gen at registration); null for any other function. */
  vfToken: VfToken | null = null;
  /** A VF's sriov_pf_core_dev: its PF's vfio device, when that PF created it through vfio-pci. */
  sriovPf: VfioDevice | null = null;
  /** A PF on vfio_pci_sriov_pfs: vfio_pci_core_sriov_configure enabled its VFs (until it disables them). */
  sriovActive = false;
  /**
   * The provider's p2pdma map_types (drivers/pci/p2pdma.c): the route of each client already asked, by BDF.
   * vfio_pci_core_init_dev's pcim_p2pdma_init made it at probe; its devres goes when vfio-pci unbinds the device.
   */
  readonly p2pMapTypes = new Map<string, P2pMapType>();

  constructor(
    readonly pci: PciDev,
    readonly group: VfioGroup,
  ) {
    this.vconfig = buildVconfig(pci);
  }

  /** __vfio_pci_memory_enabled: below D3hot and (no_command_memory or COMMAND.MEMORY). */
  memoryEnabled(): boolean {
    return this.power === 'D0' && !this.lowPower && (this.pci.isVirtfn || this.commandMemory);
  }

  get hasPm(): boolean {
    return hasPmCapability(this.pci);
  }

  get sysfsPath(): string {
    return this.pci.sysPath;
  }
}

class VfioGroup {
  readonly devices = new Set<VfioDevice>();
  file: VfioGroupFile | null = null;
  container: VfioContainerFile | null = null;
  /** group->iommufd: an iommufd given to VFIO_GROUP_SET_CONTAINER (the group maps through its compat IOAS). */
  iommufd: IommufdFile | null = null;
  openDevices = 0;
  /** group->cdev_device_open_cnt: devices of the group bound through their cdev. */
  cdevOpen = 0;
  constructor(readonly id: number) {}
}

// ------------------------------------------------------------ subsystem

export class VfioSubsystem {
  private readonly groups = new Map<number, VfioGroup>();
  private readonly devices = new Map<PciDev, VfioDevice>();
  /** /sys/module/vfio_pci/parameters/enable_sriov (drivers/vfio/pci/vfio_pci.c: module_param(enable_sriov, bool, 0644)). */
  enableSriov: boolean;

  constructor(
    readonly kernel: KernelCore,
    readonly vfs: Vfs,
    readonly pci: PciSubsystem,
    readonly fds: FdTableImpl,
    readonly dmabuf: DmaBufCoreImpl,
    readonly bus: PhysicalBusImpl,
    readonly hooks: VfioHooks,
    readonly maps: MappingRegistry,
  ) {
    this.enableSriov = hooks.enableSriov;
    vfs.addFile('/sys/module/vfio_pci/parameters/enable_sriov', {
      show: () => (this.enableSriov ? 'Y\n' : 'N\n'),
      // param_set_bool: kstrtobool, EINVAL for anything else.
      store: (d) => {
        this.enableSriov = kstrtobool(d);
      },
    });
    vfs.mkdirp('/dev/vfio');
    // vfio_main.c vfio_init: class_create("vfio-dev") at module init, whether or not a device cdev is ever added.
    vfs.mkdirp('/sys/class/vfio-dev');
    vfs.addChar('/dev/vfio/vfio', {
      path: '/dev/vfio/vfio',
      major: 10,
      minor: 196,
      mode: 0o666,
      open: () => {
        const f = new VfioContainerFile(this);
        this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1001, flags: O.RDWR | O_LARGEFILE });
        return f;
      },
    });
  }

  /** Does this device answer memory cycles (for the physical bus). */
  decodes(dev: PciDev): boolean {
    const v = this.devices.get(dev);
    return !v || v.power === 'D0';
  }

  live(): { vfioDevicesOpen: number; vfioGroupsOpen: number; vfioDmabufs: number } {
    let open = 0;
    let bufs = 0;
    for (const d of this.devices.values()) {
      // a close still waiting for importers counts as open: the release has not happened
      if (d.openCount > 0 || d.busy > 0) open++;
      bufs += d.dmabufs.size;
    }
    let groups = 0;
    for (const g of this.groups.values()) if (g.file) groups++;
    return { vfioDevicesOpen: open, vfioGroupsOpen: groups, vfioDmabufs: bufs };
  }

  // ------------------------------------------------------------ the vfio-pci driver

  driverModel(): PciDriverModel {
    return {
      name: 'vfio-pci',
      module: 'vfio_pci',
      // vfio_pci_table: PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_ANY_ID, PCI_ANY_ID) only.
      matchStatic: () => 'override-only',
      probe: (dev) => this.probe(dev),
      remove: (dev) => this.remove(dev),
      sriovConfigure: (pf, n) => this.sriovConfigure(pf, n),
    };
  }

  /**
   * vfio_pci_sriov_configure (drivers/vfio/pci/vfio_pci.c): ENOENT unless
   * enable_sriov; then vfio_pci_core_sriov_configure: the PF joins
   * vfio_pci_sriov_pfs (once: EINVAL while it is on it) before
   * pci_enable_sriov, so that each new VF finds it at its own registration
   * (vfio_pci_vf_init) and needs its VF token; the PF's bus notifier
   * (vfio_pci_bus_notifier) sets driver_override = vfio-pci on every VF it
   * adds, before the VF is probed. 0 disables the VFs and leaves the list.
   */
  private sriovConfigure(pf: PciDev, n: number): number {
    if (!this.enableSriov) fail('ENOENT', 'vfio_pci.enable_sriov is off');
    const vdev = this.devices.get(pf);
    if (!vdev) fail('ENODEV');
    if (n === 0) {
      this.pci.disableVfs(pf, () => {
        vdev.sriovActive = false;
      });
      return 0;
    }
    if (vdev.sriovActive) fail('EINVAL', 'already on vfio_pci_sriov_pfs');
    vdev.sriovActive = true;
    this.pci.enableVfs(pf, n, undefined, (vf) => this.captureVf(pf, vf));
    return n;
  }

  /** vfio_pci_bus_notifier, BUS_NOTIFY_ADD_DEVICE of a VF of this PF. */
  private captureVf(pf: PciDev, vf: PciDev): void {
    this.kernel.log(LogLevel.INFO, `vfio-pci ${pf.bdf}`, `Captured SR-IOV VF ${vf.bdf} driver_override`);
    vf.driverOverride = 'vfio-pci';
  }

  /**
   * A state file's PF on vfio-pci whose VFs are being re-created at boot
   * (platform.ts boot): it had enabled them through vfio_pci_core_sriov_configure,
   * so it is on vfio_pci_sriov_pfs again.
   */
  restoreSriovPf(pf: PciDev): void {
    const vdev = this.devices.get(pf);
    if (vdev) vdev.sriovActive = true;
  }

  /** A state file's PF on vfio-pci gets back the VF token it had (with or without VFs). */
  restoreVfToken(pf: PciDev, vfToken: string): void {
    const t = this.devices.get(pf)?.vfToken;
    if (t) t.uuid = vfToken;
  }

  /** The VF token a state file keeps for a PF on vfio-pci (null: none). */
  savedVfToken(pf: PciDev): string | null {
    return this.devices.get(pf)?.vfToken?.uuid ?? null;
  }

  /**
   * vfio_pci_core_match_token_uuid (drivers/vfio/pci/vfio_pci_core.c), for
   * every open of a device (the group's name match, the cdev's bind): a VF
   * whose PF created it through vfio-pci needs the PF's token (none or
   * another: EACCES); a PF whose VFs are in use needs its current token
   * (EACCES), and a PF with no VF in use takes the token given as its new
   * one; a token anywhere else is EINVAL. Each refusal says why in the log
   * (pci_info_ratelimited).
   */
  private matchToken(vdev: VfioDevice, uuid: string | null): void {
    const src = `vfio-pci ${vdev.pci.bdf}`;
    const refuse = (errno: 'EACCES' | 'EINVAL', line: string): never => {
      this.kernel.log(LogLevel.INFO, src, line);
      fail(errno, line);
    };
    if (vdev.pci.isVirtfn) {
      const pf = vdev.sriovPf;
      if (!pf) {
        if (uuid === null) return; // PF is not vfio-pci, no VF token
        refuse('EINVAL', 'VF token incorrectly provided, PF not bound to vfio-pci');
      }
      if (uuid === null) refuse('EACCES', 'VF token required to access device');
      if (uuid !== pf!.vfToken!.uuid) refuse('EACCES', 'Incorrect VF token provided for device');
      return;
    }
    const token = vdev.vfToken;
    if (token) {
      if (token.users > 0) {
        if (uuid === null) refuse('EACCES', 'VF token required to access device');
        if (uuid !== token.uuid) refuse('EACCES', 'Incorrect VF token provided for device');
      } else if (uuid !== null) token.uuid = uuid;
      return;
    }
    if (uuid !== null) refuse('EINVAL', 'VF token incorrectly provided, not a PF or VF');
  }

  /**
   * vfio_pci_core_match: `buf` names this device ("BDF", or "BDF" and
   * options after a space: one "vf_token=UUID"); false when it names another,
   * EINVAL for a short or malformed UUID and for any other or a second
   * option; then the token rule (matchToken).
   */
  private matchName(vdev: VfioDevice, buf: string): boolean {
    const name = vdev.pci.bdf;
    if (!buf.startsWith(name)) return false;
    let uuid: string | null = null;
    if (buf.length > name.length) {
      let rest = buf.slice(name.length);
      if (rest[0] !== ' ') return false; // non-whitespace after the name
      while (rest.length > 0) {
        if (rest[0] === ' ') {
          rest = rest.slice(1);
          continue;
        }
        if (uuid === null && rest.startsWith('vf_token=')) {
          rest = rest.slice('vf_token='.length);
          if (rest.length < 36) fail('EINVAL', 'vf_token shorter than a UUID');
          uuid = parseUuid(rest);
          if (uuid === null) fail('EINVAL', 'vf_token is not a UUID (uuid_parse)');
          rest = rest.slice(36);
        } else fail('EINVAL', 'unknown or duplicate option after the device name');
      }
    }
    this.matchToken(vdev, uuid);
    return true;
  }

  /** vfio_pci_probe -> vfio_pci_core_register_device -> vfio_register_group_dev. */
  private probe(dev: PciDev): void {
    // Without an IOMMU group (and no VFIO_NOIOMMU) vfio_group_find_or_alloc fails (drivers/vfio/group.c).
    if (dev.iommuGroup === null) fail('EINVAL', 'no iommu_group');
    if (dev.klass >> 8 === 0x0604) fail('EINVAL', 'bridges are not supported');
    // vfio_pci_core_register_device: a PF whose VFs exist cannot have them captured or their users tracked.
    if (dev.sriov && dev.sriov.numvfs > 0) {
      this.kernel.log(LogLevel.WARNING, `vfio-pci ${dev.bdf}`, 'Cannot bind to PF with SR-IOV enabled');
      fail('EBUSY', 'PF with SR-IOV enabled');
    }
    let group = this.groups.get(dev.iommuGroup);
    if (!group) {
      group = new VfioGroup(dev.iommuGroup);
      this.groups.set(dev.iommuGroup, group);
      const g = group;
      this.vfs.addChar(`/dev/vfio/${g.id}`, {
        path: `/dev/vfio/${g.id}`,
        major: VFIO_GROUP_MAJOR,
        minor: g.id,
        mode: 0o600,
        open: () => this.openGroup(g),
      });
    }
    const vdev = new VfioDevice(dev, group);
    // vfio_pci_vf_init: a VF finds its PF on vfio_pci_sriov_pfs; an SR-IOV PF (is_physfn) gets a random token.
    if (dev.physfn) {
      const pf = this.devices.get(dev.physfn);
      vdev.sriovPf = pf?.sriovActive ? pf : null;
    } else if (dev.sriov) vdev.vfToken = { uuid: randomUUID(), users: 0 };
    group.devices.add(vdev);
    this.devices.set(dev, vdev);
    vdev.index = this.allocIndex();
    if (this.hooks.iommufd) this.addCdev(vdev);
  }

  /** The lowest vfio device index nobody holds (ida_alloc). */
  private allocIndex(): number {
    const used = new Set([...this.devices.values()].map((d) => d.index));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  /** device_cdev.c / vfio_main.c vfio_device_add: /dev/vfio/devices/vfioN and its class device in sysfs. */
  private addCdev(vdev: VfioDevice): void {
    const name = `vfio${vdev.index}`;
    const node = `/dev/vfio/devices/${name}`;
    this.vfs.mkdirp('/dev/vfio/devices');
    this.vfs.addChar(node, {
      path: node,
      major: VFIO_CDEV_MAJOR,
      minor: vdev.index,
      mode: 0o600,
      open: () => this.openCdev(vdev, node),
    });
    const dir = `${vdev.pci.sysPath}/vfio-dev/${name}`;
    this.vfs.addText(`${dir}/dev`, () => `${VFIO_CDEV_MAJOR}:${vdev.index}\n`);
    this.vfs.addLink(`${dir}/device`, relativeLink(dir, vdev.pci.sysPath), true);
    this.vfs.addLink(`${dir}/subsystem`, relativeLink(dir, '/sys/class/vfio-dev'), true);
    this.vfs.addLink(`/sys/class/vfio-dev/${name}`, relativeLink('/sys/class/vfio-dev', dir), true);
  }

  private removeCdev(vdev: VfioDevice): void {
    const name = `vfio${vdev.index}`;
    this.vfs.remove(`/dev/vfio/devices/${name}`);
    this.vfs.remove(`${vdev.pci.sysPath}/vfio-dev`);
    this.vfs.remove(`/sys/class/vfio-dev/${name}`);
  }

  /** vfio_device_fops_cdev_open: a file with no access until BIND_IOMMUFD. */
  private openCdev(vdev: VfioDevice, node: string): KernelFile {
    if (vdev.unregistering) fail('ENODEV', 'device is being unregistered');
    const f = new VfioDeviceFile(this, vdev, null, node);
    this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1300 + vdev.index, flags: O.RDWR | O_LARGEFILE });
    return f;
  }

  /** vfio_df_ioctl_bind_iommufd, in its order; returns out_devid. */
  bindIommufd(file: VfioDeviceFile, iommufdFd: number, flags: number, token: Uint8Array | null = null): number {
    const vdev = file.vdev;
    const sys = this.hooks.iommufd;
    if (!sys) fail('ENOTTY');
    if (iommufdFd < 0 || flags & ~VFIO_BIND_FLAG_TOKEN) fail('EINVAL', 'bad iommufd or flags');
    // BIND_IOMMUFD only for cdev fds.
    if (file.groupFile) fail('EINVAL', 'a group-opened device fd cannot bind');
    // vfio_device_block_group: an opened group blocks the cdev.
    if (vdev.group.file) fail('EBUSY', 'the VFIO group is open');
    vdev.group.cdevOpen++;
    try {
      if (file.bound) fail('EINVAL', 'already bound');
      // vfio_df_check_token: the token at token_uuid_ptr (EFAULT when it points nowhere) or none, then
      // vfio_pci_core_match_token_uuid, before the iommufd is looked at.
      if (flags & VFIO_BIND_FLAG_TOKEN) {
        if (!token || token.length < 16) fail('EFAULT', 'token_uuid_ptr');
        this.matchToken(vdev, uuidFromBytes(token));
      } else this.matchToken(vdev, null);
      const ctx = sys.ctxFromFd(iommufdFd);
      // vfio_df_open: the cdev path cannot share an open device.
      if (vdev.openCount !== 0) fail('EINVAL', 'device already open');
      const obj = sys.bind(ctx, { name: vdev.pci.bdf });
      vdev.openCount++;
      this.enable(vdev);
      vdev.files.add(file);
      file.bound = { ctx, obj };
      return obj.id;
    } catch (e) {
      vdev.group.cdevOpen--;
      throw e;
    }
  }

  /** vfio_df_ioctl_attach_pt -> vfio_iommufd_physical_attach_ioas (attach or replace); returns the HWPT id. */
  attachPt(file: VfioDeviceFile, ptId: number): number {
    const b = file.bound;
    if (!b || !this.hooks.iommufd) fail('EINVAL');
    return this.hooks.iommufd.attach(b.ctx, b.obj, ptId);
  }

  /** vfio_df_ioctl_detach_pt: nothing attached is not an error (vfio_iommufd_physical_detach_ioas returns). */
  detachPt(file: VfioDeviceFile): void {
    const b = file.bound;
    if (!b || !this.hooks.iommufd) fail('EINVAL');
    this.hooks.iommufd.detach(b.ctx, b.obj);
  }

  /** vfio_pci_remove -> vfio_unregister_group_dev: waits until every device fd is closed. */
  private remove(dev: PciDev): (() => boolean) | undefined {
    const vdev = this.devices.get(dev);
    if (!vdev) return;
    // vfio_pci_core_unregister_device: vfio_pci_core_sriov_configure(vdev, 0) first, which waits for the VFs to go.
    let vfsGone = true;
    if (vdev.sriovActive && dev.sriov && dev.sriov.numvfs > 0) {
      vfsGone = false;
      this.pci.disableVfs(dev, () => {
        vdev.sriovActive = false;
        vfsGone = true;
      });
    } else vdev.sriovActive = false;
    vdev.unregistering = true;
    const finish = () => {
      const g = vdev.group;
      if (this.hooks.iommufd) this.removeCdev(vdev);
      g.devices.delete(vdev);
      this.devices.delete(dev);
      if (g.devices.size === 0) {
        this.groups.delete(g.id);
        this.vfs.remove(`/dev/vfio/${g.id}`);
      }
    };
    if (vfsGone && vdev.openCount === 0 && vdev.busy === 0) {
      finish();
      return;
    }
    if (!vfsGone && vdev.openCount === 0 && vdev.busy === 0)
      return () => {
        if (!vfsGone) return false;
        if (this.devices.has(dev)) finish();
        return true;
      };
    this.kernel.log(LogLevel.INFO, `vfio-pci ${dev.bdf}`, 'Relaying device request to user (#0)');
    this.kernel.log(
      LogLevel.INFO,
      `vfio-pci ${dev.bdf}`,
      `Device is currently in use, task "${this.kernel.comm}" (${this.kernel.pid}) blocked until device is released`,
    );
    return () => {
      if (!vfsGone || vdev.openCount > 0 || vdev.busy > 0) return false;
      if (this.devices.has(dev)) finish();
      return true;
    };
  }

  // ------------------------------------------------------------ group

  private openGroup(g: VfioGroup): KernelFile {
    // vfio_group_fops_open: one opener at a time, and none while a device of the group is bound through its cdev.
    if (g.file) fail('EBUSY');
    if (g.cdevOpen > 0) fail('EBUSY', 'a device of the group is bound through its cdev');
    if (g.devices.size === 0) fail('ENODEV');
    const f = new VfioGroupFile(this, g);
    g.file = f;
    this.fds.describe(f, { mntId: MNT.devtmpfs, ino: 1100 + g.id, flags: O.RDWR | O_LARGEFILE });
    return f;
  }

  /** Group viability: no device of the IOMMU group is owned by a kernel driver that uses the DMA API. */
  viable(g: VfioGroup): boolean {
    for (const d of this.pci.groupMembers(g.id)) if (d.driver !== null && d.driver !== 'vfio-pci') return false;
    return true;
  }

  groupStatus(g: VfioGroup): VfioGroupStatus {
    // vfio_group_ioctl_get_status: CONTAINER_SET|VIABLE once the group has an IOMMU (a container or an iommufd).
    if (g.container || g.iommufd) return { flags: VFIO.GROUP_FLAGS_VIABLE | VFIO.GROUP_FLAGS_CONTAINER_SET };
    return { flags: this.viable(g) ? VFIO.GROUP_FLAGS_VIABLE : 0 };
  }

  /**
   * group.c vfio_group_ioctl_set_container, in its order: a closed fd EBADF; a
   * group that has an IOMMU already (a container or an iommufd) EINVAL; a VFIO
   * container attaches (claiming the group's DMA ownership: EBUSY while a
   * kernel driver owns a device of it); an iommufd (iommufd_ctx_from_file)
   * makes the group use the context's VFIO compatibility IOAS
   * (drivers/iommu/iommufd/vfio_compat.c iommufd_vfio_compat_ioas_create),
   * the ownership claim waiting for the device's bind at GET_DEVICE_FD; any
   * other file EBADFD. The iommufd branch needs only CONFIG_IOMMUFD:
   * CONFIG_IOMMUFD_VFIO_CONTAINER is about who provides /dev/vfio/vfio.
   */
  setContainer(g: VfioGroup, containerFd: number): void {
    if (!this.fds.has(containerFd)) fail('EBADF');
    if (g.container || g.iommufd) fail('EINVAL', 'container already set');
    const f = this.fds.get(containerFd);
    if (f instanceof VfioContainerFile) {
      // iommu_group_claim_dma_owner: EBUSY while a kernel driver owns a device of the group.
      if (!this.viable(g)) fail('EBUSY', 'group not viable');
      g.container = f;
      f.groups.add(g);
      this.fds.ref(f);
      return;
    }
    if (this.hooks.iommufd && f instanceof IommufdFile) {
      f.compatIoasCreate();
      g.iommufd = f;
      this.fds.ref(f); // iommufd_ctx_from_file takes a reference the group keeps
      return;
    }
    fail('EBADFD', 'neither a VFIO container nor an iommufd');
  }

  /** vfio_group_ioctl_unset_container: a container only with no device open (EBUSY); an iommufd is simply put. */
  unsetContainer(g: VfioGroup): void {
    if (!g.container && !g.iommufd) fail('EINVAL', 'no container');
    if (g.container && g.openDevices > 0) fail('EBUSY', 'device fds are open');
    this.detachContainer(g);
  }

  private detachContainer(g: VfioGroup): void {
    const ictx = g.iommufd;
    if (ictx) {
      g.iommufd = null;
      this.fds.unref(ictx);
    }
    const c = g.container;
    if (!c) return;
    g.container = null;
    c.groups.delete(g);
    // The IOMMU driver goes with the last group (__vfio_container_release_driver).
    if (c.groups.size === 0) c.iommu = null;
    this.fds.unref(c);
  }

  releaseGroup(g: VfioGroup): void {
    this.detachContainer(g);
    g.file = null;
  }

  /** VFIO_GROUP_GET_DEVICE_FD: "BDF[ vf_token=UUID]" (vfio_pci_core_match). */
  getDeviceFd(g: VfioGroup, groupFile: VfioGroupFile, name: string): number {
    // vfio_device_get_from_name (group.c): each device of the group in turn is asked (vfio_pci_core_match);
    // an error ends the search, a device being unregistered is passed over.
    let vdev: VfioDevice | undefined;
    for (const d of g.devices) {
      if (this.matchName(d, name) && !d.unregistering) {
        vdev = d;
        break;
      }
    }
    if (!vdev) fail('ENODEV', `no device ${name} in group ${g.id}`);
    // vfio_df_group_open: no IOMMU (vfio_group_has_iommu) or a container without SET_IOMMU is EINVAL.
    if (!g.iommufd && (!g.container || g.container.iommu === null)) fail('EINVAL', 'no container or IOMMU set');
    // With an iommufd for container, the first open binds the device to it (vfio_df_iommufd_bind ->
    // iommufd_device_bind: the DMA ownership claim, EBUSY for a group a kernel driver still uses) and attaches
    // it to the compat IOAS (vfio_iommufd_compat_attach_ioas: ENODEV once that IOAS was destroyed).
    let compat: VfioDevice['compat'] = null;
    if (g.iommufd && vdev.openCount === 0) {
      const sys = this.hooks.iommufd!;
      if (!this.viable(g)) fail('EBUSY', 'group not viable');
      const ioasId = g.iommufd.compatIoas();
      const obj = sys.bind(g.iommufd, { name: vdev.pci.bdf });
      try {
        sys.attach(g.iommufd, obj, ioasId);
      } catch (e) {
        sys.unbind(g.iommufd, obj);
        throw e;
      }
      compat = { ctx: g.iommufd, obj };
    }
    const file = new VfioDeviceFile(this, vdev, groupFile, 'anon_inode:[vfio-device]');
    this.fds.describe(file, { mntId: MNT.anonInode, ino: 1063, flags: O.RDWR });
    const fd = this.fds.install(file, O.CLOEXEC);
    if (compat) vdev.compat = compat;
    if (vdev.openCount++ === 0) this.enable(vdev);
    vdev.files.add(file);
    g.openDevices++;
    this.fds.ref(groupFile);
    return fd;
  }

  /** vfio_pci_core_enable: enable the device and reset it (a VF FLR; xe clears the VF's LMEM). */
  private enable(vdev: VfioDevice): void {
    const src = `vfio-pci ${vdev.pci.bdf}`;
    this.kernel.log(LogLevel.INFO, src, 'enabling device (0000 -> 0002)');
    this.flr(vdev);
    vdev.power = 'D0';
    vdev.lowPower = false;
    vdev.commandMemory = true;
    // vfio_pci_core_finish_enable: one more user of the PF's VF token.
    const pf = vdev.sriovPf;
    if (pf?.vfToken) pf.vfToken.users++;
  }

  /** pci_try_reset_function on a VF: FLR, which xe handles by sanitizing the VF's LMEM. */
  private flr(vdev: VfioDevice): void {
    const src = `vfio-pci ${vdev.pci.bdf}`;
    this.kernel.log(LogLevel.INFO, src, 'resetting');
    const pf = vdev.pci.physfn;
    if (pf && vdev.pci.vfIndex !== null) this.hooks.xeOfPf(pf)?.sanitize(vdev.pci.vfIndex + 1);
    vdev.vconfig.set(buildVconfig(vdev.pci));
    this.kernel.log(LogLevel.INFO, src, 'reset done');
  }

  // ------------------------------------------------------------ revoke

  /**
   * get_file_active(&priv->dmabuf->file) at the head of each loop of
   * vfio_pci_dma_buf_move and vfio_pci_dma_buf_cleanup
   * (drivers/vfio/pci/vfio_pci_dmabuf.c): a buffer whose file is gone is
   * skipped (`continue`). With an O_PATH holder the buffer is still listed
   * but its file was freed (dmabuf.ts release): `dmabuf->file` dangles, and
   * file_ref_get writes the freed filp's f_ref. The filp cache is
   * SLAB_TYPESAFE_BY_RCU: with KASAN and SLUB_RCU_DEBUG the object is
   * poisoned after an RCU grace period (mm/slub.c slab_free_after_rcu_debug)
   * and KASAN reports the write. `frames` is the call chain above
   * get_file_active.
   */
  private fileActive(p: VfioDmaBuf, trigger: RevokeTrigger): boolean {
    const freed = p.dmabuf.fileFreedUsec;
    if (freed === null) return true;
    const k = this.kernel;
    if (enabled(k.profile, 'KASAN') && enabled(k.profile, 'SLUB_RCU_DEBUG') && k.now() - freed >= RCU_GRACE_USEC) {
      // file_ref_get writes f_ref, the last member of struct file (its size: the kernel's configuration).
      const filp = structFileSize(k.profile);
      const at = 0xff11000005d08500n + BigInt(p.dmabuf.ino - 30000) * 0x200n;
      const syscall = trigger.kind === 'config' ? 18 : trigger.kind.startsWith('close') ? 3 : 16;
      k.kasan({
        kind: 'slab-use-after-free',
        fn: GET_FILE_ACTIVE[1]!,
        access: 'Write of size 8',
        addr: (at + BigInt(filp.fRef)).toString(16),
        trace: [...KASAN_REPORT_FRAMES, ...GET_FILE_ACTIVE, ...revokeFrames(trigger)],
        allocated: DMABUF_FILE_ALLOCATED,
        freed: FILP_FREED_RCU,
        aux: FILP_FREE_QUEUED,
        cache: 'filp',
        objectSize: filp.size,
        offset: filp.fRef,
        syscall,
      });
    }
    return false;
  }

  /**
   * vfio_pci_dma_buf_move(vdev, true) for every dma-buf, or the permanent
   * cleanup at last close (`close`: how the device was opened). `trigger`
   * is what called it (the frames of a KASAN report). Returns the readiness
   * of the wait.
   */
  private revoke(vdev: VfioDevice, trigger: RevokeTrigger | { kind: 'close'; cdev: boolean }): () => boolean {
    const profile = this.kernel.profile;
    const permanent = trigger.kind === 'close';
    this.kernel.trace(permanent ? 'vfio_pci_dma_buf_cleanup' : 'vfio_pci_dma_buf_move', 'entry', { arg2: 1 });
    // The cleanup drains through vfio_pci_dma_buf_move(vdev, true), then walks the list again (its own loop).
    const bufs = [...vdev.dmabufs].filter((p) => {
      if (trigger.kind !== 'close') return this.fileActive(p, trigger);
      // Both walks happen whatever the first found (each loop does its own get_file_active).
      const moved = this.fileActive(p, { kind: 'close-move', cdev: trigger.cdev });
      const cleaned = this.fileActive(p, { kind: 'close-cleanup', cdev: trigger.cdev });
      return moved && cleaned;
    });
    let stuck = false;
    for (const p of bufs) {
      if (p.revoked && !permanent) continue;
      const wasRevoked = p.revoked;
      p.revoked = true;
      if (permanent) {
        p.vdev = null;
        vdev.dmabufs.delete(p);
      }
      this.invalidate(p);
      if (!profile.revokeWaits) continue;
      // 7.1 puts the buffer's kref and waits for its completion. The cleanup before the 2026-05 fix
      // ("vfio/pci: fix dma-buf kref underflow after revoke") looped over every buffer, revoked or not:
      // a buffer a revoke left at 0 is put again (refcount underflow WARN) and its completion, already
      // consumed, never comes. The fixed cleanup calls vfio_pci_dma_buf_move(vdev, true), which skips it.
      if (permanent && wasRevoked && p.krefSpent && profile.has('kref-underflow')) {
        this.kernel.warn('refcount_warn_saturate+0xba/0x110', 'refcount_t: underflow; use-after-free.');
        stuck = true;
      }
      p.krefSpent = true;
    }
    // 6.19 and 7.0 notify the importers and return (vfio_pci_dma_buf_move there has no wait).
    if (!profile.revokeWaits) return () => true;
    return () => !stuck && bufs.every((p) => p.outstanding === 0);
  }

  /** dma_buf_invalidate_mappings: every importer's invalidate_mappings. */
  private invalidate(p: VfioDmaBuf): void {
    this.kernel.trace('dma_buf_invalidate_mappings', 'entry', { arg1: p.dmabuf.ptr });
    for (const a of [...p.dmabuf.attachments]) a.importer.invalidateMappings?.(a);
  }

  /** Un-revoke: invalidate while still revoked, then clear `revoked` (docs/kernel.md §3.5). */
  private unrevoke(vdev: VfioDevice, trigger: RevokeTrigger): void {
    if (!vdev.memoryEnabled()) return;
    this.kernel.trace('vfio_pci_dma_buf_move', 'entry', { arg2: 0 });
    for (const p of [...vdev.dmabufs]) {
      if (!this.fileActive(p, trigger)) continue;
      if (!p.revoked) continue;
      this.invalidate(p);
      p.revoked = false;
      // kref_init / reinit_completion: the buffer can be revoked (and waited for) again.
      p.krefSpent = false;
    }
  }

  /**
   * Run `work` after a revoke's wait, holding the device busy. From a
   * synchronous syscall (`stack` given) a wait that cannot finish now is
   * reported as a hung task.
   */
  private afterRevoke(
    vdev: VfioDevice,
    ready: () => boolean,
    work: () => void,
    stack: readonly string[] | null,
    blockedIn: readonly string[] = revokeFrames({ kind: 'reset', undo: false }),
  ): void {
    vdev.busy++;
    const done = () => {
      vdev.busy--;
      work();
      this.kernel.poll();
    };
    if (ready()) {
      done();
      return;
    }
    // vfio_pci_dma_buf_move's wait_for_completion: the caller sleeps in D state, its wchan the function
    // that waits (wait_for_completion and the scheduler are __sched, which get_wchan skips).
    const wake = this.kernel.onBlock?.('vfio_pci_dma_buf_move', stack ?? blockedIn) ?? (() => undefined);
    if (stack) this.kernel.hungTask(stack);
    this.kernel.waitFor(ready, () => {
      wake();
      done();
    });
  }

  /** Last close of a device fd: permanent revoke, disable (with an FLR), then the fd's references go. */
  closeDevice(file: VfioDeviceFile): void {
    const vdev = file.vdev;
    // A cdev fd that never bound opened nothing (vfio_df_unbind_iommufd returns at once).
    if (!file.groupFile && !file.bound) return;
    vdev.files.delete(file);
    const release = () => {
      const groupFile = file.groupFile;
      if (groupFile) {
        // vfio_df_group_close -> vfio_df_close: the last close unbinds a device bound through the group's iommufd.
        const c = vdev.openCount === 0 ? vdev.compat : null;
        if (c) {
          vdev.compat = null;
          this.hooks.iommufd?.unbind(c.ctx, c.obj);
        }
        vdev.group.openDevices--;
        this.fds.unref(groupFile);
        return;
      }
      // vfio_df_device_last_close: close_device first, then the iommufd unbind (vfio_iommufd_physical_unbind).
      const b = file.bound;
      file.bound = null;
      if (b) this.hooks.iommufd?.unbind(b.ctx, b.obj);
      vdev.group.cdevOpen--;
    };
    if (--vdev.openCount > 0) {
      release();
      return;
    }
    // vfio_pci_core_close_device: the PF's VF token has one user less, first.
    const pf = vdev.sriovPf;
    if (pf?.vfToken && pf.vfToken.users > 0) pf.vfToken.users--;
    const cdev = !file.groupFile;
    const ready = this.revoke(vdev, { kind: 'close', cdev });
    this.afterRevoke(
      vdev,
      ready,
      () => {
        for (const p of [...vdev.dmabufs]) {
          // vfio_pci_core_disable -> vfio_pci_runtime_pm_exit -> vfio_pci_dma_buf_move(vdev, false): a
          // buffer the cleanup skipped (its file is gone) stays listed and is walked once more.
          if (!this.fileActive(p, { kind: 'close-pm-exit', cdev })) continue;
          p.vdev = null;
          vdev.dmabufs.delete(p);
        }
        // vfio_pci_core_disable: another function reset when the device is released.
        this.flr(vdev);
        vdev.lowPower = false;
        vdev.power = 'D0';
        release();
      },
      [
        'vfio_pci_dma_buf_cleanup+0xc2/0xe0 [vfio_pci_core]',
        'vfio_pci_core_close_device+0x61/0xe0 [vfio_pci_core]',
        'vfio_df_close+0x4f/0x80 [vfio]',
        'vfio_device_fops_release+0x39/0x60 [vfio]',
        '__fput+0xed/0x2d0',
        'task_work_run+0x5d/0xa0',
        'syscall_exit_to_user_mode+0x1d6/0x1f0',
        'do_syscall_64+0x8e/0x1a0',
      ],
    );
  }

  /** VFIO_DEVICE_RESET: revoke, wait, FLR, un-revoke; the promise settles when done. */
  reset(file: VfioDeviceFile): Promise<void> {
    const vdev = file.vdev;
    this.fds.ref(file);
    // vfio_pci_ioctl_reset (drivers/vfio/pci/vfio_pci_core.c): the device goes to D0 before the revoke
    // and the reset (vfio_pci_set_power_state(vdev, PCI_D0)), so a reset undoes a D3hot the user wrote.
    if (vdev.power !== 'D0') {
      vdev.power = 'D0';
      if (vdev.hasPm) {
        const cfg = new DataView(vdev.vconfig.buffer);
        cfg.setUint16(CFG.PMCSR, cfg.getUint16(CFG.PMCSR, true) & ~3, true);
      }
      this.bus.invalidate();
    }
    return new Promise<void>((resolve) => {
      const ready = this.revoke(vdev, { kind: 'reset', undo: false });
      this.afterRevoke(
        vdev,
        ready,
        () => {
          this.flr(vdev);
          this.unrevoke(vdev, { kind: 'reset', undo: true });
          this.fds.unref(file);
          resolve();
        },
        null,
      );
    });
  }

  // ------------------------------------------------------------ config space

  /** vfio_pci_config_rw_single: an access not wholly inside cfg_size is EFAULT. */
  configRead(vdev: VfioDevice, pos: number, length: number): Uint8Array {
    if (pos >= vdev.vconfig.length || pos + length > vdev.vconfig.length) fail('EFAULT', 'outside config space');
    return vdev.vconfig.slice(pos, pos + length);
  }

  configWrite(vdev: VfioDevice, pos: number, data: Uint8Array): number {
    if (pos >= vdev.vconfig.length || pos + data.length > vdev.vconfig.length) fail('EFAULT', 'outside config space');
    const n = data.length;
    const next = vdev.vconfig.slice();
    next.set(data.subarray(0, n), pos);
    const after = new DataView(next.buffer);
    const touches = (off: number, size: number) => pos < off + size && pos + n > off;
    // Only the emulated, writable fields change; the rest of the virtual config is read-only.
    const cfg = new DataView(vdev.vconfig.buffer);
    const stack = (what: string) => [
      `vfio_pci_dma_buf_move+0x13a/0x180 [vfio_pci_core]`,
      what,
      'vfio_pci_config_rw+0x1a8/0x3c0 [vfio_pci_core]',
      'vfs_write+0xf3/0x450',
      'ksys_pwrite64+0x7a/0xb0',
    ];
    if (touches(CFG.COMMAND, 2)) {
      const nowMem = (after.getUint16(CFG.COMMAND, true) & 2) !== 0;
      cfg.setUint16(CFG.COMMAND, after.getUint16(CFG.COMMAND, true) & 0x0547, true);
      vdev.commandMemory = nowMem;
      // vfio_basic_config_write (drivers/vfio/pci/vfio_pci_config.c): every COMMAND write with MEMORY
      // clear revokes, not only the 1 -> 0 transition (vfio_pci_dma_buf_move skips buffers already
      // revoked), and when memory is enabled afterwards it un-revokes. A VF keeps decoding
      // (no_command_memory), so each such write invalidates its importers and un-revokes at once.
      if (!nowMem) {
        const ready = this.revoke(vdev, { kind: 'config', writer: 'command', undo: false });
        this.afterRevoke(
          vdev,
          ready,
          () => this.unrevoke(vdev, { kind: 'config', writer: 'command', undo: true }),
          stack('vfio_basic_config_write+0x1f4/0x2c0 [vfio_pci_core]'),
        );
      } else {
        this.unrevoke(vdev, { kind: 'config', writer: 'command', undo: true });
      }
    }
    // Only a device with a PM capability has a PMCSR (xe's VFs have none: xe_pci_sriov.c pf_enable_vfs).
    if (vdev.hasPm && touches(CFG.PMCSR, 2)) {
      const state = after.getUint16(CFG.PMCSR, true) & 3;
      cfg.setUint16(CFG.PMCSR, (cfg.getUint16(CFG.PMCSR, true) & ~3) | state, true);
      if (state === 3 && vdev.power === 'D0') {
        vdev.power = 'D3hot';
        const ready = this.revoke(vdev, { kind: 'config', writer: 'pm', undo: false });
        this.afterRevoke(vdev, ready, () => undefined, stack('vfio_pm_config_write+0xc1/0x180 [vfio_pci_core]'));
        this.bus.invalidate();
      } else if (state === 0 && vdev.power === 'D3hot') {
        vdev.power = 'D0';
        this.bus.invalidate();
        this.unrevoke(vdev, { kind: 'config', writer: 'pm', undo: true });
      }
    }
    if (touches(CFG.DEVCTL, 2)) {
      const v = after.getUint16(CFG.DEVCTL, true);
      cfg.setUint16(CFG.DEVCTL, v & ~0x8000, true);
      if ((v & 0x8000) !== 0) {
        const ready = this.revoke(vdev, { kind: 'config', writer: 'flr', undo: false });
        this.afterRevoke(
          vdev,
          ready,
          () => {
            this.flr(vdev);
            this.unrevoke(vdev, { kind: 'config', writer: 'flr', undo: true });
          },
          stack('vfio_exp_config_write+0xd2/0x110 [vfio_pci_core]'),
        );
      }
    }
    return n;
  }

  // ------------------------------------------------------------ VFIO_DEVICE_FEATURE

  /** vfio_ioctl_device_feature (vfio_main.c) then vfio_pci_core_ioctl_feature. */
  feature(file: VfioDeviceFile, flags: number, payload: Uint8Array, argsz: number): number {
    const vdev = file.vdev;
    if (argsz < 8) fail('EINVAL', 'argsz < 8');
    if (
      (flags >>> 0) &
      ~(VFIO.DEVICE_FEATURE_MASK | VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_SET | VFIO.DEVICE_FEATURE_PROBE)
    )
      fail('EINVAL', 'unknown flag bits');
    const get = (flags & VFIO.DEVICE_FEATURE_GET) !== 0;
    const set = (flags & VFIO.DEVICE_FEATURE_SET) !== 0;
    const probe = (flags & VFIO.DEVICE_FEATURE_PROBE) !== 0;
    if (get && set && !probe) fail('EINVAL', 'GET and SET without PROBE');
    const index = flags & VFIO.DEVICE_FEATURE_MASK;
    const size = argsz - 8;
    // No migration or DMA logging ops on vfio-pci.
    if (FEATURE_MIGRATION_SET.has(index)) fail('ENOTTY');
    switch (index) {
      case VFIO.FEATURE_PCI_VF_TOKEN: {
        // vfio_pci_core_feature_token: only an SR-IOV PF on vfio-pci has a token (ENOTTY elsewhere); SET only (no GET:
        // it could show the previous user's token), a 16-byte uuid_t, taken whether or not VFs are in use.
        const token = vdev.vfToken;
        if (!token) fail('ENOTTY');
        const r = checkFeature(flags, size, VFIO.DEVICE_FEATURE_SET, 16);
        if (r !== 1) return r;
        if (payload.length < 16) fail('EFAULT');
        token.uuid = uuidFromBytes(payload);
        return 0;
      }
      case VFIO.FEATURE_LOW_POWER_ENTRY: {
        const r = checkFeature(flags, size, VFIO.DEVICE_FEATURE_SET, 0);
        if (r !== 1) return r;
        return this.lowPowerEntry(vdev);
      }
      case VFIO.FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: {
        const r = checkFeature(flags, size, VFIO.DEVICE_FEATURE_SET, 8);
        if (r !== 1) return r;
        if (payload.length < 8) fail('EFAULT');
        const efd = new DataView(payload.buffer, payload.byteOffset, payload.length).getInt32(0, true);
        // eventfd_ctx_fdget: a closed fd is EBADF, any other file is not an eventfd (EINVAL).
        if (!this.fds.has(efd)) fail('EBADF');
        fail('EINVAL', 'not an eventfd');
      }
      case VFIO.FEATURE_LOW_POWER_EXIT: {
        const r = checkFeature(flags, size, VFIO.DEVICE_FEATURE_SET, 0);
        if (r !== 1) return r;
        if (vdev.lowPower) {
          vdev.lowPower = false;
          this.bus.invalidate();
          this.unrevoke(vdev, { kind: 'low-power', undo: true });
        }
        return 0;
      }
      case VFIO.FEATURE_DMA_BUF:
        return this.dmaBufFeature(file, flags, payload, size);
      default:
        fail('ENOTTY', `feature ${index}`);
    }
  }

  private lowPowerEntry(vdev: VfioDevice): number {
    if (vdev.lowPower) fail('EINVAL', 'already in low power');
    vdev.lowPower = true;
    this.bus.invalidate();
    const ready = this.revoke(vdev, { kind: 'low-power', undo: false });
    this.afterRevoke(vdev, ready, () => undefined, [
      'vfio_pci_dma_buf_move+0x13a/0x180 [vfio_pci_core]',
      'vfio_pci_runtime_pm_entry+0x52/0x90 [vfio_pci_core]',
      'vfio_pci_core_ioctl_feature+0x10e/0x210 [vfio_pci_core]',
    ]);
    return 0;
  }

  /** vfio_pci_core_feature_dma_buf, in the kernel's order (docs/kernel.md §3.3). */
  private dmaBufFeature(file: VfioDeviceFile, flags: number, payload: Uint8Array, size: number): number {
    const vdev = file.vdev;
    this.kernel.trace('vfio_pci_core_feature_dma_buf', 'entry', { arg2: flags, arg4: size });
    const r = checkFeature(flags, size, VFIO.DEVICE_FEATURE_GET, 16);
    if (r !== 1) return r;
    if (payload.length < 16) fail('EFAULT');
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
    const regionIndex = dv.getUint32(0, true);
    const openFlags = dv.getUint32(4, true);
    const bufFlags = dv.getUint32(8, true);
    const nr = dv.getUint32(12, true);
    if (nr === 0 || bufFlags !== 0) fail('EINVAL', 'nr_ranges == 0 or flags != 0');
    if (regionIndex >= VFIO.PCI_ROM_REGION_INDEX) fail('ENODEV', `region ${regionIndex} is not a BAR`);
    const bar = vdev.pci.bar(regionIndex);
    // vfio_pci_core_get_iomap: the BAR must exist and be claimed.
    if (!bar) fail('ENODEV', `BAR ${regionIndex} not implemented`);
    // memdup_array_user: kmalloc caps the copy at KMALLOC_MAX_SIZE.
    if (nr * 16 > KMALLOC_MAX_SIZE) fail('ENOMEM', `${nr} ranges exceed the kmalloc limit`);
    if (payload.length < 16 + nr * 16) fail('EFAULT', 'ranges beyond the user buffer');
    // copy_from_user of the range array (one memcpy, then a typed view; x86 is little-endian)
    const ranges = new BigUint64Array(nr * 2);
    new Uint8Array(ranges.buffer).set(payload.subarray(16, 16 + nr * 16));
    const checked = checkRanges(ranges, nr, bar.start, bar.size, bar.kind === 'io', regionIndex);
    const { phys, length } = checked;
    if (vdev.unregistering) fail('ENODEV', 'device is being unregistered');
    const priv = new VfioDmaBuf(vdev, regionIndex, phys, length);
    const { dmabuf, fd } = this.dmabuf.export('vfio_pci_core', length, this.exporterOps(priv), openFlags);
    priv.dmabuf = dmabuf;
    vdev.dmabufs.add(priv);
    this.kernel.trace('vfio_pci_core_feature_dma_buf', 'return', { retval: fd });
    return fd;
  }

  // ------------------------------------------------------------ exporter ops

  private exporterOps(priv: VfioDmaBuf) {
    const k = this.kernel;
    const profile = k.profile;
    const bypass = profile.has('revoked-attach-bypass');
    // The scatterlist chunks of each sg table this buffer's P2P maps returned (dma_buf_phys_vec_to_sgt).
    const sgChunks = new Map<SgTable, KernelAlloc[]>();
    // RFC v1 builds its offer from priv->vdev at every attach; v2 from the match data copied at export (4/8).
    const offer = (): InterconnectOffer[] => {
      const dev = profile.series === 'rfc-v2' ? priv.icDev : priv.vdev?.pci;
      return dev ? [{ type: 'iov', dev, bar: priv.region }] : [];
    };
    return {
      attach: (att: Attachment & { interconnectAllowed: boolean }): InterconnectOffer | null => {
        const a = att as AttachmentImpl;
        const ret = (errno: number) =>
          k.trace('vfio_pci_dma_buf_attach', 'return', { retval: BigInt.asUintN(64, BigInt(-errno)) });
        if (profile.series === 'maptype') {
          this.matchMapping(priv, a);
          k.trace('vfio_pci_dma_buf_attach', 'entry', { arg2: a.ptr });
          // The branch's vfio_pci_dma_buf_attach: the match already required a P2P importer.
          if (priv.revoked) {
            ret(19);
            fail('ENODEV', 'dma-buf revoked');
          }
          if (!a.dynamic) {
            ret(95);
            fail('EOPNOTSUPP', 'importer cannot handle revoke');
          }
          k.trace('vfio_pci_dma_buf_attach', 'return', { retval: 0n });
          return null;
        }
        k.trace('vfio_pci_dma_buf_attach', 'entry', { arg2: a.ptr });
        // RFC v1 attach calls vfio_pci_match_interconnects first, for every importer, and
        // its first line reads priv->vdev->pdev (seed 4/8); the last close of the VFIO
        // device set priv->vdev = NULL (vfio_pci_dma_buf_cleanup, docs/kernel.md §3.5). The
        // static helper is inlined into the attach op, so the oops is in that function.
        if (profile.interconnect && priv.vdev === null && profile.has('closed-vdev-oops')) {
          k.oops('NULL pointer dereference', 'vfio_pci_dma_buf_attach+0x12/0x70 [vfio_pci_core]');
          throw new KernelErrno(
            14,
            'kernel oops in vfio_pci_match_interconnects: priv->vdev is NULL after the VFIO device was closed',
          );
        }
        // The series' intent (fixed): a revoked buffer is refused before any negotiation.
        if (profile.interconnect && !bypass && priv.revoked) {
          ret(19);
          fail('ENODEV', 'dma-buf revoked');
        }
        let matched: InterconnectOffer | null = null;
        if (profile.interconnect && a.interconnectAllowed) {
          // vfio_pci_match_interconnects -> the importer's supports_interconnects -> dma_buf_match_interconnects.
          matched = this.dmabuf.matchInterconnects(a, offer(), (exp, imp) => {
            k.trace('vfio_pci_match_interconnect', 'entry', {});
            // vfio_pci_match_iov_interconnect: imp->pdev == pci_physfn(exp->pdev), same BAR. pci_physfn()
            // (include/linux/pci.h) is a VF's PF and any other function itself: a PF exporting its own BAR
            // (QEMU's ivshmem-plain on the rfc-v1 guest) negotiates with itself as the importer device.
            const ok = imp.dev === (exp.dev.physfn ?? exp.dev) && imp.bar === exp.bar;
            k.trace('vfio_pci_match_interconnect', 'return', { retval: boolRax(ok, a.ptr) });
            return ok;
          });
          // RFC v1 and v2: a successful match returns before the peer2peer and revoked checks
          // (vfio_pci_dma_buf_attach in 4/8 of each posting; docs/profiles.md).
          if (matched) {
            k.trace('vfio_pci_dma_buf_attach', 'return', { retval: 0n });
            return matched;
          }
        }
        // vfio_pci_dma_buf_attach of 6.19 to 7.3: peer2peer, then revoked, then (7.1) revocable.
        if (!a.peer2peer) {
          ret(95);
          fail('EOPNOTSUPP', 'importer is not peer2peer');
        }
        if (priv.revoked) {
          ret(19);
          fail('ENODEV', 'dma-buf revoked');
        }
        if (profile.revocableGate && !a.dynamic) {
          ret(95);
          fail('EOPNOTSUPP', 'importer cannot handle revoke');
        }
        k.trace('vfio_pci_dma_buf_attach', 'return', { retval: 0n });
        return null;
      },
      map: (att: Attachment, caller: readonly string[] = []): SgTable => {
        k.trace('vfio_pci_dma_buf_map', 'entry', { arg1: (att as AttachmentImpl).ptr });
        if (priv.revoked) fail('ENODEV', 'dma-buf revoked');
        // dma_buf_phys_vec_to_sgt (drivers/dma-buf/dma-buf-mapping.c) asks pci_p2pdma_map_type (drivers/pci/p2pdma.c)
        // for the route from the exporting function to the importer's device, derived per pair from the ports'
        // ACS and the host bridge (src/mock/pcie.ts route: calc_map_type_and_dist). A function importing its own
        // BAR meets itself on the first step: BUS_ADDR whatever lies above (seen on the 7.2.13 guest: an igb VF
        // maps its own dma-buf where its PF cannot).
        const provider = priv.vdev?.pci ?? priv.icDev;
        const client = att.dev === null ? null : (this.pci.device(att.dev.bdf) ?? null);
        // pci_p2pdma_map_type asks calc_map_type_and_dist (verbose: its warnings) only for a client the provider's
        // map_types does not know yet, and stores the answer there, whatever it is.
        const cache = this.devices.get(provider)?.p2pMapTypes;
        let type = client === null ? undefined : cache?.get(client.bdf);
        if (type === undefined) {
          const r = this.pci.fabric.route(provider, client);
          type = r.type;
          for (const [on, text] of r.warnings) {
            // pci_warn(client, ...): "<driver> <BDF>: ...", "pci <BDF>" for a device no driver holds.
            const dev = this.pci.device(on);
            k.log(LogLevel.WARNING, `${dev?.driver ?? 'pci'} ${on}`, text);
          }
          if (client !== null) cache?.set(client.bdf, type);
        }
        k.trace('pci_p2pdma_map_type', 'return', { retval: BigInt(type) });
        if (type === P2P_MAP.NOT_SUPPORTED) fail('EINVAL', 'pci_p2pdma_map_type: NOT_SUPPORTED');
        // PCI_P2PDMA_MAP_BUS_ADDR: bus addresses = CPU physical addresses on x86 (no bus offset). THRU_HOST_BRIDGE
        // maps an IOVA (dma_iova_link) that the IOMMU translates to the same BAR addresses: the mock's GPU reaches
        // the BAR through the physical addresses either way.
        priv.outstanding++;
        const sgt = sgFromPacked(priv.phys.slice());
        // kzalloc_obj(*dma), then sg_alloc_table of calc_sg_nents entries.
        const frames = [...SG_MAP_FRAMES, ...caller];
        const dma = k.alloc('struct dma_buf_dma', DMA_BUF_DMA_SIZE, [
          '__kmalloc_cache_noprof+0x316/0x540',
          'dma_buf_phys_vec_to_sgt+0xdc/0xd80',
          ...frames.slice(3),
        ]);
        sgChunks.set(sgt, [dma, ...allocSgTable(k, sgNents(priv.phys, type === P2P_MAP.THRU_HOST_BRIDGE), frames)]);
        return sgt;
      },
      unmap: (_att: Attachment, sgt: SgTable): void => {
        if (priv.outstanding > 0) priv.outstanding--;
        // dma_buf_free_sgt -> sg_free_table frees sgt->orig_nents entries; dma_buf_phys_vec_to_sgt zeroed it
        // (drivers/dma-buf/dma-buf-mapping.c), so with p2p-sgt-leak every chunk stays allocated with nothing
        // pointing at it: kfree(dma) takes the table's last pointer with it.
        const [dma, ...chunks] = sgChunks.get(sgt) ?? [];
        sgChunks.delete(sgt);
        for (const c of chunks) {
          if (profile.has('p2p-sgt-leak')) c.orphan();
          else c.free();
        }
        dma?.free();
      },
      mapInterconnect: (att: Attachment): InterconnectRanges => {
        k.trace('vfio_pci_map_interconnect', 'entry', { arg1: (att as AttachmentImpl).ptr });
        // The fixed series checks revoke here and counts the map; RFC v1 does neither (RFC v1 4/8 vfio_pci_map_interconnect; docs/profiles.md).
        if (!bypass) {
          if (priv.revoked) {
            k.trace('vfio_pci_map_interconnect', 'return', { retval: BigInt.asUintN(64, -19n) });
            fail('ENODEV', 'dma-buf revoked');
          }
          priv.outstanding++;
        }
        const packed = inclusiveRanges(priv.phys);
        k.trace('vfio_pci_map_interconnect', 'return', { retval: 0n });
        return rangesFromPacked(packed);
      },
      iommufdMap: (att: Attachment): { paddr: bigint; len: bigint } => {
        // vfio_pci_dma_buf_iommufd_map: one physical range, not revoked (pages.c calls it after attach).
        k.trace('vfio_pci_dma_buf_iommufd_map', 'entry', { arg1: (att as AttachmentImpl).ptr });
        const ret = (errno: number) =>
          k.trace('vfio_pci_dma_buf_iommufd_map', 'return', { retval: BigInt.asUintN(64, BigInt(-errno)) });
        if (priv.revoked) {
          ret(19);
          fail('ENODEV', 'dma-buf revoked');
        }
        if (priv.phys.length !== 2) {
          ret(95);
          fail('EOPNOTSUPP', `${priv.phys.length / 2} ranges: iommufd maps only a single-range VFIO dma-buf`);
        }
        k.trace('vfio_pci_dma_buf_iommufd_map', 'return', { retval: 0n });
        return { paddr: priv.phys[0]!, len: priv.phys[1]! };
      },
      unmapInterconnect: (): void => {
        k.trace('vfio_pci_unmap_interconnect', 'entry', {});
        if (!bypass && priv.outstanding > 0) priv.outstanding--;
      },
      release: (): void => {
        k.trace('vfio_pci_dma_buf_release', 'entry', {});
        priv.vdev?.dmabufs.delete(priv);
        priv.vdev = null;
      },
    };
  }

  /**
   * The mapping-type branch's dma_buf_mapping_attach: the exporter's
   * match_mapping runs before its attach (drivers/dma-buf/dma-buf.c of the
   * dmabuf_map_type branch). vfio_pci_dma_buf_match_mapping refuses a buffer
   * whose device was closed (ENODEV) and offers PAL, then SGT_P2P
   * (drivers/vfio/pci/vfio_pci_dmabuf.c of the branch); xe and every other SGT
   * importer ask for SGT only, and the SGT type matches an exporter requiring
   * P2P only for an importer that accepts P2P at a P2P distance
   * (dma_buf_sgt_match). No common type: -EINVAL from dma_buf_match_mapping.
   */
  private matchMapping(priv: VfioDmaBuf, a: AttachmentImpl): void {
    const k = this.kernel;
    k.trace('vfio_pci_dma_buf_match_mapping', 'entry', {});
    const done = (errno: number): void =>
      k.trace('vfio_pci_dma_buf_match_mapping', 'return', { retval: BigInt.asUintN(64, BigInt(-errno)) });
    if (priv.vdev === null) {
      done(19);
      fail('ENODEV', 'the VFIO device was closed: the dma-buf is never usable again');
    }
    // PAL: only an importer that asks for it (iommufd in the branch); SGT_P2P: a P2P importer the PCI topology lets reach the BAR.
    // iommufd attaches with its misc device, no PCI function: it takes PAL, which no P2P route decides. A PCI
    // importer's SGT_P2P needs a route (pci_p2pdma_distance, src/mock/pcie.ts).
    const client = a.dev === null ? null : (this.pci.device(a.dev.bdf) ?? null);
    const pal = a.peer2peer && client === null;
    const sgtP2p =
      a.peer2peer && client !== null && this.pci.fabric.route(priv.icDev, client).type !== P2P_MAP.NOT_SUPPORTED;
    if (!pal && !sgtP2p) {
      done(22);
      fail('EINVAL', 'no mapping type both sides support (dma_buf_match_mapping)');
    }
    done(0);
  }

  // ------------------------------------------------------------ regions

  regionInfo(vdev: VfioDevice, index: number): VfioRegionInfo {
    const offset = BigInt(index) << SHIFT;
    const none = { index, flags: 0, capOffset: 0, size: 0n, offset, caps: new Uint8Array(0) };
    if (index < 0 || index >= VFIO.PCI_NUM_REGIONS) fail('EINVAL', `region ${index}`);
    if (index <= 5) {
      const bar = vdev.pci.bar(index);
      if (!bar) return none;
      let flags = VFIO.REGION_INFO_FLAG_READ | VFIO.REGION_INFO_FLAG_WRITE;
      if (bar.kind !== 'io' && bar.size >= 4096n) flags |= VFIO.REGION_INFO_FLAG_MMAP;
      // The MSI-X table lives in BAR 0 of an xe VF: a header-only MSIX_MAPPABLE capability.
      if (index === 0) {
        const caps = new Uint8Array(8);
        const dv = new DataView(caps.buffer);
        dv.setUint16(0, VFIO.REGION_INFO_CAP_MSIX_MAPPABLE, true);
        dv.setUint16(2, 1, true);
        return { index, flags: flags | VFIO.REGION_INFO_FLAG_CAPS, capOffset: 32, size: bar.size, offset, caps };
      }
      return { index, flags, capOffset: 0, size: bar.size, offset, caps: new Uint8Array(0) };
    }
    if (index === VFIO.PCI_ROM_REGION_INDEX) return none; // a VF has no ROM
    if (index === VFIO.PCI_CONFIG_REGION_INDEX) {
      return {
        index,
        flags: VFIO.REGION_INFO_FLAG_READ | VFIO.REGION_INFO_FLAG_WRITE,
        capOffset: 0,
        size: 4096n,
        offset,
        caps: new Uint8Array(0),
      };
    }
    fail('EINVAL', 'no VGA region'); // vdev->has_vga is false
  }

  /** pread/pwrite on the device fd (vfio_pci_rw). */
  regionRw(vdev: VfioDevice, offset: bigint, length: number, data: Uint8Array | null): Uint8Array | number {
    const index = Number(offset >> SHIFT);
    const pos = offset & REGION_MASK;
    if (index >= VFIO.PCI_NUM_REGIONS || offset < 0n) fail('EINVAL');
    if (index === VFIO.PCI_CONFIG_REGION_INDEX) {
      return data ? this.configWrite(vdev, Number(pos), data) : this.configRead(vdev, Number(pos), length);
    }
    if (index > 5) fail('EINVAL', `region ${index} is not readable`);
    const bar = vdev.pci.bar(index);
    if (!bar || pos >= bar.size) fail('EINVAL');
    // vfio_pci_rw resumes the device first (pm_runtime_resume_and_get), so a LOW_POWER_ENTRY
    // does not stop it; vfio_pci_core_do_io_rw then needs memory enabled (EIO in D3hot or with
    // COMMAND.MEMORY clear on a PF).
    if (bar.kind !== 'io' && !(vdev.power === 'D0' && (vdev.pci.isVirtfn || vdev.commandMemory))) fail('EIO');
    const n = Number(
      bar.size - pos < BigInt(data ? data.length : length) ? bar.size - pos : BigInt(data ? data.length : length),
    );
    if (data) {
      this.bus.write(bar.start + pos, data.subarray(0, n));
      return n;
    }
    return this.bus.read(bar.start + pos, n);
  }

  /** vfio_pci_core_mmap: BARs only, page aligned, within the BAR. */
  mmap(file: VfioDeviceFile, offset: bigint, length: number): Mapping {
    const vdev = file.vdev;
    const index = Number(offset >> SHIFT);
    if (length <= 0 || offset % 4096n !== 0n) fail('EINVAL');
    if (index >= VFIO.PCI_ROM_REGION_INDEX) fail('EINVAL', `region ${index} cannot be mmapped`);
    const bar = vdev.pci.bar(index);
    if (!bar || bar.kind === 'io' || bar.size < 4096n) fail('EINVAL', `BAR ${index} cannot be mmapped`);
    const start = offset & REGION_MASK;
    const reqLen = BigInt(Math.ceil(length / 4096) * 4096);
    if (start + reqLen > bar.size) fail('EINVAL', 'mapping beyond the BAR');
    this.fds.ref(file);
    const base = bar.start + start;
    return this.maps.create(
      length,
      {
        read: (o, out) => out.set(this.bus.read(base + BigInt(o), out.length)),
        write: (o, d) => this.bus.write(base + BigInt(o), d),
        // vfio_pci_mmap_huge_fault: SIGBUS while memory is disabled or the device is in low power.
        check: () => {
          if (!vdev.memoryEnabled())
            throw new KernelErrno(14, 'SIGBUS: BAR access while the device is in D3 or low power');
        },
      },
      () => this.fds.unref(file),
    );
  }
}

const TWO32 = 2 ** 32;

/**
 * validate_dmabuf_input, the P2P provider check, then vfio_pci_core_fill_phys_vec
 * (docs/kernel.md §3.3 order). Ranges whose every value is below 2^53 take a
 * Number path (no BigInt per range: a 262,144-range export stays cheap); the
 * BigInt path is the reference for the rest.
 */
export function checkRanges(
  ranges: BigUint64Array,
  nr: number,
  barStart: bigint,
  barSize: bigint,
  io: boolean,
  region: number,
): { phys: BigUint64Array; length: bigint } {
  const u32 = new Uint32Array(ranges.buffer, ranges.byteOffset, nr * 4);
  let small = barStart + barSize < 1n << 52n;
  for (let i = 1; small && i < u32.length; i += 2) if (u32[i]! >= 0x100000) small = false;
  const phys = new BigUint64Array(nr * 2);
  if (small) {
    let length = 0;
    for (let i = 0; i < nr; i++) {
      const offLo = u32[4 * i]!;
      const lenLo = u32[4 * i + 2]!;
      const len = lenLo + u32[4 * i + 3]! * TWO32;
      if (len === 0 || offLo % 4096 !== 0 || lenLo % 4096 !== 0) fail('EINVAL', `range ${i} empty or not page aligned`);
      length += len;
    }
    if (length >= 2 ** 53) return checkRangesBig(ranges, nr, barStart, barSize, io, region);
    if (io) fail('EINVAL', 'I/O BAR');
    const base = Number(barStart);
    const end = base + Number(barSize);
    const out = new Uint32Array(phys.buffer);
    for (let i = 0; i < nr; i++) {
      const off = u32[4 * i]! + u32[4 * i + 1]! * TWO32;
      const len = u32[4 * i + 2]! + u32[4 * i + 3]! * TWO32;
      const start = base + off;
      if (start + len > end) fail('EINVAL', `range ${i} ends beyond BAR ${region}`);
      const hi = Math.floor(start / TWO32);
      out[4 * i] = start - hi * TWO32;
      out[4 * i + 1] = hi;
      out[4 * i + 2] = u32[4 * i + 2]!;
      out[4 * i + 3] = u32[4 * i + 3]!;
    }
    return { phys, length: BigInt(length) };
  }
  return checkRangesBig(ranges, nr, barStart, barSize, io, region);
}

export function checkRangesBig(
  ranges: BigUint64Array,
  nr: number,
  barStart: bigint,
  barSize: bigint,
  io: boolean,
  region: number,
): { phys: BigUint64Array; length: bigint } {
  let length = 0n;
  for (let i = 0; i < nr; i++) {
    const off = ranges[2 * i]!;
    const len = ranges[2 * i + 1]!;
    if (len === 0n || off % 4096n !== 0n || len % 4096n !== 0n) fail('EINVAL', `range ${i} empty or not page aligned`);
    length += len;
    if (length > 0xffffffffffffffffn) fail('EINVAL', 'total length overflows');
  }
  // dma_iova_try_alloc would WARN on a size with the DMA_IOVA_USE_SWIOTLB bit.
  if ((length & (1n << 63n)) !== 0n) fail('EINVAL', 'total length too large (DMA_IOVA_USE_SWIOTLB bit)');
  // pcim_p2pdma_provider: only memory BARs have a P2P provider.
  if (io) fail('EINVAL', 'I/O BAR');
  const phys = new BigUint64Array(nr * 2);
  const end = barStart + barSize;
  for (let i = 0; i < nr; i++) {
    const off = ranges[2 * i]!;
    const len = ranges[2 * i + 1]!;
    const start = barStart + off;
    if (start > 0xffffffffffffffffn || start + len > 0xffffffffffffffffn) fail('EOVERFLOW', `range ${i} overflows`);
    if (start + len > end) fail('EINVAL', `range ${i} ends beyond BAR ${region}`);
    phys[2 * i] = start;
    phys[2 * i + 1] = len;
  }
  return { phys, length };
}

/** [paddr, len, ...] to [start, end (inclusive), ...] (vfio_pci_map_iov_interconnect). */
export function inclusiveRanges(phys: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(phys.length);
  const p = new Uint32Array(phys.buffer, phys.byteOffset, phys.length * 2);
  const o = new Uint32Array(out.buffer);
  for (let i = 0; i < phys.length; i += 2) {
    const lo = p[2 * i]!;
    const hi = p[2 * i + 1]!;
    const lenLo = p[2 * i + 2]!;
    const lenHi = p[2 * i + 3]!;
    o[2 * i] = lo;
    o[2 * i + 1] = hi;
    if (hi < 0x100000 && lenHi < 0x100000) {
      const end = lo + hi * TWO32 + lenLo + lenHi * TWO32 - 1;
      const eh = Math.floor(end / TWO32);
      o[2 * i + 2] = end - eh * TWO32;
      o[2 * i + 3] = eh;
    } else {
      out[i + 1] = phys[i]! + phys[i + 1]! - 1n;
    }
  }
  return out;
}

/** vfio_check_feature: 1 = go on, 0 = PROBE answered, throws EINVAL. */
function checkFeature(flags: number, argsz: number, supported: number, minsz: number): number {
  if (flags & (VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_SET) & ~supported) fail('EINVAL', 'unsupported GET/SET');
  if (flags & VFIO.DEVICE_FEATURE_PROBE) return 0;
  if (!(flags & (VFIO.DEVICE_FEATURE_GET | VFIO.DEVICE_FEATURE_SET))) fail('EINVAL', 'neither GET nor SET');
  if (argsz < minsz) fail('EINVAL', 'payload too small');
  return 1;
}

/**
 * Does the device have a PCI PM capability? xe's VFs do not implement it
 * ("our VFs do not implement the PM capability", drivers/gpu/drm/xe/xe_pci_sriov.c
 * pf_enable_vfs): a display-class VF has none. Nor has an 82576 VF (8086:10ca):
 * its config space has the PCIe, MSI-X and ARI capabilities only (QEMU's
 * hw/net/igbvf.c igbvf_pci_realize, which the QEMU guests run; a real
 * 82576 VF alike), so vfio there has no D3hot to write. Other devices (igb's
 * PF, the NVMe controller and its VFs: hw/nvme/ctrl.c nvme_add_pm_capability) do.
 */
export function hasPmCapability(pci: PciDev): boolean {
  if (pci.isVirtfn && pci.vendor === 0x8086 && pci.device === 0x10ca) return false;
  return !(pci.isVirtfn && pci.klass >> 16 === 0x03);
}

function buildVconfig(pci: PciDev): Uint8Array {
  const c = pci.config.slice();
  const dv = new DataView(c.buffer);
  dv.setUint16(CFG.COMMAND, 0x0006, true); // memory + bus master, as vfio enables it
  dv.setUint16(0x06, 0x0010, true);
  if (!hasPmCapability(pci)) {
    // The capability list starts at the PCIe capability.
    dv.setUint8(0x34, CFG.EXP);
    dv.setUint32(CFG.PM, 0, true);
    dv.setUint16(CFG.PMCSR, 0, true);
    dv.setUint8(CFG.EXP, 0x10);
    dv.setUint8(CFG.EXP + 1, 0x00);
    dv.setUint16(CFG.EXP + 2, 0x0002, true);
    dv.setUint32(CFG.DEVCAP, 0x10008fc0, true);
    dv.setUint16(CFG.DEVCTL, 0x2810, true);
    return c;
  }
  dv.setUint8(0x34, CFG.PM);
  // PM capability: next = PCIe, PMC version 3, PMCSR D0.
  dv.setUint8(CFG.PM, 0x01);
  dv.setUint8(CFG.PM + 1, CFG.EXP);
  dv.setUint16(CFG.PM + 2, 0x0003, true);
  dv.setUint16(CFG.PMCSR, 0x0008, true); // No_Soft_Reset
  // PCIe capability v2, endpoint; DEVCAP with Function Level Reset.
  dv.setUint8(CFG.EXP, 0x10);
  dv.setUint8(CFG.EXP + 1, 0x00);
  dv.setUint16(CFG.EXP + 2, 0x0002, true);
  dv.setUint32(CFG.DEVCAP, 0x10008fc0, true);
  dv.setUint16(CFG.DEVCTL, 0x2810, true);
  return c;
}

// ------------------------------------------------------------ files

export class VfioContainerFile implements KernelFile {
  readonly path = '/dev/vfio/vfio';
  readonly groups = new Set<VfioGroup>();
  iommu: number | null = null;
  readonly handlers: KernelFile['handlers'];

  constructor(private readonly sys: VfioSubsystem) {
    this.handlers = {
      vfioGetApiVersion: () => VFIO.API_VERSION,
      vfioCheckExtension: (ext: number) => {
        // Type1 is the only IOMMU driver (container.c: the first driver that answers).
        if (ext === VFIO.TYPE1_IOMMU || ext === VFIO.TYPE1v2_IOMMU || ext === 9 || ext === 10) return 1;
        if (ext === 4) return this.iommu === null ? 0 : 1; // VFIO_DMA_CC_IOMMU: Intel VT-d enforces coherency
        return 0;
      },
      vfioSetIommu: (type: number) => {
        if (this.groups.size === 0 || this.iommu !== null) fail('EINVAL', 'no group attached or IOMMU already set');
        if (type !== VFIO.TYPE1_IOMMU && type !== VFIO.TYPE1v2_IOMMU)
          fail('ENODEV', `no IOMMU driver for type ${type}`);
        this.iommu = type;
      },
    };
  }

  fdinfo(): string[] {
    return [];
  }

  release(): void {
    this.iommu = null;
  }

  get subsystem(): VfioSubsystem {
    return this.sys;
  }
}

class VfioGroupFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];

  constructor(
    private readonly sys: VfioSubsystem,
    readonly group: VfioGroup,
  ) {
    this.handlers = {
      vfioGroupGetStatus: () => sys.groupStatus(group),
      vfioGroupSetContainer: (containerFd: number) => sys.setContainer(group, containerFd),
      vfioGroupUnsetContainer: () => sys.unsetContainer(group),
      vfioGroupGetDeviceFd: (bdf: string) => sys.getDeviceFd(group, this, bdf),
    };
  }

  get path(): string {
    return `/dev/vfio/${this.group.id}`;
  }

  fdinfo(): string[] {
    return [];
  }

  release(): void {
    this.sys.releaseGroup(this.group);
  }
}

export class VfioDeviceFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];
  /** cdev path: the iommufd context and device object BIND_IOMMUFD made (access granted). */
  bound: { ctx: IommufdFile; obj: ReturnType<IommufdSubsystem['bind']> } | null = null;

  constructor(
    private readonly sys: VfioSubsystem,
    readonly vdev: VfioDevice,
    /** The group the fd came from; null for a cdev fd (/dev/vfio/devices/vfioN). */
    readonly groupFile: VfioGroupFile | null,
    readonly path: string,
  ) {
    const info: VfioDeviceInfo = {
      flags: VFIO.DEVICE_FLAGS_RESET | VFIO.DEVICE_FLAGS_PCI,
      numRegions: VFIO.PCI_NUM_REGIONS,
      numIrqs: 5,
      capOffset: 0,
    };
    // vfio_device_fops_*: a cdev fd gets EINVAL for every ioctl, read, write and mmap until bound.
    const granted = <A extends unknown[], R>(f: (...a: A) => R) =>
      groupFile
        ? f
        : (...a: A): R => {
            if (!this.bound) fail('EINVAL', 'device cdev not bound to an iommufd');
            return f(...a);
          };
    this.handlers = {
      vfioDeviceGetInfo: granted(() => ({ ...info })),
      vfioDeviceGetRegionInfo: granted((index: number) => sys.regionInfo(vdev, index)),
      vfioRegionRead: granted(
        (offset: bigint, length: number) => sys.regionRw(vdev, offset, length, null) as Uint8Array,
      ),
      vfioRegionWrite: granted(
        (offset: bigint, data: Uint8Array) => sys.regionRw(vdev, offset, data.length, data) as number,
      ),
      vfioDeviceReset: granted(() => sys.reset(this)),
      vfioDeviceFeature: granted((flags: number, payload?: Uint8Array, argsz?: number) => {
        const p = payload ?? new Uint8Array(0);
        return sys.feature(this, flags, p, argsz ?? 8 + p.length);
      }),
      vfioDmaBufGet: granted((req: VfioDmaBufRequest) => {
        const { payload, argsz, flags } = encodeDmaBufRequest(req);
        return sys.feature(this, flags, payload, argsz);
      }),
      mmap: granted((offset: bigint, length: number) => sys.mmap(this, offset, length)),
    };
    if (sys.hooks.iommufd) {
      // With VFIO_DEVICE_CDEV the device fd knows BIND (EINVAL on a group fd); ATTACH/DETACH are
      // cdev-only ioctls, so a group fd passes them to vfio-pci, which does not know them (ENOTTY).
      this.handlers.vfioDeviceBindIommufd = (iommufd: number, flags = 0, token?: Uint8Array) =>
        sys.bindIommufd(this, iommufd, flags, token ?? null);
      this.handlers.vfioDeviceAttachIommufdPt = granted((ptId: number) => {
        if (groupFile) fail('ENOTTY');
        sys.attachPt(this, ptId);
      });
      this.handlers.vfioDeviceDetachIommufdPt = granted(() => {
        if (groupFile) fail('ENOTTY');
        sys.detachPt(this);
      });
    }
  }

  fdinfo(): string[] {
    return [`vfio-device-syspath: ${this.vdev.sysfsPath}`];
  }

  release(): void {
    this.sys.closeDevice(this);
  }
}

/** struct vfio_device_feature_dma_buf after the feature header (docs/kernel.md §3.2). */
export function encodeDmaBufRequest(req: VfioDmaBufRequest): { payload: Uint8Array; argsz: number; flags: number } {
  const given = Math.floor(req.ranges.length / 2);
  const nr = req.nrRanges ?? given;
  const payload = new Uint8Array(16 + given * 16);
  const dv = new DataView(payload.buffer);
  dv.setUint32(0, req.regionIndex >>> 0, true);
  dv.setUint32(4, req.openFlags >>> 0, true);
  dv.setUint32(8, (req.flags ?? 0) >>> 0, true);
  dv.setUint32(12, nr >>> 0, true);
  new BigUint64Array(payload.buffer, 16, given * 2).set(req.ranges.subarray(0, given * 2));
  return {
    payload,
    argsz: req.argsz ?? 8 + 16 + 16 * given,
    flags: req.featureFlags ?? VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF,
  };
}

// ------------------------------------------------------------ P2P sg tables

/** sizeof(struct scatterlist) on x86-64 with NEED_SG_DMA_LENGTH and NEED_SG_DMA_FLAGS, without DEBUG_SG (include/linux/scatterlist.h). */
const SCATTERLIST_SIZE = 32;
/** include/linux/scatterlist.h SG_MAX_SINGLE_ALLOC: the entries of one page. */
const SG_MAX_SINGLE_ALLOC = 4096 / SCATTERLIST_SIZE;
/** drivers/dma-buf/dma-buf-mapping.c MAX_SG_ENT_SZ: ALIGN_DOWN(UINT_MAX, PAGE_SIZE). */
const MAX_SG_ENT_SZ = 0xffff_f000n;

/**
 * calc_sg_nents (drivers/dma-buf/dma-buf-mapping.c): one entry per
 * MAX_SG_ENT_SZ of each range, or, when the map links one IOVA range through
 * the host bridge (dma_use_iova: the importer is behind an IOMMU, as on every
 * machine the mock models with a host-bridge route), per MAX_SG_ENT_SZ of the
 * whole size.
 */
function sgNents(phys: BigUint64Array, iova: boolean): number {
  const up = (n: bigint) => Number((n + MAX_SG_ENT_SZ - 1n) / MAX_SG_ENT_SZ);
  if (iova) {
    let size = 0n;
    for (let i = 1; i < phys.length; i += 2) size += phys[i]!;
    return up(size);
  }
  let n = 0;
  for (let i = 1; i < phys.length; i += 2) n += up(phys[i]!);
  return n;
}

/** sizeof(struct dma_buf_dma): the sg_table (16 bytes), the IOVA state pointer and the size (drivers/dma-buf/dma-buf-mapping.c). */
const DMA_BUF_DMA_SIZE = 32;

/**
 * A P2P map's scatterlist allocation from __sg_alloc_table's call to its
 * allocator down to dma_buf_map_attachment, as kmemleak printed it on the
 * 7.2.13 KASAN guest: sg_kmalloc leaves no frame for a kmalloc (a tail call
 * to __kmalloc_noprof), it does for a page (its call to kmemleak_alloc,
 * sg_kmalloc+0x3d in that build's vmlinux).
 */
const SG_MAP_FRAMES = [
  '__sg_alloc_table+0x234/0x400',
  'sg_alloc_table+0x28/0x170',
  'dma_buf_phys_vec_to_sgt+0x397/0xd80',
  'vfio_pci_dma_buf_map+0x17d/0x2f0',
  'dma_buf_map_attachment+0x131/0x520',
];

/**
 * sg_alloc_table (lib/scatterlist.c __sg_alloc_table with sg_kmalloc): chunks
 * of SG_MAX_SINGLE_ALLOC entries, each a page that sg_kmalloc tells kmemleak
 * about (kmemleak_alloc) and whose last entry chains to the next, the last
 * chunk a kmalloc of what is left (a page again when exactly full).
 */
function allocSgTable(k: KernelCore, nents: number, frames: readonly string[]): KernelAlloc[] {
  const out: KernelAlloc[] = [];
  let left = nents;
  while (left > 0) {
    const size = left > SG_MAX_SINGLE_ALLOC ? SG_MAX_SINGLE_ALLOC : left;
    left -= left > SG_MAX_SINGLE_ALLOC ? SG_MAX_SINGLE_ALLOC - 1 : left;
    out.push(
      size === SG_MAX_SINGLE_ALLOC
        ? k.allocPage('scatterlist chunk (a page)', ['sg_kmalloc+0x3d/0x50', ...frames])
        : k.alloc('scatterlist array', size * SCATTERLIST_SIZE, ['__kmalloc_noprof+0x2ea/0x5f0', ...frames]),
    );
  }
  return out;
}
