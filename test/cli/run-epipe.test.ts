// `iovh run | head -1`: once the reader goes, writes to stdout fail with
// EPIPE. The human output stops there; the run goes on, runs every cleanup,
// writes its reports and exits with its verdict, with no stack trace.
import { describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

function epipe(): NodeJS.ErrnoException {
  return Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
}

describe('iovh run when stdout goes away', () => {
  it('in process: the first failed write stops the human output; the run completes and writes its report', async () => {
    const dir = scratchDir('iovh-epipe-');
    // Nothing else listens: without iovh's own listener the 'error' event would be thrown as an uncaught exception.
    expect(process.stdout.listenerCount('error')).toBe(0);
    let writes = 0;
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => {
      // No write takes a callback here: only a report on stdout would wait for one (HumanOutput.settle).
      writes += 1;
      // What Node does for a pipe whose reader has gone: the write fails, 'error' follows on a later tick.
      if (writes === 2) process.nextTick(() => process.stdout.emit('error', epipe()));
      return writes < 2;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    let code: number;
    try {
      code = await main([
        'run',
        '--backend',
        'mock',
        '--profile',
        'fixed',
        '--filter',
        'export/*',
        '--json',
        join(dir, 'r.json'),
      ]);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(code).toBe(0);
    expect(stderr).toBe('');
    // The progress line of the first scenario, the one that failed, and nothing after it.
    expect(writes).toBe(2);
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunResult;
    expect(json.complete).toBe(true);
    expect(json.scenarios.length).toBeGreaterThan(3);
    expect(json.scenarios.every((s) => s.status === 'pass' && s.cleanup.failed.length === 0)).toBe(true);
  });

  it('a report asked on stdout (--json -) that cannot be delivered there is a one-line error, exit 1', async () => {
    let stderr = '';
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((_chunk: unknown, cb?: unknown) => {
      const e = epipe();
      process.nextTick(() => {
        if (typeof cb === 'function') (cb as (e: Error) => void)(e);
        process.stdout.emit('error', e);
      });
      return false;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    });
    let code: number;
    try {
      code = await main([
        'run',
        '--backend',
        'mock',
        '--profile',
        'fixed',
        '--filter',
        'export/single-range',
        '--json',
        '-',
      ]);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(code).toBe(1);
    // The human output went to stderr (the report had stdout); the last line says what was lost.
    expect(stderr.trim().split('\n').at(-1)).toBe('iovh: cannot write the JSON report to stdout: EPIPE');
  });

  it.skipIf(!built)(
    'a real process piped into a reader that closes after one line (needs dist/: npm run build:ts)',
    async () => {
      const dir = scratchDir('iovh-epipe-');
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'bin', 'iovh.js'),
          'run',
          '--backend',
          'mock',
          '--profile',
          'fixed',
          '--filter',
          'export/*',
          '--json',
          join(dir, 'r.json'),
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // `head -1`: read the first chunk, then close the pipe.
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunResult;
      expect(json.complete).toBe(true);
      expect(json.scenarios.every((s) => s.status === 'pass')).toBe(true);
    },
  );
});
