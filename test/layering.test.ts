// The import rules of src/ (docs/internals.md "Layers"), checked on the code
// itself: each layer imports only from its own and lower layers; nothing above
// the seam imports an implementation of it (the mock, the native backend, the
// addon) or asks which backend it runs on; the harness never imports the mock.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Layers bottom up: a file may import from its own layer and those below, never above. */
const LAYERS: [string, (f: string) => boolean][] = [
  [
    'leaves',
    (f) =>
      f === 'version.ts' ||
      f === 'userfile.ts' ||
      f === 'outfile.ts' ||
      f === 'lockfile.ts' ||
      f.startsWith('report/') ||
      // ajv and the validators compiled ahead: what every reader of a user file checks its shape with
      ['schema/validate.ts', 'schema/runtime.ts', 'schema/compiled.ts', 'schema/types.ts'].includes(f),
  ],
  ['seam', (f) => f === 'backend/types.ts'],
  ['uapi', (f) => f.startsWith('uapi/')],
  ['binding and kernel shape', (f) => f.startsWith('core/') || f.startsWith('shape/')],
  // The setup plan's schema is the host's (setup reads plans); the topology's is in src/mock/ (the mock loads them).
  ['backends', (f) => f === 'backend/native.ts' || f.startsWith('mock/')],
  ['machine', (f) => f.startsWith('machine/')],
  ['selection', (f) => f === 'backend/select.ts'],
  ['host', (f) => f.startsWith('host/') || f === 'schema/setup.ts'],
  ['harness', (f) => f.startsWith('harness/')],
  ['library', (f) => f.startsWith('api/') || f.startsWith('schema/')],
  ['cli', (f) => f.startsWith('cli/') || f.startsWith('qemu/') || f === 'index.ts'],
];

/** The implementations of the seam, and who alone may import them. */
const IMPLEMENTATIONS = (f: string): boolean =>
  f.startsWith('mock/') || f === 'backend/native.ts' || f === 'core/addon.ts';
const MAY_IMPORT_IMPLEMENTATIONS = new Set([
  'backend/select.ts', // chooses and opens one
  'backend/native.ts', // the native backend is built on the addon
  'core/pattern.ts', // the pattern on plain buffers: the addon's loop when it is there
  'cli/scenario-process.ts', // the scenario process's entry opens its own native backend
  'cli/trigger-process.ts', // so does a revoke trigger's process (src/harness/trigger.ts)
  'index.ts', // the package's face says whether the addon loaded (nativeAddon)
  'schema/index.ts', // publishes the topology file's JSON Schema, which the mock owns (plain data, no behaviour)
]);

/**
 * The files of src/ that may import scripts/, and why: `iovh qemu` on the host drives the QEMU CI's engine
 * (scripts/qemu-ci/, shipped with the package): the command's options, the boot, and the guest program's list of the
 * CI's machine variants. Nothing else
 * in src/ does: a script is built on the library (it takes src from dist/), not the other way round.
 */
const MAY_IMPORT_SCRIPTS = new Map([
  ['cli/commands/qemu.ts', "`iovh qemu`'s options: the variants, kernel sources and builds of the engine"],
  ['qemu/run.ts', 'boots guests with the engine'],
  ['qemu/guest.ts', 'the variants table (scripts/qemu-ci/variants.mjs)'],
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = sources(SRC).map((p) => relative(SRC, p));

/** Documents a reader of the repository cannot open: notes of the team, not of the project. */
const OUTSIDE = /kernel-abi|rfc-model|DESIGN\.md|STYLE\.md|\.\.\/shared|research\/[\w-]+\.md|anchors\.md/;

/** Text files under `dir` that can hold a comment or a document (code, scripts, docs), not generated output. */
function texts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : texts(p);
    return /\.(ts|mts|mjs|js|c|cc|h|sh|md|py|json|supp)$/.test(e.name) ? [p] : [];
  });
}

function layerOf(f: string): number {
  const i = LAYERS.findIndex(([, has]) => has(f));
  if (i < 0) throw new Error(`src/${f} belongs to no layer: add it to test/layering.test.ts and docs/internals.md`);
  return i;
}

/** What `f` imports by relative path (static and literal dynamic imports), relative to src/: `../x` is outside it. */
function relativeImportsOf(f: string): string[] {
  const text = readFileSync(join(SRC, f), 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'(\.{1,2}\/[^']+)'/gm)].map((m) =>
    relative(SRC, resolve(SRC, dirname(f), m[1]!)).replace(/\.js$/, '.ts'),
  );
}

/** The files of src/ that `f` imports. */
function importsOf(f: string): string[] {
  // Outside src/ (the QEMU engine's scripts/qemu-ci): not a layer of the library; MAY_IMPORT_SCRIPTS says who may.
  return relativeImportsOf(f).filter((t) => !t.startsWith('..'));
}

