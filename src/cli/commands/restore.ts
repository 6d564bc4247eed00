// `iovh restore`: undo the bring-up journal of the machine the backend acts
// on, newest write first, each verified (src/host/restore.ts).
//
// Registering it also installs the program-wide notice of a stale journal
// (a bring-up command killed mid-change): every iovh command prints it in one
// line on stderr before it runs, so nobody keeps working on a machine left
// half-changed without knowing.
import type { Command } from 'commander';
import { globalOptions } from '../global.js';
import { runRestore, staleNotices, type StateChangeOptions } from '../state-change.js';

export function registerRestore(program: Command, setStatus: (code: number) => void): Command {
  program.hook('preAction', (_root, action) => {
    if (action.name() === 'restore') return;
    for (const line of staleNotices()) process.stderr.write(`${line}\n`);
  });
  return program
    .command('restore')
    .description('undo journaled bring-up writes in reverse, verifying each (after a normal run, Ctrl-C or a kill)')
    .option('--dry-run', 'print the writes restore would make and write nothing')
    .option('--json', 'print the outcome as JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as StateChangeOptions;
      setStatus(await runRestore(opts));
    });
}
