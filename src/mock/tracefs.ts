// tracefs at /sys/kernel/tracing: dynamic kprobe events, the dma_buf
// tracepoints, instances, and the `trace` file in ftrace's text format.
//
// kprobe_events follows Documentation/trace/kprobetrace.rst and
// kernel/trace/trace_kprobe.c:
//   p[:[GRP/][EVENT]] [MOD:]SYM[+offs]|MEMADDR [FETCHARGS]
//   r[MAXACTIVE][:[GRP/][EVENT]] [MOD:]SYM[+0] [FETCHARGS]
//   -:[GRP/][EVENT]
// Default group `kprobes`, default event `p_SYM_OFFS` / `r_SYM_OFFS` with
// non-alphanumerics made `_`. Errors: syntax EINVAL, unknown symbol ENOENT,
// duplicate event EEXIST, removing an unknown event ENOENT, removing an enabled
// one EBUSY; an O_TRUNC open (every write that is not an append) first removes
// every probe and fails EBUSY while any is enabled (release_all_trace_kprobes).
// Fetch args: $argN, $retval (return probes only), $comm, $stack, $stackN,
// x86-64 registers (%di %si %dx %cx %r8 %r9 hold the first six arguments at
// entry, %ax the return value), immediates \IMM; types u8..u64, s8..s64,
// x8..x64, string; the default type is x64 (trace_probe.h DEFAULT_FETCH_TYPE).
//
// Only function entry (offset 0) and return are modelled: a probe at a non-zero
// offset or an address that is not a function start is accepted and never hits.

import { VDir, VFile, type VNode, type Vfs } from './vfs.js';
import { fail } from './errno.js';
import { kstrtoull } from './kstrto.js';
import type { ProfileImpl } from './profiles.js';

type ArgType = { kind: 'u' | 's' | 'x'; bits: 8 | 16 | 32 | 64 } | { kind: 'string' };

interface FetchArg {
  readonly name: string;
  /** Text as written (kprobe_events shows it back). */
  readonly comm: string;
  readonly source: string;
  readonly type: ArgType;
}

interface ProbeEvent {
  readonly kind: 'p' | 'r';
  readonly maxactive: number;
  readonly group: string;
  readonly event: string;
  /** as written: `xe:xe_find_vf_dev`, `dma_buf_export+4`, `0xffffffff81000000` */
  readonly where: string;
  /** resolved function whose entry/return this probe sees, or null (never hits) */
  readonly symbol: string | null;
  readonly args: readonly FetchArg[];
  readonly id: number;
  hits: number;
}

/** A static tracepoint (include/trace/events/dma_buf.h, docs/kernel.md §10). */
interface Tracepoint {
  readonly group: string;
  readonly event: string;
  readonly id: number;
  readonly fields: readonly string[];
}

/** What an events/ directory is made from: a probe or a tracepoint. */
type EventDef = Pick<ProbeEvent, 'group' | 'event' | 'id'>;

interface Entry {
  readonly usec: bigint;
  readonly pid: number;
  readonly comm: string;
  readonly event: string;
  readonly body: string;
}

interface Instance {
  readonly name: string;
  readonly dir: string;
  on: boolean;
  enabled: Set<string>;
  buffer: Entry[];
  written: number;
}

export interface TracefsState {
  nextId: number;
  probes: string[];
  instances: {
    name: string;
    on: boolean;
    enabled: string[];
    buffer: (Omit<Entry, 'usec'> & { usec: string })[];
    written: number;
  }[];
}

const ROOT = '/sys/kernel/tracing';
const BUFFER_ENTRIES = 65536;
const NR_CPUS = 2;

const REGS_ENTRY: Record<string, string> = {
  di: 'arg1',
  si: 'arg2',
  dx: 'arg3',
  cx: 'arg4',
  r8: 'arg5',
  r9: 'arg6',
  ax: 'retval',
};

