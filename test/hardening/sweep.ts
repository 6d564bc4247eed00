// The fault sweep (issue 7, item 3): run a catalog scenario on the mock with
// the n-th kernel operation failing with an errno the kernel can return
// there, and judge what the harness did with it:
//
//   - the run must end (no exception out of runScenarios, no unhandled
//     rejection) with a clean status for the scenario: fail or skip (pass and
//     warn too: a fault the harness can route around, e.g. an unreadable
//     monitor file, is not a failure of the machine), never a harness error
//     (a TypeError or similar escaping scenario code), never a timeout;
//   - afterwards the mock's live kernel objects (fds, open files, dma-bufs,
//     attachments, sg and interconnect maps, vfio opens, mappings, BOs,
//     imports, VMs, queues, syncobjs, DRM files, LMEM objects, memfds,
//     udmabufs, pending waits), its sysfs, and its kprobe definitions and
//     trace instances are where they were before the scenario; the only
//     allowance is state the harness reported it could not restore (a failed
//     cleanup), since the fault may have hit the cleanup itself.
//
// Each scenario runs after caps/kernel in a runScenarios() call of its own,
// exactly as `iovh run` runs it, and the fault is armed when the runner
// starts the scenario (ProgressSink.start), so the operations counted are the
// scenario's whole reach: monitors, body, cleanups. Scenarios that need
// another machine shape run on the topology shipped for it
// (test/harness/declared.ts topologyFor), as a user runs them.
import type { DeviceOps, FileOps } from '../../src/backend/types.js';
import type { ErrnoName } from '../../src/uapi/errors.js';
import { createMockBackend, type LiveCounts, type MockBackend, type OpKind } from '../../src/mock/backend.js';
import type { ProfileName } from '../../src/mock/contracts.js';
import { CATALOG } from '../../src/harness/catalog/index.js';
import { declaredFor } from '../harness/declared.js';
import { runScenarios } from '../../src/harness/runner.js';
import type { Scenario } from '../../src/harness/scenario.js';
import { CAPS_ID } from '../../src/harness/summary.js';
import { SIMULATED_KERNEL_TIMING } from '../../src/harness/timing.js';
import type { ScenarioResult } from '../../src/report/model.js';

/**
 * Errnos the kernel returns from each operation, from docs/kernel.md §1-§10 and
 * the man pages of the syscalls (open(2), mmap(2), fcntl(2), ...). The first
 * of each list is the most common answer there.
 */
