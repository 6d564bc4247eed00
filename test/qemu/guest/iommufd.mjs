// @ts-check
// iommufd as a dma-buf importer (docs/iommufd.md), run by the QEMU guest on a
// real kernel and by the conformance check on the mock, for a VF and for the
// PF, each bound to vfio-pci: the legacy group path, then the cdev path.
// Every rule the probe of a 7.2.13 KASAN guest observed, with its kernel
// source (drivers/iommu/iommufd/{ioas,io_pagetable,pages,main}.c,
// drivers/vfio/pci/{vfio_pci_dmabuf,vfio_pci_core,vfio_pci_config}.c,
// drivers/vfio/{device_cdev,group}.c), becomes a scenario; where the kernel
// picks a value (an IOVA, an object id, the IOVA ranges of a domain) the
// scenario reports it as `observed`, which the mock must pick too.
//
// Without /dev/iommu (Debian's stock kernel is built without CONFIG_IOMMUFD)
// every scenario skips and says so.
import { bufinfoObjects, expectErrno, fail, fdTable, newKernelFds, pass, skip, sysErr } from './scenarios.mjs';
import { codeOf, table } from './rule-table.mjs';

const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
const T = '/sys/kernel/tracing';

/**
 * @typedef {import('./scenarios.mjs').Outcome} Outcome
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {import('./scenarios.mjs').Lib & { iommufd: typeof import('../../../src/uapi/iommufd.js') }} Lib
 * @typedef {import('../../../src/uapi/vfio.js').VfioDevice} VfioDevice
 * @typedef {import('../../../src/uapi/dmabuf.js').DmaBuf} DmaBuf
 *
 * @typedef {object} Ctx
 * @property {import('../../../src/backend/types.js').Backend} backend
 * @property {Lib} lib
 * @property {string} bdf                 the device under test, bound to vfio-pci
 * @property {'vf' | 'pf'} role
 * @property {number | null} bar          a memory BAR with mmap of at least 2 pages, once found
 * @property {string | null} cdevNode      /dev/vfio/devices/vfioN of the device, when the kernel has the cdev
 *
 * @typedef {object} Scenario
 * @property {string} id      without the `iommufd.<role>.` prefix
 * @property {string} title
 * @property {Array<'iommufd' | 'bar' | 'cdev'>} needs
 * @property {string} rule    the kernel rule it pins, named when the mock disagrees
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */

/** @type {Scenario[]} */
export const IOMMUFD_SCENARIOS = [];
/** @param {string} id @param {string} title @param {Scenario['needs']} needs @param {string} rule @param {Scenario['run']} run */
function scenario(id, title, needs, rule, run) {
  IOMMUFD_SCENARIOS.push({ id, title, needs, rule, run });
}

/** @param {bigint} v */
const hex = (v) => `0x${v.toString(16)}`;

/** @param {Ctx} ctx @param {'group' | 'cdev'} access */
function openDevice(ctx, access) {
  return ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.bdf, { access });
}

/**
 * Run `fn` with the device open through `access`, an iommufd, and one IOAS
 * (for the cdev path: the device's own, attached), closing all of it after.
 * @template T
 * @param {Ctx} ctx @param {'group' | 'cdev'} access
 * @param {(o: { device: VfioDevice, iommufd: import('../../../src/uapi/iommufd.js').Iommufd, ioas: number }) => T | Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withIoas(ctx, access, fn) {
  const device = openDevice(ctx, access);
  /** @type {import('../../../src/uapi/iommufd.js').Iommufd | null} */
  let own = null;
  try {
    let iommufd = device.iommufd;
    let ioas = device.ioasId;
    if (!iommufd || ioas === null) {
      own = ctx.lib.iommufd.Iommufd.open(ctx.backend);
      iommufd = own;
      ioas = own.ioasAlloc();
    }
    return await fn({ device, iommufd, ioas });
  } finally {
    if (!device.closed) device.close();
    own?.close();
  }
}

/** @param {Ctx} ctx @param {VfioDevice} device @param {number} pages @param {number} [ranges] */
function exportPages(ctx, device, pages, ranges = 1) {
  const region = /** @type {number} */ (ctx.bar);
  const list =
    ranges === 1
      ? [{ offset: 0n, length: BigInt(pages) * PAGE }]
      : Array.from({ length: ranges }, (_, i) => ({ offset: BigInt(i) * PAGE, length: PAGE }));
  return device.exportDmaBuf({ region, ranges: list });
}

/**
 * IOMMU_IOAS_MAP_FILE with explicit fields.
 * @param {import('../../../src/uapi/iommufd.js').Iommufd} iommufd @param {number} ioas @param {number} fd
 * @param {{ length?: bigint, start?: bigint, iova?: bigint, flags?: number }} [o]
 */
function mapRaw(iommufd, ioas, fd, o = {}) {
  return iommufd.mapFile(ioas, fd, {
    length: o.length ?? PAGE,
    start: o.start ?? 0n,
    ...(o.iova === undefined ? {} : { iova: o.iova }),
    ...(o.flags === undefined ? {} : { flags: o.flags }),
  });
}

/**
 * Hits of an entry kprobe on iopt_revoke_notify (iommufd's invalidate_mappings,
 * pages.c) while `fn` runs, in an instance of our own; null with the reason when
 * tracefs or the probe is not available.
 * @param {Ctx} ctx @param {() => unknown} fn
 * @returns {Promise<{ hits: number | null, why: string | null }>}
 */
