#!/usr/bin/env node
// The mock-kernel figures of `npm run bench`, one per child process so that
// each starts with a cold heap and its own JIT state (bench/run.mjs spawns
// `node --expose-gc bench/mock.mjs <mode> [args]` and reads one JSON object
// from stdout). Modes:
//
//   cycle <seconds>      export -> PRIME import -> VM bind -> GPU write ->
//                        CPU verify through BAR 2 -> release, repeated; with
//                        a per-operation profile and the mock's cheapest
//                        ioctl as the baseline
//   ranges <n>           one export of n one-page ranges (gapped, like
//                        stress/max-ranges), imported, bound (xe translates
//                        every range) and GPU-checked at its last range
//   memory <vfs>         resident size of a mock with <vfs> VFs on vfio-pci,
//                        LMEM provisioned, first and last page of every VF's
//                        LMEM written through BAR 2, against the same process
//                        before the mock existed
//   catalog <vfs>        wall time of the whole catalog (iovh run) on a mock
//                        with <vfs> VFs
//
// Everything goes through the same Backend seam and src/uapi/ wrappers as
// the harness (dist/, built by npm run build:ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);

const { createMockBackend } = await dist('mock/backend.js');
const { defaultTopology, parseTopology, vfBarSize } = await dist('mock/topology.js');
const { openVfioDevice } = await dist('uapi/vfio.js');
const { XeDevice } = await dist('uapi/xe.js');
const { findRenderNodes, monotonicDeadline } = await dist('uapi/drm.js');
const { buildStoreBatch } = await dist('uapi/batch.js');
const { XE, DRM, VFIO } = await dist('uapi/constants.js');

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const PAGE = 4096n;
const hex = (v) => `0x${v.toString(16)}`;

/**
 * The default mock machine (one BMG-like PF, 16 GiB VRAM, 24 VFs possible)
 * with `n` VFs enabled on vfio-pci at boot, in the shape `iovh run` brings
 * up (src/harness/bringup.ts) for its first four VFs: VF 1's quota fills its
 * BAR 2, VFs 2 and 3 are smaller than theirs, VF 4 has none; VFs past 4 get
 * the small quota. When VRAM cannot hold that, xe provisions every VF.
 */
export function topologyWithVfs(n, { auto = false } = {}) {
  const t = defaultTopology();
  const pf = t.devices.find((d) => d.driver === 'xe' && d.sriov && d.xe);
  const spec = parseTopology(t, 'default topology').devices.find((d) => d.bdf === pf.bdf);
  const bar2 = spec.sriov.vfBars.find((b) => b.index === 2);
  const barSize = vfBarSize(bar2, spec.sriov.totalvfs, n);
  const available = spec.xe.vram - spec.xe.pfReserved - spec.xe.vramSpare;
  const small = barSize > 2n * GiB ? GiB : (barSize / 4n / (2n * MiB)) * (2n * MiB);
  const quotas = Array.from({ length: n }, (_, i) => (i === 0 ? barSize : i === 3 ? 0n : small));
  if (auto || quotas.reduce((a, b) => a + b, 0n) > available) quotas.fill(0n);
  pf.sriov.numvfs = n;
  pf.sriov.autoprobe = false;
  pf.sriov.vfs = quotas.map((q, index) => ({
    index,
    driver: 'vfio-pci',
    driverOverride: 'vfio-pci',
    vramQuota: q > 0n ? hex(q) : null,
  }));
  return { topology: t, pf: pf.bdf, barSize, quotas };
}

function mockWithVfs(n, profile, options = {}) {
  const shape = topologyWithVfs(n, options);
  const backend = createMockBackend({ profile, topology: shape.topology, reason: `bench: ${n} VFs` });
  const vfs = [];
  for (let i = 0; i < n; i++)
    vfs.push(backend.fs.readlink(`/sys/bus/pci/devices/${shape.pf}/virtfn${i}`).split('/').pop());
  return { backend, vfs, ...shape };
}

