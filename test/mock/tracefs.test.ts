// The mock's tracefs events/ trees against an independent model of what the
// kernel shows: every instance lists every live event (the dma_buf
// tracepoints and each defined probe) under its system, a system directory
// exists exactly while it has an event, a removed event's files are gone,
// and `enable` at every level reads the instance's own enabled set. Random
// sequences of kprobe_events writes, instance mkdir/rmdir and enables,
// checked after every step, so the tree cannot drift from kprobe_events
// whatever order things happen in.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { expectErrno, mock } from './helpers.js';
import type { MockBackend } from '../../src/mock/backend.js';

const T = '/sys/kernel/tracing';
const TRACEPOINTS = [
  'dma_buf_export',
  'dma_buf_fd',
  'dma_buf_get',
  'dma_buf_put',
  'dma_buf_mmap_internal',
  'dma_buf_mmap',
  'dma_buf_dynamic_attach',
  'dma_buf_detach',
];
const GROUPS = ['g1', 'g2', 'dma_buf'] as const;
const EVENTS = ['e1', 'e2', 'e3'] as const;
const SYMBOLS = ['dma_buf_map_attachment', 'vfio_pci_dma_buf_map', 'xe_bo_move'] as const;
const INSTANCES = ['a', 'b', 'c'] as const;

type Op =
  | { op: 'define'; group: string; event: string; symbol: string }
  | { op: 'remove'; group: string; event: string }
  | { op: 'truncate' }
  | { op: 'mkdir'; inst: string }
  | { op: 'rmdir'; inst: string }
  | { op: 'enable'; inst: string; group: string; event: string; on: boolean }
  | { op: 'system'; inst: string; group: string; on: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('define' as const),
    group: fc.constantFrom(...GROUPS),
    event: fc.constantFrom(...EVENTS),
    symbol: fc.constantFrom(...SYMBOLS),
  }),
  fc.record({
    op: fc.constant('remove' as const),
    group: fc.constantFrom(...GROUPS),
    event: fc.constantFrom(...EVENTS),
  }),
  fc.record({ op: fc.constant('truncate' as const) }),
  fc.record({ op: fc.constant('mkdir' as const), inst: fc.constantFrom(...INSTANCES) }),
  fc.record({ op: fc.constant('rmdir' as const), inst: fc.constantFrom(...INSTANCES) }),
  fc.record({
    op: fc.constant('enable' as const),
    inst: fc.constantFrom('', ...INSTANCES),
    group: fc.constantFrom(...GROUPS),
    event: fc.constantFrom(...EVENTS, 'dma_buf_export'),
    on: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('system' as const),
    inst: fc.constantFrom('', ...INSTANCES),
    group: fc.constantFrom(...GROUPS),
    on: fc.boolean(),
  }),
);

/** What the kernel should show: live events in definition order, and each instance's enabled events. */
class Model {
  probes: string[] = [];
  instances = new Map<string, Set<string>>([['', new Set()]]);

  events(): string[] {
    return [...TRACEPOINTS.map((e) => `dma_buf/${e}`), ...this.probes];
  }

  enabledAnywhere(key: string): boolean {
    return [...this.instances.values()].some((s) => s.has(key));
  }

  /** The errno the kernel answers the operation with, applying its effect when it succeeds. */
  apply(o: Op): string | null {
    switch (o.op) {
      case 'define': {
        const key = `${o.group}/${o.event}`;
        if (this.events().includes(key)) return 'EEXIST';
        this.probes.push(key);
        return null;
      }
      case 'remove': {
        const key = `${o.group}/${o.event}`;
        if (!this.probes.includes(key)) return 'ENOENT';
        if (this.enabledAnywhere(key)) return 'EBUSY';
        this.probes = this.probes.filter((k) => k !== key);
        return null;
      }
      case 'truncate':
        if (this.probes.some((k) => this.enabledAnywhere(k))) return 'EBUSY';
        this.probes = [];
        return null;
      case 'mkdir':
        if (this.instances.has(o.inst)) return 'EEXIST';
        this.instances.set(o.inst, new Set());
        return null;
      case 'rmdir':
        if (!this.instances.delete(o.inst)) return 'ENOENT';
        return null;
      case 'enable': {
        const set = this.instances.get(o.inst);
        const key = `${o.group}/${o.event}`;
        if (!set || !this.events().includes(key)) return 'ENOENT';
        if (o.on) set.add(key);
        else set.delete(key);
        return null;
      }
      case 'system': {
        const set = this.instances.get(o.inst);
        const keys = this.events().filter((k) => k.startsWith(`${o.group}/`));
        if (!set || keys.length === 0) return 'ENOENT';
        for (const k of keys) {
          if (o.on) set.add(k);
          else set.delete(k);
        }
        return null;
      }
    }
  }
}

function dirOf(inst: string): string {
  return inst === '' ? T : `${T}/instances/${inst}`;
}

