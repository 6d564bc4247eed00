// The O_PATH stale dma-buf file (docs/bugs.md `opath-stale-file`): a dma-buf's
// lifetime is its dentry's (drivers/dma-buf/dma-buf.c dma_buf_release is the
// d_release), an O_PATH open of its /proc/self/fd link holds the dentry only
// (fs/open.c do_dentry_open), and vfio's revoke calls get_file_active on the
// file the close freed (drivers/vfio/pci/vfio_pci_dmabuf.c). KASAN sees it
// only with SLUB_RCU_DEBUG and after an RCU grace period.
import { describe, expect, it } from 'vitest';
import { O } from '../../src/uapi/constants.js';
import type { MockBackend } from '../../src/mock/backend.js';
import type { KernelConfig } from '../../src/mock/kconfig.js';
import { enableVfs, kmsg, mock, openVfio, VF0 } from './helpers.js';

const KASAN: KernelConfig = { KASAN: 'y', SLUB_RCU_DEBUG: 'y' };
const REPORT = /BUG: KASAN: slab-use-after-free in get_file_active\+0x4a\/0xe0/g;

async function run(
  b: MockBackend,
  o: { holder: boolean; sleepMs: number; reset?: boolean },
): Promise<{ reports: number; holder: number | null }> {
  enableVfs(b, 2, [0]);
  const v = openVfio(b, VF0);
  const buf = b.dev.vfioDmaBufGet(v.device, {
    regionIndex: 2,
    openFlags: O.RDWR,
    ranges: BigUint64Array.of(0n, 4096n),
  });
  const holder = o.holder ? b.dev.open(`/proc/self/fd/${buf}`, O.PATH | O.CLOEXEC) : null;
  if (holder !== null) expect(b.fs.readlink(`/proc/self/fd/${holder}`)).toBe('/dmabuf:');
  b.dev.close(buf);
  await b.sleep!(o.sleepMs);
  if (o.reset) await b.dev.vfioDeviceReset(v.device);
  b.dev.close(v.device);
  return { reports: (kmsg(b).match(REPORT) ?? []).length, holder };
}

describe('opath-stale-file', () => {
  it('upstream: closing the device after the dma-buf fd, under an O_PATH holder, is a KASAN use-after-free from vfio', async () => {
    const b = mock({ profile: 'upstream-7.1', kernelConfig: KASAN });
    const r = await run(b, { holder: true, sleepMs: 100 });
    // Three walks of the stale entry: move(true) from the cleanup, the cleanup's own loop, move(false) at disable.
    expect(r.reports).toBe(3);
    const log = kmsg(b);
    expect(log).toMatch(/Write of size 8 at addr [0-9a-f]+ by task/);
    expect(log).toMatch(/vfio_pci_dma_buf_move\+0x254\/0x560[^\n]*\n[^\n]*vfio_pci_dma_buf_cleanup\+0x41/);
    expect(log).toMatch(/which belongs to the cache filp of size 168/);
    // The buffer stays listed until the holder goes: its close is the dentry's release, with no further report.
    b.dev.close(r.holder!);
    expect((kmsg(b).match(REPORT) ?? []).length).toBe(3);
    b.close();
  });

  it('a reset before the close walks it twice more (move true and false from the ioctl)', async () => {
    const b = mock({ profile: 'upstream-7.1', kernelConfig: KASAN });
    expect((await run(b, { holder: true, sleepMs: 100, reset: true })).reports).toBe(5);
    b.close();
  });

  it('no report without the holder, before the grace period, without SLUB_RCU_DEBUG, or with the fix', async () => {
    for (const [profile, config, o] of [
      ['upstream-7.1', KASAN, { holder: false, sleepMs: 100 }],
      ['upstream-7.1', KASAN, { holder: true, sleepMs: 0 }],
      ['upstream-7.1', { KASAN: 'y', SLUB_RCU_DEBUG: 'n' }, { holder: true, sleepMs: 100 }],
      ['fixed', KASAN, { holder: true, sleepMs: 100 }],
    ] as const) {
      const b = mock({ profile, kernelConfig: config });
      expect((await run(b, o)).reports, `${profile} ${JSON.stringify(config)} ${JSON.stringify(o)}`).toBe(0);
      b.close();
    }
  });

  it('every line with the vfio export has it: 6.19 and 7.0 too', async () => {
    for (const profile of ['upstream-6.19', 'upstream-7.0', 'rfc-v2', 'maptype-rfc'] as const) {
      const b = mock({ profile, kernelConfig: KASAN });
      expect((await run(b, { holder: true, sleepMs: 100 })).reports, profile).toBeGreaterThan(0);
      b.close();
    }
  });
});
