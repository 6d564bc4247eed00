// Files and values a user gives get one clear line, never a crash, a hang or
// a silent guess (src/userfile.ts, docs/safety.md). Before: deeply nested
// JSON crashed the validators ("Maximum call stack size exceeded", exit 99);
// a FIFO nobody writes to as --topology or plan hung forever; a UTF-8 BOM
// was an invisible-token error; duplicate keys and "vfs": null were taken;
// baselines and state files took unknown top-level fields; a baseline of
// another profile or with unknown scenario ids was used silently; --filter
// '!x' excluded nothing silently; '1.001G' was "not a size"; a topology
// whose xe is not an SR-IOV PF made run exit 99.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../src/mock/topology.js';
import { Lab, iovh, withEnv } from './helpers.js';

const PF = '0000:03:00.0';
const BASELINES = join(import.meta.dirname, '../../baselines');
let lab: Lab;
beforeEach(() => {
  lab = new Lab();
});
afterEach(() => lab.remove());

/** Exit 2 and exactly one line on stderr, matching `message`. */
function oneLine(r: { code: number; err: string }, message: RegExp): void {
  expect(r.code, r.err).toBe(2);
  expect(r.err).toMatch(message);
  expect(r.err.split('\n')).toHaveLength(2);
}

describe('JSON files', () => {
  it('nesting deeper than 64 levels is one line, for a plan and a topology', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const plan = lab.file('deep-plan.json', `{"schema":"iovh-setup/1","pfs":[{"pf":"${PF}","vfs":${deep}}]}`);
    oneLine(await lab.run('setup', plan), /^iovh: .*deep-plan\.json: nested deeper than 64 levels at pfs\[0\]\.vfs/);
    const topo = lab.file('deep-topo.json', `{"schema":"iovh-topology/1","devices":${deep}}`);
    oneLine(
      await iovh('--backend', 'mock', '--topology', topo, 'topology'),
      /^iovh: topology .*deep-topo\.json: nested deeper than 64 levels at devices/,
    );
  });

  it('a UTF-8 byte order mark is accepted', async () => {
    const plan = lab.file(
      'bom.json',
      `\ufeff${JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 1 }] })}`,
    );
    const r = await lab.run('setup', plan);
    expect(r.code, r.err).toBe(0);
  });

  it('a key given twice is refused, naming it and where', async () => {
    const plan = lab.file('dup.json', `{"schema":"iovh-setup/1","pfs":[{"pf":"${PF}","numvfs":2,"numvfs":0}]}`);
    oneLine(await lab.run('setup', plan), /^iovh: .*dup\.json: pfs\[0\]: key "numvfs" given twice/);
  });

  it('"vfs": null is not "no VFs"', async () => {
    const plan = lab.file('null.json', JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, vfs: null }] }));
    oneLine(await lab.run('setup', plan), /^iovh: .*null\.json: pfs\[0\]\.vfs: expected an array, got null$/m);
  });

  it('unknown top-level fields in a baseline and in a state file', async () => {
    const base = JSON.parse(readFileSync(join(BASELINES, 'rfc-v1.json'), 'utf8')) as Record<string, unknown>;
    const file = lab.file('typo.json', JSON.stringify({ ...base, scenario: {} }));
    oneLine(
      await iovh('--backend', 'mock', 'run', '--baseline', file),
      /^iovh: baseline .*typo\.json: unknown top-level field "scenario"/,
    );
    expect((await lab.run('vfs', 'enable', PF, '1')).code).toBe(0);
    const state = JSON.parse(readFileSync(lab.state, 'utf8')) as Record<string, unknown>;
    writeFileSync(lab.state, JSON.stringify({ ...state, extra: 1 }));
    oneLine(await lab.run('topology'), /^iovh: state file .*: extra: unknown field/);
  });

  it('a FIFO nobody writes to is given up on after IOVH_READ_WAIT, in one line', async () => {
    const fifo = join(lab.dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    await withEnv({ IOVH_READ_WAIT: '0.2' }, async () => {
      oneLine(
        await iovh('--backend', 'mock', '--topology', fifo, 'topology'),
        /^iovh: topology .*fifo\.json: gave no data for 0\.2 s \(a FIFO or terminal nobody writes to\?\)/,
      );
      oneLine(await lab.run('setup', fifo), /fifo\.json: gave no data for 0\.2 s/);
    });
  });
});

