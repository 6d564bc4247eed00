// Trace evidence through tracefs kprobes (Documentation/trace/kprobetrace.rst):
// the harness defines its probes in its own group (`iovh_<pid>`), enables them
// only in its own ftrace instance (`instances/iovh_<pid>`), only for a
// scenario's window, and removes them afterwards. kprobe_events is always
// written with O_APPEND: a truncating open would remove every probe on the
// machine, and fails with EBUSY while any is enabled (trace_kprobe.c,
// release_all_trace_kprobes).
//
// A probe whose symbol /proc/kallsyms does not list is not armed and is
// reported as unavailable: "no evidence", never "branch not taken".
//
// A kprobe fires for every task on the machine: dma_buf_map_attachment runs
// for each importer (a compositor, other VMs' devices) as well as for ours.
// Hits are therefore attributed by task: a hit counts only when its pid (the
// thread id ftrace prints) is one of our threads (/proc/self/task); the others
// are set aside as `foreign`, shown in the evidence, never classified. This is
// done when reading rather than with a per-event `common_pid == N` filter in
// the instance: a filter names the threads that exist when it is written, and
// libuv starts its pool threads later, on first use; and a foreign hit seen is
// worth reporting (a busy machine explains an overrun). Probes whose function
// may run in a kernel worker (ProbePoint.anyTask) are not filtered. The ring
// buffer can still overrun: `lost` counts what it dropped (the header's
// entries-written minus entries-in-buffer), and a verdict built on the
// absence of a hit is not made then (path.ts).

import type { FileOps } from '../backend/types.js';
import type { Json } from '../report/model.js';
import type { ProbeKey, ProbePoint } from './symbols.js';
import { codeOf } from './monitors.js';

export interface TraceHit {
  key: ProbeKey;
  event: string;
  task: string;
  pid: number;
  timestamp: number;
  /** `sym+0x0/0x60 [xe]` for an entry probe, `caller+0x.. <- sym` for a return probe. */
  site: string;
  args: Record<string, string>;
}

/**
 * One line of an ftrace `trace` file: `<task>-<pid> [cpu] <flags> <ts>: <event>: (<site>) k=v ...`
 * (kernel/trace/trace_output.c; the flags column is absent without irq-info).
 */
const LINE = /^\s*(.+)-(\d+)\s+\[(\d+)\]\s+(?:[^\s]+\s+)?(\d+\.\d+):\s+([A-Za-z_][A-Za-z0-9_]*):\s+\((.*?)\)(.*)$/;

export function parseTraceLine(line: string): Omit<TraceHit, 'key'> | null {
  if (line.startsWith('#')) return null;
  const m = LINE.exec(line);
  if (!m) return null;
  const args: Record<string, string> = {};
  for (const tok of m[7]!.trim().match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S+)/g) ?? []) {
    const eq = tok.indexOf('=');
    args[tok.slice(0, eq)] = tok.slice(eq + 1).replace(/^"|"$/g, '');
  }
  return { task: m[1]!.trim(), pid: Number(m[2]), timestamp: Number(m[4]), event: m[5]!, site: m[6]!, args };
}

/** `0x...` or decimal fetch-arg text as a bigint (null when it is neither). */
export function argValue(text: string | undefined): bigint | null {
  if (text === undefined) return null;
  try {
    return /^-?\d+$/.test(text) || /^0x[0-9a-f]+$/i.test(text) ? BigInt(text) : null;
  } catch {
    return null;
  }
}

/** Does a kretprobe's `$retval` (x64: unsigned) hold an error pointer or a negative errno? (include/linux/err.h IS_ERR_VALUE) */
export function isErrValue(v: bigint): boolean {
  const u = v & 0xffffffffffffffffn;
  return u >= 0xfffffffffffff001n;
}

let sessions = 0;

const FOREIGN_SHOWN = 8;

export interface ArmedProbe {
  point: ProbePoint;
  event: string;
}

/** One read of the instance's buffer. */
export interface TraceRead {
  /** Hits of our own threads (of any task for ProbePoint.anyTask probes). */
  hits: TraceHit[];
  /** Hits of other tasks on probes that run in the caller's context: not evidence of our path. */
  foreign: TraceHit[];
  /** Entries the ring buffer dropped since it was last cleared. */
  lost: number;
  /** Why hits could not be attributed to our threads (every hit was then kept), or null. */
  unattributed: string | null;
}

/** `# entries-in-buffer/entries-written: 12/15   #P:8` (kernel/trace/trace.c print_event_info). */
const ENTRIES = /^#\s*entries-in-buffer\/entries-written:\s*(\d+)\/(\d+)/m;

