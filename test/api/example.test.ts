// docs/api.md's example, compiled as a strict TypeScript consumer would
// (against the built declarations, importing 'iovh' by name) and run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { apiExample, STRICT_CONSUMER } from './example.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Inside the checkout, so that `import 'iovh'` resolves to this package by its own name (its exports map, dist/).
const cache = join(ROOT, '.cache');
mkdirSync(cache, { recursive: true });
const dir = mkdtempSync(join(cache, 'api-example-'));
const work = mkdtempSync(join(tmpdir(), 'iovh-api-example-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('docs/api.md', () => {
  it('its example compiles as a strict consumer and runs', { timeout: 120_000 }, () => {
    writeFileSync(join(dir, 'example.ts'), apiExample());
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...STRICT_CONSUMER, rootDir: '.', outDir: '.' }, files: ['example.ts'] }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      encoding: 'utf8',
    });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
    const r = spawnSync(process.execPath, [join(dir, 'example.js')], { cwd: work, encoding: 'utf8', timeout: 100_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d+ import scenarios, the first: import\/iov-single-range \(.+\)$/);
    expect(lines).toContain('[3/3] edge/last-page: crash');
    expect(r.stdout).toMatch(/^edge\/last-page: crash, path iov, baseline expected: /m);
    expect(r.stdout).toContain('exit 0: no unexpected result');
    expect(r.stdout).toMatch(/^# Totals: pass:2 fail:0 xfail:1 xpass:0 skip:0 error:0$/m);
    expect(lines.at(-1)).toBe('3 KCIDB tests for build my_lab:build-42');
    expect(readFileSync(join(work, 'results.xml'), 'utf8')).toMatch(/^<\?xml/);
  });
});
