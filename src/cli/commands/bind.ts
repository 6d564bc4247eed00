// `iovh bind VF DRIVER` / `iovh unbind VF`: one VF's driver (or, for bind, a
// PF's while it has no VFs: a PF on vfio-pci, docs/kernels.md), by
// driver_override then drivers_probe with that VF's address, so exactly one
// device is probed (docs/kernel.md §4; docs/bringup.md "The plan and its order").
import type { Command } from 'commander';
import { globalOptions } from '../global.js';
import { runStateChange, type StateChangeOptions } from '../state-change.js';
import { shellLine } from '../../host/quote.js';
import { planBind, planUnbind } from '../../host/planner.js';

export function registerBind(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('bind')
    .description(
      'bind a VF, or a PF without VFs, to a driver (vfio-pci): release it from its driver, set driver_override, probe that function',
    )
    .argument('<VF>', 'the VF (or a PF without VFs), DDDD:BB:DD.F or BB:DD.F')
    .argument('<DRIVER>', 'driver name, e.g. vfio-pci')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--json', 'print the plan and its outcome as JSON')
    .action(async (vf: string, driver: string, _o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as StateChangeOptions;
      setStatus(await runStateChange(shellLine(['bind', vf, driver]), opts, (ctx) => planBind(ctx, vf, driver)));
    });
}

export function registerUnbind(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('unbind')
    .description('release a VF from its driver and clear its driver_override (verified to read "(null)")')
    .argument('<VF>', 'the VF, DDDD:BB:DD.F or BB:DD.F')
    .option('--dry-run', 'print the plan and write nothing')
    .option('--json', 'print the plan and its outcome as JSON')
    .action(async (vf: string, _o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as StateChangeOptions;
      setStatus(await runStateChange(shellLine(['unbind', vf]), opts, (ctx) => planUnbind(ctx, vf)));
    });
}
