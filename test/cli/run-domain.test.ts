// A GPU behind Intel VMD lives in a PCI domain past 0xffff, which the kernel
// names with more than four digits (`10000:e1:00.0`, src/uapi/bdf.ts). The
// mock can be such a machine, and every command reads its addresses the same
// way: `iovh topology` lists them, `iovh run --pf/--vf` takes them in any
// accepted spelling and runs, and a malformed one is one line and exit 2.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { iovh } from './run-cli.js';
import { defaultTopology } from '../../src/mock/topology.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const PF = '10000:e1:00.0';
const VF = '10000:e1:00.1';

function vmdTopology(): string {
  const t = defaultTopology();
  const pf = t.devices[0]!;
  pf.bdf = PF;
  pf.parent = 'pci10000:e0/10000:e0:00.0';
  // VMD's root port, with ACS as the default machine's (the default's bridges sit on a path no device has now).
  t.bridges = [{ bdf: '10000:e0:00.0', acs: '0x1f' }];
  const file = join(scratchDir('iovh-vmd-'), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

describe('a PF in a VMD domain (past 0xffff)', () => {
  const topology = vmdTopology();

  it("boots on the mock with the kernel's names and sysfs paths", async () => {
    const r = await iovh('topology', '--backend', 'mock', '--topology', topology, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`"${PF}"`);
    expect(r.stdout).not.toMatch(/"0000:e1:00\.0"/);
  });

  it.each([
    [PF, VF],
    ['10000:E1:00.0', ' 10000:e1:00.1 '],
    ['00010000:e1:00.0', '00010000:e1:00.1'],
  ])('iovh run --pf %j --vf %j runs against it', async (pf, vf) => {
    const r = await iovh(
      'run',
      '--backend',
      'mock',
      '--topology',
      topology,
      '--profile',
      'fixed',
      '--pf',
      pf,
      '--vf',
      vf,
      '--filter',
      'export/single-range',
      '--json',
      '-',
    );
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as RunResult;
    const result = run.scenarios.find((s) => s.id === 'export/single-range')!;
    expect(result.status, JSON.stringify(result)).toBe('pass');
    expect(JSON.stringify(run)).toContain(`"${VF}"`);
  });

  it.each(['100000000:e1:00.0', '10000:e1:20.0', '1000:e1:00.0.0'])('--pf %j is a one-line usage error', async (pf) => {
    const r = await iovh('run', '--backend', 'mock', '--topology', topology, '--pf', pf);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/^iovh: --pf .* is not a PCI address/);
    expect(r.stdout).toBe('');
  });
});
