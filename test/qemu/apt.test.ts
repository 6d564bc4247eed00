import { describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseDeb822,
  parseOneLine,
  systemSources,
  systemCodename,
  releaseArchive,
  sidSourcesText,
  backportsSourcesText,
  parseControl,
  dependsNames,
} from '../../scripts/qemu-ci/apt.mjs';
import { scratchDir } from '../support/scratch.js';

// A made-up archive: the CI must use whatever address the system has, and no other.
const MIRROR = 'http://mirror.invalid/debian';
const SECURITY = 'http://mirror.invalid/debian-security';
const KEY = '/usr/share/keyrings/debian-archive-keyring.gpg';

const deb822 = `Types: deb
# a comment
URIs: ${MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: ${KEY}

Types: deb
URIs: ${SECURITY}
Suites: bookworm-security
Components: main contrib
Signed-By: ${KEY}

Types: deb-src
URIs: ${MIRROR}
Suites: bookworm
Components: main

Types: deb
Enabled: no
URIs: http://disabled.invalid/debian
Suites: bookworm
Components: main
`;

describe('system apt sources', () => {
  it('parses deb822 stanzas, skipping disabled ones', () => {
    const s = parseDeb822(deb822, 'x.sources');
    expect(s.map((e) => [e.types, e.uris, e.suites, e.components, e.signedBy])).toEqual([
      [['deb'], [MIRROR], ['bookworm', 'bookworm-updates'], ['main'], KEY],
      [['deb'], [SECURITY], ['bookworm-security'], ['main', 'contrib'], KEY],
      [['deb-src'], [MIRROR], ['bookworm'], ['main'], undefined],
    ]);
  });

  it('keeps only a path from Signed-By (an embedded key is not a path)', () => {
    const s = parseDeb822(
      `Types: deb\nURIs: ${MIRROR}\nSuites: sid\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n xyz\n`,
    );
    expect(s[0]!.signedBy).toBeUndefined();
  });

  it('parses one-line sources with options and comments', () => {
    const s = parseOneLine(
      `# comment\ndeb [arch=amd64 signed-by=${KEY}] ${MIRROR} bookworm main non-free\ndeb-src ${MIRROR} bookworm main\nnonsense\n`,
    );
    expect(s.map((e) => [e.types[0], e.uris[0], e.suites[0], e.components, e.signedBy])).toEqual([
      ['deb', MIRROR, 'bookworm', ['main', 'non-free'], KEY],
      ['deb-src', MIRROR, 'bookworm', ['main'], undefined],
    ]);
  });

  it('reads a fixture /etc/apt and os-release', () => {
    const etc = scratchDir('iovh-apt-');
    mkdirSync(join(etc, 'sources.list.d'));
    writeFileSync(join(etc, 'sources.list'), `deb ${MIRROR} bookworm-backports main\n`);
    writeFileSync(join(etc, 'sources.list.d', 'debian.sources'), deb822);
    writeFileSync(join(etc, 'sources.list.d', 'old.list.disabled'), 'deb http://ignored.invalid x main\n');
    writeFileSync(join(etc, 'os-release'), 'NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n');
    const s = systemSources(etc);
    expect(s.map((e) => e.suites.join(','))).toEqual([
      'bookworm-backports',
      'bookworm,bookworm-updates',
      'bookworm-security',
      'bookworm',
    ]);
    expect(systemCodename(join(etc, 'os-release'))).toBe('bookworm');
    expect(systemCodename(join(etc, 'missing'))).toBeUndefined();
  });
});

describe('private source lists', () => {
  const sources = parseDeb822(deb822);

  it('finds the release archive, not security or updates', () => {
    expect(releaseArchive(sources, 'bookworm')).toEqual({ uri: MIRROR, signedBy: KEY, components: ['main'] });
    expect(() => releaseArchive(sources, 'trixie')).toThrow(/no apt source for the 'trixie' release/);
  });

  it('points sid at the system archive with its key', () => {
    expect(sidSourcesText(releaseArchive(sources, 'bookworm'))).toBe(`deb [signed-by=${KEY}] ${MIRROR} sid main\n`);
  });

  it('lists every binary source of the system plus backports, and nothing else', () => {
    const text = backportsSourcesText(sources, 'bookworm');
    expect(text.trim().split('\n')).toEqual([
      `deb [signed-by=${KEY}] ${MIRROR} bookworm main`,
      `deb [signed-by=${KEY}] ${MIRROR} bookworm-updates main`,
      `deb [signed-by=${KEY}] ${SECURITY} bookworm-security main contrib`,
      `deb [signed-by=${KEY}] ${MIRROR} bookworm-backports main`,
    ]);
  });

  it('does not add backports twice when the system has them', () => {
    const withBpo = [...sources, ...parseOneLine(`deb ${MIRROR} bookworm-backports main\n`)];
    expect(backportsSourcesText(withBpo, 'bookworm').match(/bookworm-backports/g)).toHaveLength(1);
  });
});

describe('control fields', () => {
  const show = `Package: linux-image-amd64
Version: 7.2.13-1
Depends: linux-base-amd64,
 linux-image-7.2.13+deb14-amd64 (= 7.2.13-1)
Description: Linux for 64-bit PCs (meta-package)

Package: linux-image-amd64
Version: 7.1.0-1
`;

  it('reads the first stanza with continuation lines', () => {
    const f = parseControl(show);
    expect(f.Version).toBe('7.2.13-1');
    expect(dependsNames(f.Depends)).toEqual(['linux-base-amd64', 'linux-image-7.2.13+deb14-amd64']);
  });

  it('takes the first alternative and drops versions and :any', () => {
    expect(dependsNames('dracut | initramfs-tools (>= 0.120), libc6:any (>= 2.36), ')).toEqual(['dracut', 'libc6']);
    expect(dependsNames(undefined)).toEqual([]);
  });
});
