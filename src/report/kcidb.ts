// KCIDB-shaped JSON for KernelCI (kernelci/kcidb-io, schema v4.5: the last
// with `waived`): { version, tests: [...] }. One test object per scenario,
// with `path` under `iovh.`, `status` from the KCIDB priority list
// FAIL > ERROR > MISS > PASS > DONE > SKIP, `waived` for failures the baseline
// expects (reported without alerting anyone), `log_excerpt` (<= 16 KiB) with
// the reason and the kernel's complaints, and our own fields under `misc`.
//
// Mapping: pass -> PASS; fail, warn, crash -> FAIL (the kernel under test is
// faulty: it failed a check, complained, or oopsed); timeout -> ERROR (the
// test did not complete, the kernel's state is unknown); a harness error ->
// ERROR; skip -> SKIP; a scenario the run never reached (interrupted) -> MISS,
// as is one still pending in a report written while the run goes on.

import { bugLine, type RunResult, type ScenarioResult, type Json } from './model.js';

export const KCIDB_VERSION = { major: 4, minor: 5 } as const;
const LOG_EXCERPT_MAX = 16384;

export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

export interface KcidbOptions {
  /** CI system name, KCIDB origin pattern `^[a-z0-9_]+$`. */
  origin?: string;
  /** ID of the tested build (`origin:...`); defaults to `<origin>:<kernel release>`. */
  buildId?: string;
}

export function kcidbStatus(r: ScenarioResult): KcidbStatus {
  if (r.error?.kind === 'harness') return 'ERROR';
  switch (r.status) {
    case 'pass':
      return 'PASS';
    case 'fail':
    case 'warn':
    case 'crash':
      return 'FAIL';
    case 'timeout':
      return 'ERROR';
    case 'skip':
      return r.evidence.notRun === true ? 'MISS' : 'SKIP';
  }
}

/** KCIDB test paths allow `[.a-zA-Z0-9_-]`: `export/single-range` -> `iovh.export.single-range`. */
export function kcidbPath(id: string): string {
  return `iovh.${id.replace(/\//g, '.').replace(/[^.a-zA-Z0-9_-]/g, '_')}`;
}

function excerpt(r: ScenarioResult): string {
  const lines = [`${r.status}: ${r.reason}`];
  for (const q of r.quirks) lines.push(`quirk ${q.number ?? '-'} ${q.id}: ${q.evidence}`);
  for (const b of r.bugs ?? []) lines.push(bugLine(b));
  lines.push(...r.cleanliness.kernelComplaints);
  lines.push(...r.log);
  let text = `${lines.join('\n')}\n`;
  // Truncate on a character boundary, counting UTF-8 bytes like the database does.
  while (Buffer.byteLength(text, 'utf8') > LOG_EXCERPT_MAX) text = text.slice(0, Math.floor(text.length * 0.9));
  return text.replace(/\0/g, '');
}

/** KCIDB: "no properties can be null"; a missing value is an absent key. */
function withoutNulls(o: { [k: string]: Json }): { [k: string]: Json } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}

/**
 * What is wrong with the origin or the build id, or null. KCIDB object ids
 * are `<origin>:<id within the origin>` (kcidb-io schema v4: the origin
 * prefix pattern `^[a-z0-9_]+:`); ours are also one line.
 */
export function kcidbOptionsProblem(options: KcidbOptions): string | null {
  const origin = options.origin ?? 'iovh';
  if (!/^[a-z0-9_]+$/.test(origin)) return `KCIDB origin must match ^[a-z0-9_]+$, got '${origin}'`;
  const buildId = options.buildId;
  if (buildId === undefined) return null;
  if (!buildId.startsWith(`${origin}:`) || buildId.length === origin.length + 1)
    return `KCIDB build id must be '${origin}:' followed by the build's id within that origin, got '${buildId}'`;
  if (/[\u0000-\u001f\u007f]/.test(buildId)) return `KCIDB build id must be one line of text, got '${buildId}'`;
  return null;
}

export function renderKcidb(run: RunResult, options: KcidbOptions = {}): string {
  const problem = kcidbOptionsProblem(options);
  if (problem) throw new RangeError(problem);
  const origin = options.origin ?? 'iovh';
  const buildId = options.buildId ?? `${origin}:${run.kernel.release ?? 'unknown'}`;
  const runId = run.startedAt.replace(/[^0-9]/g, '').slice(0, 17);
  const tests = run.scenarios.map((r): Json => {
    const status = kcidbStatus(r);
    const test: { [k: string]: Json } = {
      build_id: buildId,
      id: `${origin}:${runId}:${r.id}`,
      origin,
      path: kcidbPath(r.id),
      status,
      waived: r.baseline?.verdict === 'expected' && (status === 'FAIL' || status === 'ERROR'),
      start_time: r.startedAt,
      duration: r.durationMs / 1000,
      log_excerpt: excerpt(r),
      comment: r.title,
      environment: {
        comment: `iovh ${run.tool.version}, backend ${run.backend.name}${run.backend.profile ? ` (${run.backend.profile})` : ''}`,
        misc: withoutNulls({
          backend_reason: run.backend.reason,
          kernel_release: run.kernel.release,
          kernel_shape: run.kernel.shape?.name ?? null,
        }),
      },
      misc: withoutNulls({
        iovh_status: r.status,
        path: r.path,
        p2p_route: typeof r.evidence.p2pRoute === 'string' ? r.evidence.p2pRoute : null,
        expected_path: r.expectedPath,
        quirks: r.quirks.map((q) => q.id),
        bugs: (r.bugs ?? []).map((b) => b.id),
        baseline: r.baseline ? { expected: r.baseline.expected, verdict: r.baseline.verdict } : null,
      }),
    };
    return test;
  });
  // A report written mid-run: the scenarios without a result yet are MISS ("not run"), so a run that dies reports them.
  for (const id of run.pending) {
    tests.push({
      build_id: buildId,
      id: `${origin}:${runId}:${id}`,
      origin,
      path: kcidbPath(id),
      status: 'MISS',
      waived: false,
      log_excerpt: 'no result: the run had not finished when this report was written',
      misc: { iovh_status: 'pending' },
    });
  }
  return `${JSON.stringify({ version: KCIDB_VERSION, tests }, null, 2)}\n`;
}
