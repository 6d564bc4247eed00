// Kernel services every model uses (contracts.ts KernelServices): the clock,
// printk into /dev/kmsg, WARN and oops splats with their taint, the hung-task
// report, kprobe hits into tracefs, and kmemleak-tracked allocations.
//
// Time is deterministic: the clock advances by a fixed step per kernel
// operation (src/mock/syscalls.ts), by one microsecond per timestamp taken,
// and by the length of a sleep userspace asks for (Backend.sleep), so the same
// sequence of calls gives the same log and trace, byte for byte.

import { LogLevel, type KasanReport, type KernelAlloc, type KernelServices } from './contracts.js';
import { Kmsg, type KmsgState } from './kmsg.js';
import { Kmemleak, type KmemleakState } from './kmemleak.js';
import { Tracefs, type TracefsState } from './tracefs.js';
import type { ProfileImpl } from './profiles.js';
import { enabled, lockdepOn } from './kconfig.js';

/** include/linux/slab.h: 2 pages; larger kmallocs go to the page allocator (kmalloc_large). */
const KMALLOC_MAX_CACHE_SIZE = 8192;
import type { Vfs } from './vfs.js';
import { isBdf } from '../uapi/bdf.js';

/** include/linux/panic.h taint bits, in taint_flags[] order with their letters. */
const TAINT_LETTERS = 'PFSRMBUDAWCIOELKXTNJ';
/** include/linux/panic.h / kernel/panic.c taint_flags[] names, in the same order. */
const TAINT_NAMES = [
  'PROPRIETARY_MODULE',
  'FORCED_MODULE',
  'CPU_OUT_OF_SPEC',
  'FORCED_RMMOD',
  'MACHINE_CHECK',
  'BAD_PAGE',
  'USER',
  'DIE',
  'OVERRIDDEN_ACPI_TABLE',
  'WARN',
  'CRAP',
  'FIRMWARE_WORKAROUND',
  'OOT_MODULE',
  'UNSIGNED_MODULE',
  'SOFTLOCKUP',
  'LIVEPATCH',
  'AUX',
  'RANDSTRUCT',
  'TEST',
  'FWCTL',
];
export const TAINT_DIE = 7; // D
export const TAINT_WARN = 9; // W
export const TAINT_BAD_PAGE = 5; // B: mm/kasan/report.c end_report adds it

/** The pid of the kworker that runs queued work (an unbound worker of a 1-CPU machine). */
const KWORKER_PID = 57;
/** Boot-to-now at the first operation of a fresh mock kernel. */
const BOOT_USEC = 12_480_000n;
/** Per-operation step: every syscall takes a millisecond of kernel time. */
const OP_USEC = 1000n;
/** HZ=250 (Debian), INITIAL_JIFFIES = -300 * HZ as u32. */
const INITIAL_JIFFIES = 4294892296n;
/** hung_task_timeout_secs = 120 (CONFIG_DEFAULT_HUNG_TASK_TIMEOUT); the report comes on the next check. */
const HUNG_SECS = 122n;

export interface KernelCoreState {
  usec: string;
  taint: number;
  oopses: number;
  kmsg: KmsgState;
  kmemleak: KmemleakState;
  tracefs: TracefsState;
}

interface Waiter {
  readonly ready: () => boolean;
  readonly done: () => void;
}

/**
 * RAX after a function returning C `bool`: the x86-64 psABI defines only
 * %al (the low byte); the rest is whatever the function last left in the
 * register, typically the pointer it compared (`sete %al` after `cmp`). A
 * kretprobe's `$retval` fetches all of RAX, so as x64 it shows those bits;
 * only `$retval:u8`, or the low byte, is the answer.
 */
export function boolRax(value: boolean, leftover: bigint): bigint {
  return ((leftover | 0xffff888000000000n) & ~0xffn) | (value ? 1n : 0n);
}

export class KernelCore implements KernelServices {
  private usec = BOOT_USEC;
  taint = 0;
  private oopses = 0;

  /** /sys/kernel/oops_count */
  get oopsCount(): number {
    return this.oopses;
  }

