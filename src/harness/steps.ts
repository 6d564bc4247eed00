// Building blocks the scenarios share: requiring a capability (a skip that
// cites it), opening the VF through VFIO, exporting ranges, a trace session
// for the scenario's window, and small formatting helpers. Every object that
// holds a kernel resource is registered on the cleanup stack when it is made.

import { P2P_ROUTE_PROBE } from '../shape/index.js';
import {
  openVfioDevice,
  type VfioDevice,
  VfioSetupError,
  type DmaRange,
  type ExportDmaBufOptions,
} from '../uapi/vfio.js';
import type { DmaBuf } from '../uapi/dmabuf.js';
import { expectingErrno, SystemError } from '../uapi/errors.js';
import { PAGE_SIZE } from '../uapi/constants.js';
import { hex, type Json } from '../report/model.js';
import { type CapabilityName, DEFAULT_POLICY } from './caps.js';
import type { ScenarioContext } from './scenario.js';
import type { ProbeKey } from './symbols.js';
import { ownTasks, TraceSession } from './tracefs.js';
import { attributeKmemleak, type KmemleakAttribution, KmemleakMonitor, kmemleakFailure } from './monitors.js';
import { SHAPE_CAPABILITY } from './summary.js';
import { lmemBar, type Bar, type VfInfo } from '../machine/topology.js';
import type { Target } from '../machine/target.js';

export const PAGE = BigInt(PAGE_SIZE);

/** Skip unless every named capability is present; the skip cites the first missing one and how to get it. */
export function requireCaps(ctx: ScenarioContext, ...names: CapabilityName[]): void {
  for (const name of names) {
    const cap = ctx.caps.caps[name];
    if (!cap.ok) ctx.skip(name, cap.detail, cap.enable ?? 'see caps/kernel');
  }
}

export function requireTarget(ctx: ScenarioContext): Target {
  requireCaps(ctx, 'target');
  return ctx.target!;
}

/**
 * Skip on a shared machine (the native backend) without --allow-destructive:
 * for a scenario that, on a kernel with the defect it looks for, leaves a
 * task asleep in the kernel holding a VF until reboot. `what` says what
 * happens there.
 */
export function requireDestructiveConsent(ctx: ScenarioContext, what: string): void {
  const policy = ctx.caps.policy ?? DEFAULT_POLICY;
  if (ctx.backend.traits.shared && !policy.allowDestructive)
    ctx.skip(
      'destructive',
      what,
      'run with --allow-destructive (on a machine you can reboot: a QEMU guest, a lab box)',
    );
}

/** The VF a destructive scenario spends: the last on vfio-pci other than the target, else the target. */
export function spareVf(target: Target): VfInfo {
  return [...target.vfioVfs].reverse().find((v) => v.bdf !== target.vf.bdf) ?? target.vf;
}

/**
 * The BAR the export scenarios use: the VF's LMEM BAR 2 on an xe VF
 * (docs/kernel.md §9), else the first memory BAR of at least a page (an igb or
 * nvme VF in QEMU: docs/bringup.md "In the QEMU guest"), so export checks run on any VF.
 */
export function exportBar(vf: VfInfo): Bar | null {
  const lmem = lmemBar(vf);
  if (lmem) return lmem;
  return vf.bars.find((b) => b.size >= PAGE && (b.kind === 'mem64' || b.kind === 'mem32')) ?? null;
}

export function requireExportBar(ctx: ScenarioContext, vf: VfInfo): Bar {
  const bar = exportBar(vf);
  if (!bar)
    ctx.skip(
      'target',
      `VF ${vf.bdf} has no memory BAR of at least a page to export`,
      'use a VF with a memory BAR (an xe VF exports BAR 2)',
    );
  return bar;
}

/** Open a VF through VFIO, closed by the cleanup stack. A VF another process holds is a skip, not a failure. */
export function openVf(ctx: ScenarioContext, bdf: string): VfioDevice {
  let device: VfioDevice;
  try {
    device = openVfioDevice(ctx.backend, bdf);
  } catch (e) {
    if (e instanceof VfioSetupError)
      ctx.skip(
        'target',
        `cannot open ${bdf} through VFIO: ${e.message}`,
        'free the VF (no VMM may hold it) and bind it to vfio-pci',
      );
    throw e;
  }
  ctx.defer(`close VFIO device ${bdf}`, () => device.close());
  return device;
}

