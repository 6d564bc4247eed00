// Once per `npm test` (vitest.config.ts globalSetup): every test process gets
// a temporary directory of this run's own (TMPDIR), and at the end anything
// left in it fails the run, naming what was left (HELPERS: tests remove what
// they create; `npm test` left about 39 iovh-* directories in /tmp). The
// directory is removed either way, so a failed run leaves nothing either. A run
// killed before its teardown (SIGKILL, a closed terminal) cannot remove its
// own: the directory names its runner's pid, and the next run removes those
// whose runner is gone.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'iovh-test-run-';
const OWNER = '.iovh-test-run-pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove the run directories of runs that were killed before their teardown. */
function removeOrphans(parent: string): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(parent, name);
    let pid: number;
    try {
      pid = Number(readFileSync(join(dir, OWNER), 'utf8'));
    } catch {
      continue; // not one this mechanism made, or another user's: leave it
    }
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(dir, { recursive: true, force: true });
  }
}

export default function setup(): () => void {
  const saved = process.env.TMPDIR;
  const parent = tmpdir();
  removeOrphans(parent);
  const dir = mkdtempSync(join(parent, PREFIX));
  writeFileSync(join(dir, OWNER), String(process.pid));
  process.env.TMPDIR = dir;
  return () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    let left: string[] = [];
    try {
      left = readdirSync(dir).filter((n) => n !== OWNER);
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
