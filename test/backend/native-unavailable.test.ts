// Without the addon the library still loads, FileOps still work, and every
// device call fails with one error that names the fix.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { scratchDir } from '../support/scratch.js';

vi.mock('../../src/core/addon.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/core/addon.js')>();
  return {
    ...real,
    loadAddon: () => ({ addon: null, error: 'native addon not built (looked for /nowhere/iovh.node)', path: null }),
  };
});

const { createNativeBackend, NativeUnavailableError } = await import('../../src/backend/native.js');

const root = scratchDir('iovh-noaddon-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('native backend without the addon', () => {
  it('still reads files', () => {
    writeFileSync(join(root, 'x'), 'ok');
    const b = createNativeBackend({ root });
    expect(b.fs.readText('/x')).toBe('ok');
    b.close();
  });

  it('fails every device call with NativeUnavailableError naming `npm rebuild iovh`', async () => {
    const b = createNativeBackend({ root });
    expect(() => b.dev.open('/dev/null', 2)).toThrow(NativeUnavailableError);
    expect(() => b.dev.memfdCreate('x', 0)).toThrow(/npm rebuild iovh/);
    expect(() => b.dev.vfioGetApiVersion(3)).toThrow(/native addon not built/);
    await expect(b.dev.vfioDeviceReset(3)).rejects.toThrow(NativeUnavailableError);
    const e = (() => {
      try {
        b.dev.drmVersion(3);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toMatchObject({ code: 'ERR_IOVH_NO_ADDON' });
    b.close();
  });
});
