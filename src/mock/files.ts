// FileOps over the mock's namespace (backend/types.ts FileOps), with the
// errno and the syscall name node:fs would report for the same failure
// (open/read/write/scandir/readlink/stat/lstat/mkdir/rmdir), and the
// per-filesystem rules of src/mock/vfs.ts.

import type { FileKind, FileOps, FileStat, WriteOptions } from '../backend/types.js';
import { SystemError } from '../uapi/errors.js';
import { isKernelErrno, fail, KernelErrno } from './errno.js';
import { O } from '../uapi/constants.js';
import { VChar, VDir, VFile, VLink, type AnyNode, type Vfs } from './vfs.js';
import { Errno, type ErrnoName } from '../uapi/errors.js';

/**
 * A sysfs (or debugfs) attribute whose store misbehaves, from its `nth` write
 * on (1 = the next write(2) that reaches the store; opens refused before the
 * store, ENOENT or EACCES, do not count). It models the attribute's store
 * function at the kernel's own interface (fs/kernfs/file.c
 * kernfs_fop_write_iter hands write(2) whatever the store returns), exactly one of:
 *
 * - `errno`: the store returns -errno and changes nothing, as
 *   sriov_numvfs_store (drivers/pci/iov.c) returns the PF driver's
 *   sriov_configure error (ENOMEM from pci_enable_sriov), driver_override_store
 *   (drivers/pci/pci-sysfs.c, driver_set_override in drivers/base/driver.c)
 *   ENOMEM, bind_store (drivers/base/bus.c) the probe's error, or xe's
 *   vram_quota store the GuC's EIO (drivers/gpu/drm/xe/xe_sriov_pf_sysfs.c).
 * - `takes`: the store runs on this text instead of what was written (a store
 *   that clamps or rounds the value, then returns the full count).
 * - `ignores`: the store returns the full count having done nothing (a store
 *   that drops the value, as drivers_probe_store in drivers/base/bus.c
 *   returns success when no driver bound).
 */
export interface StoreFault {
  nth: number;
  /** The attribute, by any path that resolves to it (links followed) when the write happens. */
  store: string;
  errno?: ErrnoName | number;
  takes?: string;
  ignores?: true;
}

interface ArmedStore {
  left: number;
  store: string;
  errno: number;
  takes: string | undefined;
  ignores: boolean;
}

function wrap<T>(syscall: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isKernelErrno(e))
      throw new SystemError({ errno: e.errno, syscall, path, ...(e.detail ? { detail: e.detail } : {}) });
    throw e;
  }
}

function kindOf(n: AnyNode): FileKind {
  if (n instanceof VDir) return 'dir';
  if (n instanceof VLink) return 'link';
  if (n instanceof VChar) return 'chardev';
  return 'file';
}

// Every node of the mock belongs to root:root, as the kernel creates sysfs,
// procfs, debugfs and devtmpfs nodes (the mock has no udev to chown them).
const ROOT = { uid: 0, gid: 0 } as const;

function statOf(n: AnyNode): FileStat {
  if (n instanceof VDir) return { kind: 'dir', mode: n.mode, ...ROOT, size: 0 };
  // A kernfs or procfs symlink's inode has no size (lstat st_size 0); elsewhere a link's size is its text's length.
  if (n instanceof VLink)
    return { kind: 'link', mode: 0o777, ...ROOT, size: n.fs === 'sysfs' || n.fs === 'procfs' ? 0 : n.target.length };
  if (n instanceof VChar)
    return { kind: 'chardev', mode: n.dev.mode, ...ROOT, size: 0, major: n.dev.major, minor: n.dev.minor };
  const f = n as VFile;
  let size = 0;
  if (f.spec.size) size = f.spec.size();
  else if (f.fs === 'sysfs')
    size = 4096; // sysfs text attributes report PAGE_SIZE
  else if (f.fs === 'rootfs' && f.spec.show) {
    const c = f.spec.show();
    size = typeof c === 'string' ? Buffer.byteLength(c) : c.length;
  }
  return { kind: kindOf(n), mode: f.mode, ...ROOT, size };
}

export class MockFiles implements FileOps {
  private storeFaults: ArmedStore[] = [];

  constructor(private readonly vfs: Vfs) {}

