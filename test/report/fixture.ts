// Hand-built run results for the report tests: one scenario of every status,
// a known failure, a regression, a fix, and text that needs escaping.
import { emptyCleanliness, RUN_SCHEMA, type RunResult, type ScenarioResult } from '../../src/report/model.js';
import { summarize } from '../../src/harness/summary.js';

export function scenario(over: Partial<ScenarioResult> & Pick<ScenarioResult, 'id' | 'status'>): ScenarioResult {
  return {
    title: `title of ${over.id}`,
    path: null,
    expectedPath: null,
    reason: `${over.status} because of reasons`,
    skip: null,
    quirks: [],
    bugs: [],
    evidence: {},
    cleanliness: emptyCleanliness(),
    startedAt: '2026-11-24T10:00:00.000Z',
    durationMs: 12,
    timeoutMs: 30_000,
    baseline: null,
    log: [],
    error: null,
    cleanup: { ran: 0, failed: [] },
    ...over,
  };
}

export function run(scenarios: ScenarioResult[], over: Partial<RunResult> = {}): RunResult {
  const base: RunResult = {
    schema: RUN_SCHEMA,
    tool: { name: 'iovh', version: '0.1.0', node: 'v20.20.0' },
    startedAt: '2026-11-24T10:00:00.000Z',
    finishedAt: '2026-11-24T10:00:01.500Z',
    durationMs: 1500,
    kernel: {
      release: '7.2.0-rfc-v1',
      version: '#1 SMP',
      cmdline: 'intel_iommu=on',
      shape: { name: 'rfc-v1', summary: 'rfc-v1 — IOV import path: rfc-v1 interconnect' },
    },
    backend: { name: 'mock', reason: '--backend mock', profile: 'rfc-v1' },
    options: { filters: [], timeoutSec: 30, pf: null, vf: null },
    capabilities: {},
    topology: {},
    setup: [],
    baseline: null,
    scenarios,
    summary: summarize(scenarios, null),
    interrupted: null,
    complete: true,
    pending: [],
    kernelLog: [],
    ...over,
  };
  if (!over.summary) base.summary = summarize(base.scenarios, base.interrupted, { pending: base.pending });
  return base;
}

/** Every status, every verdict, and hostile text. */
export function mixedRun(): RunResult {
  const scenarios: ScenarioResult[] = [
    scenario({
      id: 'caps/kernel',
      status: 'pass',
      reason: 'probed 9 capabilities',
      baseline: { expected: 'pass', quirks: [], bugs: [], verdict: 'expected', note: null },
    }),
    scenario({
      id: 'export/single-range',
      status: 'pass',
      baseline: { expected: 'pass', quirks: [], bugs: [], verdict: 'expected', note: null },
    }),
    scenario({
      id: 'import/iov-single-range',
      status: 'skip',
      reason: 'no interconnect symbols in /proc/kallsyms',
      skip: { capability: 'interconnect-symbols', enable: 'boot a kernel with the RFC series' },
      baseline: { expected: 'skip', quirks: [], bugs: [], verdict: 'expected', note: null },
    }),
    scenario({
      id: 'edge/last-page',
      status: 'fail',
      path: 'untranslated',
      expectedPath: 'iov',
      reason: 'range in the last BAR page was not translated: RFC quirk 1 <last-page> & "2"',
      quirks: [
        {
          id: 'last-page',
          number: 1,
          title: 'last page of the VF BAR not recognised',
          evidence: 'no lmem_obj call # for vfid 1',
        },
      ],
      baseline: { expected: 'fail', quirks: ['last-page'], bugs: [], verdict: 'expected', note: null },
      log: ['xe 0000:03:00.0: \u0007bell and <tag> & stuff'],
    }),
    scenario({
      id: 'edge/unprovisioned-vf',
      status: 'crash',
      reason: 'kernel oops: BUG: kernel NULL pointer dereference',
      quirks: [{ id: 'unprovisioned-oops', number: 4, title: 'unprovisioned VF', evidence: 'Oops in xe' }],
      // A bug of the merged path next to the quirk (src/harness/bugs.ts), with text that needs escaping.
      bugs: [
        {
          id: 'opath-stale-file',
          title: "a dma-buf held only by an O_PATH open outlives its file: vfio's revoke walks the freed file",
          affected: '6.19 and later',
          fixed: null,
          evidence: 'closing the VFIO device <after> closing the dma-buf & its O_PATH "holder"',
        },
      ],
      baseline: {
        expected: 'crash',
        quirks: ['unprovisioned-oops'],
        bugs: ['opath-stale-file'],
        verdict: 'expected',
        note: null,
      },
    }),
    scenario({
      id: 'data/gpu-write-cpu-read',
      status: 'fail',
      reason: 'mismatch at 0x1000',
      baseline: { expected: 'pass', quirks: [], bugs: [], verdict: 'regression', note: 'expected pass, got fail' },
    }),
    scenario({
      id: 'lifecycle/revoke-on-reset',
      status: 'timeout',
      reason: 'timed out after 30 s',
      baseline: { expected: 'fail', quirks: [], bugs: [], verdict: 'regression', note: 'expected fail, got timeout' },
    }),
    scenario({
      id: 'leak/fds-and-buffers',
      status: 'warn',
      reason: 'kernel WARNING during the scenario',
      baseline: { expected: 'fail', quirks: [], bugs: [], verdict: 'regression', note: 'expected fail, got warn' },
    }),
    scenario({
      id: 'edge/npot-ranges',
      status: 'pass',
      path: 'iov',
      expectedPath: 'iov',
      baseline: {
        expected: 'fail',
        quirks: ['order-from-length'],
        bugs: [],
        verdict: 'fixed',
        note: 'expected fail, now passes',
      },
    }),
    scenario({
      id: 'stress/max-ranges',
      status: 'fail',
      reason: 'harness error: TypeError: x is undefined',
      error: { kind: 'harness', message: 'TypeError: x is undefined', code: null, stack: null },
      baseline: { expected: 'pass', quirks: [], bugs: [], verdict: 'regression', note: 'expected pass, got fail' },
    }),
  ];
  return run(scenarios, { baseline: { path: 'baselines/rfc-v1.json', name: 'rfc-v1', profile: 'rfc-v1' } });
}
