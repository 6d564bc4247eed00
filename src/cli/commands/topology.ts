// `iovh topology [--json]`: every SR-IOV PF and its VFs, read from sysfs
// (src/machine/topology.ts); a tree for people, JSON for scripts. Reads only.
import type { Command } from 'commander';
import { globalOptions, type GlobalOptions } from '../global.js';
import { openJournal, stdio, withBackend } from '../state-change.js';
import { topologyJson, topologyTree } from '../../host/render.js';
import { discover } from '../../machine/topology.js';
import { EXIT } from '../../report/exit.js';

export function registerTopology(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('topology')
    .description('list SR-IOV PFs and their VFs: drivers, overrides, IOMMU groups, BARs, VRAM quotas')
    .option('--json', 'print JSON (schema iovh-host-topology/1) instead of a tree')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as GlobalOptions & { json?: boolean };
      const code = await withBackend(opts, 'read', (backend) => {
        const t = discover(backend.fs);
        const extras = {
          backend: { name: backend.traits.name, reason: backend.reason },
          pendingWrites: openJournal(backend).pending().length,
        };
        stdio.out(
          opts.json === true ? `${JSON.stringify(topologyJson(t, extras), null, 2)}\n` : topologyTree(t, extras),
        );
        return EXIT.OK;
      });
      setStatus(code);
    });
}