const VFIO_IOCTL: ErrnoName[] = ['EINVAL', 'ENODEV', 'EFAULT', 'ENOMEM'];
export const ERRNOS: Record<OpKind, ErrnoName[]> = {
  open: ['ENOENT', 'EACCES', 'EBUSY', 'EMFILE', 'ENODEV'],
  close: ['EIO', 'EBADF'],
  vfioGetApiVersion: ['EINVAL', 'ENOTTY'],
  vfioCheckExtension: ['EINVAL', 'ENOTTY'],
  vfioSetIommu: ['EINVAL', 'EBUSY', 'ENODEV', 'EPERM'],
  vfioGroupGetStatus: ['EINVAL', 'EFAULT', 'ENODEV'],
  vfioGroupSetContainer: ['EINVAL', 'EBUSY', 'EPERM', 'ENODEV'],
  vfioGroupUnsetContainer: ['EINVAL', 'EBUSY'],
  vfioGroupGetDeviceFd: ['EINVAL', 'ENODEV', 'EBUSY', 'EPERM', 'EMFILE'],
  vfioDeviceGetInfo: VFIO_IOCTL,
  vfioDeviceGetRegionInfo: VFIO_IOCTL,
  vfioRegionRead: ['EIO', 'EINVAL', 'EFAULT'],
  vfioRegionWrite: ['EIO', 'EINVAL', 'EFAULT'],
  vfioDeviceReset: ['EINVAL', 'EBUSY', 'EIO', 'ENODEV'],
  vfioDeviceFeature: ['EINVAL', 'ENOTTY', 'EOPNOTSUPP', 'EIO'],
  // docs/kernel.md §3.3, every errno of the DMA_BUF feature's validation and export.
  vfioDmaBufGet: ['EINVAL', 'ENODEV', 'EOPNOTSUPP', 'EFAULT', 'EOVERFLOW', 'ENOMEM', 'EMFILE', 'ENOTTY'],
  vfioDeviceBindIommufd: ['EINVAL', 'EBUSY', 'ENODEV'],
  iommuIoasAlloc: ['EINVAL', 'ENOMEM'],
  iommuDestroy: ['ENOENT', 'EBUSY'],
  iommuIoasIovaRanges: ['ENOENT', 'EFAULT'],
  iommuIoasMapFile: ['ENODEV', 'EOPNOTSUPP', 'EINVAL', 'EBADF', 'ENOSPC'],
  iommuIoasUnmap: ['ENOENT', 'EINVAL'],
  vfioDeviceAttachIommufdPt: ['EINVAL', 'EBUSY'],
  vfioDeviceDetachIommufdPt: ['EINVAL'],
  mmap: ['EINVAL', 'ENOMEM', 'ENODEV', 'EAGAIN'],
  drmVersion: ['EINVAL', 'EFAULT', 'ENODEV'],
  drmGetCap: ['EINVAL', 'ENODEV'],
  // drm_gem_prime_fd_to_handle, xe_gem_prime_import: a bad fd, a refused attach (docs/kernel.md §3.4), no memory.
  drmPrimeFdToHandle: ['EBADF', 'EINVAL', 'EOPNOTSUPP', 'ENODEV', 'ENOMEM'],
  drmPrimeHandleToFd: ['EINVAL', 'ENOENT', 'EMFILE', 'ENOMEM'],
  drmGemClose: ['EINVAL', 'ENOENT'],
  drmSyncobjCreate: ['EINVAL', 'ENOMEM'],
  drmSyncobjDestroy: ['EINVAL', 'ENOENT'],
  drmSyncobjWait: ['ETIME', 'EINVAL', 'ENOENT', 'EFAULT'],
  xeDeviceQuerySize: ['EINVAL', 'ENODEV'],
  xeDeviceQuery: ['EINVAL', 'EFAULT', 'ENODEV'],
  xeGemCreate: ['EINVAL', 'ENOMEM', 'ENOSPC', 'ENODEV'],
  xeGemMmapOffset: ['EINVAL', 'ENOENT'],
  xeVmCreate: ['EINVAL', 'ENOMEM', 'ENODEV'],
  xeVmDestroy: ['EINVAL', 'ENOENT'],
  // xe_vm_bind: validation, a revoked import's map (ENODEV, docs/kernel.md §3.5), P2P not supported (EINVAL, §3.4), memory.
  xeVmBind: ['EINVAL', 'ENODEV', 'ENOMEM', 'ENOSPC', 'EFAULT'],
  xeExecQueueCreate: ['EINVAL', 'ENOMEM', 'ENODEV'],
  xeExecQueueDestroy: ['EINVAL', 'ENOENT'],
  xeExec: ['EINVAL', 'ECANCELED', 'ENOMEM', 'ENODEV', 'EIO'],
  xeWaitUserFence: ['ETIME', 'EINVAL', 'ECANCELED', 'EFAULT'],
  dmaBufSetName: ['EINVAL', 'EBUSY', 'EFAULT'],
  dmaBufSync: ['EINVAL', 'EFAULT'],
  memfdCreate: ['EMFILE', 'ENOMEM', 'EINVAL'],
  ftruncate: ['EPERM', 'EINVAL', 'EFBIG'],
  addSeals: ['EPERM', 'EBUSY', 'EINVAL'],
  udmabufCreate: ['EINVAL', 'ENOMEM', 'EBADF', 'EMFILE'],
  // kernel/iovh-ic-importer/main.c: bad arguments, no such device or handle, a refused attach, no memory.
  icVersion: ['EFAULT', 'ENOTTY'],
  icImport: ['EINVAL', 'ENODEV', 'EBADF', 'EOPNOTSUPP', 'ENOMEM'],
  icMap: ['ENOENT', 'ENODEV', 'EINVAL', 'ENOMEM'],
  icInfo: ['ENOENT', 'EFAULT'],
  icRead: ['ENOENT', 'EOPNOTSUPP', 'EINVAL', 'EFAULT'],
  icWrite: ['ENOENT', 'EOPNOTSUPP', 'EINVAL', 'EFAULT'],
  icRelease: ['ENOENT', 'EINVAL'],
  // FileOps: what sysfs, procfs, debugfs, tracefs and /dev/kmsg answer.
  readFile: ['ENOENT', 'EACCES', 'EIO', 'EPERM'],
  readText: ['ENOENT', 'EACCES', 'EIO', 'EPERM'],
  writeFile: ['EINVAL', 'EBUSY', 'EACCES', 'ENOENT', 'EIO', 'ENOSPC', 'EPERM'],
  readdir: ['ENOENT', 'EACCES', 'ENOTDIR'],
  readlink: ['ENOENT', 'EINVAL', 'EACCES'],
  stat: ['ENOENT', 'EACCES'],
  lstat: ['ENOENT', 'EACCES'],
  // An injected fault makes exists() answer false (access(2) failing), whatever the errno.
  exists: ['ENOENT'],
  mkdir: ['EEXIST', 'EACCES', 'ENOENT', 'ENOMEM'],
  rmdir: ['EBUSY', 'ENOTEMPTY', 'ENOENT'],
  readRecords: ['EACCES', 'EPERM', 'EINVAL'],
};

