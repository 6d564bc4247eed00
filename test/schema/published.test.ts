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
import { defaultTopology } from '../../src/mock/topology.js';
import { HASHES } from '../../src/schema/compiled.js';
import { compiledModuleText } from '../../src/schema/generate.js';
import { schemaHash } from '../../src/schema/runtime.js';
import { RESULTS_SCHEMA } from '../../src/schema/results.js';
import { SETUP_SCHEMA_JSON } from '../../src/schema/setup.js';
import { TOPOLOGY_DRIVER_PATTERN, TOPOLOGY_SCHEMA_JSON } from '../../src/mock/topology-schema.js';
import { DRIVER_NAME_PATTERN } from '../../src/machine/sysfs.js';
import type { JsonSchema } from '../../src/schema/types.js';
import { schemaProblem } from '../../src/schema/validate.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const published = (file: string): object => JSON.parse(readFileSync(join(ROOT, 'docs/schemas', file), 'utf8'));

describe('docs/schemas/', () => {
  it.each(PUBLISHED.map((p) => [p.file, p]))('%s is current (regenerate: npm run schemas)', (_f, p) => {
    expect(readFileSync(join(ROOT, 'docs/schemas', p.file), 'utf8')).toBe(publishedText(p.schema));
  });

  it("the topology schema's driver names follow the machine model's rule", () => {
    expect(TOPOLOGY_DRIVER_PATTERN).toBe(DRIVER_NAME_PATTERN);
  });

  it('src/schema/compiled.ts holds the validators of these very schemas, compiled ahead (regenerate: npm run schemas)', () => {
    expect(readFileSync(join(ROOT, 'src/schema/compiled.ts'), 'utf8')).toBe(compiledModuleText());
    for (const { schema } of PUBLISHED) expect(HASHES[String(schema.$id)]).toBe(schemaHash(schema));
  });

  it('the validators compiled ahead give the messages a compile at run time gives', () => {
    const bad: [JsonSchema, unknown][] = [
      [TOPOLOGY_SCHEMA_JSON, { schema: 'iovh-topology/1', devices: [{ bdf: '3:0.0' }] }],
      [TOPOLOGY_SCHEMA_JSON, { ...defaultTopology(), bridges: [{ bdf: '0000:00:01.0', acs: 'maybe' }] }],
      [SETUP_SCHEMA_JSON, { schema: 'iovh-setup/1', pfs: [{ pf: '03:00.0', vfs: [{ vf: 1, drvier: 'x' }] }] }],
      [RESULTS_SCHEMA, JSON.parse(renderJson(mixedRun()).replace('"status": "pass"', '"status": "ok"'))],
    ];
    for (const [schema, data] of bad) {
      const ahead = schemaProblem(schema, data);
      expect(ahead).not.toBeNull();
      // The same rules under another hash (a $comment more): not what was compiled ahead, so compiled now.
      expect(schemaProblem({ ...schema, $comment: 'compiled at run time' }, data)).toBe(ahead);
    }
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

  it('iovh-topology.schema.json, used alone by ajv, accepts the shipped and recorded machines and refuses a typo', () => {
    const validate = new Ajv({ strict: true, allowUnionTypes: true }).compile(published('iovh-topology.schema.json'));
    for (const t of [
      defaultTopology(),
      JSON.parse(readFileSync(join(ROOT, 'scripts/qemu-ci/topology-igb.json'), 'utf8')),
      JSON.parse(readFileSync(join(ROOT, 'test/cli/fixtures/qemu-igb.json'), 'utf8')),
    ])
      expect(validate(t), JSON.stringify(validate.errors)).toBe(true);
    const typo = defaultTopology() as unknown as { devices: Record<string, unknown>[] };
    typo.devices[0]!.sriov = { ...(typo.devices[0]!.sriov as object), totalVfs: 4 };
    expect(validate(typo)).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({
      keyword: 'additionalProperties',
      params: { additionalProperty: 'totalVfs' },
    });
  });

  it('iovh-setup.schema.json, used alone by ajv, accepts the plan docs/bringup.md shows', () => {
    const validate = new Ajv({ strict: true, allowUnionTypes: true }).compile(published('iovh-setup.schema.json'));
    const doc = readFileSync(join(ROOT, 'docs/bringup.md'), 'utf8');
    const plan = /```json\n(\{\n\s*"schema": "iovh-setup\/1"[\s\S]*?)```/.exec(doc)?.[1];
    expect(plan).toBeDefined();
    expect(validate(JSON.parse(plan!)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ schema: 'iovh-setup/1', pfs: [{ pf: '03:00.0', vfs: [{ vf: 0 }] }] })).toBe(false);
  });
});
