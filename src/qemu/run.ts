// `iovh qemu` without the command line: get a kernel (built from source with
// the patches and fragments asked for, from the cache when it was built
// before, or a prebuilt bzImage), boot it under QEMU on each variant's
// emulated machine, and collect what the guest's `iovh run` reported. The
// engine is the QEMU CI's (scripts/qemu-ci/, shipped with the package):
// kernel source and build, QEMU and busybox setup, initramfs, boot, verdict.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boot, type BootReport } from '../../scripts/qemu-ci/boot.mjs';
import { buildInitramfs } from '../../scripts/qemu-ci/initramfs.mjs';
import {
  IMPORTER_DIR,
  buildKernel,
  buildMockGpuDriver,
  buildStandIn,
  kernelParameters,
  parseDotConfig,
  progressLine,
  type BuildProgress,
  type BuiltKernel,
} from '../../scripts/qemu-ci/kbuild.mjs';
import { kernelCachePaths, kernelCacheRoot } from '../../scripts/qemu-ci/kcache.mjs';
import { debianSource, userTree, type KernelSource } from '../../scripts/qemu-ci/ksource.mjs';
import { cachePaths, checkoutProblems, type CachePaths } from '../../scripts/qemu-ci/paths.mjs';
import { setupTools } from '../../scripts/qemu-ci/setup.mjs';
import { parseSerial } from '../../scripts/qemu-ci/verdict.mjs';
export { unexplained } from '../../scripts/qemu-ci/windows.mjs';
import { buildQemu } from '../../scripts/qemu-ci/qemu-build.mjs';
import {
  MOCK_GPU_VARIANT,
  mockGpuDevice,
  mockGpuRefusal,
  pickVariants,
  type Variant,
} from '../../scripts/qemu-ci/variants.mjs';
import type { RunResult } from '../report/model.js';
import { bzImageProblem, embeddedConfig } from './image.js';
import { LAST_REPORT, withLastRun } from './last.js';

/** What `--variant` accepts besides full variant names. */
export const VARIANT_SHORTHANDS: Record<string, string[]> = {
  igb: ['igb-intel-iommu'],
  'igb-switch': ['igb-switch-intel-iommu'],
  'igb-switch-vfio': ['igb-switch-vfio-intel-iommu'],
  nvme: ['nvme-virtio-iommu'],
  ivshmem: ['igb-ivshmem-intel-iommu'],
  all: ['all'],
};

/** Devices `iovh qemu --device` puts in the guest instead of a variant's (docs/mock-gpu.md). */
export const DEVICES = ['mock-gpu'] as const;
export type DeviceName = (typeof DEVICES)[number];

/**
 * Settings of a --device that belong to its guest driver, not to QEMU: the
 * mock GPU PF driver's translation step (kernel/iovh-mock-gpu/xlate.c,
 * module parameter `translation`): RFC v1 7/8 as posted, or each of its
 * quirks corrected (docs/mock-gpu.md).
 */
export const DEVICE_DRIVER_SETTINGS: Record<string, { module: string; values: readonly string[] }> = {
  translation: { module: 'iovh_mock_gpu', values: ['rfc-v1', 'fixed'] },
};

/**
 * `--device NAME[,prop=value...]`: the device, QEMU properties over its
 * defaults (docs/mock-gpu.md lists them; QEMU itself judges the values), and
 * its driver's settings (DEVICE_DRIVER_SETTINGS), as module parameters.
 */
