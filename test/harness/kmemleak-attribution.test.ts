// kmemleak on a real kernel reports more than our leaks: other subsystems'
// leaks and false positives, and objects another task leaked on the same path
// (an earlier scenario's, not yet old enough when this window began). A
// scenario judges only what its own tasks leaked on the import path, by each
// object's allocation backtrace and pid; the rest neither fails it nor hides
// its own (fidelity audit row 83).
import { describe, expect, it } from 'vitest';
import { attributeKmemleak, KmemleakMonitor, kmemleakObject, parseKmemleak } from '../../src/harness/monitors.js';
import { leakMapRanges } from '../../src/harness/catalog/leak.js';
import { createMockBackend } from '../../src/mock/backend.js';
import { runScenarios } from '../../src/harness/runner.js';
import { declaredMock, scenarioOptions } from './evidence-helpers.js';

const REPORT = `unreferenced object 0xffff888104000040 (size 32):
  comm "node", pid 4300, jiffies 4294895740
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace (crc 557800e5):
    __kmalloc_cache_noprof+0x2f1/0x3c0
    dma_buf_map_interconnect+0x4e/0xe0
    xe_bo_move+0x4a7/0x9a0 [xe]
    __x64_sys_ioctl+0x94/0xd0
unreferenced object 0xffff888104000080 (size 32):
  comm "node", pid 4299, jiffies 4294895700
  backtrace (crc 557800e5):
    __kmalloc_cache_noprof+0x2f1/0x3c0
    dma_buf_map_interconnect+0x4e/0xe0
unreferenced object 0xffff8881040000c0 (size 32):
  comm "kworker/u8:3", pid 211, jiffies 4294895600
  backtrace (crc 12345678):
    __kmalloc_node_track_caller_noprof+0x1e2/0x4b0
    kvasprintf+0x6a/0xd0
    kobject_set_name_vargs+0x1a/0x90
`;

/** A kernel whose frees overwrite the stale per-CPU sheaf slots, so small leaks are reported (docs/kernel.md §12). */
const NO_KASAN = { KASAN: 'n', SLUB_RCU_DEBUG: 'n' } as const;

