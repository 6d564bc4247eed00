// Baselines: the statuses a given kernel is expected to produce, per scenario
// id (docs/internals.md "Principles"). A result is then
// `expected`, a `regression`, `fixed`, `changed` or `unlisted` (src/report/model.ts).
//
// Format (docs/report-schema.md, "Baseline files"):
//   { "schema": "iovh-baseline/1", "name": "rfc-v1", "profile": "rfc-v1",
//     "description": "...",
//     "quirks": ["last-page", ...],
//     "scenarios": { "caps/kernel": "pass",
//                    "edge/last-page": { "status": "fail", "quirks": ["last-page"], "note": "..." },
//                    "bugs/opath-stale-file": { "status": "crash", "bugs": ["opath-stale-file"] } } }
// Each mock profile ships baselines/<profile>.json.

import { fileURLToPath } from 'node:url';
import { LIMITS, parseUserJson, readUserFile, UserFileError } from '../userfile.js';
import { isBad, isStatus, STATUSES, type BaselineEntryResult, type Status } from '../report/model.js';

export const BASELINE_SCHEMA = 'iovh-baseline/1';

/** The top-level fields of a baseline file: what --write-baseline writes (src/report/baseline.ts). */
const TOP_LEVEL = ['schema', 'name', 'profile', 'description', 'quirks', 'bugs', 'scenarios', 'complete', 'why'];

export interface BaselineEntry {
  status: Status;
  quirks: string[];
  /** Bug ids (src/harness/bugs.ts) the scenario is expected to name. */
  bugs: string[];
  note: string | null;
}

export interface Baseline {
  path: string;
  name: string;
  profile: string | null;
  description: string | null;
  /**
   * The defects this kernel is known to have (quirk ids): a scenario that
   * fails naming only these, where its entry expects otherwise, is a known
   * failure that this machine's shape reveals there (a VF on another bus
   * makes every import of it untranslated on a kernel with quirk 5), not a
   * regression. Empty: none declared.
   */
  quirks: string[];
  /** The known bugs (src/harness/bugs.ts ids), judged as `quirks` are. */
  bugs: string[];
  scenarios: Map<string, BaselineEntry>;
}

/** A baseline file that cannot be read or does not validate: one line naming the file and the field. */
export class BaselineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BaselineError';
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseBaseline(text: string, path: string): Baseline {
  let doc: unknown;
  try {
    doc = parseUserJson(text);
  } catch (e) {
    if (e instanceof UserFileError) throw new BaselineError(`baseline ${path}: ${e.message}`);
    throw e;
  }
  if (!isObject(doc)) throw new BaselineError(`baseline ${path}: the top level must be an object`);
  // A misspelt field ("scenario", "profle") would otherwise be ignored and the file judged by defaults.
  for (const key of Object.keys(doc))
    if (!TOP_LEVEL.includes(key))
      throw new BaselineError(
        `baseline ${path}: unknown top-level field ${JSON.stringify(key)} (expected ${TOP_LEVEL.join(', ')})`,
      );
  if (doc.schema !== BASELINE_SCHEMA) {
    throw new BaselineError(
      `baseline ${path}: field "schema" must be "${BASELINE_SCHEMA}", got ${JSON.stringify(doc.schema)}`,
    );
  }
  if (doc.complete === false) {
    const why = typeof doc.why === 'string' ? doc.why : 'the run did not finish';
    throw new BaselineError(
      `baseline ${path}: written by iovh run --write-baseline for a run that did not finish (${why}); run it again to record a baseline`,
    );
  }
  if (typeof doc.name !== 'string' || doc.name === '')
    throw new BaselineError(`baseline ${path}: field "name" must be a non-empty string`);
  if (doc.profile !== undefined && doc.profile !== null && typeof doc.profile !== 'string') {
    throw new BaselineError(`baseline ${path}: field "profile" must be a string`);
  }
  if (doc.description !== undefined && typeof doc.description !== 'string') {
    throw new BaselineError(`baseline ${path}: field "description" must be a string`);
  }
  if (
    doc.quirks !== undefined &&
    (!Array.isArray(doc.quirks) || !doc.quirks.every((q) => typeof q === 'string' && q !== ''))
  )
    throw new BaselineError(`baseline ${path}: field "quirks" must be an array of quirk ids`);
  if (doc.bugs !== undefined && (!Array.isArray(doc.bugs) || !doc.bugs.every((q) => typeof q === 'string' && q !== '')))
    throw new BaselineError(`baseline ${path}: field "bugs" must be an array of bug ids`);
  if (!isObject(doc.scenarios))
    throw new BaselineError(`baseline ${path}: field "scenarios" must be an object of scenario id -> status`);
  const scenarios = new Map<string, BaselineEntry>();
  for (const [id, value] of Object.entries(doc.scenarios)) {
    const where = `baseline ${path}: scenarios["${id}"]`;
    if (isStatus(value)) {
      scenarios.set(id, { status: value, quirks: [], bugs: [], note: null });
      continue;
    }
    if (!isObject(value))
      throw new BaselineError(`${where} must be a status (${STATUSES.join(', ')}) or an object with "status"`);
    if (!isStatus(value.status))
      throw new BaselineError(
        `${where}.status must be one of ${STATUSES.join(', ')}, got ${JSON.stringify(value.status)}`,
      );
    let quirks: string[] = [];
    if (value.quirks !== undefined) {
      if (!Array.isArray(value.quirks) || !value.quirks.every((q) => typeof q === 'string')) {
        throw new BaselineError(`${where}.quirks must be an array of quirk ids`);
      }
      quirks = [...(value.quirks as string[])].sort();
    }
    let bugs: string[] = [];
    if (value.bugs !== undefined) {
      if (!Array.isArray(value.bugs) || !value.bugs.every((q) => typeof q === 'string')) {
        throw new BaselineError(`${where}.bugs must be an array of bug ids`);
      }
      bugs = [...(value.bugs as string[])].sort();
    }
    if (value.note !== undefined && typeof value.note !== 'string')
      throw new BaselineError(`${where}.note must be a string`);
    for (const key of Object.keys(value)) {
      if (!['status', 'quirks', 'bugs', 'note'].includes(key))
        throw new BaselineError(`${where} has an unknown field "${key}"`);
    }
    scenarios.set(id, { status: value.status, quirks, bugs, note: typeof value.note === 'string' ? value.note : null });
  }
  return {
    path,
    name: doc.name,
    profile: typeof doc.profile === 'string' ? doc.profile : null,
    description: typeof doc.description === 'string' ? doc.description : null,
    quirks: Array.isArray(doc.quirks) ? [...(doc.quirks as string[])].sort() : [],
    bugs: Array.isArray(doc.bugs) ? [...(doc.bugs as string[])].sort() : [],
    scenarios,
  };
}

