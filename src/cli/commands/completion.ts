// `iovh completion bash|zsh`: the shell completion script, generated from
// the command tree this iovh has (src/cli/completion.ts), on stdout.
import { Argument, type Command } from 'commander';
import { completionScript, SHELLS } from '../completion.js';
import { cliSpec } from '../spec.js';
import { stdio } from '../state-change.js';
import { EXIT } from '../../report/exit.js';

export function registerCompletion(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('completion')
    .description('print the shell completion script for bash or zsh (source <(iovh completion bash))')
    .addArgument(new Argument('<shell>', 'the shell: bash or zsh').choices(SHELLS))
    .action((shell: (typeof SHELLS)[number], _o: unknown, cmd: Command) => {
      let root = cmd;
      while (root.parent) root = root.parent;
      stdio.out(completionScript(shell, cliSpec(root)));
      setStatus(EXIT.OK);
    });
}