/**
 * The thread ids of this process as the kernel numbers them (ftrace prints a
 * task's pid, which is its thread id): /proc/self/task, else the process id
 * /proc/self names. Null with the reason when neither can be read.
 */
export function ownTasks(fs: FileOps): { tids: Set<number>; why: string | null } {
  let taskWhy: string;
  try {
    const tids = new Set(
      fs
        .readdir('/proc/self/task')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0),
    );
    if (tids.size > 0) return { tids, why: null };
    taskWhy = 'lists no thread';
  } catch (e) {
    taskWhy = `unreadable: ${codeOf(e)}`;
  }
  try {
    const pid = Number(fs.readlink('/proc/self'));
    if (Number.isInteger(pid) && pid > 0) return { tids: new Set([pid]), why: null };
    return { tids: new Set(), why: `/proc/self/task ${taskWhy}, and /proc/self names no process` };
  } catch (e) {
    return { tids: new Set(), why: `/proc/self/task ${taskWhy}, and /proc/self is unreadable (${codeOf(e)})` };
  }
}

export class TraceSession {
  /** Defined and enabled in our instance: only these can record a hit. */
  private armed: ArmedProbe[] = [];
  /** Defined, never enabled, and not removable when that was found: close() removes them. */
  private stray: string[] = [];
  readonly unavailable: { point: ProbePoint; why: string }[] = [];
  private instanceMade = false;

  private constructor(
    private readonly fs: FileOps,
    readonly root: string,
    readonly group: string,
    readonly instance: string,
  ) {}

  /**
   * A session over tracefs at `root`; nothing is written until arm(). Names
   * are unique per process and session (`iovh_<pid>_<n>`), so two sessions
   * never collide on an event name (EEXIST) and leftovers name their owner.
   */
  static create(fs: FileOps, root: string, tag = String(process.pid)): TraceSession {
    sessions += 1;
    const name = `iovh_${tag.replace(/[^A-Za-z0-9_]/g, '_')}_${sessions}`;
    return new TraceSession(fs, root, name, name);
  }

  /**
   * Does the kernel take a kprobe from us? Define `point` in a group of our
   * own and remove it again, nothing enabled. A removal that fails is tried
   * once more (ENOENT then means it is gone); what still cannot be removed is
   * returned as `left`, the definition, for the caller to report.
   */
  static tryDefinition(
    fs: FileOps,
    root: string,
    point: ProbePoint,
    tag = String(process.pid),
  ): { ok: true } | { ok: false; why: string; code: string } | { ok: true; left: string } {
    sessions += 1;
    const group = `iovh_${tag.replace(/[^A-Za-z0-9_]/g, '_')}_${sessions}`;
    const head = point.kind === 'entry' ? 'p' : 'r';
    const def = `${head}:${group}/probe ${point.symbol}`;
    try {
      fs.writeFile(`${root}/kprobe_events`, `${def}\n`, { append: true });
    } catch (e) {
      return { ok: false, why: `defining a ${head}-probe on ${point.symbol} failed (${codeOf(e)})`, code: codeOf(e) };
    }
    for (let attempt = 1; ; attempt++) {
      try {
        fs.writeFile(`${root}/kprobe_events`, `-:${group}/probe\n`, { append: true });
        return { ok: true };
      } catch (e) {
        if (attempt > 1 && codeOf(e) === 'ENOENT') return { ok: true };
        if (attempt > 1) return { ok: true, left: `${def} (removing it failed: ${codeOf(e)})` };
      }
    }
  }

  private get dir(): string {
    return `${this.root}/instances/${this.instance}`;
  }

