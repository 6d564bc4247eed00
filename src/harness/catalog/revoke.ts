// Revoke triggers from another process, while an importer holds a mapping
// (docs/bugs.md `deferred-unmap-hang`, docs/kernel.md §3.5). Every trigger
// vfio has (VFIO_DEVICE_RESET, an FLR written through config space, the last
// close of the device, D3hot, clearing the memory-enable bit) calls
// vfio_pci_dma_buf_move(vdev, true) (drivers/vfio/pci/vfio_pci_core.c,
// vfio_pci_config.c, vfio_pci_dmabuf.c), which from 7.1 on tells the
// importers to let go and then waits, with wait_for_completion and no
// timeout, until every mapping is unmapped. xe only marks its BO on that
// notice and unmaps at the next map or when the BO goes (xe_bo.c,
// xe_dma_buf.c): the revoke then waits for as long as the GPU client keeps
// its BO. iovh's stand-in importer (kernel/iovh-ic-importer) does the same
// with IOVH_IC_IMPORT_DEFER_UNMAP, so the hang is reproduced on any kernel
// with the stand-in loaded (a QEMU guest), no GPU needed; iommufd, which
// unmaps as soon as it is told (iopt_revoke_notify), is the positive control:
// the same triggers must complete.
//
// The trigger runs in a process of its own (trigger.ts) and this process
// watches it: iovh's own watchdog (timing.stallMs), then the task's state
// from /proc (D, wchan, stack) and the hung-task detector's report. A stuck
// trigger is a named failure, never a timeout of iovh; the import is then
// released (what a GPU client's exit would do), and a trigger that stays stuck
// even so is abandoned, with the report saying the machine needs a reboot.

import { VFIO } from '../../uapi/constants.js';
import { SystemError } from '../../uapi/errors.js';
import { IOVH_IC, type IcImport } from '../../uapi/iovh-ic.js';
import { openStandIn } from '../standin.js';
import type { VfioDevice } from '../../uapi/vfio.js';
import type { VfInfo } from '../../machine/topology.js';
import { IommufdImporter } from '../iommufd.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  exportDmaBuf,
  openVf,
  PAGE,
  requireCaps,
  requireDestructiveConsent,
  requireExportBar,
  requireTarget,
} from '../steps.js';
import { hungTaskReports, hungTaskTimeout, readTask, sleepsIn, type TaskState } from '../stuck.js';
import { startTrigger, type TriggerOp, type TriggerRun, TriggerStartError } from '../trigger.js';

type TriggerName = 'reset' | 'flr' | 'close' | 'd3hot' | 'memory';

const PCI_CAP_ID_PM = 0x01;
const PCI_CAP_ID_EXP = 0x10;
const PCI_EXP_DEVCAP = 4;
const PCI_EXP_DEVCAP_FLR = 1 << 28;
const PCI_EXP_DEVCTL = 8;
const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
const PCI_PM_CTRL = 4;
const PCI_COMMAND = 4;
const PCI_COMMAND_MEMORY = 2;

/** The function that waits (get_wchan skips wait_for_completion and the scheduler: __sched; stuck.ts sleepsIn). */
const WAITER = 'vfio_pci_dma_buf_move';

const TRIGGERS: Record<TriggerName, { what: string; source: string }> = {
  reset: { what: 'VFIO_DEVICE_RESET', source: 'vfio_pci_ioctl_reset (vfio_pci_core.c)' },
  flr: {
    what: 'an FLR written to the PCIe Device Control register through the VFIO config region',
    source: 'vfio_exp_config_write (vfio_pci_config.c)',
  },
  close: {
    what: 'the last close of the VFIO device',
    source: 'vfio_pci_core_close_device -> vfio_pci_dma_buf_cleanup',
  },
  d3hot: {
    what: 'D3hot written to the PM control register through the VFIO config region',
    source: 'vfio_pm_config_write -> vfio_lock_and_set_power_state (vfio_pci_config.c)',
  },
  memory: {
    what: 'PCI_COMMAND with the memory-enable bit clear (transient on a VF: it un-revokes in the same write)',
    source: 'vfio_basic_config_write (vfio_pci_config.c)',
  },
};

/** A capability's offset in the device's config space, walked through the VFIO config region (0: absent). */
function findCap(device: VfioDevice, id: number): number {
  const cfg = VFIO.PCI_CONFIG_REGION_INDEX;
  const status = device.read(cfg, 6, 2);
  if ((status[0]! & 0x10) === 0) return 0; // PCI_STATUS_CAP_LIST
  let pos = device.read(cfg, 0x34, 1)[0]! & 0xfc;
  for (let hops = 0; pos >= 0x40 && hops < 48; hops++) {
    const [capId, next] = device.read(cfg, pos, 2);
    if (capId === id) return pos;
    pos = next! & 0xfc;
  }
  return 0;
}

