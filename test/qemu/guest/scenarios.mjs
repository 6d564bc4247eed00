// @ts-check
// The scenarios the QEMU guest runs against a real kernel, and the model
// conformance check runs against the mock (upstream profile, igb-like
// topology): same code, same Backend seam, so their results compare one to
// one (status, path, errno).
//
// What a Debian sid kernel under QEMU can show (scripts/qemu-ci/README.md): an
// emulated SR-IOV device's VF bound to vfio-pci, opened through the legacy
// group/container path, exporting its BARs as dma-bufs (docs/kernel.md §3), the
// errno of every invalid request in the order vfio checks them (docs/kernel.md
// §3.3 and drivers/vfio/pci/vfio_pci_dmabuf.c, vfio_pci_core_feature_dma_buf,
// validate_dmabuf_input, vfio_pci_core_fill_phys_vec; drivers/vfio/vfio_main.c,
// vfio_ioctl_device_feature and vfio_check_feature), the dma-buf's fd
// properties (docs/kernel.md §10), refusal by a non-P2P importer (vgem), the
// udmabuf -> vgem control import, and lifecycle (reset, close after export).
// There is no xe and no LMEM here, so no IOV path and no data check.
//
// Each scenario returns { status, path, errno, detail }. `errno` is the code
// the kernel returned (null on success), `path` the import path where one is
// classified (docs/internals.md: iov, p2p, untranslated, refused, unknown).

const PAGE = 4096;

// The bad-export table, one home for the catalog, the property tests and these steps: from dist/ (compiled by
// `npm run build:ts`) where this runs under node (the guest, the conformance run), from src/ where vite
// transformed this file (vitest: it gives modules an import.meta.env; node does not).
const underVite = /** @type {{ env?: object }} */ (import.meta).env !== undefined;
const { BAD_EXPORTS, sendBadExport } = /** @type {typeof import('../../../src/uapi/bad-exports.js')} */ (
  await import(underVite ? '../../../src/uapi/bad-exports.ts' : '../../../dist/uapi/bad-exports.js')
);

/**
 * @typedef {object} Lib  the iovh modules the scenarios use (dist/ in the guest, src/ under vitest)
 * @property {typeof import('../../../src/uapi/vfio.js')} vfio
 * @property {typeof import('../../../src/uapi/drm.js')} drm
 * @property {typeof import('../../../src/uapi/bufinfo.js')} bufinfo
 * @property {typeof import('../../../src/uapi/constants.js')} uapi
 * @property {typeof import('../../../src/harness/tracefs.js')} tracefs
 * @property {typeof import('../../../src/harness/monitors.js')} monitors
 * @property {typeof import('../../../src/uapi/iovh-ic.js')} [iovhIc]  the stand-in importer's uAPI (rules-more.mjs)
 *
 * @typedef {{ status: 'pass' | 'fail' | 'skip' | 'warn' | 'crash', path?: string | null, errno?: string | null, detail: string, observed?: string | null, bugs?: string[], quirks?: string[] }} Outcome
 *   `observed`: a value the kernel chose (an IOVA, an id, IOVA ranges) that the mock must choose too; compared when set
 *   `bugs`, `quirks`: for a result of the harness (`run:<id>`), the known bugs and quirks it named, which the
 *   host judges against the shipped baseline of the kernel's shape (scripts/qemu-ci/verdict.mjs)
 * @typedef {Pick<Ctx, 'backend' | 'lib'>} Kernel  what the helpers below need of a context
 * @typedef {Outcome & { id: string, title: string, ms: number }} Result
 *
 * @typedef {object} Ctx
 * @property {import('../../../src/backend/types.js').Backend} backend
 * @property {Lib} lib
 * @property {string} vf        the VF bound to vfio-pci
 * @property {string} pf
 * @property {import('../../../src/uapi/vfio.js').VfioDevice | null} device  once vfio.open passed
 * @property {import('../../../src/uapi/vfio.js').VfioRegion[]} bars  memory BARs with MMAP, once vfio.regions passed
 * @property {number | null} emptyBar  a BAR index < 6 of size 0, if any
 * @property {import('../../../src/uapi/drm.js').DrmDevice | null} vgem  vgem's render node, once found
 * @property {Map<number, string> | null} fdBaseline
 * @property {bigint | null} kmsgSeq
 * @property {string | null} taint
 */

/**
 * A Node-shaped kernel error (SystemError from either backend).
 * @param {unknown} e
 * @returns {e is { code: string, errno: number, syscall: string, message: string }}
 */
export function sysErr(e) {
  if (typeof e !== 'object' || e === null) return false;
  const o = /** @type {Record<string, unknown>} */ (e);
  return typeof o.code === 'string' && typeof o.errno === 'number' && typeof o.syscall === 'string';
}

/** @param {string} detail @param {Partial<Outcome>} [extra] */
export const pass = (detail, extra = {}) =>
  /** @type {Outcome} */ ({ status: 'pass', path: null, errno: null, detail, ...extra });
/** @param {string} detail @param {Partial<Outcome>} [extra] */
export const fail = (detail, extra = {}) =>
  /** @type {Outcome} */ ({ status: 'fail', path: null, errno: null, detail, ...extra });
/** @param {string} detail */
export const skip = (detail) => /** @type {Outcome} */ ({ status: 'skip', path: null, errno: null, detail });

