#!/usr/bin/env node
// `npm install` / `npm ci` / `npm rebuild` hook: builds the native addon with
// cmake-js, then compiles the TypeScript to dist/ when TypeScript is present
// (a git checkout; a packed tarball ships dist/ already).
//
// A failed addon build does not fail the install unless IOVH_REQUIRE_NATIVE=1
// (set by .ci/run): iovh still loads and falls back to the mock backend, and
// `iovh` says so and names the fix. The compiler's output is shown either way.
//
// Tools are found the way Node resolves modules, from this package's
// directory up: installed as a dependency, iovh's own dependencies (cmake-js)
// are usually hoisted to the consumer's node_modules, not under iovh's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

/**
 * The script of package `pkg`'s bin `name`, resolved as `require` would from
 * iovh's directory, or null when the package is not installed.
 * @param {string} pkg @param {string} name
 */
export function resolveBin(pkg, name, from = require) {
  let manifest;
  try {
    manifest = from.resolve(`${pkg}/package.json`);
  } catch {
    return null;
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  const rel = typeof bin === 'string' ? bin : bin?.[name];
  return rel ? join(dirname(manifest), rel) : null;
}

const run = (script, args) =>
  spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;
// Run by npm (`node scripts/install.mjs`), not when a test imports resolveBin; argv[1] may name a link to this file.
const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) main();

function main() {
  const cmakeJs = resolveBin('cmake-js', 'cmake-js');

  let nativeOk = false;
  if (process.env.IOVH_SKIP_NATIVE === '1') {
    console.warn('iovh: IOVH_SKIP_NATIVE=1, not building the native addon (mock backend only)');
  } else if (!cmakeJs) {
    console.warn(`iovh: cmake-js (a dependency of iovh) cannot be found from ${root}; the native addon was not built.`);
    console.warn(
      'iovh: reinstall iovh (npm install) so that its dependencies are installed; iovh uses the mock backend.',
    );
  } else {
    // `rebuild` (configure from scratch, then build): cmake-js `compile` reuses an
    // existing build/ without reconfiguring, so switching IOVH_SANITIZE on or off
    // would silently keep the old flags. The option is always passed explicitly.
    const sanitize = process.env.IOVH_SANITIZE === '1';
    const args = ['rebuild', '--log-level', 'warn', `--CDIOVH_SANITIZE=${sanitize ? 'ON' : 'OFF'}`];
    if (sanitize) args.push('--debug');
    nativeOk = run(cmakeJs, args) === 0;
    if (nativeOk && sanitize) {
      const asan = spawnSync(process.env.CC ?? 'cc', ['-print-file-name=libasan.so'], {
        encoding: 'utf8',
      }).stdout?.trim();
      console.warn('iovh: built build/Debug/iovh.node with ASan and UBSan. Node must load the ASan runtime first:');
      console.warn(
        `iovh:   LD_PRELOAD=${asan || '$(cc -print-file-name=libasan.so)'} ASAN_OPTIONS=detect_leaks=0 npx vitest run test/core`,
      );
    }
    if (!nativeOk) {
      console.warn('iovh: building the native addon failed (see above). iovh will use the mock backend;');
      console.warn('iovh: install cmake and a C/C++ compiler, then run `npm rebuild iovh`.');
    }
  }
  if (!nativeOk && process.env.IOVH_REQUIRE_NATIVE === '1') {
    console.error('iovh: IOVH_REQUIRE_NATIVE=1 and the native addon was not built');
    process.exit(1);
  }

  // A git checkout compiles dist/; a packed tarball ships dist/ and no tsconfig.build.json.
  const tsc = existsSync(join(root, 'tsconfig.build.json')) ? resolveBin('typescript', 'tsc') : null;
  if (tsc) {
    if (run(tsc, ['-p', 'tsconfig.build.json']) !== 0) {
      console.error('iovh: TypeScript build failed');
      process.exit(1);
    }
  } else if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    console.error('iovh: dist/ is missing and TypeScript is not installed; cannot build the CLI');
    process.exit(1);
  }
}
