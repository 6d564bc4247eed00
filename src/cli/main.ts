// `iovh`: the command line. Each command lives in src/cli/commands/<name>.ts
// and is registered in src/cli/commands/index.ts.
//
// Exit status (../shared/DESIGN.md): 0 no unexpected failure, 1 unexpected
// fail/warn/crash/timeout or an operational error, 2 usage error, 77 everything
// skipped, 99 the harness itself is broken.
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { addGlobalOptions } from './global.js';
import { UsageError, CliError } from './errors.js';
import { SystemError } from '../uapi/errors.js';
import { VERSION } from '../version.js';

export async function main(argv: string[]): Promise<number> {
  const program = addGlobalOptions(new Command('iovh'))
    .description("Validate the dma-buf IOV interconnect: VF LMEM exported by vfio-pci, imported by the PF's xe.")
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) });
  let status = 0;
  for (const register of commands) {
    const cmd = register(program, (code) => {
      status = code;
    });
    addGlobalOptions(cmd).exitOverride();
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * Messages often quote what the user typed ('0000:03:00.0\n' from a file, a
 * path with a newline): control characters are escaped so that an error is
 * always one line.
 */
export function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; everything else commander raises is usage.
    if (e.exitCode === 0) return 0;
    return 2;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`iovh: ${oneLine(e.message)}\n`);
    return 2;
  }
  if (e instanceof CliError) {
    process.stderr.write(`iovh: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (e instanceof SystemError) {
    process.stderr.write(`iovh: ${oneLine(e.message)}\n`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`iovh: internal error: ${oneLine(err.message)}\n`);
  if (process.env.IOVH_DEBUG === '1' && err.stack) process.stderr.write(`${err.stack}\n`);
  return 99;
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
