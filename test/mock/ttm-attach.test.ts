// The failed-attach use-after-free (docs/bugs.md `ttm-attach-uaf`, xe work
// item 8023): xe's import of a revoked VFIO dma-buf fails at attach (ENODEV),
// the sg BO it made shares the exporter's reservation object and goes to
// TTM's delayed-delete worker (drivers/gpu/drm/ttm/ttm_bo.c), which locks that
// reservation later. Without "drm/xe: Hold a dma-buf reference for imported
// BOs" nothing keeps the dma-buf alive: once userspace closes it, the worker
// locks freed memory. Debian's 7.2.13 has the fix.
import { describe, expect, it } from 'vitest';
import { bugsOfKasan, kasanExcerpt } from '../../src/harness/bugs.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { O, VFIO } from '../../src/uapi/constants.js';
import { enableVfs, expectErrno, exportBar2, mock, openVfio, topology } from './helpers.js';

function texts(b: MockBackend): string[] {
  return b.fs.readRecords('/dev/kmsg').map((r) => {
    const first = r.split('\n')[0]!;
    return first.slice(first.indexOf(';') + 1);
  });
}

/** A VF dma-buf revoked by LOW_POWER_ENTRY, imported into the PF's xe: refused (ENODEV) at attach. */
function refusedImport(b: MockBackend): { v: ReturnType<typeof openVfio>; buf: number; xe: number } {
  enableVfs(b, 2, [0]);
  const v = openVfio(b);
  const buf = exportBar2(b, v.device);
  b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY, new Uint8Array(0));
  const xe = b.dev.open('/dev/dri/renderD128', O.RDWR);
  expectErrno(() => b.dev.drmPrimeFdToHandle(xe, buf), 'ENODEV');
  return { v, buf, xe };
}

/** refusedImport, then the dma-buf closed; then time passes. */
async function failedImport(b: MockBackend): Promise<{ before: number; after: number }> {
  const { v, buf, xe } = refusedImport(b);
  b.dev.close(buf);
  const live = () => b.kernel.live().dmabufs;
  const before = live();
  await b.sleep!(10);
  const after = live();
  b.dev.close(xe);
  b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT, new Uint8Array(0));
  return { before, after };
}

describe('ttm-attach-uaf', () => {
  it('before the fix: the delayed-delete worker locks the freed dma-buf: KASAN names the bug', async () => {
    for (const profile of ['upstream-6.19', 'upstream-7.0', 'maptype-rfc'] as const) {
      const b = mock({ profile });
      const r = await failedImport(b);
      // Nothing held the dma-buf: the close freed it before the worker ran.
      expect(r.before, profile).toBe(0);
      const log = texts(b);
      expect(
        bugsOfKasan(log).map((x) => x.id),
        profile,
      ).toEqual(['ttm-attach-uaf']);
      const report = kasanExcerpt(log);
      expect(report[0]).toBe('BUG: KASAN: slab-use-after-free in __ww_mutex_lock.constprop.0+0x2850/0x49d0');
      const text = report.join('\n');
      expect(text).toMatch(/^Read of size 8 at addr [0-9a-f]+ by task kworker\/u4:3\/57$/m);
      expect(text).toMatch(/^Workqueue: ttm ttm_bo_delayed_delete \[ttm\]$/m);
      expect(text).toMatch(/ww_mutex_lock\+0x37\/0x160\n ttm_bo_delayed_delete\+/);
      expect(text).toMatch(/Allocated by task \d+:[\s\S]*dma_buf_export\+0x322\/0xb00/);
      expect(text).toMatch(/Freed by task \d+:[\s\S]*dma_buf_release\+0x1db\/0x270[\s\S]*__x64_sys_close/);
      expect(text).toMatch(/cache kmalloc-512 of size 512/);
      expect(text).toMatch(/located 432 bytes inside of/);
      b.close();
    }
  });

  it('the worker is a kworker after the failing ioctl: queued by it, run one system call later', () => {
    const b = mock({ profile: 'upstream-7.0' });
    const { buf } = refusedImport(b);
    const k = b.kernel.platform.kernel;
    expect(k.pendingWork()).toBe(1);
    b.dev.close(buf); // the task's next call: the kworker has not had the CPU yet
    expect(k.pendingWork()).toBe(1);
    // The call after: the worker runs first, on the freed dma-buf.
    expect(bugsOfKasan(texts(b)).map((x) => x.id)).toEqual(['ttm-attach-uaf']);
    expect(k.pendingWork()).toBe(0);
    b.close();
  });

  it('a close later than the window comes after the worker: no report, even without the fix', () => {
    const b = mock({ profile: 'upstream-7.0' });
    const { v, buf, xe } = refusedImport(b);
    b.dev.close(xe);
    b.dev.close(v.device);
    b.dev.close(buf);
    expect(texts(b).some((l) => l.startsWith('BUG: KASAN'))).toBe(false);
    b.close();
  });

  it('with the fix (7.2.13, the fixed profile): the BO holds the dma-buf until the worker ran, then lets it go; no report', async () => {
    for (const profile of ['upstream-7.1', 'fixed'] as const) {
      const b = mock({ profile });
      const r = await failedImport(b);
      expect(r, profile).toEqual({ before: 1, after: 0 });
      expect(bugsOfKasan(texts(b)), profile).toEqual([]);
      expect(
        texts(b).some((l) => l.startsWith('BUG: KASAN')),
        profile,
      ).toBe(false);
      b.close();
    }
  });

  it('the 7.1 line before the first release known to have the fix (7.2.12) has the bug', async () => {
    const b = mock({
      profile: 'upstream-7.1',
      topology: topology((t) => {
        t.kernel = { ...t.kernel, release: '7.2.12' };
      }),
    });
    await failedImport(b);
    expect(bugsOfKasan(texts(b)).map((x) => x.id)).toEqual(['ttm-attach-uaf']);
    b.close();
  });

  it('without KASAN the freed memory is read silently', async () => {
    const b = mock({ profile: 'upstream-7.0', kernelConfig: { KASAN: 'n', SLUB_RCU_DEBUG: 'n' } });
    await failedImport(b);
    expect(texts(b).some((l) => l.startsWith('BUG: KASAN'))).toBe(false);
    b.close();
  });
});