const DMA_BUF_EVENTS: readonly [string, string[]][] = [
  ['dma_buf_export', ['exp_name', 'size', 'ino']],
  ['dma_buf_fd', ['exp_name', 'size', 'ino', 'fd']],
  ['dma_buf_get', ['exp_name', 'size', 'ino', 'fd']],
  ['dma_buf_put', ['exp_name', 'size', 'ino']],
  ['dma_buf_mmap_internal', ['exp_name', 'size', 'ino']],
  ['dma_buf_mmap', ['exp_name', 'size', 'ino']],
  ['dma_buf_dynamic_attach', ['exp_name', 'size', 'ino', 'attachment', 'is_dynamic', 'dev_name']],
  ['dma_buf_detach', ['exp_name', 'size', 'ino', 'attachment', 'is_dynamic', 'dev_name']],
];

function isGoodName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** is_good_system_name (kernel/trace/trace.h __is_good_name with hash_ok): a group may also hold '-'. */
function isGoodSystemName(name: string): boolean {
  return /^[A-Za-z_-][A-Za-z0-9_-]*$/.test(name);
}

function parseType(t: string | undefined): ArgType {
  if (t === undefined) return { kind: 'x', bits: 64 };
  if (t === 'string') return { kind: 'string' };
  const m = /^([usx])(8|16|32|64)$/.exec(t);
  if (!m) fail('EINVAL', `bad fetch type '${t}'`);
  return { kind: m[1] as 'u' | 's' | 'x', bits: Number(m[2]) as 8 | 16 | 32 | 64 };
}

function formatValue(v: bigint, type: ArgType): string {
  if (type.kind === 'string') return `"${String(v)}"`;
  const mask = (1n << BigInt(type.bits)) - 1n;
  const u = BigInt.asUintN(64, v) & mask;
  if (type.kind === 'x') return `0x${u.toString(16)}`;
  if (type.kind === 'u') return u.toString();
  return BigInt.asIntN(type.bits, u).toString();
}

/**
 * Where an entry probe defined on `sym` sits: with CONFIG_X86_KERNEL_IBT every
 * function that may be called indirectly or from outside its file starts with
 * ENDBR64 (4 bytes), and arch_adjust_kprobe_addr (arch/x86/kernel/kprobes/core.c)
 * moves a probe at offset 0 past it, so the hit line prints `sym+0x4`. Sealed
 * ENDBRs (objtool's poison NOP) count too (asm/ibt.h is_endbr). Every function
 * the model lets a probe hit is such a function (exported, or an ops member).
 */
function entryOffset(profile: ProfileImpl): number {
  return profile.ibt ? 4 : 0;
}

export class Tracefs {
  private probes: ProbeEvent[] = [];
  private readonly tracepoints: Tracepoint[] = [];
  private instances = new Map<string, Instance>();
  /** The live events by system and name: the tracepoints, then probes as defined. */
  private readonly events = new Map<string, Map<string, EventDef>>();
  private nextId = 2000;

  constructor(
    private readonly vfs: Vfs,
    private readonly profile: ProfileImpl,
    private readonly now: () => bigint,
    private readonly task: () => { comm: string; pid: number },
  ) {
    let id = 1400;
    for (const [event, fields] of DMA_BUF_EVENTS) this.tracepoints.push({ group: 'dma_buf', event, id: id++, fields });
    for (const t of this.tracepoints) this.indexEvent(t);
    this.buildTop();
    this.addInstance('', ROOT);
  }

  // ------------------------------------------------------------ hits

  /** A kprobe/kretprobe hit at a function (contracts.ts KernelServices.trace). */
  hit(symbol: string, kind: 'entry' | 'return', values: Readonly<Record<string, bigint | number>>): void {
    const want = kind === 'entry' ? 'p' : 'r';
    for (const p of this.probes) {
      if (p.symbol !== symbol || p.kind !== want) continue;
      const key = `${p.group}/${p.event}`;
      const targets = [...this.instances.values()].filter((i) => i.on && i.enabled.has(key));
      if (targets.length === 0) continue;
      p.hits++;
      const info = this.profile.symbolInfo.get(symbol);
      const mod = info?.module ? ` [${info.module}]` : '';
      const site =
        p.kind === 'p'
          ? `(${symbol}+0x${entryOffset(this.profile).toString(16)}/0x${(info?.size ?? 0).toString(16)}${mod})`
          : `(${info?.caller ?? 'unknown+0x0/0x0'} <- ${symbol})`;
      const args = p.args.map((a) => ` ${a.name}=${this.fetch(a, values)}`).join('');
      this.emit(targets, p.event, `${site}${args}`);
    }
  }

