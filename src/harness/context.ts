// The ScenarioContext the runner hands to each scenario: evidence, checks,
// quirk findings, the cleanup stack, and the stop signal. What the scenario
// records goes through one event log (record.ts), so that the runner, in
// another process, keeps a copy as it happens.

import { CLEARED, SUSPECTS } from './quirks.js';
import type { Backend } from '../backend/types.js';
import type { BugFinding, Json, JsonObject, PathClass, QuirkFinding } from '../report/model.js';
import type { QuirkName } from './quirks.js';
import type { BugName } from './bugs.js';
import { ScenarioStopped, SkipScenario, type ScenarioContext } from './scenario.js';
import type { Capabilities } from './caps.js';
import type { Target } from '../machine/target.js';
import { kernelSleep, type Timing } from './timing.js';
import type { KmsgMonitor, KmsgRecord } from './monitors.js';
import { defectEvent, named, ScenarioRecord, type RecordEvent } from './record.js';

/** How bad each path is, for scenarios with several imports: the worst one is the scenario's path (the expected one counts as best). */
const PATH_RANK: Record<PathClass, number> = { iov: 0, p2p: 1, refused: 2, unknown: 3, untranslated: 4 };

export interface Cleanup {
  label: string;
  fn: () => void | Promise<void>;
}

export class Context implements ScenarioContext {
  /** What the scenario recorded; every change is also passed to `sink` (the runner's copy, record.ts). */
  readonly recorded: ScenarioRecord = new ScenarioRecord();
  private readonly cleanups: Cleanup[] = [];
  private readonly controller = new AbortController();

  constructor(
    readonly backend: Backend,
    readonly caps: Capabilities,
    readonly target: Target | null,
    readonly timing: Timing,
    private readonly kmsg: KmsgMonitor,
    private readonly kmsgStart: number,
    /** The scenario's expected path: any other path outranks it when several imports are recorded. */
    private readonly expectedPath: PathClass | null = null,
    /** The process the scenario runs in (executor.ts); this one by default. */
    readonly pid: number = process.pid,
    private readonly sink: (e: RecordEvent) => void = () => undefined,
  ) {}

  private emit(e: RecordEvent): void {
    this.recorded.apply(e);
    this.sink(e);
  }

  get evidence(): JsonObject {
    return this.recorded.evidence;
  }

  get failures(): string[] {
    return this.recorded.failures;
  }

  get quirks(): QuirkFinding[] {
    return this.recorded.quirks;
  }

  get bugs(): BugFinding[] {
    return this.recorded.bugs;
  }

  get notes(): string[] {
    return this.recorded.notes;
  }

  get path(): PathClass | null {
    return this.recorded.path;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The runner stops waiting (timeout, interrupt). */
  stop(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new ScenarioStopped(reason));
  }

  abortIfStopped(): void {
    if (this.controller.signal.aborted)
      throw this.controller.signal.reason instanceof Error
        ? this.controller.signal.reason
        : new ScenarioStopped('stopped');
  }

  defer(label: string, fn: () => void | Promise<void>): void {
    this.cleanups.push({ label, fn });
  }

  /** Take the registered cleanups, newest first, leaving the stack empty (late registrations start a new stack). */
  takeCleanups(): Cleanup[] {
    return this.cleanups.splice(0, this.cleanups.length).reverse();
  }

  record(key: string, value: Json): void {
    this.emit({ t: 'record', key, value });
  }

  append(key: string, value: Json): void {
    this.emit({ t: 'append', key, value });
  }

  check(ok: boolean, message: string): boolean {
    if (!ok) this.emit({ t: 'fail', message });
    return ok;
  }

  fail(message: string): void {
    this.emit({ t: 'fail', message });
  }

  quirk(id: QuirkName, evidence: string): void {
    if (named(this.recorded, id)) return;
    this.emit(defectEvent(id, evidence));
  }

  bug(id: BugName, evidence: string): void {
    if (named(this.recorded, id)) return;
    this.emit(defectEvent(id, evidence));
  }

  suspect(id: QuirkName | BugName, evidence: string): void {
    this.emit({ t: 'append', key: SUSPECTS, value: { id, evidence } });
  }

  cleared(id: QuirkName | BugName): void {
    this.emit({ t: 'append', key: CLEARED, value: id });
  }

  note(message: string): void {
    this.emit({ t: 'note', message });
  }

  skip(capability: string, why: string, enable: string): never {
    throw new SkipScenario(capability, why, enable);
  }

  setPath(path: PathClass): void {
    const rank = (p: PathClass): number => (p === this.expectedPath ? -1 : PATH_RANK[p]);
    if (this.path === null || rank(path) > rank(this.path)) this.emit({ t: 'path', path });
  }

  kmsgSinceStart(): KmsgRecord[] {
    return this.kmsg.since(this.kmsgStart);
  }

  sleep(ms: number): Promise<void> {
    const signal = this.controller.signal;
    // A backend with its own clock (the mock) lets the time pass at once.
    if (this.backend.sleep) return signal.aborted ? Promise.resolve() : kernelSleep(this.backend, ms);
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
