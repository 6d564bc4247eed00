// lifecycle/*: revoke and teardown under an import (docs/profiles.md, rfc-v1 "Revoke and
// teardown", docs/kernel.md §3.5). None of them may crash the kernel, leak the
// LMEM object reference, or let the PF keep reaching memory that is no longer
// the VF's.
//
// Safety first (docs/kernel.md §11.6): on 7.2, vfio's revoke waits, without a
// timeout, for every mapping to be unmapped, and xe defers the unmap after
// invalidate until the next map or the BO's destruction. A synchronous
// close(2) of the VFIO device under an import would then sleep in the kernel
// forever, with this process stuck in it. So before closing a device under an
// import, the scenarios first revoke through VFIO_DEVICE_RESET, which runs off
// the JS thread and can be waited on: a reset still pending after
// `timing.stallMs` is the deferred-unmap hang, reported as such and unblocked
// by releasing the import (unbind + GEM close), never a hung harness.

import { buildStoreBatch } from '../../uapi/batch.js';
import { parseDmaBufFdinfo } from '../../uapi/fdinfo.js';
import { VFIO } from '../../uapi/constants.js';
import { SystemError } from '../../uapi/errors.js';
import type { VfioDevice } from '../../uapi/vfio.js';
import { hex } from '../../report/model.js';
import {
  barAccess,
  cpuWriteGpuRead,
  describeMismatch,
  freshSeed,
  gpuWriteCpuRead,
  rangePages,
  type BarAccess,
} from '../data.js';
import { Gpu, type Bound } from '../gpu.js';
import { importAndBind, requireImport, type Imported } from '../imports.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  errnoOf,
  exportDmaBuf,
  openVf,
  PAGE,
  rangesJson,
  requireCaps,
  requireDestructiveConsent,
  requireExportBar,
  requireTarget,
  spareVf,
  startTrace,
  totalLength,
} from '../steps.js';
import { discover, type PfInfo, type VfInfo } from '../../machine/topology.js';
import { PCI_DEVICES } from '../../machine/sysfs.js';
import { lmemSpan } from './import.js';
import { busyVfs, ChangeRefused, disableVfsInUse, setQuotaInUse, unreadableState } from '../sriov.js';
import { ApplyFailed, type TemporaryChange } from '../../host/apply.js';
import { DEFAULT_POLICY } from '../caps.js';
import { BringupError, InputError } from '../../host/errors.js';
import { NotAvailable } from '../../host/planner.js';
import { Journal, stateDir } from '../../host/journal.js';

const RANGES = [{ offset: 0n, length: 4n * PAGE }];

/**
 * A machine change the scenario makes while it holds the VF: a plan applied by
 * host/apply.ts. How it stopping is judged: refused at the first write, or the
 * journal held by another iovh, changed nothing and skips; the kernel not doing
 * as planned fails, and what was not rolled back is recorded as the machine
 * left changed. `judge` sees any other error first and returns true when it
 * judged it. Null when the change stopped.
 */
async function changeUnderImport(
  ctx: ScenarioContext,
  what: string,
  apply: () => Promise<TemporaryChange>,
  judge: (e: unknown) => boolean = () => false,
): Promise<TemporaryChange | null> {
  try {
    return await apply();
  } catch (e) {
    if (e instanceof ChangeRefused)
      ctx.skip(
        'root',
        `the kernel refused ${e.path} (${e.code}): nothing was changed`,
        'run as root (sysfs SR-IOV attributes are writable by root only)',
      );
    if (judge(e)) return null;
    if (e instanceof ApplyFailed) {
      if (!e.rolledBack) ctx.record('notRestored', [e.message]);
      ctx.fail(`${what} stopped: ${e.message}`);
      return null;
    }
    if (e instanceof BringupError)
      ctx.skip(
        'journal',
        `${e.message}; nothing was changed`,
        'wait for the other iovh to finish, or run iovh restore',
      );
    throw e;
  }
}

/**
 * Where a machine change's `echo` lines go: the scenario's evidence `writes`,
 * one append per line (evidence leaves a scenario process as it is recorded:
 * a list recorded once and filled later arrives empty).
 */
function writesLog(ctx: ScenarioContext): (line: string) => void {
  ctx.record('writes', []);
  return (line) => ctx.append('writes', line);
}

/** `fn` run at its first call only, even when that call throws (a restore both called and deferred). */
function once(fn: () => void): () => void {
  let ran = false;
  return () => {
    if (ran) return;
    ran = true;
    fn();
  };
}

interface Live {
  gpu: Gpu;
  device: VfioDevice;
  bar: BarAccess;
  imp: Imported;
  vf: VfInfo;
}

