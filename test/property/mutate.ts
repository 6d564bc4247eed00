// Random damage to JSON files, for the "rejected with a one-line message,
// never a crash" properties: one edit at a random place of the document (a
// key removed, a value replaced by one of another type or an edge value, an
// array element dropped or doubled, an unknown key added), or damage to the
// text itself (cut short, a byte changed).
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values that break the assumptions validators forget: other types, edges, huge and odd numbers. */
const replacement: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -1,
    1,
    1.5,
    2 ** 53,
    -(2 ** 31),
    4294967296,
    '',
    '0',
    '-1',
    '0x',
    '0xffffffffffffffffff',
    'null',
    [],
    {},
    [null],
    { '': null },
  ),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^0x[0-9a-f]{1,20}$/),
);

/** Every path (array of keys/indexes) into `v`, the root included. */
function paths(
  v: Json,
  at: Array<string | number> = [],
  out: Array<Array<string | number>> = [],
): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export type Edit =
  | { kind: 'replace'; pick: number; value: Json }
  | { kind: 'delete'; pick: number }
  | { kind: 'double'; pick: number }
  | { kind: 'add-key'; pick: number; key: string; value: Json };

export const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: replacement }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('double' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('add-key' as const),
      pick: fc.nat(),
      key: fc.string({ minLength: 1, maxLength: 8 }),
      value: replacement,
    }),
  },
);

/** `doc` with one edit applied (a copy). */
export function applyEdit<T>(doc: T, edit: Edit): Json {
  const root = clone(doc) as unknown as Json;
  const all = paths(root);
  const path = all[edit.pick % all.length]!;
  if (path.length === 0) return edit.kind === 'replace' ? edit.value : root;
  const parentPath = path.slice(0, -1);
  let parent: Json = root;
  for (const k of parentPath) parent = (parent as Record<string | number, Json>)[k]!;
  const key = path[path.length - 1]!;
  const target = parent as Record<string | number, Json> & Json[];
  switch (edit.kind) {
    case 'replace':
      target[key] = edit.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete target[key];
      break;
    case 'double':
      if (Array.isArray(parent)) parent.splice(key as number, 0, clone(parent[key as number]!));
      else target[key] = [clone(target[key]!), clone(target[key]!)];
      break;
    case 'add-key': {
      const obj = target[key];
      if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) obj[edit.key] = edit.value;
      else target[key] = { [edit.key]: edit.value };
      break;
    }
  }
  return root;
}

export type TextDamage = { kind: 'cut'; at: number } | { kind: 'byte'; at: number; char: string };

export const textDamageArb: fc.Arbitrary<TextDamage> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('byte' as const),
    at: fc.nat(),
    char: fc.constantFrom('{', '}', '"', ',', ':', '[', '\u0000', 'x', '9', '\n'),
  }),
);

export function damageText(text: string, d: TextDamage): string {
  const at = d.at % Math.max(1, text.length);
  return d.kind === 'cut' ? text.slice(0, at) : text.slice(0, at) + d.char + text.slice(at + 1);
}

/** One damaged version of `doc` as file text: usually an edit of its structure, sometimes of its text. */
export function damagedFileArb(doc: unknown): fc.Arbitrary<string> {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.array(editArb, { minLength: 1, maxLength: 3 }).map(
        (edits) =>
          `${JSON.stringify(
            edits.reduce<Json>((d, e) => applyEdit(d, e), doc as Json),
            null,
            2,
          )}\n`,
      ),
    },
    { weight: 1, arbitrary: textDamageArb.map((d) => damageText(text, d)) },
  );
}
