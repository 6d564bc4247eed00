import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addonCandidates, isAddonErrno, loadAddon, loadAddonFrom, packageRoot } from '../../src/core/addon.js';
import { addon, itNative, required, skipReason } from './support.js';
import { scratchDir } from '../support/scratch.js';

const dir = scratchDir('iovh-addon-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loader', () => {
  it('reports a missing addon with the places it looked, without throwing', () => {
    const missing = [join(dir, 'Release', 'iovh.node'), join(dir, 'Debug', 'iovh.node')];
    const load = loadAddonFrom(missing);
    expect(load.addon).toBeNull();
    expect(load.path).toBeNull();
    expect(load.error).toContain('not built');
    expect(load.error).toContain(missing[0]);
    expect(load.error).toContain(missing[1]);
  });

  it('reports a file that is not a loadable addon, without throwing', () => {
    const bogus = join(dir, 'iovh.node');
    writeFileSync(bogus, 'not an ELF object');
    const load = loadAddonFrom([bogus]);
    expect(load.addon).toBeNull();
    expect(load.error).toContain('cannot load the native addon');
    expect(load.error).toContain(bogus);
  });

  it('looks in build/Release then build/Debug under the package root, or only at IOVH_ADDON', () => {
    const root = packageRoot();
    expect(addonCandidates(root, {})).toEqual([
      join(root, 'build', 'Release', 'iovh.node'),
      join(root, 'build', 'Debug', 'iovh.node'),
    ]);
    expect(addonCandidates(root, { IOVH_ADDON: '/x/iovh.node' })).toEqual(['/x/iovh.node']);
  });

  it('loads once per process', () => {
    expect(loadAddon()).toBe(loadAddon());
  });

  it('is present when IOVH_REQUIRE_NATIVE=1 (CI builds it)', (ctx) => {
    if (!required) ctx.skip('IOVH_REQUIRE_NATIVE is not set; the addon is optional here');
    expect(addon, skipReason).not.toBeNull();
  });
});

describe('addon surface', () => {
  itNative('is built for Node-API 8', (a) => {
    expect(a.napiVersion).toBe(8);
  });

  itNative('throws Node-shaped errno errors', (a) => {
    let caught: unknown;
    try {
      a.close(-1);
    } catch (e) {
      caught = e;
    }
    expect(isAddonErrno(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'close' });
  });
});
