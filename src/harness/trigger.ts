// A revoke's trigger in a process of its own (bugs/revoke-hang-*,
// iommufd/revoke-trigger-*): the process that holds an import must not be
// the one that waits for it to go. On 7.1 and later vfio's revoke waits,
// without a timeout, for every importer to unmap (vfio_pci_dma_buf_move in
// drivers/vfio/pci/vfio_pci_dmabuf.c: wait_for_completion), so the task that
// asked for the revoke sleeps in the kernel in D state until the importer
// lets go; the scenario's own process watches it from outside (stuck.ts).
//
// On a real kernel the trigger is a child node process
// (src/cli/trigger-process.ts) that gets the VFIO device fd as its fd 3, as
// spawn() passes `stdio` fds; on the mock it is a process of the simulated
// kernel (Backend.spawnProcess with the fd inherited). Either way the watcher
// reads /proc/<pid> through the scenario's backend.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend, Fd, ProcessBackend } from '../backend/types.js';
import { readTask } from './stuck.js';

export type TriggerOp = { op: 'reset' } | { op: 'write'; offset: bigint; data: Uint8Array } | { op: 'close' };

export interface TriggerOutcome {
  /** The errno code the operation ended with; null: it succeeded. */
  code: string | null;
}

export interface TriggerRun {
  readonly pid: number;
  /** How the operation ended, or undefined while the process is still in it. */
  outcome(): TriggerOutcome | undefined;
  /** The process is done with: it exits (a process still in the kernel is left there, abandoned). Idempotent. */
  finish(): void;
}

/** The trigger process's entry: dist/cli/trigger-process.js next to this module's build. */
function entry(): string | null {
  for (const u of [
    new URL('../cli/trigger-process.js', import.meta.url),
    new URL('../../dist/cli/trigger-process.js', import.meta.url),
  ]) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The trigger process could not start (not the kernel's doing). */
export class TriggerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TriggerStartError';
  }
}

export interface TriggerOptions {
  /** Bounds the trigger process's start (a node process under TCG takes seconds). */
  startMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Runs once the process holds the device fd, before its system call (the close trigger drops ours there). */
  afterSpawn?: () => void;
}

/**
 * Start `op` on the VFIO device `deviceFd` in another process. Resolves once
 * that process is about to make the system call (a real child says `ready`).
 */
export async function startTrigger(
  backend: Backend,
  deviceFd: Fd,
  op: TriggerOp,
  o: TriggerOptions,
): Promise<TriggerRun> {
  if (backend.spawnProcess) {
    const proc = backend.spawnProcess('iovh-trigger', [deviceFd]);
    try {
      o.afterSpawn?.();
    } catch (e) {
      proc.close();
      throw e;
    }
    return startSimulated(backend, proc, op);
  }
  return startChild(deviceFd, op, o);
}

/** The mock: a process of the same simulated kernel, the device at its fd 3. */
function startSimulated(watcher: Backend, proc: ProcessBackend, op: TriggerOp): TriggerRun {
  const fd = 3;
  let settled: TriggerOutcome | undefined;
  let pending = false;
  const codeOf = (e: unknown) => (e as { code?: string }).code ?? String(e);
  try {
    if (op.op === 'reset') {
      pending = true;
      proc.dev.vfioDeviceReset(fd).then(
        () => {
          settled = { code: null };
        },
        (e: unknown) => {
          settled = { code: codeOf(e) };
        },
      );
    } else if (op.op === 'write') proc.dev.vfioRegionWrite(fd, op.offset, op.data);
    else proc.dev.close(fd);
  } catch (e) {
    settled = { code: codeOf(e) };
  }
  return {
    pid: proc.pid,
    outcome() {
      if (settled) return settled;
      if (pending) return undefined;
      // A system call that returned to the model but whose task still sleeps in the kernel (state D).
      const task = readTask(watcher.fs, proc.pid);
      if (task?.state === 'D') return undefined;
      settled = { code: null };
      return settled;
    },
    finish() {
      if (this.outcome()) proc.close();
    },
  };
}

/** A real kernel: a child node process with the device fd as its fd 3. */
async function startChild(deviceFd: Fd, op: TriggerOp, o: TriggerOptions): Promise<TriggerRun> {
  const { startMs, sleep } = o;
  const file = entry();
  if (!file)
    throw new TriggerStartError(
      'the trigger process entry (dist/cli/trigger-process.js) is missing: run `npm run build:ts`',
    );
  const request =
    op.op === 'write'
      ? { op: 'write', offset: op.offset.toString(), data: Buffer.from(op.data).toString('hex') }
      : { op: op.op };
  const child: ChildProcess = spawn(process.execPath, [file, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'pipe', deviceFd],
  });
  // spawn() returns once the child exists with its fds (libuv's uv_spawn waits for the exec).
  try {
    o.afterSpawn?.();
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  let ready = false;
  let settled: TriggerOutcome | undefined;
  let exited: string | null = null;
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      try {
        const msg = JSON.parse(line) as { ready?: boolean; done?: boolean; code?: string | null };
        if (msg.ready) ready = true;
        if (msg.done) settled = { code: msg.code ?? null };
      } catch {
        // not ours
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr = (stderr + s).slice(-2000);
  });
  child.on('exit', (code, signal) => {
    exited = signal ?? `exit ${code}`;
  });
  child.on('error', (e) => {
    exited = e.message;
  });
  for (let waited = 0; !ready && exited === null && waited < startMs; waited += 50) await sleep(50);
  if (!ready) {
    child.kill('SIGKILL');
    throw new TriggerStartError(
      `the trigger process did not start within ${startMs} ms (${exited ?? 'still starting'})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`,
    );
  }
  return {
    pid: child.pid!,
    outcome: () => settled,
    finish() {
      // Still in the kernel: nothing can kill it (D state); stop holding this process up for it.
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.unref();
    },
  };
}