/** The PF's xe with one VM, a copy (or render) engine queue and a bound system-memory batch buffer. */
function openGpu(backend) {
  const [node] = findRenderNodes(backend, 'xe');
  if (!node) throw new Error('the mock has no xe render node');
  const xe = XeDevice.open(backend, node.path);
  const vm = xe.vmCreate(0);
  const engine = xe.engineOfClass(XE.ENGINE_CLASS_COPY) ?? xe.engineOfClass(XE.ENGINE_CLASS_RENDER);
  const queue = xe.execQueueCreate(vm, [engine]);
  const patIndex = xe.gtList().some((g) => g.ipVerMajor >= 20) ? XE.PAT_INDEX_WB_2WAY_XE2 : 0;
  const batchSize = 64n * 1024n;
  const bo = xe.gemCreate({
    size: batchSize,
    placement: xe.placement(XE.MEM_REGION_CLASS_SYSMEM),
    cpuCaching: XE.GEM_CPU_CACHING_WB,
  });
  const batchMap = bo.mmap();
  const batchVa = 1n << 40n;
  vm.map(bo, batchVa, batchSize, { patIndex });
  let nextVa = 1n << 32n;
  return {
    xe,
    vm,
    patIndex,
    allocVa(size) {
      const va = nextVa;
      nextVa += ((size + 2n * MiB - 1n) / (2n * MiB)) * (2n * MiB);
      return va;
    },
    async run(batch) {
      batchMap.write(0, batch);
      const sync = xe.syncobjCreate(0);
      try {
        queue.exec(batchVa, [{ type: XE.SYNC_TYPE_SYNCOBJ, flags: XE.SYNC_FLAG_SIGNAL, handle: sync.handle }]);
        await sync.wait(monotonicDeadline(5000), DRM.SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT);
      } finally {
        sync.close();
      }
    },
    close() {
      vm.unmap(batchVa, batchSize);
      batchMap.unmap();
      bo.close();
      queue.close();
      vm.close();
      xe.close();
    },
  };
}

/** DeviceOps wrapped to time each method (the profile); the proxy's own cost is outside every bucket. */
function profiled(dev) {
  const spent = new Map();
  const calls = new Map();
  const wrapped = new Proxy(dev, {
    get(target, key) {
      const f = target[key];
      if (typeof f !== 'function') return f;
      return (...args) => {
        const t0 = performance.now();
        const account = () => {
          spent.set(key, (spent.get(key) ?? 0) + performance.now() - t0);
          calls.set(key, (calls.get(key) ?? 0) + 1);
        };
        let r;
        try {
          r = f.apply(target, args);
        } catch (e) {
          account();
          throw e;
        }
        if (r instanceof Promise) return r.finally(account);
        account();
        return r;
      };
    },
  });
  return { wrapped, spent, calls };
}

// ------------------------------------------------------------------ cycle

