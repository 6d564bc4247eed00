// Running `iovh run` in-process (src/cli/main.ts) with stdout and stderr captured, and two runs whose outcome
// the exit-status tests rely on (run-mock.test.ts, conventions.test.ts).
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function iovh(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  // A write's callback runs once the data is out, as on a real stream (iovh waits for it before it trusts a report on stdout).
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, cb?: unknown) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    if (typeof cb === 'function') process.nextTick(cb as () => void);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const FIXED = fileURLToPath(new URL('../../baselines/fixed.json', import.meta.url));
// The IOV scenarios alone on an upstream kernel (no interconnect): every one skips.
export const ALL_SKIPPED = [
  'run',
  '--backend',
  'mock',
  '--profile',
  'upstream-7.1',
  '--filter',
  'import/iov-*',
  '--no-baseline',
];
// rfc-v1's npot defect judged against the fixed kernel's baseline: one unexpected result.
export const ONE_REGRESSION = [
  'run',
  '--backend',
  'mock',
  '--profile',
  'rfc-v1',
  '--filter',
  'edge/npot-ranges',
  '--baseline',
  FIXED,
];
