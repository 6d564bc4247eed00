// @ts-check
// Private apt configurations for the QEMU CI: one that sees Debian sid (the
// kernel, busybox-static), one that sees this system's release plus its
// backports (qemu-system-x86 >= 8.0, kmod). Neither touches the system's own
// sources or package lists; both keep their lists under the cache directory.
//
// The archive's address is never written here: it is read from this system's
// own apt sources (deb822 /etc/apt/sources.list.d/*.sources, or one-line
// /etc/apt/sources.list and *.list), so a mirror or a proxy configured on the
// machine is used as is.
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/**
 * @typedef {object} AptSource
 * @property {string[]} types       deb, deb-src
 * @property {string[]} uris
 * @property {string[]} suites
 * @property {string[]} components
 * @property {string | undefined} signedBy
 * @property {string} origin        file it came from
 */

/**
 * Parse deb822 `.sources` text (apt's sources.list(5), "DEB822-STYLE FORMAT").
 * @param {string} text
 */
export function parseDeb822(text, origin = '<deb822>') {
  /** @type {AptSource[]} */
  const out = [];
  // Stanzas are separated by blank lines; `#` lines are comments; a line that
  // starts with whitespace continues the previous field (Signed-By may embed a key).
  for (const stanza of text.split(/\n\s*\n/)) {
    /** @type {Record<string, string>} */
    const fields = {};
    let last = '';
    for (const raw of stanza.split('\n')) {
      if (/^\s*#/.test(raw) || raw.trim() === '') continue;
      if (/^\s/.test(raw) && last) {
        fields[last] += `\n${raw.trim()}`;
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1].toLowerCase();
      fields[last] = m[2].trim();
    }
    if (!fields.types || !fields.uris || !fields.suites) continue;
    if (fields.enabled && /^no$/i.test(fields.enabled)) continue;
    const words = (/** @type {string | undefined} */ s) => (s ?? '').split(/\s+/).filter(Boolean);
    const signed = fields['signed-by'];
    out.push({
      types: words(fields.types),
      uris: words(fields.uris),
      suites: words(fields.suites),
      components: words(fields.components),
      // An embedded key block cannot be passed as a path: keep only a path.
      signedBy: signed && !signed.includes('\n') && signed.startsWith('/') ? signed : undefined,
      origin,
    });
  }
  return out;
}

/**
 * Parse one-line sources.list text: `deb [opt=val ...] uri suite [component ...]`.
 * @param {string} text
 */
export function parseOneLine(text, origin = '<sources.list>') {
  /** @type {AptSource[]} */
  const out = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = (m[2] ?? '').split(/\s+/).filter(Boolean);
    const signed = opts.find((o) => o.startsWith('signed-by='));
    out.push({
      types: [m[1]],
      uris: [m[3]],
      suites: [m[4]],
      components: m[5].split(/\s+/).filter(Boolean),
      signedBy: signed ? signed.slice('signed-by='.length) : undefined,
      origin,
    });
  }
  return out;
}

/** Every enabled source of this system (read only). */
export function systemSources(etc = '/etc/apt') {
  /** @type {AptSource[]} */
  const all = [];
  const list = join(etc, 'sources.list');
  if (existsSync(list)) all.push(...parseOneLine(readFileSync(list, 'utf8'), list));
  const dir = join(etc, 'sources.list.d');
  /** @type {string[]} */
  let names = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    names = [];
  }
  for (const name of names) {
    const file = join(dir, name);
    if (name.endsWith('.sources')) all.push(...parseDeb822(readFileSync(file, 'utf8'), file));
    else if (name.endsWith('.list')) all.push(...parseOneLine(readFileSync(file, 'utf8'), file));
  }
  return all;
}

