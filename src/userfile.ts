// Reading a file a user names (a plan, a topology, a baseline, a mock state
// file) without trusting what it is (docs/safety.md):
//
// - bounded: never past a size limit, so `--topology /dev/zero` or a
//   multi-GiB file is "too large" instead of a read that never ends or a
//   heap exhausted;
// - never waiting forever: a pipe (`<(...)`) or a FIFO is read as it comes,
//   but one that gives no data for a while (a FIFO nobody writes, a terminal)
//   is given up on with one line, instead of a command that hangs;
// - a directory or an unreadable file is its errno.
//
// And parsing its JSON (parseUserJson) the same way for every file: a UTF-8
// byte order mark (some Windows editors write one) is accepted; nesting
// deeper than JSON_DEPTH is refused in one line (the validators recurse, and
// a deep file made them throw "Maximum call stack size exceeded"); a key
// given twice in one object is refused (JSON.parse keeps the last silently,
// so `{"numvfs": 2, ..., "numvfs": 0}` would not do what half the file says).
//
// Callers turn UserFileError into their own one-line error (UsageError,
// MockConfigError, BaselineError). Helper note: JSON Schemas validate the
// shapes on top of this reader; the byte-level reading stays here.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class UserFileError extends Error {
  override name = 'UserFileError';
  /** The errno code (ENOENT, EISDIR, ...), 'E2BIG' for a file over the limit, 'ETIMEDOUT', or 'EJSON'. */
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const CHUNK = 64 * 1024;

/** How long a pipe, FIFO or device may give no data before the read is given up (IOVH_READ_WAIT seconds). */
export function readWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.IOVH_READ_WAIT;
  if (v !== undefined && /^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  return 10_000;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The text of `path`, read to its end but never past `limit` bytes. Throws
 * UserFileError `cannot read it (CODE)`, `too large for <what> (more than
 * <limit> bytes)`, or, for a pipe, FIFO or device that gave nothing for
 * `waitMs`, `gave no data for N s (...)`.
 */
export function readUserFile(path: string, limit: number, what: string, waitMs = readWaitMs()): string {
  const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? 'EIO';
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO with no writer yet would block in open(2) itself, before any time limit applies.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new UserFileError(`cannot read it (${codeOf(e)})`, codeOf(e));
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UserFileError('cannot read it (EISDIR)', 'EISDIR');
    const waits = !st.isFile();
    const chunks: Buffer[] = [];
    let total = 0;
    let idleSince = Date.now();
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK);
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        if (!waits || codeOf(e) !== 'EAGAIN') throw e;
        n = -1; // a writer is there, with nothing written yet
      }
      if (n > 0) {
        total += n;
        if (total > limit) throw new UserFileError(`too large for ${what} (more than ${limit} bytes)`, 'E2BIG');
        chunks.push(chunk.subarray(0, n));
        idleSince = Date.now();
        continue;
      }
      // 0 is the end, except from a FIFO that has had no writer yet (O_NONBLOCK reads 0 until one opens it).
      if (n === 0 && (!st.isFIFO() || total > 0)) break;
      if (Date.now() - idleSince >= waitMs) {
        throw new UserFileError(
          `gave no data for ${waitMs / 1000} s (a FIFO or terminal nobody writes to?); give a regular file, or raise IOVH_READ_WAIT`,
          'ETIMEDOUT',
        );
      }
      sleep(10);
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

/** Deepest nesting of arrays and objects a user file may have; the real ones stay under 8. */
export const JSON_DEPTH = 64;

/**
 * The JSON value of a user file's text (see the header): a leading BOM is
 * dropped; a syntax error, nesting deeper than JSON_DEPTH and a key given
 * twice in one object are UserFileError (code EJSON) with a one-line message.
 */
export function parseUserJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new UserFileError(`not valid JSON (${(e as Error).message})`, 'EJSON');
  }
  checkStructure(body);
  return value;
}

/** The depth and duplicate-key scan of text JSON.parse accepted (so strings and structure are well formed). */
function checkStructure(text: string): void {
  type Frame = { keys: Set<string> | null; expectKey: boolean; path: string; index: number };
  const stack: Frame[] = [];
  const where = (): string => (stack.length === 0 ? '(root)' : stack[stack.length - 1]!.path);
  let lastKey: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key))
          throw new UserFileError(
            `${top.path === '' ? '' : `${top.path.replace(/^\./, '')}: `}key ${JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}...` : key)} given twice (JSON keeps only the last; say it once)`,
            'EJSON',
          );
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
      continue;
    }
    if (c === '{' || c === '[') {
      const parent = stack[stack.length - 1];
      const name = parent ? (parent.keys ? `.${lastKey ?? ''}` : `[${parent.index}]`) : '';
      const path = `${parent?.path ?? ''}${name}`;
      if (stack.length >= JSON_DEPTH)
        throw new UserFileError(
          `nested deeper than ${JSON_DEPTH} levels at ${path.replace(/^\./, '') || where()}`,
          'EJSON',
        );
      stack.push({ keys: c === '{' ? new Set() : null, expectKey: c === '{', path, index: 0 });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.keys) top.expectKey = true;
        else top.index++;
      }
    }
  }
}

/** readUserFile then parseUserJson. */
export function readUserJson(path: string, limit: number, what: string): unknown {
  return parseUserJson(readUserFile(path, limit, what));
}
