// @ts-check
// The QEMU CI as a function: setup (cached), initramfs, the variants' guests
// side by side, model conformance, and one summary with counts. main.mjs is
// its command line; the benchmark suite imports measureWallTime().
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cachePaths, checkoutProblems, repoRoot } from './paths.mjs';

export { checkoutProblems };
import { setup } from './setup.mjs';
import { buildInitramfs } from './initramfs.mjs';
import { boot } from './boot.mjs';
import { pickVariants, DEFAULT_VARIANTS } from './variants.mjs';
import {
  buildExternalModule,
  buildKernel,
  buildStandIn,
  kernelParameters,
  parseDotConfig,
  progressEvery,
} from './kbuild.mjs';
import { kernelCachePaths, kernelCacheRoot } from './kcache.mjs';
import { debianSource } from './ksource.mjs';
import { qemuCommandChecks, switchVfioCheck } from './kernel-ci.mjs';
import { edgeChecks, mockGpuChecks } from './mock-gpu-ci.mjs';
import { buildQemu } from './qemu-build.mjs';
import {
  compareResults,
  describeDisagreement,
  mockUnavailable,
  runOnMock,
  topologyDifferences,
  CONFORMANCE_DEVICE,
  GUEST_DIR,
  IGB_TOPOLOGY,
  kernelConfigFrom,
} from './conformance.mjs';
import { describeShare, pinnedShare, totalShare } from './coverage.mjs';
import { RFC_LABEL, judgeRfcBoot, prepareRfcKernel, rfcBootOptions, rfcVariant } from './rfc.mjs';

/**
 * @typedef {{ kernel: string, share: number, pinned: number, total: number, counted: number, units: number, hits: number[] }} PinnedShare
 */

/**
 * @typedef {object} CiOptions
 * @property {string[]} [variants]        names, or ['all']
 * @property {number} [timeoutSeconds]    per guest
 * @property {boolean} [conformance]      default true
 * @property {boolean} [refresh]          re-resolve and download the sid packages
 * @property {number} [parallel]          guests at once (default: cores)
 * @property {boolean} [sourceKernel]     also build Debian's linux-source with kconfig/iovh-guest.config
 *                                        (KASAN, lockdep, kmemleak, ...) and boot it (default true)
 * @property {string} [kernelCache]       where built kernels are kept (default kcache.mjs kernelCacheRoot())
 * @property {number} [sourceTimeoutSeconds] per sanitizer guest (default 1800: KASAN and lockdep under TCG on a loaded machine,
 *   with the stand-in importer's revoke triggers and p2p routes in its run)
 * @property {boolean} [qemuCommand]      also run `iovh qemu` as a user does (default true; needs the source kernel)
 * @property {boolean} [rfc]              also build the rfc-v1 kernel (kernel/patches/rfc-v1, after the default one so
 *                                        ccache is warm), the stand-in importer and the mock GPU's PF driver, and boot
 *                                        it on the mock GPU machine (iovh's QEMU build) running rfc/* and edge/*
 *                                        (scripts/qemu-ci/rfc.mjs; default true; needs the source kernel)
 * @property {boolean} [mockGpu]          the mock GPU's checks: edge/* in the rfc-v1 guest, judged and replayed on the
 *                                        mock, and `iovh qemu --device` refusing a bad property (default true;
 *                                        scripts/qemu-ci/mock-gpu-ci.mjs); false: that guest runs rfc/* alone
 * @property {(s: string) => void} [log]
 * @property {import('./paths.mjs').CachePaths} [paths]
 *
 * @typedef {{ name: string, status: 'pass' | 'fail' | 'skip' | 'xfail', detail: string }} Check
 *   `xfail`: an expected failure (a known bug the baseline of the kernel's shape expects): neither passed nor failed
 *
 * @typedef {object} CiSummary
 * @property {number} passed
 * @property {number} failed
 * @property {number} skipped
 * @property {number} xfailed             expected failures (known bugs of the kernel, by its baseline)
 * @property {import('./boot.mjs').BootReport[]} boots
 * @property {{ status: 'pass' | 'fail' | 'skip', detail: string, disagreements: string[], compared: number, against: string | null, rows: Array<{ id: string, agree: boolean, line: string }>, log?: string, pinned?: PinnedShare }} conformance
 * @property {{ kernels: PinnedShare[], total: { pinned: number, total: number, share: number } | null }} pinned
 *   how much of the mock the real kernels pin (scripts/qemu-ci/coverage.mjs), per kernel and their union
 * @property {Check[]} checks            every counted item
 * @property {Conformance[]} conformances  one per igb guest: the stock kernel's, then the source-built one's
 * @property {SourceKernel | null} source  the source-built kernel, null when not asked for (--no-source-kernel)
 * @property {{ status: 'built' | 'cached' | 'failed' | 'off', detail: string, cpuSeconds: number | null, buildSeconds: number | null } | null} [rfc]
 *   the rfc-v1 kernel and its guest (scripts/qemu-ci/rfc.mjs)
 * @property {{ setupSeconds: number, setupCached: boolean, initramfsSeconds: number, kernelBuildSeconds: number, bootsSeconds: number, qemuCommandSeconds: number, totalSeconds: number }} timing
 * @property {{ kernel: string, qemu: string, kernelConfig?: Record<string, 'y' | 'n'> }} versions
 *
 * @typedef {CiSummary['conformance']} Conformance
 *
 * @typedef {object} SourceKernel
 * @property {'built' | 'cached' | 'failed'} status
 * @property {string} detail
 * @property {string | null} release
 * @property {string | null} bzImage
 * @property {string | null} objtree
 * @property {string | null} label     the source package
 * @property {number | null} buildSeconds  this run's (0 from the cache)
 * @property {number | null} cpuSeconds    the build's, as recorded when it was built
 */

