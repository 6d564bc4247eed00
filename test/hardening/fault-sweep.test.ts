// The fault sweep on the mock (issue 7, item 3; the engine and its rules are
// in sweep.ts). Every scenario of the catalog runs once clean, traced, to
// learn which kernel operations it makes, from where in the harness, and
// what the modelled kernel itself leaves behind; then once per fault.
//
// CI runs the sample: one fault for every distinct harness call path that
// reaches the kernel (an operation kind plus the src/harness/ frames that
// made it), at its first operation, the errnos of each kind taken in turn
// across the catalog. Repeats of a path (the 48 imports of
// stress/many-buffers, the monitors' reads around every scenario) fail once.
// The full sweep fails every n of every kind each scenario reaches, with
// every errno listed for that kind (about 15,000 runs, tens of minutes on 2
// cores):
//   IOVH_FAULT_SWEEP=full npx vitest run test/hardening/fault-sweep.test.ts
// (IOVH_FAULT_SWEEP_PROFILE=upstream|fixed for the other kernel profiles).
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/harness/catalog/index.js';
import { isProfileName, type OpKind } from '../../src/mock/backend.js';
import type { ProfileName } from '../../src/mock/contracts.js';
import { describeFault, ERRNOS, missingKinds, plan, SweepMachine, type Finding, type TracedOp } from './sweep.js';

const mode = process.env.IOVH_FAULT_SWEEP === 'full' ? 'full' : 'sample';
const profileEnv = process.env.IOVH_FAULT_SWEEP_PROFILE ?? 'rfc-v1';
if (!isProfileName(profileEnv)) throw new Error(`IOVH_FAULT_SWEEP_PROFILE: unknown profile '${profileEnv}'`);
const profile: ProfileName = profileEnv;

const totals = {
  scenarios: 0,
  planned: 0,
  injected: 0,
  reported: 0,
  paths: 0,
  kinds: new Set<OpKind>(),
  pairs: new Set<string>(),
  findings: [] as Finding[],
  residue: [] as string[],
};
const covered = new Set<string>();
const rotation = new Map<OpKind, number>();
const machine = new SweepMachine(profile);

afterAll(() => {
  machine.close();
  const leaks = totals.findings.filter((f) => f.what === 'leak').length;
  const other = totals.findings.length - leaks;
  const possible = [...totals.kinds].reduce((n, k) => n + ERRNOS[k].length, 0);
  process.stdout.write(
    `\nfault sweep (${mode}, profile ${profile}): ${totals.injected} faults injected over ${totals.scenarios} scenarios ` +
      (mode === 'sample'
        ? `(one per distinct harness call path to the kernel: ${totals.paths}), `
        : '(every n of every kind, every errno), ') +
      `${totals.kinds.size} kinds of kernel operation, ` +
      `${totals.pairs.size} of their ${possible} (kind, errno) pairs; leaks found: ${leaks}; uncaught exceptions, harness errors or timeouts: ${other}; ` +
      `state left behind and reported by the harness: ${totals.reported}\n` +
      (totals.residue.length > 0
        ? `the modelled kernel's own residue in clean runs (allowed): ${totals.residue.join('; ')}\n`
        : '') +
      totals.findings.map((f) => `  ${f.what}: ${f.scenario} with ${describeFault(f.fault)}: ${f.detail}\n`).join(''),
  );
});

describe('sweep plan', () => {
  it('every DeviceOps and FileOps method has its errnos listed', () => {
    expect(missingKinds(machine.backend.dev, machine.backend.fs)).toEqual([]);
    for (const list of Object.values(ERRNOS)) expect(list.length).toBeGreaterThan(0);
  });

  const trace: TracedOp[] = [
    { kind: 'xeVmBind', nth: 1, path: 'harness/gpu.ts:120' },
    { kind: 'xeVmBind', nth: 2, path: 'harness/gpu.ts:120' },
    { kind: 'xeVmBind', nth: 3, path: 'harness/gpu.ts:60 < harness/catalog/lifecycle.ts:300' },
    { kind: 'close', nth: 1, path: 'harness/runner.ts:10' },
  ];

  it('the sample fails each call path once, at its first operation, errnos in turn', () => {
    const seen = new Set<string>();
    const turn = new Map<OpKind, number>();
    expect(plan(trace, 'sample', seen, turn)).toEqual([
      { kind: 'xeVmBind', nth: 1, errno: 'EINVAL' },
      { kind: 'xeVmBind', nth: 3, errno: 'ENODEV' },
      { kind: 'close', nth: 1, errno: 'EIO' },
    ]);
    // A later scenario with the same paths adds nothing; a new path gets the kind's next errno.
    expect(plan(trace, 'sample', seen, turn)).toEqual([]);
    expect(plan([{ kind: 'xeVmBind', nth: 1, path: 'harness/data.ts:9' }], 'sample', seen, turn)).toEqual([
      { kind: 'xeVmBind', nth: 1, errno: 'ENOMEM' },
    ]);
  });

  it('the full plan is every n of every kind with every errno', () => {
    expect(plan(trace, 'full', new Set(), new Map())).toHaveLength(3 * ERRNOS.xeVmBind.length + ERRNOS.close.length);
  });
});

describe(`fault sweep (${mode}, ${profile})`, () => {
  for (const scenario of CATALOG) {
    it(
      scenario.id,
      async () => {
        totals.scenarios += 1;
        const clean = await machine.run(scenario, null, {}, true);
        expect(clean.findings, 'the clean run').toEqual([]);
        expect(clean.trace.length, 'the scenario reaches the kernel').toBeGreaterThan(0);
        // The trace and the kernel's own count agree: each nth below is the operation the trace says.
        const traced = new Map<OpKind, number>();
        for (const op of clean.trace) traced.set(op.kind, op.nth);
        expect(traced).toEqual(clean.ops);
        if (Object.keys(clean.residue).length > 0)
          totals.residue.push(`${scenario.id} ${JSON.stringify(clean.residue)}`);
        const faults = plan(clean.trace, mode, covered, rotation);
        totals.paths = covered.size;
        totals.planned += faults.length;
        const found: Finding[] = [];
        for (const fault of faults) {
          const out = await machine.run(scenario, fault, clean.residue);
          if (out.fired) {
            totals.injected += 1;
            totals.kinds.add(fault.kind);
            totals.pairs.add(`${fault.kind} ${fault.errno}`);
          }
          if (out.reported) totals.reported += 1;
          found.push(...out.findings);
        }
        totals.findings.push(...found);
        expect(found.map((f) => `${f.what}: ${describeFault(f.fault)}: ${f.detail}`)).toEqual([]);
      },
      mode === 'full' ? 3_600_000 : 60_000,
    );
  }
});