describe('baselines that do not fit the run', () => {
  it('a baseline of another profile is named in one note', async () => {
    const r = await iovh(
      '--backend',
      'mock',
      '--profile',
      'upstream-7.1',
      'run',
      '--baseline',
      join(BASELINES, 'rfc-v1.json'),
      '--filter',
      'caps/*',
    );
    expect(r.code, r.err).toBe(0);
    // With the run's other notices, in its human output.
    expect(r.out).toContain(
      `iovh: note: judging mock profile upstream-7.1 by baseline ${join(BASELINES, 'rfc-v1.json')}, recorded for profile rfc-v1\n`,
    );
  });

  it('scenario ids this iovh does not have are named in one warning', async () => {
    const base = JSON.parse(readFileSync(join(BASELINES, 'rfc-v1.json'), 'utf8')) as {
      scenarios: Record<string, unknown>;
    };
    base.scenarios['export/renamed-long-ago'] = 'pass';
    const file = lab.file('old.json', JSON.stringify(base));
    const r = await iovh('--backend', 'mock', 'run', '--baseline', file, '--filter', 'caps/*');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(
      `iovh: warning: baseline ${file} lists 1 scenario this iovh does not have (export/renamed-long-ago); they are ignored\n`,
    );
  });
});

describe('values', () => {
  it.each([
    [['run', '--filter', '!expor/*'], "iovh: --filter '!expor/*' excludes no scenario (see iovh run --list)"],
    [['run', '--filter', 'caps/*', '--filter', 'improt/*'], "iovh: --filter 'improt/*' matches no scenario"],
    [
      ['provision', PF, '--vf', '1', '--vram', '1.001G'],
      "iovh: --vram: '1.001G' is not a whole number of bytes (a size must be; e.g. 1.5G is, 1.001G is not)",
    ],
    [
      ['provision', PF, '--vf', '1', '--vram', '0x10000000000000000'],
      "iovh: --vram: '0x10000000000000000' is more than 18446744073709551615 bytes",
    ],
    [
      ['provision', PF, '--vf', '1', '--vram', '0xffffffffffffffff'],
      'iovh: --vram: 18446744073709551615 B is not a multiple of 2 MiB',
    ],
  ])('%j', async (argv, message) => {
    const r = await iovh('--backend', 'mock', ...argv);
    expect(r.code, r.err).toBe(2);
    expect(r.err.startsWith(message), r.err).toBe(true);
    expect(r.err.split('\n')).toHaveLength(2);
  });
});

describe('a topology whose xe is not an SR-IOV PF', () => {
  it('run completes, skipping what needs VFs and saying why, instead of exit 99', async () => {
    const t = defaultTopology();
    t.devices[0]!.xe!.pfMode = false;
    const file = lab.file('no-pf-mode.json', JSON.stringify(t));
    const report = join(lab.dir, 'run.json');
    const r = await iovh('--backend', 'mock', 'run', '--topology', file, '--allow-skips', '--json', report);
    expect(r.code, r.err).toBe(0);
    const run = JSON.parse(readFileSync(report, 'utf8')) as {
      scenarios: { id: string; status: string; reason: string }[];
    };
    const single = run.scenarios.find((s) => s.id === 'export/single-range')!;
    expect(single.status).toBe('skip');
    expect(single.reason).toBe(`no VF bound to vfio-pci (PF ${PF} has 0 VFs enabled)`);
  });
});
