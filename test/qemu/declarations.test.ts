import { describe, expect, it } from 'vitest';
import { stale } from '../../scripts/qemu-ci/declarations.mjs';

describe('QEMU CI declarations', () => {
  // One tsc run over the scripts and the kernel wrappers they use: seconds, more on a busy machine.
  it('match the JSDoc of the modules (regenerate: node scripts/qemu-ci/declarations.mjs)', { timeout: 120_000 }, () => {
    expect(stale()).toEqual([]);
  });
});
