// A user process of the mock machine: its pid, comm and fd table. The first
// one is the process that created the mock backend; MockControl.spawnProcess
// adds more on the same kernel (the harness runs each scenario in its own, as
// IGT's runner does with a child per test). The platform makes a process the
// caller (`current`) on entry to each of its system calls.
//
// A process ends by exit or kill (its backend's close()). An oops in its
// context ends only the calling thread (arch/x86/kernel/dumpstack.c oops_end
// -> make_task_dead -> do_exit of that task: exit_files and exit_mm drop that
// thread's references to the shared files_struct and mm, which the other
// threads still hold): the process lives on with its files, mappings and
// dma-bufs, a node process whose main thread is gone and that nothing but a
// kill ends (iovh's runner kills it once it sees the oops). Locks the dead
// thread held stay held; the mock does not model who waits on them.

import type { FdEntries } from './fds.js';

export class MockProcess {
  readonly fds: FdEntries = new Map();
  /** What killed the calling thread (`oops: BUG: ...`), or null; the process lives until exited. */
  killedBy: string | null = null;
  /** exit_mm and exit_files ran: the process holds nothing any more. */
  exited = false;
  /**
   * The task sleeps uninterruptibly in the kernel (state D): where
   * (/proc/<pid>/wchan, fs/proc/base.c proc_pid_wchan) and its stack
   * (/proc/<pid>/stack), until the wait it is in ends. Null: running.
   */
  blocked: { wchan: string; stack: readonly string[] } | null = null;

  constructor(
    readonly pid: number,
    readonly comm: string,
  ) {}
}
