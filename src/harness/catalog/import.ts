// import/*: the importer side. A VF's LMEM exported by vfio-pci and imported
// by the PF's xe must take the IOV path (negotiated and translated, with the
// right vfid) and carry the right bytes; any other combination (another BAR,
// another device, a non-P2P importer) must not (docs/profiles.md, rfc-v1 "Attach:
// negotiation"); and a system-memory exporter must import fine, so that a
// failure above is the interconnect's and not the importer's.

import { buildStoreBatch } from '../../uapi/batch.js';
import { DrmDevice } from '../../uapi/drm.js';
import { DmaBuf } from '../../uapi/dmabuf.js';
import { F_SEAL, MFD, PROT, UDMABUF } from '../../uapi/constants.js';
import type { DmaRange } from '../../uapi/vfio.js';
import { hex } from '../../report/model.js';
import type { Capabilities } from '../caps.js';
import { barAccess, describeMismatch, gpuWriteCpuRead, rangePages, freshSeed } from '../data.js';
import { Gpu } from '../gpu.js';
import { importAndBind, requireImport, requireIov, type Imported, suspectOtherBus } from '../imports.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  errnoOf,
  exportDmaBuf,
  openVf,
  PAGE,
  rangesJson,
  requireCaps,
  requireExportBar,
  requirePathTrace,
  requireTarget,
  skipForShape,
  startTrace,
  totalLength,
} from '../steps.js';
import { lmemBar, type VfInfo } from '../../machine/topology.js';

/** The bytes of BAR 2 that are the VF's LMEM: its quota when known, else the BAR (docs/kernel.md §9: the BAR can exceed the quota). */
export function lmemSpan(vf: VfInfo): bigint {
  const bar = lmemBar(vf);
  if (!bar) return 0n;
  return vf.vramQuota !== null && vf.vramQuota < bar.size ? vf.vramQuota : bar.size;
}

/** Check that an import took the IOV path for VF `vf` (vfid = index + 1, docs/profiles.md, rfc-v1 "Map" step 3). */
export function expectIov(ctx: ScenarioContext, imp: Imported, vf: VfInfo): boolean {
  ctx.setPath(imp.verdict.path);
  if (
    !ctx.check(imp.verdict.path === 'iov', `${imp.label}: path ${imp.verdict.path}, expected iov (${imp.verdict.why})`)
  )
    return false;
  // The stand-in importer does not report the owner VF it found; its bytes do (the data check that follows).
  if (imp.ic !== undefined) return true;
  const vfid = vf.id;
  return ctx.check(
    imp.verdict.lookupVfids.includes(vfid),
    `${imp.label}: translated through vfid ${imp.verdict.lookupVfids.join(', ')}, expected ${vfid} (the VF at virtfn${vf.id - 1})`,
  );
}

/** Export `ranges` of `vf`'s BAR 2, import, bind, classify, then GPU-write and CPU-read the first and last page of each range. */
async function iovImport(
  ctx: ScenarioContext,
  gpu: Gpu,
  vf: VfInfo,
  ranges: DmaRange[],
  label: string,
): Promise<boolean> {
  const trace = requirePathTrace(ctx);
  const device = openVf(ctx, vf.bdf);
  const buf = exportDmaBuf(ctx, device, { region: 2, ranges });
  const size = totalLength(ranges);
  const imp = importAndBind(ctx, gpu, trace, buf, size, label);
  ctx.append('exports', { label, vf: vf.bdf, ranges: rangesJson(ranges) });
  if (!expectIov(ctx, imp, vf) || !imp.bound) return false;
  const check = await gpuWriteCpuRead(ctx, gpu, barAccess(ctx, device, 2), imp.bound, rangePages(ranges));
  return ctx.check(check.ok, `${label}: ${describeMismatch(check)}`);
}

function needLmem(ctx: ScenarioContext, vf: VfInfo, bytes: bigint): bigint {
  const span = lmemSpan(vf);
  if (span < bytes)
    ctx.skip(
      'provisioning',
      `VF ${vf.bdf} has ${span} bytes of LMEM; this scenario needs ${bytes}`,
      `iovh provision <PF> --vf ${vf.id} --vram ${bytes}`,
    );
  return span;
}

