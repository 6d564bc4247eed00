// FileOps over the mock's namespace (backend/types.ts FileOps), with the
// errno and the syscall name node:fs would report for the same failure
// (open/read/write/scandir/readlink/stat/lstat/mkdir/rmdir), and the
// per-filesystem rules of src/mock/vfs.ts.

import type { FileKind, FileOps, FileStat, WriteOptions } from '../backend/types.js';
import { SystemError } from '../uapi/errors.js';
import { isKernelErrno, fail } from './errno.js';
import { O } from '../uapi/constants.js';
import { VChar, VDir, VFile, VLink, type AnyNode, type Vfs } from './vfs.js';

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
  constructor(private readonly vfs: Vfs) {}

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
    wrap('write', path, () => store(data));
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