export function parseDevice(spec: string): {
  name: DeviceName;
  props: Record<string, string>;
  moduleParams: string[];
} {
  const [name, ...rest] = spec.split(',');
  if (!(DEVICES as readonly string[]).includes(name ?? ''))
    throw new QemuInputError(`--device ${spec}: unknown device '${name}' (choose from ${DEVICES.join(', ')})`);
  const props: Record<string, string> = {};
  const moduleParams: string[] = [];
  for (const p of rest) {
    const m = /^([a-z][a-z0-9-]*)=([^=\s",]+)$/.exec(p);
    if (!m) throw new QemuInputError(`--device ${spec}: '${p}' is not a property=value`);
    if (m[1] === 'bus' || m[1] === 'id')
      throw new QemuInputError(`--device ${spec}: '${m[1]}' is iovh's to set (the device sits behind its root port)`);
    const driver = Object.hasOwn(DEVICE_DRIVER_SETTINGS, m[1]!) ? DEVICE_DRIVER_SETTINGS[m[1]!]! : null;
    if (driver) {
      if (!driver.values.includes(m[2]!))
        throw new QemuInputError(`--device ${spec}: ${m[1]} must be one of ${driver.values.join(', ')}`);
      moduleParams.push(`${driver.module}.${m[1]}=${m[2]}`);
    } else props[m[1]!] = m[2]!;
  }
  return { name: name as DeviceName, props, moduleParams };
}

/** The machine of a --device: one variant of its own. */
export function deviceVariants(spec: string): Variant[] {
  const d = parseDevice(spec);
  return [
    {
      ...MOCK_GPU_VARIANT,
      ...(Object.keys(d.props).length ? { deviceProps: d.props } : {}),
      ...(d.moduleParams.length ? { moduleParams: d.moduleParams } : {}),
    },
  ];
}

/** Does QEMU accept the device as configured? Null, or QEMU's reason (variants.mjs mockGpuRefusal). */
export function deviceProblem(qemu: string, variant: Variant): string | null {
  return mockGpuRefusal(qemu, { device: mockGpuDevice(variant.deviceProps) });
}

export function resolveVariants(names: string[]): Variant[] {
  const expanded = names.flatMap((n) => VARIANT_SHORTHANDS[n] ?? [n]);
  if (expanded.includes('all')) return pickVariants(['all']);
  return [...new Map(pickVariants(expanded).map((v) => [v.name, v])).values()];
}

export type KernelChoice =
  | { kind: 'source'; tree: string | null; patches: string[]; fragments: string[] }
  | { kind: 'image'; bzImage: string; config: string | null };

/** Options a prebuilt kernel must have built in: the guest's initramfs carries no modules. */
export function requiredBuiltins(variants: Variant[]): string[] {
  const need = new Set([
    'BLK_DEV_INITRD',
    'RD_GZIP',
    'DEVTMPFS',
    'PROC_FS',
    'SYSFS',
    'TMPFS',
    'SERIAL_8250_CONSOLE',
    'PCI',
    'PCI_IOV',
    'VIRTIO_PCI',
    'NET_9P_VIRTIO',
    '9P_FS',
    'VFIO',
    'VFIO_GROUP',
    'VFIO_CONTAINER',
    'VFIO_IOMMU_TYPE1',
    'VFIO_PCI',
    'VFIO_PCI_DMABUF',
    'DMA_SHARED_BUFFER',
  ]);
  for (const v of variants) {
    need.add(v.iommu === 'intel' ? 'INTEL_IOMMU' : 'VIRTIO_IOMMU');
    if (v.device === 'igb') need.add('IGB');
    else if (v.device === 'nvme') need.add('BLK_DEV_NVME');
    // The mock GPU's PF driver and the stand-in importer are modules built against the kernel.
    else need.add('MODULES');
  }
  return [...need].sort();
}

export interface PreparedKernel {
  /** The cache it was built in (for modules built against it). */
  kernelCache?: string;
  bzImage: string;
  config: Map<string, string | null>;
  /** For people: where it came from. */
  label: string;
  /** Present when built from source. */
  built: BuiltKernel | null;
  source: KernelSource | null;
}

export class QemuInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QemuInputError';
  }
}

export interface PrepareOptions {
  choice: KernelChoice;
  variants: Variant[];
  kernelCache?: string;
  refresh?: boolean;
  jobs?: number;
  log?: (s: string) => void;
  onProgress?: (p: BuildProgress) => void;
}

