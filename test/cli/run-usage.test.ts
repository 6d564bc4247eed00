import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iovh } from './run-cli.js';

describe('iovh run: bad input is a one-line usage error, exit 2, before anything runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iovh-run-usage-'));
  const badBaseline = join(dir, 'bad.json');
  writeFileSync(badBaseline, '{"schema":"iovh-baseline/1","name":"x","scenarios":{"a/b":"maybe"}}');
  it.each([
    [['--pf', '3:0.0'], /^iovh: --pf '3:0.0' is not a PCI address/],
    [['--vf', '0000:03:00.8'], /^iovh: --vf '0000:03:00.8' is not a PCI address/],
    [['--timeout', 'soon'], /^iovh: --timeout must be a positive number of seconds, got 'soon'/],
    [['--timeout', '0'], /^iovh: --timeout must be a positive/],
    [['--filter', 'nothing/*'], /^iovh: no scenario matches --filter 'nothing\/\*'/],
    [['--filter', 'edge/[abc'], /^iovh: --filter 'edge\/\[abc': unclosed/],
    [['--json', '-', '--ktap', '-'], /^iovh: only one report can go to stdout/],
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

  it('an unknown option is a usage error too', async () => {
    const r = await iovh('run', '--frobnicate');
    expect(r.code).toBe(2);
  });
});
