// quirksOfOops: the quirk an oops shows, named from the kernel log by the
// function of its RIP line, as the mock kernel prints it (src/mock/kernel.ts)
// for RFC quirk 4 and the attach after close (src/mock/vfio.ts).
import { describe, expect, it } from 'vitest';
import { quirksOfOops } from '../../src/harness/quirks.js';
import { createMockBackend } from '../../src/mock/backend.js';

function logOf(f: (k: ReturnType<typeof createMockBackend>['kernel']['platform']['kernel']) => void): string[] {
  const b = createMockBackend({ profile: 'rfc-v1' });
  const k = b.kernel.platform.kernel;
  f(k);
  return k.kmsg.formatted().map((r) => r.slice(r.indexOf(';') + 1).trimEnd());
}

describe('quirksOfOops', () => {
  it('names the quirk of each oops site, once', () => {
    const log = logOf((k) => {
      k.oops('NULL pointer dereference', 'xe_bo_addr+0x1c/0x90 [xe]');
      k.oops('NULL pointer dereference', 'vfio_pci_dma_buf_attach+0x12/0x70 [vfio_pci_core]');
      k.oops('NULL pointer dereference', 'xe_bo_addr+0x1c/0x90 [xe]');
    });
    expect(quirksOfOops(log).sort()).toEqual(['closed-vdev-oops', 'unprovisioned-oops']);
  });

  it('a WARN in the same function, or an oops elsewhere, names nothing', () => {
    const log = logOf((k) => {
      k.warn('vfio_pci_dma_buf_attach+0x40/0x70 [vfio_pci_core]', '');
      k.oops('NULL pointer dereference', 'xe_bo_move+0x51e/0x9a0 [xe]');
    });
    expect(log.some((l) => l.includes('RIP: 0010:vfio_pci_dma_buf_attach'))).toBe(true);
    expect(quirksOfOops(log)).toEqual([]);
  });
});
