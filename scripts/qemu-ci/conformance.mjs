// @ts-check
// Model conformance (issue 6 part 2): the scenarios the guest ran against a
// real kernel run again against the mock with the `upstream` profile and an
// igb-like topology (topology-igb.json), and the two result sets are compared
// scenario by scenario. Status, path and errno must agree; a disagreement
// names the scenario and the kernel rule (scenarios.mjs RULES) the model has
// to follow. A scenario the guest could not run (skip) is compared too: the
// mock must not claim more than the real kernel showed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromDist, repoRoot } from './paths.mjs';

export const GUEST_DIR = join(repoRoot, 'test', 'qemu', 'guest');
export const IGB_TOPOLOGY = new URL('./topology-igb.json', import.meta.url);
/**
 * The igb guest's results, recorded from a passing run (`main.mjs record`):
 * test/qemu/conformance-mock.test.ts compares the mock with them on every
 * `npm test`, without QEMU.
 */
export const KERNEL_FIXTURE = join(repoRoot, 'test', 'qemu', 'fixtures', 'kernel-igb.json');
/**
 * The same for the igb guest of the source-built sanitizer kernel (kasan-igb-intel-iommu): it has
 * IOMMUFD, VFIO_DEVICE_CDEV and kmemleak, so its fixture pins what the stock kernel cannot answer.
 */
export const KASAN_FIXTURE = join(repoRoot, 'test', 'qemu', 'fixtures', 'kernel-kasan-igb.json');
/**
 * Results that check the kernel's own detectors (test/qemu/guest/detectors.mjs:
 * KASAN, lockdep, kmemleak, hung task, WARN, provoked by a test module), not a
 * rule the mock models: left out of the comparison.
 */
export const NOT_MODELLED = /^detector\./;

/** Variants whose device the igb-like topology models. */
export const CONFORMANCE_DEVICE = 'igb';

/**
 * @typedef {{ id: string, status: string, path?: string | null, errno?: string | null, detail?: string, observed?: string | null }} ScenarioResult
 * @typedef {{ id: string, agree: boolean, real: ScenarioResult | null, model: ScenarioResult | null, diffs: string[], rule: string }} Comparison
 */

/** @param {ScenarioResult | null} r */
function show(r) {
  if (!r) return 'not run';
  return `${r.status}${r.path ? ` path=${r.path}` : ''}${r.errno ? ` ${r.errno}` : ''}`;
}

/**
 * Compare per scenario. `rules` maps a scenario id to the kernel rule it
 * exercises.
 * @param {ScenarioResult[]} real
 * @param {ScenarioResult[]} model
 * @param {Record<string, string>} rules
 * @returns {Comparison[]}
 */
export function compareResults(real, model, rules) {
  const byId = (/** @type {ScenarioResult[]} */ list) =>
    new Map(list.filter((r) => !NOT_MODELLED.test(r.id)).map((r) => [r.id, r]));
  const a = byId(real);
  const b = byId(model);
  const ids = [...new Set([...a.keys(), ...b.keys()])];
  return ids.map((id) => {
    const r = a.get(id) ?? null;
    const m = b.get(id) ?? null;
    const diffs = [];
    if (!r || !m) diffs.push(`${r ? 'the mock did not run it' : 'the real kernel did not run it'}`);
    else {
      if (r.status !== m.status) diffs.push(`status: kernel ${r.status}, mock ${m.status}`);
      if ((r.path ?? null) !== (m.path ?? null))
        diffs.push(`path: kernel ${r.path ?? 'none'}, mock ${m.path ?? 'none'}`);
      if ((r.errno ?? null) !== (m.errno ?? null))
        diffs.push(`errno: kernel ${r.errno ?? 'none'}, mock ${m.errno ?? 'none'}`);
      // A value the kernel chose (an IOVA, an object id, IOVA ranges): the mock must choose the same.
      if ((r.observed ?? null) !== (m.observed ?? null))
        diffs.push(`observed: kernel ${r.observed ?? 'none'}, mock ${m.observed ?? 'none'}`);
    }
    return { id, agree: diffs.length === 0, real: r, model: m, diffs, rule: ruleFor(rules, id) };
  });
}

/**
 * The rule to name for a scenario id: ours from `rules`; for a harness
 * scenario (`run:<id>`), the behaviour its description states.
 * @param {Record<string, string>} rules @param {string} id
 */
export function ruleFor(rules, id) {
  if (rules[id]) return rules[id];
  if (id.startsWith('run:'))
    return `the kernel behaviour harness scenario ${id.slice(4)} checks (\`iovh run --list --verbose\`)`;
  return 'no rule recorded for this scenario';
}

/**
 * One line per disagreement, naming the scenario and the rule to fix.
 * @param {Comparison} c
 */
export function describeDisagreement(c) {
  const detail = c.model?.detail ? ` (mock said: ${c.model.detail})` : '';
  return `${c.id}: kernel ${show(c.real)} vs mock ${show(c.model)} -- ${c.diffs.join('; ')}${detail}. Model rule to fix: ${c.rule}`;
}

