// The syscall boundary of the mock: every DeviceOps and FileOps call is one
// kernel operation. Here it makes its process the caller, is counted, checked
// against armed faults, ticks the kernel clock, is dispatched to the file's
// handler (DeviceOps: missing handler = the kernel's answer for an op the file
// does not implement), and its KernelErrno becomes the SystemError userspace
// sees. A process whose thread the kernel killed during the call (an oops in
// its context) gets TaskKilledError instead, from that call and every later
// one; its files stay open until the process is killed (src/mock/process.ts).

import type { DeviceOps, FileOps, Mapping } from '../backend/types.js';
import { Errno, SystemError, TaskKilledError, type ErrnoName } from '../uapi/errors.js';
import { isKernelErrno, fail } from './errno.js';
import type { FdTableImpl } from './fds.js';
import { O_LARGEFILE } from './fds.js';
import type { KernelCore } from './kernel.js';
import type { KernelFile } from './contracts.js';
import type { MockProcess } from './process.js';
import { VChar, VDir, VFile, type AttrSpec, type Vfs } from './vfs.js';
import { O } from '../uapi/constants.js';

export type DeviceOpKind = keyof DeviceOps;
export type FileOpKind = keyof FileOps;
export type OpKind = DeviceOpKind | FileOpKind;

/** syscall and ioctl name per DeviceOps method (the names core/*.c reports). */
const CALLS: Record<DeviceOpKind, [syscall: string, request?: string]> = {
  open: ['open'],
  close: ['close'],
  vfioGetApiVersion: ['ioctl', 'VFIO_GET_API_VERSION'],
  vfioCheckExtension: ['ioctl', 'VFIO_CHECK_EXTENSION'],
  vfioSetIommu: ['ioctl', 'VFIO_SET_IOMMU'],
  vfioGroupGetStatus: ['ioctl', 'VFIO_GROUP_GET_STATUS'],
  vfioGroupSetContainer: ['ioctl', 'VFIO_GROUP_SET_CONTAINER'],
  vfioGroupUnsetContainer: ['ioctl', 'VFIO_GROUP_UNSET_CONTAINER'],
  vfioGroupGetDeviceFd: ['ioctl', 'VFIO_GROUP_GET_DEVICE_FD'],
  vfioDeviceGetInfo: ['ioctl', 'VFIO_DEVICE_GET_INFO'],
  vfioDeviceGetRegionInfo: ['ioctl', 'VFIO_DEVICE_GET_REGION_INFO'],
  vfioRegionRead: ['pread'],
  vfioRegionWrite: ['pwrite'],
  vfioDeviceReset: ['ioctl', 'VFIO_DEVICE_RESET'],
  vfioDeviceFeature: ['ioctl', 'VFIO_DEVICE_FEATURE'],
  vfioDmaBufGet: ['ioctl', 'VFIO_DEVICE_FEATURE'],
  vfioDeviceBindIommufd: ['ioctl', 'VFIO_DEVICE_BIND_IOMMUFD'],
  iommuIoasAlloc: ['ioctl', 'IOMMU_IOAS_ALLOC'],
  iommuDestroy: ['ioctl', 'IOMMU_DESTROY'],
  iommuIoasIovaRanges: ['ioctl', 'IOMMU_IOAS_IOVA_RANGES'],
  iommuIoasMapFile: ['ioctl', 'IOMMU_IOAS_MAP_FILE'],
  iommuIoasUnmap: ['ioctl', 'IOMMU_IOAS_UNMAP'],
  vfioDeviceAttachIommufdPt: ['ioctl', 'VFIO_DEVICE_ATTACH_IOMMUFD_PT'],
  vfioDeviceDetachIommufdPt: ['ioctl', 'VFIO_DEVICE_DETACH_IOMMUFD_PT'],
  mmap: ['mmap'],
  drmVersion: ['ioctl', 'DRM_IOCTL_VERSION'],
  drmGetCap: ['ioctl', 'DRM_IOCTL_GET_CAP'],
  drmPrimeFdToHandle: ['ioctl', 'DRM_IOCTL_PRIME_FD_TO_HANDLE'],
  drmPrimeHandleToFd: ['ioctl', 'DRM_IOCTL_PRIME_HANDLE_TO_FD'],
  drmGemClose: ['ioctl', 'DRM_IOCTL_GEM_CLOSE'],
  drmSyncobjCreate: ['ioctl', 'DRM_IOCTL_SYNCOBJ_CREATE'],
  drmSyncobjDestroy: ['ioctl', 'DRM_IOCTL_SYNCOBJ_DESTROY'],
  drmSyncobjWait: ['ioctl', 'DRM_IOCTL_SYNCOBJ_WAIT'],
  xeDeviceQuerySize: ['ioctl', 'DRM_IOCTL_XE_DEVICE_QUERY'],
  xeDeviceQuery: ['ioctl', 'DRM_IOCTL_XE_DEVICE_QUERY'],
  xeGemCreate: ['ioctl', 'DRM_IOCTL_XE_GEM_CREATE'],
  xeGemMmapOffset: ['ioctl', 'DRM_IOCTL_XE_GEM_MMAP_OFFSET'],
  xeVmCreate: ['ioctl', 'DRM_IOCTL_XE_VM_CREATE'],
  xeVmDestroy: ['ioctl', 'DRM_IOCTL_XE_VM_DESTROY'],
  xeVmBind: ['ioctl', 'DRM_IOCTL_XE_VM_BIND'],
  xeExecQueueCreate: ['ioctl', 'DRM_IOCTL_XE_EXEC_QUEUE_CREATE'],
  xeExecQueueDestroy: ['ioctl', 'DRM_IOCTL_XE_EXEC_QUEUE_DESTROY'],
  xeExec: ['ioctl', 'DRM_IOCTL_XE_EXEC'],
  xeWaitUserFence: ['ioctl', 'DRM_IOCTL_XE_WAIT_USER_FENCE'],
  dmaBufSetName: ['ioctl', 'DMA_BUF_SET_NAME_B'],
  dmaBufSync: ['ioctl', 'DMA_BUF_IOCTL_SYNC'],
  memfdCreate: ['memfd_create'],
  ftruncate: ['ftruncate'],
  addSeals: ['fcntl', 'F_ADD_SEALS'],
  udmabufCreate: ['ioctl', 'UDMABUF_CREATE'],
  icVersion: ['ioctl', 'IOVH_IC_VERSION'],
  icImport: ['ioctl', 'IOVH_IC_IMPORT'],
  icMap: ['ioctl', 'IOVH_IC_MAP'],
  icInfo: ['ioctl', 'IOVH_IC_INFO'],
  icRead: ['ioctl', 'IOVH_IC_RW'],
  icWrite: ['ioctl', 'IOVH_IC_RW'],
  icRelease: ['ioctl', 'IOVH_IC_RELEASE'],
};

