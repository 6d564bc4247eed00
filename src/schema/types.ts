// A JSON Schema (draft-07) as a plain object: the schemas are written in
// TypeScript so that they travel inside dist/ and need no file at run time.
export type JsonSchema = { [key: string]: unknown };
