// iommufd/*: iommufd as a second importer of the VF's dma-buf
// (docs/iommufd.md). IOMMU_IOAS_MAP_FILE attaches with iommufd's own device
// and takes the VFIO exporter's private interconnect (one physical range), so
// it needs no GPU: on a kernel with /dev/iommu these run anywhere a VF is on
// vfio-pci, a QEMU guest included. They pin the importer-facing rules of the
// exporter (attach on a revoked buffer, the single-range interconnect, revoke
// on reset, close and the memory-enable bit) and give later scenarios a
// positive control for revoke triggers (src/harness/iommufd.ts).

import { hex } from '../../report/model.js';
import { IOMMU, PAGE_SIZE, VFIO } from '../../uapi/constants.js';
import type { VfioDevice } from '../../uapi/vfio.js';
import { openVfioDevice, vfioCdevOf, VfioSetupError } from '../../uapi/vfio.js';
import { barAccess, freshSeed } from '../data.js';
import { describeRevokes, IommufdImporter, requireIommufd, watchRevokes } from '../iommufd.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { errnoOf, exportDmaBuf, openVf, PAGE, requireCaps, requireExportBar, requireTarget } from '../steps.js';
import { lmemBar, type Bar } from '../../machine/topology.js';

interface Setup {
  device: VfioDevice;
  bar: Bar;
  importer: IommufdImporter;
}

function setup(ctx: ScenarioContext): Setup {
  const target = requireTarget(ctx);
  requireCaps(ctx, 'dmaBufExport');
  requireIommufd(ctx);
  const bar = requireExportBar(ctx, target.vf);
  const device = openVf(ctx, target.vf.bdf);
  const importer = IommufdImporter.open(ctx);
  ctx.record('vf', target.vf.bdf);
  ctx.record('region', bar.index);
  return { device, bar, importer };
}

function onePage(ctx: ScenarioContext, s: Setup, pages = 1n) {
  return exportDmaBuf(ctx, s.device, { region: s.bar.index, ranges: [{ offset: 0n, length: pages * PAGE }] });
}

export const iommufdImport: Scenario = {
  id: 'iommufd/import',
  title: 'iommufd imports one range',
  description:
    "Exports one page of the VF's BAR and maps it into an IOAS with IOMMU_IOAS_MAP_FILE, at an automatic and at a fixed IOVA, " +
    'with the VF opened the usual way (the legacy group: iommufd attaches with its own device, so no iommufd binding is needed). ' +
    "Checks that each mapping holds a reference on the dma-buf (fdinfo count) and shows as an attachment of device 'iommu' in " +
    "bufinfo, that unmapping gives both back, and, where the BAR is memory (an xe VF's LMEM BAR 2), that data written through the " +
    'VFIO mmap reads back the same through the region while the BAR is imported. Skips without /dev/iommu.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const lmem = lmemBar(ctx.target!.vf);
    const seed = freshSeed();
    let access: ReturnType<typeof barAccess> | null = null;
    if (lmem && lmem.index === s.bar.index) {
      access = barAccess(ctx, s.device, s.bar.index);
      access.fill(0n, PAGE_SIZE, seed, 0n);
    }
    const buf = onePage(ctx, s);
    const before = buf.fdinfo().count;
    const auto = s.importer.import(buf);
    const fixed = s.importer.import(buf, { iova: 0x40000000n });
    ctx.record('iovas', [hex(auto.iova), hex(fixed.iova)]);
    ctx.check(
      auto.iova % PAGE === 0n && auto.iova >= PAGE,
      `automatic IOVA ${hex(auto.iova)} is not page aligned above 0`,
    );
    ctx.check(fixed.iova === 0x40000000n, `FIXED_IOVA 0x40000000 mapped at ${hex(fixed.iova)}`);
    const during = buf.fdinfo().count;
    ctx.check(
      during === before + 2,
      `fdinfo count ${before} before, ${during} with two mappings: each holds the dma-buf`,
    );
    const bufinfo = ctx.backend.fs.exists('/sys/kernel/debug/dma_buf/bufinfo');
    if (bufinfo) {
      const { parseBufinfo } = await import('../../uapi/bufinfo.js');
      const o = parseBufinfo(ctx.backend.fs.readText('/sys/kernel/debug/dma_buf/bufinfo')).objects.find(
        (x) => x.ino === buf.fdinfo().ino,
      );
      ctx.check(
        o?.attached.join(',') === 'iommu,iommu',
        `bufinfo lists the dma-buf attached to [${o?.attached ?? 'nothing'}], expected iommu twice`,
      );
    }
    if (access) {
      const mismatch = access.verify(0n, PAGE_SIZE, seed, 0n);
      ctx.check(mismatch === null, `the BAR page read back differently while imported at offset ${mismatch?.offset}`);
    }
    ctx.check(auto.unmap() === PAGE && fixed.unmap() === PAGE, 'IOMMU_IOAS_UNMAP did not give back one page each');
    const after = buf.fdinfo().count;
    ctx.check(
      after === before,
      `fdinfo count ${after} after unmapping, ${before} before: a reference was not given back`,
    );
    ctx.note(
      `mapped at ${hex(auto.iova)} and 0x40000000, fdinfo count ${before}->${during}->${after}` +
        `${bufinfo ? ', attached as iommu' : ''}${access ? ', BAR data intact' : ` (BAR ${s.bar.index} is not LMEM: no data check)`}`,
    );
  },
};