  /** A dma_buf tracepoint (docs/kernel.md §10: `exp_name=%s size=%zu ino=%lu` ...). */
  tracepoint(event: string, fields: Readonly<Record<string, string | number | bigint>>): void {
    const tp = this.tracepoints.find((t) => t.event === event);
    if (!tp) return;
    const key = `${tp.group}/${tp.event}`;
    const targets = [...this.instances.values()].filter((i) => i.on && i.enabled.has(key));
    if (targets.length === 0) return;
    const body = tp.fields
      .map((f) => {
        const v = fields[f];
        if (f === 'attachment') return `attachment:${typeof v === 'bigint' ? `0x${v.toString(16)}` : String(v)}`;
        return `${f}=${String(v)}`;
      })
      .join(' ');
    this.emit(targets, tp.event, body);
  }

  private fetch(a: FetchArg, values: Readonly<Record<string, bigint | number>>): string {
    if (a.source === '$comm') return `"${this.task().comm}"`;
    let key: string | undefined;
    let m: RegExpExecArray | null;
    if ((m = /^\$arg(\d+)$/.exec(a.source))) key = `arg${m[1]}`;
    else if (a.source === '$retval') key = 'retval';
    else if ((m = /^%(\w+)$/.exec(a.source))) key = REGS_ENTRY[m[1]!];
    else if ((m = /^\\(.+)$/.exec(a.source))) return formatValue(BigInt(m[1]!), a.type);
    const v = key === undefined ? undefined : values[key];
    return formatValue(v === undefined ? 0n : BigInt(v), a.type);
  }

  private emit(targets: Instance[], event: string, body: string): void {
    const { comm, pid } = this.task();
    const entry: Entry = { usec: this.now(), pid, comm, event, body };
    for (const i of targets) {
      i.buffer.push(entry);
      i.written++;
      if (i.buffer.length > BUFFER_ENTRIES) i.buffer.shift();
    }
  }

  // ------------------------------------------------------------ kprobe_events

  private probeLines(): string {
    return this.probes
      .map((p) => {
        const head = p.kind === 'r' && p.maxactive ? `r${p.maxactive}` : p.kind;
        return `${head}:${p.group}/${p.event} ${p.where}${p.args.map((a) => ` ${a.name}=${a.comm}`).join('')}\n`;
      })
      .join('');
  }

  private isEnabledAnywhere(key: string): boolean {
    for (const i of this.instances.values()) if (i.enabled.has(key)) return true;
    return false;
  }

  private truncateProbes(): void {
    for (const p of this.probes)
      if (this.isEnabledAnywhere(`${p.group}/${p.event}`)) fail('EBUSY', `${p.group}/${p.event} is enabled`);
    this.removeAllProbes();
  }

  private removeAllProbes(): void {
    const gone = this.probes;
    this.probes = [];
    for (const p of gone) this.unindexEvent(p);
  }