export const importIovSingleRange: Scenario = {
  id: 'import/iov-single-range',
  title: 'IOV import of one range',
  description:
    "Exports one 64 KiB range of the VF's LMEM BAR, imports it into the PF's xe and binds it. The trace must show the IOV path: " +
    'the interconnect negotiated (dma_buf_match_interconnects returning 1), the ranges mapped, and the LMEM object looked up for ' +
    'this VF (vfid = VF index + 1) and returned; then the GPU writes the pattern into the first and last page of the import and ' +
    'the CPU must read it back through BAR 2 at the same offsets. A fallback to the scatter-gather path is a failure, not a pass.',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    requireIov(ctx);
    const vf = ctx.target!.vf;
    needLmem(ctx, vf, 16n * PAGE);
    const gpu = Gpu.open(ctx);
    if (await iovImport(ctx, gpu, vf, [{ offset: 0n, length: 16n * PAGE }], `VF ${vf.bdf} one range`))
      ctx.note(`iov through vfid ${vf.id}, data verified at both ends`);
  },
};

export const importIovMultiRange: Scenario = {
  id: 'import/iov-multi-range',
  title: 'IOV import of several ranges',
  description:
    'Exports three ranges of BAR 2 in one dma-buf (4, 2 and 1 pages: power-of-two lengths, so that RFC quirk 7 stays out of ' +
    'this check; edge/npot-ranges covers it), imports and binds them, requires the IOV path for this VF, and verifies GPU-written ' +
    'data at the first and last page of every range through BAR 2: each range must land at its own offset.',
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    requireIov(ctx);
    const vf = ctx.target!.vf;
    needLmem(ctx, vf, 80n * PAGE);
    const gpu = Gpu.open(ctx);
    const ranges = [
      { offset: 0n, length: 4n * PAGE },
      { offset: 16n * PAGE, length: 2n * PAGE },
      { offset: 64n * PAGE, length: PAGE },
    ];
    if (await iovImport(ctx, gpu, vf, ranges, `VF ${vf.bdf} three ranges`))
      ctx.note('iov, every range verified at its own offset');
  },
};

export const importIovEveryVf: Scenario = {
  id: 'import/iov-every-vf',
  title: 'IOV import from every VF',
  description:
    'For every VF of the PF that is bound to vfio-pci, exports one range of its BAR 2, imports it into the PF and checks the IOV ' +
    "path with that VF's own vfid and the data through that VF's BAR 2: the owner-VF search must find each of them, not only the first.",
  expectedPath: 'iov',
  async run(ctx: ScenarioContext) {
    requireIov(ctx);
    const gpu = Gpu.open(ctx);
    const vfs = ctx.target!.vfioVfs.filter((v) => lmemSpan(v) >= 4n * PAGE);
    if (vfs.length === 0)
      ctx.skip('provisioning', 'no VF on vfio-pci has LMEM provisioned', 'iovh provision <PF> --vf N --vram 64M');
    let ok = 0;
    for (const vf of vfs) {
      ctx.abortIfStopped();
      if (await iovImport(ctx, gpu, vf, [{ offset: 0n, length: 4n * PAGE }], `VF ${vf.bdf}`)) ok += 1;
    }
    ctx.record(
      'vfs',
      vfs.map((v) => v.bdf),
    );
    if (ok === vfs.length) ctx.note(`${ok} VFs, each iov through its own vfid with data verified`);
  },
};

/** An import that must not take the IOV path: p2p or refused are both correct, iov or untranslated are not. */
function expectNotIov(ctx: ScenarioContext, imp: Imported, why: string): void {
  ctx.setPath(imp.verdict.path);
  if (imp.verdict.path === 'unknown') {
    ctx.fail(`${imp.label}: the trace cannot tell which path the import took (${imp.verdict.why})`);
    return;
  }
  if (
    ctx.check(
      imp.verdict.path === 'p2p' || imp.verdict.path === 'refused',
      `${imp.label}: path ${imp.verdict.path} (${imp.verdict.why}), but ${why}`,
    )
  ) {
    ctx.note(`${imp.verdict.path}: ${imp.verdict.why}`);
  }
}

