// Kernel monitors around each scenario (docs/internals.md "Principles": cleanliness):
// the kernel log (/dev/kmsg), the taint mask, kmemleak, our own fds
// (/proc/self/fd) and the dma-buf objects in debugfs bufinfo. Each reads
// through FileOps only, so it runs the same on a real kernel and on the mock.
// What cannot be read (no debugfs, /dev/kmsg restricted) is reported as
// unavailable with the reason, never as clean.

import type { FileOps } from '../backend/types.js';
import { parseBufinfo, type BufinfoObject } from '../uapi/bufinfo.js';
import { errnoName } from '../uapi/errors.js';

// ------------------------------------------------------------------ kmsg

export interface KmsgRecord {
  level: number;
  seq: number;
  usec: number;
  text: string;
}

/**
 * One /dev/kmsg record: `prio,seq,usec,flags[,...];text`, then optional
 * ` KEY=value` dictionary lines (Documentation/ABI/testing/dev-kmsg). The
 * level is prio & 7; the text keeps the kernel's \xNN escapes.
 */
export function parseKmsgRecord(record: string): KmsgRecord | null {
  const semi = record.indexOf(';');
  if (semi < 0) return null;
  const head = record.slice(0, semi).split(',');
  if (head.length < 3) return null;
  const prio = Number(head[0]);
  const seq = Number(head[1]);
  const usec = Number(head[2]);
  if (!Number.isInteger(prio) || !Number.isInteger(seq) || !Number.isFinite(usec)) return null;
  const text = record.slice(semi + 1).split('\n')[0]!;
  return { level: prio & 7, seq, usec, text };
}

/** Lines that mean the kernel crashed (arch/x86/mm/fault.c, kernel/panic.c, mm/kasan/report.c). */
const CRASH =
  /\bOops\b|BUG: unable to handle|BUG: kernel NULL pointer|kernel BUG at|general protection fault|Kernel panic|BUG: KASAN/;
/**
 * Lines that mean it complained (WARN_ON, hung task, UBSAN, refcount and list
 * debugging). Not kmemleak's "N new suspected memory leaks": any scan prints
 * it (its own thread's every 10 minutes too) for whatever it found, another
 * subsystem's leak or a false positive as much as ours; the leaks of a
 * scenario are told by attributeKmemleak, where kmemleak is measured.
 */
const COMPLAINT = /WARNING:|\bBUG: |INFO: task .* blocked for more than|UBSAN:|refcount_t:|list_(add|del) corruption/;

export function isCrashLine(text: string): boolean {
  return CRASH.test(text);
}

export function isComplaintLine(text: string): boolean {
  return CRASH.test(text) || COMPLAINT.test(text);
}

export function formatKmsg(r: KmsgRecord): string {
  return `[${(r.usec / 1e6).toFixed(6).padStart(13)}] ${r.text}`;
}

export class KmsgMonitor {
  /**
   * Why a read failed in the current window (position() opens one), or null.
   * A read that fails mid-run (EIO, EINVAL for a record larger than the
   * buffer, a permission change) loses the window's log, not the run: the
   * window then reports kmsg as unavailable, with the errno.
   */
  private failure: string | null = null;

  private constructor(
    private readonly fs: FileOps,
    private readonly readable: boolean,
    private readonly unreadable: string | null,
  ) {}

  get available(): boolean {
    return this.readable && this.failure === null;
  }

  get why(): string | null {
    return this.failure ?? this.unreadable;
  }

  static open(fs: FileOps): KmsgMonitor {
    try {
      fs.readRecords('/dev/kmsg');
      return new KmsgMonitor(fs, true, null);
    } catch (e) {
      return new KmsgMonitor(
        fs,
        false,
        `/dev/kmsg unreadable (${codeOf(e)}): run as root or set kernel.dmesg_restrict=0`,
      );
    }
  }

