// A user process of the mock machine: its pid, comm and fd table. The first
// one is the process that created the mock backend; MockControl.spawnProcess
// adds more on the same kernel (the harness runs each scenario in its own, as
// IGT's runner does with a child per test). The platform makes a process the
// caller (`current`) on entry to each of its system calls.
//
// A process ends by exit (its backend's close()) or because the kernel killed
// it: an oops in its context ends the task (arch/x86/mm/fault.c
// page_fault_oops -> oops_end(..., SIGKILL) -> make_task_dead), which releases
// its mappings and files exactly as exit does.

import type { FdEntries } from './fds.js';

export class MockProcess {
  readonly fds: FdEntries = new Map();
  /** What killed the task (`oops: BUG: ...`), or null while it lives or after a plain exit. */
  killedBy: string | null = null;
  /** exit_mm and exit_files ran: the process holds nothing any more. */
  exited = false;

  constructor(
    readonly pid: number,
    readonly comm: string,
  ) {}
}
