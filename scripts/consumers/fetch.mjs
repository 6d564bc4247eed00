#!/usr/bin/env node
// @ts-check
// Fetches the programs that read iovh's reports, so that the tests can feed
// each report to its real consumer (test/consumers/):
//   - LAVA: Debian's lava-dispatcher and lava-common (the run.sh generator,
//     lava-test-runner, lava-test-shell, lava-test-case) and the Python
//     modules the generator imports;
//   - the kernel's KTAP parser: tools/testing/kunit (kunit.py parse) and
//     Documentation/dev-tools/ktap.rst from Debian's linux-source package,
//     and from the same tarball kselftest's runner
//     (tools/testing/selftests/kselftest/runner.sh), which wraps a test's
//     exit status as TAP (4 is a skip);
//   - junitparser, the Python JUnit XML reader CI tools build on (Debian's
//     python3-junitparser).
// Everything is downloaded with `apt-get download` through a private apt
// configuration (scripts/qemu-ci/apt.mjs: this system's release and its
// backports) and unpacked with `dpkg-deb -x` into the cache directory
// (.cache/consumers/ of the checkout, or $IOVH_CONSUMERS_CACHE); nothing is
// installed. A second run reuses what is there. The last line written is
// manifest.json, which the tests read.
//
//   node scripts/consumers/fetch.mjs            fetch what is missing
//   node scripts/consumers/fetch.mjs --force    fetch again
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrivateApt, backportsSourcesText, systemCodename, systemSources } from '../qemu-ci/apt.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MANIFEST_FORMAT = 1;

/**
 * The LAVA packages, then the Python modules that lava_dispatcher.actions.deploy.testdef
 * and lava_common.schemas.test.testdef import (found by importing them).
 */
export const LAVA_PACKAGES = [
  'lava-dispatcher',
  'lava-common',
  'python3-voluptuous',
  'python3-yaml',
  'python3-pexpect',
  'python3-ptyprocess',
  'python3-requests',
  'python3-urllib3',
  'python3-charset-normalizer',
  'python3-idna',
  'python3-certifi',
];

/** A JUnit XML reader CI tools build on (junitparser), and what it imports. */
export const JUNIT_PACKAGES = ['python3-junitparser', 'python3-future'];

/**
 * linux-source packages in order of preference: the newest the release's
 * backports carry, then the release's own.
 */
export const KERNEL_SOURCE_PACKAGES = ['linux-source-6.12', 'linux-source-6.1'];

/** What is extracted from the kernel source tarball. */
const KERNEL_PATHS = ['tools/testing/kunit/', 'Documentation/dev-tools/ktap.rst', 'tools/testing/selftests/kselftest/'];

/** @param {string} [dir] */
export function consumersCache(dir = process.env.IOVH_CONSUMERS_CACHE || join(repoRoot, '.cache', 'consumers')) {
  const root = resolve(dir);
  return { root, apt: join(root, 'apt'), debs: join(root, 'debs'), manifest: join(root, 'manifest.json') };
}

/**
 * @param {string} cmd @param {string[]} args @param {{ cwd?: string }} [opts]
 * @returns {string}
 */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}

/** @param {string} debs @param {string} pkg */
function debOf(debs, pkg) {
  const name = readdirSync(debs).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  return name ? join(debs, name) : null;
}

/**
 * Download the packages not already in `debs`.
 * @param {PrivateApt} apt @param {string} debs @param {string[]} pkgs
 */
function download(apt, debs, pkgs) {
  const missing = pkgs.filter((p) => !debOf(debs, p));
  if (missing.length > 0) apt.download(debs, missing);
  /** @type {Record<string, string>} */
  const versions = {};
  for (const p of pkgs) {
    const deb = debOf(debs, p);
    if (!deb) throw new Error(`apt-get download ${p} left no ${p}_*.deb in ${debs}`);
    versions[p] = run('dpkg-deb', ['-f', deb, 'Version']).trim();
  }
  return versions;
}

/**
 * @param {ReturnType<typeof consumersCache>} cache @param {PrivateApt} apt
 */