async function revokeNotifications(ctx, fn) {
  const fs = ctx.backend.fs;
  const group = `iovh_iommufd_${process.pid}`;
  const inst = `${T}/instances/${group}`;
  let armed = false;
  try {
    fs.writeFile(`${T}/kprobe_events`, `p:${group}/revoke iopt_revoke_notify`, { append: true });
    armed = true;
    fs.mkdir(inst);
    fs.writeFile(`${inst}/events/${group}/revoke/enable`, '1');
  } catch (e) {
    if (!sysErr(e)) throw e;
    if (armed) fs.writeFile(`${T}/kprobe_events`, `-:${group}/revoke`, { append: true });
    await fn();
    return { hits: null, why: `no kprobe on iopt_revoke_notify (${e.code})` };
  }
  try {
    await fn();
    const text = fs.readText(`${inst}/trace`);
    return { hits: text.split('\n').filter((l) => l.includes('(iopt_revoke_notify+')).length, why: null };
  } finally {
    fs.writeFile(`${inst}/events/${group}/revoke/enable`, '0');
    fs.rmdir(inst);
    fs.writeFile(`${T}/kprobe_events`, `-:${group}/revoke`, { append: true });
  }
}

/** @param {{ hits: number | null, why: string | null }} n */
const notifications = (n) => (n.hits === null ? `notify n/a: ${n.why}` : `notify=${n.hits}`);

// ------------------------------------------------------------ /dev/iommu

scenario(
  'present',
  '/dev/iommu opens and allocates an IOAS',
  [],
  'CONFIG_IOMMUFD: /dev/iommu, a new context, IOMMU_IOAS_ALLOC gives object id 1 (main.c, xa_alloc with XA_FLAGS_ALLOC1)',
  (ctx) => {
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      const id = fd.ioasAlloc();
      return id === 1 ? pass(`IOAS ${id}`, { observed: `ioas=${id}` }) : fail(`first IOAS id ${id}, expected 1`);
    } finally {
      fd.close();
    }
  },
);

scenario(
  'ranges-fresh',
  'a fresh IOAS allows all IOVA, alignment 1',
  ['iommufd'],
  'iopt_init_table: no domain, no reserved IOVA: IOVA_RANGES is [0, U64_MAX] with out_iova_alignment 1 (ioas.c iommufd_ioas_iova_ranges)',
  (ctx) => {
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      const r = fd.iovaRanges(fd.ioasAlloc());
      const text = `${r.ranges.map((x) => `${hex(x.start)}-${hex(x.last)}`).join(',')}/${r.alignment}`;
      const ok =
        r.ranges.length === 1 && r.ranges[0]?.start === 0n && r.ranges[0]?.last === U64_MAX && r.alignment === 1n;
      return ok ? pass(text, { observed: text }) : fail(`ranges ${text}`, { observed: text });
    } finally {
      fd.close();
    }
  },
);

scenario(
  'errno.alloc-flags',
  'IOAS_ALLOC with flags 1',
  ['iommufd'],
  'iommufd_ioas_alloc_ioctl: flags must be 0, else EOPNOTSUPP',
  (ctx) => {
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      return expectErrno(ctx, 'IOMMU_IOAS_ALLOC flags 1', 'EOPNOTSUPP', () => fd.ioasAlloc(1));
    } finally {
      fd.close();
    }
  },
);

scenario(
  'errno.destroy-missing',
  'IOMMU_DESTROY of an id never allocated',
  ['iommufd'],
  'iommufd_object_remove: no object with that id is ENOENT',
  (ctx) => {
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      return expectErrno(ctx, 'IOMMU_DESTROY 77', 'ENOENT', () => fd.destroy(77));
    } finally {
      fd.close();
    }
  },
);

scenario(
  'memfd',
  'a memfd maps (the file path of MAP_FILE)',
  ['iommufd'],
  'iopt_map_file_pages: a file that is not a dma-buf is mapped through iopt_alloc_file_pages; the automatic IOVA is the first hole above PAGE_SIZE aligned to the length, capped at a page without TRANSPARENT_HUGEPAGE (io_pagetable.c iopt_alloc_iova)',
  (ctx) => {
    const { MFD } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const memfd = dev.memfdCreate('iovh-iommufd', MFD.CLOEXEC);
    try {
      dev.ftruncate(memfd, 2n * PAGE);
      const ioas = fd.ioasAlloc();
      const iova = mapRaw(fd, ioas, memfd, { length: 2n * PAGE });
      const unmapped = fd.unmap(ioas, iova, 2n * PAGE);
      if (unmapped !== 2n * PAGE) return fail(`unmap gave ${unmapped} bytes back, expected ${2n * PAGE}`);
      return pass(`8 KiB memfd at ${hex(iova)}`, { observed: `iova=${hex(iova)}` });
    } finally {
      dev.close(memfd);
      fd.close();
    }
  },
);

// ------------------------------------------------------------ the legacy group path

scenario(
  'legacy.map-auto',
  'one range maps, automatic IOVA, device through the legacy group',
  ['iommufd', 'bar'],
  'iopt_map_dmabuf attaches with iommufd_global_device(), so a VFIO device opened through the group works; the first automatic IOVA is 0x1000 (iopt_alloc_iova: holes from PAGE_SIZE)',
  (ctx) =>
    withIoas(ctx, 'group', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      try {
        const iova = mapRaw(iommufd, ioas, buf.fd);
        return iova === 0x1000n
          ? pass(`dma-buf of ${ctx.bdf} BAR${ctx.bar} at ${hex(iova)}`, { observed: `iova=${hex(iova)}` })
          : fail(`automatic IOVA ${hex(iova)}, expected 0x1000`, { observed: `iova=${hex(iova)}` });
      } finally {
        buf.close();
      }
    }),
);

scenario(
  'legacy.map-fixed',
  'one range maps at a fixed IOVA; the same IOVA again is EEXIST',
  ['iommufd', 'bar'],
  'IOMMU_IOAS_MAP_FIXED_IOVA maps at the given IOVA; an IOVA range already mapped is EEXIST (io_pagetable.c iopt_check_iova)',
  (ctx) =>
    withIoas(ctx, 'group', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      try {
        const iova = mapRaw(iommufd, ioas, buf.fd, { iova: 0x40000000n });
        if (iova !== 0x40000000n) return fail(`FIXED_IOVA 0x40000000 gave ${hex(iova)}`);
        return expectErrno(ctx, 'FIXED_IOVA 0x40000000 again', 'EEXIST', () =>
          mapRaw(iommufd, ioas, buf.fd, { iova: 0x40000000n }),
        );
      } finally {
        buf.close();
      }
    }),
);

