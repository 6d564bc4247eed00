// Lock files: one iovh at a time on a mock state file (held from before the
// state is loaded until after it is saved) and on a bring-up journal (held
// for a journaled session). The rules (docs/safety.md):
//
// - A lock is created whole: its content (pid, boot id, the process's start
//   time, the command) goes to a temporary file first, which is then
//   link(2)ed to the lock's name; link fails with EEXIST when the lock is
//   held, and a lock never exists empty or half written, so one that does
//   not parse is damage, not a lock being created.
// - The owner is alive when its pid exists on this boot with the start time
//   the lock recorded (/proc/PID/stat field 22): a pid reused by an
//   unrelated process after a kill does not keep the lock. A lock whose
//   owner is gone is broken: renamed away (one process wins the rename),
//   checked to be the very file found stale, removed.
// - A held lock is waited for (up to IOVH_LOCK_WAIT seconds, default 60),
//   saying once who holds it; then the error names the holder and how to
//   clear the lock if that is not an iovh.
// - A process holds each lock once; taking it again nests (released when
//   every taker released it).
import {
  closeSync,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';

export interface LockOwner {
  pid: number;
  /** /proc/sys/kernel/random/boot_id when the lock was taken */
  boot: string | null;
  /** field 22 of /proc/PID/stat (clock ticks since boot) */
  start: string | null;
  command: string;
}

/** The lock is held by another live process (or cannot be taken): the message says which, and what to do. */
export class LockError extends Error {
  override name = 'LockError';
  constructor(
    message: string,
    readonly owner: LockOwner | null,
  ) {
    super(message);
  }
}

export function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null; // not Linux, or /proc not mounted: liveness falls back to the pid alone
  }
}

/** Field 22 (starttime) of /proc/PID/stat; null when unreadable. The command name (field 2) may hold spaces and ')'. */
export function startTime(pid: number): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null; // fields[0] is field 3 (state)
}

/**
 * Is the process that recorded (pid, boot, start) still running? Another
 * boot: no. A pid with another start time: no (reused). EPERM: it exists but
 * belongs to someone else.
 */
export function ownerAlive(owner: { pid: number; boot: string | null; start?: string | null }): boolean {
  const now = bootId();
  if (owner.boot !== null && now !== null && owner.boot !== now) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.start) {
    const start = startTime(owner.pid);
    if (start !== null && start !== owner.start) return false;
  }
  return true;
}

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

const held = new Map<string, { count: number }>();
let serial = 0;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The lock wait from IOVH_LOCK_WAIT (seconds, 0 = do not wait), default 60 s. */
export function lockWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.IOVH_LOCK_WAIT;
  if (v !== undefined && /^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  return 60_000;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return null;
    return {
      pid: o.pid,
      boot: typeof o.boot === 'string' ? o.boot : null,
      start: typeof o.start === 'string' ? o.start : null,
      command: typeof o.command === 'string' ? o.command : '?',
    };
  } catch {
    return null;
  }
}

/** The lock's owner and inode as found now, or null when it is gone. */
function readLock(path: string): { owner: LockOwner | null; ino: number; text: string } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if (codeOf(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const ino = fstatSync(fd).ino;
    const text = readFileSync(fd, 'utf8');
    return { owner: parseOwner(text), ino, text };
  } finally {
    closeSync(fd);
  }
}

/** Removes the stale lock found with inode `ino`, unless another process replaced it meanwhile. */
function breakStale(path: string, ino: number): void {
  const aside = `${path}.stale-${process.pid}-${serial++}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if (codeOf(e) === 'ENOENT') return; // another process broke it first
    throw e;
  }
  if (lstatSync(aside).ino !== ino) {
    // A live lock taken between our read and the rename: put it back (unless yet another took the name).
    try {
      linkSync(aside, path);
    } catch {
      // EEXIST: the name is held again; the owner of the one moved aside finds its lock changed on release.
    }
  }
  unlinkSync(aside);
}

export interface LockOptions {
  /** What the lock protects, in messages ("mock state /x/state.json"). */
  what: string;
  /** The command line of this process, recorded in the lock. */
  command: string;
  /** How long to wait for a live holder; 0: fail at once. */
  waitMs: number;
  /** Called once when the lock is held by another live process and waiting starts. */
  onWait?: (owner: LockOwner) => void;
}

export interface Lock {
  readonly path: string;
  release(): void;
}

/** Takes the lock file `path` (see the header). Throws LockError when it is held past the wait. */
export function acquireLock(path: string, options: LockOptions): Lock {
  const mine = held.get(path);
  if (mine) {
    mine.count++;
    return { path, release: () => release(path) };
  }
  const me: LockOwner = { pid: process.pid, boot: bootId(), start: startTime(process.pid), command: options.command };
  const tmp = `${path}.${process.pid}-${serial++}.tmp`;
  // Not fsynced: a lock need not survive a crash (after a reboot its owner is another boot's, so dead).
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(me));
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + options.waitMs;
  let told = false;
  try {
    for (;;) {
      try {
        linkSync(tmp, path);
        held.set(path, { count: 1 });
        return { path, release: () => release(path) };
      } catch (e) {
        if (codeOf(e) !== 'EEXIST') throw e;
      }
      const found = readLock(path);
      if (!found) continue; // released between link and read
      const owner = found.owner;
      if (owner === null) {
        throw new LockError(
          `${options.what} is locked by ${path}, which is not an iovh lock (${JSON.stringify(found.text.slice(0, 60))}); remove it if no iovh is running`,
          null,
        );
      }
      if (owner.pid === process.pid || !ownerAlive(owner)) {
        // Dead (a kill), or this very process from an earlier, unreleased take (cannot be: held would know).
        breakStale(path, found.ino);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LockError(
          `${options.what} is in use by pid ${owner.pid} (\`iovh ${owner.command}\`)${options.waitMs > 0 ? `; waited ${options.waitMs / 1000} s (IOVH_LOCK_WAIT)` : ''}; wait for it to finish, or, if pid ${owner.pid} is no iovh, remove ${path}`,
          owner,
        );
      }
      if (!told) {
        told = true;
        options.onWait?.(owner);
      }
      sleep(Math.min(50, Math.max(1, deadline - Date.now())));
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}

function release(path: string): void {
  const mine = held.get(path);
  if (!mine) return;
  if (--mine.count > 0) return;
  held.delete(path);
  const found = readLock(path);
  // Remove only our own lock: a lock broken as stale by mistake and retaken by another process stays theirs.
  if (found?.owner?.pid === process.pid) unlinkSync(path);
}
