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
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, oneLine } from '../../src/cli/main.js';
import { declareTopology } from '../../src/harness/mockenv.js';
import { discoverPfs } from '../../src/harness/target.js';
import { createMockBackend, MockConfigError } from '../../src/mock/backend.js';
import { defaultTopology, loadTopologyFile } from '../../src/mock/topology.js';
import { applyEdit, damagedFileArb, damageText, editArb, textDamageArb } from './mutate.js';
import { scratchDir } from '../support/scratch.js';

let dir: string;
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

interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** `iovh ...` in this process, its output captured. */
async function iovh(...argv: string[]): Promise<CliRun> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await main(argv);
    return {
      code,
      out: out.mock.calls.map((c) => String(c[0])).join(''),
      err: err.mock.calls.map((c) => String(c[0])).join(''),
    };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/**
 * A verdict of the CLI's: 0, or 1/2 with one `iovh: ` line; never 99 (internal error) or a stack trace. The
 * line a state-changing command prints before it acts (which machine, which backend) is not part of it.
 */
function expectVerdict(r: CliRun, what: string): void {
  const lines = r.err.split('\n').filter((l) => l !== '' && !/^iovh: [a-z]+: acting on /.test(l));
  if (![0, 1, 2].includes(r.code) || (r.code !== 0 && (lines.length !== 1 || !lines[0]!.startsWith('iovh: ')))) {
    throw new Error(`${what}: exit ${r.code}, stderr:\n${r.err}`);
  }
}

describe('mock topology files', () => {
  const declared = declareTopology(defaultTopology())!.topology;

  it('damaged topologies are refused in one line naming the field, or work as a machine', () => {
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
          discoverPfs(b.fs);
          b.fs.readdir('/sys/bus/pci/devices');
        } finally {
          b.close();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('through the CLI: iovh topology --backend mock --topology FILE', async () => {
    await fc.assert(
      fc.asyncProperty(damagedFileArb(declared), async (text) => {
        const file = join(dir, 'topology-cli.json');
        writeFileSync(file, text);
        expectVerdict(await iovh('topology', '--backend', 'mock', '--topology', file), text);
      }),
      { numRuns: 60 },
    );
  });
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

  it('damaged plans: iovh setup --dry-run gives a verdict, never an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(damagedFileArb(plan), async (text) => {
        const file = join(dir, 'plan-damaged.json');
        writeFileSync(file, text);
        expectVerdict(await iovh('setup', file, '--backend', 'mock', '--dry-run'), text);
      }),
      { numRuns: 150 },
    );
  });
});

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

  it('damaged state files: commands that open the mock give a verdict', async () => {
    await fc.assert(
      fc.asyncProperty(damagedFileArb(JSON.parse(stateText)), async (text) => {
        writeFileSync(state, text);
        writeFileSync(journalName, journalText);
        expectVerdict(await iovh('topology', '--backend', 'mock', '--mock-state', state), text);
      }),
      { numRuns: 120 },
    );
  });

  it('damaged journals: restore (and the stale-journal notice of every command) give a verdict', async () => {
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
  });
});