/** The files outside src/ that `f` imports (scripts/, test/, ...), relative to the checkout. */
function outsideImportsOf(f: string): string[] {
  return relativeImportsOf(f)
    .filter((t) => t.startsWith('..'))
    .map((t) => relative(resolve(SRC, '..'), resolve(SRC, t)));
}

describe('src/ layering', () => {
  it('every file has a layer', () => {
    for (const f of files) expect(() => layerOf(f), f).not.toThrow();
  });

  it('no layer imports a layer above it', () => {
    const upward: string[] = [];
    for (const f of files)
      for (const t of importsOf(f))
        if (layerOf(t) > layerOf(f))
          upward.push(`src/${f} (${LAYERS[layerOf(f)]![0]}) imports src/${t} (${LAYERS[layerOf(t)]![0]})`);
    expect(upward).toEqual([]);
  });

  it('nothing above the seam imports the mock, the native backend or the addon; the harness never imports the mock', () => {
    const bad: string[] = [];
    for (const f of files) {
      if (IMPLEMENTATIONS(f) || MAY_IMPORT_IMPLEMENTATIONS.has(f)) continue;
      for (const t of importsOf(f)) if (IMPLEMENTATIONS(t)) bad.push(`src/${f} imports src/${t}`);
    }
    expect(bad).toEqual([]);
  });

  it('src/ imports nothing outside it but the QEMU engine, in the files of `iovh qemu` that drive it', () => {
    const bad: string[] = [];
    for (const f of files)
      for (const t of outsideImportsOf(f))
        if (!MAY_IMPORT_SCRIPTS.has(f) || !t.startsWith('scripts/qemu-ci/')) bad.push(`src/${f} imports ${t}`);
    expect(bad).toEqual([]);
  });

  it('nothing above the seam asks which backend it runs on (Backend.traits says what differs)', () => {
    const asks: string[] = [];
    const seam = layerOf('backend/types.ts');
    for (const f of files) {
      if (f.startsWith('backend/') || f.startsWith('mock/')) continue;
      const text = readFileSync(join(SRC, f), 'utf8');
      for (const [i, line] of text.split('\n').entries())
        if (
          /\.name\s*[!=]==?\s*'(mock|native)'|'(mock|native)'\s*[!=]==?\s*\w+\.name\b|isMockBackend/.test(line) ||
          // The backend's identity is Backend.traits.name, for what a person reads; nothing above the seam says
          // `backend.name` (the leaves below it, report/, print the report's own field of that name).
          (layerOf(f) > seam && /\bbackend\.name\b/.test(line))
        )
          asks.push(`src/${f}:${i + 1}: ${line.trim()}`);
    }
    expect(asks).toEqual([]);
  });

  it('every document src/, core/, scripts/ and the QEMU guest cite is in the repository, and no note outside it is cited', () => {
    const bad: string[] = [];
    const root = resolve(SRC, '..');
    const cited = [
      ...files.map((f) => `src/${f}`),
      ...['core', 'scripts', 'test/qemu/guest'].flatMap((d) => texts(join(root, d)).map((p) => relative(root, p))),
    ];
    for (const f of cited) {
      const text = readFileSync(join(root, f), 'utf8');
      for (const [i, line] of text.split('\n').entries()) {
        if (OUTSIDE.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`);
        for (const m of line.matchAll(/\bdocs\/([\w-]+\.md)/g))
          if (!existsSync(join(root, 'docs', m[1]!))) bad.push(`${f}:${i + 1}: docs/${m[1]} does not exist`);
      }
    }
    expect(cited.length).toBeGreaterThan(files.length);
    expect(bad).toEqual([]);
  });

  it('catches what it is meant to catch', () => {
    expect(layerOf('harness/runner.ts')).toBeGreaterThan(layerOf('mock/backend.ts'));
    expect(layerOf('backend/select.ts')).toBeGreaterThan(layerOf('machine/topology.ts'));
    expect(importsOf('harness/executor.ts')).toContain('harness/job.ts');
    expect(importsOf('backend/select.ts')).toContain('mock/backend.ts');
    expect(outsideImportsOf('qemu/run.ts')).toContain('scripts/qemu-ci/boot.mjs');
    for (const line of ['(kernel-abi §3.3)', 'see ../shared/DESIGN.md', 'research/qemu-ci.md', 'anchors.md A6.2'])
      expect(OUTSIDE.test(line), line).toBe(true);
    expect(OUTSIDE.test('docs/kernel.md §3.3, drivers/pci/iov.c sriov_numvfs_store')).toBe(false);
  });
});