  /** Arm a store fault (src/mock/backend.ts injectFault); several may be armed, on one attribute or many. */
  injectStore(f: StoreFault): void {
    if (!Number.isInteger(f.nth) || f.nth < 1)
      throw new RangeError(`fault nth must be a positive integer, got ${f.nth}`);
    const how = [f.errno !== undefined, f.takes !== undefined, f.ignores === true].filter(Boolean).length;
    if (how !== 1) throw new RangeError(`store fault on ${f.store}: give exactly one of errno, takes, ignores`);
    let errno = 0;
    if (f.errno !== undefined) {
      errno = typeof f.errno === 'number' ? Math.abs(f.errno) : Errno[f.errno];
      if (!errno) throw new RangeError(`unknown errno ${String(f.errno)}`);
    }
    this.storeFaults.push({ left: f.nth, store: f.store, errno, takes: f.takes, ignores: f.ignores === true });
  }

  clearStoreFaults(): void {
    this.storeFaults = [];
  }

  pendingStoreFaults(): number {
    return this.storeFaults.length;
  }

  /** Count a write that reached `node`'s store; the armed fault that fires on it, if any. */
  private storeFault(node: VFile): ArmedStore | null {
    let fire: ArmedStore | null = null;
    for (const a of this.storeFaults) {
      let target: AnyNode | null = null;
      try {
        target = this.vfs.lookup(a.store, true);
      } catch (e) {
        if (!isKernelErrno(e)) throw e;
      }
      if (target !== node) continue;
      if (--a.left === 0 && fire === null) fire = a;
    }
    this.storeFaults = this.storeFaults.filter((a) => a.left > 0);
    return fire;
  }

  private bytes(path: string): Uint8Array {
    const node = wrap('open', path, () => this.vfs.lookup(path, true));
    if (node instanceof VDir) return wrap('read', path, () => fail('EISDIR'));
    if (node instanceof VChar) {
      // /dev/kmsg read to its current end (a blocking reader would then wait; the mock returns).
      if (node.stream) return new TextEncoder().encode(node.stream.records().join(''));
      // open(2) runs the device's open (group exclusivity and all), read(2) has no handler.
      const file = wrap('open', path, () => node.dev.open(O.RDONLY));
      try {
        return wrap('read', path, () => fail('EINVAL'));
      } finally {
        file.release();
      }
    }
    const f = node as VFile;
    if (!f.spec.show) {
      if (f.fs === 'sysfs') wrap('open', path, () => fail('EACCES'));
      return wrap('read', path, () => fail(f.fs === 'procfs' ? 'EIO' : 'EACCES'));
    }
    const show = f.spec.show;
    const c = wrap('read', path, () => show());
    return typeof c === 'string' ? new TextEncoder().encode(c) : c;
  }

  readFile(path: string): Uint8Array {
    return this.bytes(path);
  }

  readText(path: string): string {
    return new TextDecoder().decode(this.bytes(path));
  }

  writeFile(path: string, data: string, options?: WriteOptions): void {
    const node = wrap('open', path, () => this.vfs.lookup(path, true));
    if (node instanceof VDir) wrap('open', path, () => fail('EISDIR'));
    if (node instanceof VChar) {
      if (node.stream) {
        const stream = node.stream;
        wrap('write', path, () => stream.write(data));
        return;
      }
      const file = wrap('open', path, () => node.dev.open(O.WRONLY));
      try {
        wrap('write', path, () => fail('EINVAL'));
      } finally {
        file.release();
      }
      return;
    }
    const f = node as VFile;
    const store = f.spec.store;
    if (!store) {
      if (f.fs === 'sysfs') wrap('open', path, () => fail('EACCES'));
      if (f.fs === 'rootfs') wrap('open', path, () => fail('EACCES'));
      wrap('write', path, () => fail(f.fs === 'procfs' ? 'EIO' : f.fs === 'tracefs' ? 'EINVAL' : 'EACCES'));
      return;
    }
    const truncate = f.spec.truncate;
    if (!options?.append && truncate) wrap('open', path, () => truncate());
    const fault = this.storeFault(f);
    if (fault?.ignores) return;
    if (fault && fault.errno !== 0) {
      const errno = fault.errno;
      return wrap('write', path, () => {
        throw new KernelErrno(errno, 'injected store fault');
      });
    }
    wrap('write', path, () => store(fault?.takes ?? data));
  }

