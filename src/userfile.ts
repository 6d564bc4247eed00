// Reading a file a user names (a plan, a topology, a baseline, a mock state
// file) without trusting what it is: a bounded read, so `--topology
// /dev/zero` or a multi-GiB file is "too large" instead of a read that never
// ends or a heap exhausted; a pipe (`<(...)`) still works; a directory or an
// unreadable file is its errno. Callers turn UserFileError into their own
// one-line error (UsageError, MockConfigError, BaselineError).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export class UserFileError extends Error {
  override name = 'UserFileError';
  /** The errno code (ENOENT, EISDIR, ...) or 'E2BIG' for a file over the limit. */
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const CHUNK = 64 * 1024;

/**
 * The text of `path`, read to its end but never past `limit` bytes. Throws
 * UserFileError `cannot read it (CODE)`, or `too large for <what> (more than
 * <limit> bytes)`.
 */
export function readUserFile(path: string, limit: number, what: string): string {
  const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'EIO';
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new UserFileError(`cannot read it (${codeOf(e)})`, codeOf(e));
  }
  try {
    if (fstatSync(fd).isDirectory()) throw new UserFileError('cannot read it (EISDIR)', 'EISDIR');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new UserFileError(`too large for ${what} (more than ${limit} bytes)`, 'E2BIG');
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if (e instanceof UserFileError) throw e;
    throw new UserFileError(`cannot read it (${codeOf(e)})`, codeOf(e));
  } finally {
    closeSync(fd);
  }
}

/** Limits: each file is a few KiB in practice; these are far past any real one. */
export const LIMITS = {
  plan: 1 << 20,
  baseline: 4 << 20,
  topology: 16 << 20,
  state: 64 << 20,
} as const;
