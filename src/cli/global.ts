// Options every command takes, before or after the subcommand name
// (`iovh --backend mock run` and `iovh run --backend mock` are the same).
import { Option, type Command } from 'commander';

export interface GlobalOptions {
  backend: 'auto' | 'native' | 'mock';
  mockState?: string;
  topology?: string;
  profile?: string;
  root?: string;
  json?: boolean | string;
}

export function addGlobalOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--backend <name>', 'kernel backend: auto picks native when an SR-IOV PF with VFs and /dev/vfio exist')
        .choices(['auto', 'native', 'mock'])
        .env('IOVH_BACKEND'),
    )
    .addOption(
      new Option('--mock-state <file>', 'mock kernel state file, kept across invocations').env('IOVH_MOCK_STATE'),
    )
    .addOption(
      new Option('--topology <file>', 'topology JSON for the mock (written by `iovh capture`)').env('IOVH_TOPOLOGY'),
    )
    .addOption(new Option('--profile <name>', 'mock kernel profile: upstream, rfc-v1, fixed').env('IOVH_PROFILE'))
    .addOption(
      new Option('--root <dir>', 'native backend: read /sys, /proc and /dev under this directory')
        .env('IOVH_ROOT')
        .hideHelp(),
    );
}

export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
  return { ...o, backend: o.backend ?? 'auto' };
}
