// mmap(2) through the native backend on a memfd: bounds, lifetime, pattern.
import { afterEach, beforeEach, describe, expect } from 'vitest';
import { createNativeBackend } from '../../src/backend/native.js';
import type { Backend } from '../../src/backend/types.js';
import { patternWord } from '../../src/uapi/pattern.js';
import { MFD, PROT } from '../../src/uapi/constants.js';
import { itNative } from './support.js';

let backend: Backend;
beforeEach(() => {
  backend = createNativeBackend();
});
afterEach(() => backend.close());

function memfd(size: bigint): number {
  const fd = backend.dev.memfdCreate('iovh-map', MFD.CLOEXEC);
  backend.dev.ftruncate(fd, size);
  return fd;
}

describe('Mapping', () => {
  itNative('writes through one mapping are read through another of the same file', () => {
    const fd = memfd(65536n);
    const a = backend.dev.mmap(fd, 0n, 65536, PROT.READ | PROT.WRITE);
    const b = backend.dev.mmap(fd, 4096n, 8192, PROT.READ);
    a.write(4096 + 10, new Uint8Array([0xde, 0xad]));
    expect([...b.read(10, 2)]).toEqual([0xde, 0xad]);
    expect(a.length).toBe(65536);
    expect(typeof a.address).toBe('bigint');
    expect(a.address % 4096n).toBe(0n);
    a.unmap();
    b.unmap();
  });

  itNative('is bounds-checked: a RangeError, never a fault', () => {
    const m = backend.dev.mmap(memfd(8192n), 0n, 8192, PROT.READ | PROT.WRITE);
    expect(() => m.read(8192, 1)).toThrow(RangeError);
    expect(() => m.read(0, 8193)).toThrow(RangeError);
    expect(() => m.read(8191, 2)).toThrow(RangeError);
    expect(() => m.write(8190, new Uint8Array(3))).toThrow(RangeError);
    expect(() => m.fill(8, 8192, 1n, 0n)).toThrow(RangeError);
    expect(() => m.verify(8192, 8, 1n, 0n)).toThrow(RangeError);
    expect(m.read(8192, 0).length).toBe(0);
    m.unmap();
  });

  itNative('throws after unmap; a second unmap is harmless', () => {
    const m = backend.dev.mmap(memfd(4096n), 0n, 4096, PROT.READ | PROT.WRITE);
    m.unmap();
    m.unmap();
    expect(() => m.read(0, 1)).toThrow(/unmapped/);
    expect(() => m.write(0, new Uint8Array(1))).toThrow(/unmapped/);
    expect(() => m.fill(0, 8, 1n, 0n)).toThrow(/unmapped/);
    expect(() => m.verify(0, 8, 1n, 0n)).toThrow(/unmapped/);
  });

  itNative('fill and verify use base + offset as the address of the first byte', () => {
    const fd = memfd(65536n);
    const m = backend.dev.mmap(fd, 0n, 65536, PROT.READ | PROT.WRITE);
    const base = 0x7000_0000n;
    m.fill(4096, 8192, 5n, base);
    expect(m.verify(4096, 8192, 5n, base)).toBeNull();
    const word = new DataView(m.read(4096 + 16, 8).buffer).getBigUint64(0, true);
    expect(word).toBe(patternWord(5n, base + 4096n + 16n));
    m.write(4096 + 100, new Uint8Array([0]));
    const mismatch = m.verify(4096, 8192, 5n, base);
    expect(mismatch?.offset).toBe(96);
    expect(mismatch?.expected).toBe(patternWord(5n, base + 4096n + 96n));
  });

  itNative('the backend unmaps what is left at close()', () => {
    const m = backend.dev.mmap(memfd(4096n), 0n, 4096, PROT.READ | PROT.WRITE);
    backend.close();
    expect(() => m.read(0, 1)).toThrow(/unmapped/);
  });

  itNative('a mapping object cannot be constructed from JS', () => {
    const m = backend.dev.mmap(memfd(4096n), 0n, 4096, PROT.READ);
    const inner = (m as unknown as { m: object }).m;
    const Ctor = inner.constructor as new (...args: unknown[]) => unknown;
    expect(() => new Ctor()).toThrow(TypeError);
    expect(() => new Ctor(1234, 4096)).toThrow(TypeError);
  });
});

describe('SIGBUS guard', () => {
  itNative('an access to pages past the end of the file is an EFAULT SystemError, not a crash', () => {
    const fd = memfd(8192n);
    const m = backend.dev.mmap(fd, 0n, 16384, PROT.READ | PROT.WRITE);
    m.write(0, new Uint8Array([1, 2, 3]));
    const expectFault = (f: () => unknown) =>
      expect(f).toThrow(
        expect.objectContaining({ code: 'EFAULT', errno: -14, syscall: 'mmap access', path: 'memfd:iovh-map' }),
      );
    expectFault(() => m.read(8192, 8));
    expectFault(() => m.write(12288, new Uint8Array(8)));
    expectFault(() => m.fill(0, 16384, 1n, 0n));
    expectFault(() => m.verify(4096, 8192, 1n, 0n));
    // The fill stopped at the fault, having written the backed part; the mapping
    // still works there, and the process is fine.
    m.write(0, new Uint8Array([4, 5, 6]));
    expect([...m.read(0, 3)]).toEqual([4, 5, 6]);
    expect(() => m.read(8192, 8)).toThrow(/SIGBUS/);
  });

  itNative('a file truncated under a live mapping faults the same way', () => {
    const fd = memfd(65536n);
    const m = backend.dev.mmap(fd, 0n, 65536, PROT.READ | PROT.WRITE);
    m.fill(0, 65536, 3n, 0n);
    backend.dev.ftruncate(fd, 4096n);
    expect(m.verify(0, 4096, 3n, 0n)).toBeNull();
    expect(() => m.verify(0, 65536, 3n, 0n)).toThrow(expect.objectContaining({ code: 'EFAULT' }));
  });
});