/**
 * An errno case on a mapped one-page dma-buf of the legacy path.
 * @param {string} id @param {string} title @param {string} code @param {string} rule
 * @param {(o: { iommufd: import('../../../src/uapi/iommufd.js').Iommufd, ioas: number, buf: DmaBuf, two: DmaBuf }) => unknown} call
 */
function errnoCase(id, title, code, rule, call) {
  scenario(id, title, ['iommufd', 'bar'], rule, (ctx) =>
    withIoas(ctx, 'group', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      const two = exportPages(ctx, device, 2, 2);
      try {
        return expectErrno(ctx, title, code, () => call({ iommufd, ioas, buf, two }));
      } finally {
        buf.close();
        two.close();
      }
    }),
  );
}

errnoCase(
  'legacy.beyond-size',
  'length 8 KiB of a one-page dma-buf',
  'EINVAL',
  'pages.c iopt_alloc_dmabuf_pages: dmabuf->size <= start + length - 1 is EINVAL',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { length: 2n * PAGE }),
);
errnoCase(
  'legacy.start-beyond-size',
  'start at the end of a one-page dma-buf',
  'EINVAL',
  'pages.c iopt_alloc_dmabuf_pages: the range is checked against the dma-buf size, start included',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { start: PAGE }),
);
errnoCase(
  'legacy.two-ranges',
  'a two-range dma-buf, one page of it',
  'EOPNOTSUPP',
  'vfio_pci_dma_buf_iommufd_map: nr_ranges != 1 is EOPNOTSUPP (iommufd takes one physical range)',
  ({ iommufd, ioas, two }) => mapRaw(iommufd, ioas, two.fd),
);
errnoCase(
  'legacy.two-ranges-whole',
  'a two-range dma-buf, all of it',
  'EOPNOTSUPP',
  'vfio_pci_dma_buf_iommufd_map: nr_ranges != 1 is EOPNOTSUPP whatever the length',
  ({ iommufd, ioas, two }) => mapRaw(iommufd, ioas, two.fd, { length: 2n * PAGE }),
);
errnoCase(
  'errno.flags',
  'map flag 8 (unknown)',
  'EOPNOTSUPP',
  'iommufd_ioas_map_file: flags beyond FIXED_IOVA|WRITEABLE|READABLE are EOPNOTSUPP, checked first',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { flags: 6 | 8 }),
);
errnoCase(
  'errno.length-max',
  'length U64_MAX',
  'EOVERFLOW',
  'iommufd_ioas_map_file: iova or length >= ULONG_MAX is EOVERFLOW, before the access check',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { length: U64_MAX, flags: 0 }),
);
errnoCase(
  'errno.no-access',
  'neither READABLE nor WRITEABLE',
  'EINVAL',
  'iommufd_ioas_map_file: a map must allow reads or writes (EINVAL)',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { flags: 0 }),
);
errnoCase(
  'errno.no-ioas',
  'an IOAS id that does not exist',
  'ENOENT',
  'iommufd_get_ioas: no IOAS with that id is ENOENT',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas + 100, buf.fd),
);
errnoCase(
  'errno.length-zero',
  'length 0',
  'EINVAL',
  'iopt_map_file_pages: length 0 is EINVAL',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { length: 0n }),
);
errnoCase(
  'errno.start-overflow',
  'start + length overflows',
  'EOVERFLOW',
  'iopt_map_file_pages: start + length - 1 overflowing is EOVERFLOW, before the file is looked at',
  ({ iommufd, ioas, buf }) => mapRaw(iommufd, ioas, buf.fd, { start: U64_MAX - 100n }),
);
errnoCase(
  'errno.bad-fd',
  'an fd that is not open',
  'EBADF',
  'iopt_map_file_pages: dma_buf_get fails, then fget of a closed fd is EBADF',
  ({ iommufd, ioas }) => mapRaw(iommufd, ioas, 4000),
);
errnoCase(
  'errno.unmap-missing',
  'IOAS_UNMAP where nothing is mapped',
  'ENOENT',
  'iommufd_ioas_unmap: nothing unmapped is ENOENT (except for iova 0, length U64_MAX)',
  ({ iommufd, ioas }) => iommufd.unmap(ioas, 0x10000000n, PAGE),
);
errnoCase(
  'errno.unmap-split',
  'IOAS_UNMAP of half a mapping',
  'ENOENT',
  'iopt_unmap_iova_range: a range that cuts a mapping is ENOENT (no splitting)',
  ({ iommufd, ioas, two }) => {
    // two has two ranges; a single-range two-page dma-buf is needed: use a memfd of two pages.
    void two;
    const dev = iommufd.backend.dev;
    const memfd = dev.memfdCreate('iovh-iommufd-split', 1);
    try {
      dev.ftruncate(memfd, 2n * PAGE);
      const iova = mapRaw(iommufd, ioas, memfd, { length: 2n * PAGE, iova: 0x20000000n });
      return iommufd.unmap(ioas, iova, PAGE);
    } finally {
      dev.close(memfd);
    }
  },
);

