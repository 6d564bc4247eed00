// iovh as a dependency, the way a user gets it: `npm pack`, then `npm install
// ./iovh-<version>.tgz` into an empty project. The addon must build there
// (the install script finds the hoisted cmake-js) and load; the tarball holds
// what a user needs and nothing that points at what it does not hold; the
// bin works; docs/api.md's example compiles with the oldest TypeScript the
// README claims, as a strict consumer, and runs.
//
// Needs the npm registry (dependencies, TypeScript) and cmake and a C/C++
// compiler: `npm run test:package`, a CI step of its own (.ci/run), not part
// of `npm test`.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiExample, STRICT_CONSUMER } from '../api/example.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  files: string[];
  devDependencies: Record<string, string>;
};

/** The oldest TypeScript docs/api.md and the README claim, and the @types/node a consumer of it would use. */
const OLDEST_TYPESCRIPT = '5.0.4';

const work = mkdtempSync(join(tmpdir(), 'iovh-package-'));
const consumer = join(work, 'consumer');
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string, timeout = 600_000): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' };
  // What the test runs under (`npm run test:package` sets npm_* variables of this checkout) must not leak into the consumer.
  for (const k of Object.keys(env)) if (k.startsWith('npm_package_') || k === 'npm_lifecycle_event') delete env[k];
  return spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
}

let tarball: string;
let packed: string[];
let install: SpawnSyncReturns<string>;

beforeAll(() => {
  // `npm pack` runs prepack: dist/ is rebuilt from src/ alone.
  const pack = sh('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  if (pack.status !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const info = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  install = sh('npm', ['install', '--foreground-scripts', tarball], consumer);
}, 900_000);

describe('the packed package', () => {
  it('holds LICENSE, README, the built JS with declarations, the C sources, the baselines and the schemas', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      'bin/iovh.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/cli/scenario-process.js',
      'CMakeLists.txt',
      'core/binding.cc',
      'core/vfio.c',
      'core/uapi/vfio.h',
      'baselines/rfc-v1.json',
      'scripts/install.mjs',
      'docs/api.md',
      'docs/schemas/iovh-run.schema.json',
    ])
      expect(packed, f).toContain(f);
  });

  it('holds no source map, no test, no development script, no stale build output', () => {
    expect(packed.filter((f) => f.endsWith('.map'))).toEqual([]);
    // The scripts a user's `iovh qemu` runs (the build and boot engine under scripts/qemu-ci/) ship; the CI's own do not.
    const engine =
      /^scripts\/qemu-ci\/(apt|boot|cpio|initramfs|kbuild|kcache|ksource|paths|qemu-build|setup|variants|verdict|windows)\.mjs$|^scripts\/qemu-ci\/init\.sh$/;
    expect(
      packed.filter((f) => /^(src|test|bench|core\/abi|scripts\/(?!install\.mjs$))/.test(f) && !engine.test(f)),
    ).toEqual([]);
    // dist/ is exactly what src/ compiles to: no file of a module that was renamed or removed since.
    const sources = new Set(
      spawnSync('git', ['ls-files', 'src'], { cwd: ROOT, encoding: 'utf8' })
        .stdout.split('\n')
        .filter((f) => f.endsWith('.ts'))
        .map((f) => f.replace(/^src\//, '').replace(/\.ts$/, '')),
    );
    const stale = packed
      .filter((f) => f.startsWith('dist/'))
      .map((f) => f.replace(/^dist\//, '').replace(/\.d\.ts$|\.js$/, ''))
      .filter((f) => !sources.has(f));
    expect(stale).toEqual([]);
  });

  it('no shipped file points at a source map', () => {
    const unpacked = join(consumer, 'node_modules', pkg.name);
    const offenders = packed.filter(
      (f) => /\.(js|d\.ts|mjs)$/.test(f) && /sourceMappingURL/.test(readFileSync(join(unpacked, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });

  it('every entry of package.json "files" is in the tarball', () => {
    // An entry is a file, a directory (trailing /) or a glob with * (within one directory level).
    const matches = (entry: string, f: string): boolean =>
      entry.includes('*')
        ? new RegExp(`^${entry.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(f)
        : f === entry || f.startsWith(entry.replace(/\/?$/, '/'));
    for (const entry of pkg.files)
      expect(
        packed.some((f) => matches(entry, f)),
        entry,
      ).toBe(true);
  });
});

describe('npm install ./iovh-<version>.tgz into an empty project', () => {
  it('installs, building the addon with the hoisted cmake-js', () => {
    expect(install.status, install.stderr).toBe(0);
    const output = `${install.stdout}${install.stderr}`;
    expect(output).not.toMatch(/cmake-js .*cannot be found|not built|building the native addon failed/);
    expect(existsSync(join(consumer, 'node_modules', 'cmake-js', 'package.json'))).toBe(true);
    expect(existsSync(join(consumer, 'node_modules', pkg.name, 'node_modules', 'cmake-js'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules', pkg.name, 'build', 'Release', 'iovh.node'))).toBe(true);
  });

  it('the addon loads when the package is imported', () => {
    const r = sh(
      process.execPath,
      ['--input-type=module', '-e', "import('iovh').then((m) => console.log(JSON.stringify(m.nativeAddon())))"],
      consumer,
    );
    expect(r.stderr).toBe('');
    const addon = JSON.parse(r.stdout) as { loaded: boolean; path: string; error: string | null };
    expect(addon).toMatchObject({ loaded: true, error: null });
    expect(addon.path).toBe(join(consumer, 'node_modules', pkg.name, 'build', 'Release', 'iovh.node'));
  });

  it('the iovh bin runs: the catalog, and a run on the mock', () => {
    const list = sh('npx', ['--no-install', 'iovh', 'run', '--list', '--json'], consumer);
    expect(list.status, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { scenarios: unknown[] }).scenarios.length).toBeGreaterThan(20);
    const run = sh(
      'npx',
      ['--no-install', 'iovh', 'run', '--backend', 'mock', '--filter', 'export/*', '--ktap', '-'],
      consumer,
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^# Totals: pass:6 fail:0 xfail:0 xpass:0 skip:0 error:0$/m);
  });

  it('iovh qemu loads its build and boot engine from the package: a file that is no bzImage is one line, exit 2', () => {
    writeFileSync(join(consumer, 'not-a-kernel'), 'plain text\n');
    const r = sh('npx', ['--no-install', 'iovh', 'qemu', '--kernel', join(consumer, 'not-a-kernel')], consumer);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not-a-kernel.*bzImage/);
  });

  it(`docs/api.md's example compiles with TypeScript ${OLDEST_TYPESCRIPT} as a strict consumer and runs`, () => {
    const types = sh(
      'npm',
      ['install', '--save-dev', `typescript@${OLDEST_TYPESCRIPT}`, `@types/node@${pkg.devDependencies['@types/node']}`],
      consumer,
    );
    expect(types.status, types.stderr).toBe(0);
    writeFileSync(join(consumer, 'example.ts'), apiExample());
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...STRICT_CONSUMER, outDir: 'out' }, files: ['example.ts'] }),
    );
    const tsc = sh(
      process.execPath,
      [join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer],
      consumer,
    );
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
    const r = sh(process.execPath, [join(consumer, 'out', 'example.js')], consumer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^3 KCIDB tests for build my_lab:build-42$/m);
    expect(readFileSync(join(consumer, 'results.xml'), 'utf8')).toMatch(/^<\?xml/);
  });
});
