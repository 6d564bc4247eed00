#!/usr/bin/env node
// @ts-check
// The program the QEMU guest's /init runs (scripts/qemu-ci/init.sh) with this
// host's node, inside a chroot of the host's root, against the guest's real
// kernel (--backend native); and the program the model conformance check runs
// on the host against the mock (--backend mock). It loads iovh from the
// checkout's dist/ (compiled by `npm run build:ts`), runs flow.mjs (bring-up
// with iovh's commands, the scenarios, `iovh run`, `iovh restore`), prints one
// line per result, and writes results.json. Exit 0 when nothing failed.
//
//   node main.mjs --out <file> --nonce <n> --variant <v> --repo <dir> [--numvfs 2]
//                 [--backend native | --backend mock --topology <file> --profile <name>
//                  [--kernel-config IOMMUFD=y,VFIO_DEVICE_CDEV=y,...] [--modules iovh_ic_importer]
//                  [--coverage <file>]]
//
// --kernel-config says how the real kernel was built (the options the mock
// models, src/mock/kconfig.ts): the mock gets the topology with them as its
// kernel.config (docs/topology.md), written next to its state file.
// --modules names the out-of-tree modules the real guest's /init loaded (the
// guest reports them in results.json `modules`): on the mock they are loaded
// too; the stand-in importer's rules skip on both sides when it is not.
// --coverage writes which branches of the mock (dist/mock) ran in each step
// (scripts/qemu-ci/coverage.mjs): the replay side of the pinned share.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadLib } from './lib.mjs';
import { runFlow } from './flow.mjs';

/** iovh's own out-of-tree modules a guest may load (kernel/, test/qemu/modules/): reported in results.json. */
const OUT_OF_TREE = ['iovh_ic_importer', 'iovh_detectors'];

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = { backend: 'native', numvfs: '2', profile: 'upstream-7.1' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined)
      throw new Error(`bad arguments near '${k}' (expected --name value pairs)`);
    out[k.slice(2)] = v;
  }
  for (const k of ['out', 'nonce', 'variant', 'repo']) if (!out[k]) throw new Error(`missing --${k}`);
  if (out.backend !== 'native' && out.backend !== 'mock')
    throw new Error(`--backend must be native or mock, not '${out.backend}'`);
  if (out.backend === 'mock' && !out.topology) throw new Error('--backend mock needs --topology');
  if (out.coverage !== undefined && out.backend !== 'mock') throw new Error('--coverage is for --backend mock');
  if (out['kernel-config'] !== undefined && !/^[A-Z0-9_]+=[yn](,[A-Z0-9_]+=[yn])*$/.test(out['kernel-config']))
    throw new Error(`--kernel-config takes OPTION=y|n,... (got '${out['kernel-config']}')`);
  if (out.modules !== undefined && !/^[a-z0-9_]+(,[a-z0-9_]+)*$/.test(out.modules))
    throw new Error(`--modules takes module names separated by commas (got '${out.modules}')`);
  if (!/^[1-9]\d*$/.test(out.numvfs)) throw new Error(`--numvfs must be a positive integer, not '${out.numvfs}'`);
  return out;
}

/**
 * A line on the verdict channel (the guest's second serial port, which init.sh
 * names in IOVH_QEMU_CHANNEL), where the host reads progress; one open and
 * close per line, so each line is sent before the next step begins.
 * @param {string} line
 */