describe('kmemleak attribution', () => {
  it('parses size, task and backtrace functions of each object', () => {
    const o = kmemleakObject(parseKmemleak(REPORT)[0]!);
    expect(o).toMatchObject({ size: 32, comm: 'node', pid: 4300 });
    expect(o.functions).toEqual([
      '__kmalloc_cache_noprof',
      'dma_buf_map_interconnect',
      'xe_bo_move',
      '__x64_sys_ioctl',
    ]);
  });

  it("ours: the path's functions and one of our tasks; another task's on the path, and noise, are set apart", () => {
    const a = attributeKmemleak(parseKmemleak(REPORT), new Set([4300]));
    expect(a.ours.map((o) => o.pid)).toEqual([4300]);
    expect(a.pathElsewhere.map((o) => o.pid)).toEqual([4299]);
    expect(a.unrelated.map((o) => o.comm)).toEqual(['kworker/u8:3']);
  });

  it('the mock prints the allocation call chain and the slab size, and leaks unrelated noise as a real kernel does', async () => {
    // Without KASAN: on a KASAN kernel of this line small leaks keep a stale sheaf reference (docs/kernel.md §12).
    const b = createMockBackend({ profile: 'upstream-7.1', kernelConfig: NO_KASAN });
    const KL = '/sys/kernel/debug/kmemleak';
    b.kernel.platform.kernel
      .alloc('struct dma_buf_ranges', 24, ['__kmalloc_cache_noprof+0x2f1/0x3c0', 'dma_buf_map_interconnect+0x4e/0xe0'])
      .orphan();
    await b.sleep!(6000);
    for (let i = 0; i < 12; i++) {
      b.fs.writeFile(KL, 'scan');
      await b.sleep!(6000);
    }
    const objects = parseKmemleak(b.fs.readText(KL)).map(kmemleakObject);
    const ours = objects.find((o) => o.functions.includes('dma_buf_map_interconnect'))!;
    expect(ours.size).toBe(32);
    expect(ours.functions.slice(0, 2)).toEqual(['__kmalloc_cache_noprof', 'dma_buf_map_interconnect']);
    expect(objects.some((o) => o.comm?.startsWith('kworker/') && o.functions.includes('kobject_set_name_vargs'))).toBe(
      true,
    );
    b.close();
  });

  it('leak/map-ranges on a kernel that leaks nothing passes although kmemleak reports noise and another task leaked on the path', async () => {
    // upstream-7.1 without p2p-sgt-leak: a P2P map that frees its scatterlist.
    const b = declaredMock('upstream-7.1', NO_KASAN, ['deferred-unmap-hang']);
    // Another process leaks a path object and the kernel a noise object just before the scenario: young enough
    // that the window's opening scans do not report them, so its closing scans do.
    const other = b.spawnProcess('other');
    other.kernel.platform.kernel
      .alloc('struct dma_buf_ranges', 24, ['__kmalloc_cache_noprof+0x2f1/0x3c0', 'dma_buf_map_interconnect+0x4e/0xe0'])
      .orphan();
    b.kernel.platform.kernel.alloc('noise', 21, ['kvasprintf+0x6a/0xd0', 'kobject_set_name_vargs+0x1a/0x90']).orphan();
    const run = await runScenarios(scenarioOptions(b, [leakMapRanges]));
    const r = run.scenarios.find((s) => s.id === 'leak/map-ranges')!;
    expect(r.status, r.reason).toBe('pass');
    const k = r.evidence.kmemleak as { newObjects: number; otherTasks: string[]; unrelated: string[] };
    expect(k.newObjects).toBe(0);
    expect(k.otherTasks.length + k.unrelated.length).toBeGreaterThan(0);
    other.close();
    b.close();
  });

  it("leak/map-ranges names p2p-sgt-leak from the P2P maps' scatterlists, and nothing else", async () => {
    const b = declaredMock('upstream-7.1', NO_KASAN);
    const run = await runScenarios(scenarioOptions(b, [leakMapRanges]));
    const r = run.scenarios.find((s) => s.id === 'leak/map-ranges')!;
    expect(r.status, r.reason).toBe('fail');
    expect(r.bugs.map((x) => x.id)).toEqual(['p2p-sgt-leak']);
    expect(r.reason).toMatch(
      /kmemleak reports 8 scatterlists of the P2P maps unreferenced after 8 rounds \(size 32: __kmalloc_noprof < __sg_alloc_table < sg_alloc_table < dma_buf_phys_vec_to_sgt\)/,
    );
    const k = r.evidence.kmemleak as { newObjects: number; p2pScatterlists: number };
    expect([k.newObjects, k.p2pScatterlists]).toEqual([0, 8]);
    // The runner's own window sees them too: no second complaint for the bug the scenario named.
    expect(r.cleanliness.kmemleak.newObjects).toBe(8);
    expect(r.reason).not.toMatch(/new unreferenced objects/);
    b.close();
  });

  it('endAged waits the minimum age between its two scans, only what the first scan did not use up', async () => {
    const b = createMockBackend({ profile: 'upstream-7.1', kernelConfig: NO_KASAN });
    const KL = '/sys/kernel/debug/kmemleak';
    const monitor = KmemleakMonitor.open(b.fs);
    monitor.begin({ scans: 0 });
    b.kernel.platform.kernel
      .alloc('struct dma_buf_ranges', 24, ['__kmalloc_cache_noprof+0x2f1/0x3c0', 'dma_buf_map_interconnect+0x4e/0xe0'])
      .orphan();
    // A first scan that takes 4 s of the clock the wait runs on: 1.5 s left of 5.5 s.
    let clock = 0;
    const slept: number[] = [];
    const fs = b.fs;
    const scanning = new Proxy(fs, {
      get: (t, k) =>
        k === 'writeFile'
          ? (path: string, data: string) => {
              fs.writeFile(path, data);
              if (path === KL && data === 'scan') clock += 4000;
            }
          : Reflect.get(t, k),
    });
    const slow = KmemleakMonitor.open(scanning);
    const report = await slow.endAged(
      5500,
      async (ms) => {
        slept.push(ms);
        await b.sleep!(ms + 4000);
      },
      () => clock,
    );
    expect(slept).toEqual([1500]);
    expect(report.map((r) => kmemleakObject(r).functions[1])).toContain('dma_buf_map_interconnect');
    // A first scan longer than the age: no wait at all.
    slept.length = 0;
    clock = 0;
    await slow.endAged(
      3000,
      async (ms) => void slept.push(ms),
      () => clock,
    );
    expect(slept).toEqual([]);
    expect(monitor.available).toBe(true);
    b.close();
  });

  it('leak/map-ranges skips citing kmemleak when kmemleak was turned off (echo off: its commands fail, clear aside)', async () => {
    const b = declaredMock('upstream-7.1', NO_KASAN);
    b.fs.writeFile('/sys/kernel/debug/kmemleak', 'off');
    const run = await runScenarios(scenarioOptions(b, [leakMapRanges]));
    const r = run.scenarios.find((s) => s.id === 'leak/map-ranges')!;
    expect([r.status, r.skip?.capability]).toEqual(['skip', 'kmemleak']);
    expect(r.reason).toMatch(/kmemleak is disabled/);
    b.close();
  });

  it('rfc-v1 leak/map-ranges still names quirk 6 with the noise around', async () => {
    const b = declaredMock('rfc-v1', NO_KASAN);
    b.kernel.platform.kernel.alloc('noise', 21, ['kvasprintf+0x6a/0xd0', 'kobject_set_name_vargs+0x1a/0x90']).orphan();
    const run = await runScenarios(scenarioOptions(b, [leakMapRanges]));
    const r = run.scenarios.find((s) => s.id === 'leak/map-ranges')!;
    expect(r.quirks.map((q) => q.id)).toEqual(['ranges-leak']);
    b.close();
  });
});
