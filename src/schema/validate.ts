// Validation of iovh's files against their published JSON Schemas
// (docs/schemas/), with ajv, the maintained JSON Schema validator. A file that
// does not match gets one line naming the field as a reader writes it and
// what is wrong with it: `devices[0].bdf: expected a BDF as the kernel names
// it, like "0000:03:00.0", got "3:0.0"`, `scenarios[3].status: expected one
// of pass, fail, skip, warn, crash, timeout, got "ok"`; never ajv's list.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CODE, HASHES } from './compiled.js';
import { AJV_OPTIONS, runtimeRequire, schemaHash } from './runtime.js';
import type { JsonSchema } from './types.js';

let ajv: Ajv | null = null;
const compiled = new Map<JsonSchema, ValidateFunction>();
let ahead: Record<string, ValidateFunction | undefined> | null = null;

/** The validators compiled ahead of time, by $id: src/schema/compiled.ts's code, evaluated once. */
function compiledAhead(): Record<string, ValidateFunction | undefined> {
  if (!ahead) {
    const module = { exports: {} as Record<string, ValidateFunction | undefined> };
    if (CODE !== '') new Function('module', 'exports', 'require', CODE)(module, module.exports, runtimeRequire);
    ahead = module.exports;
  }
  return ahead;
}

/**
 * The validator of a schema: compiled ahead of time (src/schema/compiled.ts,
 * src/schema/generate.ts) when that was made from this very schema, else
 * compiled now.
 */
function validator(schema: JsonSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    const id = typeof schema.$id === 'string' ? schema.$id : '';
    const made = HASHES[id] === schemaHash(schema) ? compiledAhead()[id] : undefined;
    if (made) v = made;
    else {
      ajv ??= new Ajv(AJV_OPTIONS);
      // ajv keeps compiled schemas by $id: another object with the same $id replaces the one before.
      if (id !== '') ajv.removeSchema(id);
      v = ajv.compile(schema);
    }
    compiled.set(schema, v);
  }
  return v;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
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

/** The keys of a JSON pointer (RFC 6901), unescaped: /a~1b/0 -> ['a/b', '0']. */
function pointerKeys(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** A JSON pointer as a reader writes the field: /devices/0/sriov/vfBars/1/size -> devices[0].sriov.vfBars[1].size. */
export function fieldOf(pointer: string): string {
  let out = '';
  for (const key of pointerKeys(pointer)) {
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function child(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function valueAt(data: unknown, pointer: string): unknown {
  let v = data;
  for (const key of pointerKeys(pointer)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** One line for one of ajv's errors: `field: problem`. */
export function describeError(e: ErrorObject, data: unknown): string {
  const field = fieldOf(e.instancePath);
  const at = field === '' ? '(top level)' : field;
  const got = valueAt(data, e.instancePath);
  // A property name the schema does not allow (propertyNames): the name is the field.
  const name = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (name !== undefined) {
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    return `${child(field, name)}: unknown field${allowed ? ` (expected one of ${allowed.join(', ')})` : ''}`;
  }
  // A leaf schema's description says in words what its value must be ("a hex string like "0x1000""); an object's
  // or an array's describes the whole, not what was expected of one value.
  const parent = e.parentSchema as { description?: unknown; properties?: unknown; items?: unknown } | undefined;
  const leaf = parent !== undefined && parent.properties === undefined && parent.items === undefined;
  const expected = leaf && typeof parent.description === 'string' ? parent.description : null;
  switch (e.keyword) {
    case 'required':
      return `${child(field, (e.params as { missingProperty: string }).missingProperty)}: is required`;
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return `${child(field, (e.params as { additionalProperty: string }).additionalProperty)}: unknown field${known.length > 0 ? ` (expected one of ${known.join(', ')})` : ''}`;
    }
    case 'propertyNames':
      return `${child(field, (e.params as { propertyName: string }).propertyName)}: unknown field`;
    case 'type': {
      if (expected) return `${at}: expected ${expected}, got ${show(got)}`;
      const types = String((e.params as { type: string | string[] }).type).split(',');
      return `${at}: expected ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}, got ${show(got)}`;
    }
    case 'enum':
      return `${at}: expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => (v === null ? 'null' : String(v))).join(', ')}, got ${show(got)}`;
    case 'const':
      return `${at}: expected ${show((e.params as { allowedValue: unknown }).allowedValue)}, got ${show(got)}`;
    case 'minItems':
      return `${at}: expected ${typeof parent?.description === 'string' ? parent.description : 'a non-empty array'}, got ${show(got)}`;
    default:
      if (expected) return `${at}: expected ${expected}, got ${show(got)}`;
      return `${at}: ${e.message ?? e.keyword}, got ${show(got)}`;
  }
}

/** Why `data` does not match `schema`, in one line, or null when it does. */
export function schemaProblem(schema: JsonSchema, data: unknown): string | null {
  const v = validator(schema);
  if (v(data)) return null;
  const first = v.errors?.[0];
  return first ? describeError(first, data) : 'does not match its schema';
}
