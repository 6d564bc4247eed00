// The JSON report: the RunResult as it is (docs/report-schema.md). Two-space
// indent and a final newline, so that reports diff well in a lab's archive.

import type { RunResult } from './model.js';

export function renderJson(run: RunResult): string {
  return `${JSON.stringify(run, null, 2)}\n`;
}
