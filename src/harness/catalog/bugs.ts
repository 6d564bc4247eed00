// bugs/*: the merged path's known bugs (src/harness/bugs.ts, docs/bugs.md),
// each provoked the way the kernel's code says it happens. They need no GPU
// where the bug is vfio's or dma-buf's own, so they run in QEMU too. A bug
// that corrupts kernel memory runs on a shared machine only with
// --allow-destructive, like lifecycle/close-while-revoked.

import { readKernelConfig } from '../../host/doctor.js';
import { O } from '../../uapi/constants.js';
import { type BugName, bugOfKmemleak, bugsOfKasan, kasanExcerpt } from '../bugs.js';
import { IOVH_IC } from '../../uapi/iovh-ic.js';
import { openStandIn } from '../standin.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  errnoOf,
  exportDmaBuf,
  openVf,
  PAGE,
  requireCaps,
  requireDestructiveConsent,
  requireExportBar,
  requireTarget,
  spareVf,
  beginOwnKmemleak,
  endOwnKmemleak,
} from '../steps.js';
import { Gpu } from '../gpu.js';
import { requireImport } from '../imports.js';
import { SystemError } from '../../uapi/errors.js';
import { VFIO } from '../../uapi/constants.js';
import type { VfInfo } from '../../machine/topology.js';

/** What the kernel's config says about KASAN seeing a use-after-free of an RCU-freed object (null: unreadable). */
function kasanSees(ctx: ScenarioContext): { on: boolean; why: string } | null {
  const read = readKernelConfig(ctx.backend.fs, ctx.caps.release);
  if (!read) return null;
  const kasan = read.config.get('CONFIG_KASAN') === 'y';
  const rcu = read.config.get('CONFIG_SLUB_RCU_DEBUG') === 'y';
  if (kasan && rcu) return { on: true, why: `CONFIG_KASAN=y and CONFIG_SLUB_RCU_DEBUG=y (${read.source})` };
  return {
    on: false,
    why: `${kasan ? 'CONFIG_SLUB_RCU_DEBUG' : 'CONFIG_KASAN'} is not set (${read.source})`,
  };
}

/** Skip on a shared machine unless --allow-destructive; pick a VF other than the target when there is one. */
function destructiveVf(ctx: ScenarioContext, what: string): VfInfo {
  const target = requireTarget(ctx);
  requireDestructiveConsent(ctx, what);
  return spareVf(target);
}

/** The KASAN report of bug `id` in the scenario's kernel log so far, its excerpt recorded; null without one. */
function kasanReport(ctx: ScenarioContext, id: BugName): { head: string } | null {
  const log = ctx.kmsgSinceStart().map((r) => r.text);
  const found = bugsOfKasan(log).find((b) => b.id === id);
  if (found) ctx.record('kasanReport', kasanExcerpt(log));
  return found ?? null;
}

