// Scratch directories for tests: made under the temporary directory and
// removed after the test file, whether or not the test that made one got to
// its own cleanup (a failed assertion before it, a forgotten remove()).
// test/support/setup.ts registers the removal for every test file;
// test/support/global.ts checks that a whole `npm test` leaves nothing behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new directory `<tmp>/<prefix>XXXXXX`, removed after the test file at the latest. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every scratch directory made so far in this test file. */
export function removeScratch(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
