#!/usr/bin/env node
// Writes the JSON Schemas of iovh's files to docs/schemas/ from their
// TypeScript source (src/schema/, built into dist/schema/ by `npm run
// build:ts`), and their validators compiled ahead of time to
// src/schema/compiled.ts (src/schema/generate.ts). `npm run schemas` runs it
// after building, and builds again so that dist/ has the new validators.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { PUBLISHED, publishedText } = await import(join(root, 'dist', 'schema', 'index.js'));
const dir = join(root, 'docs', 'schemas');
mkdirSync(dir, { recursive: true });
for (const { file, schema } of PUBLISHED) {
  writeFileSync(join(dir, file), publishedText(schema));
  process.stdout.write(`docs/schemas/${file}\n`);
}
const { compiledModuleText } = await import(join(root, 'dist', 'schema', 'generate.js'));
writeFileSync(join(root, 'src', 'schema', 'compiled.ts'), compiledModuleText());
process.stdout.write('src/schema/compiled.ts\n');
