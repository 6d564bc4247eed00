// scripts/valgrind-report.mjs decides whether the CI's memcheck step passes.
// Fixtures: memcheck-clean.xml is a real run of scripts/valgrind.sh (only the
// suppressed V8 stack-scan noise); memcheck-errors.xml is a real memcheck run
// of a C program with an uninitialised branch, a heap overflow and a lost
// block, its paths renamed to our addon's.
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMemcheck, summarizeMemcheck } from '../../scripts/valgrind-report.mjs';

const fixtures = join(import.meta.dirname, 'fixtures');
const ADDON = '/ci/.cache/valgrind/build/Debug/iovh.node';
const clean = readFileSync(join(fixtures, 'memcheck-clean.xml'), 'utf8');
const dirty = readFileSync(join(fixtures, 'memcheck-errors.xml'), 'utf8');

describe('memcheck report', () => {
  it('a clean run has no errors and names the suppressions that matched', () => {
    const s = summarizeMemcheck(clean, ADDON);
    expect(s.errors).toEqual([]);
    expect(s.suppressed).toEqual([{ name: 'v8-conservative-stack-scan-cond', count: 5023 }]);
    expect(renderMemcheck(s)).toBe(
      'valgrind: 0 error(s), 0 with a frame in our code; suppressed as Node/V8 noise: v8-conservative-stack-scan-cond x5023\n',
    );
  });

  it('finds each error kind, with its frames, and attributes them to our code', () => {
    const s = summarizeMemcheck(dirty, ADDON);
    expect(s.errors.map((e) => e.kind)).toEqual(['UninitCondition', 'InvalidWrite', 'Leak_DefinitelyLost']);
    expect(s.errors[2]!.what).toBe('16 bytes in 1 blocks are definitely lost in loss record 1 of 1');
    expect(s.errors[0]!.frames[0]).toEqual({ fn: 'main', obj: ADDON, at: '/ci/native/mem.c:3' });
    expect(s.ours).toBe(3);
    expect(renderMemcheck(s)).toContain(
      'valgrind: OUR CODE: InvalidWrite: Invalid write of size 4\n    main (/ci/native/mem.c:3)\n',
    );
  });

  it('an error wholly inside Node is counted but not blamed on us', () => {
    const nodeOnly = dirty
      .replaceAll(`<obj>${ADDON}</obj>`, '<obj>/usr/bin/node</obj>')
      .replaceAll('<dir>/ci/native</dir>', '<dir>/node/src</dir>');
    const s = summarizeMemcheck(nodeOnly, ADDON);
    expect(s.errors).toHaveLength(3);
    expect(s.ours).toBe(0);
    expect(renderMemcheck(s)).toMatch(/^valgrind: Node\/V8: UninitCondition/);
  });

  it('refuses a truncated report (valgrind died) and text that is not one', () => {
    expect(() => summarizeMemcheck(clean.slice(0, clean.length / 2), ADDON)).toThrow(/truncated/);
    expect(() => summarizeMemcheck('==1== Memcheck', ADDON)).toThrow(/not a valgrind XML report/);
  });

  it('the command exits 1 on errors, 0 when clean, 2 without arguments', () => {
    const script = join(import.meta.dirname, '..', '..', 'scripts', 'valgrind-report.mjs');
    const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
    expect(run(join(fixtures, 'memcheck-clean.xml'), ADDON).status).toBe(0);
    const bad = run(join(fixtures, 'memcheck-errors.xml'), ADDON);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('3 error(s), 3 with a frame in our code');
    expect(run().status).toBe(2);
  });
});