function u16(b: Uint8Array): number {
  return b[0]! | (b[1]! << 8);
}

function le16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >> 8) & 0xff);
}

/**
 * The trigger's system call for `name`, and what puts the device back after
 * it. Skips where the VF lacks what the trigger needs (QEMU's igbvf has no PM
 * capability; xe's VFs neither).
 */
function prepare(ctx: ScenarioContext, device: VfioDevice, name: TriggerName): { op: TriggerOp; undo: () => void } {
  const cfg = VFIO.PCI_CONFIG_REGION_INDEX;
  const base = device.regionInfo(cfg).offset;
  const noop = () => undefined;
  switch (name) {
    case 'reset':
      return { op: { op: 'reset' }, undo: noop };
    case 'close':
      return { op: { op: 'close' }, undo: noop };
    case 'flr': {
      const exp = findCap(device, PCI_CAP_ID_EXP);
      const devcap = exp ? device.read(cfg, exp + PCI_EXP_DEVCAP, 4) : null;
      if (!exp || !devcap || ((devcap[3]! << 24) & PCI_EXP_DEVCAP_FLR) === 0)
        ctx.skip(
          'shape',
          `VF ${device.bdf} ${exp ? 'does not advertise function-level reset (PCIe DEVCAP FLR clear)' : 'has no PCIe capability'}: vfio ignores the FLR bit there`,
          'run on a VF whose PCIe capability advertises FLR (xe VFs, igb VFs in QEMU)',
        );
      const devctl = u16(device.read(cfg, exp + PCI_EXP_DEVCTL, 2));
      ctx.record('config', { pcieCap: exp, devctl });
      return {
        op: { op: 'write', offset: base + BigInt(exp + PCI_EXP_DEVCTL), data: le16(devctl | PCI_EXP_DEVCTL_BCR_FLR) },
        undo: noop,
      };
    }
    case 'd3hot': {
      const pm = findCap(device, PCI_CAP_ID_PM);
      if (!pm)
        ctx.skip(
          'shape',
          `VF ${device.bdf} has no PM capability, so there is no D3hot to write (vfio_pm_config_write)`,
          'run on a VF with a PM capability (neither xe VFs nor QEMU igb VFs have one)',
        );
      const pmcsr = u16(device.read(cfg, pm + PCI_PM_CTRL, 2));
      ctx.record('config', { pmCap: pm, pmcsr });
      return {
        op: { op: 'write', offset: base + BigInt(pm + PCI_PM_CTRL), data: le16((pmcsr & ~3) | 3) },
        undo: () => {
          if (!device.closed) device.write(cfg, pm + PCI_PM_CTRL, le16(pmcsr & ~3));
        },
      };
    }
    case 'memory': {
      const command = u16(device.read(cfg, PCI_COMMAND, 2));
      ctx.record('config', { command });
      return {
        op: { op: 'write', offset: base + BigInt(PCI_COMMAND), data: le16(command & ~PCI_COMMAND_MEMORY) },
        undo: () => {
          if (!device.closed) device.write(cfg, PCI_COMMAND, le16(command));
        },
      };
    }
  }
}

interface Holder {
  /** What holds the mapping, for messages. */
  who: string;
  /** Let go of the mapping (the stand-in's RELEASE, iommufd's unmap). */
  release(): void;
}

/** The stand-in importer, importing as xe does on invalidation: the unmap deferred. Skips when it is not loaded. */
function standInHolder(ctx: ScenarioContext, device: VfioDevice, vf: VfInfo, barIndex: number): Holder {
  const ic = openStandIn(ctx, { role: "it plays xe's deferred unmap" });
  const buf = exportDmaBuf(ctx, device, { region: barIndex, ranges: [{ offset: 0n, length: PAGE }] });
  // The VF itself as the importer device: pci_p2pdma_map_type of a function to itself is a bus address
  // (drivers/pci/p2pdma.c calc_map_type_and_dist, distance 0), whatever the machine's switches and ACS.
  const imp: IcImport = ic.import(buf.fd, {
    importer: vf.bdf,
    bar: barIndex,
    flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE | IOVH_IC.IMPORT_DEFER_UNMAP,
  });
  ctx.defer('release the stand-in import', () => imp.release());
  let mapped: ReturnType<IcImport['map']>;
  try {
    mapped = imp.map();
  } catch (e) {
    if (e instanceof SystemError) {
      ctx.fail(`the stand-in's scatter-gather map of VF ${vf.bdf}'s dma-buf failed with ${e.code}: nothing is held`);
    }
    throw e;
  }
  ctx.record('import', { importer: 'stand-in (defer unmap, as xe)', path: mapped.path, ranges: mapped.nrRanges });
  return { who: "the stand-in importer (xe's deferred unmap)", release: () => imp.release() };
}

