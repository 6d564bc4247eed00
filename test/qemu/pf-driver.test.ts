// pfDriverOf (src/qemu/guest.ts): a variant this build does not know has no PF
// driver (pickVariants' RangeError); any other failure of the lookup is
// reported, not taken for "no PF driver" (the guest would then skip the PF bind).
import { describe, expect, it, vi } from 'vitest';

const fault = vi.hoisted(() => ({ error: null as Error | null }));

vi.mock('../../scripts/qemu-ci/variants.mjs', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../scripts/qemu-ci/variants.mjs')>();
  return {
    ...real,
    pickVariants: (names: string[]) => {
      if (fault.error) throw fault.error;
      return real.pickVariants(names);
    },
  };
});

const { pfDriverOf } = await import('../../src/qemu/guest.js');

describe('pfDriverOf', () => {
  it('names the PF driver of a known variant, none for an unknown one, and reports any other failure', () => {
    expect(pfDriverOf('igb-switch-vfio-intel-iommu')).toBe('vfio-pci');
    expect(pfDriverOf('igb-intel-iommu')).toBeNull();
    expect(pfDriverOf('no-such-variant')).toBeNull();
    fault.error = Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    try {
      expect(() => pfDriverOf('igb-switch-vfio-intel-iommu')).toThrow(/EIO/);
    } finally {
      fault.error = null;
    }
  });
});
