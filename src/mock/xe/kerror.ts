// An errno travelling up from deep inside the model (a map that failed, a
// lookup that missed) to the ioctl that reports it. The ioctl boundary turns
// it, and any SystemError the platform raised, into a SystemError naming
// this device's request and node (src/uapi/errors.ts).

import { Errno, SystemError } from '../../uapi/errors.js';

export class KernelError extends Error {
  /** positive errno */
  readonly errno: number;
  readonly detail: string | undefined;

  constructor(errno: number, detail?: string) {
    super(detail ?? `errno ${errno}`);
    this.name = 'KernelError';
    this.errno = Math.abs(errno);
    this.detail = detail;
  }
}

export function kfail(errno: keyof typeof Errno, detail?: string): never {
  throw new KernelError(Errno[errno], detail);
}

/** The positive errno of a KernelError or of a SystemError-shaped error, else null. */
export function errnoOf(e: unknown): number | null {
  if (e instanceof KernelError) return e.errno;
  if (e instanceof SystemError) return -e.errno;
  if (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { errno?: unknown }).errno === 'number' &&
    typeof (e as { code?: unknown }).code === 'string'
  ) {
    return Math.abs((e as { errno: number }).errno);
  }
  return null;
}

/** Re-raise `e` as the SystemError of ioctl `request` on `path`; errors without an errno pass through. */
export function asIoctlError(e: unknown, request: string, path: string, syscall = 'ioctl'): unknown {
  const errno = errnoOf(e);
  if (errno === null) return e;
  // A platform SystemError already names its own kernel function in its message; userspace sees only the errno.
  const detail = e instanceof KernelError ? e.detail : undefined;
  return new SystemError({ errno, syscall, request, path, ...(detail ? { detail } : {}) });
}
