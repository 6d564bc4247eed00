// `iovh setup PLAN.json`: bring a whole declared state about (VF counts,
// VRAM quotas, which VFs on which driver) as one journaled plan. The file's
// schema (iovh-setup/1) is in docs/bringup.md.
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { globalOptions } from '../global.js';
import { runStateChange, type StateChangeOptions } from '../state-change.js';
import { shellLine } from '../../host/quote.js';
import { planSetup } from '../../host/planner.js';
import { parseSetup } from '../../host/setup-schema.js';
import { InputError } from '../../host/errors.js';
import { LIMITS, readUserFile, UserFileError } from '../../userfile.js';

/** The plan file's text (a pipe, `setup <(...)`, is fine; /dev/zero is "too large"). */
function readPlan(file: string): string {
  try {
    return readUserFile(file, LIMITS.plan, 'a setup plan');
  } catch (e) {
    if (e instanceof UserFileError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  }
}

export function registerSetup(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('setup')
    .description(
      'bring about a declared PF/VF state (iovh-setup/1: VF counts, VRAM quotas, drivers) as one journaled plan',
    )
    .argument('<PLAN.json>', 'the declared state (see docs/bringup.md)')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--json', 'print the plan and its outcome as JSON')
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as StateChangeOptions;
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
