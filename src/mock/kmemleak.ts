// /sys/kernel/debug/kmemleak (mm/kmemleak.c, Documentation/dev-tools/kmemleak.rst).
//
// Tracked objects are the kernel allocations the models care about (the RFC's
// interconnect range containers: RFC quirk 6 in docs/profiles.md), each with
// the call chain it was allocated under, plus the noise a real kernel has:
// every NOISE_EVERY scans an unrelated object (a kworker's, allocated outside
// any import path) is left unreferenced, as real kernels' false positives and
// other subsystems' leaks are. An object a model orphans (drops the last
// pointer to without kfree) becomes unreferenced ("white").
// A scan (`echo scan`, kmemleak_scan) then follows the kernel's rules:
//
// - checksum: a white object whose contents changed since the previous scan
//   (update_checksum: crc32 of the object; every object's first checksum is a
//   change from 0) is coloured gray "until the next scan": the scan that first
//   sees a leak never reports it, the next one does;
// - minimum age: only objects allocated at least MSECS_MIN_AGE (5 s) before
//   the scan began (jiffies_last_scan) are reported (unreferenced_object);
// - each leak is reported once (OBJECT_REPORTED); the scan logs
//   "kmemleak: N new suspected memory leaks (see /sys/kernel/debug/kmemleak)".
//
// Reading the file lists the reported objects still unreferenced
// (kmemleak_seq_show), even after kmemleak was turned off. `clear` paints the
// reported ones gray for good (kmemleak_clear); once kmemleak is off, `clear`
// frees its metadata instead and every other command is EBUSY (kmemleak_write).
// `off` (kmemleak_disable, then kmemleak_do_cleanup) frees the metadata unless
// leaks were found. Commands match by prefix, as the kernel's strncmp does.
//
// The mock's clock moves one millisecond per kernel operation and jumps when
// userspace lets time pass (Backend.sleep): a harness that does not wait
// out the minimum age sees nothing, as on a real kernel.

import type { KernelAlloc } from './contracts.js';
import { fail } from './errno.js';

/** mm/kmemleak.c MSECS_MIN_AGE, in jiffies at HZ=250 (the mock's HZ, src/mock/kernel.ts). */
const MIN_AGE_JIFFIES = (5000n * 250n) / 1000n;

/** One unrelated leak every this many scans. */
const NOISE_EVERY = 6;

/** A leak no import path made: a kworker's device name buffer (a common kmemleak report on real machines). */
const NOISE = {
  what: 'kobject name',
  size: 21,
  comm: 'kworker/u8:3',
  pid: 211,
  frames: [
    '__kmalloc_node_track_caller_noprof+0x1e2/0x4b0',
    'kvasprintf+0x6a/0xd0',
    'kobject_set_name_vargs+0x1a/0x90',
    'dev_set_name+0x57/0x80',
    'netdev_register_kobject+0x5f/0x160',
    'process_one_work+0x17b/0x330',
    'worker_thread+0x251/0x390',
    'kthread+0xd2/0x100',
  ],
};

/**
 * The size kmemleak records: the slab cache's object_size for kmalloc (the
 * allocation lands in the smallest kmalloc-N cache that holds it:
 * mm/slab_common.c kmalloc_info), the requested size above the largest cache
 * (kmalloc_large).
 */
export function slabObjectSize(size: number): number {
  for (const n of [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192]) if (size <= n) return n;
  return size;
}

interface Tracked {
  readonly address: bigint;
  readonly size: number;
  readonly what: string;
  readonly frames: readonly string[];
  readonly comm: string;
  readonly pid: number;
  readonly jiffies: bigint;
  /** Someone still points at it (black); false once orphaned (white). */
  referenced: boolean;
  /** update_checksum's last value (0 until a scan first sees the object white). */
  checksum: number;
  /** The model dropped its last pointer without kfree (a leak), whether or not a stale copy still refers to it. */
  orphaned?: boolean;
  /** A stale copy of its address is still in a per-CPU sheaf slot (KernelCore.alloc): kmemleak's scan finds it. */
  stale?: boolean;
  /** OBJECT_REPORTED */
  reported: boolean;
  /** Painted gray for good by `clear`. */
  ignored: boolean;
}

