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
  // `rebuild` (configure from scratch, then build): cmake-js `compile` reuses an
  // existing build/ without reconfiguring, so switching IOVH_SANITIZE on or off
  // would silently keep the old flags. The option is always passed explicitly.
  const sanitize = process.env.IOVH_SANITIZE === '1';
  const args = ['rebuild', '--log-level', 'warn', `--CDIOVH_SANITIZE=${sanitize ? 'ON' : 'OFF'}`];
  if (sanitize) args.push('--debug');
  nativeOk = run(bin('cmake-js'), args) === 0;
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

if (existsSync(bin('tsc')) && existsSync(join(root, 'tsconfig.build.json'))) {
  if (run(bin('tsc'), ['-p', 'tsconfig.build.json']) !== 0) {
    console.error('iovh: TypeScript build failed');
    process.exit(1);
  }
} else if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  console.error('iovh: dist/ is missing and TypeScript is not installed; cannot build the CLI');
  process.exit(1);
}
