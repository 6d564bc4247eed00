// The real consumers of iovh's reports, as scripts/consumers/fetch.mjs left
// them in the cache: tests that need one skip, saying how to get it, when it
// is not there (`npm test` never downloads; .ci/run fetches them first).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ConsumersManifest {
  format: number;
  lava: { packages: Record<string, string>; sitePackages: string; testShell: string };
  kunit: { package: string; version: string; kunitPy: string; ktapRst: string; kselftestRunner?: string };
  junit: { packages: Record<string, string>; sitePackages: string };
}

const FETCH = 'node scripts/consumers/fetch.mjs';

/** Debian's interpreter, which the unpacked Debian Python modules are built for; else the first python3 on PATH. */
export function python3(): string | null {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(candidate, ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 7) else 1)']);
    if (r.status === 0) return candidate;
  }
  return null;
}

/** The manifest, or why the consumers cannot be used here (with how to fix it). */
export function consumers(): { manifest: ConsumersManifest; python: string } | { skip: string } {
  const root = resolve(process.env.IOVH_CONSUMERS_CACHE || join(ROOT, '.cache', 'consumers'));
  const file = join(root, 'manifest.json');
  if (!existsSync(file))
    return {
      skip: `the report consumers (LAVA's lava-dispatcher, the kernel's kunit.py, junitparser) are not in ${root}: run \`${FETCH}\` (needs apt-get and Debian's archive)`,
    };
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ConsumersManifest;
  if (
    !existsSync(manifest.kunit.kunitPy) ||
    !existsSync(manifest.lava.testShell) ||
    !existsSync(manifest.junit?.sitePackages ?? '')
  )
    return { skip: `${file} names files that are gone: run \`${FETCH} --force\`` };
  const python = python3();
  if (!python) return { skip: 'no python3 (3.7 or newer) to run the consumers with: apt-get install python3' };
  return { manifest, python };
}