  /**
   * One write(2) to kprobe_events: each line is a command; the first failing
   * line's errno is returned, and the lines before it keep their effect.
   */
  writeProbes(data: string): void {
    for (const raw of data.split('\n')) {
      const line = raw.replace(/#.*$/, '').trim();
      if (line !== '') this.command(line);
    }
  }

  private command(line: string): void {
    const tokens = line.split(/\s+/);
    const head = tokens[0]!;
    const m = /^([pr-])(\d*)(?::(?:([^/\s]+)\/)?([^/\s]*))?$/.exec(head);
    if (!m) fail('EINVAL', `bad probe command '${head}'`);
    const kind = m[1]!;
    const group = m[3] ?? 'kprobes';
    if (kind === '-') {
      const event = m[4];
      if (!event || tokens.length > 1) fail('EINVAL', 'removal needs exactly -:[GRP/]EVENT');
      const idx = this.probes.findIndex((p) => p.group === group && p.event === event);
      if (idx < 0) fail('ENOENT', `no probe ${group}/${event}`);
      if (this.isEnabledAnywhere(`${group}/${event}`)) fail('EBUSY', `${group}/${event} is enabled`);
      const [gone] = this.probes.splice(idx, 1);
      this.unindexEvent(gone!);
      return;
    }
    if (kind === 'p' && m[2]) fail('EINVAL', 'MAXACTIVE only on return probes');
    const where = tokens[1];
    if (where === undefined) fail('EINVAL', 'missing probe point');
    const { symbol, label, offset } = this.resolve(where);
    if (kind === 'r' && offset !== 0) fail('EINVAL', 'return probe offset must be 0');
    const event = m[4] || `${kind}_${label}_${offset}`.replace(/[^A-Za-z0-9_]/g, '_');
    if (!isGoodName(event) || !isGoodSystemName(group)) fail('EINVAL', `bad event name ${group}/${event}`);
    if (this.probes.some((p) => p.group === group && p.event === event)) fail('EEXIST', `${group}/${event} exists`);
    if (this.tracepoints.some((t) => t.group === group && t.event === event))
      fail('EEXIST', `${group}/${event} exists`);
    const args: FetchArg[] = [];
    for (const [i, tok] of tokens.slice(2).entries()) {
      const eq = tok.indexOf('=');
      const name = eq > 0 ? tok.slice(0, eq) : `arg${i + 1}`;
      const spec = eq > 0 ? tok.slice(eq + 1) : tok;
      if (!isGoodName(name)) fail('EINVAL', `bad argument name '${name}'`);
      const colon = spec.lastIndexOf(':');
      const source = colon > 0 ? spec.slice(0, colon) : spec;
      const type = parseType(colon > 0 ? spec.slice(colon + 1) : source === '$comm' ? 'string' : undefined);
      if (source === '$retval' && kind !== 'r') fail('EINVAL', '$retval is only for return probes');
      if (
        !/^\$arg[1-9]\d*$/.test(source) &&
        !['$retval', '$comm', '$stack'].includes(source) &&
        !/^\$stack\d+$/.test(source) &&
        !/^%(di|si|dx|cx|r8|r9|ax|bx|bp|sp|r1[0-5]|ip|flags)$/.test(source) &&
        !/^\\-?(0x[0-9a-fA-F]+|\d+)$/.test(source) &&
        !/^[+-]?\d+\(.+\)$/.test(source) &&
        !/^@.+$/.test(source)
      ) {
        fail('EINVAL', `bad fetch argument '${source}'`);
      }
      if (args.some((a) => a.name === name)) fail('EINVAL', `duplicate argument name '${name}'`);
      args.push({ name, comm: spec, source, type });
    }
    if (args.length > 128) fail('E2BIG', 'too many arguments');
    const probe: ProbeEvent = {
      kind: kind as 'p' | 'r',
      maxactive: Number(m[2] || 0),
      group,
      event,
      where,
      symbol: offset === 0 ? symbol : null,
      args,
      id: this.nextId++,
      hits: 0,
    };
    this.probes.push(probe);
    this.indexEvent(probe);
  }

  private resolve(where: string): { symbol: string | null; label: string; offset: number } {
    if (/^0x[0-9a-fA-F]+$/.test(where)) {
      const addr = BigInt(where);
      for (const name of this.profile.symbols.keys())
        if (this.profile.address(name) === addr) return { symbol: name, label: where, offset: 0 };
      return { symbol: null, label: where, offset: 0 };
    }
    const m = /^(?:([A-Za-z0-9_]+):)?([A-Za-z_.][A-Za-z0-9_.]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(where);
    if (!m) fail('EINVAL', `bad probe point '${where}'`);
    const module = m[1];
    const name = m[2]!;
    const offset = m[3] ? Number(m[3]) : 0;
    const info = this.profile.symbolInfo.get(name);
    // trace_kprobe.c __trace_kprobe_create: validate_probe_symbol finding no such symbol (ENOENT) is
    // reported as BAD_PROBE_ADDR and the write fails with EINVAL (observed on 7.2.13).
    if (!info || (module !== undefined && info.module !== module)) fail('EINVAL', `unknown symbol '${where}'`);
    if (offset >= Math.max(info.size, 1)) fail('EINVAL', `offset beyond ${name}`);
    return { symbol: name, label: module ? `${module}:${name}` : name, offset };
  }

  // ------------------------------------------------------------ files

  private buildTop(): void {
    const v = this.vfs;
    v.mkdirp(ROOT);
    v.addFile(`${ROOT}/kprobe_events`, {
      mode: 0o644,
      show: () => this.probeLines(),
      store: (d) => this.writeProbes(d),
      truncate: () => this.truncateProbes(),
    });
    v.addText(`${ROOT}/kprobe_profile`, () =>
      this.probes.map((p) => `  ${p.event.padEnd(44)} ${String(p.hits).padStart(15)} ${'0'.padStart(15)}\n`).join(''),
    );
    v.addText(`${ROOT}/available_events`, () =>
      this.allEvents()
        .map((e) => `${e.group}:${e.event}\n`)
        .join(''),
    );
    v.addText(`${ROOT}/current_tracer`, () => 'nop\n');
    v.addText(`${ROOT}/available_tracers`, () => 'nop\n');
    v.addText(
      `${ROOT}/README`,
      () =>
        'tracing mini-HOWTO:\n\n# echo 0 > tracing_on : quick way to disable tracing\n# echo 1 > tracing_on : quick way to re-enable tracing\n',
    );
    const inst = v.mkdirp(`${ROOT}/instances`);
    inst.hooks = {
      mkdir: (name) => {
        if (this.instances.has(name)) fail('EEXIST');
        if (!/^[^/]+$/.test(name)) fail('EINVAL');
        this.addInstance(name, `${ROOT}/instances/${name}`);
      },
      rmdir: (name) => {
        if (!this.instances.has(name) || name === '') fail('ENOENT');
        this.instances.delete(name);
        this.vfs.remove(`${ROOT}/instances/${name}`);
      },
    };
  }

  private allEvents(): EventDef[] {
    return [...this.tracepoints, ...this.probes];
  }

  private addInstance(name: string, dir: string): void {
    const i: Instance = { name, dir, on: true, enabled: new Set(), buffer: [], written: 0 };
    this.instances.set(name, i);
    const v = this.vfs;
    v.mkdirp(dir);
    v.addFile(`${dir}/trace`, {
      mode: 0o644,
      show: () => this.renderTrace(i),
      // tracing_write_stub: writes are accepted and ignored; the O_TRUNC open clears.
      store: () => undefined,
      truncate: () => {
        i.buffer = [];
        i.written = 0;
      },
    });
    v.addFile(`${dir}/tracing_on`, {
      mode: 0o644,
      show: () => (i.on ? '1\n' : '0\n'),
      // rb_simple_write: kstrtoul_from_user, any non-zero value turns tracing on.
      store: (d) => {
        i.on = kstrtoull(d, false) !== 0n;
      },
    });
    v.addFile(`${dir}/set_event`, {
      mode: 0o644,
      show: () =>
        [...i.enabled]
          .sort()
          .map((k) => `${k.replace('/', ':')}\n`)
          .join(''),
      store: (d) => this.setEvent(i, d),
      truncate: () => i.enabled.clear(),
    });
    this.buildEvents(i);
  }

  private setEvent(i: Instance, data: string): void {
    for (const raw of data.split('\n')) {
      let spec = raw.trim();
      if (spec === '') continue;
      const off = spec.startsWith('!');
      if (off) spec = spec.slice(1);
      const [g, e] = spec.includes(':') ? (spec.split(':', 2) as [string, string]) : ['*', spec];
      const matches = this.allEvents().filter((x) => (g === '*' || x.group === g) && (e === '*' || x.event === e));
      if (matches.length === 0) fail('EINVAL', `no event matches '${spec}'`);
      for (const x of matches) {
        if (off) i.enabled.delete(`${x.group}/${x.event}`);
        else i.enabled.add(`${x.group}/${x.event}`);
      }
    }
  }

  // An instance's events/ tree is made on lookup, as eventfs does since Linux
  // 6.6 (fs/tracefs/event_inode.c: eventfs_root_lookup creates an event's
  // files when they are first looked up). Defining a probe adds its event to
  // every trace array (trace_events.c __trace_add_new_event), removing it
  // removes it everywhere (remove_event_file_dir), and a system's directory
  // goes with its last event (remove_subsystem): readdir and lookup here read
  // the live event index, so a probe costs nothing per instance and the tree
  // can never disagree with kprobe_events.

  private indexEvent(e: EventDef): void {
    let system = this.events.get(e.group);
    if (!system) this.events.set(e.group, (system = new Map()));
    system.set(e.event, e);
  }

  private unindexEvent(e: EventDef): void {
    const system = this.events.get(e.group);
    system?.delete(e.event);
    if (system?.size === 0) this.events.delete(e.group);
    const key = `${e.group}/${e.event}`;
    for (const i of this.instances.values()) i.enabled.delete(key);
  }

  private keysOf(group: string | null): string[] {
    const out: string[] = [];
    for (const [g, system] of this.events)
      if (group === null || g === group) for (const e of system.keys()) out.push(`${g}/${e}`);
    return out;
  }

  // event_enable_write / system_enable_write: kstrtoul, then only 0 or 1.
  private setMany(i: Instance, keys: readonly string[], d: string): void {
    const b = kstrtoull(d, false);
    if (b > 1n) fail('EINVAL', 'enable takes 0 or 1');
    for (const k of keys) {
      if (b === 1n) i.enabled.add(k);
      else i.enabled.delete(k);
    }
  }

  private showMany(i: Instance, keys: readonly string[]): string {
    let on = 0;
    for (const k of keys) if (i.enabled.has(k)) on++;
    return on === 0 ? '0\n' : on === keys.length ? '1\n' : 'X\n';
  }

  private buildEvents(i: Instance): void {
    const base = `${i.dir}/events`;
    const dir = this.vfs.mkdirp(base);
    this.vfs.addFile(`${base}/enable`, {
      mode: 0o644,
      show: () => this.showMany(i, this.keysOf(null)),
      store: (d) => this.setMany(i, this.keysOf(null), d),
    });
    dir.dynamic = {
      list: () => [...this.events.keys()],
      get: (g) => (this.events.has(g) ? this.systemDir(i, g) : undefined),
    };
  }

  private systemDir(i: Instance, g: string): VDir {
    const dir = new VDir(g, 'tracefs');
    adopt(
      dir,
      new VFile('enable', 'tracefs', {
        mode: 0o644,
        show: () => this.showMany(i, this.keysOf(g)),
        store: (d) => this.setMany(i, this.keysOf(g), d),
      }),
    );
    dir.dynamic = {
      list: () => [...(this.events.get(g)?.keys() ?? [])],
      get: (name) => {
        const e = this.events.get(g)?.get(name);
        return e && this.eventDir(i, e);
      },
    };
    return dir;
  }

  private eventDir(i: Instance, e: EventDef): VDir {
    const dir = new VDir(e.event, 'tracefs');
    const key = [`${e.group}/${e.event}`];
    adopt(
      dir,
      new VFile('enable', 'tracefs', {
        mode: 0o644,
        show: () => this.showMany(i, key),
        store: (d) => this.setMany(i, key, d),
      }),
    );
    adopt(dir, new VFile('id', 'tracefs', { show: () => `${e.id}\n` }));
    adopt(dir, new VFile('format', 'tracefs', { show: () => this.format(e) }));
    adopt(
      dir,
      new VFile('filter', 'tracefs', {
        mode: 0o644,
        show: () => 'none\n',
        store: (d) => (d.trim() === '0' || d.trim() === '' ? undefined : fail('EINVAL', 'filters are not modelled')),
      }),
    );
    return dir;
  }

  private format(e: EventDef): string {
    const common =
      '\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n' +
      '\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n' +
      '\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n' +
      '\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n';
    const probe = this.probes.find((p) => p.group === e.group && p.event === e.event);
    if (probe) {
      // kprobe_event_define_fields: __probe_ip; kretprobe_event_define_fields: __probe_func then __probe_ret_ip
      // (kernel/trace/trace_kprobe.c), then the arguments (traceprobe_define_arg_fields).
      const head8 = probe.kind === 'p' ? ['__probe_ip'] : ['__probe_func', '__probe_ret_ip'];
      let off = 8;
      const fields: string[] = [];
      for (const f of head8) {
        fields.push(`\tfield:unsigned long ${f};\toffset:${off};\tsize:8;\tsigned:0;\n`);
        off += 8;
      }
      for (const a of probe.args) {
        fields.push(`\tfield:u64 ${a.name};\toffset:${off};\tsize:8;\tsigned:0;\n`);
        off += 8;
      }
      const head = probe.kind === 'p' ? '"(%lx)' : '"(%lx <- %lx)';
      const ips = probe.kind === 'p' ? 'REC->__probe_ip' : 'REC->__probe_func, REC->__probe_ret_ip';
      const fmt = `${head}${probe.args.map((a) => ` ${a.name}=0x%Lx`).join('')}", ${ips}${probe.args.map((a) => `, REC->${a.name}`).join('')}`;
      return `name: ${e.event}\nID: ${e.id}\nformat:\n${common}${fields.join('')}\nprint fmt: ${fmt}\n`;
    }
    return `name: ${e.event}\nID: ${e.id}\nformat:\n${common}\tfield:__data_loc char[] exp_name;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:size_t size;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:ino_t ino;\toffset:24;\tsize:8;\tsigned:0;\n\nprint fmt: "exp_name=%s size=%zu ino=%lu", __get_str(exp_name), REC->size, REC->ino\n`;
  }

  /** The `trace` file: header (kernel/trace/trace.c print_func_help_header_irq) then one line per hit. */
  private renderTrace(i: Instance): string {
    const head =
      '# tracer: nop\n#\n' +
      `# entries-in-buffer/entries-written: ${i.buffer.length}/${i.written}   #P:${NR_CPUS}\n` +
      '#\n' +
      '#                                _-----=> irqs-off/BH-disabled\n' +
      '#                               / _----=> need-resched\n' +
      '#                              | / _---=> hardirq/softirq\n' +
      '#                              || / _--=> preempt-depth\n' +
      '#                              ||| / _-=> migrate-disable\n' +
      '#                              |||| /     delay\n' +
      '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n' +
      '#              | |         |   |||||     |         |\n';
    return head + i.buffer.map((e) => traceLine(e)).join('');
  }

  // ------------------------------------------------------------ state

  save(): TracefsState {
    return {
      nextId: this.nextId,
      probes: this.probeLines()
        .split('\n')
        .filter((l) => l !== ''),
      instances: [...this.instances.values()].map((i) => ({
        name: i.name,
        on: i.on,
        enabled: [...i.enabled],
        buffer: i.buffer.map((e) => ({ ...e, usec: e.usec.toString() })),
        written: i.written,
      })),
    };
  }

  load(state: TracefsState): void {
    for (const name of [...this.instances.keys()]) if (name !== '') this.vfs.remove(`${ROOT}/instances/${name}`);
    this.instances = new Map([...this.instances].filter(([n]) => n === ''));
    this.removeAllProbes();
    this.writeProbes(state.probes.join('\n'));
    this.nextId = state.nextId;
    for (const s of state.instances) {
      if (s.name !== '' && !this.instances.has(s.name)) this.addInstance(s.name, `${ROOT}/instances/${s.name}`);
      const i = this.instances.get(s.name)!;
      i.on = s.on;
      i.enabled = new Set(s.enabled);
      i.buffer = s.buffer.map((e) => ({ ...e, usec: BigInt(e.usec) }));
      i.written = s.written;
    }
  }

  /** Directory used for instances (for tests). */
  get root(): VDir {
    return this.vfs.mkdirp(ROOT);
  }
}

/** Hang a node made on lookup under its directory. */
function adopt(dir: VDir, node: VNode): void {
  node.parent = dir;
  dir.children.set(node.name, node);
}

/** One line of `trace` (kernel/trace/trace_output.c trace_print_context + print_fmt). */
export function traceLine(e: { usec: bigint; pid: number; comm: string; event: string; body: string }): string {
  const secs = e.usec / 1_000_000n;
  const us = (e.usec % 1_000_000n).toString().padStart(6, '0');
  return `${e.comm.padStart(16)}-${String(e.pid).padEnd(7)} [000] ..... ${secs.toString().padStart(5)}.${us}: ${e.event}: ${e.body}\n`;
}
