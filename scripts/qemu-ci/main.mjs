#!/usr/bin/env node
// @ts-check
// `npm run test:qemu`: boots Debian sid's kernel under QEMU (TCG) with an
// emulated IOMMU and SR-IOV device, runs iovh's native backend there, checks
// that the mock agrees with that kernel, and ends with one line
// "qemu: N passed, N failed, N skipped". Exit 0 only when nothing failed.
// See scripts/qemu-ci/README.md.
// First: a checkout without dist/ stops here with one line (need-dist.mjs).
import './need-dist.mjs';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCi, measureWallTime, measureSanitizer, machine } from './ci.mjs';
import { setup, setupTools } from './setup.mjs';
import { cachePaths } from './paths.mjs';
import { VARIANTS, DEFAULT_VARIANTS, pickVariants } from './variants.mjs';
import { describeShare, totalShare } from './coverage.mjs';
import { pinnedFromFixtures, pinnedFromRun } from './pinned.mjs';
import {
  CONFORMANCE_DEVICE,
  IGB_TOPOLOGY,
  KASAN_FIXTURE,
  KERNEL_FIXTURE,
  NOT_MODELLED,
  fixtureFrom,
  kernelConfigFrom,
  topologyDifferences,
  topologyFileFrom,
} from './conformance.mjs';
import { buildKernel, progressEvery } from './kbuild.mjs';
import { kernelCachePaths, kernelCacheRoot } from './kcache.mjs';
import { debianSource } from './ksource.mjs';
import { RFC_LABEL, judgeRfcBoot, prepareRfcKernel, rfcBootOptions, rfcVariant } from './rfc.mjs';
import { buildInitramfs } from './initramfs.mjs';
import { edgeChecks } from './mock-gpu-ci.mjs';
import { buildQemu } from './qemu-build.mjs';
import { boot } from './boot.mjs';

const USAGE = `usage: node scripts/qemu-ci/main.mjs [run|setup|kernel|rfc|bench|record|pinned|list] [options]

  run       (default) set up (cached), build the sanitizer kernel (cached),
            boot the variants and the sanitizer guest, compare the mock
  setup     install qemu-system-x86 >= 8.0 if missing, fetch and unpack the
            newest Debian sid kernel, busybox-static and kmod (cached)
  kernel    build (or find in the cache) the sanitizer kernel from Debian's
            newest linux-source with kconfig/iovh-guest.config; print where
  rfc       only the rfc-v1 guest of \`run\` (kernel/patches/rfc-v1, the
            stand-in importer and the mock GPU's PF driver built, cached,
            booted on the mock GPU machine with iovh's QEMU build; rfc/*
            judged and compared with the mock's rfc-v1, edge/* replayed on
            the mock); its checks
  bench     wall time from start to verdict with the packages cached, and
            the sanitizer kernel's warm build (cold with --cold), boot to
            /init and boot to verdict, with the machine (JSON)
  record    save the last run's igb results as the kernel fixture the mock
            is compared with in npm test (test/qemu/fixtures/kernel-igb.json)
            and the topology the guest captured as topology-igb.json; the
            sanitizer kernel's igb guest, when booted, as kernel-kasan-igb.json
  pinned    how much of the mock real kernels pin, without booting: the
            recorded answers (test/qemu/fixtures/, or a CI run's results
            with --from) replayed on the mock under coverage; per guest and
            their union
  list      the variants

options:
  --variants <a,b|all|none>  stock-kernel guests; default: ${DEFAULT_VARIANTS.join(',')}
                         (none: only the sanitizer guest, with --source-kernel)
  --timeout <seconds>    hard wall-clock limit per guest (default 240)
  --no-conformance       do not run the scenarios on the mock
  --source-kernel        (default) also build the sanitizer kernel from
                         Debian's linux-source (cached), boot it, run iovh qemu
  --no-source-kernel     boot only Debian's stock kernel (the sanitizer guest
                         and iovh qemu are reported as skipped)
  --no-qemu-command      do not run \`iovh qemu\` as a user does (default
                         source, a patched tree, a panic, bad input, the
                         mock GPU)
  --no-rfc               do not build and boot the rfc-v1 kernel (the IOV
                         interconnect series with the stand-in importer on
                         the mock GPU machine: rfc/* against the mock's
                         rfc-v1, edge/* with real bytes against its replay)
  --no-mock-gpu          the rfc-v1 guest runs rfc/* alone (no edge/*, no
                         replay), and \`iovh qemu --device\` is not checked
  --cold                 bench: also a cold kernel build (empty ccache; about
                         25 CPU-minutes)
  --refresh              resolve and download the sid packages again
  --from <dir>           pinned: a CI run's cache (its .cache/qemu-ci)
  --json <file>          also write the summary there (always written to
                         .cache/qemu-ci/summary.json)`;