/**
 * @typedef {{ index: number, size: string, kind: string }} TopoBar
 * @typedef {{ bdf: string, vendor: string, device: string, class: string, bars: TopoBar[],
 *   sriov?: { totalvfs: number, offset: number, stride: number, vfDevice: string, vfBars: TopoBar[] } }} TopoDevice
 */

/**
 * Where the topology the igb guest captured (`iovh capture`) differs from the
 * committed igb-like topology, in what the mock's answers depend on: ids,
 * class, the PF's BARs (memory and I/O), the SR-IOV geometry and the VF BARs
 * (index, kind, size).
 * @param {{ devices: TopoDevice[] }} captured
 * @param {{ devices: TopoDevice[] }} committed
 * @returns {string[]}
 */
export function topologyDifferences(captured, committed) {
  const out = [];
  const bars = (/** @type {TopoBar[]} */ list) => list.map((b) => `${b.index}:${b.kind}:${b.size}`).join(' ');
  for (const want of committed.devices) {
    const got = captured.devices.find((d) => d.bdf === want.bdf);
    if (!got) {
      out.push(`${want.bdf}: not in the captured topology`);
      continue;
    }
    /** @type {Array<[string, unknown, unknown]>} */
    const fields = [
      ['vendor', got.vendor, want.vendor],
      ['device', got.device, want.device],
      ['class', got.class, want.class],
      ['BARs', bars(got.bars), bars(want.bars)],
      ['sriov.totalvfs', got.sriov?.totalvfs, want.sriov?.totalvfs],
      ['sriov.offset', got.sriov?.offset, want.sriov?.offset],
      ['sriov.stride', got.sriov?.stride, want.sriov?.stride],
      ['sriov.vfDevice', got.sriov?.vfDevice, want.sriov?.vfDevice],
      ['VF BARs', bars(got.sriov?.vfBars ?? []), bars(want.sriov?.vfBars ?? [])],
    ];
    for (const [name, g, w] of fields)
      if (g !== w) out.push(`${want.bdf} ${name}: guest ${String(g)}, topology-igb.json ${String(w)}`);
  }
  return out;
}

/**
 * The text of topology-igb.json from the topology `iovh capture` wrote in the
 * igb guest, as is but for `kernel`: its cmdline carries the boot's nonce and
 * iovh.* parameters, and the mock's profile says which kernel it models.
 * `bridges` (q35's host bridge, the root port's ACS: what the P2P route
 * between the PF and a VF follows, rules-more.mjs standin.p2p-import) as the
 * guest's capture read them; from the committed file when a capture of an
 * older iovh has none.
 * @param {{ kernel?: unknown, bridges?: unknown[] }} captured
 * @param {{ bridges?: unknown[] }} [committed] the topology file as committed
 */