export const OP_KINDS = Object.keys(ERRNOS) as OpKind[];

export interface Fault {
  kind: OpKind;
  /** 1 = the scenario's first operation of this kind. */
  nth: number;
  errno: ErrnoName;
}

/** Kernel state the sweep compares before and after a scenario. */
interface State {
  live: LiveCounts;
  sysfs: Map<string, string>;
  kprobes: string;
  instances: string;
}

export interface Finding {
  scenario: string;
  fault: Fault | null;
  what: 'uncaught' | 'harness-error' | 'timeout' | 'leak';
  detail: string;
}

export interface RunOutcome {
  result: ScenarioResult | null;
  /** Operations of each kind the scenario reached (on the machine it ran on). */
  ops: Map<OpKind, number>;
  fired: boolean;
  findings: Finding[];
  /** A residue the harness reported (a failed cleanup): allowed, counted. */
  reported: string | null;
  /** Live kernel objects the run left (after - before). */
  residue: Partial<Record<keyof LiveCounts, number>>;
  /** With `record`: every operation the scenario made, in order, with the harness call path that made it. */
  trace: TracedOp[];
}

export interface TracedOp {
  kind: OpKind;
  /** The n-th operation of this kind in the scenario (what a Fault's nth counts). */
  nth: number;
  /** The harness frames (src/harness/, file:line) of the call, innermost first. */
  path: string;
}

/** src/harness/ frames of the current stack: where in the harness a kernel operation comes from. */
function harnessPath(): string {
  // The harness frames sit under the mock's, the wrappers' and this proxy's: keep enough of the stack to reach them.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(1);
  const out: string[] = [];
  for (const f of frames) {
    const m = /\/src\/(harness\/[^):]+):(\d+)/.exec(f);
    if (m) out.push(`${m[1]}:${m[2]}`);
    if (out.length === 8) break;
  }
  return out.join(' < ');
}