/** A dma-buf of `ranges` of `region`, closed by the cleanup stack. */
/** The VF each dma-buf a scenario exported came from (imports.ts names the quirks of its placement). */
const exporters = new WeakMap<DmaBuf, string>();

export function exportDmaBuf(ctx: ScenarioContext, device: VfioDevice, options: ExportDmaBufOptions): DmaBuf {
  const buf = device.exportDmaBuf(options);
  exporters.set(buf, device.bdf);
  ctx.defer(`close dma-buf fd ${buf.fd}`, () => buf.close());
  return buf;
}

/** The device a dma-buf was exported from through exportDmaBuf, or null. */
export function exporterOf(buf: DmaBuf): string | null {
  return exporters.get(buf) ?? null;
}

export function rangesJson(ranges: readonly DmaRange[]): Json {
  return ranges.map((r) => ({ offset: hex(BigInt(r.offset)), length: hex(BigInt(r.length)) }));
}

export function totalLength(ranges: readonly DmaRange[]): bigint {
  return ranges.reduce((s, r) => s + BigInt(r.length), 0n);
}

/**
 * Run `fn`; a SystemError becomes its errno name, success is null. The
 * failure is an expected answer here (expectingErrno: no stack traces, the
 * addon's errno-returning entry points), so sweeps of refused requests cost
 * about what the refused system calls cost.
 */
export function errnoOf(fn: () => unknown): { code: string | null; value: unknown } {
  try {
    return { code: null, value: expectingErrno(fn) };
  } catch (e) {
    if (e instanceof SystemError) return { code: e.code, value: null };
    throw e;
  }
}

export async function errnoOfAsync(fn: () => Promise<unknown>): Promise<{ code: string | null; value: unknown }> {
  try {
    return { code: null, value: await fn() };
  } catch (e) {
    if (e instanceof SystemError) return { code: e.code, value: null };
    throw e;
  }
}

/**
 * A kprobe session for the scenario's window, armed with this kernel's
 * revision row plus the scatter-gather probes, torn down by the cleanup
 * stack. Null when tracefs or the symbols are missing: callers that need the
 * path must skip (without trace, iov and p2p look the same, docs/internals.md "Principles").
 */
export function startTrace(ctx: ScenarioContext): TraceSession | null {
  const root = ctx.caps.tracefsRoot;
  if (!root || !ctx.caps.caps.tracefs.ok) return null;
  // Named after the scenario's process (ctx.pid: a mock process is not this node process), so the runner can remove what it leaves.
  const session = TraceSession.create(ctx.backend.fs, root, String(ctx.pid));
  ctx.defer('remove kprobes and the trace instance', () => session.close());
  // The P2P route (pci_p2pdma_map_type's answer) rides along: evidence, never needed for the path itself.
  const points = [...(ctx.caps.symbols.revision?.probes ?? []), ...ctx.caps.symbols.sgProbes, P2P_ROUTE_PROBE];
  session.arm(points, ctx.caps.symbols.symbols);
  return session;
}

export function armedKeys(trace: TraceSession | null): Set<ProbeKey> {
  return new Set(trace?.armedProbes.map((a) => a.point.key) ?? []);
}

/** Probes a path verdict needs armed (path.ts): both scatter-gather ones, and with the series the lookup's return and one negotiation probe. */
export function pathBlindSpots(ctx: ScenarioContext, trace: TraceSession | null): string[] {
  const armed = armedKeys(trace);
  const blind: string[] = ctx.caps.symbols.sgProbes.filter((p) => !armed.has(p.key)).map((p) => p.symbol);
  const revision = ctx.caps.symbols.revision;
  if (revision) {
    const negotiation: ProbeKey[] = ['match', 'exporterMatch', 'mapInterconnect', 'exporterMapInterconnect'];
    if (!negotiation.some((k) => armed.has(k)))
      blind.push(...revision.probes.filter((p) => negotiation.includes(p.key)).map((p) => p.symbol));
    if (!armed.has('translateRet'))
      blind.push(...revision.probes.filter((p) => p.key === 'translateRet').map((p) => `${p.symbol} (return)`));
  }
  return blind;
}