const ASYNC = new Set<DeviceOpKind>(['vfioDeviceReset', 'drmSyncobjWait', 'xeWaitUserFence']);

/** What a file without the handler answers: ioctls ENOTTY; mmap ENODEV; read/write, ftruncate and fcntl seals EINVAL. */
function missing(kind: DeviceOpKind): ErrnoName {
  switch (kind) {
    case 'mmap':
      return 'ENODEV';
    case 'vfioRegionRead':
    case 'vfioRegionWrite':
    case 'ftruncate':
    case 'addSeals':
      return 'EINVAL';
    default:
      return 'ENOTTY';
  }
}

const FILE_SYSCALL: Record<FileOpKind, string> = {
  readFile: 'open',
  readText: 'open',
  writeFile: 'open',
  readdir: 'scandir',
  readlink: 'readlink',
  stat: 'stat',
  lstat: 'lstat',
  exists: 'access',
  mkdir: 'mkdir',
  rmdir: 'rmdir',
  readRecords: 'open',
};

export interface Fault {
  /** 1 = the next matching operation */
  nth: number;
  kind?: OpKind;
  errno: ErrnoName | number;
}

interface Armed {
  left: number;
  kind: OpKind | undefined;
  errno: number;
}

/** A file opened on a non-device node (a sysfs attribute, a directory): no ioctls; mmap where the attribute has it. */
class PlainFile implements KernelFile {
  readonly handlers: KernelFile['handlers'];
  constructor(
    readonly path: string,
    spec?: AttrSpec,
  ) {
    const mmap = spec?.mmap;
    this.handlers = mmap ? { mmap: (offset, length, prot) => mmap(this, offset, length, prot) } : {};
  }
  fdinfo(): string[] {
    return [];
  }
  release(): void {}
}

