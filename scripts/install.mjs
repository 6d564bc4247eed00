#!/usr/bin/env node
// `npm install` / `npm ci` / `npm rebuild` hook: builds the native addon with
// cmake-js, then compiles the TypeScript to dist/ when TypeScript is present
// (a git checkout; a packed tarball ships dist/ already).
//
// A failed addon build does not fail the install unless IOVH_REQUIRE_NATIVE=1
// (set by .ci/run): iovh still loads and falls back to the mock backend, and
// `iovh` says so and names the fix. The compiler's output is shown either way.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

let nativeOk = false;
if (process.env.IOVH_SKIP_NATIVE === '1') {
  console.warn('iovh: IOVH_SKIP_NATIVE=1, not building the native addon (mock backend only)');
} else if (!existsSync(bin('cmake-js'))) {
  console.warn('iovh: cmake-js is not installed; the native addon was not built');
} else {
  const args = ['compile', '--log-level', 'warn'];
  if (process.env.IOVH_SANITIZE === '1') args.push('--CDIOVH_SANITIZE=ON', '--debug');
  nativeOk = run(bin('cmake-js'), args) === 0;
  if (!nativeOk) {
    console.warn('iovh: building the native addon failed (see above). iovh will use the mock backend;');
    console.warn('iovh: install cmake and a C/C++ compiler, then run `npm rebuild iovh`.');
  }
}
if (!nativeOk && process.env.IOVH_REQUIRE_NATIVE === '1') {
  console.error('iovh: IOVH_REQUIRE_NATIVE=1 and the native addon was not built');
  process.exit(1);
}

if (existsSync(bin('tsc')) && existsSync(join(root, 'tsconfig.build.json'))) {
  if (run(bin('tsc'), ['-p', 'tsconfig.build.json']) !== 0) {
    console.error('iovh: TypeScript build failed');
    process.exit(1);
  }
} else if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('iovh: dist/ is missing and TypeScript is not installed; cannot build the CLI');
  process.exit(1);
}