export async function prepareKernel(o: PrepareOptions): Promise<PreparedKernel> {
  const log = o.log ?? (() => {});
  if (o.choice.kind === 'image') {
    const file = resolve(o.choice.bzImage);
    const problem = bzImageProblem(file);
    if (problem) throw new QemuInputError(problem);
    let text: string | null;
    let from: string;
    if (o.choice.config) {
      try {
        text = readFileSync(o.choice.config, 'utf8');
      } catch (e) {
        throw new QemuInputError(`--config ${o.choice.config}: ${(e as Error).message}`);
      }
      from = o.choice.config;
    } else {
      text = embeddedConfig(file);
      from = 'embedded, CONFIG_IKCONFIG';
      if (text === null)
        throw new QemuInputError(
          `${file} carries no config (built without CONFIG_IKCONFIG): pass its .config with --config`,
        );
    }
    const config = parseDotConfig(text);
    if (config.size === 0) throw new QemuInputError(`${from} holds no CONFIG_ lines: is it a kernel .config?`);
    const missing = requiredBuiltins(o.variants).filter((n) => config.get(n) !== 'y');
    if (missing.length)
      throw new QemuInputError(
        `${file} cannot run the guest: its config (${from}) lacks, built in (=y; the guest loads no modules): ${missing.map((n) => `CONFIG_${n} (${config.get(n) ?? 'unset'})`).join(', ')}`,
      );
    return { bzImage: file, config, label: file, built: null, source: null };
  }
  const paths = kernelCachePaths(o.kernelCache ? resolve(o.kernelCache) : kernelCacheRoot());
  const source = o.choice.tree
    ? userTree(o.choice.tree)
    : await debianSource({ paths, refresh: o.refresh === true, log });
  const built = await buildKernel({
    source,
    patches: o.choice.patches,
    fragments: o.choice.fragments,
    paths,
    log,
    ...(o.jobs ? { jobs: o.jobs } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const what = built.cached ? 'cached' : `built in ${Math.round(built.seconds)} s`;
  log(
    `kernel: ${built.release} from ${source.label}${o.choice.patches.length ? ` + ${o.choice.patches.length} patch(es)` : ''} (${what}): ${built.bzImage}`,
  );
  return {
    kernelCache: paths.root,
    bzImage: built.bzImage,
    config: parseDotConfig(readFileSync(built.config, 'utf8')),
    label: source.label,
    built,
    source,
  };
}

/**
 * Whether a built kernel has the IOV interconnect series: its System.map names
 * the series' core map call (RFC 2/8 adds dma_buf_map_interconnect to
 * drivers/dma-buf/dma-buf.c; no kernel without the series has it).
 */
export function kernelHasSeries(objtree: string): boolean {
  try {
    return /\sdma_buf_map_interconnect$/m.test(readFileSync(join(objtree, 'System.map'), 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The stand-in importer (kernel/iovh-ic-importer) built against a kernel
 * iovh built: `make -C <srctree> O=<objtree> M=<copy of the sources>`,
 * cached under that kernel's build directory by the sources' hash. Null when
 * the kernel cannot load modules (CONFIG_MODULES unset) or was not built here
 * (a prebuilt bzImage has no object tree to build against). A module that does
 * not build throws KernelBuildError with the compiler's lines.
 */
export async function buildImporter(
  kernel: PreparedKernel,
  log: (s: string) => void = () => {},
): Promise<{ ko: string; series: boolean } | { ko: null; why: string }> {
  if (!kernel.built) return { ko: null, why: 'a prebuilt kernel has no object tree to build it against' };
  if (kernel.config.get('MODULES') !== 'y') return { ko: null, why: 'the kernel was built without CONFIG_MODULES' };
  if (!existsSync(IMPORTER_DIR)) return { ko: null, why: `its sources are missing (${IMPORTER_DIR})` };
  const ko = await buildStandIn({
    kernel: kernel.built,
    paths: kernelCachePaths(kernel.kernelCache ?? kernelCacheRoot()),
    log,
  });
  return { ko, series: kernelHasSeries(kernel.built.objtree) };
}

/** Where `iovh qemu` keeps QEMU's tools, initramfs images, logs and results: $IOVH_QEMU_CACHE, else $XDG_CACHE_HOME/iovh/qemu. */
export function qemuCachePaths(env: NodeJS.ProcessEnv = process.env): CachePaths {
  if (env.IOVH_QEMU_CACHE) return cachePaths(env.IOVH_QEMU_CACHE);
  const xdg = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return cachePaths(join(xdg, 'iovh', 'qemu'));
}

/** The guest program: dist/qemu/guest.js of this package. */
export const GUEST_PROGRAM = fileURLToPath(new URL('./guest.js', import.meta.url));

/** Kernel parameters a kernel's own config asks for (scripts/qemu-ci/kbuild.mjs). */
export { kernelParameters };

/** Sanitizer kernels need room for KASAN's shadow (1/8 of memory) and kmemleak's pool. */
export function guestMemory(config: Map<string, string | null>): string {
  return config.get('KASAN') === 'y' || config.get('DEBUG_KMEMLEAK') === 'y' ? '1G' : '512M';
}

/**
 * The default wall-clock limit of a guest, boot to power-off: a sanitizer
 * kernel under TCG is several times slower (measured on a 2-core host at load
 * 20-25: the KASAN guest's whole QEMU CI flow took 1208-1643 s), and the whole
 * catalog runs in it.
 */
export function guestTimeout(config: Map<string, string | null>): number {
  return config.get('KASAN') === 'y' || config.get('DEBUG_KMEMLEAK') === 'y' ? 2400 : 900;
}

export interface GuestRun {
  boot: BootReport;
  run: RunResult | null;
  runError: string | null;
}

/** What a --device mock-gpu guest needs on the host: iovh's QEMU build and the two modules built against the kernel. */
export interface PreparedDevice {
  qemu: string;
  /** The PF driver, loaded after the stand-in importer (it installs its translation in it). */
  modules: string[];
  label: string;
}

/**
 * Build (or take from the cache) QEMU with iovh's device patches
 * (scripts/qemu-ci/qemu-build.mjs) and ask it whether it takes the device as
 * configured, before any kernel is built. Bad input (a patch series that
 * does not apply, named with its hunk; a property QEMU refuses, with QEMU's
 * reason) is a QemuInputError; a missing build dependency is named with its
 * Debian package.
 */
export function prepareMockGpuQemu(o: { variant: Variant; qemuPatches?: string; log?: (s: string) => void }): {
  qemu: string;
  label: string;
} {
  const log = o.log ?? (() => {});
  let q: { qemu: string; version: string; cached: boolean; timing: { wallSeconds: number; cpuSeconds: number } };
  try {
    q = buildQemu({ log, ...(o.qemuPatches ? { patches: resolve(o.qemuPatches) } : {}) });
  } catch (e) {
    const kind = (e as { kind?: string }).kind;
    if (kind === 'input') throw new QemuInputError(`--qemu-patches: ${(e as Error).message}`);
    throw e;
  }
  log(
    `qemu: ${q.version} with iovh's device patches (${q.cached ? 'cached' : `built in ${Math.round(q.timing.wallSeconds)} s wall, ${Math.round(q.timing.cpuSeconds)} CPU-s`}): ${q.qemu}`,
  );
  const refused = deviceProblem(q.qemu, o.variant);
  if (refused)
    throw new QemuInputError(`QEMU refuses the device (${mockGpuDevice(o.variant.deviceProps)}): ${refused}`);
  return { qemu: q.qemu, label: q.version };
}

/**
 * The mock GPU's PF driver (kernel/iovh-mock-gpu, with its RFC 7/8
 * translation for the importer) built against the kernel's object tree
 * (scripts/qemu-ci/kbuild.mjs buildMockGpuDriver: cached under the kernel's
 * build by the sources' hash, the build the QEMU CI's guest loads too). The
 * stand-in importer is buildImporter's; iovh qemu loads it first.
 */
export async function prepareMockGpu(o: {
  kernel: PreparedKernel;
  qemu: { qemu: string; label: string };
  log?: (s: string) => void;
}): Promise<PreparedDevice> {
  const log = o.log ?? (() => {});
  const built = o.kernel.built;
  if (!built)
    throw new QemuInputError(
      '--device mock-gpu builds its PF driver against the kernel: use a kernel built from source (drop --kernel)',
    );
  const drv = await buildMockGpuDriver({
    kernel: built,
    paths: kernelCachePaths(o.kernel.kernelCache ?? kernelCacheRoot()),
    log,
  });
  log(`qemu: the mock GPU's PF driver for ${built.release}: ${drv}`);
  return { qemu: o.qemu.qemu, modules: [drv], label: o.qemu.label };
}

export interface BootOptions {
  kernel: PreparedKernel;
  variants: Variant[];
  timeoutSeconds: number;
  filters: string[];
  runTimeout: string | null;
  /** Out-of-tree modules (absolute host paths) the guest's /init loads before iovh runs. */
  insmod?: string[];
  /** A QEMU other than the system's (iovh's own build, for --device mock-gpu). */
  qemu?: string;
  paths?: CachePaths;
  parallel?: number;
  log?: (s: string) => void;
}

export async function bootGuests(o: BootOptions): Promise<GuestRun[]> {
  const log = o.log ?? (() => {});
  const problems = checkoutProblems();
  if (problems.length) throw new Error(`iovh is not ready to run in a guest: ${problems.join('; ')}`);
  if (!existsSync(GUEST_PROGRAM))
    throw new Error(`the guest program ${GUEST_PROGRAM} is missing: run npm run build:ts`);
  const paths = o.paths ?? qemuCachePaths();
  const tools = setupTools({ paths, log });
  const ir = buildInitramfs({ paths, manifest: null, busybox: tools.busybox, variants: o.variants });
  const guestArgs: string[] = [];
  for (const f of o.filters) guestArgs.push('--filter', f);
  if (o.runTimeout) guestArgs.push('--timeout', o.runTimeout);
  const parallel = Math.max(1, Math.min(o.parallel ?? 2, o.variants.length));
  log(
    `qemu: booting ${o.kernel.built?.release ?? o.kernel.label} on ${o.variants.map((v) => v.name).join(', ')} (QEMU ${o.qemu ?? tools.qemu.version}, TCG, ${parallel} at a time)`,
  );
  const out: GuestRun[] = new Array(o.variants.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.variants.length) {
      const i = next++;
      const variant = o.variants[i]!;
      const b = await boot({
        variant,
        qemu: o.qemu ?? tools.qemu.path,
        kernel: o.kernel.bzImage,
        initrd: ir.path,
        paths,
        timeoutSeconds: o.timeoutSeconds,
        memory: guestMemory(o.kernel.config),
        entry: GUEST_PROGRAM,
        // The variant's module parameters ride on the command line; the guest's /init hands them to insmod.
        kernelAppend: [kernelParameters(o.kernel.config), ...(variant.moduleParams ?? [])].filter(Boolean).join(' '),
        guestArgs,
        insmod: o.insmod ?? [],
        extraAppend: process.env.IOVH_QEMU_APPEND,
      });
      out[i] = { boot: b, ...readGuestRun(b.resultsDir) };
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

/**
 * What the guest's runs reported, as one run: its main `iovh run`
 * (iovh-run.json) and, when it got that far, the last one of bugs/*
 * (src/qemu/last.ts), whose report says so itself when the guest died in it.
 */
export function readGuestRun(resultsDir: string): { run: RunResult | null; runError: string | null } {
  const read = (name: string): RunResult => JSON.parse(readFileSync(join(resultsDir, name), 'utf8')) as RunResult;
  let run: RunResult | null;
  try {
    run = read('iovh-run.json');
  } catch (e) {
    const why =
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the guest wrote no iovh run report' : (e as Error).message;
    return { run: null, runError: why };
  }
  if (!existsSync(join(resultsDir, LAST_REPORT))) return { run, runError: null };
  try {
    return { run: withLastRun(run, read(LAST_REPORT)), runError: null };
  } catch (e) {
    return { run, runError: `${LAST_REPORT}: ${(e as Error).message}` };
  }
}

export { progressLine };

/** The kernel reports (BUG, Oops, WARNING, hung task) a guest's console log holds, outside the detectors' expected ones. */
export function consoleOopses(logPath: string): string[] {
  let text: string;
  try {
    text = readFileSync(logPath, 'latin1');
  } catch {
    return [];
  }
  return parseSerial(text, '').oopses;
}