export interface KmemleakState {
  nextAddress: string;
  /** Absent in state files written before it was kept: enabled, no leaks found. */
  enabled?: boolean;
  foundLeaks?: boolean;
  /** jiffies_last_scan */
  lastScan?: string;
  objects: {
    address: string;
    size: number;
    what: string;
    /** Absent in state files written before allocations kept their call chain. */
    frames?: string[];
    /** Orphaned while a stale sheaf slot still held its address (absent: unreferenced). */
    stale?: boolean;
    comm: string;
    pid: number;
    jiffies: string;
    /** Older state files: 'orphan' | 'reported' | 'cleared'. */
    state?: string;
    checksum?: number;
    reported?: boolean;
    ignored?: boolean;
  }[];
}

/** A KernelAlloc nobody tracks (kmemleak is off: kmemleak_alloc returns at once). */
function untracked(size: number): KernelAlloc {
  return { size, free: () => undefined, orphan: () => undefined };
}

/**
 * How many of the mock's tracked allocations of one kmalloc size keep a
 * stale copy of their address in a sheaf slot (KernelCore.alloc says why
 * there is one). On the real kernel a slot is overwritten when its sheaf is
 * refilled, after the CPU's sheaves (calculate_sheaf_capacity, mm/slub.c:
 * about 120 pointers each for a small KASAN cache) have been drained by
 * every allocation of that size in the kernel; the mock tracks only the
 * path's own allocations, so this window is a measurement, not the sheaf's
 * capacity: 64 P2P maps of a vfio dma-buf on the 7.2.13 KASAN guest (igb VF,
 * iovh's stand-in importer) left 37 scatterlists reported and the 27 most
 * recent hidden, two tracked kmalloc-32 allocations per map here
 * (dma_buf_phys_vec_to_sgt's struct dma_buf_dma and the scatterlist). Other
 * boots hid more (44 of 64, 56 of 256): the window is the kernel's traffic,
 * the mock keeps the smallest one seen.
 */
export const STALE_SLOTS = 54;

export class Kmemleak {
  private objects = new Map<bigint, Tracked>();
  /** Per kmalloc size: the tracked allocations whose sheaf slot still holds their address, oldest first. */
  private sheaves = new Map<number, Tracked[]>();
  private nextAddress = 0xffff888104000000n;
  private enabled = true;
  /** kmemleak_found_leaks: a scan reported something since the last clear. */
  private foundLeaks = false;
  private lastScan = 0n;
  private scans = 0;

  constructor(
    private readonly jiffies: () => bigint,
    private readonly task: () => { comm: string; pid: number },
    private readonly log: (text: string) => void,
  ) {}

  alloc(
    what: string,
    size: number,
    frames: readonly string[] = [],
    task: { comm: string; pid: number } = this.task(),
    /** A stale copy of the address stays in memory kmemleak scans (a per-CPU sheaf slot, KernelCore.alloc): never white. */
    staleCopy = false,
  ): KernelAlloc {
    if (!this.enabled) return untracked(size);
    // kmalloc size classes: round to 64 bytes, at least 64.
    const address = this.nextAddress;
    this.nextAddress += BigInt(Math.max(64, (size + 63) & ~63));
    const { comm, pid } = task;
    const t: Tracked = {
      address,
      size: slabObjectSize(size),
      what,
      frames,
      comm,
      pid,
      jiffies: this.jiffies(),
      referenced: true,
      checksum: 0,
      reported: false,
      ignored: false,
    };
    this.objects.set(address, t);
    if (staleCopy) this.takeSlot(t);
    const objects = this.objects;
    return {
      size,
      free() {
        objects.delete(address);
      },
      orphan() {
        t.orphaned = true;
        // kmemleak takes any word that looks like a pointer into the object for a reference (scan_block).
        if (!t.stale) t.referenced = false;
      },
    };
  }

  /** `t` was handed out from a sheaf: its slot keeps the address until STALE_SLOTS later allocations of its size. */
  private takeSlot(t: Tracked): void {
    t.stale = true;
    const ring = this.sheaves.get(t.size) ?? [];
    this.sheaves.set(t.size, ring);
    ring.push(t);
    while (ring.length > STALE_SLOTS) {
      const old = ring.shift()!;
      old.stale = false;
      // The refill overwrote the last copy of a leaked object's address: from now on it is white.
      if (old.orphaned) old.referenced = false;
    }
  }