export const bugsOpathStaleFile: Scenario = {
  id: 'bugs/opath-stale-file',
  title: 'dma-buf held by O_PATH, then its VFIO device closed',
  description:
    "Exports one page of a VF's BAR as a dma-buf, opens /proc/self/fd/<dma-buf> with O_PATH (a reference to the dma-buf's " +
    'dentry only: fs/open.c do_dentry_open), closes the dma-buf fd, lets an RCU grace period pass, then closes the VFIO device. ' +
    "A dma-buf's lifetime is its dentry's (dma_buf_release is the d_release, drivers/dma-buf/dma-buf.c), so its struct file is " +
    "freed while vfio still lists the buffer; the close's revoke (vfio_pci_dma_buf_cleanup -> vfio_pci_dma_buf_move) calls " +
    'get_file_active on the freed file. With KASAN and SLUB_RCU_DEBUG that is "BUG: KASAN: slab-use-after-free in ' +
    'get_file_active": a crash naming bug opath-stale-file, with the KASAN excerpt. Without KASAN the write is silent, so the ' +
    'scenario skips. It corrupts kernel memory: on a shared machine it runs only with --allow-destructive.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireCaps(ctx, 'dmaBufExport');
    const vf = destructiveVf(
      ctx,
      "on a kernel with the bug, closing the device writes into a freed struct file (a use-after-free in the kernel's memory)",
    );
    const bar = requireExportBar(ctx, vf);
    const sees = kasanSees(ctx);
    ctx.record('kasan', sees ? sees.why : 'kernel config unreadable (no /proc/config.gz, no /boot/config-<release>)');
    if (sees && !sees.on)
      ctx.skip(
        'kasan',
        `the use-after-free is silent without KASAN watching RCU-freed objects: ${sees.why}`,
        'build the kernel with CONFIG_KASAN=y and CONFIG_SLUB_RCU_DEBUG=y (iovh qemu builds its guest kernel so)',
      );
    ctx.record('vf', vf.bdf);
    const device = openVf(ctx, vf.bdf);
    const buf = device.exportDmaBuf({ region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    ctx.defer(`close dma-buf fd ${buf.fd}`, () => buf.close());
    // The holder: O_PATH of our own fd link. Closed last, by the cleanup stack: its close runs dma_buf_release.
    const holder = ctx.backend.dev.open(`/proc/self/fd/${buf.fd}`, O.PATH | O.CLOEXEC);
    ctx.defer(`close the O_PATH fd ${holder}`, () => ctx.backend.dev.close(holder));
    ctx.record('holder', { fd: holder, link: ctx.backend.fs.readlink(`/proc/self/fd/${holder}`) });
    buf.close();
    // SLUB_RCU_DEBUG poisons the freed file one RCU grace period after the close (mm/slub.c slab_free_after_rcu_debug).
    await ctx.sleep(100);
    ctx.suspect('opath-stale-file', `VF ${vf.bdf}'s VFIO device closed while an O_PATH fd held its closed dma-buf`);
    device.close();
    const found = kasanReport(ctx, 'opath-stale-file');
    if (found) {
      ctx.bug(
        'opath-stale-file',
        `closing VF ${vf.bdf}'s VFIO device after its dma-buf fd was closed under an O_PATH holder: "${found.head}"`,
      );
      return;
    }
    if (!sees)
      ctx.skip(
        'kasan',
        "no KASAN report, but this kernel's config is unreadable: without KASAN and SLUB_RCU_DEBUG the use-after-free is silent",
        'expose the config (CONFIG_IKCONFIG_PROC or /boot/config-<release>) on a kernel built with CONFIG_KASAN=y and CONFIG_SLUB_RCU_DEBUG=y',
      );
    ctx.note(`no KASAN report (${sees.why}): the dma-buf left its device's list with its file`);
  },
};

export const bugsTtmAttachUaf: Scenario = {
  id: 'bugs/ttm-attach-uaf',
  title: 'failed xe import of a revoked dma-buf, then the dma-buf closed',
  description:
    "Exports one page of a VF's BAR, revokes it with VFIO_DEVICE_FEATURE LOW_POWER_ENTRY, imports it into the PF's xe (vfio's " +
    'attach refuses a revoked buffer with ENODEV) and closes the dma-buf fd at once. xe_dma_buf_create_obj made a ttm_bo_type_sg ' +
    "BO sharing the exporter's reservation object before attaching (drivers/gpu/drm/xe/xe_dma_buf.c); the failed import puts it, " +
    'and TTM keeps the shared reservation for sg BOs and hands the BO to its delayed-delete worker, which locks that reservation ' +
    'later (drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_individualize_resv, ttm_bo_delayed_delete). Before "drm/xe: Hold a dma-buf ' +
    'reference for imported BOs" nothing keeps the dma-buf alive, so if the close frees it before the worker runs the worker locks ' +
    'freed memory: with KASAN a crash naming bug ttm-attach-uaf. The worker usually runs first on real hardware: no report is not ' +
    'proof of the fix. Without KASAN the access is silent, so the scenario skips. On a shared machine it runs only with ' +
    '--allow-destructive.',
  expectedPath: 'refused',
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const vf = destructiveVf(
      ctx,
      "on a kernel with the bug, TTM's worker locks the reservation of a freed dma-buf (a use-after-free in the kernel's memory)",
    );
    const bar = requireExportBar(ctx, vf);
    const read = readKernelConfig(ctx.backend.fs, ctx.caps.release);
    const kasan = read ? read.config.get('CONFIG_KASAN') === 'y' : null;
    ctx.record('kasan', read ? `CONFIG_KASAN=${kasan ? 'y' : 'n'} (${read.source})` : 'kernel config unreadable');
    if (kasan === false)
      ctx.skip(
        'kasan',
        `the use-after-free is silent without KASAN: CONFIG_KASAN is not set (${read!.source})`,
        'build the kernel with CONFIG_KASAN=y',
      );
    ctx.record('vf', vf.bdf);
    const gpu = Gpu.open(ctx);
    const device = openVf(ctx, vf.bdf);
    const buf = device.exportDmaBuf({ region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    ctx.defer(`close dma-buf fd ${buf.fd}`, () => buf.close());
    const entry = errnoOf(() => device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY));
    if (entry.code !== null)
      ctx.skip(
        'lowPower',
        `VFIO_DEVICE_FEATURE LOW_POWER_ENTRY on ${vf.bdf} failed with ${entry.code}: nothing keeps the buffer revoked`,
        'a VF whose driver supports runtime PM through vfio-pci (docs/kernel.md §3.5)',
      );
    ctx.defer(`LOW_POWER_EXIT on ${vf.bdf}`, () => {
      device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT);
    });
    ctx.suspect(
      'ttm-attach-uaf',
      `a PRIME import of VF ${vf.bdf}'s revoked dma-buf failed, then the dma-buf was closed`,
    );
    let refused: string | null = null;
    try {
      gpu.import(buf).close();
    } catch (e) {
      if (!(e instanceof SystemError)) throw e;
      refused = e.code;
    }
    // At once: the interleaving in which the close frees the dma-buf before TTM's worker locks its reservation.
    buf.close();
    ctx.record('importRefused', refused ?? 'imported');
    if (refused === null) {
      ctx.note('the revoked buffer was imported (no failed attach, so nothing for TTM to delete late)');
      return;
    }
    ctx.check(
      refused === 'ENODEV',
      `the PRIME import of a revoked buffer failed with ${refused}, expected ENODEV (docs/kernel.md §3.4)`,
    );
    // Let the worker run (and KASAN report) inside the scenario's window.
    await ctx.sleep(100);
    const found = kasanReport(ctx, 'ttm-attach-uaf');
    if (found) {
      ctx.bug(
        'ttm-attach-uaf',
        `TTM's delayed delete of the failed import's BO after the dma-buf was closed: "${found.head}"`,
      );
      return;
    }
    ctx.note('no KASAN report: the worker ran before the dma-buf was freed, or xe holds a dma-buf reference (the fix)');
  },
};

