// `iovh run --write-baseline FILE`: the statuses of this run as a baseline
// file (iovh-baseline/1, src/harness/baseline.ts), so that a lab records what
// its kernel does today and later runs report only what changed. A native run
// has no shipped baseline: without one, every failure is unexpected, the
// RFC's known defects included.
//
// Only a finished run is a baseline. The file is made before the run (so an
// unwritable path stops it before it touches the kernel) and rewritten with
// the others after each scenario; until the run ends it says `complete:
// false`, which loadBaseline refuses with that reason, so a run that dies
// leaves a file that cannot be mistaken for a baseline.
import type { JsonObject, RunResult, Status } from './model.js';

export const RECORDED_SCHEMA = 'iovh-baseline/1';

export function renderBaseline(run: RunResult): string {
  const release = run.kernel.release ?? 'unknown kernel';
  const finished = run.complete && run.interrupted === null;
  const scenarios: Record<string, Status | JsonObject> = {};
  const known = new Set<string>();
  const knownBugs = new Set<string>();
  for (const r of run.scenarios) {
    if (r.evidence.notRun === true) continue;
    const quirks = r.quirks.map((q) => q.id).sort();
    const bugs = (r.bugs ?? []).map((b) => b.id).sort();
    for (const q of quirks) known.add(q);
    for (const b of bugs) knownBugs.add(b);
    scenarios[r.id] =
      quirks.length > 0 || bugs.length > 0
        ? {
            status: r.status,
            ...(quirks.length > 0 ? { quirks } : {}),
            ...(bugs.length > 0 ? { bugs } : {}),
            note: r.reason,
          }
        : r.status;
  }
  const doc: JsonObject = {
    schema: RECORDED_SCHEMA,
    name: `recorded-${release}`,
    profile: run.backend.profile,
    description: `recorded by iovh ${run.tool.version} (iovh run --write-baseline) on ${release}, backend ${run.backend.name}, ${run.startedAt}`,
    ...(finished
      ? {}
      : {
          complete: false,
          why: run.interrupted
            ? `the run was interrupted by ${run.interrupted.signal}`
            : 'the run had not finished when this was written',
        }),
    // The defects this kernel showed: where a later run's machine reveals one in another scenario, it is known.
    quirks: [...known].sort(),
    bugs: [...knownBugs].sort(),
    scenarios,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
