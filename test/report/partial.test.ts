// Reports of a run that has not finished (RunResult.complete false: written
// after each scenario, and left as they are by a run that dies): every format
// stays valid and says what has no result yet.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderKtap } from '../../src/report/ktap.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderKcidb } from '../../src/report/kcidb.js';
import { renderJson } from '../../src/report/json.js';
import { lavaCases } from '../../scripts/lava/lava-cases.mjs';
import { parseKtap } from './ktap-parser.js';
import { run, scenario } from './fixture.js';
import { scratchDir } from '../support/scratch.js';

const XSD = fileURLToPath(new URL('../fixtures/junit.xsd', import.meta.url));
const xmllint = spawnSync('xmllint', ['--version']).status === 0;

const partial = run(
  [scenario({ id: 'caps/kernel', status: 'pass' }), scenario({ id: 'edge/unprovisioned-vf', status: 'crash' })],
  {
    complete: false,
    pending: ['export/single-range', 'lifecycle/revoke-on-close'],
  },
);

describe('a report of a run that has not finished', () => {
  it('JSON: complete false, the pending ids, and a summary that is never exit 0', () => {
    const j = JSON.parse(renderJson(partial)) as typeof partial;
    expect(j).toMatchObject({ complete: false, pending: ['export/single-range', 'lifecycle/revoke-on-close'] });
    expect(j.summary.exitCode).toBe(1);
    expect(j.summary.exitReason).toMatch(/^incomplete: 2 of 4 scenarios have no result/);
  });

  it('KTAP: the plan counts every scenario, the results only those that finished, and a line says so', () => {
    const text = renderKtap(partial);
    // A parser sees the missing results (kunit.py counts them as crashed): the point.
    expect(parseKtap(text)).toMatchObject({ plan: 4, missing: 2 });
    expect(
      text
        .split('\n')
        .filter((l) => /^(not )?ok \d+ /.test(l))
        .map((l) => l.replace(/ #.*$/, '')),
    ).toEqual(['ok 1 caps/kernel', 'not ok 2 edge/unprovisioned-vf']);
    expect(text).toContain('# incomplete: no result yet for export/single-range, lifecycle/revoke-on-close');
    // The finished report of the same run parses.
    expect(parseKtap(renderKtap({ ...partial, complete: true, pending: [] })).plan).toBe(2);
  });

  it('JUnit: one more test, iovh.run/complete, in error, naming the pending scenarios', () => {
    const xml = renderJunit(partial);
    expect(xml).toMatch(/<testsuites name="iovh" tests="3" failures="0" errors="2"/);
    expect(xml).toContain('<testcase name="complete" classname="iovh.run"');
    expect(xml).toMatch(
      /<error type="incomplete" message="the run had not finished when this report was written: no result yet for export\/single-range, lifecycle\/revoke-on-close">the run had not finished/,
    );
    expect(renderJunit(run([scenario({ id: 'a/b', status: 'pass' })]))).not.toContain('iovh.run');
  });

  it.skipIf(!xmllint)('JUnit: still validates against the schema (xmllint)', () => {
    const file = join(scratchDir('iovh-partial-'), 'r.xml');
    writeFileSync(file, renderJunit(partial));
    expect(spawnSync('xmllint', ['--noout', '--schema', XSD, file]).status).toBe(0);
  });

  it('KCIDB: the pending scenarios are MISS', () => {
    const k = JSON.parse(renderKcidb(partial)) as { tests: { path: string; status: string }[] };
    expect(k.tests.map((t) => [t.path, t.status])).toEqual([
      ['iovh.caps.kernel', 'PASS'],
      ['iovh.edge.unprovisioned-vf', 'FAIL'],
      ['iovh.export.single-range', 'MISS'],
      ['iovh.lifecycle.revoke-on-close', 'MISS'],
    ]);
  });

  it('LAVA: the pending scenarios are unknown, the verdict fail', () => {
    const cases = lavaCases(JSON.parse(renderJson(partial)));
    expect(cases.map((c) => `${c.name} ${c.result}`)).toEqual([
      'caps.kernel pass',
      'edge.unprovisioned-vf fail',
      'export.single-range unknown',
      'lifecycle.revoke-on-close unknown',
      'iovh-verdict fail',
    ]);
  });
});
