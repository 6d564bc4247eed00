// --pf/--vf must name a PF/VF of this machine (checked right after the
// backend opens: exit 2, one line), and a scenario the baseline expects to
// pass that skips is unexpected (exit 1) unless --allow-skips.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { iovh } from './run-cli.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

describe('iovh run --pf/--vf against the machine', () => {
  it.each([
    [['--vf', '0000:99:00.0'], 'iovh: --vf 0000:99:00.0: no PCI device at that address; see `iovh topology`\n'],
    [['--vf', '0000:03:00.0'], 'iovh: --vf 0000:03:00.0 is a PF, not a VF (use --pf)\n'],
    [['--pf', '0000:03:00.1'], 'iovh: --pf 0000:03:00.1 is a VF (of PF 0000:03:00.0), not a PF\n'],
    [['--pf', '0000:99:00.0'], 'iovh: --pf 0000:99:00.0: no PCI device at that address; see `iovh topology`\n'],
  ])('%j: usage error, exit 2, nothing run', async (args, message) => {
    const r = await iovh('run', '--backend', 'mock', ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(message);
    expect(r.stdout).toBe('');
  });

  it('a --pf and --vf that exist and belong together run', async () => {
    const r = await iovh(
      'run',
      '--backend',
      'mock',
      '--profile',
      'fixed',
      '--pf',
      '03:00.0',
      '--vf',
      '0000:03:00.1',
      '--filter',
      'export/single-range',
    );
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('a baseline pass that now skips', () => {
  // The upstream profile has no interconnect: its IOV scenarios skip. A baseline that expects them to pass
  // stands for a lab whose kernel used to have what they need.
  const upstream = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../baselines/upstream-7.1.json', import.meta.url)), 'utf8'),
  ) as { scenarios: Record<string, unknown> };
  const dir = scratchDir('iovh-run-skips-');
  const baseline = join(dir, 'lab.json');
  writeFileSync(
    baseline,
    JSON.stringify({
      ...upstream,
      name: 'lab',
      scenarios: { ...upstream.scenarios, 'import/iov-single-range': 'pass', 'import/iov-multi-range': 'pass' },
    }),
  );
  const args = [
    'run',
    '--backend',
    'mock',
    '--profile',
    'upstream-7.1',
    '--baseline',
    baseline,
    '--filter',
    'import/iov-*-range',
    '--filter',
    'export/single-range',
  ];

  it('is unexpected: exit 1, and the summary names it', async () => {
    const json = join(dir, 'r1.json');
    const r = await iovh(...args, '--json', json);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /skipped where the baseline expects a pass, so not checked \(unexpected; --allow-skips accepts that\): import\/iov-single-range, import\/iov-multi-range/,
    );
    const run = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
    expect(run.summary).toMatchObject({
      exitCode: 1,
      unexpected: [],
      skippedPasses: ['import/iov-single-range', 'import/iov-multi-range'],
      skipsAllowed: false,
    });
    expect(run.summary.exitReason).toBe(
      '2 scenarios the baseline expects to pass skipped: import/iov-single-range, import/iov-multi-range (--allow-skips accepts that)',
    );
  });

  it('--allow-skips accepts it: exit 0, still said', async () => {
    const r = await iovh(...args, '--allow-skips');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /exit 0: no unexpected result; 2 scenarios the baseline expects to pass skipped: .*, accepted by --allow-skips/,
    );
  });
});
