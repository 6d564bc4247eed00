import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iovh } from './run-cli.js';
import { parseTimeout } from '../../src/cli/commands/run.js';
import { scratchDir } from '../support/scratch.js';

describe('iovh run: bad input is a one-line usage error, exit 2, before anything runs', () => {
  const dir = scratchDir('iovh-run-usage-');
  const badBaseline = join(dir, 'bad.json');
  writeFileSync(badBaseline, '{"schema":"iovh-baseline/1","name":"x","scenarios":{"a/b":"maybe"}}');
  it.each([
    [['--pf', '3:0.0'], /^iovh: --pf '3:0.0' is not a PCI address/],
    [['--vf', '0000:03:00.8'], /^iovh: --vf '0000:03:00.8' is not a PCI address/],
    [['--timeout', 'soon'], /^iovh: --timeout must be a number of seconds from 0.001 to 2147483, got 'soon'/],
    [['--timeout', '0'], /^iovh: --timeout must be a number of seconds from 0.001 to 2147483, got '0'\n/],
    // Below a millisecond a timer is 0 ms; above 2^31-1 ms Node makes it 1 ms (TimeoutOverflowWarning).
    [['--timeout', '0.0001'], /^iovh: --timeout must be .*got '0.0001'\n/],
    [['--timeout', '3000000'], /^iovh: --timeout must be .*got '3000000'\n/],
    [['--timeout', '2147483.5'], /^iovh: --timeout must be .*got '2147483.5'\n/],
    [['--filter', 'nothing/*'], /^iovh: no scenario matches --filter 'nothing\/\*'/],
    [['--filter', 'edge/[abc'], /^iovh: --filter 'edge\/\[abc': unclosed/],
    [['--json', '-', '--ktap', '-'], /^iovh: only one report can go to stdout/],
    [
      ['--json', join(dir, 'r'), '--junit', join(dir, 'r')],
      /^iovh: --json and --junit name the same file \(.*\/r\): give each report its own\n$/,
    ],
    [
      ['--ktap', join(dir, 'k'), '--write-baseline', join(dir, '.', 'k')],
      /^iovh: --ktap and --write-baseline name the same file/,
    ],
    [['--baseline', join(dir, 'missing.json')], /^iovh: baseline .*missing\.json: cannot read it \(ENOENT\)/],
    [['--baseline', badBaseline], /^iovh: baseline .*bad\.json: scenarios\["a\/b"\] must be a status/],
    [['--kcidb', '-', '--kcidb-origin', 'Lab One'], /^iovh: --kcidb-origin must match/],
    [['--profile', 'rfc-v9', '--backend', 'mock'], /^iovh: unknown profile 'rfc-v9'/],
  ])('%j', async (args, message) => {
    const r = await iovh('run', ...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the --timeout bounds themselves are accepted', () => {
    expect(parseTimeout('0.001')).toBe(1);
    expect(parseTimeout('2147483')).toBe(2_147_483_000);
    expect(parseTimeout('60')).toBe(60_000);
  });

  it('an unknown option is a usage error too', async () => {
    const r = await iovh('run', '--frobnicate');
    expect(r.code).toBe(2);
  });
});

describe('a malformed IOVH_VF_TOKEN is a one-line usage error before any command runs', () => {
  it.each([
    ['run', '--backend', 'mock', '--filter', 'caps/*'],
    ['doctor', '--backend', 'mock'],
  ])('%j', async (...args) => {
    const saved = process.env.IOVH_VF_TOKEN;
    process.env.IOVH_VF_TOKEN = 'not-a-uuid';
    try {
      const r = await iovh(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        "iovh: IOVH_VF_TOKEN 'not-a-uuid' is not a UUID (32 hex digits as 8-4-4-4-12, such as bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3)\n",
      );
    } finally {
      if (saved === undefined) delete process.env.IOVH_VF_TOKEN;
      else process.env.IOVH_VF_TOKEN = saved;
    }
  });
});
