#!/usr/bin/env node
// Writes the JSON Schemas of iovh's files to docs/schemas/ from their
// TypeScript source (src/schema/, built into dist/schema/ by `npm run
// build:ts`). `npm run schemas` runs it after building.
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
