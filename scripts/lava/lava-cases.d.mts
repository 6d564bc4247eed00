// Types of lava-cases.mjs (written by hand next to it; keep them in step).
export interface ReportScenario {
  id: string;
  status: string;
  durationMs: number;
  evidence?: Record<string, unknown>;
  baseline?: { verdict: string } | null;
}
export interface LavaCase {
  name: string;
  result: 'pass' | 'fail' | 'skip' | 'unknown';
  seconds: number;
}
export function lavaName(id: string): string;
export function lavaResult(s: ReportScenario): 'pass' | 'fail' | 'skip' | 'unknown';
export function lavaCases(report: unknown): LavaCase[];