export const iommufdCdev: Scenario = {
  id: 'iommufd/cdev-import',
  title: 'iommufd imports through the VFIO cdev',
  description:
    'Opens the VF through its cdev (/dev/vfio/devices/vfioN), binds it to an iommufd (VFIO_DEVICE_BIND_IOMMUFD), attaches it to an ' +
    'IOAS, and maps its own dma-buf into that IOAS: the path a VMM using iommufd takes. Before the bind every ioctl on the cdev is ' +
    'EINVAL; the attached domain narrows the IOAS (page alignment, reserved holes); while bound the IOAS cannot be destroyed ' +
    '(EBUSY). Skips without the cdev (CONFIG_VFIO_DEVICE_CDEV) or while another process holds the VF.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport');
    requireIommufd(ctx);
    const bar = requireExportBar(ctx, target.vf);
    const node = vfioCdevOf(ctx.backend, target.vf.bdf);
    if (!node) ctx.skip('iommufd', `${target.vf.bdf} has no VFIO cdev`, 'boot a kernel with CONFIG_VFIO_DEVICE_CDEV=y');
    let device: VfioDevice;
    try {
      device = openVfioDevice(ctx.backend, target.vf.bdf, { access: 'cdev' });
    } catch (e) {
      if (e instanceof VfioSetupError)
        ctx.skip(
          'iommufd',
          `cannot open ${target.vf.bdf} through its cdev: ${e.message}`,
          'boot a kernel with CONFIG_VFIO_DEVICE_CDEV=y',
        );
      const code = (e as { code?: string }).code;
      if (code === 'EBUSY' || code === 'EINVAL')
        ctx.skip('target', `cannot bind ${target.vf.bdf} through its cdev (${code}): the VF is in use`, 'free the VF');
      throw e;
    }
    ctx.defer(`close VFIO cdev ${node}`, () => device.close());
    const iommufd = device.iommufd!;
    const ioas = device.ioasId!;
    const ranges = iommufd.iovaRanges(ioas);
    ctx.record('devid', device.devid);
    ctx.record('ioas', ioas);
    ctx.record(
      'iovaRanges',
      ranges.ranges.map((r) => `${hex(r.start)}-${hex(r.last)}`),
    );
    ctx.check(ranges.alignment >= 4096n, `IOAS alignment ${ranges.alignment} with a domain attached, expected a page`);
    const busy = errnoOf(() => iommufd.destroy(ioas));
    ctx.check(busy.code === 'EBUSY', `IOMMU_DESTROY of the attached IOAS: ${busy.code ?? 'succeeded'}, expected EBUSY`);
    const buf = exportDmaBuf(ctx, device, { region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    const iova = iommufd.mapFile(ioas, buf.fd, { length: PAGE });
    ctx.defer(`unmap IOVA ${hex(iova)}`, () => {
      if (!iommufd.closed) iommufd.unmap(ioas, iova, PAGE);
    });
    const inRange = ranges.ranges.some((r) => r.start <= iova && iova + PAGE - 1n <= r.last);
    ctx.check(inRange, `IOVA ${hex(iova)} is outside the IOAS's allowed ranges`);
    ctx.note(`bound as device ${device.devid}, IOAS ${ioas} (${ranges.ranges.length} ranges), mapped at ${hex(iova)}`);
  },
};

interface Refusal {
  name: string;
  expected: string;
  rule: string;
  attempt(): unknown;
}