async function importWithData(ctx: ScenarioContext, which?: VfInfo): Promise<Live | null> {
  requireImport(ctx);
  const vf = which ?? ctx.target!.vf;
  if (lmemSpan(vf) < 4n * PAGE)
    ctx.skip('provisioning', `VF ${vf.bdf} has no LMEM provisioned`, `iovh provision <PF> --vf ${vf.id} --vram 64M`);
  const gpu = Gpu.open(ctx);
  const trace = startTrace(ctx);
  const device = openVf(ctx, vf.bdf);
  const buf = exportDmaBuf(ctx, device, { region: 2, ranges: RANGES });
  ctx.record('ranges', rangesJson(RANGES));
  const imp = importAndBind(ctx, gpu, trace, buf, totalLength(RANGES), `VF ${vf.bdf}`);
  ctx.setPath(imp.verdict.path);
  if (!imp.bound) {
    ctx.fail(`the import was refused before any revoke (${imp.verdict.why})`);
    return null;
  }
  const bar = barAccess(ctx, device, 2);
  const check = await gpuWriteCpuRead(ctx, gpu, bar, imp.bound, rangePages(RANGES));
  if (!ctx.check(check.ok, `before the revoke: ${describeMismatch(check)}`)) return null;
  return { gpu, device, bar, imp, vf };
}

export interface ResetOutcome {
  stalled: boolean;
  completed: boolean;
  code: string | null;
}

/**
 * VFIO_DEVICE_RESET with a stall watch: when it is still pending after
 * `stallMs`, release `importers` (the docs/kernel.md §11.6 unblock) and wait
 * once more. Records what happened.
 */
export async function resetWatchingStall(
  ctx: ScenarioContext,
  device: VfioDevice,
  importers: Bound[],
): Promise<ResetOutcome> {
  let settled: { code: string | null } | null = null;
  const pending = device.reset().then(
    () => {
      settled = { code: null };
    },
    (e: unknown) => {
      settled = { code: (e as { code?: string }).code ?? String(e) };
    },
  );
  const waitFor = async (): Promise<boolean> => {
    await Promise.race([pending, ctx.sleep(ctx.timing.stallMs)]);
    return settled !== null;
  };
  if (await waitFor()) {
    const out = { stalled: false, completed: true, code: (settled as { code: string | null } | null)?.code ?? null };
    ctx.record('reset', { stalled: false, result: out.code ?? 'ok' });
    return out;
  }
  for (const b of importers) b.release();
  const completed = await waitFor();
  const code = completed ? ((settled as { code: string | null } | null)?.code ?? null) : null;
  ctx.record('reset', {
    stalled: true,
    stallMs: ctx.timing.stallMs,
    completedAfterRelease: completed,
    result: completed ? (code ?? 'ok') : 'still pending',
  });
  return { stalled: true, completed, code };
}

function reportStall(ctx: ScenarioContext, r: ResetOutcome, what: string): void {
  const after = r.completed
    ? 'it completed as soon as the import was unbound and its GEM handle closed'
    : 'it had not completed even after the import was released: the VF may stay wedged until reboot';
  ctx.bug(
    'deferred-unmap-hang',
    `VFIO_DEVICE_RESET was still pending ${ctx.timing.stallMs} ms after it was issued while xe held a mapping of the VF's dma-buf; ${after} ` +
      `(xe defers the unmap on invalidate, vfio's revoke waits for it)${what ? `; ${what}` : ''}`,
  );
}

/**
 * Import with data, revoke the import by a VF reset while xe holds it, and
 * bind it again (un-revoked after the reset, importers remap lazily:
 * docs/kernel.md §3.5). Null when the scenario ended here: no import, a reset
 * that stalled on the importer (the deferred-unmap hang of docs/kernel.md
 * §11.6, reported with `ifStalled`), a reset that failed, or a rebind that
 * failed.
 */
async function importResetRebind(
  ctx: ScenarioContext,
  ifStalled: string,
): Promise<{ live: Live; again: Bound } | null> {
  const live = await importWithData(ctx);
  if (!live) return null;
  const r = await resetWatchingStall(ctx, live.device, [live.imp.bound!]);
  if (r.stalled) {
    reportStall(ctx, r, ifStalled);
    return null;
  }
  if (!ctx.check(r.code === null, `VFIO_DEVICE_RESET failed with ${r.code}`)) return null;
  const again = errnoOf(() => live.gpu.bind(live.imp.handle!, totalLength(RANGES)));
  ctx.record('rebind', again.code ?? 'ok');
  if (!ctx.check(again.code === null, `after the reset, binding the import again failed with ${again.code}`))
    return null;
  return { live, again: again.value as Bound };
}