class UsageError extends Error {}

/** The command being run, for the error path: only `run` owes a counts line. */
let current = 'run';

/** @param {string[]} argv */
function parse(argv) {
  const o = {
    command: 'run',
    variants: DEFAULT_VARIANTS,
    timeout: 240,
    conformance: true,
    sourceKernel: true,
    qemuCommand: true,
    rfc: true,
    mockGpu: true,
    cold: false,
    refresh: false,
    json: /** @type {string | null} */ (null),
    from: /** @type {string | null} */ (null),
  };
  const args = [...argv];
  if (args[0] && !args[0].startsWith('-')) o.command = /** @type {string} */ (args.shift());
  if (!['run', 'setup', 'kernel', 'rfc', 'bench', 'record', 'pinned', 'list', 'help'].includes(o.command))
    throw new UsageError(`unknown command '${o.command}'`);
  while (args.length) {
    const a = /** @type {string} */ (args.shift());
    const value = () => {
      const v = args.shift();
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--variants') {
      const v = value();
      // none: no stock-kernel guest (with --source-kernel, the sanitizer guest alone).
      o.variants = v === 'none' ? [] : v.split(',').filter(Boolean);
    } else if (a === '--timeout') {
      const t = Number(value());
      if (!Number.isFinite(t) || t < 20 || t > 3600)
        throw new UsageError('--timeout must be between 20 and 3600 seconds');
      o.timeout = t;
    } else if (a === '--no-conformance') o.conformance = false;
    else if (a === '--no-source-kernel') o.sourceKernel = false;
    else if (a === '--source-kernel') o.sourceKernel = true;
    else if (a === '--no-qemu-command') o.qemuCommand = false;
    else if (a === '--no-rfc') o.rfc = false;
    else if (a === '--no-mock-gpu') o.mockGpu = false;
    else if (a === '--cold') o.cold = true;
    else if (a === '--refresh') o.refresh = true;
    else if (a === '--json') o.json = value();
    else if (a === '--from') o.from = value();
    else if (a === '--help' || a === '-h') o.command = 'help';
    else throw new UsageError(`unknown option '${a}'`);
  }
  try {
    pickVariants(o.variants);
  } catch (e) {
    throw new UsageError(/** @type {Error} */ (e).message);
  }
  return o;
}

const secs = (/** @type {number | null} */ n) => (n === null ? '-' : `${n.toFixed(1)} s`);

