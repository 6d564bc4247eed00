// How the simulated kernel fails an operation.
//
// Inside the mock a failing kernel path throws a KernelErrno (just the errno,
// like a kernel function returning -EINVAL); the syscall boundary
// (src/mock/syscalls.ts) turns it into the SystemError userspace sees, adding
// the syscall, the ioctl name and the path, exactly once. Device models that
// only know src/mock/contracts.ts may throw SystemError directly; the boundary
// passes those through unchanged.
import { Errno, errnoName, type ErrnoName } from '../uapi/errors.js';

export class KernelErrno extends Error {
  /** The errno name, so code that recognises Node-shaped errors (`code` + `errno`) sees this one too. */
  readonly code: string;
  constructor(
    /** positive */
    readonly errno: number,
    readonly detail?: string,
  ) {
    super(detail ? `errno ${errno} (${detail})` : `errno ${errno}`);
    this.name = 'KernelErrno';
    this.code = errnoName(errno);
  }
}

/** `return -ENAME;` */
export function fail(name: ErrnoName, detail?: string): never {
  throw new KernelErrno(Errno[name], detail);
}

export function isKernelErrno(e: unknown): e is KernelErrno {
  return e instanceof KernelErrno;
}

/**
 * The positive errno of any kernel-side error: ours, a SystemError (negative
 * errno), or a device model's own error class with a numeric `errno`. Null for
 * anything else (a bug, not a kernel error).
 */
export function errnoOfAny(e: unknown): number | null {
  if (e instanceof KernelErrno) return e.errno;
  if (typeof e === 'object' && e !== null && typeof (e as { errno?: unknown }).errno === 'number')
    return Math.abs((e as { errno: number }).errno);
  return null;
}
