// What a scenario is and what it may ask of the runner. A scenario is an
// async function over a ScenarioContext: it records evidence, registers a
// cleanup for everything it opens (the cleanup stack runs after it, also on
// timeout and Ctrl-C), and ends in one of three ways: it returns (pass, unless
// it recorded a failed check or a quirk), it throws SkipScenario (skip, with
// the missing capability and how to enable it), or it throws anything else
// (fail: an errno nobody expected, or a harness bug). The runner adds the
// kernel monitors' verdict (warn, crash) on top.

import type { Backend } from '../backend/types.js';
import type { BugFinding, Json, JsonObject, PathClass, QuirkFinding } from '../report/model.js';
import type { QuirkName } from './quirks.js';
import type { BugName } from './bugs.js';
import type { Capabilities } from './caps.js';
import type { Target } from '../machine/target.js';
import type { Timing } from './timing.js';
import type { KmsgRecord } from './monitors.js';

export interface Scenario {
  /** Stable id, `group/name`: baselines and CI history key on it. */
  readonly id: string;
  /** A few words for tables. */
  readonly title: string;
  /** One paragraph a user reads in `iovh run --list --verbose`. */
  readonly description: string;
  /** The path a correct kernel takes here (null: the scenario imports nothing, or any path will do). */
  readonly expectedPath: PathClass | null;
  /** Measure kmemleak around this scenario (a scan is slow on a real kernel, so only where it is the point). */
  readonly kmemleak?: boolean;
  /**
   * Run in a new scenario process, never one an earlier scenario used, and
   * retire it after: for a scenario that attributes kernel objects to its
   * own pid (kmemleak's "comm, pid"), which must then hold nothing of anyone else's.
   */
  readonly ownProcess?: boolean;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Thrown (through ctx.skip) when a capability the scenario needs is missing. */
export class SkipScenario extends Error {
  constructor(
    readonly capability: string,
    readonly why: string,
    readonly enable: string,
  ) {
    super(why);
    this.name = 'SkipScenario';
  }
}

/** Thrown (through ctx.abortIfStopped) once the runner gave up on a scenario (timeout, interrupt). */
export class ScenarioStopped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ScenarioStopped';
  }
}

export interface ScenarioContext {
  readonly backend: Backend;
  readonly caps: Capabilities;
  /** The PF/VF under test, when there is one (null on a machine without them). */
  readonly target: Target | null;
  readonly timing: Timing;
  /**
   * The pid of the process the scenario runs in (a child of the runner:
   * executor.ts): its kprobe groups and trace instances are named after it,
   * and trace hits of other pids are not its own.
   */
  readonly pid: number;
  /** Aborted when the runner stops waiting for this scenario (timeout or interrupt). */
  readonly signal: AbortSignal;
  /** Throws ScenarioStopped once `signal` is aborted; loops call it between steps. */
  abortIfStopped(): void;

  /** Register a cleanup; cleanups run in reverse order after the scenario, whatever happened. */
  defer(label: string, fn: () => void | Promise<void>): void;

  /** Evidence for the JSON report (u64 values as hex strings: src/report/model.ts hex()). */
  record(key: string, value: Json): void;
  /** Append to an evidence list. */
  append(key: string, value: Json): void;
  readonly evidence: JsonObject;

  /** A check: false records a failure with `message` (the scenario goes on; the first failure is the reason). */
  check(ok: boolean, message: string): boolean;
  /** Record a failure. */
  fail(message: string): void;
  /** The kernel showed a known defect: a failure that names the quirk. */
  quirk(id: QuirkName, evidence: string): void;
  /** The kernel showed a known bug of the merged path (bugs.ts): a failure that names it. */
  bug(id: BugName, evidence: string): void;
  /**
   * A known defect the next steps may hit as a kernel crash: if the kernel
   * kills this scenario's process from here on, the runner names it with the
   * oops (a dead process cannot name anything; quirks.ts quirksOfOops names
   * only what the oops site tells).
   */
  suspect(id: QuirkName | BugName, evidence: string): void;
  /**
   * The step a suspect was declared for is behind us and did not crash: a
   * crash from here on is not that defect (the runner no longer names it).
   */
  cleared(id: QuirkName | BugName): void;
  /** One line for a passing result (what was proven). */
  note(message: string): void;
  /** Skip: `capability` missing, `why` in one line, `enable` says how to get it. Never returns. */
  skip(capability: string, why: string, enable: string): never;

  /** The path the kernel took; with several imports the scenario's path is the worst (the expected path is the best). */
  setPath(path: PathClass): void;

  /** Kernel log records printed since the scenario started (empty when /dev/kmsg is unreadable). */
  kmsgSinceStart(): KmsgRecord[];
  /** Let `ms` of the kernel's time pass (a timer natively, the mock's clock jumps: timing.ts kernelSleep); ends early when the scenario is stopped. */
  sleep(ms: number): Promise<void>;

  readonly failures: readonly string[];
  readonly quirks: readonly QuirkFinding[];
  readonly bugs: readonly BugFinding[];
}