/**
 * Wrap a backend's dev and fs (replaced in place: the runner, the monitors
 * and the wrappers all reach the kernel through them) so that, while
 * `on()` holds, each call is recorded with its harness call path.
 */
function traceBackend(b: MockBackend, on: () => boolean, trace: TracedOp[], nth = new Map<OpKind, number>()): void {
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, key) {
        const f = (t as Record<string | symbol, unknown>)[key];
        if (typeof f !== 'function' || typeof key !== 'string') return f;
        return (...args: unknown[]) => {
          if (on()) {
            const kind = key as OpKind;
            const n = (nth.get(kind) ?? 0) + 1;
            nth.set(kind, n);
            trace.push({ kind, nth: n, path: harnessPath() });
          }
          return (f as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  Object.defineProperty(b, 'dev', { value: wrap(b.dev), configurable: true, writable: true });
  Object.defineProperty(b, 'fs', { value: wrap(b.fs), configurable: true, writable: true });
  // Each scenario runs in a process of its own (src/harness/executor.ts): trace those too, numbered with this
  // kernel's (faults count over every process).
  const spawn = b.spawnProcess.bind(b);
  Object.defineProperty(b, 'spawnProcess', {
    value: (comm?: string): MockBackend => {
      const child = spawn(comm);
      traceBackend(child, on, trace, nth);
      return child;
    },
    configurable: true,
    writable: true,
  });
}

const TRACEFS = '/sys/kernel/tracing';

function captureState(b: MockBackend): State {
  const fs = b.fs;
  return {
    live: b.kernel.live(),
    sysfs: b.kernel.snapshotSysfs(),
    kprobes: fs.readText(`${TRACEFS}/kprobe_events`),
    instances: fs.readdir(`${TRACEFS}/instances`).sort().join(' '),
  };
}

function liveDelta(a: LiveCounts, b: LiveCounts): Partial<Record<keyof LiveCounts, number>> {
  const out: Partial<Record<keyof LiveCounts, number>> = {};
  for (const k of Object.keys(a) as (keyof LiveCounts)[]) if (a[k] !== b[k]) out[k] = b[k] - a[k];
  return out;
}

/** What differs between two states, beyond `allowed` (the clean run's own live-object residue), or null. */
function stateDiff(before: State, after: State, allowed: Partial<Record<keyof LiveCounts, number>>): string | null {
  const out: string[] = [];
  const delta = liveDelta(before.live, after.live);
  for (const [k, d] of Object.entries(delta) as [keyof LiveCounts, number][]) {
    const ok = allowed[k] ?? 0;
    if (d !== ok && !(ok > 0 && d >= 0 && d <= ok)) out.push(`${k} ${d > 0 ? '+' : ''}${d}`);
  }
  const changed: string[] = [];
  // A VFIO device's cdev name (vfio-dev/vfio<N>) is the index vfio-pci got at probe (vfio_main.c
  // vfio_init_device, ida_alloc): VFs bound again in another order get other names, nothing iovh writes.
  const cdev = /\/vfio-dev(\/|$)/;
  for (const [path, v] of after.sysfs)
    if (!cdev.test(path) && before.sysfs.get(path) !== v) changed.push(before.sysfs.has(path) ? path : `+${path}`);
  for (const path of before.sysfs.keys()) if (!cdev.test(path) && !after.sysfs.has(path)) changed.push(`-${path}`);
  if (changed.length > 0)
    out.push(`sysfs: ${changed.slice(0, 4).join(', ')}${changed.length > 4 ? ` (+${changed.length - 4} more)` : ''}`);
  if (before.kprobes !== after.kprobes)
    out.push(`kprobe_events left: ${after.kprobes.trim().split('\n').slice(0, 2).join('; ')}`);
  if (before.instances !== after.instances) out.push(`trace instances: '${before.instances}' -> '${after.instances}'`);
  return out.length > 0 ? out.join('; ') : null;
}

/**
 * Did the harness tell the user the machine was left changed? A failed
 * cleanup says so; so does a scenario that restores state in its body and
 * fails naming what is not as it was, in its reason or in its `notRestored`
 * evidence (lifecycle/vf-disable-while-imported).
 * A fault in a restore can leave state behind; leaving it silently is a leak.
 */
function reportsResidue(r: ScenarioResult): boolean {
  if (r.cleanup.failed.length > 0 || r.evidence.notRestored !== undefined) return true;
  return r.status !== 'pass' && /not as (it was|they were)|could not be restored/.test(r.reason);
}

/**
 * The machine of a scenario's sweep: the mock with the catalog's shape
 * declared (on the shipped topology the scenario needs), rebuilt when a run
 * leaves it changed, or for another topology, so that every run starts from
 * the same kernel.
 */
export class SweepMachine {
  private current: { id: string; backend: MockBackend };
  private dirty = false;

  constructor(readonly profile: ProfileName) {
    this.current = this.make(CAPS_ID);
  }

  private make(id: string): { id: string; backend: MockBackend } {
    const topology = declaredFor(id);
    return {
      id: JSON.stringify(topology),
      backend: createMockBackend({ profile: this.profile, topology, reason: 'fault sweep' }),
    };
  }

  get backend(): MockBackend {
    return this.current.backend;
  }

  close(): void {
    this.current.backend.close();
  }

  /**
   * Run caps/kernel then `scenario`, with `fault` armed when the scenario
   * starts, and judge the outcome. `allowed` is the clean run's residue.
   */
  async run(
    scenario: Scenario,
    fault: Fault | null,
    allowed: Partial<Record<keyof LiveCounts, number>> = {},
    record = false,
  ): Promise<RunOutcome> {
    if (this.dirty || record || this.current.id !== JSON.stringify(declaredFor(scenario.id))) {
      // A traced run gets a machine of its own: its dev and fs stay wrapped.
      this.current.backend.close();
      this.current = this.make(scenario.id);
      this.dirty = record;
    }
    const main = this.backend;
    const trace: TracedOp[] = [];
    const recording = { on: false };
    if (record) traceBackend(main, () => recording.on, trace);
    const findings: Finding[] = [];
    const note = (what: Finding['what'], detail: string): void =>
      void findings.push({ scenario: scenario.id, fault, what, detail });
    // Assigned from the runner's callbacks.
    const seen: { before: State | null; pending: number } = { before: null, pending: 0 };
    let opsAt: Map<OpKind, number> | null = null;
    const counts = (b: MockBackend): Map<OpKind, number> => new Map(OP_KINDS.map((k) => [k, b.kernel.operations(k)]));
    let ops = new Map<OpKind, number>();
    const finishCounts = (b: MockBackend): void => {
      if (!opsAt) return;
      const now = counts(b);
      ops = new Map(
        OP_KINDS.map((k) => [k, now.get(k)! - opsAt!.get(k)!] as [OpKind, number]).filter(([, n]) => n > 0),
      );
      opsAt = null;
    };
    const arm = (b: MockBackend): void => {
      b.kernel.clearFaults();
      if (fault) b.kernel.injectFault({ nth: fault.nth, kind: fault.kind, errno: fault.errno });
      opsAt = counts(b);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    let result: ScenarioResult | null = null;
    try {
      const run = await runScenarios({
        backend: main,
        backendInfo: { name: 'mock', reason: main.reason, profile: this.profile },
        scenarios: scenario.id === CAPS_ID ? [scenario] : [CATALOG.find((s) => s.id === CAPS_ID)!, scenario],
        timeoutMs: 30_000,
        timing: SIMULATED_KERNEL_TIMING,
        want: { pf: null, vf: null },
        baseline: null,
        filters: [],
        setup: [],
        toolVersion: 'fault-sweep',
        progress: {
          start: (_i, _n, s) => {
            if (s.id !== scenario.id) return;
            seen.before = captureState(main);
            arm(main);
            recording.on = true;
          },
          done: (_i, _n, r) => {
            if (r.id !== scenario.id) return;
            recording.on = false;
            finishCounts(main);
            seen.pending = main.kernel.pendingFaults();
            main.kernel.clearFaults();
          },
        },
      });
      result = run.scenarios.find((r) => r.id === scenario.id) ?? null;
    } catch (e) {
      note('uncaught', `runScenarios threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    } finally {
      // Let stray promise rejections surface before judging.
      await new Promise((resolve) => setImmediate(resolve));
      process.off('unhandledRejection', onUnhandled);
      main.kernel.clearFaults();
    }
    for (const e of unhandled)
      note('uncaught', `unhandled rejection: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    if (result) {
      if (result.error?.kind === 'harness') note('harness-error', result.reason);
      if (result.status === 'timeout') note('timeout', result.reason);
    } else if (findings.length === 0) {
      note('uncaught', 'the scenario has no result');
    }
    let reported: string | null = null;
    let residue: Partial<Record<keyof LiveCounts, number>> = {};
    const before = seen.before;
    const after = captureState(main);
    if (before && after) {
      residue = liveDelta(before.live, after.live);
      // A clean run (no fault) measures the residue of the modelled kernel itself; only its other state must match.
      const diff = stateDiff(before, after, fault ? allowed : residue);
      if (diff) {
        this.dirty = true;
        if (fault && result && reportsResidue(result))
          reported = `${diff} (reported: ${result.cleanup.failed[0] ?? result.reason})`;
        else note('leak', diff);
      } else if (Object.keys(residue).length > 0) {
        this.dirty = true;
      }
    } else if (!before) {
      note('uncaught', 'the scenario never started');
    }
    return { result, ops, fired: fault !== null && seen.pending === 0, findings, reported, residue, trace };
  }
}

/**
 * The faults to inject for a scenario, from the operations its clean run
 * made. `full`: every n of every kind with every errno of that kind.
 * `sample`: one fault per harness call path (kind + src/harness/ frames) not
 * already covered by an earlier scenario, at its first operation, with the
 * next errno of the kind's list (`rotation` carries the turn across
 * scenarios). Every distinct place where the harness reaches the kernel fails
 * once; the runner's and the monitors' own operations, the same in every
 * scenario, are covered in the first.
 */
export function plan(
  trace: readonly TracedOp[],
  mode: 'full' | 'sample',
  covered: Set<string>,
  rotation: Map<OpKind, number>,
): Fault[] {
  const out: Fault[] = [];
  if (mode === 'full') {
    const count = new Map<OpKind, number>();
    for (const op of trace) count.set(op.kind, Math.max(count.get(op.kind) ?? 0, op.nth));
    for (const [kind, n] of count)
      for (let nth = 1; nth <= n; nth++) for (const errno of ERRNOS[kind]) out.push({ kind, nth, errno });
    return out;
  }
  for (const op of trace) {
    const key = `${op.kind} @ ${op.path}`;
    if (covered.has(key)) continue;
    covered.add(key);
    const turn = rotation.get(op.kind) ?? 0;
    rotation.set(op.kind, turn + 1);
    const errnos = ERRNOS[op.kind];
    out.push({ kind: op.kind, nth: op.nth, errno: errnos[turn % errnos.length]! });
  }
  return out;
}

export function describeFault(f: Fault | null): string {
  return f ? `${f.kind} #${f.nth} -> ${f.errno}` : 'no fault';
}

/** Keep DeviceOps/FileOps names and the errno table in step: a new kernel operation needs its errnos listed here. */
export function missingKinds(dev: DeviceOps, fs: FileOps): string[] {
  const have = new Set<string>(OP_KINDS);
  return [...Object.keys(dev), ...Object.keys(fs)].filter((k) => !have.has(k));
}
