import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/mock/backend.js';
import { readVramBudget } from '../../src/machine/vram.js';
import { SysReader } from '../../src/machine/sysfs.js';

const PF = '0000:03:00.0';
const MiB = 1n << 20n;
const GiB = 1n << 30n;

describe('readVramBudget', () => {
  it("asks xe through the PF's render node (DRM_XE_DEVICE_QUERY_MEM_REGIONS) and reads the spare from debugfs", () => {
    const b = createMockBackend();
    try {
      const r = new SysReader(b.fs);
      // The PF's own reservation (64 MiB in the default topology: GuC, page tables) is not free.
      expect(readVramBudget(b, r, PF)).toEqual({ known: true, free: 16n * GiB - 64n * MiB, spare: 128n * MiB });
      // Auto-provisioning hands out all but the spare (2 MiB-aligned); the VFs' quotas are no longer free.
      b.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_drivers_autoprobe`, '0');
      b.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_numvfs`, '2');
      const quotas = [1, 2].map((vf) =>
        BigInt(b.fs.readText(`/sys/bus/pci/devices/${PF}/sriov_admin/vf${vf}/profile/vram_quota`).trim()),
      );
      const after = readVramBudget(b, r, PF);
      expect(after).toEqual({ known: true, free: 16n * GiB - 64n * MiB - quotas[0]! - quotas[1]!, spare: 128n * MiB });
    } finally {
      b.close();
    }
  });

  it('is unknown, with the reason, for a device without a render node', () => {
    const b = createMockBackend();
    try {
      expect(readVramBudget(b, new SysReader(b.fs), '0000:09:00.0')).toEqual({
        known: false,
        why: 'no render node of 0000:09:00.0 under /dev/dri to ask DRM_XE_DEVICE_QUERY_MEM_REGIONS',
      });
    } finally {
      b.close();
    }
  });
});
