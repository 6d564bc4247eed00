// The command line as data, read from commander's tree (src/cli/main.ts
// buildProgram): every command, its arguments and options, what kind of value
// each takes. Shell completion (src/cli/completion.ts) and the man page
// (src/cli/man.ts) are generated from it, so a new option appears in both
// without anyone editing them.
import type { Argument, Command, Option } from 'commander';
import { PROFILE_ALIASES, PROFILES } from '../backend/select.js';

/** What a value is, for a shell to offer candidates: a file, a directory, a PCI address, one of a list, or free text. */
export type ValueKind =
  | { kind: 'file' }
  | { kind: 'dir' }
  | { kind: 'pci' }
  | { kind: 'choice'; choices: readonly string[] }
  | { kind: 'text' };

export interface OptionSpec {
  long: string | null;
  short: string | null;
  /** The placeholder as the help shows it (`<file>`, `[file]`), or null for a flag. */
  placeholder: string | null;
  /** The value may be left out (`--json [file]`). */
  optionalValue: boolean;
  /** Given several times, each value counts (`--filter`). */
  repeatable: boolean;
  value: ValueKind | null;
  description: string;
  env: string | null;
  defaultValue: string | null;
}

export interface ArgumentSpec {
  name: string;
  required: boolean;
  value: ValueKind;
  description: string;
}

export interface CommandSpec {
  /** Words after `iovh`: [] for iovh itself, ['vfs', 'enable']. */
  path: string[];
  description: string;
  arguments: ArgumentSpec[];
  options: OptionSpec[];
  commands: CommandSpec[];
}

/** The names --profile takes: every profile and alias (src/mock/profiles.ts). */
export function profileNames(): string[] {
  return [...PROFILES.map((p) => p.name), ...Object.keys(PROFILE_ALIASES)];
}

function kindOf(placeholder: string, attribute: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length > 0) return { kind: 'choice', choices };
  if (attribute === 'profile') return { kind: 'choice', choices: profileNames() };
  const name = placeholder.replace(/[<>[\].]/g, '').toLowerCase();
  if (/^(pf|vf|bdf)$/.test(name)) return { kind: 'pci' };
  if (name === 'dir') return { kind: 'dir' };
  if (/file|json$/.test(name) || /\.json$/i.test(placeholder.replace(/[<>[\]]/g, ''))) return { kind: 'file' };
  return { kind: 'text' };
}

function optionSpec(o: Option): OptionSpec {
  const placeholder = /[<[][^>\]]*[>\]]/.exec(o.flags)?.[0] ?? null;
  const choices = (o as Option & { argChoices?: string[] }).argChoices;
  const dflt = o.defaultValue;
  return {
    long: o.long ?? null,
    short: o.short ?? null,
    placeholder,
    optionalValue: o.optional,
    repeatable: o.variadic || Array.isArray(dflt),
    value: placeholder === null ? null : kindOf(placeholder, o.attributeName(), choices),
    description: o.description,
    env: o.envVar ?? null,
    defaultValue: typeof dflt === 'string' ? dflt : null,
  };
}

function argumentSpec(a: Argument): ArgumentSpec {
  const choices = (a as Argument & { argChoices?: string[] }).argChoices;
  return {
    name: a.name(),
    required: a.required,
    value: kindOf(a.name(), a.name(), choices),
    description: a.description,
  };
}

/** The tree under `cmd`, hidden options and commands left out (they are not part of the interface users see). */
export function cliSpec(cmd: Command, path: string[] = []): CommandSpec {
  const hidden = (o: Option): boolean => (o as Option & { hidden?: boolean }).hidden === true;
  const options = cmd.options.filter((o) => !hidden(o)).map(optionSpec);
  // commander adds -h/--help itself, and -V/--version on the root when asked.
  options.push({
    long: '--help',
    short: '-h',
    placeholder: null,
    optionalValue: false,
    repeatable: false,
    value: null,
    description: 'display help for command',
    env: null,
    defaultValue: null,
  });
  return {
    path,
    description: cmd.description(),
    arguments: cmd.registeredArguments.map(argumentSpec),
    options,
    commands: cmd.commands
      .filter((c) => !(c as Command & { _hidden?: boolean })._hidden)
      .map((c) => cliSpec(c, [...path, c.name()])),
  };
}

/** Every command of the tree, depth first, the root first. */
export function allCommands(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.commands.flatMap(allCommands)];
}

/**
 * An option every command declares alike (src/cli/global.ts): one of the
 * root's, found again on a command. Completion offers and the man page
 * documents it once, as a global option.
 */
export function isGlobalOption(root: CommandSpec, o: OptionSpec): boolean {
  return root.options.some((g) => JSON.stringify(g) === JSON.stringify(o));
}
