import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BUNDLE_ROOT, buildBundle, bundleFiles, importedPackages, packageClosure } from '../../scripts/qemu-ci/bundle.mjs';
import { readNewc } from '../../scripts/qemu-ci/cpio.mjs';

// A checkout in miniature: dist/ importing two packages, one with a dependency,
// an optional dependency that is not installed, and a build-only package.
let repo = '';
function write(rel: string, text: string): void {
  const f = join(repo, rel);
  mkdirSync(join(f, '..'), { recursive: true });
  writeFileSync(f, text);
}

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'iovh-bundle-'));
  write('package.json', '{"type":"module"}');
  write('dist/cli/main.js', "import { Command } from 'commander';\nimport fs from 'node:fs';\nexport const x = await import('@scope/pkg/sub.js');\n");
  write('dist/cli/main.js.map', '{}');
  write('dist/cli/main.d.ts', 'export {};');
  write('dist/native/addon.js', "const require = createRequire(import.meta.url);\nrequire('./relative.js');\n");
  write('bin/iovh.js', "import '../dist/cli/main.js';\n");
  write('test/qemu/guest/main.mjs', "import { runFlow } from './flow.mjs';\n");
  write('build/Release/iovh.node', 'ELF');
  write('node_modules/commander/package.json', '{"name":"commander"}');
  write('node_modules/commander/index.js', 'export class Command {}');
  write('node_modules/@scope/pkg/package.json', '{"dependencies":{"dep":"1"},"optionalDependencies":{"absent":"1"}}');
  write('node_modules/@scope/pkg/sub.js', '');
  write('node_modules/dep/package.json', '{}');
  write('node_modules/dep/index.js', '');
  write('node_modules/cmake-js/package.json', '{}');
});
afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
});

describe('bundle', () => {
  it('finds the packages dist/ imports, not builtins or relative files', () => {
    expect([...importedPackages(join(repo, 'dist'))].sort()).toEqual(['@scope/pkg', 'commander']);
  });

  it('follows dependencies and installed optional dependencies only', () => {
    expect([...packageClosure(repo, ['@scope/pkg']).keys()]).toEqual(['@scope/pkg', 'dep']);
    expect(() => packageClosure(repo, ['missing'])).toThrow(/imports the package 'missing', which is not installed/);
  });

  it('holds dist, bin, the guest program, the addon and those packages; no maps, declarations or build-only packages', () => {
    const files = bundleFiles(repo);
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('bin/iovh.js');
    expect(files).toContain('test/qemu/guest/main.mjs');
    expect(files).toContain('build/Release/iovh.node');
    expect(files).toContain('node_modules/dep/index.js');
    expect(files).toContain('package.json');
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.d.ts') || f.includes('cmake-js'))).toEqual([]);
  });

  it('is a gzip newc archive with every file under the bundle root, parents first', () => {
    const b = buildBundle(repo);
    const entries = readNewc(gunzipSync(b.archive));
    const names = entries.map((e) => e.name);
    const inside = (rel: string) => `${BUNDLE_ROOT.slice(1)}${repo}/${rel}`;
    expect(names).toContain(inside('dist/cli/main.js'));
    expect(entries.find((e) => e.name === inside('build/Release/iovh.node'))!.data.toString()).toBe('ELF');
    for (const [i, n] of names.entries()) {
      const parent = n.split('/').slice(0, -1).join('/');
      if (parent) expect(names.indexOf(parent), `${parent} before ${n}`).toBeLessThan(i);
    }
    expect(b.files).toBe(bundleFiles(repo).length);
  });
});