export const lifecycleRevokeOnReset: Scenario = {
  id: 'lifecycle/revoke-on-reset',
  title: 'revoke by VF reset',
  description:
    'Imports and binds a VF dma-buf, verifies data through it, then resets the VF (VFIO_DEVICE_RESET, an FLR), which revokes the ' +
    'buffer for its duration (docs/kernel.md §3.5). The reset must complete while xe holds the import, and afterwards the import must ' +
    're-map and carry data again. A reset that stays pending until the importer lets go is the deferred-unmap hang of ' +
    'docs/kernel.md §11.6: reported, and unblocked by releasing the import, so the harness never hangs.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const reset = await importResetRebind(ctx, '');
    if (!reset) return;
    const { live, again } = reset;
    const check = await gpuWriteCpuRead(ctx, live.gpu, live.bar, again, rangePages(RANGES));
    if (ctx.check(check.ok, `after the reset: ${describeMismatch(check)}`))
      ctx.note('the reset completed under the import, which re-mapped and carried data again');
  },
};

export const lifecycleRevokeOnClose: Scenario = {
  id: 'lifecycle/revoke-on-close',
  title: 'revoke by closing the VFIO device',
  description:
    "Imports and binds a VF dma-buf, then closes the VF's VFIO device, which revokes the buffer for good (docs/kernel.md §3.5): the " +
    "dma-buf fd stays valid, but a new mapping of the import must fail with ENODEV and the PF must no longer reach the VF's " +
    'memory. Before closing, a reset checks that a revoke does not block on the importer (docs/kernel.md §11.6); on a kernel where it ' +
    'does, closing would hang this process in the kernel, so that is reported instead.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const reset = await importResetRebind(
      ctx,
      'closing the VFIO device under an import would block the same way, so it was not attempted',
    );
    if (!reset) return;
    const { live } = reset;
    // The BAR mapping holds the device file: unmap it so that close() is the last close, the one that revokes.
    live.bar.release();
    live.device.close();
    const buf = live.imp.handle!.dmabuf!;
    const fdinfo = errnoOf(() => parseDmaBufFdinfo(ctx.backend.fs.readText(`/proc/self/fdinfo/${buf.fd}`)));
    ctx.check(fdinfo.code === null, `the dma-buf fd became unusable (${fdinfo.code}) when the VFIO device was closed`);
    const rebind = errnoOf(() => live.gpu.bind(live.imp.handle!, totalLength(RANGES)));
    ctx.record('mapAfterClose', rebind.code ?? 'success');
    if (rebind.code === null) {
      // The import was mapped again although its exporter revoked it for good: can the GPU still reach the VF's memory?
      const reached = await gpuReachesVf(ctx, live.gpu, rebind.value as Bound, live.vf);
      ctx.quirk(
        'revoked-attach-bypass',
        `after the VFIO device was closed (permanent revoke), VM_BIND mapped the import again through the ${live.imp.verdict.path} path` +
          `${reached ? ", and a GPU write through it reached the VF's BAR 2" : ''}: the revoked check is bypassed`,
      );
      return;
    }
    if (
      ctx.check(
        rebind.code === 'ENODEV',
        `mapping the import after the close failed with ${rebind.code}, expected ENODEV (docs/kernel.md §3.5)`,
      )
    ) {
      ctx.note('closed under an import: fd still valid, new mappings refused with ENODEV');
    }
  },
};

/** GPU-write a page through `bound` and look for it through a freshly opened VFIO device of `vf`. */
async function gpuReachesVf(ctx: ScenarioContext, gpu: Gpu, bound: Bound, vf: VfInfo): Promise<boolean> {
  const seed = freshSeed();
  const device = openVf(ctx, vf.bdf);
  const bar = barAccess(ctx, device, 2);
  bar.zero(RANGES[0]!.offset, Number(PAGE));
  try {
    await gpu.exec(
      buildStoreBatch([{ va: bound.va!, length: Number(PAGE), seed, base: RANGES[0]!.offset }]),
      Math.max(2000, ctx.timing.stallMs * 2),
    );
  } catch (e) {
    ctx.record('execAfterRevoke', (e as { code?: string }).code ?? String(e));
    return false;
  }
  const reached = bar.verify(RANGES[0]!.offset, Number(PAGE), seed, RANGES[0]!.offset) === null;
  ctx.record('gpuWriteAfterRevoke', { seed: hex(seed), reachedVf: reached });
  bar.release();
  device.close();
  return reached;
}

