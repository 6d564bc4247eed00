import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BODY_LOG_LINES, renderJunit, suiteAndCase, xmlEscape } from '../../src/report/junit.js';
import { emptyCleanliness } from '../../src/report/model.js';
import { mixedRun, run, scenario } from './fixture.js';
import { scratchDir } from '../support/scratch.js';

const XSD = fileURLToPath(new URL('../fixtures/junit.xsd', import.meta.url));
const xmllint = spawnSync('xmllint', ['--version']).status === 0;

function validate(xml: string): { ok: boolean; output: string } {
  const dir = scratchDir('iovh-junit-');
  const file = join(dir, 'report.xml');
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('JUnit XML', () => {
  it.skipIf(!xmllint)('validates against the common JUnit schema (xmllint; install libxml2-utils to run this)', () => {
    const v = validate(renderJunit(mixedRun()));
    expect(v.output).toContain('validates');
    expect(v.ok).toBe(true);
  });

  it.skipIf(!xmllint)('the schema check can fail: a testcase without a name is rejected', () => {
    const bad = renderJunit(mixedRun()).replace(/<testcase name="[^"]*"/, '<testcase');
    expect(validate(bad).ok).toBe(false);
  });

  it.skipIf(!xmllint)('validates an empty run and is well-formed with hostile text', () => {
    expect(validate(renderJunit(run([]))).ok).toBe(true);
    const xml = renderJunit(run([scenario({ id: 'x/y', status: 'fail', reason: 'a]]>b <c> & "d" \u0000\u001b[31m' })]));
    expect(validate(xml).ok).toBe(true);
    execFileSync('xmllint', ['--noout', '-'], { input: xml });
  });

  it('maps statuses to failure, error and skipped, and known failures to xfail', () => {
    const xml = renderJunit(mixedRun());
    const testcase = (name: string): string => {
      const m = new RegExp(`<testcase name="${name}"[^>]*>([\\s\\S]*?)</testcase>`).exec(xml);
      if (!m) throw new Error(`no testcase ${name}`);
      return m[1]!;
    };
    expect(testcase('single-range')).not.toMatch(/<(failure|error|skipped)/);
    expect(testcase('iov-single-range')).toMatch(/<skipped type="skip"/);
    expect(testcase('last-page')).toMatch(/<skipped type="xfail" message="expected fail \(baseline\)/);
    expect(testcase('unprovisioned-vf')).toMatch(/<skipped type="xfail"/);
    expect(testcase('gpu-write-cpu-read')).toMatch(/<failure type="fail"/);
    expect(testcase('fds-and-buffers')).toMatch(/<failure type="warn"/);
    expect(testcase('revoke-on-reset')).toMatch(/<error type="timeout"/);
    expect(testcase('npot-ranges')).not.toMatch(/<(failure|error|skipped)/);
    // totals: 2 failures (fail, warn) + 1 harness fail = 3; 1 error (timeout)
    expect(xml).toMatch(/<testsuites name="iovh" tests="10" failures="3" errors="1"/);
    expect(xml).toContain('<system-err>xe 0000:03:00.0: bell and &lt;tag&gt; &amp; stuff</system-err>');
  });

  it('puts the reason, the defects and the kernel log in the outcome body (GitLab shows only that)', () => {
    const xml = renderJunit(
      run([
        scenario({
          id: 'edge/unprovisioned-vf',
          status: 'crash',
          reason: 'kernel oops during import',
          quirks: [{ id: 'unprovisioned-oops', number: 4, title: 'unprovisioned VF', evidence: 'Oops in xe' }],
          cleanliness: { ...emptyCleanliness(), kernelComplaints: ['BUG: kernel NULL pointer dereference'] },
          log: Array.from({ length: 50 }, (_, i) => `line ${i} <x>`),
        }),
      ]),
    );
    const body = /<error type="crash" message="kernel oops during import">([\s\S]*?)<\/error>/.exec(xml)?.[1];
    expect(body).toBeDefined();
    expect(body!.split('\n')).toEqual([
      'kernel oops during import',
      'quirk 4 unprovisioned-oops (unprovisioned VF): Oops in xe',
      'kernel complaints:',
      'BUG: kernel NULL pointer dereference',
      `kernel log (last ${BODY_LOG_LINES} of 50 lines; all of them in &lt;system-err&gt;):`,
      ...Array.from({ length: BODY_LOG_LINES }, (_, i) => `line ${50 - BODY_LOG_LINES + i} &lt;x&gt;`),
    ]);
  });

  it('escapes markup and drops characters XML cannot carry', () => {
    expect(xmlEscape('<a href="x">&\'\u0000\u0007ok')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;ok');
    expect(suiteAndCase('export/single-range')).toEqual({ suite: 'iovh.export', name: 'single-range' });
    expect(suiteAndCase('odd')).toEqual({ suite: 'iovh', name: 'odd' });
  });
});
