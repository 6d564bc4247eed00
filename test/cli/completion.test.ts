// `iovh completion bash|zsh`: the scripts are generated from the command tree
// and driven here by the real shells: bash through its completion variables
// (COMP_LINE, COMP_POINT, COMPREPLY), zsh through its completion system in a
// pseudo-terminal (test/cli/zsh-capture.zsh presses Tab). PCI addresses come
// from a fixture tree under IOVH_ROOT, never this machine's /sys.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { allCommands, cliSpec } from '../../src/cli/spec.js';
import { scratchDir } from '../support/scratch.js';
import { iovh } from './run-cli.js';

const CAPTURE = fileURLToPath(new URL('./zsh-capture.zsh', import.meta.url));
const has = (shell: string): boolean => spawnSync(shell, ['-c', 'exit 0']).status === 0;
const ZSH = has('zsh');

let dir = '';
let root = '';
let bashScript = '';
let zshDir = '';
beforeAll(async () => {
  dir = scratchDir('iovh-completion-');
  root = join(dir, 'root');
  for (const bdf of ['0000:03:00.0', '0000:03:00.1', '0000:03:00.2'])
    mkdirSync(join(root, 'sys/bus/pci/devices', bdf), { recursive: true });
  mkdirSync(join(dir, 'cwd'));
  writeFileSync(join(dir, 'cwd', 'results.json'), '{}');
  const bash = await iovh('completion', 'bash');
  expect(bash.code).toBe(0);
  bashScript = join(dir, 'iovh.bash');
  writeFileSync(bashScript, bash.stdout);
  const zsh = await iovh('completion', 'zsh');
  expect(zsh.code).toBe(0);
  zshDir = join(dir, 'zfunc');
  mkdirSync(zshDir);
  writeFileSync(join(zshDir, '_iovh'), zsh.stdout);
});

/** What bash offers for `line` (the cursor at its end). */
function bashComplete(line: string): string[] {
  const r = spawnSync(
    'bash',
    [
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, ${#2} is bash's
      'source "$1"; COMP_LINE=$2; COMP_POINT=${#2}; _iovh; printf "%s\\n" "${COMPREPLY[@]}"',
      'c',
      bashScript,
      line,
    ],
    { encoding: 'utf8', cwd: join(dir, 'cwd'), env: { ...process.env, IOVH_ROOT: root } },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** What zsh offers for `line`. */
function zshComplete(line: string): string[] {
  const r = spawnSync('zsh', ['-f', CAPTURE, zshDir, line], {
    encoding: 'utf8',
    cwd: join(dir, 'cwd'),
    env: { ...process.env, IOVH_ROOT: root },
    timeout: 20_000,
  });
  return r.stdout.split('\n').filter((l) => l !== '');
}

// Every command of the tree, in its order (run, report and completion among them).
const COMMANDS = cliSpec(buildProgram()).commands.map((c) => c.path[0]!);

describe('iovh completion bash', () => {
  it('is valid bash', () => {
    expect(spawnSync('bash', ['-n', bashScript]).status).toBe(0);
  });

  it('completes commands, subcommands after global options, options, choices, files and PCI addresses', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['doctor', 'vfs', 'run', 'report', 'completion']));
    expect(bashComplete('iovh ')).toEqual(COMMANDS);
    expect(bashComplete('iovh r')).toEqual(['restore', 'run', 'report']);
    expect(bashComplete('iovh --backend mock --profile rfc-v1 vfs ')).toEqual(['enable', 'disable']);
    expect(bashComplete('iovh run --sk')).toEqual(['--skip-exit']);
    expect(bashComplete('iovh run --skip-exit ')).toEqual(['77', '4']);
    expect(bashComplete('iovh run --backend=')).toEqual(['auto', 'native', 'mock']);
    expect(bashComplete('iovh doctor --profile rfc')).toEqual(['rfc-v1', 'rfc-v2']);
    expect(bashComplete('iovh vfs enable ')).toEqual(['0000:03:00.0', '0000:03:00.1', '0000:03:00.2']);
    // bash breaks words at ':' and replaces only what follows the last one.
    expect(bashComplete('iovh run --pf 0000:03:00.')).toEqual(['00.0', '00.1', '00.2']);
    expect(bashComplete('iovh report ')).toEqual(['results.json']);
    expect(bashComplete('iovh run --json r')).toEqual(['results.json']);
    expect(bashComplete('iovh completion ')).toEqual(['bash', 'zsh']);
  });

  it('offers every option each command has, as the command tree defines it', () => {
    for (const c of allCommands(cliSpec(buildProgram()))) {
      const offered = bashComplete(`iovh ${c.path.map((p) => `${p} `).join('')}-`);
      const defined = c.options.flatMap((o) => [o.short, o.long]).filter((f): f is string => f !== null);
      expect(offered.sort(), c.path.join(' ')).toEqual(defined.sort());
    }
  });
});

describe('iovh completion zsh', () => {
  it('is valid zsh, and completes through compinit as installed on $fpath', (ctx) => {
    if (!ZSH) return ctx.skip('zsh is not installed: apt-get install zsh (.ci/run does)');
    expect(spawnSync('zsh', ['-n', join(zshDir, '_iovh')]).status).toBe(0);
    expect(zshComplete('iovh ').sort()).toEqual([...COMMANDS].sort());
    expect(zshComplete('iovh --backend mock vfs ').sort()).toEqual(['disable', 'enable']);
    expect(zshComplete('iovh run --skip-exit ').sort()).toEqual(['4', '77']);
    expect(zshComplete('iovh run --profile rfc').sort()).toEqual(['rfc-v1', 'rfc-v2']);
    expect(zshComplete('iovh vfs enable ').sort()).toEqual(['0000:03:00.0', '0000:03:00.1', '0000:03:00.2']);
    expect(zshComplete('iovh completion ').sort()).toEqual(['bash', 'zsh']);
    expect(zshComplete('iovh vfs enable --')).toEqual(expect.arrayContaining(['--dry-run', '--json', '--backend']));
    // Seven interactive shells, each up to 20 s on a loaded machine.
  }, 180_000);
});

describe('iovh completion, bad input', () => {
  it('another shell is a usage error naming the two', async () => {
    const r = await iovh('completion', 'fish');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: command-argument value 'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh\./,
    );
  });
});