function iommufdHolder(ctx: ScenarioContext, device: VfioDevice, barIndex: number): Holder {
  const importer = IommufdImporter.open(ctx);
  const buf = exportDmaBuf(ctx, device, { region: barIndex, ranges: [{ offset: 0n, length: PAGE }] });
  const m = importer.import(buf);
  ctx.record('import', { importer: 'iommufd (IOMMU_IOAS_MAP_FILE)' });
  return {
    who: 'iommufd',
    release: () => {
      m.unmap();
    },
  };
}

interface Watched {
  done: boolean;
  code: string | null;
  waitedMs: number;
  task: TaskState | null;
}

/**
 * Wait for the trigger: done, or stuck (past `stallMs` and asleep in D in
 * vfio's revoke), or past `limitMs` whatever it does.
 */
async function watch(ctx: ScenarioContext, run: TriggerRun, stallMs: number, limitMs: number): Promise<Watched> {
  const step = Math.max(1, Math.min(50, Math.floor(stallMs / 4)));
  let waited = 0;
  for (;;) {
    const out = run.outcome();
    if (out) return { done: true, code: out.code, waitedMs: waited, task: null };
    if (waited >= stallMs) {
      const task = readTask(ctx.backend.fs, run.pid);
      if (sleepsIn(task, WAITER) || waited >= limitMs) return { done: false, code: null, waitedMs: waited, task };
    }
    await ctx.sleep(step);
    waited += step;
  }
}

function describeTask(t: TaskState | null): string {
  if (!t) return 'its /proc entry is gone';
  const where = t.wchan ?? t.stack?.[0]?.replace(/\+0x.*$/, '') ?? 'an unknown place';
  return `task ${t.comm}:${t.pid} is in state ${t.state} in ${where}`;
}

async function runTrigger(ctx: ScenarioContext, name: TriggerName, importer: 'stand-in' | 'iommufd'): Promise<void> {
  const target = requireTarget(ctx);
  requireCaps(ctx, 'dmaBufExport');
  if (importer === 'stand-in')
    requireDestructiveConsent(
      ctx,
      'on a kernel with the bug the trigger sleeps in the kernel until the importer lets go, holding the VF',
    );
  const vf = target.vf;
  const bar = requireExportBar(ctx, vf);
  // Registered first, so it runs last: after the import's release and the device's close have let a trigger
  // that is still in the kernel return (a scenario that failed midway leaves no trigger process behind).
  let run: TriggerRun | null = null;
  ctx.defer('end the trigger process (one still asleep in the kernel is left there)', () => run?.finish());
  const device = openVf(ctx, vf.bdf);
  ctx.record('vf', vf.bdf);
  // What the trigger needs of the VF first: a VF without it skips before anything is imported.
  const { op, undo } = prepare(ctx, device, name);
  const holder =
    importer === 'stand-in' ? standInHolder(ctx, device, vf, bar.index) : iommufdHolder(ctx, device, bar.index);
  const t = TRIGGERS[name];
  try {
    run = await startTrigger(ctx.backend, device.fd, op, {
      startMs: Math.max(ctx.timing.stallMs * 24, 1000),
      sleep: (ms) => ctx.sleep(ms),
      // Ours closed, the trigger process's close is the device's last: the one that revokes for good.
      ...(name === 'close' ? { afterSpawn: () => device.closeFd() } : {}),
    });
  } catch (e) {
    if (!(e instanceof TriggerStartError)) throw e;
    ctx.fail(e.message);
    return;
  }
  ctx.record('trigger', { what: t.what, pid: run.pid, source: t.source });
  const first = await watch(ctx, run, ctx.timing.stallMs, ctx.timing.stallMs * 10);
  if (first.done) {
    run.finish();
    undo();
    ctx.record('triggerResult', { completedMs: first.waitedMs, code: first.code ?? 'ok' });
    if (!ctx.check(first.code === null, `${t.what} failed with ${first.code}`)) return;
    ctx.note(`${t.what}, from process ${run.pid}, completed while ${holder.who} held a mapping`);
    return;
  }
  // Stuck: what the kernel says about the task, and the hung-task detector if it reports within its period.
  const task = first.task;
  ctx.record('stuck', {
    pid: run.pid,
    afterMs: first.waitedMs,
    state: task?.state ?? null,
    wchan: task?.wchan ?? null,
    stack: task?.stack ?? null,
  });
  const hungSecs = hungTaskTimeout(ctx.backend.fs);
  let hung = hungTaskReports(
    ctx.kmsgSinceStart().map((r) => r.text),
    run.pid,
  );
  // check_hung_task reports a task blocked longer than the timeout, checked once per timeout period.
  if (hung.length === 0 && hungSecs !== null && hungSecs <= 30) {
    const until = (2 * hungSecs + 2) * 1000;
    for (let waited = 0; hung.length === 0 && waited < until && !run.outcome(); waited += 500) {
      await ctx.sleep(500);
      hung = hungTaskReports(
        ctx.kmsgSinceStart().map((r) => r.text),
        run.pid,
      );
    }
  }
  ctx.record('hungTask', hung.length ? hung[0]! : hungSecs === null ? 'no hung-task detector' : 'not reported');
  const evidence =
    `${t.what}, from process ${run.pid}, was still pending ${first.waitedMs} ms later while ${holder.who} held a mapping: ` +
    `${describeTask(task)}${hung.length ? `; the kernel: "${hung[0]}"` : ''}`;
  const inRevoke = sleepsIn(task, WAITER);
  // Let go of the mapping, as the importer's owner exiting would (xe: the BO destroyed; the stand-in: RELEASE).
  holder.release();
  const second = await watch(ctx, run, ctx.timing.stallMs, ctx.timing.stallMs * 10);
  if (second.done) {
    run.finish();
    undo();
    ctx.record('afterRelease', { completedMs: second.waitedMs, code: second.code ?? 'ok' });
  } else {
    // Nothing can end a task in D state: leave it, and say what the machine now needs.
    run.finish();
    ctx.record('abandoned', { pid: run.pid, state: second.task?.state ?? null, wchan: second.task?.wchan ?? null });
    ctx.record('rebootNeeded', `task ${run.pid} stays asleep in the kernel holding VF ${vf.bdf}`);
  }
  const after = second.done
    ? `it completed ${second.waitedMs} ms after the mapping was released`
    : `it did not complete even after the mapping was released: task ${run.pid} is abandoned, and the machine needs a reboot (VF ${vf.bdf} stays held)`;
  if (importer === 'stand-in' && inRevoke) {
    ctx.bug('deferred-unmap-hang', `${evidence}; ${after}`);
    return;
  }
  ctx.fail(
    `${t.what} never completed (${importer === 'iommufd' ? 'iommufd unmaps on invalidation, so nothing should hold it' : 'not in vfio_pci_dma_buf_move'}): ${evidence}; ${after}`,
  );
}

