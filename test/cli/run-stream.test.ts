// Reports are rewritten after every scenario: at any moment each report file
// holds a valid report of what finished, marked incomplete, so a run that
// dies leaves them behind. On rfc-v1, edge/unprovisioned-vf's oops kills its
// scenario process: a crash with the oops excerpt, already in the reports
// when the next scenario runs, and the run goes on.
import { describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

const read = (path: string): RunResult => JSON.parse(readFileSync(path, 'utf8')) as RunResult;

describe('reports while the run goes on', () => {
  it('after each scenario the files hold the results so far; the oops of edge/unprovisioned-vf is a crash there before the next scenario ends', async () => {
    const dir = scratchDir('iovh-stream-');
    const json = join(dir, 'r.json');
    const ktap = join(dir, 'r.ktap');
    const seen: { line: string; results: number; complete: boolean; last: string | null; ktapIncomplete: boolean }[] =
      [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      const line = String(chunk);
      // A finished scenario's line ("[k/n] id: status"): the reports were rewritten after the scenario before it.
      if (/^\[\d+\/\d+\] /.test(line)) {
        const r = read(json);
        seen.push({
          line: line.trim(),
          results: r.scenarios.length,
          complete: r.complete,
          last: r.scenarios.at(-1)?.status ?? null,
          ktapIncomplete: readFileSync(ktap, 'utf8').includes('# incomplete:'),
        });
      }
      return true;
    });
    let code: number;
    try {
      code = await main([
        'run',
        '--backend',
        'mock',
        '--profile',
        'rfc-v1',
        '--filter',
        'edge/*',
        '--json',
        json,
        '--ktap',
        ktap,
      ]);
    } finally {
      out.mockRestore();
    }
    expect(code).toBe(0);
    // caps/kernel, then the six edge scenarios; unprovisioned-vf is the second of them.
    expect(seen.map((s) => s.results)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.every((s) => !s.complete && s.ktapIncomplete)).toBe(true);
    expect(seen[1]!.line).toMatch(/^\[2\/7\] edge\/last-page: crash/);
    expect(seen[2]!.line).toMatch(/^\[3\/7\] edge\/unprovisioned-vf: crash/);
    expect(seen[3]!.last).toBe('crash');
    const final = read(json);
    expect(final.complete).toBe(true);
    const oops = final.scenarios.find((s) => s.id === 'edge/unprovisioned-vf')!;
    expect(oops.status).toBe('crash');
    expect(oops.quirks.map((q) => q.id)).toEqual(['unprovisioned-oops']);
    expect(oops.log.join('\n')).toMatch(/BUG: kernel NULL pointer dereference[\s\S]*Oops: /);
    // vf-next-bus and lmem-discontiguous need machine shapes the default mock lacks: they skip, saying which.
    expect(final.scenarios.slice(final.scenarios.indexOf(oops) + 1).map((s) => s.status)).toEqual([
      'skip',
      'fail',
      'skip',
      'fail',
    ]);
  });

  it.skipIf(!built)(
    'a run killed in the middle (SIGKILL) leaves valid reports of what finished, marked incomplete (needs dist/)',
    async () => {
      const dir = scratchDir('iovh-stream-');
      const files = {
        json: join(dir, 'r.json'),
        ktap: join(dir, 'r.ktap'),
        junit: join(dir, 'r.xml'),
        kcidb: join(dir, 'k.json'),
      };
      // iovh's self-SIGINT test hook, turned into SIGKILL by the hardening preload: the run dies as export/whole-bar starts.
      const hook = join(ROOT, 'test', 'hardening', 'fixtures', 'signal-hook.mjs');
      const child = spawn(
        process.execPath,
        [
          '--import',
          hook,
          join(ROOT, 'bin', 'iovh.js'),
          'run',
          '--backend',
          'mock',
          '--profile',
          'fixed',
          '--json',
          files.json,
          '--ktap',
          files.ktap,
          '--junit',
          files.junit,
          '--kcidb',
          files.kcidb,
        ],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: {
            ...process.env,
            NO_COLOR: '1',
            IOVH_TEST_SIGINT_AT: 'export/whole-bar',
            IOVH_TEST_SIGNAL_AS: 'SIGKILL',
          },
        },
      );
      const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_c, s) => resolve(s)));
      expect(signal).toBe('SIGKILL');
      const r = read(files.json);
      expect(r.complete).toBe(false);
      expect(r.scenarios.map((s) => [s.id, s.status])).toEqual([
        ['caps/kernel', 'pass'],
        ['export/single-range', 'pass'],
        ['export/multi-range', 'pass'],
      ]);
      expect(r.pending[0]).toBe('export/whole-bar');
      expect(r.pending.at(-1)).toBe('lifecycle/close-while-revoked');
      expect(r.summary.exitReason).toMatch(/^incomplete: /);
      expect(readFileSync(files.ktap, 'utf8')).toMatch(/^# incomplete: no result yet for /m);
      expect(readFileSync(files.junit, 'utf8')).toContain('<error type="incomplete"');
      const k = JSON.parse(readFileSync(files.kcidb, 'utf8')) as { tests: { status: string }[] };
      expect(k.tests.filter((t) => t.status === 'MISS').length).toBe(r.pending.length);
      expect(readdirSync(dir).sort()).toEqual(['k.json', 'r.json', 'r.ktap', 'r.xml']);
    },
  );
});
