// Shared set-up for the xe device tests: the mock kernel (src/mock/) with its
// xe PF bound, the render node opened through the harness's own wrapper
// (src/uapi/xe.ts), what the kernel logged since (read from /dev/kmsg), and
// small helpers to run a batch and to import a VF export.

import { expect } from 'vitest';
import type { ProfileName } from '../../../src/mock/contracts.js';
import { createMockBackend, type MockBackend, type MockOptions } from '../../../src/mock/backend.js';
import type { XeDriver } from '../../../src/mock/xe/index.js';
import { parseTraceLine } from '../../../src/harness/tracefs.js';
import { XE, PROT } from '../../../src/uapi/constants.js';
import { XeDevice, type XeBo, type XeVm, type XeExecQueue } from '../../../src/uapi/xe.js';

export const RENDER = '/dev/dri/renderD128';
export const SYS = 1 << 0;
export const VRAM = 1 << 1;
export const WB = XE.GEM_CPU_CACHING_WB;
export const WC = XE.GEM_CPU_CACHING_WC;
/** Xe2 2-way coherent WB (IGT intel_get_pat_idx_wb): what imports must use. */
export const PAT_WB = XE.PAT_INDEX_WB_2WAY_XE2;

export const PF = '0000:03:00.0';

export interface Rig {
  /** the mock kernel: DeviceOps and FileOps as the harness uses them */
  b: MockBackend;
  /** the render node of the PF, opened with src/uapi/xe.ts */
  xe: XeDevice;
  /** the xe model of the PF, for what only a model test can read (live objects, bind and unbind) */
  drv: XeDriver;
  /** /dev/kmsg records before the rig existed (boot): kmsg() leaves them out */
  since: number;
}

export function rig(profile: ProfileName = 'fixed', options: Omit<MockOptions, 'profile'> = {}): Rig {
  const b = createMockBackend({ profile, ...options });
  const since = b.fs.readRecords('/dev/kmsg').length;
  const xe = XeDevice.open(b, RENDER);
  return { b, xe, drv: b.kernel.platform.xeDriver(PF)!, since };
}

export interface KmsgLine {
  level: number;
  /** `xe 0000:03:00.0` for a dev_printk line, null for the kernel's own */
  source: string | null;
  text: string;
}