  /** Define and enable `points` whose symbols are in `symbols`; the others are recorded as unavailable. */
  arm(points: readonly ProbePoint[], symbols: ReadonlySet<string>): void {
    if (!this.instanceMade) {
      if (!this.fs.exists(this.dir)) this.fs.mkdir(this.dir);
      this.instanceMade = true;
    }
    const used = new Set(this.armed.map((a) => a.event));
    for (const point of points) {
      if (!symbols.has(point.symbol)) {
        this.unavailable.push({ point, why: `${point.symbol} not in /proc/kallsyms` });
        continue;
      }
      let event = `${point.key}_${point.kind === 'entry' ? 'e' : 'r'}`;
      for (let n = 2; used.has(event); n++) event = `${point.key}_${point.kind === 'entry' ? 'e' : 'r'}${n}`;
      const head = point.kind === 'entry' ? 'p' : 'r';
      const def = `${head}:${this.group}/${event} ${point.symbol}${point.fetch ? ` ${point.fetch}` : ''}\n`;
      try {
        this.fs.writeFile(`${this.root}/kprobe_events`, def, { append: true });
      } catch (e) {
        this.unavailable.push({ point, why: `defining a ${head}-probe on ${point.symbol} failed (${codeOf(e)})` });
        continue;
      }
      used.add(event);
      try {
        this.fs.writeFile(`${this.dir}/events/${this.group}/${event}/enable`, '1');
      } catch (e) {
        // Defined but never enabled: it records nothing, so it is not armed (a probe that cannot fire must not
        // count as evidence that its branch was not taken). Its definition goes now, or at close() if that fails.
        const why = `enabling ${this.group}/${event} failed (${codeOf(e)})`;
        try {
          this.fs.writeFile(`${this.root}/kprobe_events`, `-:${this.group}/${event}\n`, { append: true });
          this.unavailable.push({ point, why });
        } catch (r) {
          this.stray.push(event);
          this.unavailable.push({ point, why: `${why}; removing its definition failed too (${codeOf(r)})` });
        }
        continue;
      }
      this.armed.push({ point, event });
    }
  }

  /** Empty the instance's buffer (a truncating write to `trace`). */
  clear(): void {
    this.fs.writeFile(`${this.dir}/trace`, '');
  }

  /** The instance's buffer: hits attributed to their probe points, ours apart from other tasks'. */
  read(): TraceRead {
    const byEvent = new Map(this.armed.map((a) => [a.event, a.point]));
    const text = this.fs.readText(`${this.dir}/trace`);
    const own = ownTasks(this.fs);
    const hits: TraceHit[] = [];
    const foreign: TraceHit[] = [];
    for (const line of text.split('\n')) {
      const parsed = parseTraceLine(line);
      if (!parsed) continue;
      const point = byEvent.get(parsed.event);
      if (!point) continue;
      const hit = { key: point.key, ...parsed };
      if (point.anyTask || own.why !== null || own.tids.has(hit.pid)) hits.push(hit);
      else foreign.push(hit);
    }
    const m = ENTRIES.exec(text);
    const lost = m ? Math.max(0, Number(m[2]) - Number(m[1])) : 0;
    return { hits, foreign, lost, unattributed: own.why };
  }

  /** Our hits in the instance's buffer (read().hits). */
  hits(): TraceHit[] {
    return this.read().hits;
  }

  get armedProbes(): readonly ArmedProbe[] {
    return this.armed;
  }

  /** Disable and remove every probe, then the instance. Errors are collected, not thrown midway. */
  close(): void {
    const errors: string[] = [];
    for (const a of this.armed) {
      try {
        this.fs.writeFile(`${this.dir}/events/${this.group}/${a.event}/enable`, '0');
      } catch (e) {
        errors.push(`disable ${a.event}: ${codeOf(e)}`);
      }
    }
    for (const event of [...this.armed.map((a) => a.event), ...this.stray]) {
      try {
        this.fs.writeFile(`${this.root}/kprobe_events`, `-:${this.group}/${event}\n`, { append: true });
      } catch (e) {
        errors.push(`remove ${event}: ${codeOf(e)}`);
      }
    }
    this.armed = [];
    this.stray = [];
    if (this.instanceMade) {
      try {
        this.fs.rmdir(this.dir);
      } catch (e) {
        errors.push(`rmdir ${this.dir}: ${codeOf(e)}`);
      }
      this.instanceMade = false;
    }
    if (errors.length > 0) throw new Error(`tracefs teardown: ${errors.join('; ')}`);
  }

  evidence(read: TraceRead): Json {
    const hit = (h: TraceHit): Json => ({ probe: h.key, site: h.site, task: `${h.task}-${h.pid}`, args: h.args });
    const out: { [k: string]: Json } = {
      armed: this.armed.map(
        (a) => `${a.point.kind === 'entry' ? 'p' : 'r'}:${a.point.symbol}${a.point.fetch ? ` ${a.point.fetch}` : ''}`,
      ),
      unavailable: this.unavailable.map((u) => u.why),
      hits: read.hits.map(hit),
    };
    // Other tasks' hits in the window: counted, the first few shown (a busy machine can have thousands).
    if (read.foreign.length > 0)
      out.foreign = { count: read.foreign.length, first: read.foreign.slice(0, FOREIGN_SHOWN).map(hit) };
    if (read.lost > 0) out.lost = read.lost;
    if (read.unattributed) out.unattributed = read.unattributed;
    return out;
  }
}
