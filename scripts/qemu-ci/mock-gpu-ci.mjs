// @ts-check
// The CI's mock GPU checks (npm run test:qemu). The guest of the RFC v1
// kernel (rfc.mjs: Debian's source + kernel/patches/rfc-v1, the default
// fragment, cached like every kernel) boots on the mock GPU machine and runs
// the six edge/* scenarios beside rfc/*, with the stand-in importer, real
// bytes through the device, and captures the topology; edgeChecks judges
// that boot: the mock replays the capture under the rfc-v1 profile and must
// agree with the guest, scenario by scenario, on status, path and the quirks
// named (docs/mock-gpu.md). mockGpuChecks is the CLI's refusal of a bad
// device property. QEMU with iovh's device patches is built once and cached
// (scripts/qemu-ci/qemu-build.mjs).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedShare, runRows } from './coverage.mjs';
import { iovhCli } from './kernel-ci.mjs';
import { repoRoot } from './paths.mjs';
import { replayOnMock } from './replay-run.mjs';

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
 * edge/* of the mock GPU guest replayed on the mock loaded with the guest's capture (replayTopology), on the VF the
 * guest tested: the check of the CI guest (mockGpuChecks) and the pinned share (pinned.mjs) run this one replay.
 * @param {{ work: string, topology: unknown, profile: string, coverage?: string | null }} o
 */
export function edgeOnMock(o) {
  return replayOnMock({ ...o, args: ['--vf', MOCK_GPU_VF, '--no-baseline', '--filter', 'edge/*'] });
}

/**
 * What a guest's capture of an older iovh misses for the mock (a newer one
 * captures its bridges): the host bridge, q35's
 * 8086:29c0, which is on no P2P whitelist (drivers/pci/p2pdma.c). The PF and
 * its VFs sit below a QEMU root port, whose ACS (SV TB RR CR UF DT, QEMU's
 * pcie_acs_init) the mock's default for an unlisted root port matches: ACS
 * redirect between them, so the P2P route goes through that host bridge and
 * the guest's scatter-gather fallbacks fail EINVAL (src/mock/pcie.ts).
 * @param {Record<string, unknown>} captured
 */
export function replayTopology(captured) {
  const { kernel: _kernel, ...rest } = captured;
  return { ...rest, bridges: rest.bridges ?? [{ bdf: '0000:00:00.0', vendor: '0x8086', device: '0x29c0' }] };
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
 * What the CLI does with a bad device property, as a user meets it: `iovh
 * qemu --device mock-gpu,lmem-size=48M` is refused with QEMU's reason, exit
 * 2, before any kernel is built (QEMU's build is cached by then: the guest
 * of the series booted on this device).
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }[]>}
 */
export async function mockGpuChecks(o) {
  const env = { ...process.env, IOVH_QEMU_CACHE: o.qemuCache, NO_COLOR: '1' };
  const name = "iovh qemu --device: a property QEMU refuses is shown with QEMU's reason, exit 2, nothing built";
  try {
    o.log('qemu-ci: iovh qemu --device mock-gpu with a property QEMU refuses');
    const bad = await iovhCli(['qemu', '--device', 'mock-gpu,lmem-size=48M', '--build-only'], env);
    const said = bad.stderr.trim().split('\n').pop() ?? '';
    return [
      {
        name,
        status:
          bad.code === 2 &&
          /^iovh: QEMU refuses the device \(.*\): iovh-mock-gpu: lmem-size=0x3000000 must be a power of two/.test(said)
            ? 'pass'
            : 'fail',
        detail: `exit ${bad.code}: ${said}`,
      },
    ];
  } catch (e) {
    return [{ name, status: 'fail', detail: e instanceof Error ? e.message : String(e) }];
  }
}

/**
 * The edge/* side of the series' guest on the mock GPU (rfc.mjs boots it,
 * running rfc/* and edge/*): every edge/* scenario ran in the guest (none
 * skipped: the guest program lays the LMEM out so that each corner has its
 * VF), and the mock, replaying the topology the guest captured under the
 * `profile` (rfc-v1), agrees scenario by scenario on status, path and
 * quirks. With `coverage` (a file for the replay's V8 coverage,
 * replay-run.mjs), also the pinned share of this kernel: the branches of the
 * mock its edge/* replay ran in the scenarios the guest answered (not
 * skipped) and the mock agreed with (coverage.mjs runRows).
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log: (s: string) => void, profile?: string, coverage?: string | null }} o
 * @returns {Promise<{ checks: { name: string, status: 'pass' | 'fail' | 'skip', detail: string }[], pinned: import('./coverage.mjs').Share | null }>}
 */
