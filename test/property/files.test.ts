// The files iovh reads (issue 7, item 4): mock topologies (--topology, what
// `iovh capture` writes), setup plans (`iovh setup`), mock state files
// (--mock-state) and bring-up journals (`iovh restore`). Random damage to a
// valid file (mutate.ts) must end in one of the CLI's verdicts: accepted, or
// a one-line message with exit 2 (bad input) or 1 (the machine refused),
// never an internal error (exit 99) or a stack trace, whatever command meets
// the file.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLine } from '../../src/cli/main.js';
import { declareTopology } from '../harness/declared.js';
import { discover } from '../../src/machine/topology.js';
import { createMockBackend, MockConfigError } from '../../src/mock/backend.js';
import { defaultTopology, loadTopologyFile } from '../../src/mock/topology.js';
import { applyEdit, damagedFileArb, damageText, editArb, textDamageArb } from './mutate.js';
import { type CliResult, iovh } from '../cli/helpers.js';
import { scratchDir } from '../support/scratch.js';

let dir: string;
/** Hundreds of CLI runs: under a loaded machine's 2 CPUs they take far more than vitest's default 30 s. A bound, not a speed test. */
const PROPERTY_TIMEOUT = 300_000;
const savedStateDir = process.env.IOVH_STATE_DIR;

beforeAll(() => {
  dir = scratchDir('iovh-files-');
  process.env.IOVH_STATE_DIR = join(dir, 'state');
});