/** @param {import('./ci.mjs').CiSummary} s */
function printSummary(s) {
  const out = (/** @type {string} */ line) => process.stdout.write(`${line}\n`);
  for (const b of s.boots) {
    // The rfc-v1 guest is judged by its own checks (below): its expected failures are not failures.
    if (b.variant === RFC_LABEL) {
      out(
        `${b.status === 'pass' || b.status === 'fail' ? 'BOOT  ' : 'FAIL  '} ${b.variant} wall ${secs(b.wallSeconds)}, verdict at ${secs(b.verdictSeconds)}; log: ${b.logPath}`,
      );
      continue;
    }
    const sc = b.results?.scenarios ?? [];
    const n = (/** @type {string} */ st) => sc.filter((r) => r.status === st).length;
    const xfail = new Map(b.xfail.map((x) => [x.id, x.line]));
    out(
      `${b.status.toUpperCase().padEnd(6)} ${b.variant.padEnd(20)} wall ${secs(b.wallSeconds)}, verdict at ${secs(b.verdictSeconds)}; ` +
        `${n('pass')} passed, ${sc.length - n('pass') - n('skip') - xfail.size} failed, ${n('skip')} skipped` +
        (xfail.size ? `, ${xfail.size} expected failure(s)` : ''),
    );
    out(`       ${b.reason}`);
    if (b.baseline) out(`       judged against baseline ${b.baseline}`);
    for (const r of sc.filter((x) => x.status !== 'pass' && x.status !== 'skip'))
      out(
        xfail.has(r.id)
          ? `       XFAIL ${xfail.get(r.id)}: ${r.detail ?? ''}`
          : `       ${r.status} ${r.id}${r.errno ? ` ${r.errno}` : ''}: ${r.detail ?? ''}`,
      );
    // Skips grouped by reason: the harness skips whole families for one missing capability.
    /** @type {Map<string, string[]>} */
    const skips = new Map();
    for (const r of sc.filter((x) => x.status === 'skip'))
      skips.set(r.detail ?? '', [...(skips.get(r.detail ?? '') ?? []), r.id]);
    for (const [why, ids] of skips)
      out(
        `       skip ${ids.length > 3 ? `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more` : ids.join(', ')}: ${why}`,
      );
    out(`       log: ${b.logPath}`);
    if (b.status !== 'pass') {
      out('       --- serial log, last lines:');
      for (const l of b.logTail.split('\n')) out(`       | ${l}`);
    }
  }
  for (const c of s.conformances.length ? s.conformances : [s.conformance]) {
    out(
      `${c.status.toUpperCase().padEnd(6)} model conformance (mock upstream profile vs ${c.against ?? 'no guest'}): ${c.detail}`,
    );
    for (const d of c.disagreements) out(`       ${d}`);
    if (c.log && c.status !== 'pass') out(`       log: ${c.log}`);
  }
  for (const c of s.checks.filter((x) => x.name.startsWith('iovh qemu') || x.name.startsWith(RFC_LABEL)))
    out(`${c.status.toUpperCase().padEnd(6)} ${c.name}: ${c.detail}`);
  if (s.source)
    out(
      `${(s.source.status === 'failed' ? 'FAIL' : 'PASS').padEnd(6)} source kernel: ${s.source.status}: ${s.source.detail}`,
    );
  else out('SKIP   source kernel: turned off with --no-source-kernel (the sanitizer guest did not run)');
  for (const k of s.pinned.kernels)
    out(`pinned share of the mock, kernel ${k.kernel}: ${describeShare(k)} (${k.counted} agreeing steps)`);
  if (s.pinned.total) out(`pinned share of the mock, all kernels: ${describeShare(s.pinned.total)}`);
  out(
    `timing: setup ${secs(s.timing.setupSeconds)}${s.timing.setupCached ? ' (cached)' : ''}, initramfs ${secs(s.timing.initramfsSeconds)}, kernel build ${secs(s.timing.kernelBuildSeconds)}${s.source?.status === 'cached' ? ' (cached)' : ''}, guests ${secs(s.timing.bootsSeconds)}, iovh qemu ${secs(s.timing.qemuCommandSeconds)}, total ${secs(s.timing.totalSeconds)}`,
  );
  out(
    `qemu: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped${s.xfailed ? `, ${s.xfailed} expected failure(s) (known bugs)` : ''}`,
  );
}

