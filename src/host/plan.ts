// A bring-up plan: the ordered sysfs writes that take the machine from the
// state it is in to the one asked for, computed before anything is written.
// `--dry-run` prints exactly these; apply.ts makes exactly these, each read
// back. A plan is built against a predicted state (PlanState) that each step
// updates, so the steps after `sriov_numvfs` can name VFs that do not exist
// yet; apply.ts checks every prediction against the kernel before and after
// each write.
import { DRIVERS_PROBE, driverPath } from '../machine/sysfs.js';

/** How an attribute's text is compared (after the trailing newline is dropped). */
export type AttrKind = 'bool' | 'count' | 'override' | 'u64';

export type Step =
  /** Write `value` to an attribute; it must then read back as `value` (in `kind`'s canonical form). */
  | {
      op: 'set';
      path: string;
      kind: AttrKind;
      value: string;
      before: string | null;
      why: string;
      /** A change the kernel makes itself as part of a later step of the plan (see Implied). */
      implied?: true;
      /**
       * A VRAM quota of a VF that was enabled when the plan was made: the
       * kernel releases it when the VF goes away (docs/kernel.md §9), so there is
       * nothing to restore once the VF is gone.
       */
      enabledVf?: { pf: string; id: number };
    }
  /** Release a device from its driver: BDF to /sys/bus/pci/drivers/<driver>/unbind. */
  | { op: 'unbind'; bdf: string; driver: string; why: string; implied?: true }
  /** Probe exactly one device (it binds to its driver_override): BDF to /sys/bus/pci/drivers_probe. */
  | { op: 'probe'; bdf: string; driver: string; why: string }
  /** Bind a device to a named driver: BDF to /sys/bus/pci/drivers/<driver>/bind. */
  | { op: 'bind'; bdf: string; driver: string; why: string };

/**
 * An implied step is journaled like any other (what it replaces is read and
 * recorded first, so restore undoes it) but not written and not read back:
 * the kernel makes that change itself when a later step of the same plan is
 * written. sriov_numvfs = 0 under an import removes the VFs, and with them
 * their driver bindings and overrides (drivers/pci/iov.c sriov_disable) and
 * xe releases their VRAM quotas (docs/kernel.md §9); unbinding the VF first, as
 * a plain disable does, would block in vfio-pci's remove while the device's
 * dma-buf is imported.
 */
export function isImplied(step: Step): boolean {
  return step.op !== 'probe' && step.op !== 'bind' && step.implied === true;
}

export interface Plan {
  /** What the plan brings about, in words (`enable 2 VFs on 0000:03:00.0`). */
  title: string;
  steps: Step[];
  /** Things the user should know that are not writes (a quota xe will choose, ...). */
  notes: string[];
}

/** The one write(2) a step makes: a whole buffer, with the newline `echo` adds. */
export function stepWrite(step: Step): { path: string; data: string } {
  switch (step.op) {
    case 'set':
      return { path: step.path, data: `${step.value}\n` };
    case 'unbind':
      return { path: driverPath(step.driver, 'unbind'), data: `${step.bdf}\n` };
    case 'bind':
      return { path: driverPath(step.driver, 'bind'), data: `${step.bdf}\n` };
    case 'probe':
      return { path: DRIVERS_PROBE, data: `${step.bdf}\n` };
  }
}

/**
 * The step as a shell line that makes the same write: `echo vfio-pci > ...`.
 * `echo > .../driver_override` writes a lone newline, which is how the
 * driver core is told to clear an override (docs/kernel.md §4).
 */
export function formatWrite(path: string, data: string): string {
  const text = data.replace(/\n$/, '');
  return text === '' ? `echo > ${path}` : `echo ${text} > ${path}`;
}

export function formatStep(step: Step): string {
  const w = stepWrite(step);
  const line = formatWrite(w.path, w.data);
  return isImplied(step) ? `(${line}: made by the kernel)` : line;
}

/** Canonical text of an attribute for comparisons. Null: it does not read as that kind at all. */
export function canonical(kind: AttrKind, raw: string): string | null {
  const t = raw.replace(/\n$/, '').trim();
  switch (kind) {
    case 'override':
      return t === '(null)' ? '' : t;
    case 'bool': {
      const l = t.toLowerCase();
      if (['1', 'y', 'yes', 'on', 'true'].includes(l)) return '1';
      if (['0', 'n', 'no', 'off', 'false'].includes(l)) return '0';
      return null;
    }
    case 'count':
      return /^\d+$/.test(t) ? String(Number(t)) : null;
    case 'u64':
      if (/^\d+$/.test(t)) return BigInt(t).toString();
      if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t).toString();
      return null;
  }
}
