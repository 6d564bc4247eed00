// `iovh capture [--out FILE]`: this machine's SR-IOV PFs as an
// iovh-topology/1 file (docs/topology.md) for the mock's --topology, so a lab
// machine can be replayed in CI (src/host/capture.ts). Reads only. Without
// --out the JSON goes to stdout; what could not be captured goes to stderr.
import { renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { globalOptions, type GlobalOptions } from '../global.js';
import { stdio, withBackend } from '../state-change.js';
import { EXIT } from '../../report/exit.js';
import { capture } from '../../host/capture.js';
import { escapeControls, shellWord } from '../../host/quote.js';

function codeOf(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/**
 * The --out file, checked before anything is read: it must not be a
 * directory, and its temporary sibling (written, then renamed over it, so
 * a reader never sees half a file) must be creatable. Returns the temporary
 * path, which the caller removes unless it was renamed.
 */
function prepareOut(out: string): string {
  const tmp = `${out}.tmp`;
  try {
    if (statSync(out).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CliError(`capture: cannot write ${out} (${codeOf(e)}); nothing was captured`, EXIT.FAILED);
  }
  try {
    writeFileSync(tmp, '');
  } catch (e) {
    throw new CliError(`capture: cannot write ${out} (${codeOf(e)} on ${tmp}); nothing was captured`, EXIT.FAILED);
  }
  return tmp;
}

export function registerCapture(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('capture')
    .description("record this machine's SR-IOV topology as a file the mock loads with --topology")
    .option('--out <FILE>', 'write the topology here (default: stdout)')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as GlobalOptions & { out?: string };
      const out = opts.out;
      const tmp = out === undefined ? null : prepareOut(out);
      let renamed = false;
      try {
        const code = await withBackend(opts, (backend) => {
          const { topology, notes } = capture(backend);
          if (topology.devices.length === 0) {
            stdio.err(
              'iovh: capture: nothing to capture: no SR-IOV PF on this machine (no device has sriov_totalvfs)\n',
            );
            return EXIT.SKIPPED;
          }
          for (const n of notes) stdio.err(`iovh: capture: ${n}\n`);
          const text = `${JSON.stringify(topology, null, 2)}\n`;
          if (out === undefined || tmp === null) {
            stdio.out(text);
            return 0;
          }
          try {
            writeFileSync(tmp, text);
            renameSync(tmp, out);
            renamed = true;
          } catch (e) {
            throw new CliError(`capture: cannot write ${out} (${codeOf(e)})`, EXIT.FAILED);
          }
          stdio.err(
            `iovh: capture: ${topology.devices.length} PF${topology.devices.length === 1 ? '' : 's'} written to ${escapeControls(out)} (load it with --backend mock --topology ${shellWord(out)})\n`,
          );
          return 0;
        });
        setStatus(code);
      } finally {
        if (tmp !== null && !renamed) removeTemp(tmp);
      }
    });
}

/** Removes the temporary file of an unfinished capture; one that is already gone is fine. */
function removeTemp(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      stdio.err(`iovh: capture: cannot remove ${tmp} (${codeOf(e)})\n`);
  }
}
