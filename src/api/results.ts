// Reading a results file (`iovh run --json`): what `iovh report` re-renders,
// `iovh run --resume` continues and the library's readResults() returns. The
// file is read bounded (src/userfile.ts) and checked against the published
// schema (src/schema/results.ts, docs/schemas/iovh-run.schema.json) before
// anything uses it, so a truncated, hand-edited or foreign file is one line
// naming the file and the first problem, never a crash in a renderer.
import { InputError } from '../host/errors.js';
import { RUN_SCHEMA, type RunResult } from '../report/model.js';
import { RESULTS_SCHEMA } from '../schema/results.js';
import { schemaProblem } from '../schema/validate.js';
import { readUserFile, UserFileError } from '../userfile.js';

/** A results file is a few hundred KiB (the kernel log excerpts are capped); this is far past any real one. */
export const RESULTS_LIMIT = 64 << 20;

/** A results file that cannot be read or is not an iovh-run/1 result: the message names the file. */
export class ResultsFileError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'ResultsFileError';
  }
}

/** Fields iovh-run/1 gained after its first files were written, at their neutral values. */
function normalize(run: RunResult): RunResult {
  return {
    ...run,
    kernel: { ...run.kernel, shape: run.kernel.shape ?? null },
    summary: {
      ...run.summary,
      skippedPasses: run.summary.skippedPasses ?? [],
      skipsAllowed: run.summary.skipsAllowed ?? false,
    },
  };
}

/** The result in `text` (from `path`, named in messages). */
export function parseResults(text: string, path: string): RunResult {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new ResultsFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (typeof data === 'object' && data !== null && typeof schema === 'string' && schema !== RUN_SCHEMA)
    throw new ResultsFileError(
      `${path}: schema '${schema}' is not ${RUN_SCHEMA}${/^iovh-run\//.test(schema) ? ' (written by another version of iovh)' : ''}`,
    );
  const problem = schemaProblem(RESULTS_SCHEMA, data);
  if (problem) throw new ResultsFileError(`${path}: not an iovh run result: ${problem}`);
  return normalize(data as RunResult);
}

/** Read and check a results file. Throws ResultsFileError (an InputError: the CLI exits 2). */
export function readResults(path: string): RunResult {
  let text: string;
  try {
    text = readUserFile(path, RESULTS_LIMIT, 'a results file');
  } catch (e) {
    if (e instanceof UserFileError) throw new ResultsFileError(`results file ${path}: ${e.message}`);
    throw e;
  }
  return parseResults(text, path);
}
