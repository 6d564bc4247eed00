// Files a user names are read bounded (src/userfile.ts): /dev/zero, a FIFO
// and a directory each give a one-line answer, never a read that does not end.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBaseline } from '../../src/harness/baseline.js';
import { loadState } from '../../src/mock/state.js';
import { loadTopologyFile } from '../../src/mock/topology.js';
import { readUserFile, UserFileError } from '../../src/userfile.js';
import { tempDir } from '../host/helpers.js';

const dir = tempDir('iovh-userfile-');
afterAll(() => dir.remove());

describe('readUserFile', () => {
  it('reads a file to its end, up to the limit exactly', () => {
    const f = join(dir.path, 'exact');
    writeFileSync(f, 'x'.repeat(100_000));
    expect(readUserFile(f, 100_000, 'a test file')).toHaveLength(100_000);
    expect(() => readUserFile(f, 99_999, 'a test file')).toThrow(
      new UserFileError('too large for a test file (more than 99999 bytes)', 'E2BIG'),
    );
  });

  it('stops reading /dev/zero at the limit', () => {
    expect(() => readUserFile('/dev/zero', 1 << 20, 'a plan')).toThrow(
      'too large for a plan (more than 1048576 bytes)',
    );
  });

  it("reads a FIFO (a shell's <(...)) to its end", () => {
    const fifo = join(dir.path, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // The writer: another process that opens the FIFO (blocking until we open it), writes and closes it.
    const writer = spawn('sh', ['-c', `printf '{"a":1}' > '${fifo}'`], { stdio: 'ignore' });
    try {
      expect(readUserFile(fifo, 1024, 'a plan')).toBe('{"a":1}');
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('names the errno of a missing file and of a directory', () => {
    expect(() => readUserFile(join(dir.path, 'missing'), 10, 'x')).toThrow('cannot read it (ENOENT)');
    expect(() => readUserFile(dir.path, 10, 'x')).toThrow('cannot read it (EISDIR)');
  });
});

describe('every file a user names is read bounded', () => {
  it('a topology, a baseline, a mock state file', () => {
    expect(() => loadTopologyFile('/dev/zero')).toThrow(
      'topology /dev/zero: too large for a topology file (more than 16777216 bytes)',
    );
    expect(() => loadBaseline('/dev/zero')).toThrow(
      'baseline /dev/zero: too large for a baseline (more than 4194304 bytes)',
    );
    expect(() => loadState('/dev/zero')).toThrow(
      'state file /dev/zero: (file): too large for a mock state file (more than 67108864 bytes)',
    );
  });
});
