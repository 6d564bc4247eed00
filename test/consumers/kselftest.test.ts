// iovh run as a kselftest: the kernel's own runner
// (tools/testing/selftests/kselftest/runner.sh, from Debian's linux-source)
// runs a test program and turns its exit status into a TAP line: 0 is `ok`,
// 4 (KSFT_SKIP) is `ok ... # SKIP`, anything else `not ok ... # exit=N`. A run
// where every scenario skipped must read as a skip there with
// `--skip-exit 4`, and as a failure without it (77 is automake's skip, not
// kselftest's); a run that passes reads as ok.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../support/scratch.js';
import { consumers, ROOT } from './cache.js';

const c = consumers();
const built = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

/** The runner's lines for one test program that runs `iovh run ARGS` on the mock. */
function asKselftest(name: string, args: string[]): { lines: string[]; output: string } {
  if ('skip' in c) throw new Error(c.skip);
  const runner = c.manifest.kunit.kselftestRunner!;
  // The layout runner.sh expects: BASE_DIR/kselftest/{runner.sh,prefix.pl} and the test's directory under BASE_DIR.
  const base = scratchDir('iovh-kselftest-');
  symlinkSync(dirname(runner), join(base, 'kselftest'));
  mkdirSync(join(base, 'iovh'));
  const test = join(base, 'iovh', name);
  const quoted = args.map((a) => `'${a}'`).join(' ');
  writeFileSync(
    test,
    `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, 'bin', 'iovh.js')}' run --backend mock --quiet ${quoted}\n`,
  );
  chmodSync(test, 0o755);
  // The runner appends the test's own output to $logfile (/dev/stdout by default, which cannot be opened when
  // stdout is a socket, as spawnSync's pipes are): a file here, read after the runner's own lines.
  const log = join(base, 'log');
  const script = '. "$BASE_DIR/kselftest/runner.sh" && logfile=$2 && cd "$BASE_DIR/iovh" && run_many "./$1"';
  const env: NodeJS.ProcessEnv = { ...process.env, BASE_DIR: base, NO_COLOR: '1' };
  delete env.IOVH_SKIP_EXIT;
  const r = spawnSync('bash', ['-c', script, 'ks', name, log], { encoding: 'utf8', env });
  if (r.error) throw r.error;
  const logged = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return { lines: [...r.stdout.split('\n'), ...logged.split('\n')], output: `${r.stdout}${r.stderr}${logged}` };
}

// The IOV scenarios alone on an upstream kernel (no interconnect): every one skips.
const ALL_SKIPPED = ['--profile', 'upstream-7.1', '--filter', 'import/iov-*', '--no-baseline'];

describe("kselftest's runner (runner.sh) running iovh", () => {
  it.skipIf(!built)(
    'a run all skipped with --skip-exit 4 is `ok ... # SKIP` (needs dist/: npm run build:ts)',
    (ctx) => {
      if ('skip' in c) return ctx.skip(c.skip);
      const { lines, output } = asKselftest('iovh-skip.sh', [...ALL_SKIPPED, '--skip-exit', '4']);
      expect(lines, output).toContain('ok 1 selftests: iovh: iovh-skip.sh # SKIP');
      // --quiet: the test's own output, prefixed '# ' by the runner, is the exit line alone.
      expect(lines, output).toContain('# exit 4: every scenario was skipped: nothing was validated');
    },
  );

  it.skipIf(!built)('without it the same run is `not ok ... # exit=77`: the option is needed there', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const { lines, output } = asKselftest('iovh-77.sh', ALL_SKIPPED);
    expect(lines, output).toContain('not ok 1 selftests: iovh: iovh-77.sh # exit=77');
  });

  it.skipIf(!built)('a run that validates something is `ok`, --skip-exit 4 or not', (ctx) => {
    if ('skip' in c) return ctx.skip(c.skip);
    const { lines, output } = asKselftest('iovh-pass.sh', ['--filter', 'export/single-range', '--skip-exit', '4']);
    expect(lines, output).toContain('ok 1 selftests: iovh: iovh-pass.sh');
  });
});
