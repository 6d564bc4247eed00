#!/usr/bin/env node
// Turns an `iovh run --json` report into LAVA test cases: one line per
// scenario, `<name> <result> <seconds>`, for scripts/lava/run.sh to hand to
// lava-test-case. Plain JavaScript with no dependency, so that it runs on a
// device under test before (or without) anything else of iovh.
//
// LAVA results are pass, fail, skip and unknown (LAVA's lava_results_app). Mapping: pass -> pass; fail, warn, crash, timeout -> fail
// (LAVA has no "expected failure": a known kernel defect stays a fail there,
// and the `iovh-verdict` case says whether the run matched its baseline);
// skip -> skip; a scenario the run never reached (interrupted, or pending in a
// report of a run that died) -> unknown.
// Names keep to [A-Za-z0-9._-]: `export/single-range` -> `export.single-range`.

import { readFileSync } from 'node:fs';

/**
 * @typedef {{ id: string, status: string, durationMs: number, evidence?: Record<string, unknown>, baseline?: { verdict: string } | null }} ReportScenario
 * @typedef {{ name: string, result: 'pass' | 'fail' | 'skip' | 'unknown', seconds: number }} LavaCase
 */

/**
 * @param {string} id
 * @returns {string}
 */
export function lavaName(id) {
  return id.replace(/\//g, '.').replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * @param {ReportScenario} s
 * @returns {'pass' | 'fail' | 'skip' | 'unknown'}
 */
export function lavaResult(s) {
  switch (s.status) {
    case 'pass':
      return 'pass';
    case 'skip':
      return s.evidence && s.evidence.notRun === true ? 'unknown' : 'skip';
    case 'fail':
    case 'warn':
    case 'crash':
    case 'timeout':
      return 'fail';
    default:
      return 'unknown';
  }
}

/**
 * The test cases of one report, plus `iovh-verdict` (pass when the run's exit
 * status was 0: nothing unexpected against the baseline).
 * @param {unknown} report
 * @returns {LavaCase[]}
 */
export function lavaCases(report) {
  if (
    typeof report !== 'object' ||
    report === null ||
    !Array.isArray(/** @type {{ scenarios?: unknown }} */ (report).scenarios)
  ) {
    throw new Error('not an iovh run report: no scenarios array');
  }
  const r =
    /** @type {{ scenarios: ReportScenario[], pending?: unknown[], summary?: { exitCode?: number }, schema?: string }} */ (
      report
    );
  if (typeof r.schema !== 'string' || !r.schema.startsWith('iovh-run/'))
    throw new Error(`not an iovh run report (schema ${String(r.schema)})`);
  /** @type {LavaCase[]} */
  const out = r.scenarios.map((s) => ({
    name: lavaName(s.id),
    result: lavaResult(s),
    seconds: Math.round(s.durationMs) / 1000,
  }));
  // A report the run rewrote after each scenario and never finished (it died): what had no result yet is unknown.
  const pending = /** @type {string[]} */ (
    Array.isArray(r.pending) ? r.pending.filter((id) => typeof id === 'string') : []
  );
  for (const id of pending) out.push({ name: lavaName(id), result: 'unknown', seconds: 0 });
  const code = r.summary && typeof r.summary.exitCode === 'number' ? r.summary.exitCode : null;
  out.push({
    name: 'iovh-verdict',
    result: code === 0 ? 'pass' : code === 77 ? 'skip' : code === null ? 'unknown' : 'fail',
    seconds: 0,
  });
  return out;
}

const isMain = process.argv[1] !== undefined && /lava-cases\.mjs$/.test(process.argv[1]);
if (isMain) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: lava-cases.mjs REPORT.json\n');
    process.exit(2);
  }
  try {
    for (const c of lavaCases(JSON.parse(readFileSync(file, 'utf8'))))
      process.stdout.write(`${c.name} ${c.result} ${c.seconds}\n`);
  } catch (e) {
    process.stderr.write(`lava-cases: ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
