// The P2P map's scatterlist leak (docs/bugs.md `p2p-sgt-leak`) on the mock:
// dma_buf_phys_vec_to_sgt zeroes orig_nents, so dma_buf_free_sgt's
// sg_free_table frees none of the table (drivers/dma-buf/dma-buf-mapping.c,
// lib/scatterlist.c). Each map through vfio leaves its chunks unreferenced;
// a kernel without the bug frees them; a KASAN kernel of the 7.1 line hides
// the most recent small ones behind stale sheaf slots (docs/kernel.md §12).
import { describe, expect, it } from 'vitest';
import { IOVH_IC, StandInImporter } from '../../src/uapi/iovh-ic.js';
import { kmemleakObject, parseKmemleak } from '../../src/harness/monitors.js';
import { bugOfKmemleak } from '../../src/harness/bugs.js';
import { STALE_SLOTS } from '../../src/mock/kmemleak.js';
import type { MockOptions } from '../../src/mock/backend.js';
import { enableVfs, exportBar2, mock, openVfio, VF0 } from './helpers.js';

const KL = '/sys/kernel/debug/kmemleak';
const NO_KASAN = { KASAN: 'n', SLUB_RCU_DEBUG: 'n' } as const;

/** `maps` P2P maps and unmaps of a VF0 dma-buf of `pairs`, by VF0 itself (a bus address); kmemleak's objects after. */
async function mapped(options: MockOptions, maps: number, pairs?: [bigint, bigint][]) {
  const b = mock(options);
  enableVfs(b, 2, [0, 1]);
  const v = openVfio(b);
  const fd = exportBar2(b, v.device, pairs);
  const ic = StandInImporter.open(b);
  for (let i = 0; i < maps; i++) {
    const imp = ic.import(fd, { importer: VF0, flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE });
    expect(imp.map().path).toBe(IOVH_IC.PATH_SG);
    imp.release();
  }
  await b.sleep!(6000);
  b.fs.writeFile(KL, 'scan');
  b.fs.writeFile(KL, 'scan');
  const objects = parseKmemleak(b.fs.readText(KL)).map(kmemleakObject);
  b.close();
  return objects.filter((o) => bugOfKmemleak(o.functions) === 'p2p-sgt-leak');
}

describe('p2p-sgt-leak on the mock', () => {
  it('each P2P map of a one-range buffer leaves one 32-byte scatterlist, with the backtrace the real kernel prints', async () => {
    const leaked = await mapped({ profile: 'upstream-7.1', kernelConfig: NO_KASAN }, 3);
    expect(leaked.map((o) => o.size)).toEqual([32, 32, 32]);
    expect(leaked[0]!.functions.slice(0, 7)).toEqual([
      '__kmalloc_noprof',
      '__sg_alloc_table',
      'sg_alloc_table',
      'dma_buf_phys_vec_to_sgt',
      'vfio_pci_dma_buf_map',
      'dma_buf_map_attachment',
      'iovh_ic_ioctl',
    ]);
  });

  it('a kernel without the bug frees the table', async () => {
    expect(
      await mapped({ profile: 'upstream-7.1', kernelConfig: NO_KASAN, quirks: ['deferred-unmap-hang'] }, 3),
    ).toEqual([]);
    expect(await mapped({ profile: 'fixed', kernelConfig: NO_KASAN }, 3)).toEqual([]);
  });

  it('more than SG_MAX_SINGLE_ALLOC entries: a chained page of 128 entries (kmemleak_alloc in sg_kmalloc) and the rest', async () => {
    // 200 one-page ranges: calc_sg_nents gives 200 entries, a page using 127 of them and a kmalloc of 73.
    const pairs = Array.from({ length: 200 }, (_, i): [bigint, bigint] => [BigInt(i) * 8192n, 4096n]);
    const leaked = await mapped({ profile: 'upstream-7.1', kernelConfig: NO_KASAN }, 1, pairs);
    expect(leaked.map((o) => [o.size, o.functions[0]])).toEqual([
      [4096, 'sg_kmalloc'],
      [4096, '__kmalloc_noprof'],
    ]);
  });

  it("a KASAN kernel of the 7.1 line hides the most recent maps' scatterlists: 37 of 64 reported, as on the 7.2.13 guest", async () => {
    expect(STALE_SLOTS).toBe(54);
    expect((await mapped({ profile: 'upstream-7.1' }, 64)).length).toBe(37);
    // Fewer maps than the window: every one is still behind a stale slot.
    expect((await mapped({ profile: 'upstream-7.1' }, 8)).length).toBe(0);
  });
});