scenario(
  'legacy.references',
  'each mapping holds the dma-buf and attaches as device "iommu"',
  ['iommufd', 'bar'],
  'iopt_map_file_pages takes a file reference (dma_buf_get) that iopt_release_pages puts at unmap; the attachment is made with the /dev/iommu misc device, dev_name "iommu" (fdinfo count, bufinfo Attached Devices)',
  (ctx) =>
    withIoas(ctx, 'group', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      try {
        const count = () => buf.fdinfo().count;
        const attached = () => bufinfoObjects(ctx).find((o) => o.ino === buf.fdinfo().ino)?.attached ?? [];
        const before = count();
        mapRaw(iommufd, ioas, buf.fd);
        mapRaw(iommufd, ioas, buf.fd);
        const during = count();
        const devs = attached().join(',');
        const all = iommufd.unmap(ioas, 0n, U64_MAX);
        const after = count();
        const left = attached().length;
        const text = `count ${before}->${during}->${after}, attached [${devs}], unmapped ${all}`;
        if (during !== before + 2 || after !== before || devs !== 'iommu,iommu' || left !== 0 || all !== 2n * PAGE)
          return fail(text, { observed: text });
        return pass(text, { observed: text });
      } finally {
        buf.close();
      }
    }),
);

scenario(
  'legacy.held-by-ioas',
  'the IOAS keeps a mapped dma-buf alive after its fd closes',
  ['iommufd', 'bar'],
  'the mapping holds the dma-buf file until unmapped; closing /dev/iommu destroys the IOAS, which unmaps and puts it (iommufd_fops_release, iommufd_ioas_destroy)',
  (ctx) => {
    const device = openDevice(ctx, 'group');
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      const ioas = fd.ioasAlloc();
      const buf = exportPages(ctx, device, 1);
      buf.setName('iovh-ioas-held');
      mapRaw(fd, ioas, buf.fd);
      buf.close();
      const named = () => bufinfoObjects(ctx).filter((o) => o.name === 'iovh-ioas-held').length;
      const held = named();
      fd.close();
      const after = named();
      return held === 1 && after === 0
        ? pass('listed in bufinfo after its fd closed, gone after /dev/iommu closed')
        : fail(`bufinfo lists it ${held} time(s) while mapped, ${after} after /dev/iommu closed`);
    } finally {
      fd.close();
      device.close();
    }
  },
);

scenario(
  'legacy.reset',
  'VFIO_DEVICE_RESET revokes only for its duration',
  ['iommufd', 'bar'],
  'vfio_pci_ioctl_reset: vfio_pci_dma_buf_move(true), the reset, then move(false) when memory is enabled: iopt_revoke_notify runs for the revoke and again (a no-op) for the un-revoke; the old dma-buf and a new one map again (0x2000, 0x3000)',
  (ctx) =>
    withIoas(ctx, 'group', async ({ device, iommufd, ioas }) => {
      const old = exportPages(ctx, device, 1);
      try {
        const first = mapRaw(iommufd, ioas, old.fd);
        const n = await revokeNotifications(ctx, () => device.reset());
        const again = mapRaw(iommufd, ioas, old.fd);
        const fresh = exportPages(ctx, device, 1);
        try {
          const third = mapRaw(iommufd, ioas, fresh.fd);
          const text = `${hex(first)}, after reset ${hex(again)} and ${hex(third)}; ${notifications(n)}`;
          return pass(text, { observed: text });
        } finally {
          fresh.close();
        }
      } finally {
        old.close();
      }
    }),
);

scenario(
  'legacy.close',
  'closing the VFIO device revokes for good: MAP_FILE is ENODEV',
  ['iommufd', 'bar'],
  'vfio_pci_dma_buf_cleanup at the last close: revoked for good (priv->vdev NULL); vfio_pci_dma_buf_attach then refuses with ENODEV; the dead mapping stays an area until unmapped',
  async (ctx) => {
    const device = openDevice(ctx, 'group');
    const fd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const buf = exportPages(ctx, device, 1);
    try {
      const ioas = fd.ioasAlloc();
      const iova = mapRaw(fd, ioas, buf.fd);
      const n = await revokeNotifications(ctx, () => device.close());
      const r = expectErrno(ctx, 'MAP_FILE after the device closed', 'ENODEV', () => mapRaw(fd, ioas, buf.fd));
      if (r.status !== 'pass') return r;
      const back = fd.unmap(ioas, iova, PAGE);
      const text = `ENODEV; the dead mapping unmapped (${back} bytes); ${notifications(n)}`;
      return back === PAGE
        ? pass(text, { errno: 'ENODEV', observed: text })
        : fail(text, { errno: 'ENODEV', observed: text });
    } finally {
      buf.close();
      fd.close();
      if (!device.closed) device.close();
    }
  },
);

scenario(
  'legacy.command-memory',
  'PCI_COMMAND with MEMORY clear: a PF revokes until it is set again, a VF does not',
  ['iommufd', 'bar'],
  'vfio_basic_config_write: a COMMAND write with MEMORY clear revokes, and un-revokes at once when __vfio_pci_memory_enabled (always on a VF: no_command_memory); a dma-buf exported while revoked starts revoked (vfio_pci_dmabuf.c); setting MEMORY again un-revokes',
  (ctx) =>
    withIoas(ctx, 'group', async ({ device, iommufd, ioas }) => {
      const { VFIO } = ctx.lib.uapi;
      const cfg = VFIO.PCI_CONFIG_REGION_INDEX;
      const raw = device.read(cfg, 4, 2);
      const command = raw[0] | (raw[1] << 8);
      const write = (/** @type {number} */ v) => device.write(cfg, 4, Uint8Array.of(v & 0xff, v >> 8));
      const before = exportPages(ctx, device, 1);
      /** @type {DmaBuf | null} */
      let during = null;
      try {
        mapRaw(iommufd, ioas, before.fd);
        const n = await revokeNotifications(ctx, () => write(command & ~2));
        const old = codeOf(() => mapRaw(iommufd, ioas, before.fd));
        during = exportPages(ctx, device, 1);
        const fresh = codeOf(() => mapRaw(iommufd, ioas, /** @type {DmaBuf} */ (during).fd));
        write(command);
        const back = codeOf(() => mapRaw(iommufd, ioas, before.fd));
        const backFresh = codeOf(() => mapRaw(iommufd, ioas, /** @type {DmaBuf} */ (during).fd));
        const text = `MEMORY off: old ${old}, exported then ${fresh}; MEMORY on: ${back}, ${backFresh}; ${notifications(n)}`;
        const want = ctx.role === 'pf' ? 'ENODEV' : 'ok';
        const ok = old === want && fresh === want && back === 'ok' && backFresh === 'ok';
        const extra = { observed: text, errno: want === 'ok' ? null : want };
        return ok ? pass(text, extra) : fail(`${text} (expected ${want} while MEMORY was off)`, extra);
      } finally {
        during?.close();
        before.close();
      }
    }),
);

