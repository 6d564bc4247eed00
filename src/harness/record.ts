// What a scenario has recorded so far (evidence, failed checks, quirks,
// notes, path), as a log of events. The scenario runs in a process of its own
// (executor.ts): each event is applied where it happens and sent to the
// runner as it happens, so that when the kernel kills the scenario's process
// in the middle (an oops in process context), the runner still holds
// everything the scenario had recorded up to that moment, as IGT's runner
// keeps a dying test's output.

import type { BugFinding, Json, JsonObject, PathClass, QuirkFinding } from '../report/model.js';
import { BUGS, isBugName, type BugName } from './bugs.js';
import { QUIRKS, type QuirkName } from './quirks.js';

export type RecordEvent =
  | { t: 'record'; key: string; value: Json }
  | { t: 'append'; key: string; value: Json }
  | { t: 'fail'; message: string }
  | { t: 'quirk'; quirk: QuirkFinding; failure: string }
  | { t: 'bug'; bug: BugFinding; failure: string }
  | { t: 'note'; message: string }
  | { t: 'path'; path: PathClass };

export class ScenarioRecord {
  readonly evidence: JsonObject = {};
  readonly failures: string[] = [];
  readonly quirks: QuirkFinding[] = [];
  readonly bugs: BugFinding[] = [];
  readonly notes: string[] = [];
  path: PathClass | null = null;

  apply(e: RecordEvent): void {
    switch (e.t) {
      case 'record':
        this.evidence[e.key] = e.value;
        break;
      case 'append': {
        const list = this.evidence[e.key];
        if (Array.isArray(list)) list.push(e.value);
        else this.evidence[e.key] = [e.value];
        break;
      }
      case 'fail':
        this.failures.push(e.message);
        break;
      case 'quirk':
        this.quirks.push(e.quirk);
        this.failures.push(e.failure);
        break;
      case 'bug':
        this.bugs.push(e.bug);
        this.failures.push(e.failure);
        break;
      case 'note':
        this.notes.push(e.message);
        break;
      case 'path':
        this.path = e.path;
        break;
    }
  }
}

/** The event that records a known defect: an RFC quirk (quirks.ts) or a bug of the merged path (bugs.ts). */
export function defectEvent(id: QuirkName | BugName, evidence: string): RecordEvent {
  if (isBugName(id)) {
    const b = BUGS[id];
    return {
      t: 'bug',
      bug: { id, title: b.title, affected: b.affected, fixed: b.fixed, evidence },
      failure: `${b.title} (bug ${id}: ${b.affected}${b.fixed ? `; fixed by ${b.fixed}` : '; no fix merged'}): ${evidence}`,
    };
  }
  const q = QUIRKS[id];
  return {
    t: 'quirk',
    quirk: { id, number: q.number, title: q.title, evidence },
    failure: `${q.source} (${q.title}): ${evidence}`,
  };
}

/** Whether `rec` already named the defect `id`. */
export function named(
  rec: { quirks: readonly { id: string }[]; bugs: readonly { id: string }[] },
  id: string,
): boolean {
  return rec.quirks.some((q) => q.id === id) || rec.bugs.some((b) => b.id === id);
}