/** P2P maps bugs/p2p-sgt-leak makes: each leaks one object on a kernel with the bug. */
export const SGT_LEAK_ROUNDS = 256;

export const bugsP2pSgtLeak: Scenario = {
  id: 'bugs/p2p-sgt-leak',
  title: 'kmemleak over repeated P2P maps of a vfio dma-buf',
  description:
    `Exports one page of a VF's BAR and, ${SGT_LEAK_ROUNDS} times, imports it with iovh's stand-in importer (plain P2P, the VF ` +
    'itself as the importer device: a bus address, drivers/pci/p2pdma.c), maps it (vfio_pci_dma_buf_map -> ' +
    'dma_buf_phys_vec_to_sgt) and releases the import (the unmap: dma_buf_free_sgt). Then it asks kmemleak (two scans, the second ' +
    'after its minimum object age; objects of its own process only) what is left unreferenced. dma_buf_phys_vec_to_sgt zeroes the ' +
    "table's orig_nents after sg_alloc_table and dma_buf_free_sgt frees with sg_free_table, which frees orig_nents entries " +
    '(drivers/dma-buf/dma-buf-mapping.c, lib/scatterlist.c): none, so each map leaks its scatterlist (32 bytes for one ' +
    "entry), bug p2p-sgt-leak, named from the objects' allocation backtraces. Any other leak of the path is a failure. On a " +
    'KASAN kernel of the 7.1 line a stale per-CPU sheaf slot hides the most recent small leaks for a while (27 and 44 of 64 ' +
    'maps, 56 of 256, in boots of the 7.2.13 guest, docs/kernel.md §12), hence the many maps: one reported object is enough to name ' +
    'the bug.',
  expectedPath: 'p2p',
  // As rfc/ranges-leak: the scenario measures kmemleak itself, in a process of its own (no scans before the rounds:
  // only objects of this process's tasks count).
  ownProcess: true,
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport', 'kmemleak');
    const vf = target.vf;
    const bar = requireExportBar(ctx, vf);
    const ic = openStandIn(ctx, { role: 'it maps the dma-buf as a P2P importer' });
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    const kmemleak = beginOwnKmemleak(ctx);
    let maps = 0;
    const refused = new Map<string, number>();
    for (let i = 0; i < SGT_LEAK_ROUNDS; i++) {
      ctx.abortIfStopped();
      const imp = ic.import(buf.fd, {
        importer: vf.bdf,
        bar: bar.index,
        flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE,
      });
      try {
        imp.map();
        maps++;
      } catch (e) {
        if (!(e instanceof SystemError)) throw e;
        refused.set(e.code, (refused.get(e.code) ?? 0) + 1);
      } finally {
        imp.release();
      }
    }
    ctx.record('rounds', SGT_LEAK_ROUNDS);
    ctx.record('maps', maps);
    if (maps === 0)
      ctx.skip(
        'p2p',
        `no P2P map of VF ${vf.bdf}'s dma-buf by itself succeeded (${[...refused].map(([c, n]) => `${n}x ${c}`).join(', ')})`,
        'a VF whose P2P map to itself is a bus address (import/p2p-route shows the route)',
      );
    ctx.setPath('p2p');
    // The minimum age waited between the scans: the first one takes most of it on a sanitizer kernel.
    const who = await endOwnKmemleak(ctx, () => kmemleak.endAged(ctx.timing.kmemleakAgeMs, (ms) => ctx.sleep(ms)));
    const sgt = who.ours.filter((o) => bugOfKmemleak(o.functions) === 'p2p-sgt-leak');
    const other = who.ours.filter((o) => bugOfKmemleak(o.functions) === null);
    ctx.record('kmemleak', {
      sgtObjects: sgt.length,
      sizes: [...new Set(sgt.map((o) => o.size))].filter((n): n is number => n !== null),
      excerpt: sgt.slice(0, 2).map((o) => o.lines.join(' | ')),
      otherObjects: other.map((o) => o.lines.join(' | ')).slice(0, 4),
      otherTasks: who.pathElsewhere.map((o) => o.lines[0]!),
      unrelated: who.unrelated.map((o) => `${o.lines[0]} ${o.comm ?? '?'}: ${o.functions.slice(0, 3).join(' < ')}`),
    });
    if (other.length > 0)
      ctx.fail(
        `kmemleak reports ${other.length} other new unreferenced objects of the P2P map path after ${maps} maps (first: ${other[0]!.lines[0]} ${other[0]!.functions.slice(0, 4).join(' < ')})`,
      );
    if (sgt.length > 0) {
      const first = sgt[0]!;
      ctx.bug(
        'p2p-sgt-leak',
        `${maps} P2P maps and unmaps of VF ${vf.bdf}'s dma-buf: kmemleak reports ${sgt.length} of their scatterlists unreferenced ` +
          `(kmemleak: size ${first.size ?? '?'}, ${first.functions.slice(0, 4).join(' < ')})`,
      );
      return;
    }
    if (ctx.failures.length === 0) ctx.note(`${maps} P2P maps and unmaps, no scatterlist left unreferenced`);
  },
};

export const bugsScenarios: Scenario[] = [bugsP2pSgtLeak, bugsOpathStaleFile, bugsTtmAttachUaf];
