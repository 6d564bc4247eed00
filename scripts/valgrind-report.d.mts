// Types of scripts/valgrind-report.mjs (its JSDoc), for the TypeScript tests.
export interface Frame {
  /** function name, or ?? when unknown */
  fn: string;
  /** the object file it is in */
  obj: string;
  /** source file:line, when debug info has it */
  at: string | null;
}
export interface MemcheckError {
  /** memcheck's kind (InvalidRead, UninitCondition, Leak_DefinitelyLost, ...) */
  kind: string;
  what: string;
  /** a frame is in the addon or in a source file under native/ */
  ours: boolean;
  frames: Frame[];
}
export interface MemcheckSummary {
  /** errors left after the suppressions */
  errors: MemcheckError[];
  ours: number;
  suppressed: { name: string; count: number }[];
}
export function summarizeMemcheck(xml: string, addon: string): MemcheckSummary;
export function renderMemcheck(s: MemcheckSummary): string;