export const iommufdErrno: Scenario = {
  id: 'iommufd/invalid-maps',
  title: 'iommufd refuses what it must',
  description:
    'Sends IOMMU_IOAS_MAP_FILE requests iommufd and the VFIO exporter must refuse, each with its errno: a length beyond the ' +
    'dma-buf (EINVAL), a dma-buf of two ranges (EOPNOTSUPP: one physical range only), an unknown flag (EOPNOTSUPP), neither ' +
    'read nor write (EINVAL), an IOAS that does not exist (ENOENT), length 0 (EINVAL), a fixed IOVA already mapped (EEXIST), and ' +
    'an unmap that would split a mapping (ENOENT). A request that succeeds is undone and reported as a failure.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    if (s.bar.size < 2n * PAGE)
      ctx.skip('target', `BAR ${s.bar.index} has one page; two ranges need two`, 'use a VF with a larger BAR');
    const one = onePage(ctx, s);
    const two = exportDmaBuf(ctx, s.device, {
      region: s.bar.index,
      ranges: [
        { offset: 0n, length: PAGE },
        { offset: PAGE, length: PAGE },
      ],
    });
    const fd = s.importer.iommufd;
    const ioas = s.importer.ioas.id;
    const map = (o: { fd?: number; length?: bigint; iova?: bigint; flags?: number; ioas?: number }) =>
      fd.mapFile(o.ioas ?? ioas, o.fd ?? one.fd, {
        length: o.length ?? PAGE,
        ...(o.iova === undefined ? {} : { iova: o.iova }),
        ...(o.flags === undefined ? {} : { flags: o.flags }),
      });
    const placed = s.importer.import(one, { iova: 0x50000000n });
    const rw = IOMMU.IOAS_MAP_READABLE | IOMMU.IOAS_MAP_WRITEABLE;
    const cases: Refusal[] = [
      {
        name: 'length beyond the dma-buf',
        expected: 'EINVAL',
        rule: 'pages.c iopt_alloc_dmabuf_pages',
        attempt: () => map({ length: 2n * PAGE }),
      },
      {
        name: 'two ranges',
        expected: 'EOPNOTSUPP',
        rule: 'vfio_pci_dma_buf_iommufd_map: nr_ranges != 1',
        attempt: () => map({ fd: two.fd }),
      },
      {
        name: 'unknown flag 8',
        expected: 'EOPNOTSUPP',
        rule: 'ioas.c iommufd_ioas_map_file',
        attempt: () => map({ flags: rw | 8 }),
      },
      {
        name: 'neither read nor write',
        expected: 'EINVAL',
        rule: 'ioas.c iommufd_ioas_map_file',
        attempt: () => map({ flags: 0 }),
      },
      { name: 'no such IOAS', expected: 'ENOENT', rule: 'iommufd_get_ioas', attempt: () => map({ ioas: ioas + 1000 }) },
      {
        name: 'length 0',
        expected: 'EINVAL',
        rule: 'io_pagetable.c iopt_map_file_pages',
        attempt: () => map({ length: 0n }),
      },
      {
        name: 'fixed IOVA in use',
        expected: 'EEXIST',
        rule: 'io_pagetable.c iopt_check_iova',
        attempt: () => map({ iova: 0x50000000n }),
      },
      {
        name: 'unmap half a mapping',
        expected: 'ENOENT',
        rule: 'io_pagetable.c iopt_unmap_iova_range',
        attempt: () => fd.unmap(ioas, placed.iova + 1024n, 1024n),
      },
    ];
    const seen: Record<string, string> = {};
    for (const c of cases) {
      const got = errnoOf(c.attempt);
      // A map the kernel accepted is taken back out before the failure is reported.
      if (got.code === null && typeof got.value === 'bigint' && c.name !== 'unmap half a mapping')
        fd.unmap(ioas, got.value, PAGE);
      seen[c.name] = got.code ?? 'accepted';
      ctx.check(got.code === c.expected, `${c.name}: ${got.code ?? 'accepted'}, expected ${c.expected} (${c.rule})`);
    }
    ctx.record('errno', seen);
    ctx.note(`${cases.length} refusals with the kernel's errno`);
  },
};