// ------------------------------------------------------------ the cdev path

scenario(
  'cdev.before-bind',
  'the device cdev refuses every ioctl before BIND_IOMMUFD',
  ['iommufd', 'cdev'],
  'vfio_device_fops_unl_ioctl: before BIND_IOMMUFD (access not granted) every ioctl is EINVAL',
  (ctx) => {
    const { O } = ctx.lib.uapi;
    const fd = ctx.backend.dev.open(/** @type {string} */ (ctx.cdevNode), O.RDWR | O.CLOEXEC);
    try {
      return expectErrno(ctx, 'VFIO_DEVICE_GET_INFO before bind', 'EINVAL', () =>
        ctx.backend.dev.vfioDeviceGetInfo(fd),
      );
    } finally {
      ctx.backend.dev.close(fd);
    }
  },
);

scenario(
  'cdev.bind-attach',
  'bind, IOAS, attach: ids and the domain IOVA ranges',
  ['iommufd', 'cdev', 'bar'],
  'iommufd_device_bind makes the device object (id 1), the IOAS is id 2, attaching makes an automatic HWPT; the domain reserves the interrupt window and what lies beyond its aperture and sets the alignment to its page size (iopt_table_add_domain, intel_iommu_get_resv_regions)',
  (ctx) =>
    withIoas(ctx, 'cdev', ({ device, iommufd, ioas }) => {
      const r = iommufd.iovaRanges(ioas);
      const text = `devid=${device.devid} ioas=${ioas} ranges=${r.ranges.map((x) => `${hex(x.start)}-${hex(x.last)}`).join(',')}/${r.alignment}`;
      return device.devid === 1 && ioas === 2 && r.alignment === PAGE
        ? pass(text, { observed: text })
        : fail(text, { observed: text });
    }),
);

scenario(
  'cdev.busy',
  'while bound: the IOAS and the device are busy, the group cannot be opened',
  ['iommufd', 'cdev'],
  'iommufd_object_remove: the automatic HWPT holds the IOAS and VFIO holds the device object (EBUSY); vfio_group_fops_open: EBUSY while a device of the group is bound through its cdev',
  (ctx) =>
    withIoas(ctx, 'cdev', ({ device, iommufd, ioas }) => {
      const a = expectErrno(ctx, 'IOMMU_DESTROY of the attached IOAS', 'EBUSY', () => iommufd.destroy(ioas));
      if (a.status !== 'pass') return a;
      const b = expectErrno(ctx, 'IOMMU_DESTROY of the bound device', 'EBUSY', () =>
        iommufd.destroy(/** @type {number} */ (device.devid)),
      );
      if (b.status !== 'pass') return b;
      const group = ctx.lib.vfio.iommuGroupOf(ctx.backend, ctx.bdf);
      return expectErrno(ctx, `open /dev/vfio/${group}`, 'EBUSY', () =>
        ctx.backend.dev.open(`/dev/vfio/${group}`, ctx.lib.uapi.O.RDWR),
      );
    }),
);

scenario(
  'cdev.map',
  'one range maps into the device IOAS, automatic and fixed IOVA; a reserved IOVA is EINVAL',
  ['iommufd', 'cdev', 'bar'],
  'with a domain attached the automatic IOVA is the first page-aligned hole from PAGE_SIZE; a fixed IOVA in reserved space is EINVAL (iopt_check_iova)',
  (ctx) =>
    withIoas(ctx, 'cdev', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      try {
        const auto = mapRaw(iommufd, ioas, buf.fd);
        const fixed = mapRaw(iommufd, ioas, buf.fd, { iova: 0x40000000n });
        const r = iommufd.iovaRanges(ioas);
        const gap = r.ranges.length > 1 ? /** @type {{ last: bigint }} */ (r.ranges[0]).last + 1n : null;
        const text = `${hex(auto)}, fixed ${hex(fixed)}`;
        if (fixed !== 0x40000000n) return fail(text, { observed: text });
        if (gap === null) return pass(`${text}; no reserved IOVA below the aperture`, { observed: text });
        const res = expectErrno(ctx, `FIXED_IOVA ${hex(gap)} (reserved)`, 'EINVAL', () =>
          mapRaw(iommufd, ioas, buf.fd, { iova: gap }),
        );
        return res.status === 'pass' ? pass(`${text}; ${hex(gap)} reserved: EINVAL`, { observed: text }) : res;
      } finally {
        buf.close();
      }
    }),
);

scenario(
  'cdev.errno',
  'through the cdev: beyond the size EINVAL, two ranges EOPNOTSUPP',
  ['iommufd', 'cdev', 'bar'],
  'the exporter rules do not depend on how the device was opened (pages.c iopt_alloc_dmabuf_pages, vfio_pci_dma_buf_iommufd_map)',
  (ctx) =>
    withIoas(ctx, 'cdev', ({ device, iommufd, ioas }) => {
      const buf = exportPages(ctx, device, 1);
      const two = exportPages(ctx, device, 2, 2);
      try {
        const a = expectErrno(ctx, 'length 8 KiB of one page', 'EINVAL', () =>
          mapRaw(iommufd, ioas, buf.fd, { length: 2n * PAGE }),
        );
        if (a.status !== 'pass') return a;
        return expectErrno(ctx, 'two ranges', 'EOPNOTSUPP', () => mapRaw(iommufd, ioas, two.fd));
      } finally {
        buf.close();
        two.close();
      }
    }),
);

