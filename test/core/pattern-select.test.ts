import { describe, expect, it, vi } from 'vitest';
import { patternFillTs, patternWord } from '../../src/uapi/pattern.js';
import { patternFill, patternImplementation, patternVerify } from '../../src/core/pattern.js';
import { addon } from './support.js';

describe('patternFill / patternVerify', () => {
  it("use the addon when it is loaded, and produce the TypeScript twin's words", () => {
    expect(patternImplementation()).toBe(addon ? 'native' : 'typescript');
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    patternFill(a, 11n, 0x8000n);
    patternFillTs(b, 11n, 0x8000n);
    expect(Buffer.compare(a, b)).toBe(0);
    a[100] = a[100]! ^ 1;
    expect(patternVerify(a, 11n, 0x8000n)).toEqual({
      offset: 96,
      expected: patternWord(11n, 0x8000n + 96n),
      actual: expect.any(BigInt),
    });
  });

  it('fall back to TypeScript without the addon', async () => {
    vi.resetModules();
    vi.doMock('../../src/core/addon.js', async (orig) => ({
      ...(await orig<typeof import('../../src/core/addon.js')>()),
      loadAddon: () => ({ addon: null, error: 'test: no addon', path: null }),
    }));
    const m = await import('../../src/core/pattern.js');
    expect(m.patternImplementation()).toBe('typescript');
    const buf = new Uint8Array(64);
    m.patternFill(buf, 3n, 0n);
    expect(m.patternVerify(buf, 3n, 0n)).toBeNull();
    expect(new DataView(buf.buffer).getBigUint64(56, true)).toBe(patternWord(3n, 56n));
    vi.doUnmock('../../src/core/addon.js');
  });
});
