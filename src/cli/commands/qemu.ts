// `iovh qemu`: build a kernel from source (Debian's newest linux-source by
// default, or the tree given, with a patch series applied to a scratch copy
// and iovh's config fragment plus the user's), or take a prebuilt bzImage,
// boot it under QEMU on an emulated machine with an IOMMU and an SR-IOV
// device, run `iovh run --backend native --allow-destructive` inside (the
// guest is thrown away after the run), then the bugs/* scenarios last, after
// a restore, as the CI's guest does (src/qemu/last.ts), and print the verdict
// and both runs as one report, as `iovh run` does (src/qemu/run.ts,
// docs/kernels.md). A known bug the baseline of the kernel's shape expects is
// an expected failure (exit 0, listed as a known defect), an unexpected one
// fails.
//
// Exit status: the guest run's (0, 1, 77) when every guest reached a verdict;
// 1 when a guest panicked, hung, stayed silent or crashed, or the build
// failed; 2 for bad input (a directory that is not a kernel tree, a patch that
// does not apply, a fragment option the tree lacks, a file that is no bzImage).
import { existsSync, realpathSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { BuildProgress } from '../../../scripts/qemu-ci/kbuild.mjs';
import { assembleRun } from '../../harness/assemble.js';
import type { GuestRun, KernelChoice } from '../../qemu/run.js';
import type { Variant } from '../../../scripts/qemu-ci/variants.mjs';
import { renderSummary, renderTable, styleFor } from '../../report/human.js';
import { renderJson } from '../../report/json.js';
import { renderJunit } from '../../report/junit.js';
import { EXIT } from '../../report/exit.js';
import { renderKtap } from '../../report/ktap.js';
import type { RunResult } from '../../report/model.js';
import { ReportFileError, ReportFiles, type ReportSpec } from '../../report/files.js';
import { VERSION } from '../../version.js';
import { CliError, UsageError } from '../errors.js';
import { HumanOutput } from '../output.js';
import { parseTimeout } from './run.js';

interface QemuOptions {
  kernelTree?: string;
  patches: string[];
  config: string[];
  kernel?: string;
  variant: string[];
  json?: string;
  junit?: string;
  ktap?: string;
  filter: string[];
  timeout?: string;
  guestTimeout?: string;
  kernelCache?: string;
  jobs?: string;
  refresh?: boolean;
  buildOnly?: boolean;
  insmod: string[];
  device?: string;
  qemuPatches?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/**
 * The build and boot engine (src/qemu/run.ts over scripts/qemu-ci/), loaded
 * only when `iovh qemu` runs: every other command starts without it.
 */
async function loadEngine() {
  const [run, kbuild, kcache, ksource] = await Promise.all([
    import('../../qemu/run.js'),
    import('../../../scripts/qemu-ci/kbuild.mjs'),
    import('../../../scripts/qemu-ci/kcache.mjs'),
    import('../../../scripts/qemu-ci/ksource.mjs'),
  ]);
  return { ...run, kbuild, kcache, ksource };
}
type Engine = Awaited<ReturnType<typeof loadEngine>>;

/** With several variants each report file gets the variant's name before its extension: run.json -> run.igb-intel-iommu.json. */
export function reportPathFor(path: string, variant: string, several: boolean): string {
  if (!several || path === '-') return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${variant}${ext}`;
}

interface Validated {
  choice: KernelChoice;
  variants: Variant[];
  /** null: by the kernel (run.ts guestTimeout). */
  guestTimeoutS: number | null;
  jobs: number | undefined;
}

function validate(o: QemuOptions, engine: Engine): Validated {
  if (o.kernel !== undefined && o.kernelTree !== undefined)
    throw new UsageError('--kernel (a prebuilt bzImage) and --kernel-tree (a source tree to build) exclude each other');
  if (o.kernel !== undefined && o.patches.length)
    throw new UsageError(
      "--patches needs a kernel to build (--kernel-tree, or none for Debian's source), not --kernel",
    );
  if (o.kernel !== undefined && o.config.length > 1)
    throw new UsageError("with --kernel, --config names the image's one .config");
  if (o.buildOnly && o.kernel !== undefined)
    throw new UsageError('--build-only builds a kernel: it does not take --kernel');
  for (const m of o.insmod) {
    if (!m.endsWith('.ko')) throw new UsageError(`--insmod ${m}: not a kernel module (.ko)`);
    if (!existsSync(m)) throw new UsageError(`--insmod ${m}: no such file`);
    if (/[\s,"]/.test(resolve(m)))
      throw new UsageError(`--insmod ${m}: the path cannot hold whitespace, commas or quotes`);
  }
  let variants: Variant[];
  if (o.qemuPatches !== undefined && o.device === undefined)
    throw new UsageError('--qemu-patches patches the QEMU that iovh builds for --device: give --device mock-gpu');
  if (o.device !== undefined) {
    try {
      variants = engine.deviceVariants(o.device);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (o.variant.length)
      throw new UsageError(`--device ${o.device} is a machine of its own (${variants[0]!.name}): drop --variant`);
    if (o.kernel !== undefined)
      throw new UsageError(
        `--device ${o.device} builds its PF driver and the stand-in importer against the kernel: use a kernel built from source, not --kernel`,
      );
    if (o.qemuPatches !== undefined && !existsSync(o.qemuPatches))
      throw new UsageError(`--qemu-patches ${o.qemuPatches}: no such file or directory`);
  } else {
    try {
      variants = engine.resolveVariants(
        o.variant.length ? o.variant.flatMap((v) => v.split(',')).filter(Boolean) : ['igb'],
      );
    } catch (e) {
      throw new UsageError(`--variant: ${(e as Error).message} (or igb, nvme)`);
    }
  }
  for (const f of o.filter)
    if (/[\s,"]/.test(f))
      throw new UsageError(`--filter '${f}': a guest's filter cannot hold whitespace, commas or quotes`);
  if (o.timeout !== undefined) parseTimeout(o.timeout);
  const g = o.guestTimeout === undefined ? null : Number(o.guestTimeout);
  if (o.guestTimeout !== undefined && (!/^\d+$/.test(o.guestTimeout) || g === null || g < 60 || g > 86400))
    throw new UsageError(`--guest-timeout must be a whole number of seconds from 60 to 86400, got '${o.guestTimeout}'`);
  let jobs: number | undefined;
  if (o.jobs !== undefined) {
    jobs = Number(o.jobs);
    if (!/^\d+$/.test(o.jobs) || jobs < 1 || jobs > 1024)
      throw new UsageError(`--jobs must be 1 to 1024, got '${o.jobs}'`);
  }
  const several = variants.length > 1;
  const files = new Map<string, string>();
  for (const [flag, f] of [
    ['--json', o.json],
    ['--junit', o.junit],
    ['--ktap', o.ktap],
  ] as const) {
    if (f === undefined) continue;
    if (f === '-' && several) throw new UsageError(`${flag} -: with several variants each report needs its own file`);
    for (const v of variants) {
      if (f === '-') continue;
      const key = resolve(reportPathFor(f, v.name, several));
      const other = files.get(key);
      if (other) throw new UsageError(`${other} and ${flag} name the same file (${f}): give each report its own`);
      files.set(key, flag);
    }
  }
  if ([o.json, o.junit, o.ktap].filter((f) => f === '-').length > 1)
    throw new UsageError('only one report can go to stdout (-)');
  const choice: KernelChoice =
    o.kernel !== undefined
      ? { kind: 'image', bzImage: o.kernel, config: o.config[0] ?? null }
      : { kind: 'source', tree: o.kernelTree ?? null, patches: o.patches, fragments: o.config };
  return { choice, variants, guestTimeoutS: g, jobs };
}

function reportSpecs(o: QemuOptions, variant: string, several: boolean): ReportSpec[] {
  const specs: ReportSpec[] = [];
  if (o.json) specs.push({ what: 'JSON', path: reportPathFor(o.json, variant, several), render: renderJson });
  if (o.junit) specs.push({ what: 'JUnit', path: reportPathFor(o.junit, variant, several), render: renderJunit });
  if (o.ktap) specs.push({ what: 'KTAP', path: reportPathFor(o.ktap, variant, several), render: renderKtap });
  return specs;
}

/** A run that has not happened: what the report files hold until the guest's report replaces them. */
function placeholder(reason: string, o: QemuOptions, pending: string): RunResult {
  return assembleRun(
    {
      startedAt: new Date(),
      t0: performance.now(),
      toolVersion: VERSION,
      backend: { name: 'native', reason, profile: null },
      options: { filters: o.filter, timeoutSec: o.timeout ? Number(o.timeout) : 60, pf: null, vf: null },
      baseline: null,
      setup: [],
    },
    null,
    { results: [], pending: [pending], interrupted: null, kernelLog: [] },
  );
}

/** The build's progress on stderr: rewritten in place on a terminal, one line a minute otherwise. */
function progressPrinter(
  err: HumanOutput,
  progressLine: Engine['progressLine'],
): { onProgress: (p: BuildProgress) => void; end: () => void } {
  const tty = err.stream.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    onProgress: (p) => {
      const now = Date.now();
      if (tty) {
        err.write(`\r\u001b[2K${progressLine(p)}`);
        shown = true;
      } else if (now - last >= 60_000) {
        err.write(`${progressLine(p)}\n`);
        last = now;
      }
    },
    end: () => {
      if (tty && shown) err.write('\n');
      shown = false;
    },
  };
}

const secs = (n: number | null): string => (n === null ? '-' : `${n.toFixed(1)} s`);

/**
 * One guest's exit status: its run's (0, 1, 77) when the guest reached a
 * verdict and only scenarios failed; 1 when the guest did not finish (panic,
 * hang, silence, crash, an init step) or the kernel complained outside any
 * scenario while the run itself passed.
 */
export function guestExitCode(status: string, runCode: number | null): number {
  if (runCode === null) return 1;
  if (status === 'pass') return runCode;
  if (status === 'fail') return runCode === 0 || runCode === 77 ? 1 : runCode;
  return 1;
}

/**
 * One guest's exit status and the word its line shows. The host's verdict
 * fails a guest for every bad result and every kernel report; when nothing is
 * left that the run's baseline does not speak for (`unexplained` is empty:
 * scripts/qemu-ci/windows.mjs), the run's own judgement stands, and the line
 * says what the exit status says. `unexplained` is null when not asked (the
 * guest did not fail, or left no run report). A guest whose run skipped every
 * scenario (exit 77) shows SKIP, never PASS: the host's verdict passes such a
 * guest on its bring-up steps (qemu.vfs-enable, qemu.bind, ...), which
 * validate nothing of the kernel's dma-buf path.
 */
export function guestOutcome(
  status: string,
  runCode: number | null,
  unexplained: readonly string[] | null,
): { code: number; shown: string; expected: boolean } {
  const expected = status === 'fail' && runCode !== null && unexplained !== null && unexplained.length === 0;
  const code = expected ? (runCode as number) : guestExitCode(status, runCode);
  const shown =
    code === EXIT.SKIPPED && (expected || status === 'pass')
      ? 'SKIP'
      : expected
        ? code === EXIT.OK
          ? 'PASS'
          : 'FAIL'
        : status.toUpperCase();
  return { code, shown, expected };
}

/**
 * A guest's first line: its status as the exit status has it (guestOutcome),
 * its timings and the reason, which says so when the run's baseline expects
 * every failure the host's verdict counted, and when the run validated
 * nothing (the host's count of passes is then the guest's bring-up steps).
 */
export function guestLine(
  b: { variant: string; reason: string; verdictSeconds: number | null; wallSeconds: number | null },
  release: string,
  outcome: { shown: string; expected: boolean },
): string {
  const host = outcome.expected
    ? `every failure is expected by the run's baseline (the host's verdict: ${b.reason})`
    : b.reason;
  const reason =
    outcome.shown === 'SKIP'
      ? `every scenario of the run was skipped: nothing was validated (the host's verdict, which counts the guest's bring-up steps: ${host})`
      : host;
  return `qemu ${b.variant}: kernel ${release}, ${outcome.shown} (verdict at ${secs(b.verdictSeconds)}, wall ${secs(b.wallSeconds)}): ${reason}`;
}

/** Several guests: the worst; 77 (everything skipped) only when every guest skipped everything. */
export function combineExitCodes(codes: number[]): number {
  const bad = codes.filter((c) => c !== 0 && c !== 77);
  if (bad.length) return Math.max(...bad);
  return codes.length > 0 && codes.every((c) => c === 77) ? 77 : 0;
}

export async function qemuCommand(o: QemuOptions): Promise<number> {
  const engine = await loadEngine();
  const v = validate(o, engine);
  const out = new HumanOutput(process.stdout);
  const err = new HumanOutput(process.stderr);
  const several = v.variants.length > 1;
  const human = [o.json, o.junit, o.ktap].includes('-') ? err : out;
  const style = styleFor(human.stream);
  try {
    // Every report file is made before anything is built: a path that cannot be written fails now.
    const reports = new Map<string, ReportFiles>();
    if (!o.buildOnly) {
      for (const variant of v.variants) {
        try {
          reports.set(
            variant.name,
            ReportFiles.open(
              reportSpecs(o, variant.name, several),
              placeholder('not run yet: iovh qemu is building or booting the kernel', o, `qemu guest ${variant.name}`),
            ),
          );
        } catch (e) {
          if (e instanceof ReportFileError) throw new CliError(`${e.message}; nothing was built or run`, 1);
          throw e;
        }
      }
    }
    const progress = progressPrinter(err, engine.progressLine);
    const log = (s: string): void => {
      progress.end();
      err.write(`iovh: ${s}\n`);
    };
    // The device's QEMU first: a property QEMU refuses or a QEMU patch that does not apply stops before any kernel build.
    let deviceQemu: ReturnType<Engine['prepareMockGpuQemu']> | null = null;
    if (o.device !== undefined) {
      try {
        deviceQemu = engine.prepareMockGpuQemu({
          variant: v.variants[0]!,
          ...(o.qemuPatches ? { qemuPatches: o.qemuPatches } : {}),
          log,
        });
      } catch (e) {
        throw translate(e, err, engine);
      }
    }
    let kernel: Awaited<ReturnType<Engine['prepareKernel']>>;
    try {
      kernel = await engine.prepareKernel({
        choice: v.choice,
        variants: v.variants,
        ...(o.kernelCache ? { kernelCache: o.kernelCache } : {}),
        refresh: o.refresh === true,
        ...(v.jobs ? { jobs: v.jobs } : {}),
        log,
        onProgress: progress.onProgress,
      });
    } catch (e) {
      progress.end();
      throw translate(e, err, engine);
    }
    progress.end();
    // The stand-in importer (kernel/iovh-ic-importer), built against this kernel and loaded in the guest: the rfc/*
    // scenarios need it, and on a kernel without the series it is a plain P2P importer. Unless the user loads their own.
    const ownImporter = o.insmod.some((m) => basename(m) === 'iovh_ic_importer.ko');
    let importer: Awaited<ReturnType<Engine['buildImporter']>> | null = null;
    if (!ownImporter) {
      try {
        importer = await engine.buildImporter(kernel, log);
      } catch (e) {
        throw translate(e, err, engine);
      }
      if (importer.ko === null) log(`stand-in importer not built: ${importer.why} (the rfc/* scenarios will skip)`);
      else
        log(
          `stand-in importer: ${importer.ko}${importer.series ? ' (the kernel has the IOV interconnect series)' : ''}`,
        );
    }
    // A kernel with the series boots, unless told otherwise, on the machine whose ivshmem BAR the series can map.
    if (o.variant.length === 0 && o.device === undefined && importer?.ko && importer.series) {
      const before = v.variants[0]!.name;
      v.variants = engine.resolveVariants(['ivshmem']);
      const files = reports.get(before);
      if (files) {
        reports.delete(before);
        reports.set(v.variants[0]!.name, files);
      }
      log(`machine: ${v.variants[0]!.name} (the series' exporter is ivshmem's RAM BAR; --variant picks another)`);
    }
    if (o.buildOnly) {
      // For scripts (an out-of-tree module built against this kernel): one JSON object on stdout.
      const b = kernel.built!;
      const info = {
        release: b.release,
        bzImage: b.bzImage,
        vmlinux: b.vmlinux,
        config: b.config,
        objtree: b.objtree,
        srctree: b.srctree,
        key: b.key,
        cached: b.cached,
        modules: `make -C ${b.srctree} O=${b.objtree} M=<module directory>`,
        importer: importer?.ko ?? null,
        series: importer?.ko ? importer.series : null,
      };
      out.write(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    let device: Awaited<ReturnType<Engine['prepareMockGpu']>> | null = null;
    if (deviceQemu) {
      try {
        device = await engine.prepareMockGpu({ kernel, qemu: deviceQemu, log });
      } catch (e) {
        throw translate(e, err, engine);
      }
    }
    let guests: GuestRun[];
    try {
      guests = await engine.bootGuests({
        kernel,
        variants: v.variants,
        timeoutSeconds: v.guestTimeoutS ?? engine.guestTimeout(kernel.config),
        filters: o.filter,
        runTimeout: o.timeout ?? null,
        // The importer first: a module given with --insmod may use its exports (iovh_ic_set_xlate), and so does the
        // mock GPU's PF driver, which comes last (it installs its translation in whichever importer is loaded).
        insmod: [
          ...(importer?.ko ? [importer.ko] : []),
          ...o.insmod.map((m) => realpathSync(m)),
          ...(device?.modules ?? []),
        ],
        ...(device ? { qemu: device.qemu } : {}),
        log,
      });
    } catch (e) {
      throw translate(e, err, engine);
    }
    const codes: number[] = [];
    for (const g of guests) {
      const b = g.boot;
      const release = g.run?.kernel.release ?? kernel.built?.release ?? '?';
      // Failed by the host's verdict (every bad result counts there): the run's baseline may expect them all.
      const why =
        b.status === 'fail' && g.run
          ? engine.unexplained(b.results?.scenarios ?? [], engine.consoleOopses(b.logPath), g.run)
          : null;
      const outcome = guestOutcome(b.status, g.run?.summary.exitCode ?? null, why);
      human.write(`\n${guestLine(b, release, outcome)}\n`);
      human.write(`qemu ${b.variant}: serial log ${b.logPath}\n`);
      const reportFiles = reports.get(b.variant);
      if (g.run) {
        human.write('\n');
        human.write(renderTable(g.run, style));
        human.write(renderSummary(g.run, style));
      }
      try {
        reportFiles?.write(
          g.run ?? placeholder(`the guest did not finish: ${b.status}: ${b.reason}`, o, `qemu guest ${b.variant}`),
          (text) => out.write(text),
        );
      } catch (e) {
        if (e instanceof ReportFileError) throw new CliError(e.message, 1);
        throw e;
      }
      let c = outcome.code;
      if (g.run && g.runError) {
        // The last run's report (bugs/*) is unreadable: what it found is unknown, so the guest cannot pass.
        human.write(`qemu ${b.variant}: ${g.runError}\n`);
        c = Math.max(c === 77 ? 1 : c, 1);
      }
      if (why?.length) human.write(`qemu ${b.variant}: ${why.slice(0, 3).join('; ')}\n`);
      if (c === 1 && (b.status !== 'fail' || !g.run || g.run.summary.exitCode === 0)) {
        // The guest itself failed (a panic, a hang, a kernel complaint outside any scenario): show where.
        human.write(`qemu ${b.variant}: last lines of the console:\n`);
        for (const l of b.logTail.split('\n').slice(-20)) human.write(`  | ${l}\n`);
      }
      codes.push(c);
    }
    const code = combineExitCodes(codes);
    return code;
  } finally {
    out.release();
    err.release();
  }
}

/** Engine errors as the CLI reports them: the user's input is a usage error (2); a compiler error shows its lines. */
function translate(e: unknown, err: HumanOutput, engine: Engine): unknown {
  if (
    e instanceof engine.ksource.KernelInputError ||
    e instanceof engine.kbuild.KernelConfigError ||
    e instanceof engine.QemuInputError
  )
    return new UsageError(e.message);
  if (e instanceof engine.kbuild.KernelBuildError) {
    err.write('iovh: the failing command said:\n');
    for (const l of e.excerpt) err.write(`  | ${l}\n`);
    return new CliError(e.message, 1);
  }
  if (e instanceof engine.kcache.NoSpaceError) return new CliError(e.message, 1);
  if (e instanceof Error && !(e instanceof UsageError) && !(e instanceof CliError)) return new CliError(e.message, 1);
  return e;
}

export function registerQemu(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('qemu')
    .description(
      "build a kernel from source (Debian's newest linux-source, or --kernel-tree, with --patches) or take a bzImage, boot it under QEMU with an IOMMU and an SR-IOV device, and run iovh there",
    )
    .option('--kernel-tree <dir>', "kernel source tree to build out of tree (default: Debian's newest linux-source)")
    .addOption(
      new Option(
        '--patches <dir|file...>',
        'patch series applied in order to a scratch copy of the tree (a directory: its series file, or its *.patch sorted)',
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(
      new Option(
        '--config <fragment>',
        "config fragment merged after iovh's (repeatable); with --kernel: that image's .config",
      )
        .argParser(collect)
        .default([]),
    )
    .option('--kernel <bzImage>', 'boot this prebuilt kernel (its config from the image, CONFIG_IKCONFIG, or --config)')
    .addOption(
      new Option(
        '--variant <name>',
        'machine: igb (igb-intel-iommu), nvme (nvme-virtio-iommu), a full variant name, or all (repeatable)',
      )
        .argParser(collect)
        .default([]),
    )
    .option('--json <file>', "write the guest run's JSON report to FILE (or -)")
    .option('--junit <file>', 'write a JUnit XML report to FILE (or -)')
    .option('--ktap <file>', 'write a KTAP report to FILE (or -)')
    .addOption(
      new Option(
        '--filter <glob>',
        "run the scenarios matching GLOB in the guest (repeatable); the guest is thrown away, so they run with --allow-destructive, and bugs/* (which may corrupt the kernel) run last, after a restore, on a bring-up of their own: --filter '!bugs/*' leaves them out",
      )
        .argParser(collect)
        .default([]),
    )
    .option('--timeout <seconds>', "per-scenario timeout of the guest's iovh run")
    .option(
      '--guest-timeout <seconds>',
      'wall-clock limit per guest, boot to power-off (default 900, or 2400 for a KASAN or kmemleak kernel)',
    )
    .addOption(
      new Option('--kernel-cache <dir>', 'where built kernels are kept (default $XDG_CACHE_HOME/iovh/kernels)').env(
        'IOVH_KERNEL_CACHE',
      ),
    )
    .option('--jobs <n>', 'parallel make jobs (default: the number of CPUs)')
    .option('--refresh', "look up Debian's newest linux-source again now (otherwise at most once a day)")
    .addOption(
      new Option(
        '--insmod <module.ko>',
        "load this module in the guest before iovh runs (build it against --build-only's object tree; repeatable)",
      )
        .argParser(collect)
        .default([]),
    )
    .option('--build-only', 'build the kernel and print where it is (bzImage, object tree for make M=), boot nothing')
    .option(
      '--device <name>',
      "boot on iovh's own QEMU device instead of a variant's: mock-gpu (an SR-IOV GPU whose VF LMEM windows are slices of the PF's; builds QEMU, its PF driver and the stand-in importer)",
    )
    .option('--qemu-patches <dir|file>', "QEMU patch series for --device (default: the package's qemu/patches)")
    .action(async (_o: unknown, c: Command) => {
      setStatus(await qemuCommand(c.opts() as QemuOptions));
    });
}