async function cycleMode(seconds) {
  // `fixed`: the series as intended (IOV path, no quirk), so that a cycle is
  // the clean round trip and nothing accumulates (rfc-v1 leaks a range
  // container per map: RFC quirk 6).
  const { backend, vfs } = mockWithVfs(4, 'fixed');
  const pages = 1n;
  const size = pages * PAGE;
  const gpu = openGpu(backend);
  let device = openVfioDevice(backend, vfs[0]);
  const bar = device.mmapRegion(VFIO.PCI_BAR2_REGION_INDEX, { length: Number(size) });
  let seed = 1n;

  async function cycle() {
    seed += 1n;
    const dmabuf = device.exportDmaBuf({
      region: VFIO.PCI_BAR2_REGION_INDEX,
      ranges: [{ offset: 0, length: Number(size) }],
    });
    const handle = gpu.xe.primeImport(dmabuf);
    const va = gpu.allocVa(size);
    gpu.vm.map(handle, va, size, { patIndex: gpu.patIndex });
    await gpu.run(buildStoreBatch([{ va, length: Number(size), seed, base: 0n }]));
    const bad = bar.verify(0, Number(size), seed, 0n);
    if (bad)
      throw new Error(
        `cycle ${seed}: GPU-written word at +${bad.offset} reads ${hex(bad.actual)}, expected ${hex(bad.expected)}`,
      );
    gpu.vm.unmap(va, size);
    handle.close();
    dmabuf.close();
  }

  // The baseline: the mock's cheapest ioctl (DRM_IOCTL_GET_CAP, a table
  // lookup behind the syscall boundary), timed in the same process.
  const xeFd = gpu.xe.fd;
  const capCalls = 20000;
  for (let i = 0; i < 2000; i++) backend.dev.drmGetCap(xeFd, DRM.CAP_PRIME);
  let t0 = performance.now();
  for (let i = 0; i < capCalls; i++) backend.dev.drmGetCap(xeFd, DRM.CAP_PRIME);
  const capMs = (performance.now() - t0) / capCalls;

  for (let i = 0; i < 20; i++) await cycle();
  const ops0 = backend.kernel.operations();
  let n = 0;
  t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await cycle();
    n++;
  }
  const elapsed = performance.now() - t0;
  const opsPerCycle = (backend.kernel.operations() - ops0) / n;

  // The profile, in a separate pass through a timing proxy of DeviceOps.
  const prof = profiled(backend.dev);
  const realDev = backend.dev;
  Object.defineProperty(backend, 'dev', { value: prof.wrapped, configurable: true });
  bar.unmap();
  device.close();
  device = openVfioDevice(backend, vfs[0]);
  const bar2 = device.mmapRegion(VFIO.PCI_BAR2_REGION_INDEX, { length: Number(size) });
  const profCycles = Math.max(50, Math.min(n, 400));
  const p0 = performance.now();
  for (let i = 0; i < profCycles; i++) {
    seed += 1n;
    const dmabuf = device.exportDmaBuf({
      region: VFIO.PCI_BAR2_REGION_INDEX,
      ranges: [{ offset: 0, length: Number(size) }],
    });
    const handle = gpu.xe.primeImport(dmabuf);
    const va = gpu.allocVa(size);
    gpu.vm.map(handle, va, size, { patIndex: gpu.patIndex });
    const tb = performance.now();
    const batch = buildStoreBatch([{ va, length: Number(size), seed, base: 0n }]);
    prof.spent.set('(build the MI batch)', (prof.spent.get('(build the MI batch)') ?? 0) + performance.now() - tb);
    await gpu.run(batch);
    const tv = performance.now();
    const bad = bar2.verify(0, Number(size), seed, 0n);
    prof.spent.set(
      '(verify through the BAR 2 mapping)',
      (prof.spent.get('(verify through the BAR 2 mapping)') ?? 0) + performance.now() - tv,
    );
    if (bad) throw new Error('profiled cycle: data mismatch');
    gpu.vm.unmap(va, size);
    handle.close();
    dmabuf.close();
  }
  const profMs = performance.now() - p0;
  Object.defineProperty(backend, 'dev', { value: realDev, configurable: true });
  bar2.unmap();
  device.close();
  gpu.close();
  const live = backend.kernel.live();
  backend.close();

  const accounted = [...prof.spent.values()].reduce((a, b) => a + b, 0);
  const profile = [...prof.spent.entries()]
    .map(([op, ms]) => ({
      op,
      share: ms / profMs,
      usPerCycle: (ms / profCycles) * 1000,
      callsPerCycle: (prof.calls.get(op) ?? 0) / profCycles,
    }))
    .sort((a, b) => b.share - a.share);
  profile.push({
    op: '(wrappers, promises and the profiler itself)',
    share: Math.max(0, 1 - accounted / profMs),
    usPerCycle: ((profMs - accounted) / profCycles) * 1000,
    callsPerCycle: 0,
  });
  return {
    cycles: n,
    seconds: elapsed / 1000,
    cyclesPerSecond: n / (elapsed / 1000),
    msPerCycle: elapsed / n,
    opsPerCycle,
    cheapestOpMs: capMs,
    pages: Number(pages),
    profileCycles: profCycles,
    profile,
    liveAfter: live,
  };
}

// ------------------------------------------------------------------ ranges

async function rangesMode(count) {
  const { backend, vfs, quotas } = mockWithVfs(4, 'fixed');
  if (BigInt(2 * count) * PAGE > quotas[0])
    throw new Error(`VF 1 has ${hex(quotas[0])} of LMEM, ${2 * count} pages needed`);
  const gpu = openGpu(backend);
  const device = openVfioDevice(backend, vfs[0]);
  const ranges = new BigUint64Array(2 * count);
  for (let i = 0; i < count; i++) {
    ranges[2 * i] = BigInt(2 * i) * PAGE;
    ranges[2 * i + 1] = PAGE;
  }
  const size = BigInt(count) * PAGE;
  const t0 = performance.now();
  const dmabuf = device.exportDmaBuf({ region: VFIO.PCI_BAR2_REGION_INDEX, ranges });
  const t1 = performance.now();
  const handle = gpu.xe.primeImport(dmabuf);
  const t2 = performance.now();
  const va = gpu.allocVa(size);
  gpu.vm.map(handle, va, size, { patIndex: gpu.patIndex });
  const t3 = performance.now();
  // The last range's page, written by the GPU through the translated import, read through BAR 2.
  const last = BigInt(count - 1);
  await gpu.run(buildStoreBatch([{ va: va + last * PAGE, length: Number(PAGE), seed: 7n, base: 2n * last * PAGE }]));
  const bad = device.read(VFIO.PCI_BAR2_REGION_INDEX, 2n * last * PAGE, Number(PAGE));
  const { patternVerifyTs } = await dist('uapi/pattern.js');
  const mismatch = patternVerifyTs(bad, 7n, 2n * last * PAGE);
  const t4 = performance.now();
  gpu.vm.unmap(va, size);
  handle.close();
  dmabuf.close();
  device.close();
  gpu.close();
  backend.close();
  if (mismatch) throw new Error(`${count} ranges: the last range's page does not hold what the GPU wrote`);
  return { ranges: count, exportMs: t1 - t0, importMs: t2 - t1, bindMs: t3 - t2, checkMs: t4 - t3, totalMs: t3 - t0 };
}

