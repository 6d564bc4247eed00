// Options every command takes, before or after the subcommand name
// (`iovh --backend mock run` and `iovh run --backend mock` are the same),
// and how a command's options are resolved from the command line and the
// environment.
//
// The rule (docs/safety.md): a flag typed on the command line always wins
// over an environment variable, wherever it is placed. Commander keeps one
// value per command in the chain `iovh [vfs] enable`, and a global option is
// declared on each of them: the root consumes `--backend mock` wherever it is
// typed, while the subcommand's copy takes IOVH_BACKEND from the environment.
// Merging the copies in either fixed order (optsWithGlobals lets the root win,
// `{...globals, ...cmd.opts()}` the subcommand) lets the environment beat the
// command line in one placement or the other: with IOVH_BACKEND=native
// exported, `iovh --backend mock vfs enable ...` wrote the native root.
// resolveOptions() picks each value by its source instead: command line,
// then environment, then default.
//
// It also refuses, as usage errors, what commander would silently settle by
// taking the last value: an option given twice with different values
// (`provision --vf 1 --vf 2`), two spellings of one option (`--baseline X
// --no-baseline`), and an empty value (`--json ''`, IOVH_MOCK_STATE=''), which
// would otherwise quietly mean "not given".
import { Option, type Command } from 'commander';
import { UsageError } from './errors.js';
import { clip } from '../host/quote.js';

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
    .addOption(
      new Option('--profile <name>', 'mock kernel profile (iovh profiles lists them; upstream = upstream-7.1)').env(
        'IOVH_PROFILE',
      ),
    )
    .addOption(
      new Option('--root <dir>', 'native backend: read /sys, /proc and /dev under this directory')
        .env('IOVH_ROOT')
        .hideHelp(),
    );
}

/** One occurrence of an option on the command line: the flag as declared and the text that followed it. */
interface Occurrence {
  flag: string;
  value: unknown;
}

const occurrences = new WeakMap<Command, Map<string, Occurrence[]>>();

/**
 * Records every option each command of the tree sees on the command line
 * (commander emits `option:<name>` once per occurrence), so that
 * resolveOptions() can tell a repeated or contradicted option. Call once,
 * after every option is declared.
 */
export function trackOptions(cmd: Command): void {
  const seen = new Map<string, Occurrence[]>();
  occurrences.set(cmd, seen);
  for (const option of cmd.options) {
    const key = option.attributeName();
    const flag = option.long ?? option.short ?? option.name();
    cmd.on(`option:${option.name()}`, (value: unknown) => {
      const list = seen.get(key) ?? [];
      list.push({ flag, value });
      seen.set(key, list);
    });
  }
  for (const sub of cmd.commands) trackOptions(sub);
}

/** The command and its ancestors, root first. */
function chainOf(cmd: Command): Command[] {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
  return chain;
}

/** Options that may be given several times (their values are collected: --filter). */
function repeatable(chain: Command[], key: string): boolean {
  return chain.some((c) =>
    c.options.some((o) => o.attributeName() === key && (o.variadic || Array.isArray(o.defaultValue))),
  );
}

function quoted(v: unknown): string {
  return v === undefined ? '(no value)' : `'${clip(String(v))}'`;
}

const RANK: Record<string, number> = { cli: 4, env: 3, implied: 2, config: 2, default: 1 };

/**
 * The options of `cmd` and of every command above it, each value taken from
 * the command line when it was typed there (wherever in the line), else
 * from its environment variable, else its default. Throws UsageError for a
 * repeated, contradicted or empty option.
 */
export function resolveOptions<T = Record<string, unknown>>(cmd: Command): T {
  const chain = chainOf(cmd);
  const typed = new Map<string, Occurrence[]>();
  for (const c of chain)
    for (const [key, list] of occurrences.get(c) ?? []) typed.set(key, [...(typed.get(key) ?? []), ...list]);
  for (const [key, list] of typed) {
    for (const o of list) if (o.value === '') throw new UsageError(`${o.flag} needs a value, got an empty string`);
    if (list.length < 2 || repeatable(chain, key)) continue;
    const flags = [...new Set(list.map((o) => o.flag))];
    if (flags.length > 1) throw new UsageError(`${flags.join(' and ')} contradict each other: give one of them`);
    const values = [...new Set(list.map((o) => String(o.value)))];
    if (values.length > 1)
      throw new UsageError(`${flags[0]} given ${list.length} times (${values.map(quoted).join(', ')}): give it once`);
  }
  const out: Record<string, unknown> = {};
  const rank = new Map<string, number>();
  for (const c of chain) {
    const values = c.opts();
    for (const option of c.options) {
      const key = option.attributeName();
      if (!(key in values)) continue;
      const source = c.getOptionValueSource(key);
      const r = source ? (RANK[source] ?? 0) : 0;
      if (source === 'env' && values[key] === '' && option.envVar)
        throw new UsageError(`${option.envVar} is set to an empty string: unset it or give it a value`);
      // Equal ranks: the deeper command's value (its own default over the root's).
      if (r >= (rank.get(key) ?? -1)) {
        out[key] = values[key];
        rank.set(key, r);
      }
    }
  }
  return out as T;
}

/** The global options of `cmd` as resolved by resolveOptions, with `auto` for a backend not asked for. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = resolveOptions<Partial<GlobalOptions>>(cmd);
  return { ...o, backend: o.backend ?? 'auto' };
}
