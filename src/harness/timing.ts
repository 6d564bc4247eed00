// How long the harness waits for the kernel, in the few places it must.
//
// A real kernel takes real time: a VF's FLR (VFIO_DEVICE_RESET) completes in
// well under a second on healthy hardware, so a reset still pending after
// `stallMs` is stuck, not slow (docs/kernel.md §3.5: the revoke waits, with no
// timeout, for importers to unmap); kmemleak reports an object only once it is
// older than its minimum age (mm/kmemleak.c, jiffies_min_age = 5 s). The
// simulated kernel completes every operation that is not blocked before the
// next turn of the event loop, so it needs only short stall waits, and keeps
// its own clock: waits for the kernel's time go through kernelSleep, which
// makes the mock's clock jump (Backend.sleep) instead of waiting.

import type { Backend } from '../backend/types.js';

export interface Timing {
  /** A blocking kernel call still pending after this long is reported as stalled. */
  stallMs: number;
  /** Wait before a kmemleak scan so that objects of the window are old enough to be reported. */
  kmemleakAgeMs: number;
  /** After a timeout and its cleanups, how long to wait for the scenario's code to unwind. */
  graceMs: number;
  /**
   * After the runner asked a scenario's process to stop, how long it has for
   * its cleanups and the grace above before it is killed (SIGKILL): a process
   * blocked in a synchronous kernel call cannot even hear the request.
   */
  killMs?: number;
  /** After SIGKILL, how long to wait for the process to die; one that does not is stuck in the kernel (D state). */
  reapMs?: number;
}

export const REAL_KERNEL_TIMING: Timing = {
  stallMs: 5000,
  kmemleakAgeMs: 5500,
  graceMs: 5000,
  killMs: 30_000,
  reapMs: 5000,
};
export const SIMULATED_KERNEL_TIMING: Timing = {
  stallMs: 100,
  kmemleakAgeMs: 5500,
  graceMs: 500,
  killMs: 2000,
  reapMs: 1000,
};

/** The timing of the backend's kernel: a simulated clock needs only short stall waits. */
export function timingFor(backend: Backend): Timing {
  return backend.traits.clock === 'simulated' ? SIMULATED_KERNEL_TIMING : REAL_KERNEL_TIMING;
}

/**
 * Wait `ms` of the kernel's time: Backend.sleep where the backend keeps the
 * kernel's clock (the mock's jumps at once), a timer otherwise (native).
 */
export function kernelSleep(backend: Backend, ms: number): Promise<void> {
  return backend.sleep ? backend.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
}

/** killMs and reapMs, with defaults for timings that predate them: twice the grace (at least a second), and a second. */
export function killTimes(t: Timing): { killMs: number; reapMs: number } {
  return { killMs: t.killMs ?? Math.max(1000, 2 * t.graceMs), reapMs: t.reapMs ?? 1000 };
}
