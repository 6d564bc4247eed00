// `iovh`: the command line. Each command lives in src/cli/commands/<name>.ts
// and is registered in src/cli/commands/index.ts.
//
// Exit statuses: the table in src/report/exit.ts. What an error that reaches
// main() exits with is decided here, once (exitCodeOf).
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { addGlobalOptions, trackOptions } from './global.js';
import { UsageError, CliError } from './errors.js';
import { SystemError } from '../uapi/errors.js';
import { BackendChoiceError } from '../backend/select.js';
import { BringupError, InputError } from '../host/errors.js';
import { EXIT } from '../report/exit.js';
import { BrokenInstallError } from '../api/run.js';
import { VERSION } from '../version.js';
import { clip } from '../host/quote.js';
import { LockError } from '../lockfile.js';
import { envVfToken } from '../uapi/vfio.js';
import { stdoutLost, watchStdout } from './output.js';

/**
 * The whole command tree, options and help texts; `setStatus` receives each
 * command's exit status. Shell completion and the man page (src/cli/completion.ts,
 * src/cli/man.ts) are generated from this same tree, so they cannot drift from it.
 */
export function buildProgram(setStatus: (code: number) => void = () => undefined): Command {
  const program = addGlobalOptions(new Command('iovh'))
    .description("Validate the dma-buf IOV interconnect: VF LMEM exported by vfio-pci, imported by the PF's xe.")
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });
  for (const register of commands) addGlobalOptions(register(program, setStatus)).exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let status: number = EXIT.OK;
  const program = buildProgram((code) => {
    status = code;
  });
  trackOptions(program);
  watchStdout();
  try {
    // The environment's VF token is checked before any command runs, not at the first VF open mid-run.
    try {
      envVfToken();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    status = reportError(e);
  }
  // Output that never reached stdout is a failure of the command, however it ended (src/cli/output.ts).
  const lost = await stdoutLost();
  // EPIPE is the reader saying it has seen enough (`iovh topology | head -1`): its choice, not a failure.
  if (lost && lost.code !== 'EPIPE') {
    if (!lost.told) process.stderr.write(`iovh: cannot write to stdout (${lost.code}): the output is lost\n`);
    if (status === EXIT.OK) status = EXIT.FAILED;
  }
  return status;
}

/**
 * Messages often quote what the user typed ('0000:03:00.0\n' from a file, a
 * path with a newline): control characters are escaped so that an error is
 * always one line.
 */
export function oneLine(message: string): string {
  return message
    .replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1))
    .replace(/\S{1025,}/g, (word) => clip(word, 1024));
}

/** The exit status of an error that ends a command, and whether it is one the user is told about in a line. */
export function exitCodeOf(e: unknown): { code: number; known: boolean } {
  if (e instanceof UsageError || e instanceof InputError) return { code: EXIT.USAGE, known: true };
  if (e instanceof BackendChoiceError) return { code: e.kind === 'input' ? EXIT.USAGE : EXIT.BROKEN, known: true };
  if (e instanceof CliError) return { code: e.exitCode, known: true };
  if (e instanceof BrokenInstallError) return { code: EXIT.BROKEN, known: true };
  if (e instanceof BringupError || e instanceof SystemError || e instanceof LockError)
    return { code: EXIT.FAILED, known: true };
  return { code: EXIT.BROKEN, known: false };
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; everything else commander raises is usage.
    if (e.exitCode === 0) return EXIT.OK;
    return EXIT.USAGE;
  }
  const { code, known } = exitCodeOf(e);
  const err = e instanceof Error ? e : new Error(String(e));
  if (known) {
    process.stderr.write(`iovh: ${oneLine(err.message)}\n`);
    return code;
  }
  process.stderr.write(`iovh: internal error: ${oneLine(err.message)}\n`);
  if (process.env.IOVH_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}

const isEntry = process.argv[1] !== undefined && /(?:^|[/\\])(?:iovh(?:\.js)?|main\.js)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(e);
    },
  );
}