/**
 * Close whatever a call that should have failed returned (a DmaBuf, a GEM handle, an fd).
 * @param {Kernel} ctx @param {unknown} value
 */
function release(ctx, value) {
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (/** @type {{ close?: unknown }} */ (value).close) === 'function'
  ) {
    /** @type {{ close(): void }} */ (value).close();
  } else if (typeof value === 'number' && value > 2) ctx.backend.dev.close(value);
}

/**
 * Run `fn`, expecting the kernel to refuse with `code`.
 * @param {Kernel} ctx
 * @param {string} what
 * @param {string} code
 * @param {() => unknown} fn
 * @param {Partial<Outcome>} [extra]
 */
export function expectErrno(ctx, what, code, fn, extra = {}) {
  let value;
  try {
    value = fn();
  } catch (e) {
    if (!sysErr(e)) throw e;
    if (e.code === code) return pass(`${what}: ${code}`, { errno: e.code, ...extra });
    return fail(`${what}: expected ${code}, got ${e.code} (${e.message})`, { errno: e.code, ...extra });
  }
  release(ctx, value);
  return fail(`${what}: expected ${code}, the kernel accepted it`, { errno: null, ...extra });
}

/**
 * Open fds of this process: fd -> link text (`anon_inode:dmabuf`, `/dev/vfio/6`, ...); null when /proc/self/fd cannot be listed.
 * @param {Kernel} ctx
 */
export function fdTable(ctx) {
  let names;
  try {
    names = ctx.backend.fs.readdir('/proc/self/fd');
  } catch (e) {
    if (sysErr(e)) return null;
    throw e;
  }
  /** @type {Map<number, string>} */
  const out = new Map();
  for (const n of names) {
    try {
      out.set(Number(n), ctx.backend.fs.readlink(`/proc/self/fd/${n}`));
    } catch (e) {
      // The fd readdir itself used is gone by the time we read its link.
      if (!sysErr(e) || e.code !== 'ENOENT') throw e;
    }
  }
  return out;
}

/**
 * Kernel-object fds (dma-bufs, vfio, DRM, udmabuf, memfd) in `now` that are not in `before`.
 * @param {Map<number, string>} before @param {Map<number, string>} now
 */
export function newKernelFds(before, now) {
  const out = [];
  for (const [fd, link] of now) {
    if (before.get(fd) === link) continue;
    if (/dmabuf|vfio|\/dev\/dri\/|udmabuf|memfd/.test(link)) out.push(`${fd} -> ${link}`);
  }
  return out;
}

/** @param {Kernel} ctx */
export function bufinfoObjects(ctx) {
  return ctx.lib.bufinfo.parseBufinfo(ctx.backend.fs.readText('/sys/kernel/debug/dma_buf/bufinfo')).objects;
}

/**
 * The first memory BAR (scenarios that call this need 'bars').
 * @param {Ctx} ctx
 */
function firstBar(ctx) {
  const bar = ctx.bars[0];
  if (!bar) throw new Error('no memory BAR (vfio.regions did not pass)');
  return bar;
}

/**
 * The open VF (scenarios that call this need 'device').
 * @param {Ctx} ctx
 */
function dev(ctx) {
  if (!ctx.device) throw new Error('the VF is not open (vfio.open did not pass)');
  return ctx.device;
}

/**
 * vgem's render node (scenarios that call this need 'vgem').
 * @param {Ctx} ctx
 */
function vgem(ctx) {
  if (!ctx.vgem) throw new Error('no vgem node (import.find-vgem did not pass)');
  return ctx.vgem;
}

/** Region label for messages. @param {number} i */
const barName = (i) => (i < 6 ? `BAR${i}` : i === 6 ? 'ROM' : i === 7 ? 'CONFIG' : `region ${i}`);

/**
 * @param {Ctx} ctx @param {number} region
 * @param {Array<{offset: bigint | number, length: bigint | number}>} ranges
 * @param {Partial<import('../../../src/uapi/vfio.js').ExportDmaBufOptions>} [raw]
 */
function exportBuf(ctx, region, ranges, raw = {}) {
  return dev(ctx).exportDmaBuf({ region, ranges, ...raw });
}

/**
 * @typedef {object} Scenario
 * @property {string} id
 * @property {string} title
 * @property {Array<'device' | 'bars' | 'vgem' | 'emptyBar'>} needs
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */

/** @type {Scenario[]} */
export const SCENARIOS = [];
/** @param {string} id @param {string} title @param {Scenario['needs']} needs @param {Scenario['run']} run */
function scenario(id, title, needs, run) {
  SCENARIOS.push({ id, title, needs, run });
}

// ------------------------------------------------------------ VFIO, legacy path (docs/kernel.md §4)

scenario('vfio.container', 'container: API version 0, TYPE1v2 offered', [], (ctx) => {
  const { VFIO } = ctx.lib.uapi;
  const c = ctx.lib.vfio.VfioContainer.open(ctx.backend);
  try {
    const v = c.apiVersion();
    if (v !== VFIO.API_VERSION) return fail(`VFIO_GET_API_VERSION = ${v}, expected ${VFIO.API_VERSION}`);
    const t = c.checkExtension(VFIO.TYPE1v2_IOMMU);
    if (t <= 0) return fail(`VFIO_CHECK_EXTENSION(TYPE1v2) = ${t}, expected > 0`);
    return pass(`API version ${v}, TYPE1v2 extension ${t}`);
  } finally {
    c.close();
  }
});

