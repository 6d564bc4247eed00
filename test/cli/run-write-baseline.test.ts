// iovh run --write-baseline FILE: a lab records what its kernel does, and
// later runs against that file report only what changed. A run that did not
// finish leaves a file loadBaseline refuses, naming why.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBaseline } from '../../src/harness/baseline.js';
import { renderBaseline } from '../../src/report/baseline.js';
import type { RunResult } from '../../src/report/model.js';
import { iovh } from './run-cli.js';
import { scratchDir } from '../support/scratch.js';

const FILTER = ['--filter', 'edge/*', '--filter', 'export/single-range'];

describe('iovh run --write-baseline', () => {
  it('records every status with its quirks; a run against it is all expected; a kernel that changed is reported as fixed', async () => {
    const d = scratchDir('iovh-write-baseline-');
    const file = join(d, 'lab.json');
    const json = join(d, 'run.json');
    const first = await iovh(
      'run',
      '--backend',
      'mock',
      '--profile',
      'rfc-v1',
      '--no-baseline',
      '--write-baseline',
      file,
      '--json',
      json,
      ...FILTER,
    );
    // Without a baseline the RFC's defects are unexpected failures: exit 1, and the baseline records them.
    expect(first.code).toBe(1);
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    const recorded = loadBaseline(file);
    expect(recorded.name).toBe(`recorded-${run.kernel.release}`);
    expect([...recorded.scenarios.keys()]).toEqual(run.scenarios.map((r) => r.id));
    for (const r of run.scenarios) {
      expect(recorded.scenarios.get(r.id)).toMatchObject({
        status: r.status,
        quirks: r.quirks.map((q) => q.id).sort(),
      });
    }
    expect(run.scenarios.some((r) => r.status === 'fail' && r.quirks.length > 0)).toBe(true);

    const again = await iovh('run', '--backend', 'mock', '--profile', 'rfc-v1', '--baseline', file, ...FILTER);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/exit 0: no unexpected result/);

    // The same baseline on a kernel that behaves otherwise (the RFC fixed): what changed is reported as such.
    const fixed = await iovh(
      'run',
      '--backend',
      'mock',
      '--profile',
      'fixed',
      '--baseline',
      file,
      '--json',
      json,
      ...FILTER,
    );
    const judged = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    expect(judged.scenarios.filter((r) => r.baseline?.verdict === 'fixed').map((r) => r.id)).toContain(
      'edge/last-page',
    );
    expect(fixed.code).toBe(0);
  });

  it('a run that did not finish writes a file that cannot be loaded as a baseline, saying why', () => {
    const d = scratchDir('iovh-write-baseline-');
    const partial = {
      complete: false,
      interrupted: { signal: 'SIGINT' },
      kernel: { release: '7.2.0', version: null, cmdline: null },
      backend: { name: 'native', reason: 'test', profile: null },
      tool: { name: 'iovh', version: '0', node: process.version },
      startedAt: '2026-11-24T00:00:00.000Z',
      scenarios: [{ id: 'caps/kernel', status: 'pass', quirks: [], reason: '', evidence: {} }],
    } as unknown as RunResult;
    const file = join(d, 'b.json');
    writeFileSync(file, renderBaseline(partial));
    expect(() => loadBaseline(file)).toThrow(
      /written by iovh run --write-baseline for a run that did not finish \(the run was interrupted by SIGINT\); run it again/,
    );
  });
});
