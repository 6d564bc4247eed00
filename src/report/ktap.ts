// KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst), what
// kselftest and KUnit print and what kernel CI parsers (the kernel's own
// tools/testing/kunit/kunit.py parse, LAVA's and KernelCI's kselftest
// parsers) read. One flat test plan, one result line per scenario,
// diagnostic lines (`# ...`) before each result, and kselftest's totals line
// at the end.
//
// The encodings are chosen for what kunit_parser.py does with them
// (test/consumers/kunit.test.ts runs it): `ok` is a pass whatever directive
// follows, `# SKIP` anywhere after the description is a skip even on `not
// ok`, any other `not ok` is a failure, and a test whose plan promised a
// result that never came is "crashed" (that is how a test that took the
// kernel down looks to it). So:
//
//   pass                          ok N id
//   pass the baseline expected
//     to fail (verdict fixed)     ok N id # XPASS note
//   skip                          ok N id # SKIP reason
//   fail, warn                    not ok N id # <status>: reason
//   crash                         a one-test subtest block with no result,
//                                 then not ok N id # crash: reason
//   timeout                       not ok N id # TIMEOUT <s> seconds: reason
//   harness error                 not ok N id # ERROR reason
//   a bad status the baseline
//     expects                     not ok N id # XFAIL <status>: reason
//
// kselftest prints an expected failure as `ok N # XFAIL` (kselftest.h
// ksft_test_result_xfail), which kunit.py counts as passed: a known kernel
// defect is never a pass here, so XFAIL goes on `not ok` (ktap.rst allows
// XFAIL on either) and a crash stays a crash when expected. Unknown words
// after `#` (fail:, warn:, crash:) are diagnostic data: the spec says a
// parser falls back to ok/not ok.
//
// A report written while the run goes on (RunResult.complete false) plans
// every scenario and has result lines for those that finished only: the
// parser counts the rest as crashed, which is what they are if the run died.

import { bugLine, pathText, isBad, type RunResult, type ScenarioResult } from './model.js';

/** Descriptions and diagnostic data are single lines without `#`. */
export function ktapText(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/#/g, 'no.')
    .replace(/\s+/g, ' ')
    .trim();
}

/** kselftest's totals (kselftest.h ksft_print_cnts), counted over the result lines written. */
export interface KtapTotals {
  pass: number;
  fail: number;
  xfail: number;
  xpass: number;
  skip: number;
  error: number;
}

type Kind = keyof KtapTotals;

function kindOf(r: ScenarioResult): Kind {
  if (isBad(r.status) && r.baseline?.verdict === 'expected') return 'xfail';
  if (r.status === 'fail' && r.error?.kind === 'harness') return 'error';
  if (r.status === 'pass') return r.baseline?.verdict === 'fixed' ? 'xpass' : 'pass';
  if (r.status === 'skip') return 'skip';
  return 'fail';
}

export function ktapTotals(run: RunResult): KtapTotals {
  const t: KtapTotals = { pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 };
  for (const r of run.scenarios) t[kindOf(r)] += 1;
  return t;
}

function resultLine(n: number, r: ScenarioResult): string {
  const reason = ktapText(r.reason);
  const kind = kindOf(r);
  if (kind === 'xfail') return `not ok ${n} ${r.id} # XFAIL ${r.status}: ${reason}`;
  switch (r.status) {
    case 'pass':
      return kind === 'xpass' ? `ok ${n} ${r.id} # XPASS ${ktapText(r.baseline?.note ?? reason)}` : `ok ${n} ${r.id}`;
    case 'skip':
      return `ok ${n} ${r.id} # SKIP ${reason}`;
    case 'timeout':
      return `not ok ${n} ${r.id} # TIMEOUT ${Math.round(r.timeoutMs / 1000)} seconds: ${reason}`;
    case 'fail':
      if (kind === 'error') return `not ok ${n} ${r.id} # ERROR ${reason}`;
      return `not ok ${n} ${r.id} # fail: ${reason}`;
    case 'warn':
    case 'crash':
      return `not ok ${n} ${r.id} # ${r.status}: ${reason}`;
  }
}

/**
 * A crash: a subtest block that plans one result and has none, as a test
 * that took the kernel down leaves it, so the kernel's parser reports the
 * scenario as crashed rather than failed.
 */
function crashBlock(r: ScenarioResult): string[] {
  const first = r.cleanliness.kernelComplaints[0];
  return [
    '  KTAP version 1',
    `  # Subtest: ${r.id}`,
    '  1..1',
    `  # ${r.id}: crash: the kernel crashed during this scenario${first ? `: ${ktapText(first)}` : ''}`,
  ];
}

export function renderKtap(run: RunResult): string {
  // The plan counts the scenarios still pending in a report written mid-run: a parser sees the missing results.
  const out: string[] = ['KTAP version 1', `1..${run.scenarios.length + run.pending.length}`];
  out.push(
    `# iovh ${run.tool.version}: kernel ${ktapText(run.kernel.release ?? 'unknown')}, backend ${run.backend.name} (${ktapText(run.backend.reason)})`,
  );
  if (run.kernel.shape) out.push(`# kernel shape: ${ktapText(run.kernel.shape.summary)}`);
  if (run.baseline) out.push(`# baseline ${ktapText(run.baseline.name)}`);
  run.scenarios.forEach((r, i) => {
    if (r.path) out.push(`# ${r.id}: path ${pathText(r)}${r.expectedPath ? ` (expected ${r.expectedPath})` : ''}`);
    for (const q of r.quirks)
      out.push(`# ${r.id}: quirk${q.number !== null ? ` ${q.number}` : ''} ${q.id}: ${ktapText(q.evidence)}`);
    for (const b of r.bugs ?? []) out.push(`# ${r.id}: ${ktapText(bugLine(b))}`);
    if (r.skip) out.push(`# ${r.id}: to enable: ${ktapText(r.skip.enable)}`);
    if (r.baseline && r.baseline.verdict !== 'expected')
      out.push(`# ${r.id}: baseline ${r.baseline.verdict}: ${ktapText(r.baseline.note ?? '')}`);
    for (const line of r.cleanliness.kernelComplaints.slice(0, 5)) out.push(`# ${r.id}: kernel: ${ktapText(line)}`);
    if (r.status === 'crash') out.push(...crashBlock(r));
    out.push(resultLine(i + 1, r));
  });
  if (run.interrupted) out.push(`# interrupted by ${run.interrupted.signal}: results are partial`);
  if (!run.complete)
    out.push(
      `# incomplete: no result yet for ${run.pending.map(ktapText).join(', ')} (the run had not finished when this was written)`,
    );
  out.push(`# exit ${run.summary.exitCode}: ${ktapText(run.summary.exitReason)}`);
  const t = ktapTotals(run);
  out.push(`# Totals: pass:${t.pass} fail:${t.fail} xfail:${t.xfail} xpass:${t.xpass} skip:${t.skip} error:${t.error}`);
  return `${out.join('\n')}\n`;
}
