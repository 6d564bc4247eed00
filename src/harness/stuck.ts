// A task stuck in the kernel, seen from outside: its state in
// /proc/<pid>/stat (D: an uninterruptible sleep, fs/proc/array.c
// get_task_state), where it sleeps (/proc/<pid>/wchan, fs/proc/base.c
// proc_pid_wchan: the first function outside the scheduler's __sched
// section) and its kernel stack (/proc/<pid>/stack, root only), and the
// hung-task detector's report of it (kernel/hung_task.c check_hung_task:
// "INFO: task <comm>:<pid> blocked for more than <n> seconds.").

import type { FileOps } from '../backend/types.js';

export interface TaskState {
  pid: number;
  comm: string;
  /** The state letter of /proc/<pid>/stat: R, S, D, Z, ... */
  state: string;
  /** The function it sleeps in; null when it runs or /proc/<pid>/wchan is unreadable. */
  wchan: string | null;
  /** /proc/<pid>/stack, one frame a line ("[<0>] " dropped); null when unreadable. */
  stack: string[] | null;
}

function read(fs: FileOps, path: string): string | null {
  try {
    return fs.readText(path);
  } catch {
    return null;
  }
}

/** /proc/<pid>/stat: "pid (comm) S ...", comm may hold spaces and parentheses: the state follows the last ')'. */
export function parseStat(text: string): { comm: string; state: string } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const state = text
    .slice(close + 1)
    .trim()
    .split(/\s+/)[0];
  if (!state) return null;
  return { comm: text.slice(open + 1, close), state };
}

/**
 * The task's state, or null when it is gone (no /proc/<pid>). A process whose
 * system call runs on another of its threads (Node's async work: a libuv
 * worker) has that thread asleep in the kernel, not its main one: the first
 * thread of /proc/<pid>/task in state D is the one reported, else the process.
 * Only the reported task's wchan and stack are read: a watcher polls this,
 * and node has a dozen threads that run.
 */
export function readTask(fs: FileOps, pid: number): TaskState | null {
  let tids: string[] = [];
  try {
    tids = fs.readdir(`/proc/${pid}/task`).filter((t) => /^\d+$/.test(t) && t !== String(pid));
  } catch {
    // no task directory: the process alone
  }
  for (const tid of tids) {
    const dir = `/proc/${pid}/task/${tid}`;
    const stat = statOf(fs, dir);
    if (stat?.state === 'D') return taskAt(fs, dir, pid, stat);
  }
  const stat = statOf(fs, `/proc/${pid}`);
  return stat ? taskAt(fs, `/proc/${pid}`, pid, stat) : null;
}

function statOf(fs: FileOps, dir: string): { comm: string; state: string } | null {
  const stat = read(fs, `${dir}/stat`);
  return stat === null ? null : parseStat(stat);
}

function taskAt(fs: FileOps, dir: string, pid: number, stat: { comm: string; state: string }): TaskState {
  const wchan = read(fs, `${dir}/wchan`)?.trim() ?? null;
  const stack = read(fs, `${dir}/stack`);
  return {
    pid,
    comm: stat.comm,
    state: stat.state,
    wchan: wchan && wchan !== '0' ? wchan : null,
    stack:
      stack === null
        ? null
        : stack
            .split('\n')
            .map((l) => l.replace(/^\[<[0-9a-f]+>\]\s*/, '').trim())
            .filter((l) => l !== ''),
  };
}

/**
 * Asleep in the kernel in `waiter`: state D with `waiter` as its wchan or on
 * its stack (get_wchan skips the scheduler's __sched functions, so a task in
 * wait_for_completion shows its caller).
 */
export function sleepsIn(task: TaskState | null, waiter: string): boolean {
  return task?.state === 'D' && (task.wchan === waiter || (task.stack ?? []).some((f) => f.startsWith(`${waiter}+`)));
}

/** The hung-task detector's lines about `pid` in `log` (kmsg texts). */
export function hungTaskReports(log: readonly string[], pid: number): string[] {
  const re = new RegExp(`^INFO: task .+:${pid} blocked for more than \\d+ seconds\\.`);
  return log.filter((l) => re.test(l.trim())).map((l) => l.trim());
}

/** /proc/sys/kernel/hung_task_timeout_secs: null when the kernel has no detector or it is off (0). */
export function hungTaskTimeout(fs: FileOps): number | null {
  const v = Number(read(fs, '/proc/sys/kernel/hung_task_timeout_secs')?.trim());
  return Number.isFinite(v) && v > 0 ? v : null;
}
