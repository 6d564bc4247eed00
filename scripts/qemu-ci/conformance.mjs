// @ts-check
// Model conformance (issue 6 part 2): the scenarios the guest ran against a
// real kernel run again against the mock with the `upstream` profile and an
// igb-like topology (topology-igb.json), and the two result sets are compared
// scenario by scenario. Status, path and errno must agree; a disagreement
// names the scenario and the kernel rule (scenarios.mjs RULES) the model has
// to follow. A scenario the guest could not run (skip) is compared too: the
// mock must not claim more than the real kernel showed.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './paths.mjs';

export const GUEST_DIR = join(repoRoot, 'test', 'qemu', 'guest');
export const IGB_TOPOLOGY = new URL('./topology-igb.json', import.meta.url);
/**
 * The igb guest's results, recorded from a passing run (`main.mjs record`):
 * test/qemu/conformance-mock.test.ts compares the mock with them on every
 * `npm test`, without QEMU.
 */
export const KERNEL_FIXTURE = join(repoRoot, 'test', 'qemu', 'fixtures', 'kernel-igb.json');
/** Variants whose device the igb-like topology models. */
export const CONFORMANCE_DEVICE = 'igb';

/**
 * @typedef {{ id: string, status: string, path?: string | null, errno?: string | null, detail?: string }} ScenarioResult
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
  const byId = (/** @type {ScenarioResult[]} */ list) => new Map(list.map((r) => [r.id, r]));
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
      if ((r.path ?? null) !== (m.path ?? null)) diffs.push(`path: kernel ${r.path ?? 'none'}, mock ${m.path ?? 'none'}`);
      if ((r.errno ?? null) !== (m.errno ?? null)) diffs.push(`errno: kernel ${r.errno ?? 'none'}, mock ${m.errno ?? 'none'}`);
    }
    return { id, agree: diffs.length === 0, real: r, model: m, diffs, rule: rules[id] ?? 'no rule recorded for this scenario' };
  });
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
 * Enable VFs on the mock's SR-IOV PF and bind VF 0 to vfio-pci, with the
 * same sysfs writes the guest's /init makes (init.sh; kernel-abi §9).
 * @param {import('../../src/backend/types.js').Backend} backend
 */
export function bringUpMock(backend) {
  const fs = backend.fs;
  const base = '/sys/bus/pci/devices';
  const pf = fs.readdir(base).sort().find((d) => fs.exists(`${base}/${d}/sriov_totalvfs`));
  if (!pf) throw new Error('the mock topology has no SR-IOV PF (no sriov_totalvfs under /sys/bus/pci/devices)');
  fs.writeFile(`${base}/${pf}/sriov_drivers_autoprobe`, '0');
  fs.writeFile(`${base}/${pf}/sriov_numvfs`, '2');
  const vf = fs.readlink(`${base}/${pf}/virtfn0`).split('/').pop();
  if (!vf) throw new Error(`mock PF ${pf}: virtfn0 links nowhere`);
  fs.writeFile(`${base}/${vf}/driver_override`, 'vfio-pci');
  fs.writeFile('/sys/bus/pci/drivers_probe', vf);
  const driver = fs.readlink(`${base}/${vf}/driver`).split('/').pop();
  if (driver !== 'vfio-pci') throw new Error(`mock VF ${vf} bound to ${driver}, not vfio-pci`);
  return { pf, vf };
}

/**
 * The fixture text for a passing igb guest's results: what the real kernel
 * said per scenario, with the kernel and QEMU it came from.
 * @param {import('./boot.mjs').BootReport} boot
 * @param {{ kernel: string, qemu: string }} versions
 */
export function fixtureFrom(boot, versions) {
  if (boot.status !== 'pass' || !boot.results) throw new Error(`${boot.variant} did not pass (${boot.status}: ${boot.reason}); record only a passing run`);
  const doc = {
    recordedAt: new Date().toISOString(),
    variant: boot.variant,
    kernel: versions.kernel,
    qemu: versions.qemu,
    scenarios: boot.results.scenarios.map((s) => ({ id: s.id, status: s.status, path: s.path ?? null, errno: s.errno ?? null, detail: s.detail ?? '' })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Why the mock cannot be run from this checkout, or null when it can. */
export function mockUnavailable(repo = repoRoot) {
  if (!existsSync(join(repo, 'dist', 'mock', 'backend.js'))) return 'the mock backend is not built (no dist/mock/backend.js: run `npm run build:ts`)';
  if (!existsSync(IGB_TOPOLOGY)) return `no igb-like topology at ${IGB_TOPOLOGY.pathname}`;
  return null;
}

/**
 * The scenarios on the mock.
 * @param {{ repo?: string, profile?: string }} [o]
 * @returns {Promise<import('../../test/qemu/guest/scenarios.mjs').Result[]>}
 */
export async function runOnMock(o = {}) {
  const repo = o.repo ?? repoRoot;
  const why = mockUnavailable(repo);
  if (why) throw new Error(why);
  const { loadLib } = await import(pathToFileURL(join(GUEST_DIR, 'lib.mjs')).href);
  const { runScenarios } = await import(pathToFileURL(join(GUEST_DIR, 'scenarios.mjs')).href);
  const { lib } = await loadLib(repo);
  const mock = await import(pathToFileURL(join(repo, 'dist', 'mock', 'backend.js')).href);
  const backend = mock.createMockBackend({ profile: o.profile ?? 'upstream', topology: IGB_TOPOLOGY.pathname, reason: 'QEMU CI model conformance' });
  try {
    const { pf, vf } = bringUpMock(backend);
    return await runScenarios({ backend, lib, vf, pf });
  } finally {
    backend.close();
  }
}
