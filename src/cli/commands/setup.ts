// `iovh setup PLAN.json`: bring a whole declared state about (VF counts,
// VRAM quotas, which VFs on which driver) as one journaled plan. The file's
// schema (iovh-setup/1) is in docs/bringup.md.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { globalOptions } from '../global.js';
import { runStateChange, type StateChangeOptions } from '../../host/command.js';
import { shellLine } from '../../host/quote.js';
import { planSetup } from '../../host/planner.js';
import { parseSetup } from '../../host/setup-schema.js';
import { InputError } from '../../host/errors.js';

/** A plan is a few KiB of JSON; anything past this is not one. */
const MAX_PLAN_BYTES = 1 << 20;

/**
 * The plan file's text, read up to MAX_PLAN_BYTES: a pipe (`setup <(...)`)
 * is fine, /dev/zero is "too large" instead of being read forever.
 */
function readPlan(file: string): string {
  const problem = (what: string) => new UsageError(`${file}: ${what}`);
  const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw problem(`cannot read it (${code(e)})`);
  }
  try {
    if (fstatSync(fd).isDirectory()) throw problem('cannot read it (EISDIR)');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > MAX_PLAN_BYTES) throw problem(`too large for a setup plan (more than ${MAX_PLAN_BYTES} bytes)`);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw problem(`cannot read it (${code(e)})`);
  } finally {
    closeSync(fd);
  }
}

export function registerSetup(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('setup')
    .description('bring about a declared PF/VF state (iovh-setup/1: VF counts, VRAM quotas, drivers) as one journaled plan')
    .argument('<PLAN.json>', 'the declared state (see docs/bringup.md)')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--json', 'print the plan and its outcome as JSON')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const opts = { ...globalOptions(cmd), ...cmd.opts() } as StateChangeOptions;
      const text = readPlan(file);
      let spec;
      try {
        spec = parseSetup(file, text);
      } catch (e) {
        if (e instanceof InputError) throw new UsageError(e.message);
        throw e;
      }
      setStatus(await runStateChange(shellLine(['setup', file]), opts, (ctx) => planSetup(ctx, spec, file)));
    });
}
