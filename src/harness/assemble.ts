// One RunResult from what a run knows so far: the final report, the reports
// rewritten after each scenario while the run goes on (complete: false), and
// the placeholder `iovh run` writes before the backend opens (no scenario,
// no kernel yet), so that every report file holds a valid report from the
// first moment on.

import { RUN_SCHEMA, type JsonObject, type RunResult, type ScenarioResult } from '../report/model.js';
import type { Baseline } from './baseline.js';
import { summarize } from './summary.js';

/** What a run is, independent of its results. */
export interface RunFrame {
  startedAt: Date;
  /** performance.now() when the run started. */
  t0: number;
  toolVersion: string;
  backend: { name: string; reason: string; profile: string | null };
  options: RunResult['options'];
  baseline: Baseline | null;
  setup: string[];
  /** --allow-skips (summary.ts). */
  allowSkips?: boolean;
}

/** The machine as the capability probe saw it; null before the probe ran. */
export interface MachineJson {
  kernel: RunResult['kernel'];
  capabilities: JsonObject;
  topology: JsonObject;
}

export interface RunState {
  results: readonly ScenarioResult[];
  /** Ids of the scenarios without a result yet (non-empty: the run is not complete). */
  pending: readonly string[];
  interrupted: { signal: string } | null;
  kernelLog: string[];
}

export function assembleRun(frame: RunFrame, machine: MachineJson | null, state: RunState): RunResult {
  const complete = state.pending.length === 0;
  return {
    schema: RUN_SCHEMA,
    tool: { name: 'iovh', version: frame.toolVersion, node: process.version },
    startedAt: frame.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - frame.t0),
    kernel: machine?.kernel ?? { release: null, version: null, cmdline: null, shape: null },
    backend: frame.backend,
    options: frame.options,
    capabilities: machine?.capabilities ?? {},
    topology: machine?.topology ?? {},
    setup: frame.setup,
    baseline: frame.baseline
      ? { path: frame.baseline.path, name: frame.baseline.name, profile: frame.baseline.profile }
      : null,
    scenarios: [...state.results],
    summary: summarize(state.results, state.interrupted, {
      pending: state.pending,
      allowSkips: frame.allowSkips === true,
    }),
    interrupted: state.interrupted,
    complete,
    pending: [...state.pending],
    kernelLog: state.kernelLog,
  };
}
