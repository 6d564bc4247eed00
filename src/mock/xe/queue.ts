// Exec queues (DRM_IOCTL_XE_EXEC_QUEUE_CREATE): an engine, a VM, a GuC id,
// the job seqno, and the reset state a fault or hang leaves behind
// (q->ops->reset_status: later execs get ECANCELED, user-fence waits EIO).

import type { HwEngine } from './hw.js';
import type { XeVm } from './vm.js';

/** XE_FENCE_INITIAL_SEQNO (-127 as u32): the first job's seqno, as "Timedout job" lines show. */
const INITIAL_SEQNO = 0x100000000 - 127;

export class ExecQueue {
  reset = false;
  private seqno = INITIAL_SEQNO;

  constructor(
    readonly id: number,
    /** null for a VM_BIND queue (EXEC_QUEUE_FLAG_VM): it belongs to no VM */
    readonly vm: XeVm | null,
    readonly width: number,
    readonly engine: HwEngine,
    readonly gucId: number,
  ) {}

  get isBindQueue(): boolean {
    return this.vm === null;
  }

  nextSeqno(): number {
    const s = this.seqno;
    this.seqno = (this.seqno + 1) % 0x100000000;
    return s;
  }
}
