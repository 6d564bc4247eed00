// One shape for every kernel error, thrown by both backends.
//
// It follows Node's own fs/libuv errors (nodejs/node src/api/exceptions.cc,
// UVException): `code` is the errno name, `errno` is negative, `syscall` names
// the system call, `path` the file or device. We add `request`, the name of the
// ioctl, because "EINVAL, ioctl" alone does not say which of forty ioctls failed.
import { getSystemErrorName, getSystemErrorMap } from 'node:util';

export interface SystemErrorInit {
  /** errno, positive or negative; stored negative like Node's. */
  errno: number;
  syscall: string;
  /** ioctl request name, e.g. `VFIO_DEVICE_FEATURE`. */
  request?: string;
  /** file or device path, e.g. `/dev/vfio/12` or `/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs`. */
  path?: string;
  /** Extra context appended to the message (never replaces the errno name). */
  detail?: string;
}

export class SystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly request?: string;
  readonly path?: string;

  constructor(init: SystemErrorInit) {
    const errno = -Math.abs(init.errno);
    const code = errnoName(errno);
    const what = init.request ? `${init.syscall} ${init.request}` : init.syscall;
    const where = init.path ? ` '${init.path}'` : '';
    const detail = init.detail ? ` (${init.detail})` : '';
    // Inside expectingErrno() the caller wants the errno, not where it came
    // from: no stack trace (capturing one is most of what an Error costs).
    const limit = Error.stackTraceLimit;
    if (expecting > 0) Error.stackTraceLimit = 0;
    try {
      super(`${code}: ${errnoMessage(errno)}, ${what}${where}${detail}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'SystemError';
    this.code = code;
    this.errno = errno;
    this.syscall = init.syscall;
    if (init.request !== undefined) this.request = init.request;
    if (init.path !== undefined) this.path = init.path;
  }
}

/**
 * The calling thread was ended by the kernel while in a system call: an oops
 * in process context ends the task (arch/x86/kernel/dumpstack.c oops_end ->
 * make_task_dead -> do_exit), so the call never returns. Only that thread
 * dies: the process's other threads, its files and the locks the dead thread
 * held stay until the process is killed. The mock backend throws it from the
 * call that oopsed and from every later call of that process (its JS thread
 * is gone) and releases the files when the process is closed (killed); on
 * the native backend the node process whose main thread died hangs until
 * iovh's runner kills it.
 */
export class TaskKilledError extends Error {
  readonly signal = 'SIGKILL';
  /** What killed the task, e.g. `oops: BUG: kernel NULL pointer dereference`. */
  readonly reason: string;

  constructor(reason: string) {
    super(`task killed by SIGKILL (${reason})`);
    this.name = 'TaskKilledError';
    this.reason = reason;
  }
}

let expecting = 0;

/**
 * Run `fn`, a call whose failure is an expected answer (an invalid-argument
 * sweep: "this request must be refused with EINVAL"). SystemErrors made while
 * it runs carry no stack trace, and the native backend takes the addon's
 * errno-returning entry points, so an expected refusal costs little more than
 * the system call. Synchronous work only: the scope ends when `fn` returns.
 */
export function expectingErrno<T>(fn: () => T): T {
  expecting++;
  try {
    return fn();
  } finally {
    expecting--;
  }
}

/** True inside expectingErrno(). */
export function errnoExpected(): boolean {
  return expecting > 0;
}

export function systemError(init: SystemErrorInit): SystemError {
  return new SystemError(init);
}

/** True when `e` is a SystemError (or any Node-shaped error) with this code. */
export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Errno numbers by name, Linux x86_64 (include/uapi/asm-generic/errno*.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EPIPE: 32,
  ERANGE: 34,
  EDEADLK: 35,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ETIMEDOUT: 110,
  ECANCELED: 125,
  EUCLEAN: 117,
} as const;
export type ErrnoName = keyof typeof Errno;

// libuv has no name for these (getSystemErrorName answers "Unknown system error -62").
const extraNames: Record<number, string> = {
  35: 'EDEADLK',
  62: 'ETIME',
  77: 'EBADFD',
  95: 'EOPNOTSUPP',
  117: 'EUCLEAN',
};

export function errnoName(errno: number): string {
  const n = -Math.abs(errno);
  // libuv maps ENOTSUP/EOPNOTSUPP to ENOTSUP; the kernel's name is EOPNOTSUPP.
  if (extraNames[-n]) return extraNames[-n]!;
  try {
    return getSystemErrorName(n);
  } catch {
    return `E${-n}`;
  }
}

export function errnoNumber(name: string): number {
  const known = (Errno as Record<string, number>)[name];
  if (known !== undefined) return known;
  for (const [n, [code]] of getSystemErrorMap()) if (code === name) return -n;
  throw new TypeError(`unknown errno name ${name}`);
}

const messages: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  24: 'Too many open files',
  25: 'Inappropriate ioctl for device',
  28: 'No space left on device',
  30: 'Read-only file system',
  32: 'Broken pipe',
  34: 'Numerical result out of range',
  38: 'Function not implemented',
  39: 'Directory not empty',
  40: 'Too many levels of symbolic links',
  61: 'No data available',
  62: 'Timer expired',
  75: 'Value too large for defined data type',
  95: 'Operation not supported',
  110: 'Connection timed out',
  117: 'Structure needs cleaning',
  125: 'Operation canceled',
};

export function errnoMessage(errno: number): string {
  const n = Math.abs(errno);
  return messages[n] ?? `errno ${n}`;
}