scenario(
  'cdev.reset-close',
  'through the cdev: a reset revokes for its duration, closing the device for good',
  ['iommufd', 'cdev', 'bar'],
  'vfio_pci_ioctl_reset un-revokes; the last close (vfio_df_unbind_iommufd, after vfio_pci_dma_buf_cleanup) revokes for good: ENODEV; the IOAS is no longer busy',
  async (ctx) => {
    const device = openDevice(ctx, 'cdev');
    const iommufd = /** @type {import('../../../src/uapi/iommufd.js').Iommufd} */ (device.iommufd);
    const ioas = /** @type {number} */ (device.ioasId);
    const buf = exportPages(ctx, device, 1);
    // The device's close closes its iommufd: keep a context of our own to look afterwards.
    const own = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    try {
      const first = mapRaw(iommufd, ioas, buf.fd);
      const n = await revokeNotifications(ctx, () => device.reset());
      const again = mapRaw(iommufd, ioas, buf.fd);
      device.close();
      const ownIoas = own.ioasAlloc();
      const r = expectErrno(ctx, 'MAP_FILE after the device closed', 'ENODEV', () => mapRaw(own, ownIoas, buf.fd));
      if (r.status !== 'pass') return r;
      const text = `${hex(first)}, after reset ${hex(again)}; ENODEV after close; ${notifications(n)}`;
      return pass(text, { errno: 'ENODEV', observed: text });
    } finally {
      buf.close();
      own.close();
      if (!device.closed) device.close();
    }
  },
);

scenario(
  'errno.unmap',
  'IOAS_UNMAP refuses a zero length and an overflow; unmap-all of nothing is not an error',
  ['iommufd'],
  'iommufd_ioas_unmap: iova 0 with length U64_MAX unmaps everything (nothing is not ENOENT); otherwise iova or length >= ULONG_MAX is EOVERFLOW; iopt_unmap_iova: length 0 EINVAL, iova + length - 1 overflowing EOVERFLOW; the count unmapped is returned',
  (ctx) => {
    const dev = ctx.backend.dev;
    const iommufd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const memfd = dev.memfdCreate('iovh-iommufd-unmap', 1);
    try {
      const ioas = iommufd.ioasAlloc();
      dev.ftruncate(memfd, 2n * PAGE);
      return table([
        ['unmap all of nothing', 'ok', () => iommufd.unmap(ioas, 0n, U64_MAX) === 0n || dev.close(-1)],
        ['length 0', 'EINVAL', () => iommufd.unmap(ioas, PAGE, 0n)],
        ['iova 1, length U64_MAX', 'EOVERFLOW', () => iommufd.unmap(ioas, 1n, U64_MAX)],
        ['iova U64_MAX', 'EOVERFLOW', () => iommufd.unmap(ioas, U64_MAX, PAGE)],
        ['iova + length overflows', 'EOVERFLOW', () => iommufd.unmap(ioas, 2n * PAGE, U64_MAX - PAGE)],
        ['map 8 KiB', 'ok', () => mapRaw(iommufd, ioas, memfd, { length: 2n * PAGE, iova: 0x100000n })],
        ['map half a page', 'ok', () => mapRaw(iommufd, ioas, memfd, { length: PAGE / 2n, iova: 0x200000n })],
        ['unmap all: 10 KiB', 'ok', () => iommufd.unmap(ioas, 0n, U64_MAX) === 5n * (PAGE / 2n) || dev.close(-1)],
      ]);
    } finally {
      dev.close(memfd);
      iommufd.close();
    }
  },
);

