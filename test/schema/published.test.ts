// The JSON Schemas in docs/schemas/ are what src/schema/ says (npm run
// schemas writes them), and an outside program validating with them (ajv on
// the published file alone) accepts what iovh writes and refuses what it
// must not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { runScenarios } from '../../src/api/run.js';
import { renderJson } from '../../src/report/json.js';
import { PUBLISHED, publishedText } from '../../src/schema/index.js';
import { mixedRun } from '../report/fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const published = (file: string): object => JSON.parse(readFileSync(join(ROOT, 'docs/schemas', file), 'utf8'));

describe('docs/schemas/', () => {
  it.each(PUBLISHED.map((p) => [p.file, p]))('%s is current (regenerate: npm run schemas)', (_f, p) => {
    expect(readFileSync(join(ROOT, 'docs/schemas', p.file), 'utf8')).toBe(publishedText(p.schema));
  });

  it('iovh-run.schema.json, used alone by ajv, accepts a real run and refuses a broken one', async () => {
    const validate = new Ajv({ strict: true, allowUnionTypes: true }).compile(published('iovh-run.schema.json'));
    const run = await runScenarios({
      backend: 'mock',
      filters: ['export/*', 'edge/last-page', 'edge/unprovisioned-vf'],
    });
    const json = JSON.parse(renderJson(run));
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(JSON.parse(renderJson(mixedRun())))).toBe(true);
    json.scenarios[1].status = 'ok';
    expect(validate(json)).toBe(false);
    expect(validate.errors?.[0]?.instancePath).toBe('/scenarios/1/status');
  });
});
