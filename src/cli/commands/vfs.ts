// `iovh vfs enable PF N` / `iovh vfs disable PF`: the VF count of an SR-IOV
// PF, as a journaled, read-back-verified plan (src/host/planner.ts).
import type { Command } from 'commander';
import { addGlobalOptions, globalOptions } from '../global.js';
import { runStateChange, type StateChangeOptions } from '../state-change.js';
import { shellLine } from '../../host/quote.js';
import { planVfsDisable, planVfsEnable } from '../../host/planner.js';

export function registerVfs(program: Command, setStatus: (code: number) => void): Command {
  const vfs = program.command('vfs').description('enable or disable the VFs of an SR-IOV PF');
  addGlobalOptions(
    vfs
      .command('enable')
      .description(
        'enable N VFs on PF (autoprobe off first, so no driver grabs them; the count goes through 0 when it changes)',
      )
      .argument('<PF>', 'the PF, DDDD:BB:DD.F or BB:DD.F')
      .argument('<N>', 'number of VFs, 1..sriov_totalvfs')
      .option('--dry-run', 'print the plan and write nothing')
      .option('--json', 'print the plan and its outcome as JSON')
      .action(async (pf: string, n: string, _o: unknown, cmd: Command) => {
        const opts = globalOptions(cmd) as StateChangeOptions;
        setStatus(await runStateChange(shellLine(['vfs', 'enable', pf, n]), opts, (ctx) => planVfsEnable(ctx, pf, n)));
      }),
  );
  addGlobalOptions(
    vfs
      .command('disable')
      .description(
        "disable the VFs of PF (each VF's driver, override and quota are released first, so restore can bring them back)",
      )
      .argument('<PF>', 'the PF, DDDD:BB:DD.F or BB:DD.F')
      .option('--dry-run', 'print the plan and write nothing')
      .option('--json', 'print the plan and its outcome as JSON')
      .action(async (pf: string, _o: unknown, cmd: Command) => {
        const opts = globalOptions(cmd) as StateChangeOptions;
        setStatus(await runStateChange(shellLine(['vfs', 'disable', pf]), opts, (ctx) => planVfsDisable(ctx, pf)));
      }),
  );
  return vfs;
}