scenario('vfio.open', 'open the VF through group and container', [], (ctx) => {
  const { VFIO } = ctx.lib.uapi;
  const group = ctx.lib.vfio.iommuGroupOf(ctx.backend, ctx.vf);
  const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
  const info = device.info();
  if ((info.flags & VFIO.DEVICE_FLAGS_PCI) === 0) {
    device.close();
    return fail(`device flags 0x${info.flags.toString(16)} lack VFIO_DEVICE_FLAGS_PCI`);
  }
  if (info.numRegions < VFIO.PCI_NUM_REGIONS) {
    device.close();
    return fail(`num_regions ${info.numRegions}, vfio-pci reports at least ${VFIO.PCI_NUM_REGIONS}`);
  }
  ctx.device = device;
  return pass(
    `${ctx.vf} in group ${group}: flags 0x${info.flags.toString(16)}, ${info.numRegions} regions, ${info.numIrqs} irqs`,
  );
});

scenario('vfio.regions', 'region info: BARs, ROM, config space', ['device'], (ctx) => {
  const { VFIO } = ctx.lib.uapi;
  const rw = VFIO.REGION_INFO_FLAG_READ | VFIO.REGION_INFO_FLAG_WRITE;
  const parts = [];
  ctx.bars = [];
  ctx.emptyBar = null;
  for (let i = 0; i < 6; i++) {
    const r = dev(ctx).regionInfo(i);
    if (r.offset !== ctx.lib.uapi.vfioRegionOffset(i))
      return fail(`${barName(i)} offset 0x${r.offset.toString(16)}, expected index << 40`);
    if (r.size === 0n) {
      // docs/kernel.md §2: an unimplemented BAR reports flags 0 and size 0.
      if (r.flags !== 0) return fail(`${barName(i)} has size 0 but flags 0x${r.flags.toString(16)}`);
      if (ctx.emptyBar === null) ctx.emptyBar = i;
      continue;
    }
    if ((r.flags & rw) !== rw) return fail(`${barName(i)} flags 0x${r.flags.toString(16)} lack READ|WRITE`);
    if (r.flags & VFIO.REGION_INFO_FLAG_MMAP) ctx.bars.push(r);
    parts.push(`${barName(i)} ${r.size} B flags 0x${r.flags.toString(16)}`);
  }
  const cfg = dev(ctx).regionInfo(VFIO.PCI_CONFIG_REGION_INDEX);
  if (cfg.size !== 4096n || (cfg.flags & rw) !== rw) {
    return fail(
      `CONFIG region size ${cfg.size} flags 0x${cfg.flags.toString(16)}, expected 4096 bytes read/write (PCIe cfg_size)`,
    );
  }
  if (ctx.bars.length === 0) return fail(`no mmap-able memory BAR: ${parts.join(', ') || 'all BARs empty'}`);
  return pass(parts.join(', '));
});

scenario('vfio.region-vga', 'region info of the VGA region on a device without VGA', ['device'], (ctx) =>
  expectErrno(ctx, 'VFIO_DEVICE_GET_REGION_INFO(8)', 'EINVAL', () =>
    dev(ctx).regionInfo(ctx.lib.uapi.VFIO.PCI_VGA_REGION_INDEX),
  ),
);

scenario('vfio.region-mmap', 'mmap of a memory BAR reads what pread reads', ['device', 'bars'], (ctx) => {
  const { PROT } = ctx.lib.uapi;
  const bar = firstBar(ctx);
  const m = dev(ctx).mmapRegion(bar.index, { length: PAGE, prot: PROT.READ });
  try {
    const viaMmap = Buffer.from(m.read(0, 4));
    const viaPread = Buffer.from(dev(ctx).read(bar.index, 0, 4));
    if (!viaMmap.equals(viaPread))
      return fail(
        `${barName(bar.index)}+0: mmap reads ${viaMmap.toString('hex')}, pread reads ${viaPread.toString('hex')}`,
      );
    return pass(`${barName(bar.index)}+0 = ${viaPread.toString('hex')} both ways`);
  } finally {
    m.unmap();
  }
});

// ------------------------------------------------------------ DMA_BUF export (docs/kernel.md §3)

scenario('export.probe', 'PROBE|GET DMA_BUF returns 0', ['device'], (ctx) => {
  const { VFIO } = ctx.lib.uapi;
  const r = dev(ctx).feature(VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF);
  return r === 0 ? pass('supported') : fail(`PROBE returned ${r}, expected 0`);
});

scenario('export.probe-bare', 'PROBE alone (no GET/SET) returns 0', ['device'], (ctx) => {
  // vfio_check_feature returns 0 for PROBE before looking at GET/SET.
  const { VFIO } = ctx.lib.uapi;
  const r = dev(ctx).feature(VFIO.DEVICE_FEATURE_PROBE | VFIO.FEATURE_DMA_BUF);
  return r === 0 ? pass('PROBE without GET/SET: 0') : fail(`PROBE returned ${r}, expected 0`);
});