export function topologyFileFrom(captured, committed = {}) {
  const {
    kernel: _kernel,
    devices,
    bridges: seen,
    ...rest
  } = /** @type {{ kernel?: unknown, devices?: unknown, bridges?: unknown[] }} */ (captured);
  const bridges = seen ?? committed.bridges;
  const doc = { ...rest, ...(bridges ? { bridges } : {}), devices };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * The fixture text for a passing igb guest's results: what the real kernel
 * said per scenario, with the kernel and QEMU it came from.
 * @param {import('./boot.mjs').BootReport} boot
 * `topologyDifferences`: where the guest's capture differs from topology-igb.json (topologyDifferences), as
 * the CI's conformance row `topology` says; the pinned share counts the mock's start (`boot`) only when none.
 * @param {{ kernel: string, qemu: string, kernelConfig?: Record<string, 'y' | 'n'>, topologyDifferences?: string[] }} versions
 * @param {RegExp} [omit] ids of results to leave out (and whose failure does not stop the recording)
 */
export function fixtureFrom(boot, versions, omit) {
  // A run whose only failures are results left out of the comparison (`omit`: the sanitizer guest's
  // detector checks, which are the kernel's own detectors, not a rule of the mock) records the rest. A
  // failure the baseline of the kernel's shape expects (boot.xfail: a known bug, bugs/*) is the kernel's
  // answer too, and the mock must give it: it is recorded.
  const expected = new Set((boot.xfail ?? []).map((x) => x.id));
  const failed = (boot.results?.scenarios ?? []).filter(
    (s) => s.status === 'fail' && !omit?.test(s.id) && !expected.has(s.id),
  );
  if (!boot.results || failed.length > 0 || (boot.status !== 'pass' && !(omit && boot.status === 'fail')))
    throw new Error(`${boot.variant} did not pass (${boot.status}: ${boot.reason}); record only a passing run`);
  const doc = {
    recordedAt: new Date().toISOString(),
    variant: boot.variant,
    kernel: versions.kernel,
    qemu: versions.qemu,
    // How that kernel was built, for the options the mock models: the replay gives the mock the same.
    ...(versions.kernelConfig ? { kernelConfig: versions.kernelConfig } : {}),
    // iovh's out-of-tree modules the guest had loaded: the replay loads them on the mock too.
    ...(boot.results.modules?.length ? { modules: boot.results.modules } : {}),
    ...(versions.topologyDifferences ? { topologyDifferences: versions.topologyDifferences } : {}),
    scenarios: boot.results.scenarios
      .filter((s) => !omit?.test(s.id))
      .map((s) => ({
        id: s.id,
        status: s.status,
        path: s.path ?? null,
        errno: s.errno ?? null,
        detail: s.detail ?? '',
        ...(s.observed ? { observed: s.observed } : {}),
      })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * The build options the mock models, which a kernel's .config sets for it: src/mock/kconfig.ts MODELLED_OPTIONS,
 * from the checkout's dist/ (a copy here had lost PROVE_LOCKING and SECURITY, so the sanitizer guest's mock ran
 * without the lock debugging its build has).
 */
export const MODELLED_KCONFIG = /** @type {typeof import('../../src/mock/kconfig.js')} */ (
  await fromDist('mock/kconfig.js')
).MODELLED_OPTIONS;

/**
 * The modelled options as the text of a .config (or /proc/config.gz) says:
 * `y` for built in or a module, `n` for not set or absent.
 * @param {string} text
 * @returns {Record<string, 'y' | 'n'>}
 */
export function kernelConfigFrom(text) {
  /** @type {Record<string, 'y' | 'n'>} */
  const out = {};
  for (const opt of MODELLED_KCONFIG) out[opt] = new RegExp(`^CONFIG_${opt}=[ym]$`, 'm').test(text) ? 'y' : 'n';
  return out;
}

/** Why the mock cannot be run from this checkout, or null when it can. */
export function mockUnavailable(repo = repoRoot) {
  for (const f of ['mock/backend.js', 'cli/main.js']) {
    if (!existsSync(join(repo, 'dist', f))) return `dist/${f} is not built (run \`npm run build:ts\`)`;
  }
  if (!existsSync(IGB_TOPOLOGY)) return `no igb-like topology at ${fileURLToPath(IGB_TOPOLOGY)}`;
  return null;
}

/**
 * The guest program (test/qemu/guest/main.mjs) on the mock: the same flow
 * and scenarios the guest ran, with the upstream profile and the igb-like
 * topology, in a child process whose output goes to `log`.
 * `kernelConfig`: how the real kernel was built, for the options the mock
 * models (src/mock/kconfig.ts), e.g. `{ IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' }`
 * for a kernel built with kconfig/iovh-guest.config (kernelConfigFrom reads it
 * from a .config); absent: the profile's, Debian's stock build.
 * `coverage`: a file where the replay writes the mock's branches each step ran
 * (scripts/qemu-ci/coverage.mjs; the pinned share).
 * `modules`: the out-of-tree modules the real guest had loaded (its results' `modules`): the mock loads them too.
 * @param {{ repo?: string, profile?: string, outDir: string, log: string, kernelConfig?: Record<string, 'y' | 'n'>, modules?: string[], coverage?: string }} o
 * @returns {Promise<import('../../test/qemu/guest/scenarios.mjs').Result[]>}
 */
export async function runOnMock(o) {
  const repo = o.repo ?? repoRoot;
  const why = mockUnavailable(repo);
  if (why) throw new Error(why);
  mkdirSync(o.outDir, { recursive: true });
  const out = join(o.outDir, 'results.json');
  rmSync(out, { force: true });
  const nonce = randomBytes(8).toString('hex');
  const args = [
    join(GUEST_DIR, 'main.mjs'),
    '--backend',
    'mock',
    '--topology',
    fileURLToPath(IGB_TOPOLOGY),
    '--profile',
    o.profile ?? 'upstream-7.1',
    '--out',
    out,
    '--nonce',
    nonce,
    '--variant',
    'mock-upstream-igb',
    '--repo',
    repo,
  ];
  const config = Object.entries(o.kernelConfig ?? {});
  if (config.length) args.push('--kernel-config', config.map(([k, v]) => `${k}=${v}`).join(','));
  if (o.modules?.length) args.push('--modules', o.modules.join(','));
  if (o.coverage) args.push('--coverage', o.coverage);
  const logFd = openSync(o.log, 'w');
  /** @type {number | null} */
  let code;
  try {
    code = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd] });
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    });
  } finally {
    closeSync(logFd);
  }
  let data;
  try {
    data = JSON.parse(readFileSync(out, 'utf8'));
  } catch (e) {
    throw new Error(
      `the guest program on the mock exited ${code} and left no results (${/** @type {Error} */ (e).message}); see ${o.log}`,
    );
  }
  if (data.nonce !== nonce || !Array.isArray(data.scenarios))
    throw new Error(`${out} is not this run's results; see ${o.log}`);
  return data.scenarios;
}