export const importWrongBar: Scenario = {
  id: 'import/wrong-bar',
  title: 'import of another BAR',
  description:
    "Exports a page of the VF's BAR 0 (its MMIO registers, not LMEM) and imports it into the PF's xe. The IOV match requires the " +
    "importer's BAR (LMEM_BAR = 2) to equal the exported one, so negotiation must fail and the import must take the ordinary P2P path " +
    'or be refused; the IOV path here would let the PF treat register space as LMEM.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    requireCaps(ctx, 'tracefs', 'kprobes', 'sgProbes');
    const vf = ctx.target!.vf;
    const bar0 = vf.bars[0];
    if (!bar0 || bar0.size < PAGE) ctx.skip('target', `VF ${vf.bdf} has no BAR 0 to export`, 'use an xe VF');
    const gpu = Gpu.open(ctx);
    const trace = requirePathTrace(ctx);
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: 0, ranges: [{ offset: 0n, length: PAGE }] });
    expectNotIov(
      ctx,
      importAndBind(ctx, gpu, trace, buf, PAGE, `VF ${vf.bdf} BAR 0`),
      'BAR 0 is not LMEM: the IOV match must fail',
    );
  },
};

export const importForeignDevice: Scenario = {
  id: 'import/foreign-device',
  title: 'import by another device',
  description:
    "Imports a VF's LMEM dma-buf into a different xe device (another PF, another GPU) than the VF's own PF. The IOV match holds only " +
    "when the importer is the exporter VF's physical function, so the import must take the ordinary P2P path or be refused. Needs a " +
    'second xe device (on the mock: topologies/two-gpus.json).',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    requireCaps(ctx, 'tracefs', 'kprobes', 'sgProbes');
    const nodes = otherXeNodes(ctx.caps);
    if (nodes.length === 0)
      skipForShape(
        ctx,
        `no xe device other than ${ctx.target!.pf.bdf} to import into`,
        'run on a machine with two xe GPUs',
        'two-gpus',
      );
    const vf = ctx.target!.vf;
    const gpu = Gpu.openNode(ctx, nodes[0]!.path);
    const trace = requirePathTrace(ctx);
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
    ctx.record('importer', nodes[0]!.bdf ?? nodes[0]!.path);
    expectNotIov(
      ctx,
      importAndBind(ctx, gpu, trace, buf, PAGE, `VF ${vf.bdf} into ${nodes[0]!.bdf}`),
      `${nodes[0]!.bdf} is not the VF's PF: the IOV match must fail`,
    );
  },
};

/** Render nodes of xe devices other than the PF under test (opened to check the driver name). */
export function otherXeNodes(caps: Capabilities): { path: string; bdf: string | null }[] {
  const own = caps.target?.pf.bdf ?? null;
  return caps.pfs
    .filter((pf) => pf.driver === 'xe' && pf.bdf !== own)
    .map((pf) => ({ pf, node: caps.drmNodes.find((n) => n.kind === 'render' && n.bdf === pf.bdf) }))
    .filter((x): x is { pf: (typeof caps.pfs)[number]; node: (typeof caps.drmNodes)[number] } => x.node !== undefined)
    .map((x) => ({ path: x.node.path, bdf: x.pf.bdf }));
}

