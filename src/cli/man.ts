// The man page iovh(1), generated from the command tree (src/cli/spec.ts)
// like the shell completion: every command, argument and option with its
// help text, the environment variables the options read, the exit statuses
// (src/report/exit.ts EXIT_MEANINGS). `npm run man` writes it to docs/iovh.1, which the
// package installs as its man page (package.json "man");
// test/cli/man.test.ts fails when the committed page is stale and checks it
// with groff's warnings on.
import { EXIT_MEANINGS } from '../report/exit.js';
import { isGlobalOption, type ArgumentSpec, type CommandSpec, type OptionSpec } from './spec.js';

/** Text for roff: backslashes escaped, no line starting with a control character, one line. */
function text(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/, '\\&$1');
}

/** Help texts are fragments; the page wants sentences. */
function sentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function bold(s: string): string {
  return `\\fB${text(s)}\\fR`;
}

function italic(s: string): string {
  return `\\fI${text(s)}\\fR`;
}

function optionHead(o: OptionSpec): string {
  const flags = [o.short, o.long].filter((f): f is string => f !== null).map(bold);
  const value = o.placeholder
    ? ` ${o.optionalValue ? '[' : ''}${italic(o.placeholder.replace(/[<>[\]]/g, ''))}${o.optionalValue ? ']' : ''}`
    : '';
  return `${flags.join(', ')}${value}`;
}

function optionBody(o: OptionSpec): string {
  const extra: string[] = [];
  if (o.value?.kind === 'choice') extra.push(`one of: ${o.value.choices.join(', ')}`);
  if (o.defaultValue !== null) extra.push(`default ${o.defaultValue}`);
  if (o.env) extra.push(`environment ${o.env}; the flag wins over it`);
  if (o.repeatable) extra.push('may be given several times');
  return text(sentence(`${o.description}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`));
}

function usage(c: CommandSpec): string {
  const args = c.arguments.map((a: ArgumentSpec) => (a.required ? italic(a.name) : `[${italic(a.name)}]`));
  return [
    bold(['iovh', ...c.path].join(' ')),
    ...(c.commands.length > 0 ? [italic('command')] : []),
    '[options]',
    ...args,
  ].join(' ');
}

function options(list: readonly OptionSpec[]): string[] {
  return list.flatMap((o) => ['.TP', optionHead(o), optionBody(o)]);
}

function commandSection(root: CommandSpec, c: CommandSpec): string[] {
  const lines = ['.SS', usage(c), text(sentence(c.description))];
  if (c.arguments.length > 0) {
    lines.push('.RS', '.PP', 'Arguments:');
    for (const a of c.arguments) lines.push('.TP', italic(a.name), text(a.description));
    lines.push('.RE');
  }
  const own = c.options.filter((o) => !isGlobalOption(root, o));
  if (own.length > 0) lines.push('.RS', '.PP', 'Options:', ...options(own), '.RE');
  return [...lines, ...c.commands.flatMap((s) => commandSection(root, s))];
}

/** Variables iovh reads that no option declares (test/cli/man.test.ts finds any that is missing). */
const OTHER_ENVIRONMENT: readonly [string, string][] = [
  ['IOVH_STATE_DIR', 'where the bring-up journal is kept (default /var/lib/iovh as root, else $XDG_STATE_HOME/iovh)'],
  [
    'IOVH_LOCK_WAIT',
    'seconds to wait for another iovh holding the mock state or journal lock (default 60, 0: do not wait)',
  ],
  [
    'IOVH_VF_TOKEN',
    'the VF token (a UUID) to open VFs with when their PF is on vfio-pci, such as the one your VM manager uses (default: a random one per run, which the PF then keeps)',
  ],
  ['IOVH_READ_WAIT', 'seconds a pipe or FIFO given as an input file may stay silent before the read is given up'],
  [
    'IOVH_QEMU_CACHE',
    "where iovh qemu keeps QEMU's tools, initramfs images, serial logs and results (default $XDG_CACHE_HOME/iovh/qemu)",
  ],
  ['IOVH_QEMU_APPEND', "extra kernel parameters for iovh qemu's guests, for debugging (loglevel=7)"],
  ['IOVH_ADDON', 'the native addon file to load instead of build/Release/iovh.node (a sanitizer build, say)'],
  ['FORCE_COLOR', "colour on for '', 1, 2, 3 or true whatever the output and NO_COLOR say; off for any other value"],
  ['NO_COLOR', 'set and not empty: no colour on a terminal (https://no-color.org)'],
  ['IOVH_DEBUG', '1: print the stack of an internal error'],
];

export function manPage(root: CommandSpec, version: string): string {
  const envs = new Map<string, string>();
  for (const o of root.options) if (o.env) envs.set(o.env, `the default of ${o.long}`);
  const walk = (c: CommandSpec): void => {
    for (const o of c.options)
      if (o.env && !envs.has(o.env)) envs.set(o.env, `the default of ${['iovh', ...c.path].join(' ')} ${o.long}`);
    c.commands.forEach(walk);
  };
  walk(root);
  for (const [name, what] of OTHER_ENVIRONMENT) envs.set(name, what);
  const lines = [
    `.\\" Generated from iovh's command definitions (src/cli/man.ts, npm run man): do not edit.`,
    `.TH IOVH 1 "" "iovh ${text(version)}" "User Commands"`,
    '.SH NAME',
    `iovh \\- ${text(root.description.replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    `${bold('iovh')} [${italic('global options')}] ${italic('command')} [${italic('options')}] [${italic('arguments')}]`,
    '.br',
    `${bold('iovh run')} [${bold('--backend')} ${italic('auto|native|mock')}] [${bold('--json')} ${italic('file')}] [${bold('--ktap')} ${italic('file')}] [${bold('--junit')} ${italic('file')}] ...`,
    '.SH DESCRIPTION',
    text(
      'iovh validates the VFIO dma-buf export of SR-IOV VF memory and its import by the PF driver (xe) or iommufd, on this machine (native), or on a model of the kernel (mock) when the machine has no such GPU. Scenarios report pass, fail, skip, warn, crash or timeout, judged against a baseline of known defects; reports are written as JSON, KTAP, JUnit XML and KCIDB JSON.',
    ),
    '.PP',
    text(
      'Global options may be typed before or after the command. A flag typed on the command line wins over its environment variable.',
    ),
    '.SH GLOBAL OPTIONS',
    ...options(root.options),
    '.SH COMMANDS',
    ...root.commands.flatMap((c) => commandSection(root, c)),
    '.SH EXIT STATUS',
    ...EXIT_MEANINGS.flatMap(([code, what]) => ['.TP', bold(String(code)), text(what)]),
    '.SH ENVIRONMENT',
    ...[...envs].flatMap(([name, what]) => ['.TP', bold(name), text(what)]),
    '.SH FILES',
    '.TP',
    bold('baselines/<profile>.json'),
    text('the expected status of each scenario on each kernel the mock models (shipped in the package).'),
    '.TP',
    bold('docs/schemas/'),
    text('JSON Schemas of the results, topology and setup plan files.'),
    '.SH SEE ALSO',
    text(
      'The package documentation: README.md, docs/api.md (the library), docs/report-schema.md, docs/bringup.md, docs/topology.md, docs/profiles.md, docs/safety.md.',
    ),
  ];
  return `${lines.join('\n')}\n`;
}
