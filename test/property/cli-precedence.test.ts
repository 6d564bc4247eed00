// Random option/environment combinations thrown at the CLI: every global
// option (--backend, --mock-state, --topology, --profile, --root) may be
// exported, typed, both or neither, and a typed one lands anywhere in the
// command line. The command must behave exactly as when only the winning
// values are typed (the command line's where typed, else the environment's)
// with no IOVH_* variable exported: same exit status, same stdout, same
// stderr, and the same files left behind (mock state files, journals, native
// roots) (src/cli/global.ts resolveOptions, docs/safety.md). Every host
// command is thrown, the state-changing ones for real.
//
// The native roots are fixture trees under the case's temporary directory
// with read-only attributes, and a root is always exported, so `auto` and
// `native` never read or write this machine's /sys.
import fc from 'fast-check';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultTopology } from '../../src/mock/topology.js';
import { type CliResult, iovh, readOnlyRoot, withEnv } from '../cli/helpers.js';
import { tempDir } from '../host/helpers.js';

const dir = tempDir('iovh-precedence-');
afterAll(() => dir.remove());

const PF = '0000:03:00.0';
const VF = '0000:03:00.1';
const small = defaultTopology();
small.devices[0]!.sriov!.totalvfs = 4;
const t4 = join(dir.path, 't4.json');
const t24 = join(dir.path, 't24.json');
const plan = join(dir.path, 'plan.json');
writeFileSync(t4, JSON.stringify(small));
writeFileSync(t24, JSON.stringify(defaultTopology()));
writeFileSync(
  plan,
  JSON.stringify({ schema: 'iovh-setup/1', pfs: [{ pf: PF, numvfs: 2, vfs: [{ vf: 1, driver: 'vfio-pci' }] }] }),
);

interface Spec {
  flag: string;
  env: string;
  /** the values, or for --mock-state and --root names under the case's directory */
  values: string[];
}

const OPTIONS: Spec[] = [
  { flag: '--backend', env: 'IOVH_BACKEND', values: ['mock', 'native', 'auto'] },
  { flag: '--mock-state', env: 'IOVH_MOCK_STATE', values: ['state-a.json', 'state-b.json'] },
  { flag: '--topology', env: 'IOVH_TOPOLOGY', values: [t4, t24] },
  { flag: '--profile', env: 'IOVH_PROFILE', values: ['upstream', 'rfc-v1', 'fixed'] },
  { flag: '--root', env: 'IOVH_ROOT', values: ['root-a', 'root-b'] },
];

interface Command {
  /** the command as units that stay together (an option and its value) */
  units: string[][];
  /** commands run first (the winning values typed, nothing exported), to give it something to act on */
  before?: string[][];
}

/**
 * Every host command of issue 10's item 1 (doctor, topology, vfs, provision, bind, unbind, setup, restore,
 * capture), the state-changing ones for real: what they leave in the case's directory (mock state files,
 * journals, the native fixture roots) is compared too.
 */
const COMMANDS: Command[] = [
  { units: [['doctor'], ['--json']] },
  { units: [['topology'], ['--json']] },
  { units: [['capture']] },
  { units: [['vfs'], ['enable'], [PF], ['1']] },
  { units: [['vfs'], ['enable'], [PF], ['1'], ['--dry-run']] },
  { units: [['vfs'], ['disable'], [PF]], before: [['vfs', 'enable', PF, '2']] },
  { units: [['provision'], [PF], ['--vf', '1'], ['--vram', '1G']] },
  { units: [['provision'], [PF], ['--vf', '1'], ['--vram', '1G'], ['--dry-run']] },
  { units: [['bind'], [VF], ['vfio-pci']], before: [['vfs', 'enable', PF, '2']] },
  {
    units: [['unbind'], [VF]],
    before: [
      ['vfs', 'enable', PF, '2'],
      ['bind', VF, 'vfio-pci'],
    ],
  },
  { units: [['setup'], [plan]] },
  { units: [['restore']], before: [['vfs', 'enable', PF, '1']] },
  { units: [['restore'], ['--dry-run'], ['--json']], before: [['vfs', 'enable', PF, '1']] },
];

