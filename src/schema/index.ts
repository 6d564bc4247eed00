// The published JSON Schemas (docs/schemas/<file>): each written in TypeScript
// next to the code that reads the file, and written out by `npm run schemas`
// (scripts/schemas.mjs); test/schema/published.test.ts fails when a
// published file is stale.
import { RESULTS_SCHEMA } from './results.js';
import { SETUP_SCHEMA_JSON } from './setup.js';
import { TOPOLOGY_SCHEMA_JSON } from '../mock/topology-schema.js';
import type { JsonSchema } from './types.js';

export const PUBLISHED: readonly { file: string; schema: JsonSchema }[] = [
  { file: 'iovh-run.schema.json', schema: RESULTS_SCHEMA },
  { file: 'iovh-topology.schema.json', schema: TOPOLOGY_SCHEMA_JSON },
  { file: 'iovh-setup.schema.json', schema: SETUP_SCHEMA_JSON },
];

export function publishedText(schema: JsonSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