export const importNonP2pImporter: Scenario = {
  id: 'import/non-p2p-importer',
  title: 'non-P2P importer refused',
  description:
    'Imports a VF dma-buf into vgem, a software DRM driver that imports through the non-dynamic, non-peer2peer path. vfio-pci ' +
    'refuses such importers at attach time, so DRM_IOCTL_PRIME_FD_TO_HANDLE must fail: with EOPNOTSUPP from ' +
    'vfio_pci_dma_buf_attach (seen on a real 7.2 kernel in QEMU), or on a mapping-type kernel with EINVAL from ' +
    'dma_buf_match_mapping, no type both sides take (the errno the kernel shape names, docs/profiles.md).',
  expectedPath: 'refused',
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport', 'vgem');
    const bar = requireExportBar(ctx, target.vf);
    const device = openVf(ctx, target.vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    const vgem = DrmDevice.open(ctx.backend, ctx.caps.vgemNode!);
    ctx.defer('close vgem', () => vgem.close());
    const got = errnoOf(() => vgem.primeImport(buf));
    if (got.value) {
      const h = got.value as { close(): void };
      h.close();
    }
    ctx.record('primeImport', got.code ?? 'success');
    ctx.setPath(got.code ? 'refused' : 'unknown');
    const want = ctx.caps.shape.row?.nonP2pImport ?? 'EOPNOTSUPP';
    if (
      ctx.check(
        got.code === want,
        `vgem PRIME import of a vfio dma-buf: expected ${want} (kernel shape ${ctx.caps.shape.name}), got ${got.code ?? 'success'}`,
      )
    )
      ctx.note(`vgem refused with ${want}`);
  },
};

export const importControlUdmabuf: Scenario = {
  id: 'import/control-udmabuf',
  title: 'system-memory control import',
  description:
    'The control: a memfd (sealed against shrinking) turned into a dma-buf by udmabuf must import into vgem and, when there is an xe ' +
    'PF, into xe with a bind and a GPU write that the CPU reads back through the udmabuf mapping. If this fails, the importer is ' +
    'broken and the VF results above say nothing about the interconnect.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireCaps(ctx, 'udmabuf');
    if (!ctx.caps.caps.vgem.ok && !ctx.caps.caps.xe.ok)
      ctx.skip(
        'vgem',
        `no importer: ${ctx.caps.caps.vgem.detail}; ${ctx.caps.caps.xe.detail}`,
        ctx.caps.caps.vgem.enable ?? 'modprobe vgem',
      );
    const dev = ctx.backend.dev;
    const size = 16n * PAGE;
    const memfd = dev.memfdCreate('iovh-control', MFD.CLOEXEC | MFD.ALLOW_SEALING);
    ctx.defer(`close memfd ${memfd}`, () => dev.close(memfd));
    dev.ftruncate(memfd, size);
    dev.addSeals(memfd, F_SEAL.SHRINK);
    const udmabufFd = dev.open('/dev/udmabuf', 2);
    ctx.defer('close /dev/udmabuf', () => dev.close(udmabufFd));
    const buf = new DmaBuf(
      ctx.backend,
      dev.udmabufCreate(udmabufFd, { memfd, offset: 0n, size, flags: UDMABUF.FLAGS_CLOEXEC }),
      'udmabuf',
    );
    ctx.defer(`close udmabuf dma-buf ${buf.fd}`, () => buf.close());
    ctx.record('exp_name', buf.fdinfo().expName);
    if (ctx.caps.caps.vgem.ok) {
      const vgem = DrmDevice.open(ctx.backend, ctx.caps.vgemNode!);
      ctx.defer('close vgem', () => vgem.close());
      const got = errnoOf(() => vgem.primeImport(buf));
      if (got.value) (got.value as { close(): void }).close();
      ctx.record('vgemImport', got.code ?? 'ok');
      ctx.check(got.code === null, `vgem PRIME import of a udmabuf failed with ${got.code}`);
    }
    if (ctx.caps.caps.xe.ok) {
      const gpu = Gpu.open(ctx);
      const trace = startTrace(ctx);
      const imp = importAndBind(ctx, gpu, trace, buf, size, 'udmabuf into xe');
      ctx.setPath(imp.verdict.path);
      if (ctx.check(imp.bound !== null, `xe import of a udmabuf: ${imp.verdict.why}`) && imp.bound) {
        const map = buf.mmap(Number(size), PROT.READ | PROT.WRITE);
        ctx.defer('munmap the udmabuf', () => map.unmap());
        const seed = freshSeed();
        await gpu.exec(
          buildStoreBatch([{ va: imp.bound.va!, length: Number(PAGE), seed, base: 0n }]),
          Math.max(2000, ctx.timing.stallMs * 2),
        );
        const mismatch = map.verify(0, Number(PAGE), seed, 0n);
        ctx.record('data', { seed: hex(seed), ok: mismatch === null });
        ctx.check(
          mismatch === null,
          `GPU write into the udmabuf import not seen through its mapping (word at +${hex(mismatch?.offset ?? 0)} is ${hex(mismatch?.actual ?? 0n)})`,
        );
      }
    }
    if (ctx.failures.length === 0)
      ctx.note(
        `udmabuf imports${ctx.caps.caps.vgem.ok ? ' into vgem' : ''}${ctx.caps.caps.xe.ok ? ' and into xe, with GPU data seen by the CPU' : ''}`,
      );
  },
};

