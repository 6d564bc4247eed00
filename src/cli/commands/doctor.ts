// `iovh doctor [--json]`: is this machine ready (kernel config, IOMMU,
// modules, device nodes, debugfs/tracefs, interconnect symbols, SR-IOV PFs,
// provisioning interface), each check with its fix (src/host/doctor.ts);
// it removes the kprobes and trace instances dead iovh runs left behind.
// Exit 1 when a check fails, 0 otherwise.
import type { Command } from 'commander';
import { globalOptions, type GlobalOptions } from '../global.js';
import { stdio, withBackend } from '../state-change.js';
import { renderChecks, runDoctor, summarize } from '../../host/doctor.js';
import { leftoversCheck, selfPid } from '../../harness/leftovers.js';

export function registerDoctor(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('doctor')
    .description(
      'check that this machine can run iovh (kernel config, IOMMU, modules, permissions, debugfs, tracefs, interconnect symbols, provisioning)',
    )
    .option('--json', 'print the checks as JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as GlobalOptions & { json?: boolean };
      const code = await withBackend(opts, 'write', (backend) => {
        // open(2) checks the effective uid and gid and the supplementary groups of the process in that kernel.
        const env = backend.traits.credentials;
        // Also removes what dead iovh runs left in tracefs (src/harness/leftovers.ts), the one change doctor makes.
        const checks = [...runDoctor(backend.fs, env), leftoversCheck(backend.fs, selfPid(backend))];
        const summary = summarize(checks);
        // The mock boots a kernel profile: say which, next to the shape kernel.shape reads from its kallsyms.
        const profile = backend.traits.profile;
        if (opts.json === true)
          stdio.out(
            `${JSON.stringify({ backend: { name: backend.traits.name, reason: backend.reason, profile }, checks, summary }, null, 2)}\n`,
          );
        else
          stdio.out(
            renderChecks(
              checks,
              `backend: ${backend.traits.name} (${backend.reason})${profile === null ? '' : `, kernel profile ${profile}`}`,
            ),
          );
        return summary.fail > 0 ? 1 : 0;
      });
      setStatus(code);
    });
}
