// Reports, baselines, captures and the mock's state file are durable once
// iovh says they are written: the temporary file is fsynced before it is
// renamed over the name, and the directory after (src/outfile.ts), as the
// journal is. Before, they were renamed unsynced: a kernel panic right after
// could leave an empty file where the old one was. The fs calls are observed
// in order through a wrapper of node:fs.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const events: string[] = [];
const fdPath = new Map<number, string>();
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const wrapped = {
    ...fs,
    openSync: (path: string, ...rest: unknown[]) => {
      const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
      fdPath.set(fd, String(path));
      return fd;
    },
    fsyncSync: (fd: number) => {
      events.push(`fsync ${fdPath.get(fd) ?? fd}`);
      return fs.fsyncSync(fd);
    },
    renameSync: (from: string, to: string) => {
      events.push(`rename ${from} -> ${to}`);
      return fs.renameSync(from, to);
    },
  };
  return { ...wrapped, default: wrapped };
});

const { Lab, iovh } = await import('./helpers.js');

let lab: InstanceType<typeof Lab>;
beforeEach(() => {
  lab = new Lab();
  events.length = 0;
});
afterEach(() => lab.remove());

/** The temporary file renamed over `file` was fsynced before the rename, and `file`'s directory after it. */
function durable(file: string): void {
  const rename = events.findIndex((e) => e.startsWith('rename ') && e.endsWith(` -> ${file}`));
  expect(rename, events.join('\n')).toBeGreaterThanOrEqual(0);
  const tmp = events[rename]!.slice('rename '.length, events[rename]!.indexOf(' -> '));
  expect(events.slice(0, rename)).toContain(`fsync ${tmp}`);
  expect(events.slice(rename + 1)).toContain(`fsync ${lab.dir}`);
}

describe('what iovh writes is fsynced before it replaces the old file', () => {
  it('capture --out', async () => {
    const out = join(lab.dir, 'capture.json');
    expect((await iovh('--backend', 'mock', 'capture', '--out', out)).code).toBe(0);
    durable(out);
  });

  it('run --json, --write-baseline', async () => {
    const json = join(lab.dir, 'report.json');
    const baseline = join(lab.dir, 'baseline.json');
    const r = await iovh(
      '--backend',
      'mock',
      'run',
      '--filter',
      'caps/*',
      '--json',
      json,
      '--write-baseline',
      baseline,
    );
    expect(r.code, r.err).toBe(0);
    durable(json);
    durable(baseline);
  });

  it('the mock state file', async () => {
    expect((await lab.run('vfs', 'enable', '0000:03:00.0', '1')).code).toBe(0);
    durable(lab.state);
  });
});
