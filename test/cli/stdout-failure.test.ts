// A stdout that fails (a full disk behind `> file`, a descriptor that cannot
// be written) gets one line on stderr and a non-zero exit from every command.
// Before, Node's unhandled 'error' event killed iovh with a 25-line trace
// (`iovh run > /dev/full`, topology, doctor, capture). Here stdout is a real
// descriptor that refuses writes (a temporary file opened read-only: EBADF),
// in real child processes (the bundled CLI), so nothing under /dev is used;
// and a full device (ENOSPC), a node the test makes in its scratch directory.
// EPIPE, the reader of a pipe going away, stays the reader's choice
// (test/cli/run-epipe.test.ts).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../host/helpers.js';
import { bundleCli } from './helpers.js';

const scratch = tempDir('iovh-stdout-');
/** Can this process make device nodes (root, CAP_MKNOD)? The full-device cases skip, saying so, otherwise. */
const CAN_MKNOD = ((): boolean => {
  try {
    execFileSync('mknod', [join(scratch.path, 'probe'), 'c', '1', '7'], { stdio: 'ignore' });
    rmSync(join(scratch.path, 'probe'));
    return true;
  } catch {
    return false;
  }
})();
if (!CAN_MKNOD) console.warn('stdout-failure: full-device cases skipped: mknod needs root (CAP_MKNOD)');
let bundle: string;
beforeAll(async () => {
  bundle = await bundleCli(scratch.path);
}, 60_000);
afterAll(() => scratch.remove());

function runWithStdout(argv: string[], fd: number): Promise<{ status: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...argv], {
      stdio: ['ignore', fd, 'pipe'],
      env: { ...process.env, IOVH_STATE_DIR: join(scratch.path, 'state') },
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, err }));
  });
}

describe('stdout that cannot be written', () => {
  it.each([
    [['topology']],
    [['topology', '--json']],
    [['doctor']],
    [['capture']],
    [['run', '--filter', 'caps/*', '--no-baseline']],
    [['run', '--list']],
  ])(
    'iovh %j: one line, exit 1',
    async (argv) => {
      const file = join(scratch.path, 'read-only-stdout');
      writeFileSync(file, '');
      const fd = openSync(file, 'r');
      try {
        const r = await runWithStdout(['--backend', 'mock', ...argv], fd);
        expect(r.err).toBe('iovh: cannot write to stdout (EBADF): the output is lost\n');
        expect(r.status).toBe(1);
      } finally {
        closeSync(fd);
      }
    },
    60_000,
  );

  // `iovh run > /dev/full`: ENOSPC on every write. The device is a node of the test's own (the full device's
  // numbers, 1:7) in its scratch directory, so /dev is not touched; making it needs root.
  it.skipIf(!CAN_MKNOD).each([[['topology']], [['capture']], [['run', '--filter', 'caps/*', '--no-baseline']]])(
    'iovh %j > a full device: one line naming ENOSPC, exit 1',
    async (argv) => {
      const full = join(scratch.path, `full-${argv[0]}`);
      execFileSync('mknod', [full, 'c', '1', '7']);
      const fd = openSync(full, 'w');
      try {
        const r = await runWithStdout(['--backend', 'mock', ...argv], fd);
        expect(r.err).toBe('iovh: cannot write to stdout (ENOSPC): the output is lost\n');
        expect(r.status).toBe(1);
      } finally {
        closeSync(fd);
      }
    },
    60_000,
  );
});
