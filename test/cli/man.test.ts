// docs/iovh.1, the man page, is generated from the command tree
// (src/cli/man.ts, `npm run man`): the committed page must be what the tree
// gives today, name every command and option, and format under groff with
// its warnings on (-ww) without one.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { manPage } from '../../src/cli/man.js';
import { allCommands, cliSpec } from '../../src/cli/spec.js';
import { EXIT } from '../../src/report/exit.js';
import { VERSION } from '../../src/version.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = join(ROOT, 'docs', 'iovh.1');
const GROFF = spawnSync('groff', ['-v']).status === 0;

/** The page as a reader sees it: groff's plain-text rendering. */
function rendered(): string {
  const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', '-rLL=200n', PAGE], {
    encoding: 'utf8',
    env: { ...process.env, GROFF_NO_SGR: '1' },
  });
  expect(r.stderr).toBe('');
  return r.stdout.replace(/.\x08/g, '').replace(/\u2010/g, '-');
}

describe('the man page (docs/iovh.1)', () => {
  it('is what the command tree gives today (npm run man writes it)', () => {
    expect(readFileSync(PAGE, 'utf8'), 'docs/iovh.1 is stale: run npm run man').toBe(
      manPage(cliSpec(buildProgram()), VERSION),
    );
  });

  it('is installed as the package man page', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).man).toBe('./docs/iovh.1');
  });

  it('formats under groff without a warning, naming every command, option and exit status', (ctx) => {
    if (!GROFF) return ctx.skip('groff is not installed: apt-get install groff-base (.ci/run does)');
    const text = rendered();
    for (const c of allCommands(cliSpec(buildProgram()))) {
      if (c.path.length > 0) expect(text, c.path.join(' ')).toContain(`iovh ${c.path.join(' ')} `);
      for (const o of c.options) expect(text, `${c.path.join(' ')} ${o.long}`).toContain(o.long!);
    }
    for (const code of Object.values(EXIT)) expect(text).toMatch(new RegExp(`^ {7}${code}\\b`, 'm'));
    expect(text).toMatch(/^ {7}4\b/m);
    for (const env of ['IOVH_BACKEND', 'IOVH_SKIP_EXIT', 'IOVH_STATE_DIR', 'FORCE_COLOR', 'NO_COLOR'])
      expect(text).toContain(env);
  });

  it("names every IOVH_ variable src/ reads, but the test suite's hooks and the guest's own channel", () => {
    const read = new Set<string>();
    const src = join(ROOT, 'src');
    for (const f of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!f.endsWith('.ts')) continue;
      const text = readFileSync(join(src, f), 'utf8');
      for (const m of text.matchAll(/(?:env\.|env\[')(IOVH_\w+)|\.env\(\s*'(IOVH_\w+)'/g)) read.add((m[1] ?? m[2])!);
    }
    // IOVH_TEST_*: the kill and signal sweeps' hooks; IOVH_QEMU_CHANNEL: set by the guest's /init
    // (scripts/qemu-ci/init.sh); IOVH_ROOT: the hidden --root's (fixture trees; docs/safety.md).
    const internal = (v: string): boolean =>
      v.startsWith('IOVH_TEST_') || v === 'IOVH_QEMU_CHANNEL' || v === 'IOVH_ROOT';
    expect(read.size).toBeGreaterThan(10);
    const page = manPage(cliSpec(buildProgram()), VERSION);
    const missing = [...read].filter((v) => !internal(v) && !page.includes(`\\fB${v}\\fR`));
    expect(missing, 'add them to OTHER_ENVIRONMENT in src/cli/man.ts').toEqual([]);
  });
});
