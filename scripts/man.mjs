#!/usr/bin/env node
// Writes docs/iovh.1, the man page, from the command tree of the built CLI
// (dist/; `npm run man` builds first). test/cli/man.test.ts fails when the
// committed page differs from what this writes.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../dist/cli/main.js';
import { manPage } from '../dist/cli/man.js';
import { cliSpec } from '../dist/cli/spec.js';
import { VERSION } from '../dist/version.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', 'iovh.1');
writeFileSync(out, manPage(cliSpec(buildProgram()), VERSION));
process.stdout.write(`${out}\n`);