  /** Every record still in the ring buffer, parsed ([] when the read fails: see `failure`). */
  records(): KmsgRecord[] {
    if (!this.readable) return [];
    let raws: string[];
    try {
      raws = this.fs.readRecords('/dev/kmsg');
    } catch (e) {
      this.failure = `/dev/kmsg read failed during the run (${codeOf(e)})`;
      return [];
    }
    const out: KmsgRecord[] = [];
    for (const raw of raws) {
      const r = parseKmsgRecord(raw);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Start a window: the sequence number of the newest record (-1 when
   * empty); later records are "new". NaN when the read failed: since(NaN)
   * then returns nothing rather than every old record.
   */
  position(): number {
    this.failure = null;
    const all = this.records();
    if (this.failure !== null) return NaN;
    return all.length > 0 ? all[all.length - 1]!.seq : -1;
  }

  since(seq: number): KmsgRecord[] {
    if (Number.isNaN(seq)) {
      this.failure ??= '/dev/kmsg could not be read when the scenario started';
      return [];
    }
    return this.records().filter((r) => r.seq > seq);
  }
}

// ------------------------------------------------------------------ taint

/** /proc/sys/kernel/tainted bits, in order (kernel/panic.c taint_flags; Documentation/admin-guide/tainted-kernels.rst). */
export const TAINT_LETTERS = 'PFSRMBUDAWCIOELKXTNJ';
/** Taints that mean the kernel died or memory is bad: D (oops), M (machine check), B (bad page). */
export const CRASH_TAINTS = new Set(['D', 'M', 'B']);

export function taintLetters(mask: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < TAINT_LETTERS.length; bit++) if (mask & (1 << bit)) out.push(TAINT_LETTERS[bit]!);
  return out;
}

export function readTaint(fs: FileOps): number | null {
  try {
    const n = Number(fs.readText('/proc/sys/kernel/tainted').trim());
    return Number.isInteger(n) && n >= 0 ? n : null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ kmemleak

export const KMEMLEAK = '/sys/kernel/debug/kmemleak';

/** Blocks of a kmemleak report: `unreferenced object 0x... (size N):` then indented lines (mm/kmemleak.c print_unreferenced). */
export function parseKmemleak(report: string): string[][] {
  const blocks: string[][] = [];
  for (const line of report.split('\n')) {
    if (line.startsWith('unreferenced object')) blocks.push([line]);
    else if (blocks.length > 0 && line.trim() !== '') blocks[blocks.length - 1]!.push(line.trim());
  }
  return blocks;
}

/** One reported object: `unreferenced object 0x.. (size N):`, who allocated it, and its backtrace (mm/kmemleak.c print_unreferenced). */
export interface KmemleakObject {
  lines: string[];
  size: number | null;
  comm: string | null;
  pid: number | null;
  /** Function names of the backtrace, innermost first. */
  functions: string[];
}

export function kmemleakObject(lines: string[]): KmemleakObject {
  const size = /\(size (\d+)\)/.exec(lines[0] ?? '');
  const who = lines.map((l) => /^comm "(.*)", pid (\d+)/.exec(l)).find((m) => m !== null);
  const at = lines.findIndex((l) => l.startsWith('backtrace'));
  const functions =
    at < 0
      ? []
      : lines
          .slice(at + 1)
          .map((l) => /^([A-Za-z_.][A-Za-z0-9_.]*)\+0x/.exec(l)?.[1])
          .filter((f): f is string => f !== undefined);
  return {
    lines,
    size: size ? Number(size[1]) : null,
    comm: who ? who[1]! : null,
    pid: who ? Number(who[2]) : null,
    functions,
  };
}

/**
 * The functions of the path iovh exercises: the dma-buf core, vfio-pci, xe,
 * TTM under xe's validation, DRM PRIME, and iovh's stand-in importer module. An object whose allocation
 * backtrace passes through none of them was leaked by something else (a real
 * kernel reports other subsystems' leaks and false positives too).
 */
const PATH_FUNCTION = /^(dma_buf_|vfio_pci_|xe_|ttm_bo_|drm_gem_prime_|drm_prime_|iovh_ic_)/;

export interface KmemleakAttribution {
  /** Allocated on the import path by one of the scenario's tasks: the scenario's leaks. */
  ours: KmemleakObject[];
  /** On the import path, by another task: an earlier scenario's, or another importer's on this machine. */
  pathElsewhere: KmemleakObject[];
  /** Not on the import path at all: noise. */
  unrelated: KmemleakObject[];
}

/**
 * Whose leaks these are, by each object's allocation backtrace (the path's
 * functions) and the task that allocated it (`pids`: the scenario's process
 * and threads). Only `ours` may fail a scenario; the others neither fail nor
 * hide it.
 */
export function attributeKmemleak(blocks: readonly string[][], pids: ReadonlySet<number>): KmemleakAttribution {
  const out: KmemleakAttribution = { ours: [], pathElsewhere: [], unrelated: [] };
  for (const b of blocks) {
    const o = kmemleakObject(b);
    if (!o.functions.some((f) => PATH_FUNCTION.test(f))) out.unrelated.push(o);
    else if (o.pid !== null && pids.has(o.pid)) out.ours.push(o);
    else out.pathElsewhere.push(o);
  }
  return out;
}

export class KmemleakMonitor {
  private constructor(
    private readonly fs: FileOps,
    readonly available: boolean,
    readonly why: string | null,
  ) {}

  static open(fs: FileOps): KmemleakMonitor {
    if (!fs.exists(KMEMLEAK)) {
      return new KmemleakMonitor(
        fs,
        false,
        `no ${KMEMLEAK}: boot a kernel with CONFIG_DEBUG_KMEMLEAK (and kmemleak=on), with debugfs mounted`,
      );
    }
    return new KmemleakMonitor(fs, true, null);
  }

  /**
   * Start a window: two scans, then `clear` paints every object reported so
   * far gray, so that the report at the end lists only what leaked after this
   * point (Documentation/dev-tools/kmemleak.rst). Two scans for the reason
   * end() gives: an object leaked just before the window is only reported by
   * the second, and must not be counted against this one.
   */
  begin(o: { scans?: 0 | 2 } = {}): void {
    // scans 0: for a caller that counts only objects allocated by a process that did not exist before the window
    // (attributeKmemleak's pids); `clear` still greys what was reported so far, so the report stays short.
    const scans = o.scans ?? 2;
    for (let i = 0; i < scans; i++) this.fs.writeFile(KMEMLEAK, 'scan');
    this.fs.writeFile(KMEMLEAK, 'clear');
  }

  /**
   * Scan twice and return the objects reported since begin(); the caller
   * waits `Timing.kmemleakAgeMs` first. kmemleak_scan (mm/kmemleak.c) colours
   * an unreferenced object gray "until the next scan" when its checksum changed
   * since the previous scan, and a new object's always has: an object leaked in
   * the window is reported by the second scan after it was last written, never
   * by the first. It also reports only objects older than the minimum age
   * (MSECS_MIN_AGE, 5 s) at scan time, hence the wait.
   */
  end(): string[][] {
    this.fs.writeFile(KMEMLEAK, 'scan');
    this.fs.writeFile(KMEMLEAK, 'scan');
    return parseKmemleak(this.fs.readText(KMEMLEAK));
  }

  /**
   * end() for a caller whose objects were all allocated just now, waiting the
   * minimum age between the two scans instead of before them: the first scan
   * only has to see the new white objects once (update_checksum colours them
   * gray, whatever their age), the age counts at the second scan's start
   * (unreferenced_object against jiffies_last_scan, mm/kmemleak.c). A scan of
   * a KASAN guest under TCG takes seconds, so the first one uses up most of
   * the wait. `now` is the clock `sleep` waits on (the wall clock on a real
   * kernel; a mock scan takes no time, so the whole age is slept there).
   */
  async endAged(
    ageMs: number,
    sleep: (ms: number) => Promise<void>,
    now: () => number = Date.now,
  ): Promise<string[][]> {
    const leaked = now();
    this.fs.writeFile(KMEMLEAK, 'scan');
    const left = ageMs - (now() - leaked);
    if (left > 0) await sleep(left);
    this.fs.writeFile(KMEMLEAK, 'scan');
    return parseKmemleak(this.fs.readText(KMEMLEAK));
  }
}

/**
 * What a failed kmemleak command means. A kmemleak that was turned off (boot
 * with kmemleak=off, `echo off`, or one that disabled itself after an internal
 * error) refuses commands: kmemleak_write answers EPERM, and kernels whose
 * open checks the state answer EBUSY (mm/kmemleak.c).
 */
export function kmemleakFailure(e: unknown): { disabled: boolean; why: string } {
  const code = codeOf(e);
  if (code === 'EPERM' || code === 'EBUSY') {
    return {
      disabled: true,
      why: `kmemleak is disabled (${code} from ${KMEMLEAK}: booted with kmemleak=off, or it turned itself off after an error; dmesg says which)`,
    };
  }
  return { disabled: false, why: `kmemleak scan failed (${code})` };
}

// ------------------------------------------------------------------ fds

/** fd targets that are ours to account for: VFIO, DRM, dma-buf, udmabuf, iommufd, memfd, sync files. */
const KERNEL_OBJECT_FD =
  /^(\/dev\/(vfio|dri|udmabuf|iommu)\b|anon_inode:\[?(dmabuf|vfio-device|drm_syncobj_file|sync_file|iommufd)\]?|\/dmabuf:|\/memfd:)/;

export function isKernelObjectFd(target: string): boolean {
  return KERNEL_OBJECT_FD.test(target);
}

/** Our open fds on kernel objects, as `fd -> target` (/proc/self/fd links). */
export function openKernelFds(fs: FileOps): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of fs.readdir('/proc/self/fd')) {
    const fd = Number(name);
    if (!Number.isInteger(fd)) continue;
    let target: string;
    try {
      target = fs.readlink(`/proc/self/fd/${name}`);
    } catch {
      // Closed between readdir and readlink (the listing fd itself, natively): not ours.
      continue;
    }
    if (isKernelObjectFd(target)) out.set(fd, target);
  }
  return out;
}

// ------------------------------------------------------------------ bufinfo

export const BUFINFO = '/sys/kernel/debug/dma_buf/bufinfo';

export function readBufinfo(fs: FileOps): Map<number, BufinfoObject> | null {
  try {
    return new Map(parseBufinfo(fs.readText(BUFINFO)).objects.map((o) => [o.ino, o]));
  } catch {
    return null;
  }
}

export function describeBuffer(o: BufinfoObject): string {
  const attached = o.attached.length > 0 ? `, attached to ${o.attached.join(' ')}` : '';
  return `ino ${o.ino} ${o.expName} ${o.size} bytes, ${o.count} refs${o.name ? ` '${o.name}'` : ''}${attached}`;
}

export function codeOf(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const { code, errno } = e as { code?: unknown; errno?: unknown };
    if (typeof code === 'string') return code;
    if (typeof errno === 'number') return errnoName(errno);
  }
  return e instanceof Error ? e.message : String(e);
}