export async function edgeChecks(b, o) {
  const profile = o.profile ?? 'rfc-v1';
  const name = (/** @type {string} */ s) => `${b.variant}: ${s}`;
  /** @type {{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }[]} */
  const checks = [];
  /** @type {import('./coverage.mjs').Share | null} */
  let pinned = null;
  /** @type {any} */
  let run = null;
  try {
    run = JSON.parse(readFileSync(join(b.resultsDir, 'iovh-run.json'), 'utf8'));
  } catch (e) {
    checks.push({
      name: name('edge/* on the mock GPU'),
      status: 'fail',
      detail: `no run report (${b.status}: ${b.reason}): ${/** @type {Error} */ (e).message}`,
    });
    return { checks, pinned };
  }
  /** @type {{ id: string, status: string }[]} */
  const scenarios = Array.isArray(run?.scenarios) ? run.scenarios : [];
  const missing = EDGE.filter((id) => !scenarios.some((s) => s.id === id && s.status !== 'skip'));
  checks.push({
    name: name('edge/* ran on the mock GPU with real bytes'),
    status: run?.complete === true && missing.length === 0 ? 'pass' : 'fail',
    detail:
      missing.length === 0
        ? `${EDGE.map((id) => `${id.slice(5)} ${scenarios.find((s) => s.id === id)?.status}`).join(', ')} (run ${run?.complete === true ? 'complete' : 'incomplete'})`
        : `not run or skipped: ${missing.map((id) => `${id} (${scenarios.find((s) => s.id === id)?.status ?? 'absent'})`).join(', ')}`,
  });
  const agrees = name(`the mock (${profile}) agrees on edge/* (status, path, quirks)`);
  const captured = join(b.resultsDir, 'topology.json');
  if (!existsSync(captured)) {
    checks.push({ name: agrees, status: 'fail', detail: `no capture at ${captured}` });
    return { checks, pinned };
  }
  const work = mkdtempSync(join(tmpdir(), 'iovh-mock-gpu-ci-'));
  try {
    o.log(`qemu-ci: the mock (${profile}) replays the mock GPU guest's capture`);
    const m = edgeOnMock({
      work,
      topology: replayTopology(JSON.parse(readFileSync(captured, 'utf8'))),
      profile,
      coverage: o.coverage ?? null,
    });
    const model = m.report;
    const diffs = model
      ? edgeDisagreements(scenarios, model.scenarios)
      : [`the mock wrote no report (exit ${m.status}): ${m.stderr.trim().split('\n').pop() ?? ''}`];
    if (model && o.coverage) {
      try {
        pinned = pinnedShare(
          `${run.kernel?.release ?? 'unknown'} (${profile}, mock-gpu-intel-iommu, edge/*)`,
          JSON.parse(readFileSync(o.coverage, 'utf8')),
          runRows(run.scenarios, model.scenarios, (id) => EDGE.includes(id)),
        );
      } catch (e) {
        o.log(`qemu-ci: no pinned share for the mock GPU: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    checks.push({
      name: agrees,
      status: diffs.length === 0 ? 'pass' : 'fail',
      detail: diffs.length === 0 ? `${EDGE.length} scenarios agree (capture ${captured})` : diffs.join('; '),
    });
  } catch (e) {
    checks.push({ name: agrees, status: 'fail', detail: e instanceof Error ? e.message : String(e) });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { checks, pinned };
}

/**
 * The fixtures test/qemu/mock-gpu-conformance.test.ts replays, from a guest's
 * run report and its capture (the PF driver's translation: rfc-v1, the
 * default, replayed under the rfc-v1 profile; or fixed, `--device
 * mock-gpu,translation=fixed`, under the fixed profile):
 *   node scripts/qemu-ci/mock-gpu-ci.mjs record <guest results folder> <iovh qemu --json report> [rfc-v1|fixed]
 * @param {{ scenarios: { id: string, status: string, path?: string | null, quirks?: { id: string }[], reason: string }[] }} run
 * @param {Record<string, unknown>} captured
 * @param {{ recorded: string, kernel: string, qemu: string }} about
 * @param {'rfc-v1' | 'fixed'} [translation]
 */
export function fixtureFrom(run, captured, about, translation = 'rfc-v1') {
  return {
    ...about,
    command: `iovh qemu --device mock-gpu${translation === 'fixed' ? ',translation=fixed' : ''} --patches kernel/patches/rfc-v1 --filter 'edge/*'`,
    profile: translation,
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
  const [dir, report, translation = 'rfc-v1'] = process.argv.slice(3);
  if (!dir || !report || (translation !== 'rfc-v1' && translation !== 'fixed')) {
    process.stderr.write(
      'usage: mock-gpu-ci.mjs record <guest results folder> <iovh qemu --json report> [rfc-v1|fixed]\n',
    );
    process.exit(2);
  }
  const run = JSON.parse(readFileSync(report, 'utf8'));
  const captured = JSON.parse(readFileSync(join(dir, 'topology.json'), 'utf8'));
  const fixture = fixtureFrom(
    run,
    captured,
    {
      recorded: run.startedAt ?? new Date().toISOString(),
      kernel: `${run.kernel?.release ?? '?'}: Debian linux-source-7.2 + kernel/patches/rfc-v1 + kconfig/iovh-guest.config (KASAN)${translation === 'fixed' ? ', the PF driver loaded with translation=fixed' : ''}`,
      qemu: 'QEMU 10.0.2 + qemu/patches, machine mock-gpu-intel-iommu',
    },
    translation,
  );
  const out = join(repoRoot, 'test', 'qemu', 'fixtures', `mock-gpu-${translation}.json`);
  writeFileSync(out, `${JSON.stringify(fixture, null, 2)}\n`);
  process.stdout.write(`mock-gpu: wrote ${out}\n`);
}