  /** Objects left unreferenced (reported or not), for MockControl and tests. */
  unreferenced(): number {
    let n = 0;
    for (const t of this.objects.values()) if (!t.referenced) n++;
    return n;
  }

  /** Objects leaked (orphaned), including those a stale copy of their address hides from the scan. */
  leaked(): number {
    let n = 0;
    for (const t of this.objects.values()) if (t.orphaned || !t.referenced) n++;
    return n;
  }

  liveTracked(): number {
    let n = 0;
    for (const t of this.objects.values()) if (t.referenced) n++;
    return n;
  }

  /** unreferenced_object(): white and old enough at the last scan. */
  private unreferencedAtLastScan(t: Tracked): boolean {
    return !t.referenced && !t.ignored && t.jiffies + MIN_AGE_JIFFIES <= this.lastScan;
  }

  /** kmemleak_scan */
  private scan(): void {
    this.lastScan = this.jiffies();
    if (++this.scans % NOISE_EVERY === 0)
      this.alloc(NOISE.what, NOISE.size, NOISE.frames, { comm: NOISE.comm, pid: NOISE.pid }).orphan();
    // White objects whose checksum changed are gray until the next scan.
    const grayed = new Set<Tracked>();
    for (const t of this.objects.values()) {
      if (t.referenced || t.ignored) continue;
      const crc = contentCrc(t);
      if (crc !== t.checksum) {
        t.checksum = crc;
        grayed.add(t);
      }
    }
    let fresh = 0;
    for (const t of this.objects.values()) {
      if (grayed.has(t) || t.reported || !this.unreferencedAtLastScan(t)) continue;
      t.reported = true;
      fresh++;
    }
    if (fresh > 0) {
      this.foundLeaks = true;
      this.log(`kmemleak: ${fresh} new suspected memory leaks (see /sys/kernel/debug/kmemleak)`);
    }
  }

  /** __kmemleak_do_cleanup: the metadata of every object goes. */
  private dropAll(): void {
    this.objects.clear();
  }