function hangScenario(name: TriggerName): Scenario {
  const t = TRIGGERS[name];
  return {
    id: `bugs/revoke-hang-${name}`,
    title: `revoke by ${name} while an importer defers its unmap`,
    description:
      `Exports a page of the VF's BAR, imports it with iovh's stand-in importer deferring its unmap as xe does (IOVH_IC_IMPORT_DEFER_UNMAP), ` +
      `maps it, then from another process: ${t.what} (${t.source}). From 7.1 on vfio's revoke waits with no timeout for every ` +
      'mapping to go (vfio_pci_dma_buf_move: wait_for_completion), so that process sleeps in the kernel (state D, wchan ' +
      "vfio_pci_dma_buf_move) until the import is released: a failure naming bug deferred-unmap-hang, found by iovh's own watchdog " +
      'and /proc, never reported as a timeout. The import is then released; a trigger that stays stuck is abandoned and the report ' +
      'says the machine needs a reboot. Passes where the revoke does not wait (6.19, 7.0). Needs the stand-in module.',
    expectedPath: null,
    run: (ctx) => runTrigger(ctx, name, 'stand-in'),
  };
}

function controlScenario(name: TriggerName): Scenario {
  const t = TRIGGERS[name];
  return {
    id: `iommufd/revoke-trigger-${name}`,
    title: `revoke by ${name} from another process, iommufd importing`,
    description:
      `The positive control of bugs/revoke-hang-${name}: iommufd maps the VF's dma-buf (IOMMU_IOAS_MAP_FILE), then another process ` +
      `does ${t.what} (${t.source}). iommufd unmaps as soon as it is told (iopt_revoke_notify), so the revoke's wait ends and the ` +
      'trigger must complete. Skips without /dev/iommu.',
    expectedPath: null,
    run: (ctx) => runTrigger(ctx, name, 'iommufd'),
  };
}

const NAMES: TriggerName[] = ['reset', 'flr', 'd3hot', 'memory', 'close'];

export const revokeHangScenarios: readonly Scenario[] = NAMES.map(hangScenario);
export const revokeControlScenarios: readonly Scenario[] = NAMES.map(controlScenario);
