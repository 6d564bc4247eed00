// /sys/kernel/debug/kmemleak (mm/kmemleak.c, Documentation/dev-tools/kmemleak.rst).
//
// Tracked objects are the kernel allocations the models care about (the RFC's
// interconnect range containers: rfc-model quirk 6). An object a model orphans
// (drops the last pointer to without kfree) becomes unreferenced; `echo scan`
// finds it, logs "kmemleak: N new suspected memory leaks", and the file then
// lists it in kmemleak's report format until `echo clear`.
// The 5-second minimum object age of a real scan is not modelled: the mock's
// clock is an operation counter.

import type { KernelAlloc } from './contracts.js';
import { fail } from './errno.js';

interface Tracked {
  readonly address: bigint;
  readonly size: number;
  readonly what: string;
  readonly comm: string;
  readonly pid: number;
  readonly jiffies: bigint;
  state: 'live' | 'orphan' | 'reported' | 'cleared';
}

export interface KmemleakState {
  nextAddress: string;
  objects: { address: string; size: number; what: string; comm: string; pid: number; jiffies: string; state: Tracked['state'] }[];
}

export class Kmemleak {
  private objects = new Map<bigint, Tracked>();
  private nextAddress = 0xffff888104000000n;
  private enabled = true;

  constructor(
    private readonly jiffies: () => bigint,
    private readonly task: () => { comm: string; pid: number },
    private readonly log: (text: string) => void,
  ) {}

  alloc(what: string, size: number): KernelAlloc {
    // kmalloc size classes: round to 8 bytes, at least 8.
    const address = this.nextAddress;
    this.nextAddress += BigInt(Math.max(64, (size + 63) & ~63));
    const { comm, pid } = this.task();
    const t: Tracked = { address, size, what, comm, pid, jiffies: this.jiffies(), state: 'live' };
    this.objects.set(address, t);
    const objects = this.objects;
    return {
      size,
      free() {
        objects.delete(address);
      },
      orphan() {
        if (t.state === 'live') t.state = 'orphan';
      },
    };
  }

  /** Objects a scan would report now (for MockControl). */
  unreferenced(): number {
    let n = 0;
    for (const t of this.objects.values()) if (t.state !== 'live') n++;
    return n;
  }

  liveTracked(): number {
    let n = 0;
    for (const t of this.objects.values()) if (t.state === 'live') n++;
    return n;
  }

  /** Writes to the debugfs file (kmemleak_write). */
  command(data: string): void {
    const cmd = data.trim();
    if (!this.enabled) fail('EPERM', 'kmemleak disabled');
    switch (cmd) {
      case 'scan': {
        let fresh = 0;
        for (const t of this.objects.values()) {
          if (t.state === 'orphan') {
            t.state = 'reported';
            fresh++;
          }
        }
        if (fresh > 0) this.log(`kmemleak: ${fresh} new suspected memory leaks (see /sys/kernel/debug/kmemleak)`);
        return;
      }
      case 'clear':
        for (const t of this.objects.values()) if (t.state === 'reported') t.state = 'cleared';
        return;
      case 'off':
        this.enabled = false;
        this.log('kmemleak: Kernel memory leak detector disabled');
        return;
      case 'scan=on':
      case 'scan=off':
      case 'stack=on':
      case 'stack=off':
        return;
      default:
        if (/^scan=\d+$/.test(cmd)) return;
        fail('EINVAL', `unknown kmemleak command '${cmd}'`);
    }
  }

  /** Reads of the debugfs file: the objects the last scans reported and nobody cleared. */
  report(): string {
    if (!this.enabled) fail('EPERM', 'kmemleak disabled');
    let out = '';
    for (const t of this.objects.values()) {
      if (t.state !== 'reported') continue;
      const shown = Math.min(t.size, 32);
      const hex: string[] = [];
      for (let off = 0; off < shown; off += 16) {
        const n = Math.min(16, shown - off);
        const bytes = Array.from({ length: n }, () => '00').join(' ');
        hex.push(`    ${bytes.padEnd(16 * 3 - 1)}  ${'.'.repeat(n)}`);
      }
      out +=
        `unreferenced object 0x${t.address.toString(16)} (size ${t.size}):\n` +
        `  comm "${t.comm}", pid ${t.pid}, jiffies ${t.jiffies}\n` +
        `  hex dump (first ${shown} bytes):\n` +
        hex.map((l) => `${l}\n`).join('') +
        `  backtrace (crc ${crc(t.what)}):\n` +
        `    __kmalloc_cache_noprof+0x2f1/0x3c0\n` +
        `    ${t.what}\n` +
        `    __x64_sys_ioctl+0x94/0xd0\n` +
        `    do_syscall_64+0x82/0x1a0\n` +
        `    entry_SYSCALL_64_after_hwframe+0x76/0x7e\n`;
    }
    return out;
  }

  save(): KmemleakState {
    return {
      nextAddress: this.nextAddress.toString(),
      objects: [...this.objects.values()]
        .filter((t) => t.state !== 'live')
        .map((t) => ({ ...t, address: t.address.toString(), jiffies: t.jiffies.toString() })),
    };
  }

  load(state: KmemleakState): void {
    this.nextAddress = BigInt(state.nextAddress);
    this.objects.clear();
    for (const o of state.objects) {
      const address = BigInt(o.address);
      this.objects.set(address, { ...o, address, jiffies: BigInt(o.jiffies) });
    }
  }
}

function crc(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