function run(b: MockBackend, o: Op): void {
  switch (o.op) {
    case 'define':
      b.fs.writeFile(`${T}/kprobe_events`, `p:${o.group}/${o.event} ${o.symbol} a=%di:x64\n`, { append: true });
      return;
    case 'remove':
      b.fs.writeFile(`${T}/kprobe_events`, `-:${o.group}/${o.event}\n`, { append: true });
      return;
    case 'truncate':
      b.fs.writeFile(`${T}/kprobe_events`, '');
      return;
    case 'mkdir':
      b.fs.mkdir(`${T}/instances/${o.inst}`);
      return;
    case 'rmdir':
      b.fs.rmdir(`${T}/instances/${o.inst}`);
      return;
    case 'enable':
      b.fs.writeFile(`${dirOf(o.inst)}/events/${o.group}/${o.event}/enable`, o.on ? '1' : '0');
      return;
    case 'system':
      b.fs.writeFile(`${dirOf(o.inst)}/events/${o.group}/enable`, o.on ? '1' : '0');
  }
}

function errnoOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

function flag(enabled: Set<string>, keys: string[]): string {
  const on = keys.filter((k) => enabled.has(k)).length;
  return on === 0 ? '0\n' : on === keys.length ? '1\n' : 'X\n';
}

function check(b: MockBackend, m: Model): void {
  const events = m.events();
  const systems = [...new Set(events.map((k) => k.split('/')[0]!))].sort();
  expect(b.fs.readdir(`${T}/instances`).sort()).toEqual([...m.instances.keys()].filter((n) => n !== '').sort());
  for (const [inst, enabled] of m.instances) {
    const base = `${dirOf(inst)}/events`;
    expect(b.fs.readdir(base)).toEqual(['enable', ...systems].sort());
    expect(b.fs.readText(`${base}/enable`)).toBe(flag(enabled, events));
    for (const s of systems) {
      const keys = events.filter((k) => k.startsWith(`${s}/`));
      expect(b.fs.readdir(`${base}/${s}`)).toEqual(['enable', ...keys.map((k) => k.split('/')[1]!)].sort());
      expect(b.fs.readText(`${base}/${s}/enable`)).toBe(flag(enabled, keys));
      for (const k of keys) {
        expect(b.fs.readdir(`${base}/${k}`)).toEqual(['enable', 'filter', 'format', 'id']);
        expect(b.fs.readText(`${base}/${k}/enable`), `${inst}:${k}`).toBe(enabled.has(k) ? '1\n' : '0\n');
      }
    }
    for (const g of GROUPS) {
      if (!systems.includes(g)) expectErrno(() => b.fs.readdir(`${base}/${g}`), 'ENOENT');
      for (const e of EVENTS)
        if (!events.includes(`${g}/${e}`)) expectErrno(() => b.fs.readText(`${base}/${g}/${e}/enable`), 'ENOENT');
    }
  }
  // The ids in events/ are the ones kprobe_events defined, in order.
  const ids = m.probes.map((k) => Number(b.fs.readText(`${T}/events/${k}/id`)));
  expect(ids).toEqual([...ids].sort((x, y) => x - y));
  const defined = b.fs
    .readText(`${T}/kprobe_events`)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split(' ')[0]!.slice(2));
  expect(defined).toEqual(m.probes);
}

describe('tracefs events/ trees', () => {
  it('follow kprobe_events, instances and enables in any order (model check after every step)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const b = mock();
        const m = new Model();
        for (const o of ops) {
          const want = m.apply(o);
          expect(
            errnoOf(() => run(b, o)),
            JSON.stringify(o),
          ).toBe(want);
          check(b, m);
        }
        b.close();
      }),
      { numRuns: 60, seed: 0x7ace5 },
    );
  });

  it('a new instance sees the probes defined before it, and every instance loses a removed probe', () => {
    const b = mock();
    b.fs.writeFile(`${T}/kprobe_events`, 'p:grp/ev dma_buf_map_attachment\n', { append: true });
    b.fs.mkdir(`${T}/instances/late`);
    expect(b.fs.readText(`${T}/instances/late/events/grp/ev/enable`)).toBe('0\n');
    b.fs.writeFile(`${T}/instances/late/events/grp/ev/enable`, '1');
    expectErrno(() => b.fs.writeFile(`${T}/kprobe_events`, '-:grp/ev\n', { append: true }), 'EBUSY');
    b.fs.writeFile(`${T}/instances/late/events/grp/enable`, '0');
    b.fs.writeFile(`${T}/kprobe_events`, '-:grp/ev\n', { append: true });
    expectErrno(() => b.fs.readdir(`${T}/instances/late/events/grp`), 'ENOENT');
    expectErrno(() => b.fs.readdir(`${T}/events/grp`), 'ENOENT');
    b.close();
  });
});