function fetchLava(cache, apt) {
  const versions = download(apt, cache.debs, LAVA_PACKAGES);
  const root = join(cache.root, 'lava');
  const tmp = `${root}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const p of LAVA_PACKAGES) run('dpkg-deb', ['-x', /** @type {string} */ (debOf(cache.debs, p)), tmp]);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  const sitePackages = join(root, 'usr', 'lib', 'python3', 'dist-packages');
  return {
    packages: versions,
    sitePackages,
    testShell: join(sitePackages, 'lava_dispatcher', 'lava_test_shell'),
  };
}

/**
 * @param {ReturnType<typeof consumersCache>} cache @param {PrivateApt} apt
 */
function fetchJunit(cache, apt) {
  const versions = download(apt, cache.debs, JUNIT_PACKAGES);
  const root = join(cache.root, 'junit');
  const tmp = `${root}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const p of JUNIT_PACKAGES) run('dpkg-deb', ['-x', /** @type {string} */ (debOf(cache.debs, p)), tmp]);
  rmSync(root, { recursive: true, force: true });
  renameSync(tmp, root);
  return { packages: versions, sitePackages: join(root, 'usr', 'lib', 'python3', 'dist-packages') };
}

/**
 * @param {ReturnType<typeof consumersCache>} cache @param {PrivateApt} apt
 */
function fetchKunit(cache, apt) {
  /** @type {string | null} */
  let pkg = null;
  for (const candidate of KERNEL_SOURCE_PACKAGES) {
    try {
      if (apt.show(candidate).Version) {
        pkg = candidate;
        break;
      }
    } catch {
      // not in this release or its backports: try the next
    }
  }
  if (!pkg) throw new Error(`none of ${KERNEL_SOURCE_PACKAGES.join(', ')} is in this system's apt sources`);
  const versions = download(apt, cache.debs, [pkg]);
  const deb = /** @type {string} */ (debOf(cache.debs, pkg));
  // The package holds /usr/src/<pkg>.tar.xz; only the parser and the spec are taken out of it.
  const tarball = `./usr/src/${pkg}.tar.xz`;
  const dir = join(cache.root, 'kunit');
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const members = KERNEL_PATHS.map((p) => `${pkg}/${p}`);
  const script =
    'set -o pipefail; deb=$1 tarball=$2 into=$3; shift 3; dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" | xz -dc | tar -x -C "$into" "$@"';
  const r = spawnSync('bash', ['-c', script, 'extract', deb, tarball, tmp, ...members], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`extracting ${members.join(', ')} from ${deb} failed: ${(r.stderr ?? '').trim()}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const source = join(dir, pkg);
  return {
    package: pkg,
    version: versions[pkg],
    kunitPy: join(source, 'tools', 'testing', 'kunit', 'kunit.py'),
    ktapRst: join(source, 'Documentation', 'dev-tools', 'ktap.rst'),
    kselftestRunner: join(source, 'tools', 'testing', 'selftests', 'kselftest', 'runner.sh'),
  };
}

/**
 * @typedef {object} ConsumersManifest
 * @property {number} format
 * @property {string} createdAt
 * @property {{ packages: Record<string, string>, sitePackages: string, testShell: string }} lava
 * @property {{ package: string, version: string, kunitPy: string, ktapRst: string, kselftestRunner: string }} kunit
 * @property {{ packages: Record<string, string>, sitePackages: string }} junit
 */

/** @param {{ force?: boolean }} [opts] @returns {ConsumersManifest} */
export function fetchConsumers(opts = {}) {
  const cache = consumersCache();
  if (!opts.force && existsSync(cache.manifest)) {
    const m = JSON.parse(readFileSync(cache.manifest, 'utf8'));
    if (
      m.format === MANIFEST_FORMAT &&
      existsSync(m.kunit.kunitPy) &&
      existsSync(m.kunit.kselftestRunner ?? '') &&
      existsSync(m.lava.testShell) &&
      existsSync(m.junit?.sitePackages ?? '')
    )
      return m;
  }
  mkdirSync(cache.debs, { recursive: true });
  const codename = systemCodename();
  if (!codename) throw new Error('no VERSION_CODENAME in /etc/os-release: cannot pick the Debian release');
  const apt = new PrivateApt(cache.apt, backportsSourcesText(systemSources(), codename));
  if (!apt.hasLists()) apt.update();
  const manifest = {
    format: MANIFEST_FORMAT,
    createdAt: new Date().toISOString(),
    lava: fetchLava(cache, apt),
    kunit: fetchKunit(cache, apt),
    junit: fetchJunit(cache, apt),
  };
  rmSync(cache.manifest, { force: true });
  writeFileSync(cache.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

const isMain = process.argv[1] !== undefined && /consumers[/\\]fetch\.mjs$/.test(process.argv[1]);
if (isMain) {
  try {
    const m = fetchConsumers({ force: process.argv.includes('--force') });
    process.stdout.write(
      `consumers: lava-dispatcher ${m.lava.packages['lava-dispatcher']}, ${m.kunit.package} ${m.kunit.version} in ${consumersCache().root}\n`,
    );
  } catch (e) {
    process.stderr.write(`consumers: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