export const iommufdRevokeOnReset: Scenario = {
  id: 'iommufd/revoke-on-reset',
  title: 'reset revokes an iommufd import for its duration',
  description:
    "Maps the VF's dma-buf into an IOAS and resets the VF (VFIO_DEVICE_RESET). vfio revokes for the reset and un-revokes after " +
    'it when memory is enabled (vfio_pci_ioctl_reset): iommufd is told (iopt_revoke_notify; counted with a kprobe when the kernel ' +
    'takes one), its old mapping is dead, and a new MAP_FILE of the same dma-buf succeeds. The reset must not wait for iommufd: ' +
    'it never maps through map_dma_buf.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const buf = onePage(ctx, s);
    s.importer.import(buf);
    const w = await watchRevokes(ctx, () => s.device.reset());
    ctx.record('revokeNotifications', w.notifications);
    if (w.notifications !== null)
      ctx.check(w.notifications >= 1, 'the reset did not notify iommufd (no iopt_revoke_notify hit)');
    const now = s.importer.revokedNow(buf);
    ctx.check(
      !now.revoked && now.code === null,
      `MAP_FILE after the reset: ${now.code}, expected a mapping (un-revoked)`,
    );
    ctx.note(`reset: ${describeRevokes(w)}; a new mapping works after it`);
  },
};

export const iommufdRevokeOnClose: Scenario = {
  id: 'iommufd/revoke-on-close',
  title: 'closing the VFIO device revokes an iommufd import for good',
  description:
    "Maps the VF's dma-buf into an IOAS, then closes the VFIO device (its last close). vfio_pci_dma_buf_cleanup revokes every " +
    'dma-buf for good: iommufd is told, and a new MAP_FILE is refused with ENODEV (vfio_pci_dma_buf_attach). The dead mapping ' +
    'stays an area of the IOAS and unmaps with its length. With the interconnect RFC v1 the attach dereferences the closed ' +
    'device first: an oops (quirk closed-vdev-oops).',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const buf = onePage(ctx, s);
    const m = s.importer.import(buf);
    const w = await watchRevokes(ctx, () => s.device.close());
    ctx.record('revokeNotifications', w.notifications);
    if (w.notifications !== null)
      ctx.check(w.notifications >= 1, 'the close did not notify iommufd (no iopt_revoke_notify hit)');
    const now = s.importer.revokedNow(buf);
    ctx.check(now.code === 'ENODEV', `MAP_FILE after the device closed: ${now.code ?? 'mapped'}, expected ENODEV`);
    const back = m.unmap();
    ctx.check(back === PAGE, `the dead mapping unmapped ${back} bytes, expected ${PAGE}`);
    ctx.note(`close: ${describeRevokes(w)}; MAP_FILE then ${now.code}; the dead mapping unmapped`);
  },
};

export const iommufdRevokeOnMemoryDisable: Scenario = {
  id: 'iommufd/memory-disable',
  title: 'clearing memory decode on the VF: revoke and un-revoke',
  description:
    "Maps the VF's dma-buf into an IOAS and writes PCI_COMMAND with MEMORY clear through the VFIO config region. vfio revokes on " +
    'every such write (vfio_basic_config_write) and, since a VF always counts as memory-enabled (no_command_memory), un-revokes ' +
    'in the same write: iommufd is told (its old mapping dies) and a new MAP_FILE still works. The command register is put back.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const buf = onePage(ctx, s);
    s.importer.import(buf);
    const cfg = VFIO.PCI_CONFIG_REGION_INDEX;
    const raw = s.device.read(cfg, 4, 2);
    const command = raw[0]! | (raw[1]! << 8);
    ctx.defer('restore PCI_COMMAND', () => {
      if (!s.device.closed) s.device.write(cfg, 4, Uint8Array.of(command & 0xff, command >> 8));
    });
    const off = command & ~2;
    const w = await watchRevokes(ctx, () => s.device.write(cfg, 4, Uint8Array.of(off & 0xff, off >> 8)));
    ctx.record('revokeNotifications', w.notifications);
    if (w.notifications !== null)
      ctx.check(w.notifications >= 1, 'clearing MEMORY did not notify iommufd (no iopt_revoke_notify hit)');
    const now = s.importer.revokedNow(buf);
    ctx.check(
      now.code === null,
      `MAP_FILE with MEMORY clear on a VF: ${now.code}, expected a mapping (a VF stays enabled)`,
    );
    s.device.write(cfg, 4, Uint8Array.of(command & 0xff, command >> 8));
    ctx.note(`MEMORY clear: ${describeRevokes(w)}; a new mapping still works on the VF`);
  },
};

export const iommufdScenarios: readonly Scenario[] = [
  iommufdImport,
  iommufdCdev,
  iommufdErrno,
  iommufdRevokeOnReset,
  iommufdRevokeOnMemoryDisable,
  iommufdRevokeOnClose,
];