  readdir(path: string): string[] {
    const node = wrap('scandir', path, () => this.vfs.lookup(path, true));
    if (!(node instanceof VDir)) return wrap('scandir', path, () => fail('ENOTDIR'));
    return node.names().sort();
  }

  readlink(path: string): string {
    const node = wrap('readlink', path, () => this.vfs.lookup(path, false));
    if (!(node instanceof VLink)) return wrap('readlink', path, () => fail('EINVAL'));
    return node.target;
  }

  stat(path: string): FileStat {
    return statOf(wrap('stat', path, () => this.vfs.lookup(path, true)));
  }

  lstat(path: string): FileStat {
    return statOf(wrap('lstat', path, () => this.vfs.lookup(path, false)));
  }

  exists(path: string): boolean {
    try {
      this.vfs.lookup(path, true);
      return true;
    } catch (e) {
      if (isKernelErrno(e)) return false;
      throw e;
    }
  }

  mkdir(path: string): void {
    const parts = path.split('/').filter((c) => c !== '');
    const name = parts.pop();
    const parentPath = `/${parts.join('/')}`;
    const parent = wrap('mkdir', path, () => this.vfs.lookup(parentPath, true));
    if (!name) wrap('mkdir', path, () => fail('EEXIST'));
    if (!(parent instanceof VDir)) return wrap('mkdir', path, () => fail('ENOTDIR'));
    if (parent.child(name!)) wrap('mkdir', path, () => fail('EEXIST'));
    const hooks = parent.hooks;
    // vfs_mkdir: no mkdir op on sysfs, procfs, debugfs, devtmpfs nodes here (EPERM); tracefs only in instances/.
    if (!hooks?.mkdir) return wrap('mkdir', path, () => fail('EPERM'));
    const mk = hooks.mkdir;
    wrap('mkdir', path, () => mk(name!));
  }

  rmdir(path: string): void {
    const parts = path.split('/').filter((c) => c !== '');
    const name = parts.pop();
    const parentPath = `/${parts.join('/')}`;
    const node = wrap('rmdir', path, () => this.vfs.lookup(path, false));
    if (!(node instanceof VDir)) return wrap('rmdir', path, () => fail('ENOTDIR'));
    const parent = wrap('rmdir', path, () => this.vfs.lookup(parentPath, true));
    const hooks = parent instanceof VDir ? parent.hooks : undefined;
    if (!hooks?.rmdir || !name) return wrap('rmdir', path, () => fail('EPERM'));
    const rm = hooks.rmdir;
    wrap('rmdir', path, () => rm(name));
  }

  readRecords(path: string): string[] {
    const node = wrap('open', path, () => this.vfs.lookup(path, true));
    if (node instanceof VChar && node.stream) return node.stream.records();
    if (node instanceof VFile) return [new TextDecoder().decode(this.bytes(path))];
    return wrap('read', path, () => fail('EINVAL'));
  }

  /**
   * Every file under `root` (not following links) as path -> content, for
   * byte-for-byte comparisons of the machine's state: debugfs, tracefs and
   * the oops counter (a count of what happened, like the taint mask, not
   * state anything puts back) are left out.
   */
  snapshot(
    root = '/sys',
    exclude: readonly string[] = ['/sys/kernel/debug', '/sys/kernel/tracing', '/sys/kernel/oops_count'],
  ): Map<string, string> {
    const out = new Map<string, string>();
    for (const [p, n] of this.vfs.walk(root)) {
      if (exclude.some((x) => p === x || p.startsWith(`${x}/`))) continue;
      if (n instanceof VDir) out.set(p, '<dir>');
      else if (n instanceof VLink) out.set(p, `-> ${n.target}`);
      else if (n instanceof VChar) out.set(p, `<chardev ${n.dev.major}:${n.dev.minor}>`);
      else {
        const f = n as VFile;
        if (!f.spec.show) {
          out.set(p, '<write-only>');
          continue;
        }
        try {
          const c = f.spec.show();
          out.set(p, typeof c === 'string' ? c : `<binary ${Buffer.from(c).toString('hex')}>`);
        } catch (e) {
          if (!isKernelErrno(e)) throw e;
          out.set(p, `<read error ${e.errno}>`);
        }
      }
    }
    return out;
  }
}