  /** Writes to the debugfs file (kmemleak_write: the first 63 bytes, matched by prefix). */
  command(data: string): void {
    const buf = data.slice(0, 63);
    const is = (prefix: string) => buf.startsWith(prefix);
    if (is('clear')) {
      if (!this.enabled) {
        this.dropAll();
        return;
      }
      // kmemleak_clear: reported leaks are painted gray and never shown again.
      for (const t of this.objects.values()) if (t.reported && this.unreferencedAtLastScan(t)) t.ignored = true;
      this.foundLeaks = false;
      return;
    }
    if (!this.enabled) fail('EBUSY', 'kmemleak is disabled');
    if (is('off')) {
      this.enabled = false;
      this.log('kmemleak: Kernel memory leak detector disabled');
      if (!this.foundLeaks) this.dropAll();
      else
        this.log(
          'kmemleak: Kmemleak disabled without freeing internal data. Reclaim the memory with "echo clear > /sys/kernel/debug/kmemleak".',
        );
      return;
    }
    if (is('stack=on') || is('stack=off') || is('scan=on') || is('scan=off')) return;
    if (is('scan=')) {
      // kstrtouint: digits (base 0: 0x.. hex, 0.. octal) and one trailing newline.
      if (!/^(0x[0-9a-fA-F]+|[0-9]+)\n?$/.test(buf.slice(5)))
        fail('EINVAL', `kmemleak ${JSON.stringify(buf)}: not a number of seconds`);
      return;
    }
    if (is('scan')) {
      this.scan();
      return;
    }
    if (is('dump=')) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]+)\n?$/.exec(buf.slice(5));
      if (!m) fail('EINVAL', 'kmemleak dump: not an address');
      const address = BigInt(m[1]!);
      const t = this.objects.get(address);
      if (!t) {
        this.log(`kmemleak: Unknown object at 0x${address.toString(16).padStart(8, '0')}`);
        fail('EINVAL', 'kmemleak dump: unknown object');
      }
      this.log(`kmemleak: Object 0x${t.address.toString(16)} (size ${t.size}):`);
      this.log(`kmemleak:   comm "${t.comm}", pid ${t.pid}, jiffies ${t.jiffies}`);
      return;
    }
    fail('EINVAL', `unknown kmemleak command ${JSON.stringify(buf)}`);
  }

  /** Reads of the debugfs file (kmemleak_seq_show): reported objects still unreferenced. */
  report(): string {
    let out = '';
    for (const t of this.objects.values()) {
      if (!t.reported || !this.unreferencedAtLastScan(t)) continue;
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
        `  backtrace (crc ${crc(`${t.what}:${t.frames.join(',')}`)}):\n` +
        backtrace(t)
          .map((f) => `    ${f}\n`)
          .join('');
    }
    return out;
  }

  save(): KmemleakState {
    return {
      nextAddress: this.nextAddress.toString(),
      enabled: this.enabled,
      foundLeaks: this.foundLeaks,
      lastScan: this.lastScan.toString(),
      // What a process still references ends with it (its objects are freed at exit).
      objects: [...this.objects.values()]
        .filter((t) => !t.referenced || t.orphaned)
        .map((t) => ({
          ...(t.referenced ? { stale: true } : {}),
          address: t.address.toString(),
          size: t.size,
          what: t.what,
          frames: [...t.frames],
          comm: t.comm,
          pid: t.pid,
          jiffies: t.jiffies.toString(),
          checksum: t.checksum,
          reported: t.reported,
          ignored: t.ignored,
        })),
    };
  }

  load(state: KmemleakState): void {
    this.nextAddress = BigInt(state.nextAddress);
    this.enabled = state.enabled ?? true;
    this.foundLeaks = state.foundLeaks ?? false;
    this.lastScan = state.lastScan !== undefined ? BigInt(state.lastScan) : 0n;
    this.objects.clear();
    for (const o of state.objects) {
      const address = BigInt(o.address);
      // Files from before the scan rules: 'reported' was shown, 'cleared' was hidden.
      const reported = o.reported ?? (o.state === 'reported' || o.state === 'cleared');
      const ignored = o.ignored ?? o.state === 'cleared';
      const t: Tracked = {
        address,
        size: o.size,
        what: o.what,
        frames: o.frames ?? [],
        comm: o.comm,
        pid: o.pid,
        jiffies: BigInt(o.jiffies),
        referenced: o.stale === true,
        orphaned: true,
        checksum: o.checksum ?? 0,
        reported,
        ignored,
      };
      this.objects.set(address, t);
    }
    // The slots still holding a leaked object's address, in allocation order (the others' allocations are gone
    // with the process that made them: their slots count no more).
    this.sheaves.clear();
    const stale = [...this.objects.values()].filter((t) => t.referenced).sort((a, b) => Number(a.jiffies - b.jiffies));
    for (const t of stale) this.takeSlot(t);
  }
}

/**
 * The stack kmemleak saved at allocation (stack_trace_print): the allocator,
 * the call chain the model gave, and for a task's allocation the system call
 * it came from. An object allocated without a chain shows its description.
 */
function backtrace(t: Tracked): string[] {
  if (t.frames.length === 0)
    return [
      '__kmalloc_cache_noprof+0x2f1/0x3c0',
      t.what,
      '__x64_sys_ioctl+0x94/0xd0',
      'do_syscall_64+0x82/0x1a0',
      'entry_SYSCALL_64_after_hwframe+0x76/0x7e',
    ];
  if (t.comm.startsWith('kworker/')) return [...t.frames, 'ret_from_fork+0x34/0x50', 'ret_from_fork_asm+0x1a/0x30'];
  return [
    ...t.frames,
    '__x64_sys_ioctl+0x94/0xd0',
    'do_syscall_64+0x82/0x1a0',
    'entry_SYSCALL_64_after_hwframe+0x76/0x7e',
  ];
}

/** The object's crc32 as update_checksum sees it: its contents never change after the orphaning here, and are never all zero. */
function contentCrc(t: Tracked): number {
  const h = Number.parseInt(crc(`${t.address.toString(16)}:${t.what}:${t.size}`), 16);
  return h === 0 ? 1 : h;
}

function crc(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
