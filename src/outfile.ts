// Writing a file a user names: the reports of `iovh run` (--json, --junit,
// --ktap, --kcidb, --write-baseline), `iovh capture --out`, and the mock's
// --mock-state file. The rules (docs/safety.md):
//
// - A regular file (or a name that does not exist yet) is replaced
//   atomically: the text goes to a temporary file in the same directory,
//   which is fsynced, renamed over the name (rename(2) swaps the name in one
//   step, so a reader never sees half a file) and its directory fsynced, so
//   that a kernel panic right after leaves the old file or the new one,
//   never an empty one. The replaced file's permission bits are kept.
// - A symbolic link is followed: the file it points to is replaced, the link
//   stays (a dangling link: its target is created). A link loop is an error.
// - A character or block device, a FIFO or a socket (/dev/null, /dev/stdout,
//   a pipe to a collector) is written in place, never renamed over: renaming
//   a regular file over /dev/null as root breaks the machine.
// - A directory is an error (EISDIR).
// - An output that is the same file as one of the command's inputs (by real
//   path, or by inode for hard links) is refused before anything is written.
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** An output that cannot be written: `code` is the errno name (ELOOP, EISDIR, ...). */
export class OutputFileError extends Error {
  override name = 'OutputFileError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export type OutputMode =
  /** A regular file, or none yet: replaced atomically. `file` is the path after following links. */
  | { kind: 'atomic'; file: string }
  /** A device, FIFO or socket: written in place. */
  | { kind: 'direct'; file: string };

export function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** realpath of a link, or, when it dangles, the path it names (relative to the link's directory). */
function realpathOrTarget(link: string): string {
  try {
    return realpathSync(link);
  } catch (e) {
    if (codeOf(e) !== 'ENOENT') throw e;
    return resolve(dirname(link), readlinkSync(link));
  }
}

/**
 * How `path` is to be written. Throws OutputFileError for a directory
 * (EISDIR), a link loop (ELOOP) and what cannot be examined (its errno).
 */
export function outputMode(path: string): OutputMode {
  let isLink: boolean;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch (e) {
    if (codeOf(e) === 'ENOENT') return { kind: 'atomic', file: path };
    throw new OutputFileError(codeOf(e), codeOf(e));
  }
  let target: string;
  try {
    target = isLink ? realpathOrTarget(path) : path;
  } catch (e) {
    const code = codeOf(e);
    throw new OutputFileError(code === 'ELOOP' ? 'ELOOP (a symbolic link loop)' : code, code);
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(target, { throwIfNoEntry: false });
  } catch (e) {
    throw new OutputFileError(codeOf(e), codeOf(e));
  }
  if (!st || st.isFile()) return { kind: 'atomic', file: target };
  if (st.isDirectory()) throw new OutputFileError('EISDIR', 'EISDIR');
  return { kind: 'direct', file: target };
}

let serial = 0;

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The temporary sibling a replacement of `file` is written to (hidden, unique to this process and call). */
export function tempSibling(file: string): string {
  return join(dirname(file), `.${basename(file)}.iovh-${process.pid}-${serial++}.tmp`);
}

/**
 * Replaces the regular file `file` (or creates it) with `text`: temporary
 * sibling, fsync, rename, fsync of the directory. Keeps the replaced file's
 * permission bits (`mode` for a new file, before the umask). On failure the
 * temporary file is removed and the error (an errno) is thrown.
 */
export function writeAtomic(file: string, text: string | Uint8Array, mode = 0o666): void {
  const tmp = tempSibling(file);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', mode);
    const old = statSync(file, { throwIfNoEntry: false });
    if (old?.isFile()) fchmodSync(fd, old.mode & 0o7777);
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch (cleanup) {
      // ENOENT: never made, or renamed. Anything else is worth saying with the first error.
      if (codeOf(cleanup) !== 'ENOENT')
        throw new OutputFileError(
          `${codeOf(e)}, and the temporary file ${tmp} could not be removed (${codeOf(cleanup)})`,
          codeOf(e),
        );
    }
    throw e;
  }
  fsyncDir(dirname(file));
}

/** Writes `text` into a device, FIFO or socket in place (no O_CREAT, no rename). */
export function writeDirect(file: string, text: string | Uint8Array): void {
  const fd = openSync(file, 'w');
  try {
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

export function writeOutput(mode: OutputMode, text: string | Uint8Array): void {
  if (mode.kind === 'atomic') writeAtomic(mode.file, text);
  else writeDirect(mode.file, text);
}

/**
 * Checks, writing nothing the user could see, that `mode` can be written:
 * an atomic replacement's temporary file can be created (and is removed);
 * a device, FIFO or socket is writable (access(2)). Throws the errno.
 */
export function probeOutput(mode: OutputMode): void {
  // A device or FIFO is not opened: closing a FIFO's only writer ends the reader that is waiting for the report.
  if (mode.kind === 'direct') return accessSync(mode.file, constants.W_OK);
  const tmp = tempSibling(mode.file);
  closeSync(openSync(tmp, 'wx', 0o600));
  unlinkSync(tmp);
}

/** What identifies a file for the same-file check: its real path, and its inode when it is a regular file. */
interface Identity {
  real: string;
  inode: string | null;
  regular: boolean;
  exists: boolean;
}

function identity(path: string): Identity {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    // Not there (yet): the real path of its directory and its name; a dangling link: what it names.
    try {
      real = lstatSync(path).isSymbolicLink() ? realpathOrTarget(path) : path;
    } catch {
      real = path;
    }
    try {
      real = join(realpathSync(dirname(real)), basename(real));
    } catch {
      real = resolve(real);
    }
    return { real, inode: null, regular: true, exists: false };
  }
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(real);
  } catch {
    st = undefined;
  }
  return {
    real,
    inode: st ? `${st.dev}:${st.ino}` : null,
    regular: st ? st.isFile() : true,
    exists: st !== undefined,
  };
}

export interface NamedPath {
  /** The option that names it, as typed (--json, --topology, ...). */
  flag: string;
  path: string;
}

/**
 * The first output that is the same file as an input, as a one-line problem,
 * or null. Only a regular file (or a name not there yet) can be destroyed by
 * a write: a device or FIFO named twice (/dev/stdout for both) is no clash.
 */
export function sameFileProblem(outputs: readonly NamedPath[], inputs: readonly NamedPath[]): string | null {
  const ins = inputs.map((i) => ({ ...i, id: identity(i.path) }));
  for (const out of outputs) {
    const o = identity(out.path);
    if (!o.regular) continue;
    for (const i of ins) {
      if (!i.id.regular) continue;
      const same = o.real === i.id.real || (o.inode !== null && o.inode === i.id.inode);
      if (same)
        return `${out.flag} ${out.path} is the ${i.flag} file${o.real === i.id.real ? '' : ' (the same inode)'}: writing it would destroy that input; name another file`;
    }
  }
  return null;
}
