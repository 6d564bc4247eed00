// The mock kernel's file namespace: /sys (sysfs, with debugfs at
// /sys/kernel/debug and tracefs at /sys/kernel/tracing), /proc, /dev and /boot.
//
// Nodes are directories, attributes (rendered on each read by `show`, parsed on
// each write by `store`, like a kernel show/store pair), symlinks with the
// relative text sysfs uses, and character devices. The per-filesystem errno of
// a read or write the file does not support is applied here, in one place:
//
// - sysfs (fs/kernfs/file.c kernfs_fop_open): opening for write an attribute
//   without a store, or for read one without a show, fails at open with EACCES,
//   even for root.
// - debugfs (fs/libfs.c simple_attr_read/simple_attr_write): the open succeeds
//   for root; the read or write fails with EACCES.
// - procfs (fs/proc/inode.c proc_reg_write): a file without a write op fails the
//   write with EIO (checked on this machine: `echo x > /proc/version`).
// - tracefs: a file without a write op fails the write with EINVAL (no
//   FMODE_CAN_WRITE, fs/read_write.c vfs_write).
//
// Creating files is never possible (no O_CREAT on these filesystems: the
// backends open existing files only), so an unknown path is ENOENT.

import { fail } from './errno.js';
import type { Mapping } from '../backend/types.js';
import type { CharDevice, KernelFile } from './contracts.js';

export type FsType = 'sysfs' | 'debugfs' | 'tracefs' | 'procfs' | 'devtmpfs' | 'rootfs';

export interface AttrSpec {
  /** Permission bits. Default: 0444 with only show, 0200 with only store, 0644 with both. */
  mode?: number;
  show?: () => string | Uint8Array;
  /** One write(2) of the buffer. Throws KernelErrno for the store's error. */
  store?: (data: string) => void;
  /** Effect of opening with O_TRUNC (tracefs `trace`, `kprobe_events`). */
  truncate?: () => void;
  /** stat(2) size; sysfs text attributes report 4096, others 0. */
  size?: () => number;
  /** mmap(2) of the open file (a PCI BAR's sysfs resourceN); absent: ENODEV. */
  mmap?: (file: KernelFile, offset: bigint, length: number, prot: number) => Mapping;
}

/** Stream behaviour of a character device read through FileOps (/dev/kmsg). */
export interface CharStream {
  records(): string[];
  write(data: string): void;
}

export abstract class VNode {
  parent: VDir | null = null;
  constructor(
    public name: string,
    readonly fs: FsType,
  ) {}
}

export interface DirHooks {
  /** mkdir(2) of a child (tracefs instances/). */
  mkdir?(name: string): void;
  /** rmdir(2) of a child. */
  rmdir?(name: string): void;
}

/** Children computed on each lookup (/proc/<pid>/fd): names and the node for a name. */
export interface DynamicChildren {
  list(): string[];
  get(name: string): AnyNode | undefined;
}

export class VDir extends VNode {
  readonly kind = 'dir' as const;
  readonly children = new Map<string, VNode>();
  mode = 0o755;
  hooks: DirHooks | undefined;
  dynamic: DynamicChildren | undefined;

  child(name: string): AnyNode | undefined {
    const c = this.children.get(name) as AnyNode | undefined;
    if (c) return c;
    const d = this.dynamic?.get(name);
    if (d) d.parent = this;
    return d;
  }

  names(): string[] {
    const out = [...this.children.keys()];
    if (this.dynamic) for (const n of this.dynamic.list()) if (!this.children.has(n)) out.push(n);
    return out;
  }
}

export class VFile extends VNode {
  readonly kind = 'file' as const;
  constructor(
    name: string,
    fs: FsType,
    readonly spec: AttrSpec,
  ) {
    super(name, fs);
  }
  get mode(): number {
    if (this.spec.mode !== undefined) return this.spec.mode;
    if (this.spec.show && this.spec.store) return 0o644;
    return this.spec.store ? 0o200 : 0o444;
  }
}

export class VLink extends VNode {
  readonly kind = 'link' as const;
  constructor(
    name: string,
    fs: FsType,
    public target: string,
  ) {
    super(name, fs);
  }
}

export class VChar extends VNode {
  readonly kind = 'chardev' as const;
  constructor(
    name: string,
    fs: FsType,
    readonly dev: CharDevice,
    readonly stream?: CharStream,
  ) {
    super(name, fs);
  }
}

export type AnyNode = VDir | VFile | VLink | VChar;

const MAX_SYMLINKS = 40; // include/linux/namei.h MAXSYMLINKS

const MOUNTS: readonly [string, FsType][] = [
  ['/sys/kernel/debug', 'debugfs'],
  ['/sys/kernel/tracing', 'tracefs'],
  ['/sys', 'sysfs'],
  ['/proc', 'procfs'],
  ['/dev', 'devtmpfs'],
];

export function fsTypeOf(path: string): FsType {
  for (const [prefix, fs] of MOUNTS) if (path === prefix || path.startsWith(`${prefix}/`)) return fs;
  return 'rootfs';
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c.length > 0);
}

export function joinPath(...parts: string[]): string {
  const out: string[] = [];
  for (const p of parts) for (const c of splitPath(p)) out.push(c);
  return `/${out.join('/')}`;
}