/** VERSION_CODENAME of /etc/os-release (bookworm), or undefined. */
export function systemCodename(osRelease = '/etc/os-release') {
  try {
    const m = /^VERSION_CODENAME=("?)([^"\n]*)\1$/m.exec(readFileSync(osRelease, 'utf8'));
    return m?.[2] ? m[2] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Debian archive this system installs its release from: the first binary
 * source whose suites include the release codename itself (not -security,
 * which lives in a separate archive, nor -updates).
 * @param {AptSource[]} sources
 * @param {string} codename
 * @returns {{ uri: string, signedBy: string | undefined, components: string[] }}
 */
export function releaseArchive(sources, codename) {
  for (const s of sources) {
    if (!s.types.includes('deb') || !s.suites.includes(codename) || s.uris.length === 0) continue;
    return { uri: s.uris[0], signedBy: s.signedBy, components: s.components };
  }
  throw new Error(
    `no apt source for the '${codename}' release found in /etc/apt/sources.list or /etc/apt/sources.list.d/; ` +
      'the QEMU CI takes the Debian archive address from there',
  );
}

/**
 * One-line source entry.
 * @param {string} uri @param {string} suite @param {string[]} components @param {string | undefined} signedBy
 */
function line(uri, suite, components, signedBy) {
  const opt = signedBy ? `[signed-by=${signedBy}] ` : '';
  return `deb ${opt}${uri} ${suite} ${components.join(' ')}`;
}

/**
 * sources.list text for sid (main), from the release archive's address.
 * sid is signed with the same archive keys as the stable releases
 * (debian-archive-keyring), so the release's Signed-By applies.
 * @param {{ uri: string, signedBy: string | undefined }} archive
 */
export function sidSourcesText(archive) {
  return `${line(archive.uri, 'sid', ['main'], archive.signedBy)}\n`;
}

/**
 * sources.list text for this system's release with its backports: every binary
 * source of the system (so dependencies resolve exactly as they do for apt
 * itself) plus `<codename>-backports` on the release archive.
 * @param {AptSource[]} sources
 * @param {string} codename
 */
export function backportsSourcesText(sources, codename) {
  const archive = releaseArchive(sources, codename);
  const lines = [];
  for (const s of sources) {
    if (!s.types.includes('deb')) continue;
    for (const uri of s.uris) for (const suite of s.suites) lines.push(line(uri, suite, s.components, s.signedBy));
  }
  const bpo = `${codename}-backports`;
  if (!sources.some((s) => s.suites.includes(bpo))) lines.push(line(archive.uri, bpo, ['main'], archive.signedBy));
  return `${lines.join('\n')}\n`;
}

/**
 * A private apt configuration rooted at `dir`: its own sources list, no
 * sources.list.d and no preferences.d of the system, its own lists and cache.
 * `args` go before the apt-get/apt-cache command word.
 */
export class PrivateApt {
  /**
   * @param {string} dir
   * @param {string} sourcesText
   */
  constructor(dir, sourcesText) {
    this.dir = dir;
    const empty = join(dir, 'empty.d');
    for (const d of [empty, join(dir, 'lists', 'partial'), join(dir, 'cache', 'archives', 'partial')])
      mkdirSync(d, { recursive: true });
    const list = join(dir, 'sources.list');
    writeFileSync(list, sourcesText);
    /** @type {string[]} */
    this.args = [
      '-o',
      `Dir::Etc::sourcelist=${list}`,
      '-o',
      `Dir::Etc::sourceparts=${empty}`,
      '-o',
      `Dir::Etc::preferencesparts=${empty}`,
      '-o',
      `Dir::State::Lists=${join(dir, 'lists')}`,
      '-o',
      `Dir::Cache=${join(dir, 'cache')}`,
      '-o',
      'Dir::Cache::pkgcache=',
      '-o',
      'Dir::Cache::srcpkgcache=',
      '-o',
      'APT::Get::List-Cleanup=false',
    ];
  }

  /** True once `update` has fetched lists. */
  hasLists() {
    try {
      return readdirSync(join(this.dir, 'lists')).some((n) => n.endsWith('_Packages') || n.includes('_Packages.'));
    } catch {
      return false;
    }
  }

  update() {
    run('apt-get', [...this.args, '-q', 'update']);
  }

  /**
   * `apt-cache show` fields of the candidate version of `pkg`.
   * @param {string} pkg
   */
  show(pkg) {
    const text = run('apt-cache', [...this.args, 'show', '--no-all-versions', pkg]);
    return parseControl(text);
  }

  /**
   * Download `pkg=version` .debs into `dir` (apt names the files).
   * @param {string} dir @param {string[]} pkgs
   */
  download(dir, pkgs) {
    run('apt-get', [...this.args, '-q', 'download', ...pkgs], { cwd: dir });
  }

  /**
   * Install (as root) with `-t target`; no recommends.
   * @param {string[]} pkgs @param {string | undefined} target
   */
  install(pkgs, target) {
    const t = target ? ['-t', target] : [];
    run('apt-get', [...this.args, '-q', '-y', '--no-install-recommends', ...t, 'install', ...pkgs], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      inherit: true,
    });
  }
}

