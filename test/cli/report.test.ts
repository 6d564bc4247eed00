// `iovh report RESULTS.json`: every format re-rendered from a results file,
// byte for byte what the run itself wrote, running nothing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const { iovh } = await import('./run-cli.js');

const dir = mkdtempSync(join(tmpdir(), 'iovh-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => join(dir, name);

beforeAll(async () => {
  const r = await iovh(
    'run',
    '--backend',
    'mock',
    '--filter',
    'export/*',
    '--filter',
    'edge/*',
    '--json',
    at('r.json'),
    '--junit',
    at('r.xml'),
    '--ktap',
    at('r.ktap'),
    '--kcidb',
    at('r.kcidb.json'),
    '--kcidb-origin',
    'lab',
    '--write-baseline',
    at('r.baseline.json'),
  );
  if (r.code !== 0) throw new Error(`iovh run: ${r.code} ${r.stderr}`);
}, 60_000);

describe('iovh report', () => {
  it('re-renders every format exactly as the run wrote it', async () => {
    const r = await iovh(
      'report',
      at('r.json'),
      '--json',
      at('a.json'),
      '--junit',
      at('a.xml'),
      '--ktap',
      at('a.ktap'),
      '--kcidb',
      at('a.kcidb.json'),
      '--kcidb-origin',
      'lab',
      '--write-baseline',
      at('a.baseline.json'),
    );
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    for (const [a, b] of [
      ['a.json', 'r.json'],
      ['a.xml', 'r.xml'],
      ['a.ktap', 'r.ktap'],
      ['a.kcidb.json', 'r.kcidb.json'],
      ['a.baseline.json', 'r.baseline.json'],
    ])
      expect(readFileSync(at(a!), 'utf8'), a).toBe(readFileSync(at(b!), 'utf8'));
  });

  it('prints the table and summary by default, and a report on stdout with -', async () => {
    const table = await iovh('report', at('r.json'));
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/│ edge\/last-page +│ crash +│ iov /);
    expect(table.stdout).toMatch(/^exit 0: no unexpected result/m);
    const ktap = await iovh('report', at('r.json'), '--ktap', '-');
    expect(ktap.stdout).toBe(readFileSync(at('r.ktap'), 'utf8'));
  });

  it("--exit-status exits with the run's own status", async () => {
    const j = JSON.parse(readFileSync(at('r.json'), 'utf8'));
    j.summary.exitCode = 1;
    writeFileSync(at('failed.json'), JSON.stringify(j));
    expect((await iovh('report', at('failed.json'))).code).toBe(0);
    expect((await iovh('report', at('failed.json'), '--exit-status')).code).toBe(1);
  });

  it('refuses, in one line and exit 2, a report over its input, two reports in one file, and a bad input', async () => {
    const over = await iovh('report', at('r.json'), '--junit', at('r.json'));
    expect(over.code).toBe(2);
    expect(over.stderr).toBe(
      `iovh: --junit names the results file itself (${at('r.json')}): write the report to another file\n`,
    );
    const twice = await iovh('report', at('r.json'), '--junit', at('x'), '--ktap', at('x'));
    expect(twice.stderr).toMatch(/^iovh: --junit and --ktap name the same file/);
    writeFileSync(at('bad.json'), '{"schema": "iovh-run/1"}');
    const bad = await iovh('report', at('bad.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`iovh: ${at('bad.json')}: not an iovh run result: tool: is required\n`);
    expect(readFileSync(at('r.json'), 'utf8')).toMatch(/"schema": "iovh-run\/1"/);
  });

  it('opens no backend', async () => {
    vi.resetModules();
    vi.doMock('../../src/backend/select.js', () => ({
      openBackend: () => {
        throw new Error('iovh report opened a backend');
      },
      BackendChoiceError: class extends Error {},
    }));
    const { iovh: isolated } = await import('./run-cli.js');
    expect((await isolated('report', at('r.json'), '--ktap', at('b.ktap'))).code).toBe(0);
    vi.doUnmock('../../src/backend/select.js');
  });
});
