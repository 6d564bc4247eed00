// @ts-check
// The CI's mock GPU step (npm run test:qemu, after the `iovh qemu` checks):
// `iovh qemu --device mock-gpu` on the RFC v1 kernel (Debian's source +
// kernel/patches/rfc-v1, the default fragment; cached like every kernel) runs
// the six edge/* scenarios in the guest with the stand-in importer, real
// bytes through the device, and captures the topology; the mock then replays
// that capture under the rfc-v1 profile and must agree with the guest,
// scenario by scenario, on status, path and the quirks named
// (docs/mock-gpu.md). QEMU with iovh's device patches is built once and
// cached (scripts/qemu-ci/qemu-build.mjs).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedShare, runRows } from './coverage.mjs';
import { iovhCli } from './kernel-ci.mjs';
import { repoRoot } from './paths.mjs';
import { replayRun } from './replay-run.mjs';

export const EDGE = [
  'edge/last-page',
  'edge/unprovisioned-vf',
  'edge/vf-next-bus',
  'edge/npot-ranges',
  'edge/lmem-discontiguous',
  'edge/beyond-quota',
];

/** The run's VF: VF 1 of the guest's plan (src/qemu/guest.ts MOCK_GPU_PLAN). */
export const MOCK_GPU_VF = '0000:01:1f.5';

/**
 * What the guest's capture misses for the mock: P2P between the PF and its
 * VFs. They sit behind a root port of QEMU's q35, whose host bridge is on no
 * P2P whitelist (drivers/pci/p2pdma.c), and VF 4 is behind ACS redirect: the
 * guest's scatter-gather fallbacks fail EINVAL, as the mock's `none`.
 * @param {Record<string, unknown>} captured
 */
export function replayTopology(captured) {
  const { kernel: _kernel, ...rest } = captured;
  return { ...rest, p2p: 'none' };
}

/**
 * Per scenario: status, path and the quirk ids; a line for each difference.
 * @param {{ id: string, status: string, path?: string | null, quirks?: { id: string }[] }[]} real
 * @param {{ id: string, status: string, path?: string | null, quirks?: { id: string }[] }[]} model
 */
export function edgeDisagreements(real, model) {
  /** @param {{ status: string, path?: string | null, quirks?: { id: string }[] } | undefined} s */
  const key = (s) =>
    s
      ? JSON.stringify({ status: s.status, path: s.path ?? null, quirks: (s.quirks ?? []).map((q) => q.id).sort() })
      : 'absent';
  const out = [];
  for (const id of EDGE) {
    const r = real.find((s) => s.id === id);
    const m = model.find((s) => s.id === id);
    if (!r) out.push(`${id}: the guest did not run it`);
    else if (key(r) !== key(m)) out.push(`${id}: kernel ${key(r)}, mock ${key(m)}`);
  }
  return out;
}

/**
 * The checks, and the pinned share of this kernel: the branches of the mock
 * its edge/* replay (under coverage, replay-run.mjs) ran in the scenarios the
 * guest answered (not skipped) and the mock agreed with (coverage.mjs runRows).
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<{ checks: { name: string, status: 'pass' | 'fail' | 'skip', detail: string }[], pinned: import('./coverage.mjs').Share | null }>}
 */
export async function mockGpuChecks(o) {
  /** @type {{ pinned: import('./coverage.mjs').Share | null }} */
  const share = { pinned: null };
  const checks = await mockGpuRun(o, share);
  return { checks, pinned: share.pinned };
}

/**
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @param {{ pinned: import('./coverage.mjs').Share | null }} share
 * @returns {Promise<{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }[]>}
 */
