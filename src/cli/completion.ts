// Shell completion scripts for bash and zsh, generated from the command tree
// (src/cli/spec.ts): `iovh completion bash` / `iovh completion zsh` print
// them. They complete commands, options, the choices an option takes
// (--backend, --profile, --skip-exit), files where a file is asked for, and
// PCI addresses from /sys/bus/pci/devices where a PF or VF is. Installing:
// README ("Shell completion and the man page").
import { allCommands, isGlobalOption, type CommandSpec, type OptionSpec, type ValueKind } from './spec.js';

const key = (c: CommandSpec): string => c.path.join(' ');

/** A word for a single-quoted shell string. */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function flagsOf(o: OptionSpec): string[] {
  return [o.short, o.long].filter((f): f is string => f !== null);
}

/** The bash statements that fill COMPREPLY with candidates for a value of this kind. */
function bashValue(v: ValueKind): string {
  switch (v.kind) {
    case 'choice':
      return `COMPREPLY=($(compgen -W ${sq(v.choices.join(' '))} -- "$cur"))`;
    case 'file':
      return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))';
    case 'dir':
      return 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur"))';
    case 'pci':
      return 'COMPREPLY=($(compgen -W "$(_iovh_pci)" -- "$cur"))';
    case 'text':
      return 'COMPREPLY=()';
  }
}

export function bashCompletion(root: CommandSpec): string {
  const cmds = allCommands(root);
  const subcommands = cmds
    .filter((c) => c.commands.length > 0)
    .map((c) => `    ${sq(key(c))}) echo ${sq(c.commands.map((s) => s.path.at(-1)).join(' '))} ;;`);
  const options = cmds.map((c) => `    ${sq(key(c))}) echo ${sq(c.options.flatMap(flagsOf).join(' '))} ;;`);
  // The global options are declared on every command alike (src/cli/global.ts): one pattern for all, `*|--backend`;
  // an option of a command is listed on its own only where it is not one of those.
  const own = (c: CommandSpec): OptionSpec[] => (c === root ? [] : c.options.filter((o) => !isGlobalOption(root, o)));
  const rows = (c: CommandSpec | null, pick: (o: OptionSpec) => boolean): [string, OptionSpec][] =>
    (c ? own(c) : root.options)
      .filter((o) => o.value && pick(o))
      .flatMap((o) => flagsOf(o).map((f): [string, OptionSpec] => [c ? `${key(c)}|${f}` : `*|${f}`, o]));
  // Options that take a value: the next word is that value, not a command (commander gives an optional value,
  // `--json [file]`, the next word too when it does not start with '-').
  const valued = [...cmds.flatMap((c) => rows(c, () => true)), ...rows(null, () => true)];
  const takes = valued.map(([pattern]) => (pattern.startsWith('*') ? `*${sq(pattern.slice(1))}` : sq(pattern)));
  const values = valued.map(
    ([pattern, o]) =>
      `    ${pattern.startsWith('*') ? `*${sq(pattern.slice(1))}` : sq(pattern)}) ${bashValue(o.value!)} ;;`,
  );
  const positional = cmds
    .filter((c) => c.commands.length === 0 && c.arguments.length > 0)
    .flatMap((c) => c.arguments.map((a, i) => `    ${sq(`${key(c)}|${i}`)}) ${bashValue(a.value)} ;;`));
  return `# bash completion for iovh, generated from its command definitions by \`iovh completion bash\`.
# Load it in the current shell:  source <(iovh completion bash)
# or install it:  iovh completion bash > ~/.local/share/bash-completion/completions/iovh

# PCI addresses as the kernel names them; under $IOVH_ROOT when set, as iovh itself reads sysfs.
_iovh_pci() {
  local d
  for d in "\${IOVH_ROOT:-}"/sys/bus/pci/devices/*; do [[ -e $d ]] && echo "\${d##*/}"; done
}

_iovh_subcommands() {
  case $1 in
${subcommands.join('\n')}
  esac
}

_iovh_options() {
  case $1 in
${options.join('\n')}
  esac
}

_iovh_takes_value() {
  case "$1|$2" in
    ${takes.join(' | ')}) return 0 ;;
  esac
  return 1
}

_iovh_value() {
  case "$1|$2" in
${values.join('\n')}
    *) COMPREPLY=() ;;
  esac
}

_iovh_positional() {
  case "$1|$2" in
${positional.join('\n')}
    *) COMPREPLY=() ;;
  esac
}

_iovh() {
  # The words as typed, split on blanks only: bash's own COMP_WORDS also breaks at ':' and '=', which would cut
  # a PCI address (0000:03:00.0) and --option=value apart.
  local line=\${COMP_LINE:0:COMP_POINT} path='' i w value_of='' npos=0 sub cur
  local -a words
  read -ra words <<< "$line"
  [[ $line == *[[:blank:]] || \${#words[@]} -eq 0 ]] && words+=('')
  cur=\${words[\${#words[@]} - 1]}
  COMPREPLY=()
  # Walk the words before the cursor: commands extend the path, an option that takes a value eats the next word.
  for ((i = 1; i < \${#words[@]} - 1; i++)); do
    w=\${words[i]}
    if [[ -n $value_of ]]; then value_of=''; continue; fi
    case $w in
      --*=*) continue ;;
      -*) _iovh_takes_value "$path" "$w" && value_of=$w; continue ;;
    esac
    sub=" $(_iovh_subcommands "$path") "
    if [[ $sub == *" $w "* ]]; then path=\${path:+$path }$w; npos=0; else npos=$((npos + 1)); fi
  done
  local typed=$cur
  if [[ -n $value_of && $cur != -* ]]; then
    _iovh_value "$path" "$value_of"
  elif [[ $cur == --*=* ]]; then
    local flag=\${cur%%=*}
    cur=\${cur#*=}
    _iovh_value "$path" "$flag"
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_iovh_options "$path")" -- "$cur"))
  else
    sub=$(_iovh_subcommands "$path")
    if [[ -n $sub ]]; then
      COMPREPLY=($(compgen -W "$sub" -- "$cur"))
    else
      _iovh_positional "$path" "$npos"
    fi
  fi
  # bash replaces only what follows the last ':' of the word: drop what is before it from each candidate.
  if [[ $typed == *:* && $typed != --*=* ]]; then
    local keep=\${typed%"\${typed##*:}"}
    COMPREPLY=("\${COMPREPLY[@]#"$keep"}")
  fi
}

complete -F _iovh iovh
`;
}