export const lifecycleAttachAfterRevoke: Scenario = {
  id: 'lifecycle/attach-after-revoke',
  title: 'import after revoke',
  description:
    'Exports a VF dma-buf and revokes it while nobody imports it (so nothing can block): first with VFIO_DEVICE_FEATURE ' +
    "LOW_POWER_ENTRY, which keeps it revoked until LOW_POWER_EXIT while the device stays open, then for good by closing the VF's " +
    "VFIO device. Each time the revoked buffer is imported into the PF's xe and bound: vfio's attach and map refuse a revoked " +
    'buffer with ENODEV (docs/kernel.md §3.4). RFC v1 returns from attach on a successful IOV match before the revoked check and its ' +
    "interconnect map checks nothing (docs/kernel.md §11.2): the revoked buffer is attached and mapped, and the GPU reaches the VF's " +
    'memory through it.',
  expectedPath: 'refused',
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const vf = ctx.target!.vf;
    if (lmemSpan(vf) < 4n * PAGE)
      ctx.skip('provisioning', `VF ${vf.bdf} has no LMEM provisioned`, `iovh provision <PF> --vf ${vf.id} --vram 64M`);
    const gpu = Gpu.open(ctx);
    const trace = startTrace(ctx);
    const device = openVf(ctx, vf.bdf);
    const bar = barAccess(ctx, device, 2);
    const buf = exportDmaBuf(ctx, device, { region: 2, ranges: RANGES });
    const size = totalLength(RANGES);
    const page = RANGES[0]!.offset;
    // A revoke that keeps the device open (docs/kernel.md §3.5: runtime low power, until LOW_POWER_EXIT).
    bar.zero(page, Number(PAGE));
    const entry = errnoOf(() => device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY));
    ctx.record('lowPowerEntry', entry.code ?? 'ok');
    if (entry.code === null) {
      let low = true;
      const exit = (): void => {
        if (!low) return;
        low = false;
        device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT);
      };
      ctx.defer(`LOW_POWER_EXIT on ${vf.bdf}`, exit);
      const imp = importAndBind(ctx, gpu, trace, buf, size, `dma-buf of ${vf.bdf} revoked by LOW_POWER_ENTRY`);
      ctx.setPath(imp.verdict.path);
      if (imp.refused) {
        ctx.check(
          imp.refused.code === 'ENODEV',
          `${imp.refused.step} of a buffer revoked by LOW_POWER_ENTRY failed with ${imp.refused.code}, expected ENODEV (docs/kernel.md §3.4)`,
        );
        exit();
      } else {
        const seed = freshSeed();
        let wrote = true;
        try {
          await gpu.exec(
            buildStoreBatch([{ va: imp.bound!.va!, length: Number(PAGE), seed, base: page }]),
            Math.max(2000, ctx.timing.stallMs * 2),
          );
        } catch (e) {
          wrote = false;
          ctx.record('execWhileRevoked', (e as { code?: string }).code ?? String(e));
        }
        exit();
        const reached = wrote && bar.verify(page, Number(PAGE), seed, page) === null;
        ctx.record('gpuWriteWhileRevoked', { seed: hex(seed), reachedVf: reached });
        imp.bound?.release();
        ctx.quirk(
          'revoked-attach-bypass',
          `a dma-buf revoked by VFIO_DEVICE_FEATURE LOW_POWER_ENTRY was attached and mapped (${imp.verdict.why})` +
            `${reached ? ", and a GPU write through it landed in the VF's LMEM" : ''}`,
        );
      }
    } else {
      ctx.note(`LOW_POWER_ENTRY not available (${entry.code}): only the close revoke was checked`);
    }
    // For good: the last close of the device (the BAR mapping holds the file, so it goes first).
    bar.release();
    device.close();
    const imp = importAndBind(ctx, gpu, trace, buf, size, `dma-buf of ${vf.bdf} after its VFIO device was closed`);
    ctx.setPath(imp.verdict.path);
    if (imp.refused) {
      ctx.check(
        imp.refused.code === 'ENODEV',
        `${imp.refused.step} of a buffer whose VFIO device was closed failed with ${imp.refused.code}, expected ENODEV (docs/kernel.md §3.4)`,
      );
    } else {
      const reached = await gpuReachesVf(ctx, gpu, imp.bound!, vf);
      ctx.quirk(
        'revoked-attach-bypass',
        `a dma-buf revoked by closing its VFIO device was attached and mapped (${imp.verdict.why})${reached ? ", and a GPU write through it landed in the VF's LMEM" : ''}`,
      );
    }
    if (ctx.failures.length === 0)
      ctx.note(
        `revoked buffers refused with ENODEV${entry.code === null ? ' (low power and after close)' : ' (after close)'}`,
      );
  },
};

