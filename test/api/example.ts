// docs/api.md's example and the compiler settings of a strict consumer, for
// test/api/example.test.ts and the package test (test/package/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The first ```ts block of docs/api.md. */
export function apiExample(): string {
  const doc = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
  const m = /```ts\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/api.md has no ```ts example');
  return m[1]!;
}

/** The strictest settings a consumer may use. */
export const STRICT_CONSUMER = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  noPropertyAccessFromIndexSignature: false,
  skipLibCheck: false,
  types: ['node'],
};