/** The test module that provokes the kernel's detectors for the detector checks. */
export const DETECTORS_MODULE = join(repoRoot, 'test', 'qemu', 'modules', 'iovh_detectors');
/**
 * The out-of-tree modules the sanitizer guest's /init loads, built with make M= against its kernel: the
 * detector checks' test module (test/qemu/guest/detectors.mjs) and the stand-in importer (rules-more.mjs
 * standin.*). A module that does not build is a failed check saying why; the guest boots without it.
 * @param {{ built: import('./kbuild.mjs').BuiltKernel, kpaths: import('./kcache.mjs').KernelCachePaths, paths: import('./paths.mjs').CachePaths, log: (s: string) => void }} o
 * @returns {Promise<{ ko: string[], checks: Check[] }>}
 */
export async function guestModules(o) {
  /** @type {string[]} */
  const ko = [];
  /** @type {Check[]} */
  const checks = [];
  /** @type {Array<[string, () => Promise<string[]>]>} */
  const wanted = [
    [
      'iovh_detectors',
      () => buildExternalModule({ kernel: o.built, dir: DETECTORS_MODULE, paths: o.kpaths, log: o.log }),
    ],
    ['iovh_ic_importer', async () => [await buildStandIn({ kernel: o.built, paths: o.kpaths, log: o.log })]],
  ];
  for (const [name, build] of wanted) {
    const check = `source kernel: ${name} module`;
    try {
      const built = await build();
      ko.push(...built);
      checks.push({ name: check, status: 'pass', detail: built.join(', ') });
    } catch (e) {
      const excerpt = /** @type {{ excerpt?: string[] }} */ (e).excerpt;
      checks.push({
        name: check,
        status: 'fail',
        detail: `${e instanceof Error ? e.message : String(e)}${excerpt?.length ? ` | ${excerpt.join(' | ')}` : ''}`,
      });
    }
  }
  return { ko, checks };
}

/** The prefix of the boots of the source-built sanitizer kernel. */
export const SOURCE_PREFIX = 'kasan-';

/**
 * Keep the newest `keep` entries of a folder of per-run outputs.
 * @param {string} dir @param {number} keep
 */
function prune(dir, keep) {
  let names;
  try {
    names = readdirSync(dir).filter((n) => !n.endsWith('.latest.log'));
  } catch {
    return;
  }
  const byAge = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { n } of byAge.slice(keep)) rmSync(join(dir, n), { recursive: true, force: true });
}

/**
 * Run `items` through `fn`, at most `limit` at a time, keeping order.
 * @template T, R
 * @param {T[]} items @param {number} limit @param {(t: T) => Promise<R>} fn
 */
