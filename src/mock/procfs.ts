// /proc for the mock's processes (src/mock/process.ts): /proc/self (the
// caller), /proc/<pid>/{fd,fdinfo,comm,cmdline,status} for every live process,
// plus the system-wide files iovh reads: cmdline, version, kallsyms, modules,
// uptime, config.gz, sys/kernel/tainted.
//
// fdinfo (fs/proc/fd.c seq_show): `pos:`, `flags:` in octal with a leading 0
// (O_CLOEXEC added when the fd has close-on-exec), `mnt_id:`, `ino:`, then the
// file's own lines (dma-buf: size/count/exp_name/name; vfio device:
// vfio-device-syspath; docs/kernel.md §10).

import { gzipSync } from 'node:zlib';
import { LogLevel } from './contracts.js';
import { fail } from './errno.js';
import type { FdTableImpl } from './fds.js';
import type { KernelCore } from './kernel.js';
import { kstrtoll } from './kstrto.js';
import type { MockProcess } from './process.js';
import { LOADED_MODULES, type ProfileImpl } from './profiles.js';
import { VFile, VLink, type Vfs } from './vfs.js';
import { O } from '../uapi/constants.js';

/** /proc/<pid> of each live process; /proc/self and /proc/thread-self name the caller (fs/proc/self.c). */
export class ProcPids {
  constructor(
    private readonly vfs: Vfs,
    private readonly fds: FdTableImpl,
  ) {}

  /** /proc/self and /proc/thread-self, read as the process `current()` returns. */
  selfLinks(current: () => MockProcess): void {
    const proc = this.vfs.mkdirp('/proc');
    proc.dynamic = {
      list: () => ['self', 'thread-self'],
      get: (name) => {
        const pid = current().pid;
        if (name === 'self') return new VLink(name, 'procfs', String(pid));
        if (name === 'thread-self') return new VLink(name, 'procfs', `${pid}/task/${pid}`);
        return undefined;
      },
    };
  }

  add(p: MockProcess): void {
    const { vfs, fds } = this;
    const pid = p.pid;
    const dir = `/proc/${pid}`;
    vfs.addText(`${dir}/comm`, () => `${p.comm}\n`);
    vfs.addText(`${dir}/cmdline`, () => `${p.comm}\0`);
    // fs/proc/array.c: get_task_state() gives `R (running)` or, in an uninterruptible sleep, `D (disk sleep)`.
    const state = () => (p.blocked ? 'D (disk sleep)' : 'R (running)');
    vfs.addText(
      `${dir}/status`,
      () => `Name:\t${p.comm}\nUmask:\t0022\nState:\t${state()}\nTgid:\t${pid}\nPid:\t${pid}\nPPid:\t1\n`,
    );
    // do_task_stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags ...", 52 fields.
    vfs.addText(`${dir}/stat`, () => {
      const rest = [1, pid, pid, 0, -1, 4194560, ...new Array<number>(44).fill(0)];
      return `${pid} (${p.comm}) ${state()[0]} ${rest.join(' ')}\n`;
    });
    // proc_pid_wchan: the symbol the task sleeps in, "0" when it runs (no newline: seq_puts of the name).
    vfs.addText(`${dir}/wchan`, () => p.blocked?.wchan ?? '0');
    // proc_pid_stack: one "[<0>] %pB" per frame of a sleeping task; root only (mode 0400).
    vfs.addFile(`${dir}/stack`, {
      mode: 0o400,
      show: () => (p.blocked ? p.blocked.stack.map((f) => `[<0>] ${f}\n`).join('') : ''),
    });
    vfs.mkdirp(`${dir}/task/${pid}`);
    const list = () => ['0', '1', '2', ...fds.list(p.fds).map(String)];
    const fdDir = vfs.mkdirp(`${dir}/fd`);
    fdDir.mode = 0o500;
    fdDir.dynamic = {
      list,
      get: (name) => {
        const n = Number(name);
        if (!/^\d+$/.test(name)) return undefined;
        if (n <= 2) return new VLink(name, 'procfs', '/dev/null');
        const e = p.fds.get(n);
        return e ? new VLink(name, 'procfs', e.file.path) : undefined;
      },
    };
    const infoDir = vfs.mkdirp(`${dir}/fdinfo`);
    infoDir.mode = 0o500;
    infoDir.dynamic = {
      list,
      get: (name) => {
        if (!/^\d+$/.test(name)) return undefined;
        const n = Number(name);
        if (n <= 2)
          return new VFile(name, 'procfs', {
            mode: 0o444,
            show: () => `pos:\t0\nflags:\t0100002\nmnt_id:\t24\nino:\t5\n`,
          });
        if (!p.fds.has(n)) return undefined;
        return new VFile(name, 'procfs', {
          mode: 0o444,
          show: () => {
            const e = p.fds.get(n);
            if (!e) fail('ENOENT');
            const meta = fds.meta(e.file);
            const flags = meta.flags | (e.cloexec ? O.CLOEXEC : 0);
            const head = `pos:\t0\nflags:\t0${flags.toString(8)}\nmnt_id:\t${meta.mntId}\nino:\t${meta.ino}\n`;
            return (
              head +
              e.file
                .fdinfo()
                .map((l) => `${l}\n`)
                .join('')
            );
          },
        });
      },
    };
  }

