// A scripted Backend for unit tests of the src/kernel wrappers: device calls
// are recorded and answered by handlers the test provides (anything else is
// ENOTTY, as the kernel answers an unknown ioctl); files live in a map.
import { posix } from 'node:path';
import type { Backend, BackendTraits, DeviceOps, FileOps, FileStat } from '../../src/backend/types.js';
import { Errno, SystemError } from '../../src/uapi/errors.js';

export interface Call {
  op: keyof DeviceOps;
  args: unknown[];
}

export type Handlers = Partial<{
  [K in keyof DeviceOps]: (...args: Parameters<DeviceOps[K]>) => ReturnType<DeviceOps[K]>;
}>;

export interface FakeTree {
  files?: Record<string, string>;
  links?: Record<string, string>;
  dirs?: string[];
}

export class FakeFiles implements FileOps {
  readonly files = new Map<string, string>();
  readonly links = new Map<string, string>();
  readonly dirs = new Set<string>(['/']);

  constructor(tree: FakeTree = {}) {
    for (const [p, text] of Object.entries(tree.files ?? {})) this.addFile(p, text);
    for (const [p, target] of Object.entries(tree.links ?? {})) {
      this.addDirs(posix.dirname(p));
      this.links.set(p, target);
    }
    for (const d of tree.dirs ?? []) this.addDirs(d);
  }

  private addDirs(dir: string): void {
    for (let d = dir; !this.dirs.has(d); d = posix.dirname(d)) this.dirs.add(d);
  }

  addFile(path: string, text: string): void {
    this.addDirs(posix.dirname(path));
    this.files.set(path, text);
  }

  /** Follow links in every component, as the kernel's path walk does. */
  resolve(path: string, followLast = true, depth = 0): string {
    if (depth > 40) throw new SystemError({ errno: Errno.ELOOP, syscall: 'open', path });
    const parts = path.split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = posix.join(cur, parts[i]!);
      const link = this.links.get(next);
      if (link !== undefined && (followLast || i < parts.length - 1)) {
        cur = this.resolve(posix.resolve(cur, link), true, depth + 1);
      } else {
        cur = next;
      }
    }
    return cur;
  }

  private enoent(path: string, syscall = 'open'): SystemError {
    return new SystemError({ errno: Errno.ENOENT, syscall, path });
  }

  readFile(path: string): Uint8Array {
    return new TextEncoder().encode(this.readText(path));
  }

  readText(path: string): string {
    const text = this.files.get(this.resolve(path));
    if (text === undefined) throw this.enoent(path);
    return text;
  }

  writeFile(path: string, data: string): void {
    const real = this.resolve(path);
    if (!this.files.has(real)) throw this.enoent(path);
    this.files.set(real, data);
  }

  readdir(path: string): string[] {
    const real = this.resolve(path);
    if (!this.dirs.has(real)) throw this.enoent(path, 'scandir');
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.links.keys(), ...this.dirs]) {
      if (p !== real && posix.dirname(p) === real) names.add(posix.basename(p));
    }
    return [...names].sort();
  }

  readlink(path: string): string {
    const real = this.resolve(path, false);
    const link = this.links.get(real);
    if (link === undefined)
      throw new SystemError({ errno: this.exists(path) ? Errno.EINVAL : Errno.ENOENT, syscall: 'readlink', path });
    return link;
  }

  stat(path: string): FileStat {
    return this.statOf(this.resolve(path), path);
  }

  lstat(path: string): FileStat {
    const real = this.resolve(path, false);
    if (this.links.has(real)) return { kind: 'link', mode: 0o777, size: 0 };
    return this.statOf(real, path);
  }

  private statOf(real: string, path: string): FileStat {
    if (this.dirs.has(real)) return { kind: 'dir', mode: 0o755, size: 0 };
    const f = this.files.get(real);
    if (f !== undefined) return { kind: real.startsWith('/dev/') ? 'chardev' : 'file', mode: 0o644, size: f.length };
    throw this.enoent(path, 'stat');
  }

  exists(path: string): boolean {
    const real = this.resolve(path);
    return this.dirs.has(real) || this.files.has(real);
  }

  mkdir(path: string): void {
    this.addDirs(this.resolve(path));
  }

  rmdir(path: string): void {
    this.dirs.delete(this.resolve(path));
  }

  readRecords(path: string): string[] {
    return this.readText(path).split('\n').filter(Boolean);
  }
}

/** Traits of a test's own stand-in kernel: simulated, nobody else's, gone with the test, a root process. */
export const FAKE_TRAITS: BackendTraits = {
  name: 'mock',
  clock: 'simulated',
  shared: false,
  location: null,
  profile: null,
  credentials: { uid: 0, gid: 0, groups: [] },
};

export class FakeBackend implements Backend {
  readonly reason = 'unit test';
  readonly traits = FAKE_TRAITS;
  readonly calls: Call[] = [];
  readonly fs: FakeFiles;
  readonly dev: DeviceOps;
  /** fd -> path of what a fake open() returned. */
  readonly open = new Map<number, string>();
  private nextFd = 10;

  constructor(handlers: Handlers = {}, tree: FakeTree = {}) {
    this.fs = new FakeFiles(tree);
    const self = this;
    const defaults: Handlers = {
      open(path: string) {
        if (!self.fs.exists(path)) throw new SystemError({ errno: Errno.ENOENT, syscall: 'open', path });
        const fd = self.nextFd++;
        self.open.set(fd, path);
        return fd;
      },
      close(fd: number) {
        if (!self.open.delete(fd)) throw new SystemError({ errno: Errno.EBADF, syscall: 'close' });
      },
    };
    const table = { ...defaults, ...handlers } as Record<string, (...args: unknown[]) => unknown>;
    this.dev = new Proxy({} as DeviceOps, {
      get(_t, prop: string) {
        return (...args: unknown[]) => {
          self.calls.push({ op: prop as keyof DeviceOps, args });
          const h = table[prop];
          if (!h) throw new SystemError({ errno: Errno.ENOTTY, syscall: 'ioctl', request: prop });
          return h(...args);
        };
      },
    });
  }

  /** A new fd as a kernel ioctl would return it (device fd, dma-buf fd). */
  newFd(what: string): number {
    const fd = this.nextFd++;
    this.open.set(fd, what);
    return fd;
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  close(): void {
    this.open.clear();
  }
}
