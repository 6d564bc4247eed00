// The mock's drm_buddy (src/mock/vram.ts) given blocks it never handed out: a state file's saved provisioning
// is input, so claim() must refuse what cannot be one of its blocks, in a bounded number of steps (a size of 0
// made its search run for ever), and alloc() must end whatever the request.
import { describe, expect, it } from 'vitest';
import { BuddyAllocator } from '../../src/mock/vram.js';

const MiB = 1024 * 1024;
const block = (dpa: number | bigint, size: number | bigint) => ({ dpa: BigInt(dpa), size: BigInt(size) });

describe('BuddyAllocator.claim refuses what is not one of its blocks', () => {
  const base = 8 * MiB;
  it.each([
    ['size 0', block(base, 0)],
    ['a size that is no power of two', block(base, 3 * 4096)],
    ['a size below one chunk', block(base, 2048)],
    ['a negative size', block(base, -4096)],
    ['a block larger than the VRAM', block(base, 32 * MiB)],
    ['an address below the VRAM', block(base - 4096, 4096)],
    ['an address past its end', block(base + 16 * MiB, 4096)],
    ['an address not aligned to the size', block(base + 4096, 8192)],
    ['an address past 2^53', block(2n ** 60n, 4096)],
  ])('%s', (_what, b) => {
    const a = new BuddyAllocator(base, 16 * MiB);
    expect(a.claim([b])).toBe(false);
    expect(a.availBytes()).toBe(16 * MiB);
  });

  it('a block it has is claimed, and the same block twice is refused', () => {
    const a = new BuddyAllocator(base, 16 * MiB);
    expect(a.claim([block(base + 8 * MiB, 4 * MiB)])).toBe(true);
    expect(a.availBytes()).toBe(12 * MiB);
    expect(a.claim([block(base + 8 * MiB, 4096)])).toBe(false);
    a.freeBlocks([block(base + 8 * MiB, 4 * MiB)]);
    expect(a.availBytes()).toBe(16 * MiB);
    expect(a.alloc(16 * MiB)).toEqual([block(base, 16 * MiB)]);
  });

  it('freeing a block it never handed out is a bug of the caller, said, not a corrupted free list', () => {
    const a = new BuddyAllocator(base, 16 * MiB);
    expect(() => a.freeBlocks([block(base, 0)])).toThrow(/none of this allocator's/);
  });
});

describe('BuddyAllocator.alloc ends', () => {
  it('a minimum block larger than the whole VRAM: nothing to give', () => {
    const a = new BuddyAllocator(0, MiB);
    expect(a.alloc(2 * MiB, 2 * MiB)).toBe(null);
    expect(a.availBytes()).toBe(MiB);
  });

  it('more than is free: null, and what it took on the way is given back', () => {
    const a = new BuddyAllocator(0, 4 * MiB);
    expect(a.alloc(3 * MiB)).not.toBe(null);
    expect(a.alloc(2 * MiB)).toBe(null);
    expect(a.availBytes()).toBe(MiB);
  });
});