/** Operation counts and armed faults: kernel-wide, shared by every process's Syscalls. */
export class OpCounter {
  total = 0;
  readonly byKind = new Map<OpKind, number>();
  armed: Armed[] = [];
}

/** The process a Syscalls serves, as the platform offers it. */
export interface ProcessContext {
  readonly process: MockProcess;
  /** A system call of the process begins: it is the caller (`current`) and in process context. */
  enter(): void;
  /** The system call ended. */
  leave(): void;
  /** Finish the exit of a process the kernel killed (idempotent). */
  reap(): void;
}

export class Syscalls {
  closed = false;

  constructor(
    private readonly kernel: KernelCore,
    private readonly fds: FdTableImpl,
    private readonly vfs: Vfs,
    private readonly files: FileOps,
    /** Releases pending at process exit and everything the kernel does after an operation. */
    private readonly after: () => void = () => undefined,
    private readonly proc: ProcessContext | null = null,
    private readonly counter: OpCounter = new OpCounter(),
  ) {}

  operations(kind?: OpKind): number {
    return kind === undefined ? this.counter.total : (this.counter.byKind.get(kind) ?? 0);
  }

  inject(f: Fault): void {
    if (!Number.isInteger(f.nth) || f.nth < 1)
      throw new RangeError(`fault nth must be a positive integer, got ${f.nth}`);
    const errno = typeof f.errno === 'number' ? Math.abs(f.errno) : Errno[f.errno];
    if (!errno) throw new RangeError(`unknown errno ${String(f.errno)}`);
    this.counter.armed.push({ left: f.nth, kind: f.kind, errno });
  }

  clearFaults(): void {
    this.counter.armed = [];
  }

  pendingFaults(): number {
    return this.counter.armed.length;
  }

  /**
   * The oops ended this process's calling thread: the error every call now
   * gets (nothing of the process's JS runs on that thread any more). The
   * process itself lives, with its files, until it is killed: its backend's
   * close() (src/mock/process.ts).
   */
  private killed(): TaskKilledError | null {
    const reason = this.proc?.process.killedBy ?? null;
    if (reason === null) return null;
    return new TaskKilledError(reason);
  }

  /**
   * Run one call of this process: a killed process gets TaskKilledError, from
   * the call in which the kernel killed it too (whatever the model answered);
   * a Promise settles with it when the process dies before it settles.
   */
  private guard(kind: OpKind, run: () => unknown): unknown {
    const gone = this.killed();
    if (gone) throw gone;
    let r: unknown;
    let failed = false;
    this.proc?.enter();
    try {
      r = run();
    } catch (e) {
      failed = true;
      r = e;
    } finally {
      this.proc?.leave();
    }
    const dead = this.killed();
    if (failed) throw dead ?? r;
    if (dead) {
      if (r instanceof Promise) {
        // the model's own answer is moot: the task is gone
        r.catch(() => undefined);
        return Promise.reject(dead);
      }
      throw dead;
    }
    // (a Promise checks for a later kill where it settles: call())
    if (kind === 'mmap' && this.proc) return this.guardMapping(r as Mapping);
    return r;
  }

  /** A mapping of this process: once the process is killed, its memory is gone (exit_mm). */
  private guardMapping(m: Mapping): Mapping {
    const alive = () => {
      const d = this.killed();
      if (d) throw d;
    };
    return {
      get length() {
        return m.length;
      },
      get address() {
        return m.address;
      },
      read: (offset, length) => (alive(), m.read(offset, length)),
      write: (offset, data) => (alive(), m.write(offset, data)),
      fill: (offset, length, seed, base) => (alive(), m.fill(offset, length, seed, base)),
      verify: (offset, length, seed, base) => (alive(), m.verify(offset, length, seed, base)),
      unmap: () => (alive(), m.unmap()),
    };
  }