scenario('export.first-page', 'export the first page of a BAR: fd, size, exporter', ['device', 'bars'], (ctx) => {
  const bar = firstBar(ctx);
  const buf = exportBuf(ctx, bar.index, [{ offset: 0, length: PAGE }]);
  try {
    const info = buf.fdinfo();
    if (info.size !== BigInt(PAGE)) return fail(`fdinfo size ${info.size}, expected ${PAGE}`);
    if (info.expName !== 'vfio_pci_core') return fail(`fdinfo exp_name '${info.expName}', expected vfio_pci_core`);
    if (info.count !== 1) return fail(`fdinfo count ${info.count}, expected 1`);
    return pass(`${barName(bar.index)} page 0: fd ${buf.fd}, size ${info.size}, exp_name ${info.expName}`);
  } finally {
    buf.close();
  }
});

scenario('export.whole-bar', 'export every memory BAR whole', ['device', 'bars'], (ctx) => {
  const parts = [];
  for (const bar of ctx.bars) {
    const buf = exportBuf(ctx, bar.index, [{ offset: 0, length: bar.size }]);
    try {
      const size = buf.fdinfo().size;
      if (size !== bar.size) return fail(`${barName(bar.index)}: dma-buf size ${size}, BAR size ${bar.size}`);
      parts.push(`${barName(bar.index)} ${size} B`);
    } finally {
      buf.close();
    }
  }
  return pass(parts.join(', '));
});

scenario('export.two-ranges', 'two disjoint ranges: size is their sum', ['device', 'bars'], (ctx) => {
  const bar = ctx.bars.find((b) => b.size >= 3n * BigInt(PAGE));
  if (!bar) return skip('no memory BAR of 3 pages or more');
  const buf = exportBuf(ctx, bar.index, [
    { offset: 0, length: PAGE },
    { offset: 2 * PAGE, length: PAGE },
  ]);
  try {
    const size = buf.fdinfo().size;
    return size === 2n * BigInt(PAGE)
      ? pass(`${barName(bar.index)} pages 0 and 2: size ${size}`)
      : fail(`size ${size}, expected ${2 * PAGE}`);
  } finally {
    buf.close();
  }
});

scenario(
  'export.overlapping-ranges',
  'overlapping ranges are accepted (not checked, docs/kernel.md §3.3)',
  ['device', 'bars'],
  (ctx) => {
    const bar = firstBar(ctx);
    const buf = exportBuf(ctx, bar.index, [
      { offset: 0, length: PAGE },
      { offset: 0, length: PAGE },
    ]);
    try {
      const size = buf.fdinfo().size;
      return size === 2n * BigInt(PAGE)
        ? pass(`page 0 twice: size ${size}`)
        : fail(`size ${size}, expected ${2 * PAGE}`);
    } finally {
      buf.close();
    }
  },
);

scenario('export.last-page', 'the last page of a BAR exports', ['device', 'bars'], (ctx) => {
  const bar = firstBar(ctx);
  const buf = exportBuf(ctx, bar.index, [{ offset: bar.size - BigInt(PAGE), length: PAGE }]);
  try {
    return pass(`${barName(bar.index)} offset 0x${(bar.size - BigInt(PAGE)).toString(16)}: size ${buf.fdinfo().size}`);
  } finally {
    buf.close();
  }
});

// ------------------------------------------------------------ errno table (src/uapi/bad-exports.ts, in kernel order)

/** @param {import('../../../src/uapi/bad-exports.js').BadExport['needs']} needs @returns {Scenario['needs']} */
const needsOf = (needs) =>
  needs === 'device' ? ['device'] : needs === 'emptyBar' ? ['device', 'emptyBar'] : ['device', 'bars'];

for (const c of BAD_EXPORTS)
  scenario(`errno.${c.id}`, c.title, needsOf(c.needs), (ctx) =>
    expectErrno(ctx, c.title, c.errno, () =>
      sendBadExport(
        dev(ctx),
        c.request(c.needs === 'emptyBar' ? { index: /** @type {number} */ (ctx.emptyBar), size: 0n } : firstBar(ctx)),
      ),
    ),
  );

// ------------------------------------------------------------ fd properties (docs/kernel.md §10)

scenario(
  'fd.open-flags',
  'open_flags: O_ACCMODE|O_NONBLOCK reach the file, O_CLOEXEC the fd',
  ['device', 'bars'],
  (ctx) => {
    const { O } = ctx.lib.uapi;
    const O_CLOEXEC_OCTAL = 0o2000000;
    const O_NONBLOCK_OCTAL = 0o4000;
    const bar = firstBar(ctx);
    const a = exportBuf(ctx, bar.index, [{ offset: 0, length: PAGE }], { openFlags: O.RDWR | O.CLOEXEC });
    const b = exportBuf(ctx, bar.index, [{ offset: 0, length: PAGE }], { openFlags: O.RDONLY | O.NONBLOCK });
    try {
      const fa = a.fdinfo().flags;
      const fb = b.fdinfo().flags;
      if ((fa & 3) !== O.RDWR || (fa & O_CLOEXEC_OCTAL) === 0)
        return fail(`O_RDWR|O_CLOEXEC export: fdinfo flags 0${fa.toString(8)}`);
      if ((fb & 3) !== O.RDONLY || (fb & O_NONBLOCK_OCTAL) === 0 || (fb & O_CLOEXEC_OCTAL) !== 0) {
        return fail(`O_RDONLY|O_NONBLOCK export: fdinfo flags 0${fb.toString(8)}`);
      }
      return pass(`fdinfo flags 0${fa.toString(8)} and 0${fb.toString(8)}`);
    } finally {
      a.close();
      b.close();
    }
  },
);

