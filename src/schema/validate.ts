// Validation of user files against the published JSON Schemas
// (docs/schemas/), with ajv, the maintained JSON Schema validator. A file that
// does not match gets one line naming where and what: `/scenarios/3/status:
// must be one of pass, fail, skip, warn, crash, timeout (got 'ok')`, never a
// list of ajv's internals.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { JsonSchema } from './types.js';

// allErrors off: the first problem is the one-line message, and validation stops there.
const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const compiled = new Map<JsonSchema, ValidateFunction>();

function validator(schema: JsonSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const ARTICLE: Record<string, string> = {
  object: 'an object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  null: 'null',
};

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** One line for ajv's first error. */
export function describeError(e: ErrorObject, data: unknown): string {
  const at = e.instancePath === '' ? 'the top level' : e.instancePath;
  const got = valueAt(data, e.instancePath);
  switch (e.keyword) {
    case 'required':
      return `${at}: missing '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'additionalProperties':
      return `${at}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    case 'type': {
      const types = String((e.params as { type: string | string[] }).type).split(',');
      return `${at}: must be ${types.map((t) => ARTICLE[t] ?? t).join(' or ')} (got ${show(got)})`;
    }
    case 'enum':
      return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => (v === null ? 'null' : String(v))).join(', ')} (got ${show(got)})`;
    case 'const':
      return `${at}: must be ${show((e.params as { allowedValue: unknown }).allowedValue)} (got ${show(got)})`;
    default:
      return `${at}: ${e.message ?? e.keyword} (got ${show(got)})`;
  }
}

/** Why `data` does not match `schema`, in one line, or null when it does. */
export function schemaProblem(schema: JsonSchema, data: unknown): string | null {
  const v = validator(schema);
  if (v(data)) return null;
  const first = v.errors?.[0];
  return first ? describeError(first, data) : 'does not match its schema';
}