/**
 * What a command left in `dir`: every file's content by relative path. A journal's `begin` records name the
 * process (pid, start time, command line, which differs between the two sides by construction): only the
 * header and the writes are compared.
 */
function leftBehind(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isSymbolicLink()) out[r] = `-> ${readlinkSync(join(dir, r))}`;
      else {
        const text = readFileSync(join(dir, r), 'utf8');
        out[r] = r.endsWith('.jsonl')
          ? text
              .split('\n')
              .filter((l) => l !== '' && !l.startsWith('{"t":"begin"'))
              .join('\n')
          : text;
      }
    }
  };
  walk('');
  return out;
}

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

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

let round = 0;
/** Cases that ran to exit 0, per command: the property must not hold only because every case is refused. */
const succeeded = new Map<string, number>();

describe('the command line wins over the environment (property)', () => {
  it('any mix of exported and typed options behaves as the winning values typed alone', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ command, options }) => {
        // One directory per case for the mock state files, journals and native roots; each side starts it afresh.
        const work = join(dir.path, `case-${round++}`);
        const fresh = () => {
          rmSync(work, { recursive: true, force: true });
          mkdirSync(work);
          readOnlyRoot(join(work, 'root-a'));
          readOnlyRoot(join(work, 'root-b'), '0000:05:00.0', 3);
        };
        const path = (spec: Spec, i: number) =>
          spec.flag === '--mock-state' || spec.flag === '--root' ? join(work, spec.values[i]!) : spec.values[i]!;
        const { units: cmdUnits, before = [] } = COMMANDS[command]!;
        const units = [...cmdUnits];
        const words = units.flat();
        const env: Record<string, string | undefined> = { IOVH_STATE_DIR: join(work, 'state') };
        const winners: string[] = [];
        OPTIONS.forEach((spec, k) => {
          const c = options[k]!;
          env[spec.env] = c.env === undefined ? undefined : path(spec, c.env);
          // A root is always exported, so that no case reads or writes this machine's /sys.
          if (spec.flag === '--root' && c.env === undefined) env[spec.env] = path(spec, 0);
          if (c.cli !== undefined) units.splice(c.at % (units.length + 1), 0, [spec.flag, path(spec, c.cli)]);
          const win = c.cli !== undefined ? path(spec, c.cli) : env[spec.env];
          if (win !== undefined) winners.push(spec.flag, win);
        });
        const argv = units.flat();
        const clean: Record<string, string | undefined> = { IOVH_STATE_DIR: join(work, 'state') };
        for (const spec of OPTIONS) clean[spec.env] = undefined;
        const side = async (run: () => Promise<CliResult>) => {
          fresh();
          for (const b of before) await withEnv(clean, () => iovh(...winners, ...b));
          const r = await run();
          return { ...r, files: leftBehind(work) };
        };
        const mixed = await side(() => withEnv(env, () => iovh(...argv)));
        const typed = await side(() => withEnv(clean, () => iovh(...winners, ...words)));
        rmSync(work, { recursive: true, force: true });
        if (mixed.code === 0) succeeded.set(words[0]!, (succeeded.get(words[0]!) ?? 0) + 1);
        expect({ argv, env, ...mixed }).toEqual({ argv, env, ...typed });
      }),
      {
        numRuns: 80,
        // One case per command that must reach exit 0 whatever the seed: the environment names the native root,
        // another state file and another profile; the command line says mock, state-b, rfc-v1, and --root is typed
        // too (ignored by the mock).
        examples: COMMANDS.map((_, command): [Scenario] => [
          {
            command,
            options: [
              { env: 1, cli: 0, at: 0 },
              { env: 0, cli: 1, at: 1 },
              { env: undefined, cli: undefined, at: 0 },
              { env: 2, cli: 1, at: 2 },
              { env: 1, cli: 0, at: 3 },
            ],
          },
        ]),
      },
    );
    // Every command ran to exit 0 in some case: no command passes only by being refused every time.
    for (const c of COMMANDS) expect(succeeded.get(c.units[0]![0]!) ?? 0, c.units[0]![0]).toBeGreaterThan(0);
  }, 600_000);
});