  /** Count the operation; the errno of a fault that fires now, else 0. */
  private begin(kind: OpKind): number {
    if (this.closed) throw new Error(`mock backend is closed (${kind} after close())`);
    this.counter.total++;
    this.counter.byKind.set(kind, (this.counter.byKind.get(kind) ?? 0) + 1);
    this.kernel.tick();
    let fire = 0;
    for (const a of this.counter.armed) {
      if (a.kind !== undefined && a.kind !== kind) continue;
      if (--a.left === 0 && fire === 0) fire = a.errno;
    }
    this.counter.armed = this.counter.armed.filter((a) => a.left > 0);
    return fire;
  }

  private convert(e: unknown, kind: DeviceOpKind, path: string | undefined): unknown {
    if (!isKernelErrno(e)) return e;
    const [syscall, request] = CALLS[kind];
    return new SystemError({
      errno: e.errno,
      syscall,
      ...(request ? { request } : {}),
      ...(path ? { path } : {}),
      ...(e.detail ? { detail: e.detail } : {}),
    });
  }

  private injected(errno: number, kind: DeviceOpKind, path: string | undefined): SystemError {
    const [syscall, request] = CALLS[kind];
    return new SystemError({
      errno,
      syscall,
      ...(request ? { request } : {}),
      ...(path ? { path } : {}),
      detail: 'injected fault',
    });
  }

  private pathOf(fd: number): string | undefined {
    return this.fds.has(fd) ? this.fds.get(fd).path : undefined;
  }

  /** One DeviceOps call on an fd. */
  private call(kind: DeviceOpKind, fd: number, args: unknown[]): unknown {
    const fault = this.begin(kind);
    const path = this.pathOf(fd);
    const isAsync = ASYNC.has(kind);
    try {
      if (kind === 'close') {
        // close(2) releases the fd even when it reports an error.
        try {
          this.fds.close(fd);
        } finally {
          this.after();
        }
        if (fault) throw this.injected(fault, kind, path);
        return undefined;
      }
      if (fault) throw this.injected(fault, kind, path);
      const file = this.fds.get(fd);
      // An O_PATH fd takes no file operation: ioctl, pread/pwrite and ftruncate look it up with fdget(), mmap
      // with fget(), and both skip FMODE_PATH files (fs/file.c __fget_light, __fget); fcntl allows only
      // F_DUPFD/F_GETFD/F_SETFD/F_GETFL on it (fs/fcntl.c check_fcntl_cmd). Each is EBADF.
      if (file instanceof OPathFile) fail('EBADF', `${kind} on an O_PATH file`);
      const h = (file.handlers as Record<string, ((...a: unknown[]) => unknown) | undefined>)[kind];
      if (!h) fail(missing(kind));
      const r = h(...args);
      if (r instanceof Promise) {
        // The process may die before the wait ends: then it never sees the answer.
        return r.then(
          (v) => {
            this.after();
            const dead = this.killed();
            if (dead) throw dead;
            return v;
          },
          (e: unknown) => {
            this.after();
            throw this.killed() ?? this.convert(e, kind, path);
          },
        );
      }
      this.after();
      return r;
    } catch (e) {
      this.after();
      const err = this.convert(e, kind, path);
      if (isAsync) return Promise.reject(err);
      throw err;
    }
  }