/** Relative link text from directory `fromDir` to `to` (both absolute), as sysfs writes it. */
export function relativeLink(fromDir: string, to: string): string {
  const a = splitPath(fromDir);
  const b = splitPath(to);
  // kernfs_get_target_path: the common base is an ancestor of the target's parent,
  // so a link to an ancestor goes one level above it and names it.
  let i = 0;
  while (i < a.length && i < b.length - 1 && a[i] === b[i]) i++;
  const ups = a.length - i;
  const rest = b.slice(i);
  const parts = [...Array<string>(ups).fill('..'), ...rest];
  return parts.length === 0 ? '.' : parts.join('/');
}

export function dirname(path: string): string {
  const parts = splitPath(path);
  parts.pop();
  return `/${parts.join('/')}`;
}

export function basename(path: string): string {
  const parts = splitPath(path);
  return parts[parts.length - 1] ?? '';
}

export class Vfs {
  readonly root = new VDir('', 'rootfs');

  pathOf(node: VNode): string {
    const parts: string[] = [];
    for (let n: VNode | null = node; n?.parent; n = n.parent) parts.push(n.name);
    return `/${parts.reverse().join('/')}`;
  }

  /** Directory at `path`, creating missing ones (kernel-side creation, not mkdir(2)). */
  mkdirp(path: string): VDir {
    let cur = this.root;
    let at = '';
    for (const c of splitPath(path)) {
      at += `/${c}`;
      const next = cur.children.get(c);
      if (next === undefined) {
        const d = new VDir(c, fsTypeOf(at));
        d.parent = cur;
        cur.children.set(c, d);
        cur = d;
      } else if (next instanceof VDir) {
        cur = next;
      } else {
        throw new Error(`mock vfs: ${at} exists and is not a directory`);
      }
    }
    return cur;
  }

  private place<T extends VNode>(path: string, make: (name: string, fs: FsType) => T, replace = false): T {
    const dir = this.mkdirp(dirname(path));
    const name = basename(path);
    if (!replace && dir.children.has(name)) throw new Error(`mock vfs: ${path} already exists`);
    const node = make(name, fsTypeOf(path));
    node.parent = dir;
    dir.children.set(name, node);
    return node;
  }

  addFile(path: string, spec: AttrSpec): VFile {
    return this.place(path, (n, fs) => new VFile(n, fs, spec));
  }

  /** Text attribute rendered by `show` (a convenience for read-only files). */
  addText(path: string, show: () => string, mode?: number): VFile {
    return this.addFile(path, mode === undefined ? { show } : { show, mode });
  }

  addLink(path: string, target: string, replace = false): VLink {
    return this.place(path, (n, fs) => new VLink(n, fs, target), replace);
  }

  addChar(path: string, dev: CharDevice, stream?: CharStream): VChar {
    return this.place(path, (n, fs) => new VChar(n, fs, dev, stream));
  }

  /** Remove a node and everything under it; absent paths are ignored. */
  remove(path: string): void {
    const parent = this.peek(dirname(path));
    if (parent instanceof VDir) {
      const node = parent.children.get(basename(path));
      if (node) {
        node.parent = null;
        parent.children.delete(basename(path));
      }
    }
  }

  /** The node at `path` without following any symlink, or undefined. */
  peek(path: string): AnyNode | undefined {
    let cur: AnyNode = this.root;
    for (const c of splitPath(path)) {
      if (!(cur instanceof VDir)) return undefined;
      const next = cur.child(c);
      if (!next) return undefined;
      cur = next;
    }
    return cur;
  }

  /**
   * Path walk with the kernel's rules (fs/namei.c): symlinks in the middle are
   * always followed, the last one only when `followLast`; `..` after a symlink
   * applies to where the link led. ENOENT, ENOTDIR, ELOOP.
   */
  lookup(path: string, followLast = true): AnyNode {
    if (!path.startsWith('/')) fail('ENOENT', 'relative path');
    let pending = splitPath(path);
    let cur: VDir = this.root;
    let links = 0;
    while (pending.length > 0) {
      const c = pending[0]!;
      pending = pending.slice(1);
      if (c === '.') continue;
      if (c === '..') {
        cur = cur.parent ?? this.root;
        continue;
      }
      const next = cur.child(c);
      if (!next) fail('ENOENT');
      const last = pending.length === 0;
      if (next instanceof VLink && (!last || followLast)) {
        if (++links > MAX_SYMLINKS) fail('ELOOP');
        const t = next.target;
        if (t.startsWith('/')) cur = this.root;
        pending = [...splitPath(t), ...pending];
        continue;
      }
      if (last) return next;
      if (!(next instanceof VDir)) fail('ENOTDIR');
      cur = next;
    }
    return cur;
  }

  /** Resolve `path` to the absolute path of the node it reaches. */
  realpath(path: string): string {
    return this.pathOf(this.lookup(path, true));
  }

  /** Every node under `path` (not following links), depth first, sorted by name. */
  *walk(path: string): Generator<[string, AnyNode]> {
    const start = this.peek(path);
    if (!start) return;
    const stack: [string, AnyNode][] = [[path, start]];
    while (stack.length > 0) {
      const [p, n] = stack.pop()!;
      yield [p, n];
      if (n instanceof VDir) {
        const names = n.names().sort().reverse();
        for (const name of names) {
          const child = n.child(name);
          if (child) stack.push([p === '/' ? `/${name}` : `${p}/${name}`, child]);
        }
      }
    }
  }
}