/**
 * startTrace for a scenario whose verdict is the path: a kernel that takes
 * none of the probes the verdict needs (lockdown, a probe the kernel refuses)
 * is a skip that says which could not be armed and why, never a failure
 * (docs/internals.md "Principles": a missing capability is a skip, a wrong answer a failure).
 */
export function requirePathTrace(ctx: ScenarioContext): TraceSession {
  requireCaps(ctx, 'tracefs', 'kprobes', 'sgProbes');
  const trace = startTrace(ctx);
  if (!trace) return ctx.skip('tracefs', ctx.caps.caps.tracefs.detail, ctx.caps.caps.tracefs.enable ?? 'mount tracefs');
  const blind = pathBlindSpots(ctx, trace);
  if (blind.length > 0) {
    const none = trace.armedProbes.length === 0;
    const why = trace.unavailable.map((u) => u.why).join('; ');
    ctx.skip(
      'kprobes',
      `${none ? 'no probe could be armed' : `the probes on ${blind.join(', ')} could not be armed`}, so the path cannot be told${why ? `: ${why}` : ''}`,
      'the kernel must take kprobes on these functions (not inlined, no lockdown=confidentiality); run as root; see caps/kernel',
    );
  }
  return trace;
}

/** Pages of `length` bytes, as a count. */
export function pages(length: bigint): number {
  return Number(length / PAGE);
}

/**
 * Skip: the machine lacks a shape the scenario needs (a VF on another bus, a
 * second GPU, LMEM in several VRAM blocks). Every scenario runs on the
 * machine it is given; `topology` names the mock topology shipped in
 * topologies/ that has the shape, for `iovh run --topology`.
 */
export function skipForShape(ctx: ScenarioContext, why: string, hardware: string, topology: string): never {
  return ctx.skip(
    SHAPE_CAPABILITY,
    why,
    `${hardware}; on the mock: iovh run --topology topologies/${topology}.json (shipped with iovh)`,
  );
}

/**
 * A kmemleak command of a scenario's own measurement failed: skip when
 * kmemleak is off (monitors.ts kmemleakFailure: booted without it, or it
 * turned itself off after an error), else the error goes on.
 */
export function skipIfKmemleakOff(ctx: ScenarioContext, e: unknown): never {
  const failure = kmemleakFailure(e);
  if (failure.disabled)
    ctx.skip(
      'kmemleak',
      failure.why,
      'boot with kmemleak=on (CONFIG_DEBUG_KMEMLEAK=y); a kmemleak that turned itself off comes back only with a reboot',
    );
  throw e;
}

/**
 * Start a scenario's own kmemleak window without scans (KmemleakMonitor.begin
 * scans 0): for a scenario in a process of its own, whose objects only it
 * allocated; skips when kmemleak is off.
 */
export function beginOwnKmemleak(ctx: ScenarioContext): KmemleakMonitor {
  const kmemleak = KmemleakMonitor.open(ctx.backend.fs);
  try {
    kmemleak.begin({ scans: 0 });
  } catch (e) {
    skipIfKmemleakOff(ctx, e);
  }
  return kmemleak;
}

/**
 * End that window with `scan` (kmemleak.end() or endAged()) and attribute
 * what it reports to this scenario's process and its threads.
 */
export async function endOwnKmemleak(
  ctx: ScenarioContext,
  scan: () => string[][] | Promise<string[][]>,
): Promise<KmemleakAttribution> {
  let report: string[][];
  try {
    report = await scan();
  } catch (e) {
    // Without scans at the start, a kmemleak turned off is first seen here (`clear` succeeds on it: kmemleak_write).
    skipIfKmemleakOff(ctx, e);
  }
  return attributeKmemleak(report, new Set([ctx.pid, ...ownTasks(ctx.backend.fs).tids]));
}
