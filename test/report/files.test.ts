// Report files: a placeholder before the run, atomic rewrites (a temporary
// file renamed over the report, never half a report), links followed rather
// than replaced, non-regular files (a character device) written once at the end.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ReportFileError, ReportFiles, type ReportSpec } from '../../src/report/files.js';
import { run, scenario } from './fixture.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const text = (r: RunResult): string => `${r.complete ? 'complete' : 'partial'} ${r.scenarios.length}\n`;

function spec(path: string, what = 'JSON'): ReportSpec {
  return { what, path, render: text };
}

const placeholder = run([], { complete: false, pending: ['a/b', 'a/c'] });

describe('report files', () => {
  it('hold a placeholder from the start, then each rewrite, then the final report; no temporary file stays', () => {
    const d = scratchDir('iovh-files-');
    const path = join(d, 'r.json');
    const files = ReportFiles.open([spec(path)], placeholder);
    expect(readFileSync(path, 'utf8')).toBe('partial 0\n');
    expect(
      files.rewrite(run([scenario({ id: 'a/b', status: 'pass' })], { complete: false, pending: ['a/c'] })),
    ).toEqual([]);
    expect(readFileSync(path, 'utf8')).toBe('partial 1\n');
    files.write(run([scenario({ id: 'a/b', status: 'pass' }), scenario({ id: 'a/c', status: 'pass' })]), () => true);
    expect(readFileSync(path, 'utf8')).toBe('complete 2\n');
    expect(readdirSync(d)).toEqual(['r.json']);
  });

  it('a symlinked report stays a link: its target is written', () => {
    const d = scratchDir('iovh-files-');
    const link = join(d, 'latest.json');
    symlinkSync('run-1.json', link);
    const files = ReportFiles.open([spec(link)], placeholder);
    files.write(run([]), () => true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('run-1.json');
    expect(readFileSync(join(d, 'run-1.json'), 'utf8')).toBe('complete 0\n');
  });

  // A node of the test's own (the null device's numbers, 1:3) in a scratch directory: a test that fails here must
  // not leave this machine without its /dev/null. Making one needs root (CAP_MKNOD).
  it('a character device is checked, not renamed over, and written once at the end', (ctx) => {
    const d = scratchDir('iovh-files-');
    const dev = join(d, 'null');
    try {
      execFileSync('mknod', [dev, 'c', '1', '3'], { stdio: 'ignore' });
    } catch {
      ctx.skip('mknod needs root (CAP_MKNOD)');
    }
    const before = lstatSync(dev);
    const files = ReportFiles.open([spec(dev)], placeholder);
    expect(files.rewrite(placeholder)).toEqual([]);
    files.write(run([]), () => true);
    const after = lstatSync(dev);
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.ino, after.rdev]).toEqual([before.ino, before.rdev]);
  });

  it('stdout gets only the final report, through the caller; a closed stdout is an error after the files are written', () => {
    const d = scratchDir('iovh-files-');
    const out: string[] = [];
    const files = ReportFiles.open([spec('-', 'KTAP'), spec(join(d, 'r.json'))], placeholder);
    files.rewrite(placeholder);
    expect(out).toEqual([]);
    files.write(run([]), (t) => (out.push(t), true));
    expect(out).toEqual(['complete 0\n']);
    expect(() => files.write(run([]), () => false)).toThrow(/cannot write the KTAP report to stdout: it was closed/);
    expect(readFileSync(join(d, 'r.json'), 'utf8')).toBe('complete 0\n');
  });

  it('an unwritable path fails at open, naming the report, the path and the errno', () => {
    const d = scratchDir('iovh-files-');
    expect(() =>
      ReportFiles.open([spec(join(d, 'ok.json')), spec(join(d, 'no', 'r.xml'), 'JUnit')], placeholder),
    ).toThrow(ReportFileError);
    expect(() => ReportFiles.open([spec(join(d, 'no', 'r.xml'), 'JUnit')], placeholder)).toThrow(
      `cannot write the JUnit report to ${join(d, 'no', 'r.xml')}: ENOENT`,
    );
  });

  it('a rewrite that fails is reported and the run goes on; the last good report stays', () => {
    const d = scratchDir('iovh-files-');
    const path = join(d, 'r.json');
    let broken = false;
    const files = ReportFiles.open(
      [
        {
          what: 'JSON',
          path,
          render: (r) => {
            if (broken) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
            return text(r);
          },
        },
      ],
      placeholder,
    );
    broken = true;
    expect(files.rewrite(run([scenario({ id: 'a/b', status: 'pass' })]))).toEqual([
      `cannot update the JSON report ${path}: ENOSPC`,
    ]);
    expect(readFileSync(path, 'utf8')).toBe('partial 0\n');
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});
