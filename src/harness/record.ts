// What a scenario has recorded so far (evidence, failed checks, quirks,
// notes, path), as a log of events. The scenario runs in a process of its own
// (executor.ts): each event is applied where it happens and sent to the
// runner as it happens, so that when the kernel kills the scenario's process
// in the middle (an oops in process context), the runner still holds
// everything the scenario had recorded up to that moment, as IGT's runner
// keeps a dying test's output.

import type { Json, JsonObject, PathClass, QuirkFinding } from '../report/model.js';

export type RecordEvent =
  | { t: 'record'; key: string; value: Json }
  | { t: 'append'; key: string; value: Json }
  | { t: 'fail'; message: string }
  | { t: 'quirk'; quirk: QuirkFinding; failure: string }
  | { t: 'note'; message: string }
  | { t: 'path'; path: PathClass };

export class ScenarioRecord {
  readonly evidence: JsonObject = {};
  readonly failures: string[] = [];
  readonly quirks: QuirkFinding[] = [];
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
      case 'note':
        this.notes.push(e.message);
        break;
      case 'path':
        this.path = e.path;
        break;
    }
  }
}
