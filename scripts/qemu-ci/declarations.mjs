// @ts-check
// The QEMU CI is plain JavaScript (it needs no build step of its own, and the
// guest has no TypeScript loader), typed with JSDoc and checked with
// scripts/qemu-ci/tsconfig.json (by generate() below: `tsc -p` in place would
// read the committed declarations instead of the JSDoc). The TypeScript tests import it through
// .d.mts declarations generated from that JSDoc, committed next to each
// module. `node scripts/qemu-ci/declarations.mjs` regenerates them;
// `--check` fails when one is missing or stale (test/qemu/declarations.test.ts).
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { repoRoot } from './paths.mjs';

/** Modules with a committed declaration: every module the tests import. */
export const DECLARED = [
  'scripts/qemu-ci/apt.mjs',
  'scripts/qemu-ci/boot.mjs',
  'scripts/qemu-ci/conformance.mjs',
  'scripts/qemu-ci/coverage.mjs',
  'scripts/qemu-ci/cpio.mjs',
  'scripts/qemu-ci/ci.mjs',
  'scripts/qemu-ci/declarations.mjs',
  'scripts/qemu-ci/initramfs.mjs',
  'scripts/qemu-ci/kbuild.mjs',
  'scripts/qemu-ci/kcache.mjs',
  'scripts/qemu-ci/kernel-ci.mjs',
  'scripts/qemu-ci/ksource.mjs',
  'scripts/qemu-ci/mock-gpu.mjs',
  'scripts/qemu-ci/mock-gpu-ci.mjs',
  'scripts/qemu-ci/paths.mjs',
  'scripts/qemu-ci/qemu-build.mjs',
  'scripts/qemu-ci/replay-run.mjs',
  'scripts/qemu-ci/rfc.mjs',
  'scripts/qemu-ci/setup.mjs',
  'scripts/qemu-ci/variants.mjs',
  'scripts/qemu-ci/verdict.mjs',
  'scripts/qemu-ci/windows.mjs',
  'test/qemu/guest/flow.mjs',
  'test/qemu/guest/iommufd.mjs',
  'test/qemu/guest/rule-table.mjs',
  'test/qemu/guest/rules.mjs',
  'test/qemu/guest/scenarios.mjs',
];

const HEADER =
  '// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.\n';

/**
 * A mirror of the checkout without the committed declarations: TypeScript
 * prefers foo.d.mts over foo.mjs, so checking or generating in place would
 * read the old declarations instead of the JSDoc. The modules are copied;
 * src/, node_modules/, the root tsconfig and package.json (ES modules) are linked.
 * @param {string} into
 */
function mirror(into) {
  for (const dir of ['scripts/qemu-ci', 'test/qemu/guest']) {
    mkdirSync(join(into, dir), { recursive: true });
    for (const name of readdirSync(join(repoRoot, dir))) {
      if (name.endsWith('.mjs') || name === 'tsconfig.json')
        copyFileSync(join(repoRoot, dir, name), join(into, dir, name));
    }
  }
  for (const link of ['src', 'node_modules', 'tsconfig.json', 'package.json'])
    symlinkSync(join(repoRoot, link), join(into, link));
}

/**
 * Type-check the JSDoc (scripts/qemu-ci/tsconfig.json) and generate the
 * declarations; returns path -> text for DECLARED. Throws with tsc's output
 * when the check fails.
 */
export function generate() {
  const tree = mkdtempSync(join(tmpdir(), 'iovh-qemu-dts-'));
  try {
    mirror(tree);
    const out = join(tree, 'out');
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(
      process.execPath,
      [
        tsc,
        '-p',
        join(tree, 'scripts', 'qemu-ci', 'tsconfig.json'),
        '--noEmit',
        'false',
        '--declaration',
        '--emitDeclarationOnly',
        '--outDir',
        out,
        '--rootDir',
        tree,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`tsc failed:\n${(r.stdout + r.stderr).trim()}`);
    /** @type {Map<string, string>} */
    const texts = new Map();
    for (const mod of DECLARED) {
      const dts = mod.replace(/\.mjs$/, '.d.mts');
      const file = join(out, dts);
      if (!existsSync(file)) throw new Error(`tsc wrote no ${dts}`);
      texts.set(dts, HEADER + readFileSync(file, 'utf8'));
    }
    return texts;
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/** Paths (relative to the checkout) whose committed declaration differs from a fresh one. */
export function stale() {
  const bad = [];
  for (const [dts, text] of generate()) {
    const file = join(repoRoot, dts);
    if (!existsSync(file) || readFileSync(file, 'utf8') !== text) bad.push(relative(repoRoot, file));
  }
  return bad;
}

if (process.argv[1]?.endsWith('declarations.mjs')) {
  if (process.argv[2] === '--check') {
    const bad = stale();
    if (bad.length) {
      process.stderr.write(`stale declarations: ${bad.join(', ')} (run node scripts/qemu-ci/declarations.mjs)\n`);
      process.exitCode = 1;
    }
  } else {
    for (const [dts, text] of generate()) writeFileSync(join(repoRoot, dts), text);
  }
}