export function loadBaseline(path: string): Baseline {
  let text: string;
  try {
    text = readUserFile(path, LIMITS.baseline, 'a baseline');
  } catch (e) {
    if (e instanceof UserFileError) throw new BaselineError(`baseline ${path}: ${e.message}`);
    throw e;
  }
  return parseBaseline(text, path);
}

/** The baseline a mock profile ships: <package>/baselines/<profile>.json. */
export function shippedBaselinePath(profile: string): string {
  return fileURLToPath(new URL(`../../baselines/${profile}.json`, import.meta.url));
}

/**
 * Compare one result with its baseline entry. `named` are the quirk and bug
 * ids the scenario named; when the baseline lists quirks or bugs for a bad
 * status, a failure that names others is a regression: it fails for another
 * reason. A failure that names only defects in `known` (Baseline.quirks and
 * .bugs) where the entry expects another status or other defects is
 * expected: a known defect this machine shows there.
 */
export function judge(
  entry: BaselineEntry | undefined,
  status: Status,
  named: readonly string[],
  known: readonly string[] = [],
): BaselineEntryResult {
  if (!entry)
    return {
      expected: status,
      quirks: [],
      bugs: [],
      verdict: 'unlisted',
      note: 'the baseline has no entry for this scenario',
    };
  const base = { expected: entry.status, quirks: entry.quirks, bugs: entry.bugs };
  const found = [...new Set(named)].sort();
  const want = [...new Set([...entry.quirks, ...entry.bugs])].sort();
  if (status === entry.status) {
    // Other defects, all known to this kernel, with the same status: this machine shows another of its defects here.
    const knownOnly = found.length > 0 && found.every((q) => want.includes(q) || known.includes(q));
    if (isBad(status) && want.length > 0 && !sameSet(want, found) && knownOnly)
      return {
        ...base,
        verdict: 'expected',
        note: `expected ${status} naming ${want.join(', ')}, got ${status} naming ${found.join(', ')}: known defects of this kernel, which this machine shows here`,
      };
    if (isBad(status) && want.length > 0 && !sameSet(want, found)) {
      const got = found.length > 0 ? found.join(', ') : 'no known defect';
      return {
        ...base,
        verdict: 'regression',
        note: `expected ${status} naming ${want.join(', ')}, got ${status} naming ${got}`,
      };
    }
    return { ...base, verdict: 'expected', note: null };
  }
  if (isBad(status) && found.length > 0 && found.every((q) => known.includes(q)))
    return {
      ...base,
      verdict: 'expected',
      note: `expected ${entry.status}, got ${status} naming ${found.join(', ')}: known defects of this kernel, which this machine shows here`,
    };
  if (isBad(status)) return { ...base, verdict: 'regression', note: `expected ${entry.status}, got ${status}` };
  if (status === 'pass' && isBad(entry.status))
    return { ...base, verdict: 'fixed', note: `expected ${entry.status}, now passes` };
  return { ...base, verdict: 'changed', note: `expected ${entry.status}, got ${status}` };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
