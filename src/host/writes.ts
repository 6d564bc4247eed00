// The one write of a step and its read-back, shared by apply and restore:
// after each write the target must read what was written (an attribute, in
// its canonical form) or be bound as asked, else the kernel clamped, ignored
// or undid it (docs/bringup.md "The plan and its order").
import { BringupError } from './errors.js';
import { canonical, formatStep, stepWrite, type Step } from './plan.js';
import { type SysReader, devicePath } from '../machine/sysfs.js';

/** Points where a test can stop the process abruptly (see docs/bringup.md "Testing the journal"). */
export interface ApplyHooks {
  /** After the journal entry of write n (1-based, counted over the process) and before the write. */
  beforeWrite?(n: number): void;
  /** After write n was made (and before it is read back). */
  afterWrite?(n: number): void;
}

let writesThisProcess = 0;

/** Counts every sysfs write this process makes through apply or restore, for the test hooks. */
export function countWrite(hooks: ApplyHooks | undefined, when: 'before' | 'after'): void {
  if (when === 'before') {
    hooks?.beforeWrite?.(writesThisProcess + 1);
  } else {
    writesThisProcess += 1;
    hooks?.afterWrite?.(writesThisProcess);
  }
}

/** What a step's target holds now, in the form the journal records: attribute text, or the bound driver ('' for none). */
export function currentOf(r: SysReader, step: Step): string {
  if (step.op === 'set') {
    const raw = r.fs.readText(step.path);
    return canonical(step.kind, raw) ?? raw.replace(/\n$/, '');
  }
  return r.driverOf(step.bdf) ?? '';
}

/** What the step's target must read after the write. */
export function expectedAfter(step: Step): string {
  switch (step.op) {
    case 'set':
      return step.value;
    case 'unbind':
      return '';
    case 'probe':
    case 'bind':
      return step.driver;
  }
}

export function expectedBefore(step: Step): string | null {
  switch (step.op) {
    case 'set':
      return step.before;
    case 'unbind':
      return step.driver;
    case 'probe':
    case 'bind':
      // Bring-up only probes or binds a device it has left unbound.
      return '';
  }
}

export function describe(step: Step, value: string): string {
  if (step.op === 'set') return step.kind === 'override' && value === '' ? '(null)' : `'${value}'`;
  return value === '' ? 'no driver' : `driver ${value}`;
}

/** Reads a step's target back; throws when the kernel clamped, ignored or undid the write. */
export function verify(r: SysReader, step: Step): void {
  const now = currentOf(r, step);
  const want = expectedAfter(step);
  if (now !== want) {
    const w = stepWrite(step);
    const what = step.op === 'set' ? w.path : devicePath(step.bdf);
    throw new BringupError(
      `the kernel did not take \`${formatStep(step)}\`: ${what} reads ${describe(step, now)}, expected ${describe(step, want)}${step.op === 'set' ? ' (clamped, rounded or ignored)' : ''}`,
    );
  }
  if (step.op === 'set' && step.kind === 'count' && step.path.endsWith('/sriov_numvfs'))
    verifyVfs(r, step.path.slice(0, -'/sriov_numvfs'.length), Number(step.value));
}

/** After sriov_numvfs = n, virtfn0..n-1 exist and no virtfn beyond (drivers/pci/iov.c pci_iov_add_virtfn). */
function verifyVfs(r: SysReader, pfDir: string, n: number): void {
  for (let i = 0; i < n; i++) {
    if (r.linkName(`${pfDir}/virtfn${i}`) === null)
      throw new BringupError(`${pfDir}/sriov_numvfs reads ${n} but virtfn${i} is missing`);
  }
  if (r.linkName(`${pfDir}/virtfn${n}`) !== null)
    throw new BringupError(`${pfDir}/sriov_numvfs reads ${n} but virtfn${n} still exists`);
}

/** SIGINT or SIGTERM stopped a bring-up or restore between two writes. */
export class Interrupted extends Error {
  constructor(
    readonly signal: string,
    readonly done: number,
    readonly total: number,
    what = 'writes',
  ) {
    super(`interrupted by ${signal} after ${done} of ${total} ${what}`);
    this.name = 'Interrupted';
  }
}

/**
 * Lets a pending signal be delivered (the CLI's handler aborts `interrupt`,
 * src/cli/signals.ts), then says whether the writes must stop: a sequence of
 * writes stops between two of them, never within one, and the journal says
 * where.
 */
export async function stopRequested(interrupt: AbortSignal | undefined): Promise<string | null> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return interrupt?.aborted ? String(interrupt.reason ?? 'SIGINT') : null;
}