/** PAT indices of xe2 (drivers/gpu/drm/xe/xe_pat.c xe2_pat_table): 0 WB non-coherent, 1 one-way coherent, 9 compressed. */
const PAT_XE2 = { nonCoherent: 0, oneWay: 1, compressed: 9, reserved: 16 } as const;

export const importBindPatRules: Scenario = {
  id: 'import/bind-pat-rules',
  title: "xe's PAT rules for binding an import",
  description:
    "Imports a page of a VF's BAR into the PF's xe and binds it with PAT indices of the xe2 table (drivers/gpu/drm/xe/xe_pat.c): " +
    'xe_vm_bind_ioctl_validate_bo (drivers/gpu/drm/xe/xe_vm.c) refuses, with EINVAL, a non-coherent PAT for a BO imported from ' +
    'another device ("Imported dma-buf from a different device should require 1way or 2way coherency"), a PAT that enables ' +
    'compression for an import, and a reserved PAT index; a one-way coherent PAT binds. A userspace driver that binds imports ' +
    'with a COH_NONE PAT meets the first (a VM_BIND EINVAL on BMG), which this tells from a refused import.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const vf = ctx.target!.vf;
    if (lmemSpan(vf) < PAGE)
      ctx.skip('provisioning', `VF ${vf.bdf} has no LMEM provisioned`, `iovh provision <PF> --vf ${vf.id} --vram 64M`);
    const gpu = Gpu.open(ctx);
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
    const handle = gpu.import(buf);
    suspectOtherBus(ctx, buf, `VF ${vf.bdf}`);
    const bind = (patIndex: number): string | null => {
      const va = gpu.allocVa(PAGE);
      const r = errnoOf(() => gpu.vm.map(handle, va, PAGE, { patIndex }));
      if (r.code === null) gpu.vm.unmap(va, PAGE);
      return r.code;
    };
    const cases: { what: string; pat: number; want: string | null }[] = [
      { what: 'a one-way coherent PAT', pat: PAT_XE2.oneWay, want: null },
      { what: 'a non-coherent PAT (COH_NONE)', pat: PAT_XE2.nonCoherent, want: 'EINVAL' },
      { what: 'a compressing PAT', pat: PAT_XE2.compressed, want: 'EINVAL' },
      { what: 'a reserved PAT index', pat: PAT_XE2.reserved, want: 'EINVAL' },
    ];
    const seen: Record<string, string> = {};
    for (const c of cases) {
      const got = bind(c.pat);
      seen[`pat ${c.pat}`] = got ?? 'ok';
      ctx.check(
        got === c.want,
        `binding the import with ${c.what} (pat_index ${c.pat}) gave ${got ?? 'success'}, expected ${c.want ?? 'success'} (xe_vm_bind_ioctl_validate_bo)`,
      );
    }
    ctx.record('binds', seen);
    if (ctx.failures.length === 0)
      ctx.note('imports bind with a coherent PAT; non-coherent, compressing and reserved PAT indices are EINVAL');
  },
};

export const importScenarios: Scenario[] = [
  importIovSingleRange,
  importIovMultiRange,
  importIovEveryVf,
  importWrongBar,
  importForeignDevice,
  importNonP2pImporter,
  importControlUdmabuf,
  importBindPatRules,
];