/** What the kernel logged since the rig was made, from /dev/kmsg as any reader sees it. */
export function kmsg(r: Rig): KmsgLine[] {
  return r.b.fs
    .readRecords('/dev/kmsg')
    .slice(r.since)
    .map((rec) => {
      const head = rec.split('\n')[0]!;
      const semi = head.indexOf(';');
      const level = Number(head.slice(0, head.indexOf(','))) & 7;
      const body = head
        .slice(semi + 1)
        .replace(/\\x([0-9a-f]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
      const m = /^(\S+ [0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]): (.*)$/.exec(body);
      return m ? { level, source: m[1]!, text: m[2]! } : { level, source: null, text: body };
    });
}

/** The texts logged since the rig was made. */
export function logText(r: Rig): string[] {
  return kmsg(r).map((l) => l.text);
}

/** Sites of the WARNs since the rig was made (`WARNING: CPU: 0 PID: N at <site>`). */
export function warnSites(r: Rig): string[] {
  return logText(r).flatMap((t) => {
    const m = /^WARNING: CPU: \d+ PID: \d+ at (.*)$/.exec(t);
    return m ? [m[1]!] : [];
  });
}

/** The WARNs since the rig was made: the site and the line before the WARNING line (its text, if any). */
export function warns(r: Rig): { site: string; text: string }[] {
  const lines = logText(r);
  const out: { site: string; text: string }[] = [];
  lines.forEach((t, i) => {
    const m = /^WARNING: CPU: \d+ PID: \d+ at (.*)$/.exec(t);
    if (m) out.push({ site: m[1]!, text: lines[i - 1]!.startsWith('------------[ cut here ]') ? '' : lines[i - 1]! });
  });
  return out;
}

/** The oopses since the rig was made: the BUG line's kind and the RIP that follows it. */
export function oopses(r: Rig): { kind: string; site: string }[] {
  const lines = logText(r);
  const out: { kind: string; site: string }[] = [];
  lines.forEach((t, i) => {
    const m = /^BUG: (kernel NULL pointer dereference|.*)(?:, address: .*)?$/.exec(t);
    if (!m) return;
    const rip = lines.slice(i).find((l) => l.startsWith('RIP: 0010:'));
    out.push({
      kind: m[1] === 'kernel NULL pointer dereference' ? 'NULL pointer dereference' : m[1]!,
      site: rip ? rip.slice('RIP: 0010:'.length) : '',
    });
  });
  return out;
}

export interface Probe {
  /** Each hit since the probe was armed: its fetch args as tracefs prints them. */
  hits(): Record<string, string>[];
}

/**
 * A kprobe (`p`) or kretprobe (`r`) on `symbol` with fetch args (e.g.
 * `ret=$retval:s64`), defined through kprobe_events and enabled in the top
 * instance (Documentation/trace/kprobetrace.rst), its hits read from `trace`:
 * the evidence the harness gathers, from the same files.
 */
export function kprobe(b: MockBackend, kind: 'p' | 'r', symbol: string, args = ''): Probe {
  const T = '/sys/kernel/tracing';
  const event = `${kind}_${symbol}`;
  // a function /proc/kallsyms does not list is not armed: no hit, "no evidence", as the harness reads it
  const listed = b.fs
    .readText('/proc/kallsyms')
    .split('\n')
    .some((l) => l.split(/\s+/)[2] === symbol);
  if (!listed) return { hits: () => [] };
  b.fs.writeFile(`${T}/kprobe_events`, `${kind}:iovh_test/${event} ${symbol} ${args}\n`, { append: true });
  b.fs.writeFile(`${T}/events/iovh_test/${event}/enable`, '1');
  return {
    hits: () =>
      b.fs
        .readText(`${T}/trace`)
        .split('\n')
        .map(parseTraceLine)
        .filter((h) => h !== null && h.event === event)
        .map((h) => h!.args),
  };
}

/**
 * What kmemleak reports after a scan (/sys/kernel/debug/kmemleak), one entry
 * per unreferenced object: the frame that called the allocator (which names
 * the object: `xe_bo_move+0x4c1/0x9a0 [xe]` is the drm_pagemap_addr array).
 * The clock first passes kmemleak's minimum age of 5 s; two scans, as a white
 * object's first checksum keeps it gray until the next (mm/kmemleak.c
 * update_checksum).
 */
export async function leaks(b: MockBackend): Promise<string[]> {
  const K = '/sys/kernel/debug/kmemleak';
  await b.sleep!(6000);
  b.fs.writeFile(K, 'scan');
  b.fs.writeFile(K, 'scan');
  return b.fs
    .readText(K)
    .split(/^unreferenced object /m)
    .slice(1)
    .map((o) => {
      const frames = o.split(/ {2}backtrace[^\n]*\n/)[1]!.split('\n');
      return frames[1]!.trim();
    });
}

/** Expect `fn` to throw a SystemError with this errno name. */
export function expectErrno(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect((caught as { code?: string }).code).toBe(code);
}

export async function expectErrnoAsync(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ code });
}

/** A system BO with a CPU mapping, bound at `va` in `vm`. */
export function sysBo(
  xe: XeDevice,
  vm: XeVm,
  va: bigint,
  size = 0x10000n,
): { bo: XeBo; map: ReturnType<XeBo['mmap']> } {
  const bo = xe.gemCreate({ size, placement: SYS, cpuCaching: WB });
  vm.map(bo, va, size, { patIndex: PAT_WB });
  return { bo, map: bo.mmap(PROT.READ | PROT.WRITE) };
}

export interface Runner {
  vm: XeVm;
  queue: XeExecQueue;
  /** Put `batch` in a fresh system BO at `batchVa` and exec it. */
  run(batch: Uint8Array): void;
}

let batchSlot = 0n;

export function runner(xe: XeDevice, vm = xe.vmCreate(0)): Runner {
  const engine = xe.engineOfClass(XE.ENGINE_CLASS_COPY)!;
  const queue = xe.execQueueCreate(vm, [engine]);
  return {
    vm,
    queue,
    run(batch: Uint8Array): void {
      const size = BigInt(Math.ceil(batch.length / 0x10000) * 0x10000);
      const va = 0x7000_0000_0000n + batchSlot;
      batchSlot += size + 0x10000n;
      const { map } = sysBo(xe, vm, va, size);
      map.write(0, batch);
      queue.exec(va);
    },
  };
}

export function u64(bytes: Uint8Array, at = 0): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(at, true);
}