scenario('fd.set-name', 'DMA_BUF_SET_NAME shows in fdinfo and bufinfo', ['device', 'bars'], (ctx) => {
  const bar = firstBar(ctx);
  const buf = exportBuf(ctx, bar.index, [{ offset: 0, length: 2 * PAGE > Number(bar.size) ? PAGE : 2 * PAGE }]);
  try {
    buf.setName('iovh-qemu-ci');
    const info = buf.fdinfo();
    if (info.name !== 'iovh-qemu-ci') return fail(`fdinfo name ${JSON.stringify(info.name)}, expected "iovh-qemu-ci"`);
    const listed = bufinfoObjects(ctx).filter((o) => o.ino === info.ino);
    if (listed.length !== 1) return fail(`bufinfo lists ${listed.length} objects with inode ${info.ino}`);
    const o = listed[0];
    if (o.expName !== 'vfio_pci_core' || o.size !== info.size || o.name !== 'iovh-qemu-ci') {
      return fail(`bufinfo: exp_name ${o.expName}, size ${o.size}, name ${o.name}; fdinfo: size ${info.size}`);
    }
    return pass(`bufinfo inode ${o.ino}: ${o.expName} ${o.size} B name ${o.name}, ${o.attached.length} attached`);
  } finally {
    buf.close();
  }
});

scenario('fd.set-name-too-long', 'a 32-byte name (no room for the NUL)', ['device', 'bars'], (ctx) => {
  const buf = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
  try {
    return expectErrno(ctx, 'DMA_BUF_SET_NAME with 32 characters', 'EINVAL', () => buf.setName('x'.repeat(32)));
  } finally {
    buf.close();
  }
});

scenario('fd.sync', 'DMA_BUF_IOCTL_SYNC start/end; bad flags refused', ['device', 'bars'], (ctx) => {
  const buf = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
  try {
    buf.beginCpuAccess();
    buf.endCpuAccess();
    return expectErrno(ctx, 'DMA_BUF_IOCTL_SYNC flags 0x100', 'EINVAL', () => buf.sync(0x100n));
  } finally {
    buf.close();
  }
});

scenario('fd.mmap-refused', 'mmap of the dma-buf (vfio has no mmap op)', ['device', 'bars'], (ctx) => {
  const { PROT } = ctx.lib.uapi;
  const buf = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
  try {
    return expectErrno(ctx, 'mmap(dma-buf)', 'EINVAL', () => buf.mmap(PAGE, PROT.READ));
  } finally {
    buf.close();
  }
});

// ------------------------------------------------------------ importers (docs/kernel.md §3.4)

scenario('import.find-vgem', 'vgem render node present', [], (ctx) => {
  const nodes = ctx.lib.drm.findRenderNodes(ctx.backend, 'vgem');
  if (nodes.length === 0) return fail('no vgem render node in /dev/dri (is vgem loaded?)');
  ctx.vgem = ctx.lib.drm.DrmDevice.open(ctx.backend, nodes[0].path);
  return pass(`${nodes[0].path} (${nodes[0].driver})`);
});

scenario('import.vgem-refused', 'vgem imports the VF dma-buf: refused, not P2P', ['device', 'bars', 'vgem'], (ctx) => {
  const buf = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
  try {
    // vfio_pci_dma_buf_attach: !attachment->peer2peer -> -EOPNOTSUPP; vgem imports through
    // drm_gem_prime_import, which never sets allow_peer2peer.
    return expectErrno(ctx, 'vgem PRIME_FD_TO_HANDLE(vfio dma-buf)', 'EOPNOTSUPP', () => vgem(ctx).primeImport(buf), {
      path: 'refused',
    });
  } finally {
    buf.close();
  }
});

scenario('control.udmabuf-vgem', 'udmabuf (memfd pages) imported by vgem', ['vgem'], (ctx) => {
  const { MFD, F_SEAL, UDMABUF, O } = ctx.lib.uapi;
  const dev = ctx.backend.dev;
  const size = 4 * PAGE;
  const memfd = dev.memfdCreate('iovh-qemu-ci', MFD.CLOEXEC | MFD.ALLOW_SEALING);
  let udmabuf = -1;
  let ctl = -1;
  try {
    dev.ftruncate(memfd, BigInt(size));
    // udmabuf requires F_SEAL_SHRINK and refuses F_SEAL_WRITE (drivers/dma-buf/udmabuf.c).
    dev.addSeals(memfd, F_SEAL.SHRINK);
    ctl = dev.open('/dev/udmabuf', O.RDWR | O.CLOEXEC);
    udmabuf = dev.udmabufCreate(ctl, { memfd, offset: 0n, size: BigInt(size), flags: UDMABUF.FLAGS_CLOEXEC });
    const info = ctx.backend.fs.readText(`/proc/self/fdinfo/${udmabuf}`);
    if (!/^exp_name:\s*udmabuf$/m.test(info)) return fail(`udmabuf fdinfo has no 'exp_name: udmabuf':\n${info}`);
    const imported = vgem(ctx).primeImport(udmabuf);
    imported.close();
    return pass(`udmabuf of ${size} B imported by vgem as handle ${imported.handle}`);
  } finally {
    if (udmabuf >= 0) dev.close(udmabuf);
    if (ctl >= 0) dev.close(ctl);
    dev.close(memfd);
  }
});

// ------------------------------------------------------------ trace evidence

