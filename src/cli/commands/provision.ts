// `iovh provision PF --vf K --vram SIZE`: one VF's VRAM quota, through
// whichever provisioning interface the xe PF has (src/machine/provisioning.ts).
// On a PF that is not xe the answer is "not available" (exit 77), not an error.
import type { Command } from 'commander';
import { globalOptions } from '../global.js';
import { runStateChange, type StateChangeOptions } from '../state-change.js';
import { shellLine } from '../../host/quote.js';
import { planProvision } from '../../host/planner.js';
import { requireSize } from '../../host/size.js';

interface ProvisionOptions extends StateChangeOptions {
  vf: string;
  vram: string;
}

export function registerProvision(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('provision')
    .description("set a VF's VRAM quota on an xe PF (sriov_admin, debugfs tile layout, or legacy lmem_quota)")
    .argument('<PF>', 'the PF, DDDD:BB:DD.F or BB:DD.F')
    .requiredOption('--vf <K>', 'VF number, 1-based like sriov_admin/vfK (VF 1 is virtfn0)')
    .requiredOption(
      '--vram <SIZE>',
      'quota: 4G, 512MiB, 0x20000000, ... (binary units, a multiple of 2 MiB; 0 releases it)',
    )
    .option('--dry-run', 'print the plan and write nothing')
    .option('--json', 'print the plan and its outcome as JSON')
    .action(async (pf: string, _o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as ProvisionOptions;
      setStatus(
        await runStateChange(shellLine(['provision', pf, '--vf', opts.vf, '--vram', opts.vram]), opts, (ctx) =>
          planProvision(ctx, pf, opts.vf, requireSize(opts.vram, '--vram')),
        ),
      );
    });
}
