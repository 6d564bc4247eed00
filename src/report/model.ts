// The run result: what `iovh run` found, in one JSON-safe object that every
// report format (human, JSON, JUnit, KTAP, KCIDB, LAVA) is rendered from.
// docs/report-schema.md documents it field by field; bump RUN_SCHEMA when a
// field changes meaning or disappears (adding one is compatible).
//
// Statuses and paths are those of docs/internals.md "Principles".

export const RUN_SCHEMA = 'iovh-run/1';

/** JSON values only: u64 kernel numbers are rendered as hex strings (`0x...`). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const STATUSES = ['pass', 'fail', 'skip', 'warn', 'crash', 'timeout'] as const;
export type Status = (typeof STATUSES)[number];

/** A status that means "something is wrong" (exit 1 when one is unexpected: src/report/exit.ts). */
export function isBad(status: Status): boolean {
  return status === 'fail' || status === 'warn' || status === 'crash' || status === 'timeout';
}

export function isStatus(s: unknown): s is Status {
  return typeof s === 'string' && (STATUSES as readonly string[]).includes(s);
}

/**
 * The path an import took (docs/internals.md "Principles"): `iov` negotiated and translated, `p2p`
 * the ordinary scatter-gather map, `untranslated` negotiated but never
 * translated (RFC quirk 2), `refused` an errno at import or bind,
 * `unknown` no evidence either way.
 */
export const PATHS = ['iov', 'p2p', 'untranslated', 'refused', 'unknown'] as const;
export type PathClass = (typeof PATHS)[number];

/**
 * A scenario's status against the baseline: `expected` (same status, same
 * quirks), `regression` (worse, or failing for another reason), `fixed`
 * (passes where the baseline expects a failure), `changed` (skipped where
 * the baseline expects a result, or runs where it expects a skip), `unlisted`
 * (the baseline has no entry for this scenario).
 */