/**
 * A kprobe on the export's entry, through the harness's own TraceSession
 * (src/harness/tracefs.ts: our group, our instance, hits attributed to our
 * threads), must see our export. On a kernel built with X86_KERNEL_IBT every
 * function starts with ENDBR64 and an entry kprobe is placed after it
 * (arch/x86/kernel/kprobes/core.c, arch_adjust_kprobe_addr), so the hit's site
 * reads `vfio_pci_core_feature_dma_buf+0x4/...`; without IBT, `+0x0`.
 */
scenario(
  'trace.kprobe-export',
  'a kprobe on vfio_pci_core_feature_dma_buf sees our export, at the entry offset IBT gives',
  ['device', 'bars'],
  (ctx) => {
    const fs = ctx.backend.fs;
    const root = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'].find((r) => fs.exists(`${r}/kprobe_events`));
    if (!root) return skip('no tracefs with kprobe_events (CONFIG_KPROBE_EVENTS=y, tracefs mounted)');
    const symbol = 'vfio_pci_core_feature_dma_buf';
    const session = ctx.lib.tracefs.TraceSession.create(fs, root, `ci${process.pid}`);
    // The key only labels the hit; no harness classification reads it here.
    const point = /** @type {import('../../../src/harness/symbols.js').ProbePoint} */ ({
      key: /** @type {import('../../../src/harness/symbols.js').ProbeKey} */ ('exporterSgMap'),
      symbol,
      kind: 'entry',
      fetch: '',
    });
    try {
      session.arm([point], new Set([symbol]));
      if (session.unavailable.length) return fail(`the probe was not armed: ${session.unavailable[0].why}`);
      const bar = firstBar(ctx);
      exportBuf(ctx, bar.index, [{ offset: 0, length: PAGE }]).close();
      const read = session.read();
      const hit = read.hits[0];
      if (!hit)
        return fail(
          `no hit of ours after an export (${read.foreign.length} foreign, ${read.lost} lost${read.unattributed ? `; ${read.unattributed}` : ''})`,
        );
      const offset = /^[A-Za-z0-9_.]+\+(0x[0-9a-f]+)\//.exec(hit.site)?.[1] ?? null;
      if (offset !== '0x0' && offset !== '0x4') return fail(`hit at ${hit.site}: not the function's entry`);
      return pass(`${read.hits.length} hit(s), ${hit.task}-${hit.pid} at ${hit.site} (entry +${offset})`);
    } finally {
      session.close();
    }
  },
);

// ------------------------------------------------------------ lifecycle (docs/kernel.md §3.5)

scenario('lifecycle.reset-with-export', 'VFIO_DEVICE_RESET with a live export', ['device', 'bars'], async (ctx) => {
  const { VFIO } = ctx.lib.uapi;
  if ((dev(ctx).info().flags & VFIO.DEVICE_FLAGS_RESET) === 0)
    return skip('the device does not report VFIO_DEVICE_FLAGS_RESET');
  const buf = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
  try {
    await dev(ctx).reset();
    const info = buf.fdinfo();
    if (info.expName !== 'vfio_pci_core') return fail(`after reset the fd's exp_name is ${info.expName}`);
    const again = exportBuf(ctx, firstBar(ctx).index, [{ offset: 0, length: PAGE }]);
    again.close();
    return pass('reset done; the dma-buf fd stays valid and a new export works');
  } finally {
    buf.close();
  }
});

scenario(
  'lifecycle.close-device-after-export',
  'close the VF (last close) while a dma-buf is open',
  ['device', 'bars'],
  (ctx) => {
    const bar = firstBar(ctx);
    const buf = exportBuf(ctx, bar.index, [{ offset: 0, length: PAGE }]);
    try {
      // The last close revokes for good (vfio_pci_dma_buf_cleanup); the fd itself stays valid.
      dev(ctx).close();
      ctx.device = null;
      const info = buf.fdinfo();
      if (info.expName !== 'vfio_pci_core' || info.size !== BigInt(PAGE))
        return fail(`after close: exp_name ${info.expName}, size ${info.size}`);
      if (ctx.vgem) {
        // Attach checks peer2peer before revoked, so a non-P2P importer still sees EOPNOTSUPP.
        const r = expectErrno(
          ctx,
          'vgem import after the device closed',
          'EOPNOTSUPP',
          () => vgem(ctx).primeImport(buf),
          { path: 'refused' },
        );
        if (r.status !== 'pass') return r;
        return pass('dma-buf fd outlives the device fd; vgem import still EOPNOTSUPP', {
          path: 'refused',
          errno: 'EOPNOTSUPP',
        });
      }
      return pass('dma-buf fd outlives the device fd');
    } finally {
      buf.close();
    }
  },
);

scenario('lifecycle.reopen', 'open the VF again after its last close and export', [], (ctx) => {
  const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
  try {
    // BARs only: GET_REGION_INFO of the VGA region is EINVAL on a device without VGA (vfio.region-vga).
    const bar = [0, 1, 2, 3, 4, 5].map((i) => device.regionInfo(i)).find((r) => r.size > 0n);
    if (!bar) return fail('reopened device has no non-empty BAR');
    const buf = device.exportDmaBuf({ region: bar.index, ranges: [{ offset: 0, length: PAGE }] });
    buf.close();
    return pass(`reopened ${ctx.vf}; ${barName(bar.index)} exports again`);
  } finally {
    device.close();
  }
});

// ------------------------------------------------------------ leaks and kernel health