// ------------------------------------------------------------------ memory

function rssMiB() {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

async function memoryMode(n) {
  const before = rssMiB();
  // Every VF provisioned by xe (no quota written): the PF hands out all of its VRAM.
  const { backend, vfs, pf, topology } = mockWithVfs(n, 'fixed', { auto: true });
  let written = 0;
  let provisioned = 0n;
  // Devices stay open until the measurement: the last close of a VF resets it, and the reset clears its LMEM.
  const open = [];
  for (const [i, bdf] of vfs.entries()) {
    const quota = BigInt(
      backend.fs.readText(`/sys/bus/pci/devices/${pf}/sriov_admin/vf${i + 1}/profile/vram_quota`).trim(),
    );
    provisioned += quota;
    if (quota === 0n) continue;
    const device = openVfioDevice(backend, bdf);
    for (const offset of [0n, quota - PAGE]) {
      device.write(VFIO.PCI_BAR2_REGION_INDEX, offset, new Uint8Array(Number(PAGE)).fill(0xa5));
      written++;
    }
    open.push(device);
  }
  const after = rssMiB();
  const resident = backend.kernel.residentBytes();
  for (const d of open) d.close();
  backend.close();
  const vram = topology.devices.find((d) => d.bdf === pf).xe.vram;
  return {
    vfs: n,
    vram,
    provisioned: hex(provisioned),
    beforeMiB: before,
    afterMiB: after,
    modelResidentBytes: resident,
    pagesWritten: written,
  };
}

// ------------------------------------------------------------------ catalog

async function catalogMode(n) {
  const { bringUpForCatalog } = await dist('harness/bringup.js');
  const { runScenarios } = await dist('harness/runner.js');
  const { CATALOG } = await dist('harness/catalog/index.js');
  const { CAPS_ID } = await dist('harness/summary.js');
  const { SIMULATED_KERNEL_TIMING } = await dist('harness/timing.js');
  const shape = topologyWithVfs(n);
  const dir = mkdtempSync(join(tmpdir(), 'iovh-bench-'));
  try {
    const file = join(dir, 'topology.json');
    writeFileSync(file, JSON.stringify(shape.topology));
    const t0 = performance.now();
    const backend = createMockBackend({ profile: 'rfc-v1', topology: file, reason: `bench: ${n} VFs` });
    // As `iovh run` does: the machine has the catalog's shape already, so this brings nothing up.
    const setup = await bringUpForCatalog(backend, { pf: null });
    const scenarios = [CATALOG.find((s) => s.id === CAPS_ID), ...CATALOG.filter((s) => s.id !== CAPS_ID)];
    const run = await runScenarios({
      backend,
      backendInfo: { name: 'mock', reason: backend.reason, profile: 'rfc-v1' },
      scenarios,
      timeoutMs: 60_000,
      timing: SIMULATED_KERNEL_TIMING,
      want: { pf: null, vf: null },
      baseline: null,
      filters: [],
      setup,
      toolVersion: 'bench',
    });
    backend.close();
    const seconds = (performance.now() - t0) / 1000;
    const slowest = [...run.scenarios]
      .sort((a, b) => b.durationMs - a.durationMs)
      .slice(0, 3)
      .map((r) => ({ id: r.id, ms: Math.round(r.durationMs) }));
    return { vfs: n, seconds, scenarios: run.scenarios.length, byStatus: run.summary.byStatus, slowest };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const modes = { cycle: cycleMode, ranges: rangesMode, memory: memoryMode, catalog: catalogMode };
const [mode, arg] = process.argv.slice(2);
if (!modes[mode] || !Number.isFinite(Number(arg)) || Number(arg) <= 0) {
  console.error('usage: node --expose-gc bench/mock.mjs cycle <seconds> | ranges <n> | memory <vfs> | catalog <vfs>');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await modes[mode](Number(arg)))}\n`);
