// The scenario catalog as the library and `iovh run --list` show it: stable
// ids, titles, descriptions and the import path a correct kernel takes.
// Listing opens no device and needs no addon.
import { CATALOG } from '../harness/catalog/index.js';
import { FilterError, makeFilter } from '../harness/filter.js';
import type { Scenario } from '../harness/scenario.js';
import { InputError } from '../host/errors.js';
import type { PathClass } from '../report/model.js';

export interface ScenarioInfo {
  /** Stable id, `<group>/<name>` (e.g. `export/single-range`). */
  id: string;
  group: string;
  title: string;
  /** What the scenario does and what it proves, in a paragraph. */
  description: string;
  /** The import path a correct kernel takes (null: the scenario imports nothing, or any path is acceptable). */
  expectedPath: PathClass | null;
}

export function scenarioInfo(s: Scenario): ScenarioInfo {
  return {
    id: s.id,
    group: s.id.split('/')[0]!,
    title: s.title,
    description: s.description,
    expectedPath: s.expectedPath ?? null,
  };
}

/**
 * The catalog's scenarios in run order, narrowed by `filters` (globs over
 * ids, `*` within a group, `!` to exclude; none: every scenario). Throws
 * InputError for a glob that is not one.
 */
export function listScenarios(filters: readonly string[] = []): ScenarioInfo[] {
  let keep: (id: string) => boolean;
  try {
    keep = makeFilter([...filters]);
  } catch (e) {
    if (e instanceof FilterError) throw new InputError(e.message);
    throw e;
  }
  return CATALOG.filter((s) => keep(s.id)).map(scenarioInfo);
}
