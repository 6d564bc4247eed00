// bugs/*: the merged path's known bugs (src/harness/bugs.ts, docs/bugs.md),
// each provoked the way the kernel's code says it happens. They need no GPU
// where the bug is vfio's or dma-buf's own, so they run in QEMU too. A bug
// that corrupts kernel memory runs on a shared machine only with
// --allow-destructive, like lifecycle/close-while-revoked.

import { readKernelConfig } from '../../host/doctor.js';
import { O } from '../../uapi/constants.js';
import { bugsOfKasan, kasanExcerpt } from '../bugs.js';
import { DEFAULT_POLICY } from '../caps.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { openVf, PAGE, requireCaps, requireExportBar, requireTarget } from '../steps.js';
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
  const policy = ctx.caps.policy ?? DEFAULT_POLICY;
  if (ctx.backend.traits.shared && !policy.allowDestructive)
    ctx.skip(
      'destructive',
      what,
      'run with --allow-destructive (on a machine you can reboot: a QEMU guest, a lab box)',
    );
  return [...target.vfioVfs].reverse().find((v) => v.bdf !== target.vf.bdf) ?? target.vf;
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
    const log = ctx.kmsgSinceStart().map((r) => r.text);
    const found = bugsOfKasan(log).find((b) => b.id === 'opath-stale-file');
    if (found) {
      ctx.record('kasanReport', kasanExcerpt(log));
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

export const bugsScenarios: Scenario[] = [bugsOpathStaleFile];
