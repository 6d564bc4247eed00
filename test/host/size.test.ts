import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatSize, parseSize, requireSize } from '../../src/host/size.js';
import { InputError } from '../../src/host/errors.js';

const G = 1n << 30n;
const M = 1n << 20n;

describe('sizes', () => {
  it('reads the forms people type, binary units with or without the i (as memparse does)', () => {
    expect(parseSize('4G')).toBe(4n * G);
    expect(parseSize('4g')).toBe(4n * G);
    expect(parseSize('4GB')).toBe(4n * G);
    expect(parseSize('4GiB')).toBe(4n * G);
    expect(parseSize('512MiB')).toBe(512n * M);
    expect(parseSize('512 M')).toBe(512n * M);
    expect(parseSize('1.5G')).toBe(1536n * M);
    expect(parseSize('0x20000000')).toBe(512n * M);
    expect(parseSize('1073741824')).toBe(G);
    expect(parseSize('0')).toBe(0n);
    expect(parseSize('16E')).toBeNull();
    expect(parseSize('18446744073709551615')).toBe((1n << 64n) - 1n);
  });

  it('rejects what is not a whole number of bytes within u64', () => {
    for (const bad of [
      '',
      'G',
      '4X',
      '-1G',
      '1.5',
      '0.3K',
      '4 GiBs',
      '5iB',
      '0x',
      '0xg',
      '18446744073709551616',
      '16384P',
      'four',
    ]) {
      expect(parseSize(bad), bad).toBeNull();
    }
    expect(() => requireSize('4X', '--vram')).toThrow(InputError);
    expect(() => requireSize('4X', '--vram')).toThrow("--vram: '4X' is not a size (e.g. 4G, 512MiB");
  });

  it('formats with the largest unit that divides exactly, and parses its own output back', () => {
    expect(formatSize(2n * G)).toBe('2 GiB');
    expect(formatSize(1536n * M)).toBe('1536 MiB');
    expect(formatSize(123n)).toBe('123 B');
    expect(formatSize(0n)).toBe('0 B');
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 60n) - 1n }), (n) => {
        expect(parseSize(formatSize(n).replace(' ', ''))).toBe(n);
        expect(parseSize(`0x${n.toString(16)}`)).toBe(n);
        expect(parseSize(n.toString())).toBe(n);
      }),
    );
  });
});