scenario('leak.fds', 'no fd of ours left open', [], (ctx) => {
  if (ctx.vgem) {
    ctx.vgem.close();
    ctx.vgem = null;
  }
  if (!ctx.fdBaseline) return skip('/proc/self/fd could not be listed at the start');
  const now = fdTable(ctx);
  if (!now) return fail('/proc/self/fd could be listed at the start but not now');
  const left = newKernelFds(ctx.fdBaseline, now);
  return left.length ? fail(`left open: ${left.join(', ')}`) : pass(`${now.size} fds, none of ours left`);
});

scenario('leak.bufinfo', 'no dma-buf of ours left (bufinfo)', [], (ctx) => {
  const left = bufinfoObjects(ctx).filter((o) => o.expName === 'vfio_pci_core' || o.expName === 'udmabuf');
  return left.length
    ? fail(`bufinfo still lists ${left.map((o) => `${o.expName} ino ${o.ino} size ${o.size}`).join(', ')}`)
    : pass('no vfio_pci_core or udmabuf objects left');
});

scenario('kernel.clean', 'no WARN, BUG or oops in the kernel log; taint unchanged', [], (ctx) => {
  const taint = readTaint(ctx);
  const lines = kmsgSince(ctx, ctx.kmsgSeq);
  const bad = lines.filter((l) => /(WARNING:|BUG:|Oops|general protection fault|KASAN|UBSAN|Call Trace)/.test(l));
  if (bad.some((l) => /BUG:|Oops|general protection fault/.test(l)))
    return { status: 'crash', path: null, errno: null, detail: bad.slice(0, 4).join(' | ') };
  if (bad.length) return { status: 'warn', path: null, errno: null, detail: bad.slice(0, 4).join(' | ') };
  if (ctx.taint !== null && taint !== ctx.taint)
    return { status: 'warn', path: null, errno: null, detail: `taint changed from ${ctx.taint} to ${taint}` };
  return pass(`${lines.length} kernel log lines during the run, none a warning; taint ${taint ?? 'unknown'}`);
});

/** @param {Kernel} ctx */
export function readTaint(ctx) {
  try {
    return ctx.backend.fs.readText('/proc/sys/kernel/tainted').trim();
  } catch (e) {
    if (sysErr(e)) return null;
    throw e;
  }
}

/**
 * /dev/kmsg records ("pri,seq,usec,flags;text") after sequence `after`; text only.
 * @param {Kernel} ctx @param {bigint | null} after
 */
export function kmsgSince(ctx, after) {
  const out = [];
  for (const rec of ctx.backend.fs.readRecords('/dev/kmsg')) {
    const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/s.exec(rec);
    if (!m) continue;
    if (after !== null && BigInt(m[2]) <= after) continue;
    out.push(m[4].split('\n')[0]);
  }
  return out;
}

/** @param {Kernel} ctx */
export function lastKmsgSeq(ctx) {
  let last = null;
  for (const rec of ctx.backend.fs.readRecords('/dev/kmsg')) {
    const m = /^\d+,(\d+),/.exec(rec);
    if (m) last = BigInt(m[1]);
  }
  return last;
}

/**
 * Run the scenarios in order. A scenario whose prerequisite did not pass is
 * skipped and names it; that prerequisite's own failure fails the run.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, vf: string, pf: string, only?: string[], onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export async function runScenarios(o) {
  /** @type {Ctx} */
  const ctx = {
    backend: o.backend,
    lib: o.lib,
    vf: o.vf,
    pf: o.pf,
    device: null,
    bars: [],
    emptyBar: null,
    vgem: null,
    fdBaseline: null,
    kmsgSeq: null,
    taint: null,
  };
  ctx.fdBaseline = fdTable(ctx);
  ctx.kmsgSeq = lastKmsgSeq(ctx);
  ctx.taint = readTaint(ctx);
  const providers = { device: 'vfio.open', bars: 'vfio.regions', vgem: 'import.find-vgem', emptyBar: 'vfio.regions' };
  /** @type {Result[]} */
  const results = [];
  try {
    for (const s of SCENARIOS) {
      if (o.only && !o.only.includes(s.id)) continue;
      const t0 = performance.now();
      /** @type {Outcome} */
      let out;
      const missing = s.needs.filter((n) =>
        n === 'bars' ? ctx.bars.length === 0 : n === 'emptyBar' ? ctx.emptyBar === null : !ctx[n],
      );
      if (missing.length) {
        const why = missing.map((n) =>
          n === 'emptyBar' && results.some((r) => r.id === 'vfio.regions' && r.status === 'pass')
            ? 'a BAR of size 0 (this device implements all six)'
            : `${providers[n]} to pass`,
        );
        out = skip(`needs ${why.join(' and ')}`);
      } else {
        const before = fdTable(ctx);
        try {
          out = await s.run(ctx);
        } catch (e) {
          const err = /** @type {Error & { code?: string }} */ (e);
          out = fail(`${err.name ?? 'Error'}: ${err.message}`, { errno: sysErr(e) ? err.code : null });
        }
        const after = before ? fdTable(ctx) : null;
        // Fds a scenario keeps on purpose: the VF device (vfio.open) and vgem (import.find-vgem).
        if (before && after && out.status === 'pass' && s.id !== 'vfio.open' && s.id !== 'import.find-vgem') {
          const leaked = newKernelFds(before, after);
          if (leaked.length)
            out = fail(`${out.detail}; but left open: ${leaked.join(', ')}`, { path: out.path, errno: out.errno });
        }
      }
      const r = { id: s.id, title: s.title, ...out, ms: Math.round((performance.now() - t0) * 10) / 10 };
      results.push(r);
      o.onResult?.(r);
    }
  } finally {
    if (ctx.device) ctx.device.close();
    if (ctx.vgem) ctx.vgem.close();
  }
  return results;
}

