// @ts-check
// `iovh run` on the mock under V8 block coverage, taken per harness scenario:
// the replay side of the pinned share (coverage.mjs) for the guests that run
// `iovh run` itself rather than the CI's guest program (the rfc-v1 guest on
// igb + ivshmem, `iovh qemu --device mock-gpu`). The CLI runs in this process
// (dist/cli/main.js), so the mock's code is what the coverage sees.
//
//   node replay-run.mjs --coverage <file> [--repo <checkout>] -- run --backend mock ...
//
// Units: `boot` (loading iovh), `cli.run` (what the CLI does before and
// between scenarios: the backend, the probe, the target), `run:<id>` (one
// harness scenario, start to done), `cli.end` (the report, after the last).
// Exit: the CLI's.
import { spawnSync } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startReplayCoverage } from './coverage.mjs';
import { repoRoot } from './paths.mjs';

const CHANNEL = 'iovh:harness:scenario';

/** @param {string[]} argv */
export function parseReplayArgs(argv) {
  const dash = argv.indexOf('--');
  if (dash < 0) throw new Error('usage: replay-run.mjs --coverage <file> [--repo <dir>] -- <iovh arguments>');
  /** @type {{ coverage: string | null, repo: string, cli: string[] }} */
  const o = { coverage: null, repo: repoRoot, cli: argv.slice(dash + 1) };
  const own = argv.slice(0, dash);
  for (let i = 0; i < own.length; i += 2) {
    const v = own[i + 1];
    if (v === undefined) throw new Error(`${own[i]} needs a value`);
    if (own[i] === '--coverage') o.coverage = v;
    else if (own[i] === '--repo') o.repo = v;
    else throw new Error(`unknown option '${own[i]}'`);
  }
  if (!o.coverage) throw new Error('--coverage <file> is required');
  if (o.cli[0] !== 'run' || !o.cli.includes('mock'))
    throw new Error('the iovh arguments must be `run --backend mock ...` (coverage is of the mock)');
  return o;
}

/**
 * `iovh run` on the mock in a child process: under coverage (written to
 * `coverage`) through this script, or plainly through bin/iovh.js.
 * @param {{ args: string[], env: NodeJS.ProcessEnv, coverage?: string | null, repo?: string }} o
 * @returns {{ status: number | null, stdout: string, stderr: string }}
 */
export function replayRun(o) {
  const repo = o.repo ?? repoRoot;
  const argv = o.coverage
    ? [fileURLToPath(import.meta.url), '--coverage', o.coverage, '--repo', repo, '--', ...o.args]
    : [join(repo, 'bin', 'iovh.js'), ...o.args];
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env: o.env, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A guest's run replayed on the mock: the topology written into `work`, `iovh run --backend mock --topology ...
 * --profile <profile> <args> --json` with its own state directory there, and the report read back (null when the run
 * wrote none: the caller says so with the exit status and stderr). The one way the CI replays `iovh run` on the mock
 * (rfc.mjs rfcOnMock, mock-gpu-ci.mjs edgeOnMock).
 * @param {{ work: string, topology: unknown, profile: string, args: string[], coverage?: string | null }} o
 * @returns {{ status: number | null, stdout: string, stderr: string, report: any }}
 */
export function replayOnMock(o) {
  const topology = join(o.work, 'topology.json');
  const out = join(o.work, 'mock.json');
  writeFileSync(topology, `${JSON.stringify(o.topology, null, 2)}\n`);
  const r = replayRun({
    args: ['run', '--backend', 'mock', '--topology', topology, '--profile', o.profile, ...o.args, '--json', out],
    env: { ...process.env, IOVH_STATE_DIR: join(o.work, 'state'), NO_COLOR: '1' },
    coverage: o.coverage ?? null,
  });
  return { ...r, report: existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : null };
}

async function main() {
  const o = parseReplayArgs(process.argv.slice(2));
  const cov = await startReplayCoverage(join(o.repo, 'dist', 'mock'));
  const cli = /** @type {{ main(argv: string[]): Promise<number> }} */ (
    await import(pathToFileURL(join(o.repo, 'dist', 'cli', 'main.js')).href)
  );
  const onScenario = (/** @type {unknown} */ m) => {
    const msg = /** @type {{ phase: string, id: string }} */ (m);
    cov.mark(msg.phase === 'start' ? 'cli.run' : `run:${msg.id}`);
  };
  cov.mark('boot');
  subscribe(CHANNEL, onScenario);
  let code;
  try {
    code = await cli.main(o.cli);
  } finally {
    unsubscribe(CHANNEL, onScenario);
    cov.mark('cli.end');
    writeFileSync(/** @type {string} */ (o.coverage), `${JSON.stringify(cov.finish())}\n`);
  }
  return code;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`replay-run: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