async function pool(items, limit, fn) {
  /** @type {R[]} */
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * @param {CiOptions} [o]
 * @returns {Promise<CiSummary>}
 */
export async function runCi(o = {}) {
  const t0 = performance.now();
  const log = o.log ?? ((s) => process.stderr.write(`${s}\n`));
  const paths = o.paths ?? cachePaths();
  const variants = pickVariants(o.variants ?? DEFAULT_VARIANTS);
  const problems = checkoutProblems();
  if (problems.length) throw new Error(`the checkout is not ready for the guest: ${problems.join('; ')}`);

  const s = setup({ paths, refresh: o.refresh ?? false, log });
  const tSetup = performance.now();
  const ir = buildInitramfs({ paths, manifest: s.manifest, busybox: s.manifest.busybox, variants });
  const tInitramfs = performance.now();
  log(
    `qemu-ci: kernel ${s.manifest.kernel.release} (${s.cached ? 'cached' : `downloaded in ${s.seconds.toFixed(1)} s`}), QEMU ${s.qemu.version}, initramfs ${ir.cached ? 'cached' : 'built'}`,
  );

  /** @type {Check[]} */
  const checks = [];
  // The source-built sanitizer kernel: never skipped silently. Without a
  // cache it is built; a build that fails is a failed check saying why, and
  // the stock guests still run.
  /** @type {SourceKernel | null} */
  let source = null;
  /** @type {import('./kbuild.mjs').BuiltKernel | null} */
  let built = null;
  /** @type {string | null} */
  let sourceTree = null;
  /** @type {string[]} */
  let detectorModules = [];
  /** @type {import('./ksource.mjs').KernelSource | null} */
  let sourceObj = null;
  /** @type {import('./kcache.mjs').KernelCachePaths | null} */
  let sourcePaths = null;
  const tBuild0 = performance.now();
  if (o.sourceKernel ?? true) {
    const kpaths = kernelCachePaths(o.kernelCache ?? kernelCacheRoot());
    try {
      const src = await debianSource({ paths: kpaths, log, refresh: o.refresh ?? false });
      sourceTree = src.dir;
      sourceObj = src;
      sourcePaths = kpaths;
      built = await buildKernel({
        source: src,
        paths: kpaths,
        log,
        onProgress: progressEvery(log, 60_000),
      });
      source = {
        status: built.cached ? 'cached' : 'built',
        detail: `${built.release} from ${src.label} with kconfig/iovh-guest.config (${built.cached ? 'cached' : `built in ${built.seconds.toFixed(0)} s`})`,
        release: built.release,
        bzImage: built.bzImage,
        objtree: built.objtree,
        label: src.label,
        buildSeconds: built.cached ? 0 : built.seconds,
        cpuSeconds: built.manifest.timing.cpuSeconds,
      };
      checks.push({ name: 'source kernel: build', status: 'pass', detail: source.detail });
      const mods = await guestModules({ built, kpaths, paths, log });
      detectorModules = mods.ko;
      checks.push(...mods.checks);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const excerpt = /** @type {{ excerpt?: string[] }} */ (e).excerpt;
      source = {
        status: 'failed',
        detail: `${why}${excerpt?.length ? ` | ${excerpt.join(' | ')}` : ''}`,
        release: null,
        bzImage: null,
        objtree: null,
        label: null,
        buildSeconds: null,
        cpuSeconds: null,
      };
      checks.push({ name: 'source kernel: build', status: 'fail', detail: source.detail });
    }
    log(`qemu-ci: source kernel: ${source.status}: ${source.detail}`);
  }
  // The rfc-v1 kernel: after the default one, whose objects ccache then holds (a warm build of the series is about
  // 100 CPU-seconds, a cold one like the default kernel's), and its importer.
  /** @type {import('./rfc.mjs').RfcKernel | null} */
  let rfcKernel = null;
  /** @type {string | null} */
  let rfcQemu = null;
  /** @type {CiSummary['rfc']} */
  let rfcSummary = null;
  if ((o.rfc ?? true) && built && sourceObj && sourcePaths) {
    const t = performance.now();
    try {
      // Its machine is the mock GPU's, which only iovh's QEMU build has (cached; on a fresh machine about 409 CPU-s).
      const q = buildQemu({ log });
      rfcQemu = q.qemu;
      rfcKernel = await prepareRfcKernel({
        source: sourceObj,
        paths: sourcePaths,
        log,
        onProgress: progressEvery(log, 60_000),
      });
      const k = rfcKernel.built;
      rfcSummary = {
        status: k.cached ? 'cached' : 'built',
        detail: `${k.release} + kernel/patches/rfc-v1 (${k.cached ? 'cached' : `built in ${k.seconds.toFixed(0)} s`}, ${rfcKernel.cpuSeconds ?? '?'} CPU-s when built); importer ${rfcKernel.importer}; PF driver ${rfcKernel.driver}; QEMU ${q.version} with iovh's device patches (${q.cached ? 'cached' : `built in ${Math.round(q.timing.wallSeconds)} s, ${Math.round(q.timing.cpuSeconds)} CPU-s`})`,
        cpuSeconds: rfcKernel.cpuSeconds,
        buildSeconds: (performance.now() - t) / 1000,
      };
      checks.push({ name: `${RFC_LABEL}: kernel and importer build`, status: 'pass', detail: rfcSummary.detail });
    } catch (e) {
      const excerpt = /** @type {{ excerpt?: string[] }} */ (e).excerpt;
      const detail = `${e instanceof Error ? e.message : String(e)}${excerpt?.length ? ` | ${excerpt.join(' | ')}` : ''}`;
      rfcKernel = null;
      rfcSummary = { status: 'failed', detail, cpuSeconds: null, buildSeconds: (performance.now() - t) / 1000 };
      checks.push({ name: `${RFC_LABEL}: kernel and importer build`, status: 'fail', detail });
    }
    log(`qemu-ci: rfc-v1 kernel: ${rfcSummary.status}: ${rfcSummary.detail}`);
  } else if (o.rfc ?? true) {
    rfcSummary = { status: 'off', detail: 'not run: needs the source kernel', cpuSeconds: null, buildSeconds: null };
    checks.push({ name: `${RFC_LABEL}: kernel and importer build`, status: 'skip', detail: rfcSummary.detail });
  }
  const tBuilt = performance.now();

  prune(paths.logs, 40);
  prune(paths.results, 20);
  const parallel = o.parallel ?? Math.max(1, availableParallelism());
  /** @type {Array<{ variant: import('./variants.mjs').Variant, kernel: 'stock' | 'source' | 'rfc' }>} */
  const guests = variants.map((v) => ({ variant: v, kernel: /** @type {'stock' | 'source' | 'rfc'} */ ('stock') }));
  /** @type {{ path: string } | null} */
  let builtinIr = null;
  /** @type {Map<string, string | null>} */
  let sourceConfig = new Map();
  if (built) {
    const igb = pickVariants(['igb-intel-iommu'])[0];
    // First: the longest boot (KASAN and lockdep under TCG) starts while the stock guests share the other core.
    guests.unshift({ variant: igb, kernel: 'source' });
    builtinIr = buildInitramfs({ paths, manifest: null, busybox: s.manifest.busybox, variants: [igb] });
    sourceConfig = parseDotConfig(readFileSync(built.config, 'utf8'));
  }
  /** @type {{ path: string } | null} */
  let rfcIr = null;
  if (rfcKernel) {
    // Second: after the sanitizer guest, before the stock ones (the series' guest runs only rfc/* and edge/*).
    guests.splice(built ? 1 : 0, 0, { variant: rfcVariant(), kernel: 'rfc' });
    rfcIr = buildInitramfs({ paths, manifest: null, busybox: s.manifest.busybox, variants: [rfcVariant()] });
  }
  // The `iovh qemu` step's switch guest (kernel-ci.mjs switchVfioCheck) runs as the pool's last job: the slot that
  // ran the rfc-v1 and stock guests frees up about 100 s before the sanitizer guest ends, and the switch boot fits
  // there instead of lengthening the step after the pool.
  /** @type {import('./kernel-ci.mjs').Check | null} */
  let switchCheck = null;
  const switchJob = (o.qemuCommand ?? true) && built && sourceTree && parallel > 1;
  log(
    `qemu-ci: booting ${guests.map((g) => (g.kernel === 'source' ? `${SOURCE_PREFIX}${g.variant.name}` : g.kernel === 'rfc' ? RFC_LABEL : g.variant.name)).join(', ')}${switchJob ? ', then iovh qemu --variant igb-switch-vfio' : ''} (${Math.min(parallel, guests.length)} at a time, -smp 1 each)`,
  );
  /** @type {Array<(typeof guests)[number] | 'switch'>} */
  const jobs = switchJob ? [...guests, 'switch'] : guests;
  const ran = await pool(jobs, parallel, async (g) => {
    if (g === 'switch') {
      switchCheck = await switchVfioCheck({ qemuCache: paths.root, log });
      return null;
    }
    return bootGuest(g);
  });
  const boots = ran.filter((b) => b !== null);
  /** @param {(typeof guests)[number]} g */
  function bootGuest(g) {
    return g.kernel === 'rfc' && rfcKernel && rfcIr && rfcQemu
      ? boot(
          rfcBootOptions({
            kernel: rfcKernel,
            qemu: rfcQemu,
            initrd: rfcIr.path,
            paths,
            timeoutSeconds: o.sourceTimeoutSeconds ?? 1500,
            edge: o.mockGpu ?? true,
          }),
        )
      : g.kernel === 'stock' || !built || !builtinIr
        ? boot({
            variant: g.variant,
            qemu: s.qemu.path,
            kernel: s.manifest.kernel.vmlinuz,
            initrd: ir.path,
            paths,
            timeoutSeconds: o.timeoutSeconds,
            extraAppend: process.env.IOVH_QEMU_APPEND,
          })
        : boot({
            variant: g.variant,
            label: `${SOURCE_PREFIX}${g.variant.name}`,
            qemu: s.qemu.path,
            kernel: built.bzImage,
            initrd: builtinIr.path,
            paths,
            timeoutSeconds: o.sourceTimeoutSeconds ?? 1800,
            // KASAN's shadow is an eighth of memory; lockdep and kmemleak want their share.
            memory: '1G',
            kernelAppend: kernelParameters(sourceConfig) || undefined,
            insmod: detectorModules,
            extraAppend: process.env.IOVH_QEMU_APPEND,
          });
  }
  const tBoots = performance.now();

  /** Pinned shares of the guests that run `iovh run` itself (the rfc-v1 guest, the mock GPU's): coverage.mjs. */
  /** @type {PinnedShare[]} */
  const runShares = [];
  /** @param {import('./coverage.mjs').Share | null} share */
  const addShare = (share) => {
    if (!share) return;
    runShares.push({ ...share, hits: [...share.hits] });
    log(`qemu-ci: pinned share (${share.kernel}): ${describeShare(share)}, from ${share.counted} agreeing steps`);
  };
  for (const b of boots) {
    if (b.variant === RFC_LABEL) {
      // Judged by the series' baseline and compared with the mock's rfc-v1 profile (rfc.mjs): its expected failures
      // are the point, not failures of the check. Its edge/* (real bytes through the mock GPU) against the mock
      // replaying the guest's capture (mock-gpu-ci.mjs); both replays under coverage for the pinned share.
      const judged = judgeRfcBoot(b, { log, coverage: join(b.resultsDir, 'mock-coverage.json') });
      checks.push(...judged.checks);
      addShare(judged.pinned);
      if (o.mockGpu ?? true) {
        const edge = await edgeChecks(b, { log, coverage: join(b.resultsDir, 'mock-gpu-coverage.json') });
        checks.push(...edge.checks);
        addShare(edge.pinned);
      }
      continue;
    }
    checks.push({
      name: `${b.variant}: boot and verdict`,
      status: b.status === 'pass' ? 'pass' : 'fail',
      detail: `${b.status}: ${b.reason}`,
    });
    for (const r of b.results?.scenarios ?? []) {
      const x = b.xfail.find((e) => e.id === r.id);
      const status = x ? 'xfail' : r.status === 'pass' ? 'pass' : r.status === 'skip' ? 'skip' : 'fail';
      checks.push({
        name: `${b.variant}: ${r.id}`,
        status,
        detail: x
          ? `expected: ${x.line.slice(r.id.length + 2)}: ${r.detail ?? ''}`
          : `${r.status}${r.errno ? ` ${r.errno}` : ''}: ${r.detail ?? ''}`,
      });
    }
  }

  // Conformance per kernel: the mock's upstream profile against each igb guest.
  /** @type {CiSummary['conformance'][]} */
  const conformances = [];
  // How the stock kernel was built, for the options the mock models (its packaged config).
  /** @type {Record<string, 'y' | 'n'> | undefined} */
  let kernelConfig;
  try {
    const release = s.manifest.kernel.release;
    kernelConfig = kernelConfigFrom(
      readFileSync(join(s.manifest.kernel.modulesRoot, 'lib', 'modules', release, 'config'), 'utf8'),
    );
  } catch (e) {
    log(
      `qemu-ci: the kernel's config is unreadable (${e instanceof Error ? e.message : String(e)}): the mock keeps its profile's`,
    );
  }
  if (o.conformance ?? true) {
    const stockBoots = boots.filter((b) => !b.variant.startsWith(SOURCE_PREFIX));
    conformances.push(await conform(stockBoots, variants, paths, log, kernelConfig));
    const sourceBoot = boots.find((b) => b.variant.startsWith(SOURCE_PREFIX));
    if (sourceBoot) {
      conformances.push(
        await conform(
          [sourceBoot],
          [{ name: sourceBoot.variant, device: 'igb', iommu: 'intel' }],
          paths,
          log,
          built ? kernelConfigFrom(readFileSync(built.config, 'utf8')) : undefined,
        ),
      );
    }
  }
  /** @type {CiSummary['conformance']} */
  const conformance = conformances[0] ?? {
    status: 'skip',
    detail: 'not requested (--no-conformance)',
    disagreements: [],
    compared: 0,
    against: null,
    rows: [],
  };
  for (const [i, c] of (conformances.length ? conformances : [conformance]).entries()) {
    const tag = i === 0 ? 'conformance' : `conformance (${c.against})`;
    if (c.status === 'skip') checks.push({ name: tag, status: 'skip', detail: c.detail });
    else if (c.compared === 0) checks.push({ name: tag, status: 'fail', detail: c.detail });
    else {
      for (const row of c.rows) {
        checks.push({
          name: `${tag}: ${row.id}`,
          status: row.agree ? 'pass' : 'fail',
          detail: row.agree ? 'kernel and mock agree' : row.line,
        });
      }
    }
  }

  const tCommand = performance.now();
  if (o.qemuCommand ?? true) {
    if (built && sourceTree) {
      checks.push(
        ...(await qemuCommandChecks({
          tree: sourceTree,
          bzImage: built.bzImage,
          release: built.release,
          qemuCache: paths.root,
          log,
        })),
        // Ran in the guest pool when there was a second slot; else here, after the other iovh qemu checks.
        switchCheck ?? (await switchVfioCheck({ qemuCache: paths.root, log })),
      );
      if (o.mockGpu ?? true) checks.push(...(await mockGpuChecks({ qemuCache: paths.root, log })));
    } else if (o.sourceKernel ?? true)
      checks.push({ name: 'iovh qemu', status: 'fail', detail: 'not run: the source kernel did not build (above)' });
    else
      checks.push({
        name: 'iovh qemu',
        status: 'skip',
        detail: 'not run: the source kernel was turned off (--no-source-kernel)',
      });
  }

  // How much of the mock each kernel pins (scripts/qemu-ci/coverage.mjs), and their union.
  const shares = [...conformances.flatMap((c) => (c.pinned ? [c.pinned] : [])), ...runShares];
  const pinned = {
    kernels: shares,
    total: shares.length
      ? totalShare(shares.map((p) => ({ ...p, hits: new Set(p.hits), units: p.units, kernel: p.kernel })))
      : null,
  };

  const count = (/** @type {Check['status']} */ st) => checks.filter((c) => c.status === st).length;
  return {
    passed: count('pass'),
    failed: count('fail'),
    skipped: count('skip'),
    xfailed: count('xfail'),
    boots,
    conformance,
    conformances,
    pinned,
    source,
    rfc: rfcSummary,
    checks,
    timing: {
      setupSeconds: (tSetup - t0) / 1000,
      setupCached: s.cached,
      initramfsSeconds: (tInitramfs - tSetup) / 1000,
      kernelBuildSeconds: (tBuilt - tBuild0) / 1000,
      bootsSeconds: (tBoots - tBuilt) / 1000,
      qemuCommandSeconds: (performance.now() - tCommand) / 1000,
      totalSeconds: (performance.now() - t0) / 1000,
    },
    versions: { kernel: s.manifest.kernel.release, qemu: s.qemu.version, ...(kernelConfig ? { kernelConfig } : {}) },
  };
}

/**
 * @param {import('./boot.mjs').BootReport[]} boots
 * @param {import('./variants.mjs').Variant[]} variants
 * @param {import('./paths.mjs').CachePaths} paths
 * @param {(s: string) => void} log
 * @param {Record<string, 'y' | 'n'>} [kernelConfig] how the real kernel was built, for what the mock models
 * @returns {Promise<CiSummary['conformance']>}
 */
async function conform(boots, variants, paths, log, kernelConfig) {
  const device = new Map(variants.map((v) => [v.name, v.device]));
  const real = boots.find((b) => device.get(b.variant) === CONFORMANCE_DEVICE && b.results);
  if (!real?.results) {
    const ran = boots.some((b) => device.get(b.variant) === CONFORMANCE_DEVICE);
    return {
      status: ran ? 'fail' : 'skip',
      detail: ran
        ? 'the igb guest left no results to compare with the mock'
        : 'no igb variant ran (the mock topology is igb-like)',
      disagreements: [],
      compared: 0,
      against: null,
      rows: [],
    };
  }
  const why = mockUnavailable();
  if (why) {
    return {
      status: 'fail',
      detail: `${why}; the kernel's results are in ${real.resultsDir}`,
      disagreements: [],
      compared: 0,
      against: real.variant,
      rows: [],
    };
  }
  log(
    `qemu-ci: model conformance: the scenarios on the mock (upstream profile, igb-like topology) against ${real.variant}`,
  );
  const { RULES } = await import(pathToFileURL(join(GUEST_DIR, 'scenarios.mjs')).href);
  const { FLOW_RULES } = await import(pathToFileURL(join(GUEST_DIR, 'flow.mjs')).href);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const mockLog = join(paths.logs, `mock-upstream-igb-${stamp}.log`);
  const outDir = join(paths.results, `mock-upstream-igb-${stamp}`);
  const coverageFile = join(outDir, 'coverage.json');
  let model;
  try {
    model = await runOnMock({
      outDir,
      log: mockLog,
      coverage: coverageFile,
      ...(kernelConfig ? { kernelConfig } : {}),
      ...(real.results.modules?.length ? { modules: real.results.modules } : {}),
    });
  } catch (e) {
    return {
      status: 'fail',
      detail: `the scenarios could not run on the mock: ${e instanceof Error ? e.message : String(e)}`,
      disagreements: [],
      compared: 0,
      against: real.variant,
      rows: [],
      log: mockLog,
    };
  }
  const rows = compareResults(real.results.scenarios, model, { ...FLOW_RULES, ...RULES });
  // The mock's topology must still be the machine the guest is: a QEMU whose
  // igb changed shape makes the comparison meaningless until the file follows.
  let topoDiffs;
  try {
    const captured = JSON.parse(readFileSync(join(real.resultsDir, 'topology.json'), 'utf8'));
    topoDiffs = topologyDifferences(captured, JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8')));
  } catch (e) {
    topoDiffs = [`the guest's captured topology could not be read (${e instanceof Error ? e.message : String(e)})`];
  }
  rows.push({
    id: 'topology',
    agree: topoDiffs.length === 0,
    real: null,
    model: null,
    diffs: topoDiffs,
    rule: "scripts/qemu-ci/topology-igb.json describes the igb guest (update it from the guest's topology.json)",
  });
  /** @type {PinnedShare | undefined} */
  let pinned;
  try {
    const share = pinnedShare(
      real.results.kernel ?? real.variant,
      JSON.parse(readFileSync(coverageFile, 'utf8')),
      rows,
    );
    pinned = { ...share, hits: [...share.hits] };
    log(`qemu-ci: pinned share (${share.kernel}): ${describeShare(share)}, from ${share.counted} agreeing steps`);
  } catch (e) {
    log(`qemu-ci: no pinned share: ${e instanceof Error ? e.message : String(e)}`);
  }
  const disagreements = rows
    .filter((r) => !r.agree)
    .map((r) => (r.id === 'topology' ? `topology: ${r.diffs.join('; ')}. Fix: ${r.rule}` : describeDisagreement(r)));
  return {
    status: disagreements.length ? 'fail' : 'pass',
    detail: disagreements.length
      ? `${disagreements.length} of ${rows.length} scenarios disagree`
      : `all ${rows.length} scenarios agree`,
    disagreements,
    compared: rows.length,
    against: real.variant,
    rows: rows.map((r) => ({
      id: r.id,
      agree: r.agree,
      line: r.agree ? '' : r.id === 'topology' ? `topology: ${r.diffs.join('; ')}` : describeDisagreement(r),
    })),
    log: mockLog,
    ...(pinned ? { pinned } : {}),
  };
}

/**
 * Wall time from start to verdict with the packages cached, for the
 * benchmark suite: setup (cache check), initramfs, and the default variants
 * booted side by side. Conformance is left out: it does not boot anything.
 * @param {{ variants?: string[], timeoutSeconds?: number, log?: (s: string) => void }} [o]
 */
export async function measureWallTime(o = {}) {
  const summary = await runCi({
    variants: o.variants,
    timeoutSeconds: o.timeoutSeconds,
    conformance: false,
    sourceKernel: false,
    qemuCommand: false,
    log: o.log ?? (() => {}),
  });
  return {
    name: 'qemu-ci: start to verdict',
    cached: summary.timing.setupCached,
    totalSeconds: summary.timing.totalSeconds,
    setupSeconds: summary.timing.setupSeconds,
    initramfsSeconds: summary.timing.initramfsSeconds,
    variants: summary.boots.map((b) => ({
      name: b.variant,
      status: b.status,
      wallSeconds: b.wallSeconds,
      verdictSeconds: b.verdictSeconds,
      // Where the guest's results are, and the failures its baseline expects: what `record` needs.
      resultsDir: b.resultsDir,
      xfail: b.xfail.map((x) => x.id),
    })),
    ok: summary.failed === 0,
  };
}

/** The machine a figure was measured on. */
export function machine() {
  const c = cpus();
  return {
    cpus: c.length,
    model: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    // The guests run under TCG whatever the host has (variants.mjs, mock-gpu.mjs: -accel tcg): a figure is TCG's.
    // /dev/kvm is only reported: here it exists and KVM_CREATE_VM succeeds, but the CPU shows no vmx/svm and a guest
    // under -accel kvm prints nothing in 60 s, so its presence says nothing about the figures.
    accel: 'tcg',
    devKvm: existsSync('/dev/kvm'),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * The sanitizer kernel's figures (issue 11 "Performance"): a warm build (the
 * same inputs into a fresh object tree with ccache warm: what a patched tree
 * costs), a cold one when asked (fresh object tree and an empty ccache: about
 * 25 CPU-minutes), and the sanitizer guest's boot to /init and to its verdict.
 * The cache's own build is made first if missing (then it is the cold figure).
 * @param {{ cold?: boolean, kernelCache?: string, timeoutSeconds?: number, log?: (s: string) => void }} [o]
 */
export async function measureSanitizer(o = {}) {
  const log = o.log ?? (() => {});
  const before = machine();
  const kpaths = kernelCachePaths(o.kernelCache ?? kernelCacheRoot());
  const src = await debianSource({ paths: kpaths, log });
  const built = await buildKernel({ source: src, paths: kpaths, log });
  /** @param {'warm' | 'cold'} kind */
  const rebuild = async (kind) => {
    mkdirSync(kpaths.root, { recursive: true });
    const scratch = mkdtempSync(join(kpaths.root, `bench-${kind}-`));
    try {
      const p = { ...kernelCachePaths(scratch), sources: kpaths.sources, aptSid: kpaths.aptSid };
      if (kind === 'warm') p.ccache = kpaths.ccache;
      const k = await buildKernel({ source: src, paths: p, log });
      return {
        wallSeconds: k.manifest.timing.buildSeconds + k.manifest.timing.configSeconds,
        cpuSeconds: k.manifest.timing.cpuSeconds,
        objects: k.manifest.objects,
        ccache: k.manifest.ccache,
      };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  };
  log('bench: warm build (fresh object tree, ccache warm)');
  const warm = await rebuild('warm');
  const cold = o.cold ? (log('bench: cold build (fresh object tree, empty ccache)'), await rebuild('cold')) : null;
  const paths = cachePaths();
  const s = setup({ paths, log });
  const igb = pickVariants(['igb-intel-iommu'])[0];
  const ir = buildInitramfs({ paths, manifest: null, busybox: s.manifest.busybox, variants: [igb] });
  // The guest program the CI runs, with the modules the CI loads: its detector checks need iovh_detectors.
  const mods = await guestModules({ built, kpaths, paths, log });
  log('bench: booting the sanitizer guest');
  const b = await boot({
    variant: igb,
    label: `${SOURCE_PREFIX}${igb.name}`,
    qemu: s.qemu.path,
    kernel: built.bzImage,
    initrd: ir.path,
    paths,
    timeoutSeconds: o.timeoutSeconds ?? 900,
    memory: '1G',
    kernelAppend: kernelParameters(parseDotConfig(readFileSync(built.config, 'utf8'))) || undefined,
    insmod: mods.ko,
  });
  return {
    name: 'sanitizer kernel: build and boot',
    kernel: built.release,
    source: src.label,
    recorded: {
      note: 'the build that filled the cache, as its manifest recorded it',
      createdAt: built.manifest.createdAt,
      wallSeconds: built.manifest.timing.wallSeconds,
      cpuSeconds: built.manifest.timing.cpuSeconds,
      objects: built.manifest.objects,
      ccache: built.manifest.ccache ?? null,
    },
    warmBuild: warm,
    coldBuild: cold,
    boot: {
      status: b.status,
      reason: b.reason,
      toInitSeconds: b.initSeconds,
      toVerdictSeconds: b.verdictSeconds,
      wallSeconds: b.wallSeconds,
      scenarios: b.results?.scenarios.length ?? 0,
      resultsDir: b.resultsDir,
      xfail: b.xfail.map((x) => x.id),
    },
    machine: { before, after: machine() },
    ok: b.status === 'pass',
  };
}