/**
 * Fields of one control stanza (Package, Version, Depends, ...).
 * @param {string} text
 */
export function parseControl(text) {
  /** @type {Record<string, string>} */
  const f = {};
  let last = '';
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') {
      if (Object.keys(f).length) break; // first stanza only
      continue;
    }
    if (/^\s/.test(raw) && last) {
      f[last] += `\n${raw.trim()}`;
      continue;
    }
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
    if (m) {
      last = m[1];
      f[last] = m[2];
    }
  }
  return f;
}

/**
 * Package names of a Depends field, first alternative of each, versions dropped.
 * @param {string | undefined} depends
 * @returns {string[]}
 */
export function dependsNames(depends) {
  if (!depends) return [];
  return depends
    .split(',')
    .map((d) =>
      d
        .split('|')[0]
        .trim()
        .replace(/\s*\(.*\)$/, '')
        .replace(/:any$/, ''),
    )
    .filter(Boolean);
}

/**
 * Run a tool to completion; its stdout, or an error naming the command (apt's
 * private `-o` options left out) with the last lines it wrote.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, inherit?: boolean }} [opts]
 */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    encoding: 'utf8',
    stdio: opts.inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const err = (r.stderr || r.stdout || '').trim().split('\n').slice(-6).join(' | ');
    throw new Error(
      `${cmd} ${args.filter((a) => !a.includes('::') && a !== '-o').join(' ')} failed (exit ${r.status})${err ? `: ${err}` : ''}`,
    );
  }
  return r.stdout ?? '';
}

/**
 * The path of `cmd` on PATH, or null.
 * @param {string} cmd
 */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir || '.', cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** The Debian package of each tool a fetch needs. */
const TOOL_PACKAGES = /** @type {Record<string, string>} */ ({
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  tar: 'tar',
  xz: 'xz-utils',
});

/**
 * Fail before fetching when a tool is missing, naming its package.
 * @param {string[]} tools @param {string} what  what needs them ("setup", "fetching Debian's kernel source")
 */
export function requireTools(tools, what) {
  for (const tool of tools)
    if (!which(tool)) throw new Error(`${what} needs ${tool} (Debian: apt-get install ${TOOL_PACKAGES[tool] ?? tool})`);
}

/**
 * Unpack the .deb of each of `names` that `PrivateApt.download` put in `debs`
 * into `dest` (dpkg-deb -x); a package that gave no .deb is an error.
 * @param {string} debs @param {string[]} names @param {string} dest
 */
export function unpackDebs(debs, names, dest) {
  const files = readdirSync(debs);
  for (const name of names) {
    const deb = files.find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download gave no .deb for ${name} (have: ${files.join(', ') || 'nothing'})`);
    run('dpkg-deb', ['-x', join(debs, deb), dest]);
  }
}
