// The helpers of ajv's runtime that the validators compiled ahead
// (src/schema/compiled.ts) require, given to them by name: imported here
// rather than resolved at run time with require(), which cannot find ajv when
// iovh is bundled into one file (the tests' child-process bundle, or a user's).
// src/schema/generate.ts refuses to write code that requires anything else.
import { createHash } from 'node:crypto';
import ucs2length from 'ajv/dist/runtime/ucs2length.js';
import type { JsonSchema } from './types.js';

/** A CommonJS module as the compiled code expects it (`require(id).default`), however it was imported. */
function asCommonJs(m: unknown): { default: unknown } {
  return { default: typeof m === 'function' ? m : (m as { default: unknown }).default };
}

export const AJV_RUNTIME: Readonly<Record<string, { default: unknown }>> = {
  'ajv/dist/runtime/ucs2length': asCommonJs(ucs2length),
};

/** The `require` the compiled code is evaluated with. */
export function runtimeRequire(id: string): { default: unknown } {
  const m = AJV_RUNTIME[id];
  if (!m) throw new Error(`the compiled schema validators require ${id}, which src/schema/runtime.ts does not provide`);
  return m;
}

/**
 * ajv's options, the same for the compiled module and a compile at run time.
 * allErrors off: the first problem is the message, and validation stops there.
 * verbose: each error carries the schema that failed, whose `description`
 * says what was expected in words.
 */
export const AJV_OPTIONS = { allErrors: false, strict: true, allowUnionTypes: true, verbose: true } as const;

export function schemaHash(schema: JsonSchema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex');
}
