// KTAP version 1 (Documentation/dev-tools/ktap.rst), what kselftest and KUnit
// print and what kernel CI parsers (kci_test, LAVA's kselftest parser,
// kunit_parser.py) read. One flat test plan, one result line per scenario,
// diagnostic lines (`# ...`) before each result.
//
// Result lines: pass -> `ok`; skip -> `ok N id # SKIP reason`; a bad status
// the baseline expects -> `ok N id # XFAIL reason` (kselftest's
// ksft_test_result_xfail prints `ok` too: the expectation held); timeout ->
// `not ok N id # TIMEOUT <s> seconds`; a harness error -> `not ok N id # ERROR
// message`; fail, warn and crash -> `not ok N id # <status>: reason` (no
// directive: the spec says an unknown keyword falls back to ok/not ok).
// A report written while the run goes on (RunResult.complete false) plans
// every scenario and has result lines for those that finished only.

import { isBad, type RunResult, type ScenarioResult } from './model.js';

/** Descriptions and diagnostic data are single lines without `#`. */
export function ktapText(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/#/g, 'no.')
    .replace(/\s+/g, ' ')
    .trim();
}

function resultLine(n: number, r: ScenarioResult): string {
  const reason = ktapText(r.reason);
  if (isBad(r.status) && r.baseline?.verdict === 'expected') return `ok ${n} ${r.id} # XFAIL ${r.status}: ${reason}`;
  switch (r.status) {
    case 'pass':
      return `ok ${n} ${r.id}`;
    case 'skip':
      return `ok ${n} ${r.id} # SKIP ${reason}`;
    case 'timeout':
      return `not ok ${n} ${r.id} # TIMEOUT ${Math.round(r.timeoutMs / 1000)} seconds: ${reason}`;
    case 'fail':
      if (r.error?.kind === 'harness') return `not ok ${n} ${r.id} # ERROR ${reason}`;
      return `not ok ${n} ${r.id} # fail: ${reason}`;
    case 'warn':
    case 'crash':
      return `not ok ${n} ${r.id} # ${r.status}: ${reason}`;
  }
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
    if (r.path) out.push(`# ${r.id}: path ${r.path}${r.expectedPath ? ` (expected ${r.expectedPath})` : ''}`);
    for (const q of r.quirks)
      out.push(`# ${r.id}: quirk${q.number !== null ? ` ${q.number}` : ''} ${q.id}: ${ktapText(q.evidence)}`);
    if (r.skip) out.push(`# ${r.id}: to enable: ${ktapText(r.skip.enable)}`);
    if (r.baseline && r.baseline.verdict !== 'expected')
      out.push(`# ${r.id}: baseline ${r.baseline.verdict}: ${ktapText(r.baseline.note ?? '')}`);
    for (const line of r.cleanliness.kernelComplaints.slice(0, 5)) out.push(`# ${r.id}: kernel: ${ktapText(line)}`);
    out.push(resultLine(i + 1, r));
  });
  if (run.interrupted) out.push(`# interrupted by ${run.interrupted.signal}: results are partial`);
  if (!run.complete)
    out.push(
      `# incomplete: no result yet for ${run.pending.map(ktapText).join(', ')} (the run had not finished when this was written)`,
    );
  out.push(`# exit ${run.summary.exitCode}: ${ktapText(run.summary.exitReason)}`);
  return `${out.join('\n')}\n`;
}
