// Scratch directories for tests: made under the temporary directory and
// removed after the test file, whether or not the test that made one got to
// its own cleanup (a failed assertion before it, a forgotten remove()).
// test/support/setup.ts registers the removal for every test file;
// test/support/global.ts checks that a whole `npm test` leaves nothing behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

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

/**
 * For a whole test file, called at its top level: a scratch directory made
 * before its tests, whose `state` is IOVH_STATE_DIR until the file's tests
 * end (then put back), so that iovh's journal and lock stay in it. The
 * returned function gives the directory from beforeAll on.
 */
export function stateScratchDir(prefix: string): () => string {
  let dir = '';
  const saved = process.env.IOVH_STATE_DIR;
  beforeAll(() => {
    dir = scratchDir(prefix);
    process.env.IOVH_STATE_DIR = join(dir, 'state');
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.IOVH_STATE_DIR;
    else process.env.IOVH_STATE_DIR = saved;
  });
  return () => dir;
}
