// The program `iovh qemu` runs inside its guest (scripts/qemu-ci/init.sh
// starts it with this host's node, in a chroot of the host's root shared over
// 9p, against the guest's kernel): it brings the PF's VFs up with iovh's own
// commands, runs `iovh run --backend native --allow-destructive` on the PF
// and VF 0 (every scenario but bugs/*), puts the PF back with `iovh
// restore`, and then runs the bugs/* scenarios last, in a bring-up of their
// own, as the CI's guest does (src/qemu/last.ts). The runs' JSON reports land
// in the results folder the host shares; the host prints them as one, as
// `iovh run` would.
//
//   node dist/qemu/guest.js --out <dir>/results.json --nonce N --variant V --repo R
//        [--numvfs 2] [--filter GLOB]... [--timeout S]
//
// Each step is also a line "IOVH-SCENARIO <status> <id> :: <detail>" on the
// verdict channel (the second serial port; IOVH_QEMU_CHANNEL), and
// results.json lists them for the host's verdict (scripts/qemu-ci/verdict.mjs).
import {
  appendFileSync,
  existsSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { EXTRA_DEVICES, MOCK_GPU_VARIANT, pickVariants, type ExtraKind } from '../../scripts/qemu-ci/variants.mjs';
import { openBackend } from '../backend/select.js';
import type { Backend } from '../backend/types.js';
import { main as cli } from '../cli/main.js';
import { shippedBaselinePath } from '../harness/baseline.js';
import { SysReader } from '../machine/sysfs.js';
import { readPf } from '../machine/topology.js';
import { detectShape } from '../shape/index.js';
import { VFIO_ENABLE_SRIOV } from '../host/planner.js';
import { LAST_REPORT, runLast, splitFilters, withOpened } from './last.js';
import { fromHarness, type GuestStep, type HarnessScenario } from './steps.js';

const SYS = '/sys/bus/pci/devices';

/** The variant whose PF is iovh's mock GPU (scripts/qemu-ci/variants.mjs MOCK_GPU_VARIANT). */
export const MOCK_GPU_VARIANT_NAME = 'mock-gpu-intel-iommu';

/**
 * How the mock GPU's LMEM is laid out before its VFs are enabled, so that
 * every edge/* corner has a VF (docs/mock-gpu.md; 32 blocks of 2 MiB):
 * VF 1 gets its whole 16 MiB BAR in blocks 9, 8, 10-15 (the first two
 * swapped: its LMEM object is not contiguous, edge/lmem-discontiguous; its
 * last BAR page is memory, edge/last-page), VF 2 nothing
 * (edge/unprovisioned-vf), VF 3 2 MiB (below its BAR: edge/beyond-quota),
 * VF 4, on the next bus, 6 MiB (edge/vf-next-bus). Placement is the
 * device's own file (lmem_blocks); quotas go through `iovh provision`.
 */
export const MOCK_GPU_PLAN = {
  numvfs: 4,
  blocks: { 1: [9, 8, 10, 11, 12, 13, 14, 15] } as Record<number, number[]>,
  quotas: { 3: '2M', 4: '6M' } as Record<number, string>,
  /** The VF the single-VF scenarios use. */
  vf: 1,
};

/** The PF bound to the mock GPU's driver (kernel/iovh-mock-gpu registers as iovh_mock_gpu). */
function mockGpuPf(): string | null {
  for (const d of readdirSync(SYS).sort()) {
    try {
      if (
        readlinkSync(join(SYS, d, 'driver'))
          .split('/')
          .pop() === 'iovh_mock_gpu'
      )
        return d;
    } catch {
      // no driver
    }
  }
  return null;
}

export interface GuestArgs {
  out: string;
  nonce: string;
  variant: string;
  numvfs: number;
  filters: string[];
  timeout: string | null;
}

export function parseGuestArgs(argv: string[]): GuestArgs {
  const one: Record<string, string> = {};
  const filters: string[] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined)
      throw new Error(`bad arguments near '${k}' (expected --name value pairs)`);
    if (k === '--filter') filters.push(v);
    else one[k.slice(2)] = v;
  }
  for (const k of ['out', 'nonce', 'variant']) if (!one[k]) throw new Error(`missing --${k}`);
  const numvfs = Number(one.numvfs ?? '2');
  if (!Number.isInteger(numvfs) || numvfs < 1)
    throw new Error(`--numvfs must be a positive integer, not '${one.numvfs}'`);
  return { out: one.out!, nonce: one.nonce!, variant: one.variant!, numvfs, filters, timeout: one.timeout ?? null };
}