/**
 * For each scenario, the kernel rule it exercises, as the mock must model it:
 * what the conformance check names when the mock and the real kernel disagree.
 * @type {Record<string, string>}
 */
export const RULES = {
  ...Object.fromEntries(BAD_EXPORTS.map((c) => [`errno.${c.id}`, `${c.rule}: ${c.errno}`])),
  'vfio.container':
    'VFIO container: GET_API_VERSION is 0; CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU) > 0 (docs/kernel.md §1, §4)',
  'vfio.open':
    'VFIO group path: group VIABLE, SET_CONTAINER, SET_IOMMU(TYPE1v2), GET_DEVICE_FD(BDF); device info has FLAGS_PCI and 9 regions (docs/kernel.md §2, §4)',
  'vfio.regions':
    'vfio-pci region info: BARn at index << 40, empty BAR flags 0 size 0, memory BAR READ|WRITE|MMAP, CONFIG 4096 bytes READ|WRITE (docs/kernel.md §2)',
  'vfio.region-vga':
    'vfio-pci GET_REGION_INFO of the VGA region (8) is EINVAL when the device has no VGA (vfio_pci_ioctl_get_region_info: !vdev->has_vga)',
  'vfio.region-mmap': 'vfio-pci region mmap and pread read the same BAR bytes (docs/kernel.md §2)',
  'export.probe': 'VFIO_DEVICE_FEATURE PROBE|GET DMA_BUF returns 0 on plain vfio-pci (docs/kernel.md §3.2)',
  'export.probe-bare': 'vfio_check_feature: PROBE returns 0 before GET/SET are looked at (drivers/vfio/vfio_main.c)',
  'export.first-page':
    'DMA_BUF GET returns a new fd; fdinfo size = sum of lengths, exp_name vfio_pci_core, count 1 (docs/kernel.md §3.2, §10)',
  'export.whole-bar':
    'a range covering the whole BAR is accepted; size = BAR size (docs/kernel.md §3.3: bounds are the whole BAR)',
  'export.two-ranges': 'several ranges: the dma-buf size is the sum of their lengths (docs/kernel.md §3.2)',
  'export.overlapping-ranges': 'overlapping ranges are not checked (docs/kernel.md §3.3, "Not checked at all")',
  'export.last-page':
    'a range ending exactly at the BAR end is accepted (vfio_pci_core_fill_phys_vec: end > max is the error)',
  'fd.open-flags':
    'dma-buf file flags keep only O_ACCMODE|O_NONBLOCK of open_flags; O_CLOEXEC goes to the fd (dma_buf_getfile, dma_buf_fd; docs/kernel.md §3.3)',
  'fd.set-name':
    'DMA_BUF_SET_NAME sets the name shown by fdinfo and bufinfo; bufinfo lists the object with exp_name, size, inode (docs/kernel.md §10)',
  'fd.set-name-too-long':
    'DMA_BUF_SET_NAME copies at most 32 bytes including the NUL: 32 characters is EINVAL (strndup_user)',
  'fd.sync':
    'DMA_BUF_IOCTL_SYNC accepts START/END with READ/WRITE; other flag bits are EINVAL (drivers/dma-buf/dma-buf.c)',
  'fd.mmap-refused': 'mmap of a vfio dma-buf is EINVAL: the exporter has no mmap op (docs/kernel.md §3.3)',
  'import.find-vgem': 'vgem registers a render node whose DRM_IOCTL_VERSION name is "vgem"',
  'import.vgem-refused':
    'vfio attach refuses an importer without peer2peer (vgem) with EOPNOTSUPP at PRIME import (docs/kernel.md §3.4)',
  'control.udmabuf-vgem':
    'udmabuf exports sealed memfd pages (exp_name udmabuf) and vgem imports them (drivers/dma-buf/udmabuf.c, drivers/gpu/drm/vgem/vgem_drv.c)',
  'lifecycle.reset-with-export':
    'VFIO_DEVICE_RESET revokes exports only for its duration; the fd stays valid and exports work after (docs/kernel.md §3.5)',
  'lifecycle.close-device-after-export':
    'last close of the vfio device revokes for good but the dma-buf fd stays valid; attach checks peer2peer before revoked (docs/kernel.md §3.4, §3.5)',
  'lifecycle.reopen':
    'after the last close the group can be opened again and the device exports again (docs/kernel.md §4)',
  'leak.fds': 'every fd the scenarios opened is closed (the mock releases fds on close like the kernel)',
  'leak.bufinfo': 'a dma-buf disappears from bufinfo when its last fd is closed (docs/kernel.md §10)',
  'trace.kprobe-export':
    "an entry kprobe defined in kprobe_events and enabled in an ftrace instance records a line per call in that instance's trace, naming the task and the site sym+off/size (Documentation/trace/kprobetrace.rst); with IBT the entry is +0x4",
  'kernel.clean': 'no WARN/BUG/oops in /dev/kmsg and no taint change during the run',
};