/** Text inside an _arguments spec: brackets and colons escaped, on one line. */
function zq(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/\\/g, '\\\\')
    .replace(/([[\]:])/g, '\\$1');
}

function zshAction(v: ValueKind): string {
  switch (v.kind) {
    case 'choice':
      return `(${v.choices.join(' ')})`;
    case 'file':
      return '_files';
    case 'dir':
      return '_files -/';
    case 'pci':
      return '_iovh_pci';
    case 'text':
      return ' ';
  }
}

function zshOption(o: OptionSpec): string {
  const flags = flagsOf(o);
  const excl = flags.length > 1 ? `(${flags.join(' ')})` : '';
  const star = o.repeatable ? '*' : '';
  const desc = `[${zq(o.description)}]`;
  const valueName = zq((o.placeholder ?? '').replace(/[<>[\]]/g, '')) || 'value';
  const value = o.value ? `${o.optionalValue ? '::' : ':'}${valueName}:${zshAction(o.value)}` : '';
  const body = (flag: string): string => `${flag}${o.value && flag.startsWith('--') ? '=' : ''}${desc}${value}`;
  // _arguments: '(-q --quiet)'{-q,--quiet}'[...]' as two specs sharing the exclusion list.
  return flags.map((f) => sq(`${excl}${star}${body(f)}`)).join(' \\\n    ');
}

/** `_iovh_vfs_enable` for `iovh vfs enable`: the function that completes a command's words. */
function zshFunctionName(c: CommandSpec): string {
  return `_iovh${c.path.map((p) => `_${p.replace(/-/g, '_')}`).join('')}`;
}

function zshFunction(c: CommandSpec): string {
  const name = zshFunctionName(c);
  const specs = c.options.map(zshOption);
  if (c.commands.length > 0) {
    const list = c.commands.map((s) => sq(`${s.path.at(-1)}:${zq(s.description)}`));
    const cases = c.commands.map((s) => `      ${s.path.at(-1)}) ${zshFunctionName(s)} ;;`);
    return `${name}() {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args
  local -a commands=(
    ${list.join('\n    ')}
  )
  _arguments -C -s \\
    ${specs.join(' \\\n    ')} \\
    '1:command:->command' \\
    '*::argument:->argument' && ret=0
  case $state in
    command) _describe -t commands 'iovh${c.path.length > 0 ? ` ${c.path.join(' ')}` : ''} command' commands && ret=0 ;;
    argument)
      case $line[1] in
${cases.join('\n')}
      esac
      ;;
  esac
  return ret
}
`;
  }
  const args = c.arguments.map((a, i) => sq(`${i + 1}:${zq(a.name)}:${zshAction(a.value)}`));
  return `${name}() {
  _arguments -s \\
    ${[...specs, ...args].join(' \\\n    ')}
}
`;
}

export function zshCompletion(root: CommandSpec): string {
  return `#compdef iovh
# zsh completion for iovh, generated from its command definitions by \`iovh completion zsh\`.
# Install it as _iovh in a directory of $fpath, before compinit runs:
#   iovh completion zsh > ~/.zfunc/_iovh   (with fpath=(~/.zfunc $fpath) in ~/.zshrc)

# PCI addresses as the kernel names them; under $IOVH_ROOT when set, as iovh itself reads sysfs.
_iovh_pci() {
  local -a bdfs expl
  bdfs=(\${IOVH_ROOT:-}/sys/bus/pci/devices/*(N:t))
  _wanted pci-addresses expl 'PCI address' compadd -a bdfs
}

${allCommands(root).map(zshFunction).join('\n')}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _iovh "$@"
else
  compdef _iovh iovh
fi
`;
}

export const SHELLS = ['bash', 'zsh'] as const;

export function completionScript(shell: (typeof SHELLS)[number], root: CommandSpec): string {
  return shell === 'bash' ? bashCompletion(root) : zshCompletion(root);
}