/** A line on the verdict channel; one open and close per line so it is sent before the next step. */
function toChannel(line: string): void {
  const channel = process.env.IOVH_QEMU_CHANNEL;
  if (!channel) return;
  try {
    appendFileSync(channel, `${line.replace(/[\r\n]+/g, ' ')}\n`);
  } catch {
    // the console has the line too
  }
}

function report(r: GuestStep): void {
  const line = `IOVH-SCENARIO ${r.status} ${r.id}${r.errno ? ` ${r.errno}` : ''} :: ${r.detail}`;
  process.stdout.write(`${line}\n`);
  toChannel(line);
}

/**
 * The variant of that name (scripts/qemu-ci/variants.mjs), or null for a name
 * this build does not know (pickVariants' RangeError); any other failure is reported.
 */
function variantOf(variant: string): ReturnType<typeof pickVariants>[number] | null {
  try {
    return pickVariants([variant])[0] ?? null;
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/** The variant's extra devices (scripts/qemu-ci/variants.mjs); none for a name this build does not know. */
function extrasOf(variant: string): ExtraKind[] {
  if (variant === MOCK_GPU_VARIANT.name) return MOCK_GPU_VARIANT.extras ?? [];
  return variantOf(variant)?.extras ?? [];
}

/** The driver the variant puts its PF on before the VFs are created (scripts/qemu-ci/variants.mjs pfDriver), or null. */
export function pfDriverOf(variant: string): string | null {
  return variantOf(variant)?.pfDriver ?? null;
}

/**
 * Bind each extra device to the driver its entry names, as the kernel binds
 * one device to a driver it does not match by ID: driver_override, then
 * drivers_probe with that device's address (drivers/pci/pci-driver.c
 * pci_match_device honours driver_override; drivers/base/bus.c drivers_probe).
 * This guest is a throwaway machine: nothing is journaled or put back.
 */
export function bindExtras(kinds: readonly ExtraKind[], sys = SYS): { bound: string[]; problems: string[] } {
  const bound: string[] = [];
  const problems: string[] = [];
  for (const kind of kinds) {
    const want = EXTRA_DEVICES[kind];
    const found = readdirSync(sys)
      .sort()
      .filter((d) => {
        const id = (f: string) => Number(readFileSync(join(sys, d, f), 'utf8').trim());
        return id('vendor') === want.vendor && id('device') === want.device;
      });
    if (found.length === 0)
      problems.push(`no ${kind} function (${want.vendor.toString(16)}:${want.device.toString(16)})`);
    for (const bdf of found) {
      const driver = (): string | null => {
        try {
          return (
            readlinkSync(join(sys, bdf, 'driver'))
              .split('/')
              .pop() ?? null
          );
        } catch {
          return null;
        }
      };
      if (driver() !== want.bind) {
        if (driver() !== null) writeFileSync(join(sys, bdf, 'driver', 'unbind'), bdf);
        writeFileSync(join(sys, bdf, 'driver_override'), want.bind);
        writeFileSync(join(dirname(sys), 'drivers_probe'), bdf);
      }
      const now = driver();
      if (now === want.bind) bound.push(`${bdf} (${kind}) on ${want.bind}`);
      else problems.push(`${bdf} (${kind}): bound to ${now ?? 'no driver'} after the probe, not ${want.bind}`);
    }
  }
  return { bound, problems };
}

/**
 * The shipped baseline of this kernel's shape (src/shape: the symbols in
 * /proc/kallsyms), so that a known defect of, say, the rfc-v1 series is an
 * expected failure and never a pass; null for a shape without one.
 */
export function shapeBaseline(
  kallsyms: string | null,
  osrelease: string | null,
): { shape: string; path: string } | null {
  const shape = detectShape({
    kallsyms,
    probe: { result: 'not run', why: 'the guest program does not open a VF to probe' },
    release: osrelease,
  });
  const path = shippedBaselinePath(shape.name);
  return existsSync(path) ? { shape: shape.name, path } : null;
}

function readOrNull(b: Backend, path: string): string | null {
  try {
    return b.fs.readText(path);
  } catch {
    return null;
  }
}

/** The kernel's shape a run's report names (null: none, or no readable report). */
function runShape(file: string): string | null {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { kernel?: { shape?: { name?: unknown } } }).kernel?.shape
      ?.name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

/**
 * The mock GPU's LMEM plan (MOCK_GPU_PLAN), before its VFs exist: block
 * placement through the device's lmem_blocks file, quotas with `iovh provision`.
 */
async function provisionMockGpu(pf: string, native: string[]): Promise<Pick<GuestStep, 'status' | 'detail'>> {
  const done: string[] = [];
  for (const [id, blocks] of Object.entries(MOCK_GPU_PLAN.blocks)) {
    const file = join(SYS, pf, 'sriov_admin', `vf${id}`, 'lmem_blocks');
    try {
      writeFileSync(file, `${blocks.join(' ')}\n`);
    } catch (e) {
      return { status: 'fail', detail: `writing ${file}: ${(e as Error).message}` };
    }
    done.push(`VF ${id} blocks ${blocks.join(' ')}`);
  }
  for (const [id, size] of Object.entries(MOCK_GPU_PLAN.quotas)) {
    const code = await cli(['provision', pf, '--vf', id, '--vram', size, ...native]);
    if (code !== 0) return { status: 'fail', detail: `iovh provision ${pf} --vf ${id} --vram ${size} exited ${code}` };
    done.push(`VF ${id} ${size}`);
  }
  return { status: 'pass', detail: done.join('; ') };
}

/**
 * The kernel the guest program acts on: the guest's own (native), or the
 * mock for the tests of this program (test/qemu/guest-program.test.ts).
 */
export interface GuestKernel {
  /** A backend on that kernel, opened for each use: the CLI's commands change it in between. */
  open: () => Promise<Backend>;
  /** What selects it on the CLI. */
  backendArgs: string[];
}

const NATIVE: GuestKernel = {
  open: () => openBackend({ backend: 'native', purpose: 'host' }),
  backendArgs: ['--backend', 'native'],
};

export async function runGuest(a: GuestArgs, kernel: GuestKernel = NATIVE): Promise<number> {
  const outDir = dirname(a.out);
  const steps: GuestStep[] = [];
  const step = async (
    id: string,
    title: string,
    fn: () => Promise<Pick<GuestStep, 'status' | 'detail'>>,
  ): Promise<GuestStep> => {
    const t0 = performance.now();
    let r: Pick<GuestStep, 'status' | 'detail'>;
    try {
      r = await fn();
    } catch (e) {
      r = { status: 'fail', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
    const s: GuestStep = { id, title, path: null, errno: null, ...r, ms: Math.round(performance.now() - t0) };
    steps.push(s);
    report(s);
    return s;
  };
  const native = kernel.backendArgs;
  const use = <T>(fn: (b: Backend) => T) => withOpened(kernel.open, fn);
  // bugs/* run last (src/qemu/last.ts): cut the user's filters in two.
  const filters = splitFilters(a.filters);

  const mockGpu = a.variant === MOCK_GPU_VARIANT_NAME;
  const pf = mockGpu
    ? mockGpuPf()
    : await use(
        (b) =>
          b.fs
            .readdir(SYS)
            .sort()
            .find((d) => b.fs.exists(`${SYS}/${d}/sriov_totalvfs`)) ?? null,
      );
  const numvfs = mockGpu ? MOCK_GPU_PLAN.numvfs : a.numvfs;
  let shape: string | null = null;
  // The VFs bound to vfio-pci: the first only, or every VF of the mock GPU (the edge/* corners are on different VFs).
  const bindIndexes = mockGpu ? Array.from({ length: numvfs }, (_, i) => i) : [0];
  const runIndex = mockGpu ? MOCK_GPU_PLAN.vf - 1 : 0;
  let vf: string | null = null;
  if (!pf) {
    await step('qemu.find-pf', 'an SR-IOV PF to bring up', async () => ({
      status: 'fail',
      detail: mockGpu
        ? 'no PCI device is bound to iovh_mock_gpu (was kernel/iovh-mock-gpu loaded?)'
        : 'no device with sriov_totalvfs under /sys/bus/pci/devices',
    }));
  } else {
    const provisioned = mockGpu
      ? await step('qemu.provision', `lay out ${pf}'s LMEM for the edge/* corners`, () => provisionMockGpu(pf, native))
      : null;
    // The PF on vfio-pci (the igb-switch-vfio machine): journaled like the rest, so `iovh restore` puts igb back.
    const pfDriver = mockGpu ? null : pfDriverOf(a.variant);
    const pfBound = pfDriver
      ? await step('qemu.pf-bind', `iovh bind ${pf} ${pfDriver}`, async () => {
          const code = await cli(['bind', pf, pfDriver, ...native]);
          return code === 0
            ? { status: 'pass', detail: `PF ${pf} on ${pfDriver}` }
            : { status: 'fail', detail: `exited ${code}` };
        })
      : null;
    const enabled = await step('qemu.vfs-enable', `iovh vfs enable ${pf} ${numvfs}`, async () => {
      if (provisioned && provisioned.status !== 'pass') return { status: 'skip', detail: 'needs qemu.provision' };
      if (pfBound && pfBound.status !== 'pass') return { status: 'skip', detail: 'needs qemu.pf-bind' };
      if (pfDriver === 'vfio-pci') {
        const param = (await use((b) => readOrNull(b, VFIO_ENABLE_SRIOV)))?.trim() ?? null;
        if (param !== 'Y' && param !== '1')
          return {
            status: 'fail',
            detail: `the PF is on vfio-pci, which creates VFs only with vfio_pci.enable_sriov=1 on the kernel command line (${VFIO_ENABLE_SRIOV} reads ${param ?? 'nothing'})`,
          };
      }
      const code = await cli(['vfs', 'enable', pf, String(numvfs), ...native]);
      return code === 0 ? { status: 'pass', detail: `${numvfs} VFs` } : { status: 'fail', detail: `exited ${code}` };
    });
    const bound = await step('qemu.bind', `iovh bind ${mockGpu ? 'every VF' : 'VF 0'} vfio-pci`, async () => {
      if (enabled.status !== 'pass') return { status: 'skip', detail: 'needs qemu.vfs-enable to pass' };
      const done: string[] = [];
      for (const i of bindIndexes) {
        const each = await use((b) => readPf(new SysReader(b.fs), pf)?.vfs.find((v) => v.id === i + 1)?.bdf ?? null);
        if (!each) return { status: 'fail', detail: `${pf} shows no VF ${i + 1} (virtfn${i})` };
        const code = await cli(['bind', each, 'vfio-pci', ...native]);
        if (code !== 0) return { status: 'fail', detail: `iovh bind ${each} vfio-pci exited ${code}` };
        done.push(each);
        if (i === runIndex) vf = each;
      }
      return { status: 'pass', detail: `${done.join(', ')} bound to vfio-pci` };
    });
    const extras = extrasOf(a.variant);
    if (extras.length)
      await step('qemu.bind-extras', `bind ${extras.join(', ')}`, async () => {
        const r = bindExtras(extras);
        return r.problems.length
          ? { status: 'fail', detail: [...r.problems, ...r.bound].join('; ') }
          : { status: 'pass', detail: r.bound.join('; ') };
      });
    if (bound.status === 'pass')
      // The machine as iovh sees it, its VFs' IOMMU groups included, for the mock to replay
      // (test/qemu/fixtures/mock-gpu-topology.json, topology-igb-switch.json).
      await step('qemu.capture', 'iovh capture', async () => {
        const code = await cli(['capture', '--out', join(outDir, 'topology.json'), ...native]);
        return code === 0
          ? { status: 'pass', detail: 'topology.json in the results folder' }
          : { status: 'fail', detail: `exited ${code}` };
      });
    // Judged by the shipped baseline of the kernel's shape; --allow-skips: this machine has no xe, so the
    // scenarios that need one skip where the baseline (written for the whole catalog) expects them to pass.
    const baseline = await use((b) =>
      shapeBaseline(readOrNull(b, '/proc/kallsyms'), readOrNull(b, '/proc/sys/kernel/osrelease')?.trim() ?? null),
    );
    const judging = [
      ...(baseline ? ['--baseline', baseline.path, '--allow-skips'] : ['--no-baseline']),
      ...(a.timeout ? ['--timeout', a.timeout] : []),
    ];
    if (bound.status === 'pass' && vf) {
      const file = join(outDir, 'iovh-run.json');
      // --allow-destructive: the guest is a throwaway machine, so the scenarios that could wedge a shared one
      // (lifecycle/close-while-revoked on a kernel without the kref fix) run here, as in the CI's guest.
      const args = ['run', ...native, ...judging, '--allow-destructive', '--pf', pf, '--vf', vf, '--json', file];
      for (const f of filters.first) args.push('--filter', f);
      const code = await cli(args);
      let harness: HarnessScenario[] = [];
      let exitReason = '';
      try {
        const run = JSON.parse(readFileSync(file, 'utf8'));
        harness = run.scenarios;
        exitReason = run.summary?.exitReason ?? '';
      } catch (e) {
        await step('qemu.run', 'iovh run', async () => ({
          status: 'fail',
          detail: `iovh run exited ${code} and left no readable report (${(e as Error).message})`,
        }));
      }
      for (const s of harness) {
        const r = fromHarness(s);
        steps.push(r);
        report(r);
      }
      shape = runShape(file) ?? shape;
      toChannel(`IOVH-RUN exit=${code} ${exitReason}`);
    }
    await step('qemu.restore', 'iovh restore', async () => {
      const code = await cli(['restore', ...native]);
      return code === 0 ? { status: 'pass', detail: 'put back' } : { status: 'fail', detail: `exited ${code}` };
    });
    if (filters.last.length > 0 && bound.status === 'pass')
      await step(
        'qemu.last',
        `the last scenarios (${filters.last.join(' ')}), in a bring-up of their own`,
        async () => {
          // The mock GPU's VFs are laid out for edge/* (MOCK_GPU_PLAN) and restore took that layout away.
          if (mockGpu)
            return {
              status: 'skip',
              detail: "not on the mock GPU's machine: run bugs/* on the igb machine (iovh qemu without --device)",
            };
          const file = join(outDir, LAST_REPORT);
          const { report: last, failed } = await runLast({
            cli,
            open: kernel.open,
            backendArgs: native,
            pf,
            numvfs,
            filters: filters.last,
            runArgs: judging,
            file,
          });
          if (!last) return { status: 'fail', detail: failed ?? 'no report' };
          const seen = new Set(steps.map((r) => r.id));
          for (const s of last.scenarios as HarnessScenario[]) {
            const r = fromHarness(s);
            if (seen.has(r.id)) continue;
            steps.push(r);
            report(r);
          }
          shape = runShape(file) ?? shape;
          toChannel(`IOVH-RUN-LAST exit=${last.summary.exitCode} ${last.summary.exitReason}`);
          return { status: 'pass', detail: `${last.scenarios.length} results in ${LAST_REPORT}` };
        },
      );
  }
  // The kernel's shape as iovh run detected it: the host judges the harness's results against its shipped baseline
  // (scripts/qemu-ci/boot.mjs baselineJudge), so that a known bug is an expected failure there too.
  const doc = {
    nonce: a.nonce,
    variant: a.variant,
    kernel: release(),
    backend: kernel.backendArgs[1] ?? 'native',
    pf,
    vf,
    shape,
    scenarios: steps,
  };
  const tmp = `${a.out}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, a.out);
  return steps.some((s) => s.status === 'fail' || s.status === 'crash' || s.status === 'warn') ? 1 : 0;
}

const isEntry = process.argv[1] !== undefined && /(?:^|[/\\])qemu[/\\]guest\.js$/.test(process.argv[1]);
if (isEntry) {
  let args: GuestArgs;
  try {
    args = parseGuestArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`iovh guest: ${(e as Error).message}\n`);
    process.exit(2);
  }
  runGuest(args).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`iovh guest: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
