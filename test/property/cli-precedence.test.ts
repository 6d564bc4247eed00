// Random option/environment combinations thrown at the CLI: every global
// option (--backend, --mock-state, --topology, --profile, --root) may be
// exported, typed, both or neither, and a typed one lands anywhere in the
// command line. The command must behave exactly as when only the winning
// values are typed (the command line's where typed, else the environment's)
// with no IOVH_* variable exported: same exit status, same stdout, same
// stderr (src/cli/global.ts resolveOptions, docs/safety.md).
//
// The native roots are fixture trees under a temporary directory with
// read-only attributes, and a root is always exported, so `auto` and
// `native` never read this machine's /sys.
import fc from 'fast-check';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../src/mock/topology.js';
import { iovh, readOnlyRoot, withEnv } from '../cli/helpers.js';
import { tempDir } from '../host/helpers.js';

const dir = tempDir('iovh-precedence-');
afterAll(() => dir.remove());

const small = defaultTopology();
small.devices[0]!.sriov!.totalvfs = 4;
const t4 = join(dir.path, 't4.json');
const t24 = join(dir.path, 't24.json');
writeFileSync(t4, JSON.stringify(small));
writeFileSync(t24, JSON.stringify(defaultTopology()));
const rootA = readOnlyRoot(join(dir.path, 'root-a'));
const rootB = readOnlyRoot(join(dir.path, 'root-b'), '0000:05:00.0', 3);

interface Spec {
  flag: string;
  env: string;
  values: string[];
}

const OPTIONS: Spec[] = [
  { flag: '--backend', env: 'IOVH_BACKEND', values: ['mock', 'native', 'auto'] },
  { flag: '--mock-state', env: 'IOVH_MOCK_STATE', values: ['state-a.json', 'state-b.json'] },
  { flag: '--topology', env: 'IOVH_TOPOLOGY', values: [t4, t24] },
  { flag: '--profile', env: 'IOVH_PROFILE', values: ['upstream', 'rfc-v1', 'fixed'] },
  { flag: '--root', env: 'IOVH_ROOT', values: [rootA, rootB] },
];

/** Each command as units that stay together (an option and its value). */
const COMMANDS: string[][][] = [
  [['topology'], ['--json']],
  [['vfs'], ['enable'], ['0000:03:00.0'], ['1'], ['--dry-run']],
  [['provision'], ['0000:03:00.0'], ['--vf', '1'], ['--vram', '1G'], ['--dry-run']],
  [['restore'], ['--dry-run'], ['--json']],
];

/** For one option: the exported value (index), the typed value (index) and where it is typed. */
const choice = (n: number) =>
  fc.record({
    env: fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined }),
    cli: fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined }),
    at: fc.nat(),
  });

const scenario = fc.record({
  command: fc.integer({ min: 0, max: COMMANDS.length - 1 }),
  options: fc.tuple(...OPTIONS.map((o) => choice(o.values.length))),
});

let round = 0;
/** Cases that ran to exit 0: the property must not hold only because every case is refused. */
let succeeded = 0;

describe('the command line wins over the environment (property)', () => {
  it('any mix of exported and typed options behaves as the winning values typed alone', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ command, options }) => {
        // A fresh directory for the mock state files and journals of each case.
        const work = join(dir.path, `case-${round++}`);
        mkdirSync(work);
        const path = (spec: Spec, i: number) =>
          spec.flag === '--mock-state' ? join(work, spec.values[i]!) : spec.values[i]!;
        const units = [...COMMANDS[command]!];
        const words = units.flat();
        const env: Record<string, string | undefined> = { IOVH_STATE_DIR: join(work, 'state') };
        const winners: string[] = [];
        OPTIONS.forEach((spec, k) => {
          const c = options[k]!;
          env[spec.env] = c.env === undefined ? undefined : path(spec, c.env);
          // A root is always exported, so that no case reads this machine's /sys.
          if (spec.flag === '--root' && c.env === undefined) env[spec.env] = rootA;
          if (c.cli !== undefined) units.splice(c.at % (units.length + 1), 0, [spec.flag, path(spec, c.cli)]);
          const win = c.cli !== undefined ? path(spec, c.cli) : env[spec.env];
          if (win !== undefined) winners.push(spec.flag, win);
        });
        const argv = units.flat();
        const mixed = await withEnv(env, () => iovh(...argv));
        const clean: Record<string, string | undefined> = { IOVH_STATE_DIR: join(work, 'state') };
        for (const spec of OPTIONS) clean[spec.env] = undefined;
        const typed = await withEnv(clean, () => iovh(...winners, ...words));
        rmSync(work, { recursive: true, force: true });
        if (mixed.code === 0) succeeded++;
        expect({ argv, env, ...mixed }).toEqual({ argv, env, ...typed });
      }),
      { numRuns: 80 },
    );
    expect(succeeded).toBeGreaterThan(20);
  });
});