export const VERDICTS = ['expected', 'regression', 'fixed', 'changed', 'unlisted'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** A kernel defect a scenario revealed, named after the quirk list of docs/profiles.md. */
export interface QuirkFinding {
  /** Stable id (src/harness/quirks.ts), e.g. `last-page`. */
  id: string;
  /** The RFC quirk number (docs/profiles.md), or null for the findings without one. */
  number: number | null;
  title: string;
  /** What was observed that shows it, in one or two sentences. */
  evidence: string;
}

/** The path with the P2P route the kernel chose when one was seen (evidence.p2pRoute): `p2p (bus address)`. */
export function pathText(r: Pick<ScenarioResult, 'path' | 'evidence'>): string {
  const route = r.evidence.p2pRoute;
  return `${r.path ?? ''}${typeof route === 'string' && r.path !== null ? ` (${route})` : ''}`;
}

/** One line for a bug finding, the same in every text format: id, title, kernels, fix, evidence. */
export function bugLine(b: BugFinding): string {
  return `bug ${b.id} (${b.title}; affected: ${b.affected}; fixed: ${b.fixed ?? 'no fix merged'}): ${b.evidence}`;
}

/** A known bug of the merged path a scenario found (src/harness/bugs.ts, docs/bugs.md). */
export interface BugFinding {
  /** Stable id (src/harness/bugs.ts), e.g. `opath-stale-file`. */
  id: string;
  title: string;
  /** The kernels that have it. */
  affected: string;
  /** What fixes it; null while no fix is merged. */
  fixed: string | null;
  /** What was observed that shows it. */
  evidence: string;
}

export interface SkipInfo {
  /** The missing capability, e.g. `interconnect-symbols`. */
  capability: string;
  /** How to get it: a command, a kernel option, a device. */
  enable: string;
}

export interface Cleanliness {
  /** Kernel log lines during the scenario that match WARN/BUG/Oops/KASAN/hung task. */
  kernelComplaints: string[];
  taint: { before: number | null; after: number | null; added: string[] };
  /**
   * kmemleak objects reported for this scenario's window (null: not
   * measured): `newObjects` allocated on the import path by the scenario's
   * process, `elsewhere` the others (another task's, or outside the path),
   * which never count against it.
   */
  kmemleak: { measured: boolean; newObjects: number | null; excerpt: string[]; elsewhere?: number };
  /** Our kernel-object fds (vfio, DRM, dma-buf, memfd) left open after cleanup. */
  fdsLeft: string[];
  /** dma-buf objects in bufinfo after cleanup that were not there before. */
  dmabufsLeft: string[];
  /** What the monitors could not measure, and why. */
  unavailable: string[];
}

export interface BaselineEntryResult {
  expected: Status;
  /** Quirk ids the baseline expects this scenario to name (empty: any). */
  quirks: string[];
  /** Bug ids the baseline expects this scenario to name (empty: any, when `quirks` is empty too). */
  bugs: string[];
  verdict: Verdict;
  /** One line explaining a non-`expected` verdict. */
  note: string | null;
}

export interface ScenarioError {
  /** `kernel`: an errno nobody expected; `harness`: a bug in iovh itself. */
  kind: 'kernel' | 'harness';
  message: string;
  code: string | null;
  stack: string | null;
}

export interface ScenarioResult {
  id: string;
  title: string;
  status: Status;
  /** Import path classification; null where the scenario imports nothing. */
  path: PathClass | null;
  /** The path a correct kernel takes here; null where any is acceptable. */
  expectedPath: PathClass | null;
  /** One line: why this status. */
  reason: string;
  skip: SkipInfo | null;
  quirks: QuirkFinding[];
  /** Known bugs of the merged path found (src/harness/bugs.ts). */
  bugs: BugFinding[];
  evidence: JsonObject;
  cleanliness: Cleanliness;
  startedAt: string;
  durationMs: number;
  timeoutMs: number;
  baseline: BaselineEntryResult | null;
  /** Kernel log lines (/dev/kmsg) printed during the scenario, capped. */
  log: string[];
  error: ScenarioError | null;
  /** Cleanups run after the scenario, and those that failed. */
  cleanup: { ran: number; failed: string[] };
}

export interface RunSummary {
  total: number;
  byStatus: Record<Status, number>;
  byVerdict: Record<Verdict, number>;
  /** Scenario ids whose bad status the baseline does not expect. */
  unexpected: string[];
  /**
   * Scenario ids the baseline expects to pass that skipped: what the baseline
   * vouches for was not checked (a capability went missing, tracefs
   * disappeared). Unexpected (exit 1) unless `skipsAllowed` (--allow-skips).
   */
  skippedPasses: string[];
  skipsAllowed: boolean;
  exitCode: number;
  /** One line explaining the exit code. */
  exitReason: string;
}

/** A resumption of an interrupted run (`iovh run --resume`). */
export interface ResumeRecord {
  startedAt: string;
  /** boot_id of the resuming run (null: unreadable). */
  bootId: string | null;
  /** The scenarios it ran, in order. */
  scenarios: string[];
  /** The scenario the machine went down in (another boot id), recorded as a crash and not run again. */
  wentDown: string[];
}

export interface RunResult {
  schema: typeof RUN_SCHEMA;
  tool: { name: 'iovh'; version: string; node: string };
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  kernel: {
    release: string | null;
    version: string | null;
    cmdline: string | null;
    /** The kernel's shape (src/shape): the symbol-table row it matched, or `unknown`; null before the probe ran. */
    shape: { name: string; summary: string } | null;
    /**
     * /proc/sys/kernel/random/boot_id when the run started (null: unreadable).
     * `iovh run --resume` compares it to tell a machine that went down from
     * an iovh that died. Absent in reports written before it existed.
     */
    bootId?: string | null;
  };
  backend: { name: string; reason: string; profile: string | null };
  options: { filters: string[]; timeoutSec: number; pf: string | null; vf: string | null };
  capabilities: JsonObject;
  topology: JsonObject;
  /** Setup the harness did itself (only on a throwaway mock kernel), one line per step. */
  setup: string[];
  baseline: { path: string; name: string; profile: string | null } | null;
  scenarios: ScenarioResult[];
  summary: RunSummary;
  /** Set when SIGINT/SIGTERM stopped the run: what was collected is still here. */
  interrupted: { signal: string } | null;
  /**
   * False in the reports rewritten after each scenario while the run goes on:
   * a run that dies (an oops, the OOM killer, a power cut) leaves them as they
   * were, so a false here means the run never finished. `pending` lists the
   * scenarios without a result yet, in run order.
   */
  complete: boolean;
  pending: string[];
  /**
   * The scenario that was running when this report was written (reports are
   * also rewritten as each scenario starts); null between scenarios and in
   * the final report. A run that dies leaves here the scenario it died in.
   */
  running?: string | null;
  /** One entry per `iovh run --resume` that added results to this run. */
  resumed?: ResumeRecord[];
  /** Kernel log lines of the whole run that match WARN/BUG/Oops/KASAN/hung task, capped. */
  kernelLog: string[];
}

export function emptyCleanliness(): Cleanliness {
  return {
    kernelComplaints: [],
    taint: { before: null, after: null, added: [] },
    kmemleak: { measured: false, newObjects: null, excerpt: [] },
    fdsLeft: [],
    dmabufsLeft: [],
    unavailable: [],
  };
}

/** u64 kernel values in JSON: `0x` hex, the way kernel engineers read them. */
export function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}
