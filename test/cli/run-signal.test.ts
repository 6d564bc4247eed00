// Ctrl-C on a real `iovh run` process: the reports are still written, with
// what was collected, the rest marked as not run, exit 130.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

describe('iovh run under SIGINT', () => {
  it.skipIf(!built)(
    'writes what was collected, runs the cleanups, marks the rest not run, exits 130 (needs dist/: npm run build:ts)',
    () => {
      const dir = scratchDir('iovh-sigint-');
      const r = spawnSync(
        process.execPath,
        [
          join(ROOT, 'bin', 'iovh.js'),
          'run',
          '--backend',
          'mock',
          '--json',
          join(dir, 'r.json'),
          '--ktap',
          join(dir, 'r.ktap'),
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, IOVH_TEST_SIGINT_AT: 'import/iov-single-range', NO_COLOR: '1' },
        },
      );
      expect(r.status).toBe(130);
      expect(r.stderr).toMatch(/SIGINT: running the current scenario's cleanups/);
      const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as RunResult;
      expect(json.interrupted).toEqual({ signal: 'SIGINT' });
      expect(json.summary.exitCode).toBe(130);
      const ids = json.scenarios.map((s) => s.id);
      const at = ids.indexOf('import/iov-single-range');
      expect(json.scenarios.slice(0, at).every((s) => s.status === 'pass')).toBe(true);
      expect(json.scenarios.slice(at + 1).every((s) => s.evidence.notRun === true)).toBe(true);
      expect(json.scenarios[at]!.cleanup.failed).toEqual([]);
      expect(readFileSync(join(dir, 'r.ktap'), 'utf8')).toMatch(/# interrupted by SIGINT: results are partial/);
    },
  );
});
