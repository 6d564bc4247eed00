// The program `iovh qemu` runs inside its guest (scripts/qemu-ci/init.sh
// starts it with this host's node, in a chroot of the host's root shared over
// 9p, against the guest's kernel): it brings the PF's VFs up with iovh's own
// commands, runs `iovh run --backend native` on the PF and VF 0, and puts the
// PF back with `iovh restore`. The run's JSON report lands in the results
// folder the host shares; the host prints it as `iovh run` would.
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
import { main as cli } from '../cli/main.js';
import { fromHarness, type GuestStep, type HarnessScenario } from './steps.js';

const SYS = '/sys/bus/pci/devices';

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

export async function runGuest(a: GuestArgs): Promise<number> {
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
  const native = ['--backend', 'native'];

  const pf =
    readdirSync(SYS)
      .sort()
      .find((d) => existsSync(join(SYS, d, 'sriov_totalvfs'))) ?? null;
  let vf: string | null = null;
  if (!pf) {
    await step('qemu.find-pf', 'an SR-IOV PF to bring up', async () => ({
      status: 'fail',
      detail: 'no device with sriov_totalvfs under /sys/bus/pci/devices',
    }));
  } else {
    const enabled = await step('qemu.vfs-enable', `iovh vfs enable ${pf} ${a.numvfs}`, async () => {
      const code = await cli(['vfs', 'enable', pf, String(a.numvfs), ...native]);
      return code === 0 ? { status: 'pass', detail: `${a.numvfs} VFs` } : { status: 'fail', detail: `exited ${code}` };
    });
    const bound = await step('qemu.bind', 'iovh bind VF 0 vfio-pci', async () => {
      if (enabled.status !== 'pass') return { status: 'skip', detail: 'needs qemu.vfs-enable to pass' };
      vf =
        readlinkSync(join(SYS, pf, 'virtfn0'))
          .split('/')
          .pop() ?? null;
      if (!vf) return { status: 'fail', detail: `${pf}/virtfn0 links nowhere` };
      const code = await cli(['bind', vf, 'vfio-pci', ...native]);
      return code === 0
        ? { status: 'pass', detail: `${vf} bound to vfio-pci` }
        : { status: 'fail', detail: `exited ${code}` };
    });
    if (bound.status === 'pass' && vf) {
      const file = join(outDir, 'iovh-run.json');
      const args = ['run', ...native, '--no-baseline', '--pf', pf, '--vf', vf, '--json', file];
      for (const f of a.filters) args.push('--filter', f);
      if (a.timeout) args.push('--timeout', a.timeout);
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
      toChannel(`IOVH-RUN exit=${code} ${exitReason}`);
    }
    await step('qemu.restore', 'iovh restore', async () => {
      const code = await cli(['restore', ...native]);
      return code === 0 ? { status: 'pass', detail: 'put back' } : { status: 'fail', detail: `exited ${code}` };
    });
  }
  const doc = { nonce: a.nonce, variant: a.variant, kernel: release(), backend: 'native', pf, vf, scenarios: steps };
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