export const lifecycleVfDisableWhileImported: Scenario = {
  id: 'lifecycle/vf-disable-while-imported',
  title: 'VFs disabled under an import',
  description:
    "Imports and binds a VF dma-buf, closes the VF's VFIO device (after checking that a revoke does not block, as in " +
    "lifecycle/revoke-on-close), then disables the PF's VFs (sriov_numvfs = 0) while xe still holds the import. The kernel must not " +
    'crash and the import must not map again (ENODEV). Then the import is released and the VFs are put back exactly as they were ' +
    '(count, autoprobe, quotas, vfio-pci bindings), every value read back; a difference is a failure. sriov_numvfs = 0 removes ' +
    'every VF of the PF, so it runs only when every other VF is free (unbound, or on vfio-pci with nobody holding it) or with ' +
    '--allow-destructive, and the change is journaled first: `iovh restore` puts the VFs back if the run is killed.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const fs = ctx.backend.fs;
    const policy = ctx.caps.policy ?? DEFAULT_POLICY;
    const target = ctx.target!;
    const pf = discover(fs).pfs.find((p) => p.bdf === target.pf.bdf);
    if (!pf) {
      ctx.fail(
        `PF ${target.pf.bdf} is not in ${PCI_DEVICES} any more (or sysfs could not be listed); nothing was changed`,
      );
      return;
    }
    const busy = busyVfs(ctx.backend, pf, target.vf.bdf);
    ctx.record('otherVfs', busy.length === 0 ? 'free' : busy);
    if (busy.length > 0 && !policy.allowDestructive) {
      ctx.skip(
        'destructive',
        `sriov_numvfs = 0 would remove every VF of ${pf.bdf}, and not all are free: ${busy.join('; ')}`,
        `free them (stop the VMs using them, bind them to vfio-pci), or run with --allow-destructive to take them away anyway`,
      );
    }
    const live = await importWithData(ctx);
    if (!live) return;
    const r = await resetWatchingStall(ctx, live.device, [live.imp.bound!]);
    if (r.stalled) {
      reportStall(
        ctx,
        r,
        'closing the VFIO device and disabling the VFs under an import would block the same way, so it was not attempted',
      );
      return;
    }
    const now = discover(fs).pfs.find((p) => p.bdf === pf.bdf) ?? pf;
    // A field that could not be read (an errno, not ENOENT) would be journaled as "none" and restored as such:
    // a VF would silently lose its binding. Then nothing is changed.
    const unreadable = unreadableState(fs, now);
    if (unreadable.length > 0) {
      ctx.fail(`the VFs of ${now.bdf} cannot be read, so they were not disabled: ${unreadable.join('; ')}`);
      return;
    }
    const journal = scenarioJournal(ctx);
    ctx.record('journal', journal.file ?? 'in memory');
    const logWrite = writesLog(ctx);
    const held: Bound[] = [live.imp.bound!];
    live.bar.release();
    live.device.close();
    const change = await changeUnderImport(ctx, `disabling the VFs of ${now.bdf}`, () =>
      disableVfsInUse(fs, now, journal, 'run lifecycle/vf-disable-while-imported', logWrite),
    );
    if (!change) return;
    const restore = once((): void => {
      // The imports go first: nothing may hold the VF's LMEM when its quota is written back. A release the kernel
      // refuses must not keep the VFs from coming back: it is reported with what the restore leaves different.
      const problems: string[] = [];
      for (const b of held) {
        try {
          b.release();
        } catch (e) {
          problems.push(`releasing the import failed: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      const diffs = change.undo(logWrite);
      if (diffs.length > 0)
        problems.push(
          `the VFs of ${now.bdf} are not as they were: ${diffs.join('; ')}${journal.file ? `; \`iovh restore\` undoes what is journaled in ${journal.file}` : ''}`,
        );
      if (problems.length > 0) {
        // In the evidence too: the result's reason shows only the first failure, and this one means the machine changed.
        ctx.record('notRestored', problems);
        throw new Error(problems.join('; '));
      }
    });
    ctx.defer(`restore the VFs of ${now.bdf}`, restore);
    ctx.check(
      !fs.exists(`/sys/bus/pci/devices/${live.vf.bdf}`),
      `VF ${live.vf.bdf} still exists after sriov_numvfs = 0`,
    );
    // RFC v1 maps the interconnect of a revoked buffer anyway, finds no VF to translate for, reports success
    // (quirk 2) and the bind walks a NULL sg table: an oops that kills this process (the runner then puts the VFs back).
    ctx.suspect('revoked-attach-bypass', `after VF ${live.vf.bdf} was disabled, VM_BIND mapped its dma-buf again`);
    ctx.suspect(
      'silent-untranslated',
      `the disabled VF's ranges translated to nothing, and the bind walked a NULL sg table`,
    );
    const rebind = errnoOf(() => live.gpu.bind(live.imp.handle!, totalLength(RANGES)));
    ctx.record('mapAfterDisable', rebind.code ?? 'success');
    if (rebind.code === null) {
      held.push(rebind.value as Bound);
      ctx.quirk(
        'revoked-attach-bypass',
        `after VF ${live.vf.bdf} was disabled, VM_BIND mapped its dma-buf again (${live.imp.verdict.path} path)`,
      );
    } else {
      ctx.check(
        rebind.code === 'ENODEV',
        `mapping the import of a disabled VF failed with ${rebind.code}, expected ENODEV`,
      );
    }
    try {
      restore();
    } catch (e) {
      ctx.fail(e instanceof Error ? e.message : String(e));
    }
    if (ctx.failures.length === 0)
      ctx.note(
        `VFs disabled under an import without a crash, the mapping refused, ${now.numvfs} VFs restored as they were`,
      );
  },
};

/** The in-memory or on-disk bring-up journal a scenario that changes the machine records into; skips when it cannot. */
function scenarioJournal(ctx: ScenarioContext): Journal {
  const policy = ctx.caps.policy ?? DEFAULT_POLICY;
  try {
    return policy.journal
      ? Journal.open(stateDir(), policy.journal)
      : (policy.memoryJournal ??
          Journal.memory({ backend: 'mock', where: '(kept in memory: the kernel ends with the run)' }));
  } catch (e) {
    if (e instanceof BringupError)
      ctx.skip(
        'journal',
        `the bring-up journal cannot record the change, so nothing was changed: ${e.message}`,
        'fix or remove the journal it names (iovh restore first if it has changes to undo)',
      );
    throw e;
  }
}

/** The PF's VFs disabled under the bring-up journal for a scenario, and how to put them back. */
export interface DisabledVfs {
  /** The PF as read before the change. */
  pf: PfInfo;
  /** Puts the VFs back as they were; returns what still differs. */
  restore(): string[];
}

/**
 * sriov_numvfs = 0 on the target's PF for a scenario, with the consent,
 * strict re-read and journal rules of lifecycle/vf-disable-while-imported
 * (skips when another VF is busy without --allow-destructive, when the
 * state or journal cannot be trusted, or when the kernel refuses the first
 * write). The VFs come back in a deferred cleanup too. Null when the change
 * stopped (a failure recorded, the machine rolled back or journaled).
 */
export async function disableVfsForScenario(ctx: ScenarioContext, command: string): Promise<DisabledVfs | null> {
  const fs = ctx.backend.fs;
  const policy = ctx.caps.policy ?? DEFAULT_POLICY;
  const target = ctx.target!;
  const pf = discover(fs).pfs.find((p) => p.bdf === target.pf.bdf);
  if (!pf) ctx.skip('target', `PF ${target.pf.bdf} is not in ${PCI_DEVICES} any more`, 'check the PF and run again');
  const busy = busyVfs(ctx.backend, pf, target.vf.bdf);
  if (busy.length > 0 && !policy.allowDestructive)
    ctx.skip(
      'destructive',
      `sriov_numvfs = 0 would remove every VF of ${pf.bdf}, and not all are free: ${busy.join('; ')}`,
      'free them (stop the VMs using them, bind them to vfio-pci), or run with --allow-destructive to take them away anyway',
    );
  const unreadable = unreadableState(fs, pf);
  if (unreadable.length > 0)
    ctx.skip('target', `the VFs of ${pf.bdf} cannot be read: ${unreadable.join('; ')}`, 'run as root');
  const journal = scenarioJournal(ctx);
  const logWrite = writesLog(ctx);
  const change = await changeUnderImport(ctx, `disabling the VFs of ${pf.bdf}`, () =>
    disableVfsInUse(fs, pf, journal, command, logWrite),
  );
  if (!change) return null;
  let done: string[] | null = null;
  const restore = (): string[] => {
    if (done === null) done = change.undo(logWrite);
    return done;
  };
  ctx.defer(`restore the VFs of ${pf.bdf}`, () => {
    const diffs = restore();
    if (diffs.length > 0) throw new Error(`the VFs of ${pf.bdf} are not as they were: ${diffs.join('; ')}`);
  });
  return { pf, restore };
}

/** xe provisions VF LMEM in 2 MiB steps (xe_gt_sriov_pf_config.c pf_get_lmem_alignment on discrete parts). */
const LMEM_STEP = 2n * 1024n * 1024n;

export const lifecycleRequotaWhileImported: Scenario = {
  id: 'lifecycle/requota-while-imported',
  title: 'VF quota changed under an import',
  description:
    "Imports and binds a VF dma-buf and checks data through it, then changes that VF's VRAM quota while xe holds the import " +
    "(journaled; the old quota is written back afterwards). xe's pf_provision_vf_lmem does not refuse: it takes the VF's LMEM " +
    "object out of the LMTT, drops its own reference and allocates a new one, so the VF's BAR 2 now shows new memory. " +
    'Afterwards the CPU writes through BAR 2 and the GPU reads through the import, then the GPU writes through the import and the ' +
    "CPU reads the VF's new memory: both must agree. A P2P import goes through the BAR and follows; an IOV import that keeps the " +
    "device addresses it translated reaches memory that is no longer the VF's (the interconnect RFC as posted). A kernel that " +
    'refuses the quota write while the VF is imported keeps the import valid, which passes.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    const target = ctx.target!;
    // The VF with the smallest quota that holds the import: xe needs the new quota's VRAM while an importer may
    // still hold the old object's.
    const vf =
      [...target.vfioVfs]
        .filter((v) => v.vramQuota !== null && v.vramQuota >= 4n * PAGE)
        .sort((a, b) => (a.vramQuota! < b.vramQuota! ? -1 : a.vramQuota! > b.vramQuota! ? 1 : 0))[0] ?? target.vf;
    if (!target.pf.provisioning || vf.vramQuota === null)
      ctx.skip(
        'provisioning',
        `no VRAM quota file for VF ${vf.id} of ${target.pf.bdf}: ${target.pf.provisioningNote}`,
        'use an xe PF on a dGPU (sysfs sriov_admin on Linux 7.0+, or debugfs)',
      );
    if (target.pf.provisioning.quotaPaths(vf.id).length > 1)
      ctx.skip(
        'provisioning',
        `${target.pf.bdf} keeps a quota per tile (debugfs tileT/vram_quota), and bring-up sets one quota per VF`,
        'use a kernel with sysfs sriov_admin (7.0+), or a single-tile topology',
      );
    const before = vf.vramQuota;
    if (before < 4n * PAGE)
      ctx.skip('provisioning', `VF ${vf.bdf} has no LMEM provisioned`, `iovh provision <PF> --vf ${vf.id} --vram 64M`);
    ctx.record('vf', vf.bdf);
    // Another size, so that xe has to replace the object; the 4 pages imported stay inside it.
    // A multi-tile PF splits the quota over its tiles, each share in 2 MiB units.
    const step = LMEM_STEP * BigInt(target.pf.provisioning.tiles);
    const value = before >= 2n * step ? before - step : before + step;
    const live = await importWithData(ctx, vf);
    if (!live) return;
    const fs = ctx.backend.fs;
    const pf = discover(fs).pfs.find((p) => p.bdf === target.pf.bdf);
    if (!pf) {
      ctx.fail(`PF ${target.pf.bdf} is not in ${PCI_DEVICES} any more; nothing was changed`);
      return;
    }
    const unreadable = unreadableState(fs, pf);
    if (unreadable.length > 0) {
      ctx.fail(`the VFs of ${pf.bdf} cannot be read, so the quota was not changed: ${unreadable.join('; ')}`);
      return;
    }
    const journal = scenarioJournal(ctx);
    const logWrite = writesLog(ctx);
    const change = await changeUnderImport(
      ctx,
      `changing VF ${vf.id}'s quota`,
      () => setQuotaInUse(fs, pf, vf.id, value, journal, 'run lifecycle/requota-while-imported', logWrite),
      (e) => {
        const code = e instanceof SystemError ? e.code : null;
        if (code === 'EBUSY') {
          // A kernel that will not replace an imported VF's LMEM keeps the import valid.
          ctx.record('quotaWrite', code);
          ctx.note("the quota write was refused with EBUSY while the VF's LMEM is imported: the import stays valid");
          return true;
        }
        if (code !== null) {
          ctx.record('quotaWrite', code);
          ctx.fail(
            `writing VF ${vf.id}'s quota ${hex(value)} (was ${hex(before)}) failed with ${code}${code === 'ENOSPC' ? ': xe frees the old object only when nothing else holds it, and VRAM is short' : ''}`,
          );
          return true;
        }
        if (e instanceof NotAvailable || e instanceof InputError) {
          // The PF as read now cannot be planned for (its driver or quota files are gone): nothing was changed.
          ctx.fail(`VF ${vf.id}'s quota cannot be changed on ${pf.bdf} as read now: ${e.message}`);
          return true;
        }
        return false;
      },
    );
    if (!change) return;
    const restore = once((): void => {
      const problems = change.undo(logWrite);
      if (problems.length > 0) {
        ctx.record('notRestored', problems);
        throw new Error(problems.join('; '));
      }
    });
    ctx.defer(`restore VF ${vf.id}'s quota`, restore);
    ctx.record('quota', { before: hex(before), during: hex(value) });
    // First the direction that cannot hurt: the CPU writes the VF's new memory, the GPU only reads through the import.
    const read = await cpuWriteGpuRead(ctx, live.gpu, live.bar, live.imp.bound!, rangePages(RANGES));
    if (!read.ok) {
      const stale = live.imp.verdict.path === 'iov';
      const what = `after VF ${vf.id}'s quota went from ${hex(before)} to ${hex(value)}, the GPU read through the import did not see what the CPU wrote into the VF's BAR 2 (${describeMismatch(read)})`;
      if (stale)
        ctx.quirk(
          'stale-lmem-import',
          `${what}: the import still addresses the LMEM object xe replaced, memory that is no longer the VF's`,
        );
      else ctx.fail(what);
    } else {
      const written = await gpuWriteCpuRead(ctx, live.gpu, live.bar, live.imp.bound!, rangePages(RANGES));
      if (ctx.check(written.ok, `after the quota change, a GPU write through the import: ${describeMismatch(written)}`))
        ctx.note(
          `the quota changed under the import (${live.imp.verdict.path}), which followed the VF's new memory both ways`,
        );
    }
    try {
      restore();
    } catch (e) {
      ctx.fail(e instanceof Error ? e.message : String(e));
    }
  },
};

export const lifecycleCloseWhileRevoked: Scenario = {
  id: 'lifecycle/close-while-revoked',
  title: 'close a VFIO device whose dma-buf is revoked',
  description:
    'Exports a dma-buf of a VF (nobody imports it), revokes it with VFIO_DEVICE_FEATURE LOW_POWER_ENTRY, and closes the VFIO ' +
    "device while it is still revoked (no LOW_POWER_EXIT). 7.1 puts each buffer's kref at revoke and at the last close; the close " +
    'of a kernel without "vfio/pci: fix dma-buf kref underflow after revoke" (2026-05, in 7.2.13) puts it a second time: a ' +
    'refcount underflow WARN, then the closing task waits forever for a completion that never comes. The dma-buf fd must stay ' +
    'valid and refuse an import with ENODEV. It uses a VF other than the target when there is one, and on a shared machine it ' +
    'runs only with --allow-destructive: on such a kernel the closing task stays in D state until reboot, holding the VF.',
  expectedPath: 'refused',
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport');
    requireDestructiveConsent(
      ctx,
      'on a 7.1 kernel without the 2026-05 kref fix, closing a revoked VFIO device hangs the closing task until reboot',
    );
    const vf = spareVf(target);
    const bar = requireExportBar(ctx, vf);
    ctx.record('vf', vf.bdf);
    // It runs last: a scenario before it that took the VFs away and could not give them back (on a kernel that
    // leaks the VFs' LMEM, leak/lmem-object) leaves no VF to close. Say that rather than fail to open it.
    if (!ctx.backend.fs.exists(`/sys/bus/pci/devices/${vf.bdf}`))
      ctx.skip(
        'target',
        `VF ${vf.bdf} is gone since the capability probe: an earlier scenario of this run could not put the VFs back (its result says why)`,
        'run this scenario alone (--filter lifecycle/close-while-revoked), or reboot to get the VFs back',
      );
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    const entry = errnoOf(() => device.feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY));
    ctx.record('lowPowerEntry', entry.code ?? 'ok');
    if (entry.code !== null)
      ctx.skip(
        'target',
        `VFIO_DEVICE_FEATURE LOW_POWER_ENTRY on ${vf.bdf} failed with ${entry.code}: no revoke that outlives the device`,
        'use a kernel and VF with runtime PM low-power entry (Linux 6.1+)',
      );
    ctx.suspect('kref-underflow', `VF ${vf.bdf}'s VFIO device was closed while its dma-buf was revoked`);
    device.close();
    ctx.cleared('kref-underflow');
    const log = ctx.kmsgSinceStart().map((r) => r.text);
    const underflow = log.find((l) => /refcount_t: underflow/.test(l));
    if (underflow) {
      const hung = log.find((l) => /blocked for more than \d+ seconds/.test(l));
      ctx.bug(
        'kref-underflow',
        `closing VF ${vf.bdf}'s VFIO device with its dma-buf revoked: "${underflow.trim()}"${hung ? `, then "${hung.trim()}"` : ''}`,
      );
      return;
    }
    const fdinfo = errnoOf(() => parseDmaBufFdinfo(ctx.backend.fs.readText(`/proc/self/fdinfo/${buf.fd}`)));
    ctx.check(fdinfo.code === null, `the dma-buf fd became unusable (${fdinfo.code}) when the VFIO device was closed`);
    if (ctx.caps.caps.xe.ok) {
      const gpu = Gpu.open(ctx);
      const imp = importAndBind(ctx, gpu, null, buf, PAGE, `dma-buf of ${vf.bdf} after its VFIO device was closed`);
      ctx.setPath(imp.verdict.path);
      ctx.check(
        imp.refused !== null,
        `an import of a dma-buf whose VFIO device was closed was mapped (${imp.verdict.why})`,
      );
    }
    if (ctx.failures.length === 0)
      ctx.note('closed while revoked: no refcount complaint, the dma-buf stays valid and refused');
  },
};

export const lifecycleScenarios: Scenario[] = [
  lifecycleRevokeOnReset,
  lifecycleRevokeOnClose,
  lifecycleVfDisableWhileImported,
  lifecycleRequotaWhileImported,
  lifecycleAttachAfterRevoke,
];
