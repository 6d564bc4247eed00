// @ts-check
// Imported first by main.mjs, so evaluated before its other modules: some of
// those take parts of the library from the checkout's dist/ as they load
// (paths.mjs fromDist), and a checkout that was never built would meet the
// module loader's stack trace there instead of main.mjs's one line.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.mjs';

if (!existsSync(join(repoRoot, 'dist', 'index.js'))) {
  process.stderr.write('qemu-ci: dist/ is not built (run `npm ci`, or `npm run build:ts` after a change)\n');
  // `run` (the default command) owes its counts line, as main.mjs's own error path prints it.
  const command = process.argv[2] ?? 'run';
  if (command === 'run' || command.startsWith('-')) process.stdout.write('qemu: 0 passed, 1 failed, 0 skipped\n');
  process.exit(1);
}
