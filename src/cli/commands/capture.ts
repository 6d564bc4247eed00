// `iovh capture [--out FILE]`: this machine's SR-IOV PFs as an
// iovh-topology/1 file (docs/topology.md) for the mock's --topology, so a lab
// machine can be replayed in CI (src/host/capture.ts). Reads only. Without
// --out the JSON goes to stdout; what could not be captured goes to stderr.
import type { Command } from 'commander';
import { CliError, UsageError } from '../errors.js';
import { globalOptions, type GlobalOptions } from '../global.js';
import { stdio, withBackend } from '../state-change.js';
import { EXIT } from '../../report/exit.js';
import { capture } from '../../host/capture.js';
import { escapeControls, shellWord } from '../../host/quote.js';
import {
  codeOf,
  OutputFileError,
  outputMode,
  probeOutput,
  sameFileProblem,
  writeOutput,
  type OutputMode,
} from '../../outfile.js';

/**
 * The --out file, checked before anything is read (src/outfile.ts): not an
 * input of this command, not a directory or a link loop, and writable (a
 * regular file is replaced atomically through a temporary sibling, whose
 * creation is tried now; a device or FIFO is written in place, never
 * replaced).
 */
function prepareOut(out: string, opts: GlobalOptions): OutputMode {
  const problem = sameFileProblem(
    [{ flag: '--out', path: out }],
    [
      ...(opts.topology === undefined ? [] : [{ flag: '--topology', path: opts.topology }]),
      ...(opts.mockState === undefined ? [] : [{ flag: '--mock-state', path: opts.mockState }]),
    ],
  );
  if (problem) throw new UsageError(`capture: ${problem}; nothing was captured`);
  try {
    const mode = outputMode(out);
    probeOutput(mode);
    return mode;
  } catch (e) {
    const why = e instanceof OutputFileError ? e.message : codeOf(e);
    throw new CliError(`capture: cannot write ${out} (${why}); nothing was captured`, EXIT.FAILED);
  }
}

export function registerCapture(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('capture')
    .description("record this machine's SR-IOV topology as a file the mock loads with --topology")
    .option('--out <FILE>', 'write the topology here (default: stdout)')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globalOptions(cmd) as GlobalOptions & { out?: string };
      const out = opts.out;
      const mode = out === undefined ? null : prepareOut(out, opts);
      const code = await withBackend(opts, 'read', (backend) => {
        const { topology, notes } = capture(backend);
        if (topology.devices.length === 0) {
          stdio.err('iovh: capture: nothing to capture: no SR-IOV PF on this machine (no device has sriov_totalvfs)\n');
          return EXIT.SKIPPED;
        }
        for (const n of notes) stdio.err(`iovh: capture: ${n}\n`);
        const text = `${JSON.stringify(topology, null, 2)}\n`;
        if (out === undefined || mode === null) {
          stdio.out(text);
          return EXIT.OK;
        }
        try {
          writeOutput(mode, text);
        } catch (e) {
          throw new CliError(`capture: cannot write ${out} (${codeOf(e)})`, EXIT.FAILED);
        }
        stdio.err(
          `iovh: capture: ${topology.devices.length} PF${topology.devices.length === 1 ? '' : 's'} written to ${escapeControls(out)} (load it with --backend mock --topology ${shellWord(out)})\n`,
        );
        return EXIT.OK;
      });
      setStatus(code);
    });
}