  /**
   * What oops_end does after its splat (arch/x86/kernel/dumpstack.c): taint
   * D and make_task_dead's count (kernel/exit.c), for a caller that printed
   * the oops's lines itself (a test's hand-made oops); nobody is killed.
   */
  taskDead(): void {
    this.oopses++;
    this.taint |= 1 << TAINT_DIE;
    this.locksUnreliable();
  }
  readonly kmsg: Kmsg;
  readonly kmemleak: Kmemleak;
  readonly tracefs: Tracefs;
  private waiters: Waiter[] = [];
  private work: { comm: string; work: () => void; by: number; calls: number }[] = [];
  /** The kworker running queued work (its comm and pid in what the work prints), else null. */
  private worker: { comm: string; pid: number } | null = null;
  private polling = false;
  /** debug_locks: lock debugging is on until a taint turns it off (PROVE_LOCKING kernels). */
  lockdep: boolean;
  /** pid and comm of the calling process (the platform sets them on entry to each system call). */
  comm = 'node';
  /**
   * Called after an oops with what the task died of: an oops in process
   * context kills the caller (src/mock/process.ts). The platform sets it.
   */
  onOops: ((reason: string) => void) | null = null;
  /** The calling task goes to sleep in D state (the platform marks its process); returns the wake-up. */
  onBlock: ((wchan: string, stack: readonly string[]) => () => void) | null = null;

  constructor(
    readonly profile: ProfileImpl,
    public pid: number,
    vfs: Vfs,
    private readonly hardware: string,
  ) {
    this.lockdep = lockdepOn(profile);
    this.kmsg = new Kmsg(() => this.now());
    const task = () => ({ comm: this.comm, pid: this.pid });
    this.kmemleak = new Kmemleak(
      () => this.jiffies(),
      task,
      (t) => this.log(LogLevel.INFO, null, t),
    );
    this.tracefs = new Tracefs(vfs, profile, () => this.now(), task);
  }

  now(): bigint {
    return this.usec++;
  }

  /** One kernel operation happened (syscall boundary). */
  tick(): void {
    this.usec += OP_USEC;
  }