afterAll(() => {
  if (savedStateDir === undefined) delete process.env.IOVH_STATE_DIR;
  else process.env.IOVH_STATE_DIR = savedStateDir;
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A verdict of the CLI's: 0, or 1/2 with one `iovh: ` line; never 99 (internal error) or a stack trace. The
 * line a state-changing command prints before it acts (which machine, which backend) is not part of it.
 */
function expectVerdict(r: CliResult, what: string): void {
  const lines = r.err.split('\n').filter((l) => l !== '' && !/^iovh: [a-z]+: acting on /.test(l));
  if (![0, 1, 2].includes(r.code) || (r.code !== 0 && (lines.length !== 1 || !lines[0]!.startsWith('iovh: ')))) {
    throw new Error(`${what}: exit ${r.code}, stderr:\n${r.err}`);
  }
}

describe('mock topology files', () => {
  const declared = declareTopology(defaultTopology())!.topology;

  it(
    'damaged topologies are refused in one line naming the field, or work as a machine',
    () => {
      fc.assert(
        fc.property(fc.oneof(damagedFileArb(defaultTopology()), damagedFileArb(declared)), (text) => {
          const file = join(dir, 'topology.json');
          writeFileSync(file, text);
          try {
            loadTopologyFile(file);
          } catch (e) {
            if (!(e instanceof MockConfigError)) throw e;
            // The CLI prints it as a usage error (src/backend/select.ts): one line, naming the file.
            expect(oneLine(e.message)).toMatch(/^topology \S+: [^\n]+$/);
            return;
          }
          // Accepted: it must make a kernel the harness can look at.
          let b;
          try {
            b = createMockBackend({ topology: file, reason: 'property test' });
          } catch (e) {
            if (e instanceof MockConfigError) return;
            throw new Error(
              `a topology that validates cannot be booted: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n${text}`,
            );
          }
          try {
            discover(b.fs);
            b.fs.readdir('/sys/bus/pci/devices');
          } finally {
            b.close();
          }
        }),
        { numRuns: 300 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'through the CLI: iovh topology --backend mock --topology FILE',
    async () => {
      await fc.assert(
        fc.asyncProperty(damagedFileArb(declared), async (text) => {
          const file = join(dir, 'topology-cli.json');
          writeFileSync(file, text);
          expectVerdict(await iovh('topology', '--backend', 'mock', '--topology', file), text);
        }),
        { numRuns: 60 },
      );
    },
    PROPERTY_TIMEOUT,
  );
});

describe('setup plans', () => {
  const plan = {
    schema: 'iovh-setup/1',
    pfs: [
      {
        pf: '0000:03:00.0',
        numvfs: 4,
        vfs: [
          { vf: 1, vram: '2G', driver: 'vfio-pci' },
          { vf: 2, vram: '2G', driver: 'vfio-pci' },
          { vf: 3, vram: 1073741824 },
          { vf: 4, driver: null },
        ],
      },
    ],
  };

  it('the documented example is valid on the mock', async () => {
    const file = join(dir, 'plan.json');
    writeFileSync(file, JSON.stringify(plan));
    const r = await iovh('setup', file, '--backend', 'mock', '--dry-run');
    expect(r.code, r.err).toBe(0);
  });

  it(
    'damaged plans: iovh setup --dry-run gives a verdict, never an internal error',
    async () => {
      await fc.assert(
        fc.asyncProperty(damagedFileArb(plan), async (text) => {
          const file = join(dir, 'plan-damaged.json');
          writeFileSync(file, text);
          expectVerdict(await iovh('setup', file, '--backend', 'mock', '--dry-run'), text);
        }),
        { numRuns: 150 },
      );
    },
    PROPERTY_TIMEOUT,
  );
});

/** A VRAM block as a state file writes it (src/mock/xe-pf.ts XePfSaved). */
type BlockText = { dpa: string; size: string };

describe('mock state files and journals', () => {
  let state: string;
  let stateText: string;
  let journalName: string;
  let journalText: string;

  beforeAll(async () => {
    state = join(dir, 'mock-state.json');
    // A state and a journal as a bring-up leaves them: 2 VFs enabled, the first on vfio-pci.
    expect((await iovh('vfs', 'enable', '0000:03:00.0', '2', '--backend', 'mock', '--mock-state', state)).code).toBe(0);
    expect((await iovh('bind', '0000:03:00.1', 'vfio-pci', '--backend', 'mock', '--mock-state', state)).code).toBe(0);
    stateText = readFileSync(state, 'utf8');
    const journals = readdirSync(process.env.IOVH_STATE_DIR!).filter((n) => n.endsWith('.jsonl'));
    expect(journals).toHaveLength(1);
    journalName = join(process.env.IOVH_STATE_DIR!, journals[0]!);
    journalText = readFileSync(journalName, 'utf8');
  });

  it(
    'damaged state files: commands that open the mock give a verdict',
    async () => {
      await fc.assert(
        fc.asyncProperty(damagedFileArb(JSON.parse(stateText)), async (text) => {
          writeFileSync(state, text);
          writeFileSync(journalName, journalText);
          expectVerdict(await iovh('topology', '--backend', 'mock', '--mock-state', state), text);
        }),
        { numRuns: 120 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  // The damage above rarely lands on one of the few VRAM blocks among the state's thousand values; a block of
  // size 0 there made the boot loop for ever (src/mock/vram.ts, 20+ minutes at full CPU in a full npm test).
  // Here every case damages the saved xe provisioning: a block's address or size set to a number near the ones
  // that matter (0, one chunk, powers of two and their neighbours, past 2^53, 2^64), or a generic edit inside it.
  it(
    'damaged VRAM provisioning in state files: a verdict, never a hang',
    async () => {
      type Xe = { pfBlocks: BlockText[][]; vfs: { lmem: (BlockText[] | null)[] }[] };
      const at = (JSON.parse(stateText).devices as { xe?: unknown }[]).findIndex((d) => d.xe !== undefined);
      const lists = (xe: Xe) => [...xe.pfBlocks, ...xe.vfs.flatMap((v) => v.lmem.filter((l) => l !== null))];
      expect(lists(JSON.parse(stateText).devices[at].xe).flat().length).toBeGreaterThan(3);
      const number = fc.oneof(
        fc.constantFrom('0', '1', '2048', '4095', '4096', '4097', '8192', '12288', '18446744073709551616', '-4096'),
        fc
          .integer({ min: 0, max: 64 })
          .chain((k) => fc.constantFrom(-1n, 0n, 1n, 4096n).map((d) => String(2n ** BigInt(k) + d))),
        fc.bigInt({ min: 0n, max: 2n ** 66n }).map(String),
      );
      const blockEdit = fc.record({
        list: fc.nat(),
        block: fc.nat(),
        field: fc.constantFrom('dpa', 'size'),
        value: number,
      });
      const damage = fc.oneof(
        { weight: 3, arbitrary: fc.array(blockEdit, { minLength: 1, maxLength: 3 }).map((b) => ({ blocks: b })) },
        { weight: 1, arbitrary: fc.array(editArb, { minLength: 1, maxLength: 2 }).map((e) => ({ edits: e })) },
      );
      await fc.assert(
        fc.asyncProperty(damage, async (d) => {
          const doc = JSON.parse(stateText);
          if ('blocks' in d) {
            const ls = lists(doc.devices[at].xe as Xe);
            for (const e of d.blocks) {
              const list = ls[e.list % ls.length]!;
              if (list.length > 0) list[e.block % list.length]![e.field as keyof BlockText] = e.value;
            }
          } else {
            doc.devices[at].xe = d.edits.reduce((x, e) => applyEdit(x, e), doc.devices[at].xe);
          }
          writeFileSync(state, JSON.stringify(doc));
          writeFileSync(journalName, journalText);
          const r = await iovh('topology', '--backend', 'mock', '--mock-state', state);
          expectVerdict(r, JSON.stringify(doc.devices[at].xe));
        }),
        { numRuns: 100 },
      );
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'damaged journals: restore (and the stale-journal notice of every command) give a verdict',
    async () => {
      const lines = journalText.split('\n').filter((l) => l !== '');
      const damaged = fc.oneof(
        {
          weight: 4,
          arbitrary: fc.tuple(fc.nat(), fc.array(editArb, { minLength: 1, maxLength: 2 })).map(([i, edits]) => {
            const at = i % lines.length;
            const record = edits.reduce((d, e) => applyEdit(d, e), JSON.parse(lines[at]!));
            return `${[...lines.slice(0, at), JSON.stringify(record), ...lines.slice(at + 1)].join('\n')}\n`;
          }),
        },
        { weight: 1, arbitrary: textDamageArb.map((d) => damageText(journalText, d)) },
      );
      await fc.assert(
        fc.asyncProperty(damaged, async (text) => {
          writeFileSync(state, stateText);
          writeFileSync(journalName, text);
          expectVerdict(
            await iovh('restore', '--backend', 'mock', '--mock-state', state),
            `restore with journal:\n${text}`,
          );
          writeFileSync(journalName, text);
          expectVerdict(
            await iovh('topology', '--backend', 'mock', '--mock-state', state),
            `topology with journal:\n${text}`,
          );
        }),
        { numRuns: 120 },
      );
    },
    PROPERTY_TIMEOUT,
  );
});
