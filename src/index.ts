// Public API of iovh (docs/api.md): list the catalog, run scenarios on a
// backend, get the typed result, render or write any report format, read a
// results file back. Below it, the kernel interfaces' constants and errors.
// The addon itself is private (src/core/addon.ts).
import { ADDON_FIX, loadAddon } from './core/addon.js';

// The catalog.
export { listScenarios, type ScenarioInfo } from './api/catalog.js';

// Running.
export {
  BrokenInstallError,
  DEFAULT_TIMEOUT_SEC,
  runScenarios,
  TIMEOUT_RANGE_SEC,
  type RunProgress,
  type RunScenariosOptions,
} from './api/run.js';
export type { BackendChoice, BackendName } from './backend/types.js';
export { BackendChoiceError } from './backend/select.js';
export { InputError } from './host/errors.js';

// The result: the model every report is rendered from (docs/report-schema.md).
export {
  isBad,
  PATHS,
  RUN_SCHEMA,
  STATUSES,
  VERDICTS,
  type BaselineEntryResult,
  type Cleanliness,
  type Json,
  type JsonObject,
  type PathClass,
  type QuirkFinding,
  type ResumeRecord,
  type RunResult,
  type RunSummary,
  type ScenarioError,
  type ScenarioResult,
  type SkipInfo,
  type Status,
  type Verdict,
} from './report/model.js';
export { EXIT } from './report/exit.js';
export { BaselineError, loadBaseline, type Baseline, type BaselineEntry } from './harness/baseline.js';

// Reports.
export {
  renderReport,
  REPORT_FORMATS,
  writeReport,
  type RenderOptions,
  type ReportFormat,
} from './api/reports.js';
export type { KcidbOptions } from './report/kcidb.js';
export { ReportFileError } from './report/files.js';

// Results files.
export { parseResults, readResults, ResultsFileError } from './api/results.js';
export { RESULTS_SCHEMA } from './schema/results.js';

// The kernel interfaces' constants and errors.
export * from './uapi/errors.js';
export * from './uapi/constants.js';
export * from './uapi/pattern.js';
export type * from './backend/types.js';

/** Whether the native addon loaded here (the native backend needs it), where from, and if not, why and how to fix it. */
export function nativeAddon(): { loaded: boolean; path: string | null; error: string | null } {
  const load = loadAddon();
  return { loaded: load.addon !== null, path: load.path, error: load.error && `${load.error}; ${ADDON_FIX}` };
}
