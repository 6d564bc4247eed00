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

export interface ArmedProbe {
  point: ProbePoint;
  event: string;
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

  /** The hits in the instance's buffer, attributed to their probe points. */
  hits(): TraceHit[] {
    const byEvent = new Map(this.armed.map((a) => [a.event, a.point.key]));
    const out: TraceHit[] = [];
    for (const line of this.fs.readText(`${this.dir}/trace`).split('\n')) {
      const hit = parseTraceLine(line);
      if (!hit) continue;
      const key = byEvent.get(hit.event);
      if (key) out.push({ key, ...hit });
    }
    return out;
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

  evidence(hits: readonly TraceHit[]): Json {
    return {
      armed: this.armed.map((a) => `${a.point.kind === 'entry' ? 'p' : 'r'}:${a.point.symbol}${a.point.fetch ? ` ${a.point.fetch}` : ''}`),
      unavailable: this.unavailable.map((u) => u.why),
      hits: hits.map((h) => ({ probe: h.key, site: h.site, task: `${h.task}-${h.pid}`, args: h.args })),
    };
  }
}
