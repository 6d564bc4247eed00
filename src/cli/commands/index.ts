// The command table. Each entry adds one subcommand to `program`, returns it
// (so global options are added to it too), and reports its exit status through
// `setStatus`.
import type { Command } from 'commander';

export type Register = (program: Command, setStatus: (code: number) => void) => Command;

export const commands: Register[] = [];
