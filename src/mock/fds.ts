// The processes' file descriptors and the kernel's struct file references
// (contracts.ts FdTable).
//
// A KernelFile is released (its `release()`, the kernel's last fput) when the
// last reference goes: every fd installed for it, plus references held inside
// the kernel (an importer's dma_buf_get, an mmap of the file, a vfio device
// holding its group). fds are allocated lowest-free from 3 (0-2 are stdio).
//
// File references are kernel-wide; fd numbers belong to a process. Every fd
// operation works on the calling process's table (`current->files`), which the
// platform selects with use() on entry to each system call (src/mock/process.ts).

import type { FdTable, KernelFile } from './contracts.js';
import { fail } from './errno.js';
import { O } from '../uapi/constants.js';

/** Where a file lives, for /proc/self/fdinfo's mnt_id and ino. */
export interface FileMeta {
  mntId: number;
  ino: number;
  /** f_flags (O_ACCMODE, O_NONBLOCK, O_LARGEFILE, ...). */
  flags: number;
}

interface Ref {
  count: number;
  meta: FileMeta;
}

/** RLIMIT_NOFILE as Node leaves it (it raises the soft limit to the hard limit). */
export const FD_LIMIT = 65536;
export const O_LARGEFILE = 0o100000;

export const MNT = { devtmpfs: 24, anonInode: 15, dmabuf: 16, shm: 17 } as const;

/** One process's fd table: fd -> file. */
export type FdEntries = Map<number, { file: KernelFile; cloexec: boolean }>;

export class FdTableImpl implements FdTable {
  private fds: FdEntries = new Map();
  private readonly refs = new Map<KernelFile, Ref>();
  private nextIno = 20480;

  /** Make `table` the calling process's fd table. */
  use(table: FdEntries): void {
    this.fds = table;
  }

  /** Metadata for a file before it is installed (default: an anon inode file). */
  describe(file: KernelFile, meta: Partial<FileMeta>): void {
    const r = this.refs.get(file);
    const full: FileMeta = {
      mntId: meta.mntId ?? MNT.anonInode,
      ino: meta.ino ?? this.nextIno++,
      flags: meta.flags ?? O.RDWR,
    };
    if (r) r.meta = full;
    else this.refs.set(file, { count: 0, meta: full });
  }

  meta(file: KernelFile): FileMeta {
    let r = this.refs.get(file);
    if (!r) {
      this.describe(file, {});
      r = this.refs.get(file)!;
    }
    return r.meta;
  }

  install(file: KernelFile, flags: number): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    if (fd >= FD_LIMIT) fail('EMFILE');
    this.meta(file);
    this.refs.get(file)!.count++;
    this.fds.set(fd, { file, cloexec: (flags & O.CLOEXEC) !== 0 });
    return fd;
  }

  get(fd: number): KernelFile {
    const e = this.fds.get(fd);
    if (!e) fail('EBADF');
    return e.file;
  }

  has(fd: number): boolean {
    return this.fds.has(fd);
  }

  cloexec(fd: number): boolean {
    return this.fds.get(fd)?.cloexec ?? false;
  }

  /** Another reference to an open file (get_file). */
  ref(file: KernelFile): void {
    const r = this.refs.get(file);
    if (!r || r.count === 0) throw new Error('mock: reference to a file that is not open');
    r.count++;
  }

  /** Drop a reference (fput); the last one releases the file. */
  unref(file: KernelFile): void {
    const r = this.refs.get(file);
    if (!r || r.count === 0) throw new Error('mock: fput of a file with no references');
    if (--r.count === 0) {
      this.refs.delete(file);
      file.release();
    }
  }

  count(file: KernelFile): number {
    return this.refs.get(file)?.count ?? 0;
  }

  /** close(2): the fd is gone even if the release reports an error. */
  close(fd: number): void {
    const e = this.fds.get(fd);
    if (!e) fail('EBADF');
    this.fds.delete(fd);
    this.unref(e.file);
  }

  /** The calling process's fds, or those of `table`. */
  list(table: FdEntries = this.fds): number[] {
    return [...table.keys()].sort((a, b) => a - b);
  }

  openFiles(): number {
    return this.refs.size;
  }
}