async function main() {
  let o;
  try {
    o = parse(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`qemu-ci: ${e.message} (run with --help for usage)\n`);
      return 2;
    }
    throw e;
  }
  current = o.command;
  if (o.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (o.command === 'list') {
    for (const v of VARIANTS)
      process.stdout.write(
        `${v.name}\t${v.device}\t${v.iommu}-iommu${DEFAULT_VARIANTS.includes(v.name) ? '\t(default)' : ''}\n`,
      );
    return 0;
  }
  if (o.command === 'setup') {
    const r = setup({ paths: cachePaths(), refresh: o.refresh });
    process.stdout.write(
      `qemu-ci: QEMU ${r.qemu.version} (${r.qemu.path}); kernel ${r.manifest.kernel.release} ${r.manifest.kernel.version}; ` +
        `busybox ${r.manifest.busybox.version}; kmod ${r.manifest.kmod.version}; ${r.cached ? 'cached' : `set up in ${r.seconds.toFixed(1)} s`}\n`,
    );
    return 0;
  }
  if (o.command === 'kernel') {
    const paths = kernelCachePaths(kernelCacheRoot());
    const log = (/** @type {string} */ l) => process.stderr.write(`${l}\n`);
    const src = await debianSource({ paths, log, refresh: o.refresh });
    const k = await buildKernel({
      source: src,
      paths,
      log,
      onProgress: progressEvery(log, 30_000),
    });
    process.stdout.write(
      `${JSON.stringify({ release: k.release, bzImage: k.bzImage, vmlinux: k.vmlinux, config: k.config, objtree: k.objtree, srctree: k.srctree, cached: k.cached, seconds: k.seconds, timing: k.manifest.timing, objects: k.manifest.objects }, null, 2)}\n`,
    );
    return 0;
  }
  if (o.command === 'rfc') {
    const log = (/** @type {string} */ l) => process.stderr.write(`${l}\n`);
    const paths = cachePaths();
    // QEMU and busybox only: this guest boots no stock kernel. Its machine is the mock GPU's: iovh's QEMU build.
    const tools = setupTools({ paths, log });
    const q = buildQemu({ log });
    const kpaths = kernelCachePaths(kernelCacheRoot());
    const src = await debianSource({ paths: kpaths, log, refresh: o.refresh });
    const t0 = performance.now();
    const kernel = await prepareRfcKernel({ source: src, paths: kpaths, log });
    const k = kernel.built;
    log(
      `qemu-ci: rfc-v1 kernel ${k.cached ? 'cached' : `built in ${k.seconds.toFixed(0)} s`} (${kernel.cpuSeconds ?? '?'} CPU-s when built), importer ${kernel.importer}, PF driver ${kernel.driver} (${((performance.now() - t0) / 1000).toFixed(1)} s); QEMU ${q.qemu}`,
    );
    const ir = buildInitramfs({ paths, manifest: null, busybox: tools.busybox, variants: [rfcVariant()] });
    const b = await boot(
      rfcBootOptions({
        kernel,
        qemu: q.qemu,
        initrd: ir.path,
        paths,
        timeoutSeconds: Math.max(o.timeout, 1500),
        edge: o.mockGpu,
      }),
    );
    const coverage = join(paths.results, `${RFC_LABEL}-mock-coverage.json`);
    const judged = judgeRfcBoot(b, { log, coverage });
    rmSync(coverage, { force: true });
    const gpuCoverage = join(paths.results, `${RFC_LABEL}-mock-gpu-coverage.json`);
    const edge = o.mockGpu ? await edgeChecks(b, { log, coverage: gpuCoverage }) : { checks: [], pinned: null };
    rmSync(gpuCoverage, { force: true });
    const checks = [...judged.checks, ...edge.checks];
    const shares = [judged.pinned, edge.pinned].filter((p) => p !== null);
    for (const c of checks) process.stdout.write(`${c.status.toUpperCase().padEnd(6)} ${c.name}: ${c.detail}\n`);
    for (const pinned of shares)
      process.stdout.write(
        `pinned share of the mock, kernel ${pinned.kernel}: ${describeShare(pinned)} (${pinned.counted} agreeing steps)\n`,
      );
    process.stdout.write(
      `timing: boot to /init ${secs(b.initSeconds)}, verdict at ${secs(b.verdictSeconds)}, wall ${secs(b.wallSeconds)}; log ${b.logPath}\n`,
    );
    const failed = checks.filter((c) => c.status === 'fail').length;
    process.stdout.write(
      `qemu: ${checks.filter((c) => c.status === 'pass').length} passed, ${failed} failed, ${checks.filter((c) => c.status === 'skip').length} skipped\n`,
    );
    return failed ? 1 : 0;
  }
  if (o.command === 'record') {
    const file = join(cachePaths().root, 'summary.json');
    /** @type {import('./ci.mjs').CiSummary} */
    let last;
    try {
      last = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(
        `no summary of a previous run in ${file} (${/** @type {Error} */ (e).message}); run npm run test:qemu first`,
      );
    }
    const device = new Map(VARIANTS.map((v) => [v.name, v.device]));
    const boot = last.boots.find((b) => device.get(b.variant) === CONFORMANCE_DEVICE);
    const kasan = last.boots.find(
      (b) => b.variant.startsWith('kasan-') && device.get(b.variant.slice(6)) === CONFORMANCE_DEVICE,
    );
    if (!boot && !kasan) throw new Error(`the last run booted no ${CONFORMANCE_DEVICE} variant`);
    if (boot) {
      // The machine those results came from, as the guest's `iovh capture` saw it: the mock replays it, so
      // the capture and the topology agree.
      const topology = topologyFileFrom(
        JSON.parse(readFileSync(join(boot.resultsDir, 'topology.json'), 'utf8')),
        JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8')),
      );
      // The detector checks skip on the stock kernel; they are the kernel's detectors, not rules of the mock.
      const fixture = fixtureFrom(boot, { ...last.versions, topologyDifferences: [] }, NOT_MODELLED);
      mkdirSync(dirname(KERNEL_FIXTURE), { recursive: true });
      writeFileSync(KERNEL_FIXTURE, fixture);
      writeFileSync(IGB_TOPOLOGY, topology);
      process.stdout.write(
        `qemu-ci: recorded ${boot.results?.scenarios.length} results of ${boot.variant} (kernel ${last.versions.kernel}) in ${KERNEL_FIXTURE}, its topology in ${fileURLToPath(IGB_TOPOLOGY)}\n`,
      );
    }
    // The igb guest of the source-built sanitizer kernel, when the run booted one: its own fixture, with
    // the options of its .config the mock models. Its detector checks are the kernel's own detectors
    // (test/qemu/guest/detectors.mjs), not rules of the mock: left out.
    const objtree = last.source?.objtree;
    if (kasan && objtree) {
      const kernelConfig = kernelConfigFrom(readFileSync(join(objtree, '.config'), 'utf8'));
      const release = kasan.results?.kernel ?? last.source?.release ?? 'unknown';
      // Its capture against the igb topology the mock replays (written above when the stock guest ran too).
      const captured = join(kasan.resultsDir, 'topology.json');
      const differences = existsSync(captured)
        ? topologyDifferences(
            JSON.parse(readFileSync(captured, 'utf8')),
            JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8')),
          )
        : ['the guest left no capture'];
      writeFileSync(
        KASAN_FIXTURE,
        fixtureFrom(
          kasan,
          { kernel: release, qemu: last.versions.qemu, kernelConfig, topologyDifferences: differences },
          NOT_MODELLED,
        ),
      );
      process.stdout.write(
        `qemu-ci: recorded the results of ${kasan.variant} (kernel ${release}) in ${KASAN_FIXTURE}\n`,
      );
    }
    return 0;
  }
  if (o.command === 'pinned') {
    const shares = o.from ? await pinnedFromRun(o.from) : await pinnedFromFixtures();
    const out = (/** @type {string} */ line) => process.stdout.write(`${line}\n`);
    for (const k of shares) {
      out(`pinned share of the mock, kernel ${k.kernel}: ${describeShare(k)} (${k.counted} agreeing steps)`);
      out(`       from ${k.source}${k.disagree.length ? `; not counted (disagree): ${k.disagree.join(', ')}` : ''}`);
    }
    if (shares.length) out(`pinned share of the mock, all kernels: ${describeShare(totalShare(shares))}`);
    return shares.length ? 0 : 1;
  }
  if (o.command === 'bench') {
    const log = (/** @type {string} */ l) => process.stderr.write(`${l}\n`);
    // --variants none: the sanitizer kernel's figures alone.
    const stock = o.variants.length ? await measureWallTime({ variants: o.variants, timeoutSeconds: o.timeout }) : null;
    const sanitizer = o.sourceKernel ? await measureSanitizer({ cold: o.cold, log }) : null;
    const out = { machine: machine(), stock, sanitizer };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return (stock?.ok ?? true) && (sanitizer?.ok ?? true) ? 0 : 1;
  }
  const summary = await runCi({
    variants: o.variants,
    timeoutSeconds: o.timeout,
    conformance: o.conformance,
    sourceKernel: o.sourceKernel,
    qemuCommand: o.qemuCommand,
    rfc: o.rfc,
    mockGpu: o.mockGpu,
    refresh: o.refresh,
  });
  const paths = cachePaths();
  mkdirSync(paths.root, { recursive: true });
  const json = `${JSON.stringify(summary, null, 2)}\n`;
  writeFileSync(join(paths.root, 'summary.json'), json);
  if (o.json) writeFileSync(o.json, json);
  printSummary(summary);
  return summary.failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    // Setup problems (no QEMU, no network, no root) are one loud line, not a stack trace.
    process.stderr.write(`qemu-ci: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.IOVH_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    if (current === 'run') process.stdout.write('qemu: 0 passed, 1 failed, 0 skipped\n');
    process.exitCode = 1;
  },
);