function toChannel(line) {
  const channel = process.env.IOVH_QEMU_CHANNEL;
  if (!channel) return;
  try {
    appendFileSync(channel, `${line.replace(/[\r\n]+/g, ' ')}\n`);
  } catch {
    // the console has the line too
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const outDir = dirname(args.out);
  mkdirSync(outDir, { recursive: true });
  /** @type {import('./scenarios.mjs').Result[]} */
  let results = [];
  /** @type {string | null} */
  let pf = null;
  /** @type {string | null} */
  let vf = null;
  /** @type {string[]} */
  let modules = [];
  /** @type {string | null} */
  let shape = null;
  // The mock keeps its kernel in a state file between the CLI's invocations;
  // the journal of the bring-up goes to a private folder (never the host's
  // /var/lib/iovh). In the guest /init points IOVH_STATE_DIR at a tmpfs.
  const scratch = args.backend === 'mock' ? mkdtempSync(join(tmpdir(), 'iovh-conformance-')) : null;
  if (scratch) process.env.IOVH_STATE_DIR = join(scratch, 'state');
  /** @type {Awaited<ReturnType<typeof import('../../../scripts/qemu-ci/coverage.mjs').startReplayCoverage>> | null} */
  let coverage = null;
  /** @type {(() => void) | null} */
  let unsubscribe = null;
  if (args.coverage) {
    const { startReplayCoverage } = await import(
      pathToFileURL(join(args.repo, 'scripts', 'qemu-ci', 'coverage.mjs')).href
    );
    const cov = await startReplayCoverage(join(args.repo, 'dist', 'mock'));
    coverage = cov;
    // The harness's scenarios run inside the cli.run step: their own boundaries come from the runner.
    const dc = await import('node:diagnostics_channel');
    const onScenario = (/** @type {unknown} */ m) => {
      const msg = /** @type {{ phase: string, id: string }} */ (m);
      cov.mark(msg.phase === 'start' ? 'cli.run' : `run:${msg.id}`);
    };
    dc.subscribe('iovh:harness:scenario', onScenario);
    unsubscribe = () => dc.unsubscribe('iovh:harness:scenario', onScenario);
  }
  const print = (/** @type {import('./scenarios.mjs').Result} */ r) => {
    const line = `IOVH-SCENARIO ${r.status} ${r.id}${r.errno ? ` ${r.errno}` : ''} :: ${r.detail}`;
    console.log(line);
    toChannel(line);
    if (coverage && !r.id.startsWith('run:')) coverage.mark(r.id);
  };
  try {
    const t0 = performance.now();
    const { lib, native, addon, mock, cli, harness } = await loadLib(args.repo);
    console.log(
      `IOVH-GUEST iovh loaded in ${Math.round(performance.now() - t0)} ms (node up ${Math.round(process.uptime() * 1000)} ms)`,
    );
    /** @type {() => import('../../../src/backend/types.js').Backend} */
    let open;
    /** @type {string[]} */
    let backendArgs;
    if (args.backend === 'native') {
      const loaded = addon.loadAddon();
      if (!loaded.addon)
        throw new Error(`the native addon did not load: ${loaded.error} (build it on the host: npm run build:addon)`);
      open = () => native.createNativeBackend({ reason: 'QEMU CI guest' });
      backendArgs = ['--backend', 'native'];
    } else {
      const statePath = join(/** @type {string} */ (scratch), 'mock-state.json');
      const profile = /** @type {import('../../../src/mock/contracts.js').ProfileName} */ (args.profile);
      let topology = args.topology;
      if (args['kernel-config']) {
        const t = JSON.parse(readFileSync(topology, 'utf8'));
        const config = Object.fromEntries(args['kernel-config'].split(',').map((kv) => kv.split('=')));
        t.kernel = { ...t.kernel, config: { ...t.kernel?.config, ...config } };
        topology = join(/** @type {string} */ (scratch), 'topology.json');
        writeFileSync(topology, `${JSON.stringify(t, null, 2)}\n`);
      }
      open = () => mock.createMockBackend({ statePath, topology, profile, reason: 'QEMU CI model conformance' });
      // The first open writes the state file the CLI's invocations then share.
      open().close();
      backendArgs = ['--backend', 'mock', '--mock-state', statePath, '--topology', topology, '--profile', args.profile];
    }
    // Out-of-tree modules the machine has: what the real kernel lists in /proc/modules, what the mock is told.
    modules =
      args.backend === 'native'
        ? readFileSync('/proc/modules', 'utf8')
            .split('\n')
            .map((l) => l.split(' ')[0] ?? '')
            .filter((m) => OUT_OF_TREE.includes(m))
        : (args.modules ?? '').split(',').filter((m) => m !== '');
    // What ran before the first step (the modules' load, the mock's first start) is the unit `boot`.
    coverage?.mark('boot');
    const flow = await runFlow({
      lib,
      cli: cli.main,
      open,
      backendArgs,
      numvfs: Number(args.numvfs),
      standIn: modules.includes('iovh_ic_importer'),
      outDir,
      onResult: print,
      harness,
    });
    ({ results, pf, vf, shape } = flow);
  } catch (e) {
    const fatal = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const r = {
      id: 'guest.setup',
      title: 'load iovh and open the backend',
      status: /** @type {const} */ ('fail'),
      path: null,
      errno: null,
      detail: fatal,
      ms: 0,
    };
    print(r);
    results.push(r);
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    unsubscribe?.();
  }
  if (coverage) writeFileSync(args.coverage, `${JSON.stringify(coverage.finish())}\n`);
  const doc = {
    nonce: args.nonce,
    variant: args.variant,
    kernel: release(),
    backend: args.backend,
    pf,
    vf,
    modules,
    // The kernel's shape as iovh run detected it (src/shape): the host judges the harness's results
    // against that shape's shipped baseline (scripts/qemu-ci/verdict.mjs).
    shape,
    startedAt,
    finishedAt: new Date().toISOString(),
    scenarios: results,
  };
  // Write then rename, so the host never reads half a file.
  const tmp = `${args.out}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, args.out);
  const bad = results.filter((r) => r.status === 'fail' || r.status === 'crash' || r.status === 'warn');
  const count = (/** @type {string} */ s) => results.filter((r) => r.status === s).length;
  console.log(`IOVH-SUMMARY ${count('pass')} passed, ${bad.length} failed, ${count('skip')} skipped`);
  return bad.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`iovh guest: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
