// `iovh capture [--out FILE]`: this machine's SR-IOV PFs as an
// iovh-topology/1 file (docs/topology.md) for the mock's --topology, so a lab
// machine can be replayed in CI (src/host/capture.ts). Reads only. Without
// --out the JSON goes to stdout; what could not be captured goes to stderr.
import { renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { globalOptions } from '../global.js';
import { EXIT_NOT_AVAILABLE, stdio, withBackend } from '../../host/command.js';
import { capture } from '../../host/capture.js';

export function registerCapture(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('capture')
    .description("record this machine's SR-IOV topology as a file the mock loads with --topology")
    .option('--out <FILE>', 'write the topology here (default: stdout)')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = { ...globalOptions(cmd), ...(cmd.opts() as { out?: string }) };
      const code = await withBackend(opts, (backend) => {
        const { topology, notes } = capture(backend);
        if (topology.devices.length === 0) {
          stdio.err('iovh: capture: nothing to capture: no SR-IOV PF on this machine (no device has sriov_totalvfs)\n');
          return EXIT_NOT_AVAILABLE;
        }
        for (const n of notes) stdio.err(`iovh: capture: ${n}\n`);
        const text = `${JSON.stringify(topology, null, 2)}\n`;
        if (!opts.out) {
          stdio.out(text);
          return 0;
        }
        try {
          // temp + rename: a reader never sees half a file.
          writeFileSync(`${opts.out}.tmp`, text);
          renameSync(`${opts.out}.tmp`, opts.out);
        } catch (e) {
          throw new CliError(`capture: cannot write ${opts.out} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 1);
        }
        stdio.err(`iovh: capture: ${topology.devices.length} PF${topology.devices.length === 1 ? '' : 's'} written to ${opts.out} (load it with --backend mock --topology ${opts.out})\n`);
        return 0;
      });
      setStatus(code);
    });
}
