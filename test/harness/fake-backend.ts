// A tiny in-memory Backend for runner tests: files in a Map, /dev/kmsg records
// in an array, /proc/self/fd links in a Map; every device call is ENOTTY.
// Scenario-level behaviour is tested against the mock kernel elsewhere.
import type { Backend, DeviceOps, FileOps, FileStat } from '../../src/backend/types.js';
import { SystemError } from '../../src/uapi/errors.js';
import { FAKE_TRAITS } from '../uapi/fake-backend.js';

export class FakeKernel {
  files = new Map<string, string>();
  kmsg: string[] = [];
  fds = new Map<number, string>();
  private seq = 0;

  log(level: number, text: string): void {
    this.kmsg.push(`${level},${this.seq++},${1000 * this.seq},-;${text}`);
  }

  backend(): Backend {
    const enoent = (path: string, syscall: string): SystemError => new SystemError({ errno: 2, syscall, path });
    const fs: FileOps = {
      readFile: (p) => new TextEncoder().encode(fs.readText(p)),
      readText: (p) => {
        const v = this.files.get(p);
        if (v === undefined) throw enoent(p, 'open');
        return v;
      },
      writeFile: (p, d) => {
        if (!this.files.has(p)) throw enoent(p, 'open');
        this.files.set(p, d);
      },
      readdir: (p) => {
        if (p === '/proc/self/fd') return [...this.fds.keys()].map(String);
        const prefix = `${p}/`;
        const names = [...this.files.keys()]
          .filter((k) => k.startsWith(prefix))
          .map((k) => k.slice(prefix.length).split('/')[0]!);
        if (names.length === 0) throw enoent(p, 'scandir');
        return [...new Set(names)];
      },
      readlink: (p) => {
        const m = /^\/proc\/self\/fd\/(\d+)$/.exec(p);
        if (m && this.fds.has(Number(m[1]))) return this.fds.get(Number(m[1]))!;
        throw enoent(p, 'readlink');
      },
      stat: (p): FileStat => {
        if (!this.files.has(p)) throw enoent(p, 'stat');
        return { kind: 'file', mode: 0o644, size: this.files.get(p)!.length };
      },
      lstat: (p) => fs.stat(p),
      exists: (p) =>
        this.files.has(p) || p === '/dev/kmsg' || [...this.files.keys()].some((k) => k.startsWith(`${p}/`)),
      mkdir: (p) => {
        throw enoent(p, 'mkdir');
      },
      rmdir: (p) => {
        throw enoent(p, 'rmdir');
      },
      readRecords: (p) => {
        if (p !== '/dev/kmsg') throw enoent(p, 'open');
        return [...this.kmsg];
      },
    };
    const dev = new Proxy({} as DeviceOps, {
      get: (_t, name) => () => {
        throw new SystemError({ errno: 25, syscall: 'ioctl', request: String(name) });
      },
    });
    return {
      reason: 'fake kernel for runner tests',
      dev,
      fs,
      traits: FAKE_TRAITS,
      close: () => undefined,
    };
  }
}