  /** Userspace let `ms` of wall time pass (a sleep): the clock jumps, as it does for a hung task. */
  pass(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`time to pass must be a non-negative number of ms, got ${ms}`);
    this.usec += BigInt(Math.round(ms * 1000));
    this.runWork();
  }

  jiffies(): bigint {
    return INITIAL_JIFFIES + (this.usec * 250n) / 1_000_000n;
  }

  log(level: LogLevel, source: string | null, text: string): void {
    const dict: string[] = [];
    let line = text;
    if (source !== null) {
      line = `${source}: ${text}`;
      const dev = source.split(' ')[1];
      if (dev && isBdf(dev)) dict.push('SUBSYSTEM=pci', `DEVICE=+pci:${dev}`);
      else if (dev) dict.push(`DEVICE=+${dev}`);
    }
    for (const l of line.split('\n')) this.kmsg.append(level, l, dict);
  }

  /** The taint line dump_stack prints since 6.12 (kernel/panic.c print_tainted_verbose): `[B]=BAD_PAGE, ...`. */
  taintNames(): string {
    const out: string[] = [];
    for (let i = 0; i < TAINT_LETTERS.length; i++) {
      if ((this.taint & (1 << i)) !== 0) out.push(`[${TAINT_LETTERS[i]}]=${TAINT_NAMES[i]}`);
    }
    return out.join(', ');
  }

  taintString(): string {
    if (this.taint === 0) return 'Not tainted';
    let s = '';
    for (let i = 0; i < TAINT_LETTERS.length; i++) {
      const set = (this.taint & (1 << i)) !== 0;
      s += set ? TAINT_LETTERS[i] : i === 0 ? 'G' : ' ';
    }
    return `Tainted: ${s}`;
  }

  private cpuLine(task: { comm: string; pid: number } = { comm: this.comm, pid: this.pid }): string {
    return `CPU: 0 UID: 0 PID: ${task.pid} Comm: ${task.comm} ${this.taintString()} ${this.profile.release} #1 PREEMPT(lazy) `;
  }

  /**
   * queue_work(): the item runs in a kworker, never inside the system call
   * that queued it. The mock's machine has one CPU and the kworker needs it:
   * queued work runs before another process's next system call, when time
   * passes (pass()), or before the queuing task's second system call after
   * the one that queued it. That one call of window is the interleaving a
   * race needs (a lazy reschedule honoured at the next tick rather than at
   * the return to user); a real kernel usually runs the worker sooner.
   * `comm` names the kworker in what the work prints.
   */
  queueWork(comm: string, work: () => void): void {
    this.work.push({ comm, work, by: this.pid, calls: 0 });
  }

  /** A system call of process `pid` starts: queued work runs first when its task let the CPU go. */
  schedule(pid: number): void {
    let due = false;
    for (const w of this.work) {
      if (w.by !== pid || ++w.calls >= 2) due = true;
    }
    if (due) this.runWork();
  }

  /** Work queued and not run yet. */
  pendingWork(): number {
    return this.work.length;
  }

  private runWork(): void {
    while (this.work.length > 0) {
      const w = this.work.shift()!;
      this.worker = { comm: w.comm, pid: KWORKER_PID };
      try {
        w.work();
      } finally {
        this.worker = null;
      }
    }
  }

  private modulesLine(): string {
    return 'Modules linked in: xe drm_kms_helper drm vgem vfio_pci vfio_pci_core vfio_iommu_type1 vfio irqbypass';
  }

  warn(site: string, text: string): void {
    const L = LogLevel.WARNING;
    this.log(L, null, '------------[ cut here ]------------');
    if (text !== '') this.log(L, null, text);
    this.log(L, null, `WARNING: CPU: 0 PID: ${this.pid} at ${site}`);
    this.log(L, null, this.modulesLine());
    this.log(L, null, this.cpuLine());
    this.log(L, null, `Hardware name: ${this.hardware}`);
    this.log(L, null, `RIP: 0010:${site}`);
    this.log(L, null, 'Call Trace:');
    this.log(L, null, ' <TASK>');
    this.log(L, null, ` ${site}`);
    this.log(L, null, ' __x64_sys_ioctl+0x94/0xd0');
    this.log(L, null, ' do_syscall_64+0x82/0x1a0');
    this.log(L, null, ' entry_SYSCALL_64_after_hwframe+0x76/0x7e');
    this.log(L, null, ' </TASK>');
    this.log(L, null, '---[ end trace 0000000000000000 ]---');
    this.taint |= 1 << TAINT_WARN;
  }

  /**
   * A KASAN report as mm/kasan/report.c prints it, whole, to its closing
   * line: start_report's rule, print_error_description (the access),
   * dump_stack_lvl (the CPU and taint lines, the call trace with the
   * syscall's user registers), print_address_description (where the object
   * was allocated and freed, the aux stack of a call_rcu free, the object and
   * its cache, the page: dump_page) and print_memory_metadata (the shadow
   * bytes around the address), then end_report's rule and the BAD_PAGE
   * taint; the first report on a lockdep kernel turns lock debugging off
   * (kernel/locking/lockdep.c debug_locks_off, from add_taint). The object
   * lines are one printk each with an embedded newline, which /dev/kmsg
   * shows as \x0a. The mock's kernel is booted with kasan_multi_shot (as
   * iovh's QEMU guests are), so every bad access is reported, not only the
   * first of the boot. `trace` is the call trace under the reporting frames
   * (src/mock/frames.ts), innermost first.
   */
  kasan(r: KasanReport): void {
    const L = LogLevel.ERR;
    const log = (t: string) => this.kmsg.append(L, t);
    const rule = '==================================================================';
    log(rule);
    log(`BUG: KASAN: ${r.kind} in ${r.fn}`);
    const task = this.worker ?? { comm: this.comm, pid: this.pid };
    log(`${r.access} at addr ${r.addr} by task ${task.comm}/${task.pid}`);
    log('');
    log(this.cpuLine(task));
    if (this.taint !== 0) log(`Tainted: ${this.taintNames()}`);
    log(`Hardware name: ${this.hardware}`);
    if (r.workqueue) log(`Workqueue: ${r.workqueue}`);
    log('Call Trace:');
    log(' <TASK>');
    for (const f of r.trace) log(` ${f}`);
    if (r.syscall !== undefined) {
      // The user registers of the syscall (arch/x86/kernel/dumpstack.c show_regs_if_on_stack), fixed values.
      log('RIP: 0033:0x7f2c4b15ca1a');
      log(`RSP: 002b:00007fff8b57c130 EFLAGS: 00000293 ORIG_RAX: ${r.syscall.toString(16).padStart(16, '0')}`);
      log('RAX: ffffffffffffffda RBX: 0000000033623cb0 RCX: 00007f2c4b15ca1a');
      log('RDX: 0000000000000000 RSI: 0000000000000000 RDI: 0000000000000015');
      log('RBP: 0000000033623cb0 R08: 0000000000000000 R09: 0000000000000000');
      log('R10: 00007fff8b57c160 R11: 0000000000000293 R12: 0000000000000000');
      log('R13: 0000000000000000 R14: 0000000000c45d40 R15: 0000000033559a20');
    }
    log(' </TASK>');
    log('');
    log(`Allocated by task ${r.allocPid ?? task.pid}:`);
    for (const f of r.allocated) log(` ${f}`);
    log('');
    log(`Freed by task ${r.freePid ?? task.pid}:`);
    for (const f of r.freed) log(` ${f}`);
    log('');
    if (r.aux) {
      log('Last potentially related work creation:');
      for (const f of r.aux) log(` ${f}`);
      log('');
    }
    const addr = BigInt(`0x${r.addr}`);
    const base = addr - BigInt(r.offset);
    const end = base + BigInt(r.objectSize);
    log(
      `The buggy address belongs to the object at ${base.toString(16)}\n which belongs to the cache ${r.cache} of size ${r.objectSize}`,
    );
    log(
      `The buggy address is located ${r.offset} bytes inside of\n freed ${r.objectSize}-byte region [${base.toString(16)}, ${end.toString(16)})`,
    );
    log('');
    const pfn = ((base & 0xffffffffffn) >> 12n).toString(16);
    log('The buggy address belongs to the physical page:');
    log(`page: refcount:0 mapcount:0 mapping:0000000000000000 index:0x0 pfn:0x${pfn}`);
    log('flags: 0x0(zone=0)');
    log('page_type: f5(slab)');
    log('raw: 0000000000000000 ff1100000038fdc0 dead000000000100 dead000000000122');
    log('raw: 0000000000000000 0000000000090009 00000000f5000000 0000000000000000');
    log('page dumped because: kasan: bad access detected');
    log('');
    // mm/kasan/report.c print_memory_metadata: 5 rows of 16 shadow bytes (one per 8 bytes), the buggy row marked.
    log('Memory state around the buggy address:');
    const row0 = (addr & ~0x7fn) - 0x100n;
    for (let i = 0; i < 5; i++) {
      const at = row0 + BigInt(i) * 0x80n;
      const bytes: string[] = [];
      for (let j = 0; j < 16; j++) {
        const a = at + BigInt(j) * 8n;
        // fb: freed object (KASAN_SLAB_FREE), fc: redzone after it, 00: other live memory.
        bytes.push(a >= base && a < end ? 'fb' : a >= end && a < end + 0x68n ? 'fc' : '00');
      }
      const mark = i === 2 ? '>' : ' ';
      log(`${mark}${at.toString(16)}: ${bytes.join(' ')}`);
      if (i === 2) log(`${' '.repeat(1 + 16 + 2 + Number((addr - at) / 8n) * 3)}^`);
    }
    log(rule);
    this.taint |= 1 << TAINT_BAD_PAGE;
    this.locksUnreliable();
  }

  /** kernel/panic.c add_taint(..., LOCKDEP_NOW_UNRELIABLE): the first such taint turns lock debugging off. */
  private locksUnreliable(): void {
    if (!this.lockdep) return;
    this.lockdep = false;
    this.log(LogLevel.WARNING, null, 'Disabling lock debugging due to kernel taint');
  }

  oops(kind: string, site: string): void {
    const L = LogLevel.ALERT;
    this.oopses++;
    const nullDeref = /null/i.test(kind);
    const bug = nullDeref ? 'BUG: kernel NULL pointer dereference' : `BUG: ${kind}`;
    this.log(L, null, nullDeref ? `${bug}, address: 0000000000000000` : bug);
    this.log(L, null, '#PF: supervisor read access in kernel mode');
    this.log(L, null, '#PF: error_code(0x0000) - not-present page');
    this.log(LogLevel.INFO, null, 'PGD 0 P4D 0 ');
    this.log(LogLevel.WARNING, null, `Oops: Oops: 0000 [#${this.oopses}] SMP NOPTI`);
    this.log(LogLevel.WARNING, null, this.cpuLine());
    this.log(LogLevel.WARNING, null, `Hardware name: ${this.hardware}`);
    this.log(LogLevel.WARNING, null, `RIP: 0010:${site}`);
    this.log(LogLevel.WARNING, null, 'Call Trace:');
    this.log(LogLevel.WARNING, null, ' <TASK>');
    this.log(LogLevel.WARNING, null, ' ? __die+0x23/0x70');
    this.log(LogLevel.WARNING, null, ' ? page_fault_oops+0x173/0x5b0');
    this.log(LogLevel.WARNING, null, ` ${site}`);
    this.log(LogLevel.WARNING, null, ' __x64_sys_ioctl+0x94/0xd0');
    this.log(LogLevel.WARNING, null, ' do_syscall_64+0x82/0x1a0');
    this.log(LogLevel.WARNING, null, ' entry_SYSCALL_64_after_hwframe+0x76/0x7e');
    this.log(LogLevel.WARNING, null, ' </TASK>');
    this.log(LogLevel.WARNING, null, this.modulesLine());
    this.log(LogLevel.WARNING, null, 'CR2: 0000000000000000');
    this.log(LogLevel.WARNING, null, '---[ end trace 0000000000000000 ]---');
    this.taint |= 1 << TAINT_DIE;
    this.locksUnreliable();
    this.onOops?.(`oops: ${bug}`);
  }

  /**
   * The calling task would sleep in D state until some other event: the
   * hung-task detector reports it (kernel/hung_task.c check_hung_task) after
   * hung_task_timeout_secs, so the clock jumps by that much.
   */
  hungTask(stack: readonly string[]): void {
    this.usec += HUNG_SECS * 1_000_000n;
    this.log(LogLevel.ERR, null, `INFO: task ${this.comm}:${this.pid} blocked for more than ${HUNG_SECS} seconds.`);
    this.log(LogLevel.ERR, null, `      ${this.taintString()} ${this.profile.release} #1`);
    this.log(LogLevel.ERR, null, '"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.');
    this.log(
      LogLevel.INFO,
      null,
      `task:${this.comm.padEnd(15)} state:D stack:0     pid:${String(this.pid).padEnd(5)} tgid:${String(this.pid).padEnd(5)} ppid:1      task_flags:0x400100 flags:0x00004002`,
    );
    this.log(LogLevel.INFO, null, 'Call Trace:');
    this.log(LogLevel.INFO, null, ' <TASK>');
    for (const f of [
      ' __schedule+0x3f2/0xb80',
      ' schedule+0x27/0xf0',
      ' schedule_timeout+0x15d/0x170',
      ' __wait_for_common+0x90/0x1c0',
      ...stack.map((s) => ` ${s}`),
    ]) {
      this.log(LogLevel.INFO, null, f);
    }
    this.log(LogLevel.INFO, null, ' </TASK>');
  }

  trace(symbol: string, kind: 'entry' | 'return', values: Readonly<Record<string, bigint | number>>): void {
    // The model names functions as 7.1 does; this kernel may call them otherwise (profiles.ts renames).
    this.tracefs.hit(this.profile.fn(symbol), kind, values);
  }

  /**
   * A tracked kmalloc. Why a small one leaked on a KASAN kernel of the 7.1
   * line is hidden from kmemleak for a while (mm/slub.c and mm/kmemleak.c of 7.2.13): kmalloc
   * caches up to KMALLOC_MAX_CACHE_SIZE (8 KiB) serve allocations from
   * per-CPU sheaves, arrays of object pointers that are themselves kmalloc'd
   * (__alloc_empty_sheaf -> kmalloc_flags) and so tracked and scanned by
   * kmemleak. alloc_from_pcs takes `objects[size - 1]` and only decrements
   * `size`: the slot keeps the object's address until a free pushes another
   * object there (free_to_pcs). KASAN_GENERIC sends every free to its
   * quarantine first (kasan_slab_free; slab_free_hook returns false) and
   * the quarantine gives objects back to the slabs, not to the sheaves, so
   * on a KASAN kernel no free overwrites the slot: kmemleak's scan_block
   * finds the stale address and the leak stays gray until the emptied sheaf
   * is refilled (refill_sheaf writes new pointers over the old ones), after
   * the allocations of that size that follow it (Kmemleak STALE_SLOTS). Larger kmallocs come
   * from the page allocator (kmalloc_large), with no sheaf: reported. The 5 s
   * minimum age, the checksum's second scan and min_count (1 for kmalloc)
   * play no part in it; the quarantine holds only freed objects, which
   * kmemleak_free already forgot. Checked on 7.2.13 only: 6.19 and 7.0 keep
   * the old behaviour in the mock.
   */
  alloc(what: string, size: number, frames?: readonly string[]): KernelAlloc {
    const staleCopy = this.profile.base === '7.1' && enabled(this.profile, 'KASAN') && size <= KMALLOC_MAX_CACHE_SIZE;
    return this.kmemleak.alloc(what, size, frames, undefined, staleCopy);
  }

  /**
   * A page from the page allocator that its user tells kmemleak about
   * (kmemleak_alloc with min_count 1, as lib/scatterlist.c sg_kmalloc does
   * for a full chunk): no slab, no sheaf, so no stale copy hides it.
   */
  allocPage(what: string, frames?: readonly string[]): KernelAlloc {
    return this.kmemleak.alloc(what, 4096, frames, undefined, false);
  }

  /**
   * Something the kernel waits for without blocking the JS thread: `done` runs
   * as soon as `ready()` holds (checked after every kernel operation and
   * whenever a model calls poll()).
   */
  waitFor(ready: () => boolean, done: () => void): void {
    if (ready()) {
      done();
      return;
    }
    this.waiters.push({ ready, done });
  }

  pendingWaits(): number {
    return this.waiters.length;
  }

  poll(): void {
    if (this.polling) return;
    this.polling = true;
    try {
      let progress = true;
      while (progress) {
        progress = false;
        for (const w of [...this.waiters]) {
          if (!this.waiters.includes(w) || !w.ready()) continue;
          this.waiters = this.waiters.filter((x) => x !== w);
          w.done();
          progress = true;
        }
      }
    } finally {
      this.polling = false;
    }
  }

  save(): KernelCoreState {
    return {
      usec: this.usec.toString(),
      taint: this.taint,
      oopses: this.oopses,
      kmsg: this.kmsg.save(),
      kmemleak: this.kmemleak.save(),
      tracefs: this.tracefs.save(),
    };
  }

  load(s: KernelCoreState): void {
    this.usec = BigInt(s.usec);
    this.taint = s.taint;
    // A BAD_PAGE or DIE taint turned lock debugging off for the rest of the boot.
    this.lockdep = lockdepOn(this.profile) && (s.taint & ((1 << TAINT_BAD_PAGE) | (1 << TAINT_DIE))) === 0;
    this.oopses = s.oopses;
    this.kmsg.load(s.kmsg);
    this.kmemleak.load(s.kmemleak);
    this.tracefs.load(s.tracefs);
  }
}
