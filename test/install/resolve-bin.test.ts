// scripts/install.mjs finds cmake-js (and tsc) the way Node resolves modules:
// installed as a dependency, iovh's own dependencies are hoisted next to it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBin } from '../../scripts/install.mjs';

const dir = mkdtempSync(join(tmpdir(), 'iovh-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pkg(at: string, json: object): void {
  mkdirSync(at, { recursive: true });
  writeFileSync(join(at, 'package.json'), JSON.stringify(json));
}

describe('install.mjs resolveBin', () => {
  it("finds a dependency hoisted to the consumer's node_modules, and one nested under iovh", () => {
    const project = join(dir, 'consumer');
    pkg(join(project, 'node_modules', 'cmake-js'), { name: 'cmake-js', bin: { 'cmake-js': 'bin/cmake-js' } });
    pkg(join(project, 'node_modules', 'iovh', 'node_modules', 'typescript'), {
      name: 'typescript',
      bin: { tsc: './bin/tsc' },
    });
    pkg(join(project, 'node_modules', 'iovh'), { name: 'iovh' });
    const from = createRequire(join(project, 'node_modules', 'iovh', 'package.json'));
    expect(resolveBin('cmake-js', 'cmake-js', from)).toBe(join(project, 'node_modules', 'cmake-js', 'bin', 'cmake-js'));
    expect(resolveBin('typescript', 'tsc', from)).toBe(
      join(project, 'node_modules', 'iovh', 'node_modules', 'typescript', 'bin', 'tsc'),
    );
    expect(resolveBin('nonexistent-tool', 'x', from)).toBeNull();
  });

  it('this checkout finds its own cmake-js', () => {
    expect(resolveBin('cmake-js', 'cmake-js')).toMatch(/node_modules\/cmake-js\/bin\/cmake-js$/);
  });
});