  /** The process was reaped: its /proc directory goes. */
  remove(p: MockProcess): void {
    this.vfs.remove(`/proc/${p.pid}`);
  }
}

export function buildProcfs(vfs: Vfs, kernel: KernelCore, profile: ProfileImpl, cmdline: string): void {
  vfs.addText('/proc/cmdline', () => `${cmdline}\n`);
  vfs.addText(
    '/proc/version',
    () =>
      `Linux version ${profile.release} (iovh@mock) (gcc (Debian 16.1.0-1) 16.1.0, GNU ld (GNU Binutils for Debian) 2.45) #1 SMP PREEMPT_DYNAMIC Tue Nov 24 00:00:00 UTC 2026\n`,
  );
  vfs.addText('/proc/uptime', () => {
    const us = kernel.now();
    return `${(Number(us) / 1e6).toFixed(2)} ${((Number(us) / 1e6) * 1.8).toFixed(2)}\n`;
  });
  vfs.addText('/proc/kallsyms', () => kallsyms(profile));
  vfs.addText('/proc/modules', () =>
    LOADED_MODULES.map((m) => {
      const users = LOADED_MODULES.filter((o) => m.deps.includes(o.name));
      const deps = users.length === 0 ? '-' : `${users.map((u) => u.name).join(',')},`;
      return `${m.name} ${m.size} ${users.length} ${deps} Live 0x${(profile.address(firstSymbolOf(profile, m.name)) ?? 0xffffffffc0000000n).toString(16)}\n`;
    }).join(''),
  );
  if (profile.ikconfigProc) {
    const gz = gzipSync(Buffer.from(profile.config));
    vfs.addFile('/proc/config.gz', { mode: 0o444, show: () => new Uint8Array(gz), size: () => gz.length });
  }
  vfs.addFile('/proc/sys/kernel/tainted', {
    mode: 0o644,
    show: () => `${kernel.taint}\n`,
    store: (d) => {
      // proc_taint: bits can be added, never cleared.
      const v = kstrtoll(d.trim());
      if (v < 0n) fail('EINVAL');
      const bits = Number(v & 0xfffffn);
      if ((bits & ~kernel.taint) !== 0)
        kernel.log(
          LogLevel.WARNING,
          null,
          `Kernel tainted by a write to /proc/sys/kernel/tainted (0x${bits.toString(16)})`,
        );
      kernel.taint |= bits;
    },
  });
  let hung = 120;
  vfs.addFile('/proc/sys/kernel/hung_task_timeout_secs', {
    mode: 0o644,
    show: () => `${hung}\n`,
    store: (d) => {
      const v = kstrtoll(d.trim());
      if (v < 0n) fail('EINVAL');
      hung = Number(v);
    },
  });
}

function firstSymbolOf(profile: ProfileImpl, module: string): string {
  for (const s of profile.symbolInfo.values()) if (s.module === module) return s.name;
  return '_text';
}

/** /proc/kallsyms as root sees it: `%px %c %s` and `\t[module]` for module symbols, by address. */
function kallsyms(profile: ProfileImpl): string {
  const rows = [...profile.symbolInfo.values()].map((s) => ({ s, a: profile.address(s.name)! }));
  rows.sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
  return rows
    .map(({ s, a }) => `${a.toString(16).padStart(16, '0')} ${s.type} ${s.name}${s.module ? `\t[${s.module}]` : ''}\n`)
    .join('');
}

/** /sys/module/<name> for each loaded module. */
export function buildModules(vfs: Vfs): void {
  for (const m of LOADED_MODULES) {
    const d = `/sys/module/${m.name}`;
    vfs.addText(`${d}/initstate`, () => 'live\n');
    vfs.addText(`${d}/refcnt`, () => `${LOADED_MODULES.filter((o) => m.deps.includes(o.name)).length}\n`);
    vfs.addText(`${d}/coresize`, () => `${m.size}\n`);
    vfs.mkdirp(`${d}/holders`);
    vfs.mkdirp(`${d}/parameters`);
  }
  vfs.addText('/sys/module/xe/parameters/max_vfs', () => '4294967295\n', 0o400);
  vfs.addText('/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', () => 'N\n');
  vfs.addText('/sys/module/vfio_pci/parameters/disable_idle_d3', () => 'N\n');
  // CONFIG_UDMABUF=y: built in, with its module parameters.
  vfs.addText('/sys/module/udmabuf/parameters/size_limit_mb', () => '64\n');
  vfs.addText('/sys/module/udmabuf/parameters/list_limit', () => '1024\n');
}
