// iovh run on the native backend runs each scenario in a child node process
// (dist/cli/scenario-process.js): end to end over an empty fixture root (no
// kernel behind it), the capability probe passes and the scenario skips, with
// its reason coming back from the child; nothing is a harness error.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { iovh } from './run-cli.js';
import type { RunResult } from '../../src/report/model.js';
import { scratchDir } from '../support/scratch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ready =
  existsSync(join(ROOT, 'dist', 'cli', 'scenario-process.js')) &&
  existsSync(join(ROOT, 'build', 'Release', 'iovh.node'));

describe('iovh run --backend native', () => {
  it.skipIf(!ready)(
    'runs the scenarios in child processes over a fixture root (needs dist/ and the addon)',
    async () => {
      const dir = scratchDir('iovh-native-run-');
      const root = join(dir, 'root');
      const json = join(dir, 'r.json');
      const r = await iovh(
        'run',
        '--backend',
        'native',
        '--root',
        root,
        '--filter',
        'export/single-range',
        '--json',
        json,
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(77);
      const run = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
      expect(run.scenarios.map((s) => [s.id, s.status, s.error])).toEqual([
        ['caps/kernel', 'pass', null],
        ['export/single-range', 'skip', null],
      ]);
      expect(run.scenarios[1]!.reason).toBe('no SR-IOV PF on this machine');
      expect(run.complete).toBe(true);
    },
  );
});
