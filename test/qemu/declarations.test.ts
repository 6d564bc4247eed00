import { describe, expect, it } from 'vitest';
import { stale } from '../../scripts/qemu-ci/declarations.mjs';

describe('QEMU CI declarations', () => {
  it('match the JSDoc of the modules (regenerate: node scripts/qemu-ci/declarations.mjs)', () => {
    expect(stale()).toEqual([]);
  });
});