  private open(path: string, flags: number): number {
    const fault = this.begin('open');
    try {
      if (fault) throw this.injected(fault, 'open', path);
      let file: KernelFile;
      const fdLink = /^\/proc\/(?:self|thread-self|(\d+))\/fd\/(\d+)$/.exec(path);
      // O_PATH of the caller's /proc/<pid>/fd/N: a file on the same dentry that takes no file
      // operations (fs/open.c do_dentry_open returns before f_op->open for O_PATH).
      if ((flags & O.PATH) !== 0 && fdLink && (fdLink[1] === undefined || Number(fdLink[1]) === this.kernel.pid)) {
        const target = this.fds.get(Number(fdLink[2]));
        file = new OPathFile(target.path, target.pinDentry?.() ?? null);
        const fd = this.fds.install(file, flags);
        return fd;
      }
      const node = this.vfs.lookup(path, true);
      if ((flags & O.PATH) !== 0) {
        // O_PATH of any other path: a reference to it, never the device's open.
        return this.fds.install(new OPathFile(this.vfs.pathOf(node), null), flags);
      }
      if (node instanceof VChar) {
        file = node.dev.open(flags);
      } else {
        if (node instanceof VDir && (flags & 3) !== O.RDONLY) fail('EISDIR');
        file = new PlainFile(this.vfs.pathOf(node), node instanceof VFile ? node.spec : undefined);
      }
      const meta = this.fds.meta(file);
      meta.flags = (flags & (3 | O.NONBLOCK)) | O_LARGEFILE;
      let fd: number;
      try {
        fd = this.fds.install(file, flags);
      } catch (e) {
        file.release();
        throw e;
      }
      return fd;
    } catch (e) {
      throw this.convert(e, 'open', path);
    } finally {
      this.after();
    }
  }

  private memfdCreate(name: string, flags: number, impl: (name: string, flags: number) => number): number {
    const fault = this.begin('memfdCreate');
    try {
      if (fault) throw this.injected(fault, 'memfdCreate', undefined);
      return impl(name, flags);
    } catch (e) {
      throw this.convert(e, 'memfdCreate', undefined);
    } finally {
      this.after();
    }
  }

  /** DeviceOps: every method is one operation. */
  deviceOps(memfdCreate: (name: string, flags: number) => number): DeviceOps {
    const target: Record<string, unknown> = {};
    for (const kind of Object.keys(CALLS) as DeviceOpKind[]) {
      let op: (...a: unknown[]) => unknown;
      if (kind === 'open') op = (path, flags) => this.open(path as string, flags as number);
      else if (kind === 'memfdCreate')
        op = (name, flags) => this.memfdCreate(name as string, flags as number, memfdCreate);
      else op = (fd, ...args) => this.call(kind, fd as number, args);
      target[kind] = ASYNC.has(kind)
        ? (...a: unknown[]) => {
            // an async call answers through its promise, even when the process is dead
            try {
              return this.guard(kind, () => op(...a));
            } catch (e) {
              return Promise.reject(e);
            }
          }
        : (...a: unknown[]) => this.guard(kind, () => op(...a));
    }
    return target as unknown as DeviceOps;
  }

  /** FileOps: every method is one operation, with the injected errno as node:fs would report it. */
  fileOps(): FileOps {
    const files = this.files;
    const wrap = <K extends FileOpKind>(kind: K) =>
      ((...args: unknown[]) =>
        this.guard(kind, () => {
          const fault = this.begin(kind);
          try {
            if (fault) {
              if (kind === 'exists') return false;
              throw new SystemError({
                errno: fault,
                syscall: FILE_SYSCALL[kind],
                path: String(args[0]),
                detail: 'injected fault',
              });
            }
            return (files[kind] as (...a: unknown[]) => unknown).apply(files, args);
          } finally {
            this.after();
          }
        })) as FileOps[K];
    return {
      readFile: wrap('readFile'),
      readText: wrap('readText'),
      writeFile: wrap('writeFile'),
      readdir: wrap('readdir'),
      readlink: wrap('readlink'),
      stat: wrap('stat'),
      lstat: wrap('lstat'),
      exists: wrap('exists'),
      mkdir: wrap('mkdir'),
      rmdir: wrap('rmdir'),
      readRecords: wrap('readRecords'),
    };
  }
}

/** An O_PATH file: what it names, and the dentry reference it holds (fs/open.c, fs/file_table.c). */
class OPathFile implements KernelFile {
  readonly handlers = {};

  constructor(
    readonly path: string,
    private readonly dput: (() => void) | null,
  ) {}

  fdinfo(): string[] {
    return [];
  }

  release(): void {
    this.dput?.();
  }
}
