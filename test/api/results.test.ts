// readResults: a results file, read bounded and checked against the schema;
// anything else is one line naming the file and the first problem.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseResults, readResults, ResultsFileError } from '../../src/api/results.js';
import { InputError } from '../../src/host/errors.js';
import { renderJson } from '../../src/report/json.js';
import { mixedRun } from '../report/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'iovh-results-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const good = (): Record<string, unknown> => JSON.parse(renderJson(mixedRun()));

describe('readResults', () => {
  it('reads what iovh run --json writes, unchanged', () => {
    const run = mixedRun();
    expect(readResults(file('ok.json', renderJson(run)))).toEqual(JSON.parse(renderJson(run)));
  });

  it('reads a file from before kernel.shape and summary.skippedPasses existed', () => {
    const old = good();
    delete (old.kernel as Record<string, unknown>).shape;
    delete (old.summary as Record<string, unknown>).skippedPasses;
    delete (old.summary as Record<string, unknown>).skipsAllowed;
    const run = parseResults(JSON.stringify(old), 'old.json');
    expect(run.kernel.shape).toBeNull();
    expect(run.summary).toMatchObject({ skippedPasses: [], skipsAllowed: false });
  });

  const broken: [string, (j: Record<string, unknown>) => unknown, RegExp][] = [
    [
      'a status that is not one',
      (j) => ((j.scenarios as { status: string }[])[3]!.status = 'ok'),
      /: scenarios\[3\]\.status: expected one of pass, fail, skip, warn, crash, timeout, got "ok"$/,
    ],
    ['a missing field', (j) => delete j.summary, /: summary: is required$/],
    [
      'a wrong type',
      (j) => ((j.options as { timeoutSec: unknown }).timeoutSec = '60'),
      /: options\.timeoutSec: expected a number, got "60"$/,
    ],
    ['a null where an object is needed', (j) => (j.kernel = null), /: kernel: expected an object, got null$/],
    [
      'another version',
      (j) => (j.schema = 'iovh-run/2'),
      /schema 'iovh-run\/2' is not iovh-run\/1 \(written by another version of iovh\)$/,
    ],
    ['another file', (j) => (j.schema = 'iovh-baseline/1'), /schema 'iovh-baseline\/1' is not iovh-run\/1$/],
  ];
  it.each(broken)('%s is one line naming the file and where', (name, edit, message) => {
    const j = good();
    edit(j);
    const p = file(`${name.replace(/\W+/g, '-')}.json`, JSON.stringify(j));
    let error: unknown;
    try {
      readResults(p);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ResultsFileError);
    expect(error).toBeInstanceOf(InputError);
    const msg = (error as Error).message;
    expect(msg.startsWith(p)).toBe(true);
    expect(msg).not.toContain('\n');
    expect(msg).toMatch(message);
  });

  it('refuses what is not JSON, a directory and an endless file, naming the file', () => {
    expect(() => readResults(file('t.json', '{"schema": "iovh-run/1",'))).toThrow(/t\.json: not JSON \(/);
    const sub = join(dir, 'adir');
    mkdirSync(sub);
    expect(() => readResults(sub)).toThrow(new RegExp(`^results file ${sub}: cannot read it \\(EISDIR\\)$`));
    expect(() => readResults('/dev/zero')).toThrow(/^results file \/dev\/zero: too large for a results file/);
    expect(() => readResults(join(dir, 'none.json'))).toThrow(/cannot read it \(ENOENT\)$/);
  });
});