scenario(
  'cdev.bind-errno',
  'BIND_IOMMUFD and ATTACH_IOMMUFD_PT refuse what device_cdev.c refuses',
  ['iommufd', 'cdev'],
  'vfio_device_fops_unl_ioctl: any ioctl but BIND before the bind EINVAL; vfio_df_ioctl_bind_iommufd: a negative iommufd or an unknown flag EINVAL, an open group EBUSY (vfio_device_block_group), a closed fd EBADF and a file that is not an iommufd EBADFD (iommufd_ctx_from_fd), the same fd bound twice EINVAL (access_granted), a second cdev fd of the bound device EINVAL (vfio_df_open: open_count); iommufd_device_change_pt: no such object ENOENT, an object that is neither an IOAS nor a HWPT EINVAL; attaching to another IOAS replaces (iommufd_device_replace), to the HWPT id works; detaching twice is not an error',
  (ctx) => {
    const { O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const node = /** @type {string} */ (ctx.cdevNode);
    const group = ctx.lib.vfio.iommuGroupOf(ctx.backend, ctx.bdf);
    const iommufd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const a = dev.open(node, O.RDWR | O.CLOEXEC);
    const b = dev.open(node, O.RDWR | O.CLOEXEC);
    const nul = dev.open('/dev/null', O.RDWR);
    try {
      const ioas = iommufd.ioasAlloc();
      const other = iommufd.ioasAlloc();
      let devid = 0;
      return table([
        ['ATTACH before bind', 'EINVAL', () => dev.vfioDeviceAttachIommufdPt(a, ioas)],
        ['iommufd -1', 'EINVAL', () => dev.vfioDeviceBindIommufd(a, -1)],
        ['flag 0x2', 'EINVAL', () => dev.vfioDeviceBindIommufd(a, iommufd.fd, 0x2)],
        [
          'group open',
          'EBUSY',
          () => {
            const g = dev.open(`/dev/vfio/${group}`, O.RDWR);
            try {
              dev.vfioDeviceBindIommufd(a, iommufd.fd);
            } finally {
              dev.close(g);
            }
          },
        ],
        ['a closed fd', 'EBADF', () => dev.vfioDeviceBindIommufd(a, 4003)],
        ['/dev/null', 'EBADFD', () => dev.vfioDeviceBindIommufd(a, nul)],
        ['bind', 'ok', () => (devid = dev.vfioDeviceBindIommufd(a, iommufd.fd)) > 0 || dev.close(-1)],
        ['bind again', 'EINVAL', () => dev.vfioDeviceBindIommufd(a, iommufd.fd)],
        ['bind a second fd', 'EINVAL', () => dev.vfioDeviceBindIommufd(b, iommufd.fd)],
        ['ATTACH to no object', 'ENOENT', () => dev.vfioDeviceAttachIommufdPt(a, 999)],
        ['ATTACH to the device object', 'EINVAL', () => dev.vfioDeviceAttachIommufdPt(a, devid)],
        ['ATTACH', 'ok', () => dev.vfioDeviceAttachIommufdPt(a, ioas)],
        ['ATTACH the same IOAS again', 'ok', () => dev.vfioDeviceAttachIommufdPt(a, ioas)],
        ['ATTACH another IOAS', 'ok', () => dev.vfioDeviceAttachIommufdPt(a, other)],
        ['the first IOAS is free', 'ok', () => iommufd.destroy(ioas)],
        ['DETACH', 'ok', () => dev.vfioDeviceDetachIommufdPt(a)],
        ['DETACH again', 'ok', () => dev.vfioDeviceDetachIommufdPt(a)],
        ['the other IOAS is free', 'ok', () => iommufd.destroy(other)],
      ]);
    } finally {
      for (const fd of [nul, b, a]) dev.close(fd);
      iommufd.close();
    }
  },
);

scenario(
  'cdev.align',
  'with a domain attached the IOAS takes page-aligned mappings only',
  ['iommufd', 'cdev'],
  'iopt_table_add_domain raises iova_alignment to the domain page size; iopt_alloc_area_pages: a length that is not a multiple EINVAL; iopt_check_iova: a fixed IOVA not aligned EINVAL, iova + length - 1 overflowing EOVERFLOW; iopt_alloc_iova: a file offset whose alignment is below it EINVAL; without a domain (a fresh IOAS) half a page maps',
  (ctx) =>
    withIoas(ctx, 'cdev', ({ iommufd, ioas }) => {
      const dev = ctx.backend.dev;
      const memfd = dev.memfdCreate('iovh-iommufd-align', 1);
      try {
        dev.ftruncate(memfd, 4n * PAGE);
        const fresh = iommufd.ioasAlloc();
        return table([
          ['half a page', 'EINVAL', () => mapRaw(iommufd, ioas, memfd, { length: PAGE / 2n })],
          ['fixed IOVA 0x40000800', 'EINVAL', () => mapRaw(iommufd, ioas, memfd, { iova: 0x40000800n })],
          ['file offset 0x800', 'EINVAL', () => mapRaw(iommufd, ioas, memfd, { start: PAGE / 2n, length: PAGE })],
          [
            'fixed IOVA at the top',
            'EOVERFLOW',
            () => mapRaw(iommufd, ioas, memfd, { iova: U64_MAX - PAGE + 1n, length: 2n * PAGE }),
          ],
          ['one page', 'ok', () => mapRaw(iommufd, ioas, memfd, { iova: 0x40000000n })],
          ['half a page, no domain', 'ok', () => mapRaw(iommufd, fresh, memfd, { length: PAGE / 2n, iova: 0x800n })],
        ]);
      } finally {
        dev.close(memfd);
      }
    }),
);

scenario(
  'errno.file-kinds',
  'IOAS_MAP_FILE of files that are neither a memfd nor a VFIO dma-buf',
  ['iommufd'],
  'iopt_map_file_pages: a dma-buf goes to iopt_alloc_dmabuf_pages, which maps only a VFIO dma-buf (vfio_pci_dma_buf_iommufd_map: another exporter, here udmabuf, EOPNOTSUPP); any other file to iopt_alloc_file_pages, which takes any file and pins nothing yet (with no domain attached, /dev/null maps: its pages are read only when a domain or an access needs them); a closed fd EBADF (fget)',
  (ctx) => {
    const { O, MFD, F_SEAL } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    if (!ctx.backend.fs.exists('/dev/udmabuf')) return skip('no /dev/udmabuf (CONFIG_UDMABUF)');
    const iommufd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const ctl = dev.open('/dev/udmabuf', O.RDWR);
    const memfd = dev.memfdCreate('iovh-iommufd-kinds', MFD.ALLOW_SEALING);
    const nul = dev.open('/dev/null', O.RDWR);
    /** @type {number | null} */
    let buf = null;
    try {
      dev.ftruncate(memfd, PAGE);
      dev.addSeals(memfd, F_SEAL.SHRINK);
      buf = dev.udmabufCreate(ctl, { memfd, offset: 0n, size: PAGE });
      const ioas = iommufd.ioasAlloc();
      const udmabuf = /** @type {number} */ (buf);
      return table([
        ['a udmabuf', 'EOPNOTSUPP', () => mapRaw(iommufd, ioas, udmabuf)],
        ['/dev/null, no domain', 'ok', () => mapRaw(iommufd, ioas, nul)],
        ['a closed fd', 'EBADF', () => mapRaw(iommufd, ioas, 4009)],
        ['the memfd', 'ok', () => mapRaw(iommufd, ioas, memfd)],
      ]);
    } finally {
      if (buf !== null) dev.close(buf);
      for (const fd of [nul, memfd, ctl]) dev.close(fd);
      iommufd.close();
    }
  },
);

scenario(
  'cdev.attach-conflicts',
  'attaching a device to an IOAS whose mappings its domain cannot hold',
  ['iommufd', 'cdev'],
  "iommufd_device_attach -> iopt_table_enforce_dev_resv_regions: a mapping over the device's reserved IOVA (the x86 MSI window 0xfee00000-0xfeefffff) is EADDRINUSE (iopt_reserve_iova); iopt_table_add_domain: a mapping not aligned to the domain's page size is EADDRINUSE (iopt_check_iova_alignment); the failed attach leaves the device free for an IOAS that fits",
  (ctx) => {
    const { O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const node = /** @type {string} */ (ctx.cdevNode);
    const iommufd = ctx.lib.iommufd.Iommufd.open(ctx.backend);
    const memfd = dev.memfdCreate('iovh-iommufd-conflicts', 1);
    const d = dev.open(node, O.RDWR | O.CLOEXEC);
    try {
      dev.ftruncate(memfd, 2n * PAGE);
      const msi = iommufd.ioasAlloc();
      const half = iommufd.ioasAlloc();
      const good = iommufd.ioasAlloc();
      return table([
        ['map at 0xfee00000, no domain yet', 'ok', () => mapRaw(iommufd, msi, memfd, { iova: 0xfee00000n })],
        ['map half a page at 0x800', 'ok', () => mapRaw(iommufd, half, memfd, { length: PAGE / 2n, iova: 0x800n })],
        ['map a page at 0x100000', 'ok', () => mapRaw(iommufd, good, memfd, { iova: 0x100000n })],
        ['bind', 'ok', () => dev.vfioDeviceBindIommufd(d, iommufd.fd)],
        ['attach over the MSI window', 'EADDRINUSE', () => dev.vfioDeviceAttachIommufdPt(d, msi)],
        ['attach with an unaligned mapping', 'EADDRINUSE', () => dev.vfioDeviceAttachIommufdPt(d, half)],
        ['attach where it fits', 'ok', () => dev.vfioDeviceAttachIommufdPt(d, good)],
        ['detach', 'ok', () => dev.vfioDeviceDetachIommufdPt(d)],
      ]);
    } finally {
      dev.close(d);
      dev.close(memfd);
      iommufd.close();
    }
  },
);

// ------------------------------------------------------------ what is left

scenario(
  'leak',
  'nothing of ours left: fds, iommu attachments, vfio dma-bufs',
  [],
  'every mapping, IOAS and context is released on close; a dma-buf goes from bufinfo with its last reference',
  (ctx) => {
    const left = bufinfoObjects(ctx).filter(
      (o) => o.expName === 'vfio_pci_core' || o.attached.some((d) => d === 'iommu'),
    );
    if (left.length)
      return fail(`bufinfo still lists ${left.map((o) => `${o.expName} ino ${o.ino} [${o.attached}]`).join(', ')}`);
    return pass('no vfio_pci_core dma-buf and no iommu attachment left');
  },
);

/**
 * Run the scenarios for one device (a VF or the PF, bound to vfio-pci), each
 * id prefixed `iommufd.<role>.`. Without /dev/iommu every one skips.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, bdf: string, role: 'vf' | 'pf', onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export async function runIommufdScenarios(o) {
  /** @type {Ctx} */
  const ctx = { backend: o.backend, lib: o.lib, bdf: o.bdf, role: o.role, bar: null, cdevNode: null };
  const present = o.lib.iommufd.Iommufd.present(o.backend);
  /** @type {Result[]} */
  const results = [];
  let started = false;
  for (const s of IOMMUFD_SCENARIOS) {
    const t0 = performance.now();
    /** @type {Outcome} */
    let out;
    if (!present) {
      out = skip(
        "no /dev/iommu: the kernel is built without CONFIG_IOMMUFD (Debian's stock kernel); boot one built with it (npm run test:qemu builds one)",
      );
    } else {
      if (!started) {
        started = true;
        ctx.bar = findBar(ctx);
        const node = o.lib.vfio.vfioCdevOf(o.backend, o.bdf);
        ctx.cdevNode = node && o.backend.fs.exists(node) ? node : null;
      }
      const missing = s.needs.filter((n) =>
        n === 'bar' ? ctx.bar === null : n === 'cdev' ? ctx.cdevNode === null : false,
      );
      if (missing.length) {
        out = skip(
          missing.includes('cdev')
            ? `${o.bdf} has no VFIO cdev (the kernel needs CONFIG_VFIO_DEVICE_CDEV)`
            : `${o.bdf} has no mmap-able memory BAR of two pages or more`,
        );
      } else {
        const before = fdTable(ctx);
        try {
          out = await s.run(ctx);
        } catch (e) {
          const err = /** @type {Error & { code?: string }} */ (e);
          out = fail(`${err.name ?? 'Error'}: ${err.message}`, { errno: sysErr(e) ? err.code : null });
        }
        const after = before ? fdTable(ctx) : null;
        if (before && after && out.status === 'pass') {
          const leaked = newKernelFds(before, after).concat(
            [...after]
              .filter(([fd, l]) => before.get(fd) !== l && l === '/dev/iommu')
              .map(([fd, l]) => `${fd} -> ${l}`),
          );
          if (leaked.length) out = fail(`${out.detail}; but left open: ${leaked.join(', ')}`, { errno: out.errno });
        }
      }
    }
    const r = {
      id: `iommufd.${o.role}.${s.id}`,
      title: s.title,
      ...out,
      ms: Math.round((performance.now() - t0) * 10) / 10,
    };
    results.push(r);
    o.onResult?.(r);
  }
  return results;
}

/**
 * The first memory BAR with mmap of at least two pages (the two-range export needs two).
 * @param {Ctx} ctx
 */
function findBar(ctx) {
  const device = openDevice(ctx, 'group');
  try {
    for (let i = 0; i < 6; i++) {
      const r = device.regionInfo(i);
      if (r.size >= 2n * PAGE && r.flags & ctx.lib.uapi.VFIO.REGION_INFO_FLAG_MMAP) return i;
    }
    return null;
  } finally {
    device.close();
  }
}

/**
 * The kernel rule of each scenario id, for both roles (conformance names it on a disagreement).
 * @type {Record<string, string>}
 */
export const IOMMUFD_RULES = Object.fromEntries(
  ['vf', 'pf'].flatMap((role) => IOMMUFD_SCENARIOS.map((s) => [`iommufd.${role}.${s.id}`, s.rule])),
);