async function mockGpuRun(o, share) {
  const work = mkdtempSync(join(tmpdir(), 'iovh-mock-gpu-ci-'));
  const env = { ...process.env, IOVH_QEMU_CACHE: o.qemuCache, NO_COLOR: '1' };
  /** @type {{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }[]} */
  const checks = [];
  try {
    o.log('qemu-ci: iovh qemu --device mock-gpu with a property QEMU refuses');
    const bad = await iovhCli(['qemu', '--device', 'mock-gpu,lmem-size=48M', '--build-only'], env);
    const said = bad.stderr.trim().split('\n').pop() ?? '';
    checks.push({
      name: "iovh qemu --device: a property QEMU refuses is shown with QEMU's reason, exit 2, nothing built",
      status:
        bad.code === 2 &&
        /^iovh: QEMU refuses the device \(.*\): iovh-mock-gpu: lmem-size=0x3000000 must be a power of two/.test(said)
          ? 'pass'
          : 'fail',
      detail: `exit ${bad.code}: ${said}`,
    });
    o.log('qemu-ci: iovh qemu --device mock-gpu on the RFC v1 kernel');
    const json = join(work, 'guest.json');
    const r = await iovhCli(
      [
        'qemu',
        '--device',
        'mock-gpu',
        '--patches',
        join(repoRoot, 'kernel', 'patches', 'rfc-v1'),
        '--filter',
        'edge/*',
        '--guest-timeout',
        '1500',
        '--json',
        json,
      ],
      env,
    );
    const head = /qemu mock-gpu-intel-iommu: kernel (\S+), (\w+) \(verdict at ([\d.]+) s/.exec(r.stdout);
    const logPath = /qemu mock-gpu-intel-iommu: serial log (\S+)/.exec(r.stdout)?.[1] ?? null;
    /** @type {any} */
    let run = null;
    try {
      run = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      // reported below
    }
    const ran = run?.complete === true && Array.isArray(run.scenarios);
    checks.push({
      name: 'iovh qemu --device mock-gpu: the RFC v1 kernel runs edge/* on the mock GPU',
      status: ran && head ? 'pass' : 'fail',
      detail: `exit ${r.code} in ${r.seconds} s; guest ${head?.[2] ?? 'no verdict line'}${head ? ` at ${head[3]} s` : ''}; ${run?.summary?.exitReason ?? r.stderr.trim().split('\n').pop() ?? ''}`,
    });
    if (!ran || !logPath) return checks;
    // The results folder of that boot: <cache>/results/<run id>, the log being <cache>/logs/<run id>.log.
    const runId = logPath.replace(/^.*\//, '').replace(/\.log$/, '');
    const captured = join(o.qemuCache, 'results', runId, 'topology.json');
    if (!existsSync(captured)) {
      checks.push({
        name: 'the mock agrees with the guest on edge/*',
        status: 'fail',
        detail: `no capture at ${captured}`,
      });
      return checks;
    }
    const topology = join(work, 'topology.json');
    writeFileSync(topology, JSON.stringify(replayTopology(JSON.parse(readFileSync(captured, 'utf8')))));
    const mockJson = join(work, 'mock.json');
    const coverage = join(work, 'coverage.json');
    const m = replayRun({
      args: [
        'run',
        '--backend',
        'mock',
        '--topology',
        topology,
        '--profile',
        'rfc-v1',
        '--vf',
        MOCK_GPU_VF,
        '--no-baseline',
        '--filter',
        'edge/*',
        '--json',
        mockJson,
      ],
      env: { ...env, IOVH_STATE_DIR: join(work, 'state') },
      coverage,
    });
    const model = JSON.parse(readFileSync(mockJson, 'utf8'));
    const diffs = edgeDisagreements(run.scenarios, model.scenarios);
    try {
      share.pinned = pinnedShare(
        `${run.kernel?.release ?? 'unknown'} (rfc-v1, mock-gpu-intel-iommu)`,
        JSON.parse(readFileSync(coverage, 'utf8')),
        runRows(run.scenarios, model.scenarios, (id) => EDGE.includes(id)),
      );
    } catch (e) {
      o.log(`qemu-ci: no pinned share for the mock GPU: ${e instanceof Error ? e.message : String(e)}`);
    }
    checks.push({
      name: 'the mock agrees with the guest on edge/* (status, path, quirks)',
      status: diffs.length === 0 ? 'pass' : 'fail',
      detail:
        diffs.length === 0
          ? `${EDGE.length} scenarios agree (mock exit ${m.status}; capture ${captured})`
          : diffs.join('; '),
    });
    return checks;
  } catch (e) {
    checks.push({
      name: 'iovh qemu --device mock-gpu',
      status: 'fail',
      detail: e instanceof Error ? e.message : String(e),
    });
    return checks;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The fixture test/qemu/mock-gpu-conformance.test.ts replays, from a guest's
 * run report and its capture:
 *   node scripts/qemu-ci/mock-gpu-ci.mjs record <guest results folder> <iovh qemu --json report>
 * @param {{ scenarios: { id: string, status: string, path?: string | null, quirks?: { id: string }[], reason: string }[] }} run
 * @param {Record<string, unknown>} captured
 * @param {{ recorded: string, kernel: string, qemu: string }} about
 */
export function fixtureFrom(run, captured, about) {
  return {
    ...about,
    command: "iovh qemu --device mock-gpu --patches kernel/patches/rfc-v1 --filter 'edge/*'",
    profile: 'rfc-v1',
    vf: MOCK_GPU_VF,
    notes: [
      'topology: what `iovh capture` wrote in that guest, without its kernel line (boot nonce and iovh.* parameters)',
      "topology.p2p none: the PF and its VFs sit behind a root port of QEMU's q35, whose host bridge is on no P2P whitelist (drivers/pci/p2pdma.c), and VF 4 is behind ACS redirect: the guest's scatter-gather fallbacks failed EINVAL; capture cannot see that",
    ],
    topology: replayTopology(captured),
    scenarios: run.scenarios
      .filter((s) => s.id === 'caps/kernel' || s.id.startsWith('edge/'))
      .map((s) => ({
        id: s.id,
        status: s.status,
        path: s.path ?? null,
        quirks: (s.quirks ?? []).map((q) => q.id).sort(),
        reason: s.reason,
      })),
  };
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === 'record') {
  const [dir, report] = process.argv.slice(3);
  if (!dir || !report) {
    process.stderr.write('usage: mock-gpu-ci.mjs record <guest results folder> <iovh qemu --json report>\n');
    process.exit(2);
  }
  const run = JSON.parse(readFileSync(report, 'utf8'));
  const captured = JSON.parse(readFileSync(join(dir, 'topology.json'), 'utf8'));
  const fixture = fixtureFrom(run, captured, {
    recorded: run.startedAt ?? new Date().toISOString(),
    kernel: `${run.kernel?.release ?? '?'}: Debian linux-source-7.2 + kernel/patches/rfc-v1 + kconfig/iovh-guest.config (KASAN)`,
    qemu: 'QEMU 10.0.2 + qemu/patches, machine mock-gpu-intel-iommu',
  });
  const out = join(repoRoot, 'test', 'qemu', 'fixtures', 'mock-gpu-rfc-v1.json');
  writeFileSync(out, `${JSON.stringify(fixture, null, 2)}\n`);
  process.stdout.write(`mock-gpu: wrote ${out}\n`);
}
