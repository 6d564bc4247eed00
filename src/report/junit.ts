// JUnit XML, the format every CI system reads (Jenkins, GitLab, GitHub
// actions). It follows the common JUnit schema that Ant's XML formatter
// produced and the Jenkins xunit plugin formalised (test/fixtures/junit.xsd
// restates it): <testsuites> of <testsuite>s of <testcase>s, each with at
// most one <failure>, <error> or <skipped>, plus <system-out>/<system-err>.
//
// Mapping: fail and warn -> <failure type="fail|warn">; crash and timeout ->
// <error type="crash|timeout">; skip -> <skipped>. A failure the baseline
// expects is reported the way pytest reports xfail: <skipped type="xfail">,
// so a CI that gates on JUnit is not turned red by a known kernel defect,
// while the details stay in the message and in <system-out>. A report written
// while the run goes on has one more test, iovh.run/complete, in error.
//
// The body of <failure>, <error> and <skipped> holds the reason, the known
// defects seen and an excerpt of the kernel log: GitLab shows only that body
// (it ignores <system-out>), and the message attribute is one line.

import { hostname } from 'node:os';
import { bugLine, pathText, isBad, type RunResult, type ScenarioResult } from './model.js';

/** Characters XML 1.0 allows; everything else (kernel log control bytes) is dropped. */
const NOT_XML_CHAR = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text
    .replace(NOT_XML_CHAR, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function attrs(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** `export/single-range` -> suite `iovh.export`, case `single-range`. */
export function suiteAndCase(id: string): { suite: string; name: string } {
  const slash = id.indexOf('/');
  if (slash < 0) return { suite: 'iovh', name: id };
  return { suite: `iovh.${id.slice(0, slash)}`, name: id.slice(slash + 1) };
}

type Outcome = { element: 'failure' | 'error' | 'skipped'; type: string; message: string } | null;

function outcome(r: ScenarioResult): Outcome {
  const expected = r.baseline?.verdict === 'expected';
  if (isBad(r.status) && expected) {
    return { element: 'skipped', type: 'xfail', message: `expected ${r.status} (baseline): ${r.reason}` };
  }
  switch (r.status) {
    case 'pass':
      return null;
    case 'skip':
      return { element: 'skipped', type: 'skip', message: r.reason };
    case 'fail':
    case 'warn':
      return { element: 'failure', type: r.status, message: r.reason };
    case 'crash':
    case 'timeout':
      return { element: 'error', type: r.status, message: r.reason };
  }
}

/** Kernel log lines in an outcome's body: the complaints, then the last lines of the scenario's log. */
export const BODY_LOG_LINES = 40;

/** The text inside <failure>/<error>/<skipped>: why, the defects seen, and the kernel's side of it. */
export function outcomeBody(r: ScenarioResult): string {
  const lines = [r.reason];
  if (r.skip) lines.push(`to enable: ${r.skip.enable}`);
  for (const q of r.quirks)
    lines.push(`quirk${q.number !== null ? ` ${q.number}` : ''} ${q.id} (${q.title}): ${q.evidence}`);
  for (const b of r.bugs ?? []) lines.push(bugLine(b));
  if (r.error) lines.push(`error (${r.error.kind}): ${r.error.message}`);
  const complaints = r.cleanliness.kernelComplaints;
  if (complaints.length > 0) lines.push('kernel complaints:', ...complaints.slice(0, BODY_LOG_LINES));
  if (r.log.length > 0) {
    const tail = r.log.slice(-BODY_LOG_LINES);
    lines.push(
      tail.length < r.log.length
        ? `kernel log (last ${tail.length} of ${r.log.length} lines; all of them in <system-err>):`
        : 'kernel log:',
      ...tail,
    );
  }
  return lines.join('\n');
}

function details(r: ScenarioResult): string {
  const lines = [`status: ${r.status}`, `reason: ${r.reason}`];
  if (r.path) lines.push(`path: ${pathText(r)}${r.expectedPath ? ` (expected ${r.expectedPath})` : ''}`);
  if (r.skip) lines.push(`missing: ${r.skip.capability}; to enable: ${r.skip.enable}`);
  for (const q of r.quirks)
    lines.push(`quirk${q.number !== null ? ` ${q.number}` : ''} ${q.id} (${q.title}): ${q.evidence}`);
  for (const b of r.bugs ?? []) lines.push(bugLine(b));
  if (r.baseline)
    lines.push(
      `baseline: expected ${r.baseline.expected}, verdict ${r.baseline.verdict}${r.baseline.note ? ` (${r.baseline.note})` : ''}`,
    );
  const c = r.cleanliness;
  if (c.fdsLeft.length > 0) lines.push(`fds left open: ${c.fdsLeft.join(', ')}`);
  if (c.dmabufsLeft.length > 0) lines.push(`dma-bufs left: ${c.dmabufsLeft.join(', ')}`);
  if (c.taint.added.length > 0) lines.push(`taint added: ${c.taint.added.join('')}`);
  if (r.error) lines.push(`error (${r.error.kind}): ${r.error.message}`);
  lines.push(`evidence: ${JSON.stringify(r.evidence)}`);
  return lines.join('\n');
}

export function renderJunit(run: RunResult): string {
  const suites = new Map<string, ScenarioResult[]>();
  for (const r of run.scenarios) {
    const { suite } = suiteAndCase(r.id);
    const list = suites.get(suite) ?? [];
    list.push(r);
    suites.set(suite, list);
  }
  const count = (list: readonly ScenarioResult[], element: 'failure' | 'error' | 'skipped'): number =>
    list.filter((r) => outcome(r)?.element === element).length;
  const all = run.scenarios;
  const incomplete = run.complete ? 0 : 1;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites${attrs({
      name: 'iovh',
      tests: all.length + incomplete,
      failures: count(all, 'failure'),
      errors: count(all, 'error') + incomplete,
      time: seconds(run.durationMs),
    })}>`,
  );
  if (!run.complete) {
    // A report written while the run goes on: if it is the last one, the run died. One error says so, and which
    // scenarios have no result, so that a CI reading only JUnit does not take the finished ones for the whole run.
    const message = `the run had not finished when this report was written: no result yet for ${run.pending.join(', ')}`;
    out.push(
      `  <testsuite${attrs({ name: 'iovh.run', tests: 1, failures: 0, errors: 1, skipped: 0, time: seconds(run.durationMs), timestamp: run.startedAt.replace(/Z$/, '').replace(/\.\d+$/, ''), hostname: hostname() })}>`,
    );
    out.push(`    <testcase${attrs({ name: 'complete', classname: 'iovh.run', time: seconds(0) })}>`);
    out.push(`      <error${attrs({ type: 'incomplete', message })}>${xmlEscape(message)}</error>`);
    out.push('    </testcase>');
    out.push('  </testsuite>');
  }
  const host = hostname();
  for (const [suite, list] of suites) {
    const time = list.reduce((t, r) => t + r.durationMs, 0);
    out.push(
      `  <testsuite${attrs({
        name: suite,
        tests: list.length,
        failures: count(list, 'failure'),
        errors: count(list, 'error'),
        skipped: count(list, 'skipped'),
        time: seconds(time),
        timestamp: list[0]!.startedAt.replace(/Z$/, '').replace(/\.\d+$/, ''),
        hostname: host,
      })}>`,
    );
    out.push('    <properties>');
    const props: Record<string, string> = {
      'iovh.version': run.tool.version,
      'kernel.release': run.kernel.release ?? 'unknown',
      ...(run.kernel.shape ? { 'kernel.shape': run.kernel.shape.name } : {}),
      backend: run.backend.name,
      'backend.reason': run.backend.reason,
    };
    if (run.backend.profile) props['mock.profile'] = run.backend.profile;
    if (run.baseline) props.baseline = run.baseline.name;
    for (const [name, value] of Object.entries(props)) out.push(`      <property${attrs({ name, value })}/>`);
    out.push('    </properties>');
    for (const r of list) {
      const { name } = suiteAndCase(r.id);
      out.push(`    <testcase${attrs({ name, classname: suite, time: seconds(r.durationMs) })}>`);
      const o = outcome(r);
      if (o)
        out.push(
          `      <${o.element}${attrs({ type: o.type, message: o.message })}>${xmlEscape(outcomeBody(r))}</${o.element}>`,
        );
      out.push(`      <system-out>${xmlEscape(details(r))}</system-out>`);
      if (r.log.length > 0) out.push(`      <system-err>${xmlEscape(r.log.join('\n'))}</system-err>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
