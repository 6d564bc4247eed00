import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FilterError, globToRegExp, makeFilter } from '../../src/harness/filter.js';

describe('--filter globs', () => {
  it.each([
    ['export/*', 'export/single-range', true],
    ['export/*', 'import/iov-single-range', false],
    ['*iov*', 'import/iov-every-vf', true],
    ['edge/?ast-page', 'edge/last-page', true],
    ['lifecycle/revoke-on-[rc]*', 'lifecycle/revoke-on-close', true],
    ['lifecycle/revoke-on-[!c]*', 'lifecycle/revoke-on-close', false],
    ['a.b', 'axb', false],
  ])('%s on %s is %s', (glob, id, ok) => {
    expect(makeFilter([glob])(id)).toBe(ok);
  });

  it('includes are ORed, excludes win, excludes alone keep the rest', () => {
    const f = makeFilter(['export/*', 'data/*', '!export/invalid-args']);
    expect(
      ['export/single-range', 'data/gpu-write-cpu-read', 'export/invalid-args', 'leak/map-ranges'].filter(f),
    ).toEqual(['export/single-range', 'data/gpu-write-cpu-read']);
    expect(makeFilter(['!stress/*'])('stress/max-ranges')).toBe(false);
    expect(makeFilter(['!stress/*'])('leak/map-ranges')).toBe(true);
  });

  it('rejects empty and malformed patterns', () => {
    expect(() => makeFilter([''])).toThrow(FilterError);
    expect(() => makeFilter(['!'])).toThrow(FilterError);
    expect(() => globToRegExp('edge/[abc')).toThrow(/unclosed/);
  });

  it('a literal id always matches itself and regex metacharacters are literal', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.+()$^|{}\\/-]{1,30}$/), (id) => {
        expect(makeFilter([id])(id)).toBe(true);
        expect(makeFilter([id])(`${id}x`)).toBe(false);
      }),
    );
  });
});
