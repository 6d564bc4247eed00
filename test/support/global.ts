// Once per `npm test` (vitest.config.ts globalSetup): every test process gets
// a temporary directory of this run's own (TMPDIR), and at the end anything
// left in it fails the run, naming what was left (HELPERS: tests remove what
// they create; `npm test` left about 39 iovh-* directories in /tmp). The
// directory is removed either way, so a failed run leaves nothing either.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const saved = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'iovh-test-run-'));
  process.env.TMPDIR = dir;
  return () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    let left: string[] = [];
    try {
      left = readdirSync(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (left.length > 0) {
      // Vitest reports an error thrown here but still exits 0: set the status too.
      process.exitCode = 1;
      throw new Error(
        `tests left ${left.length} entr${left.length === 1 ? 'y' : 'ies'} in the temporary directory: ${left.sort().join(', ')}`,
      );
    }
  };
}
