// How long the harness waits for the kernel, in the few places it must.
//
// A real kernel takes real time: a VF's FLR (VFIO_DEVICE_RESET) completes in
// well under a second on healthy hardware, so a reset still pending after
// `stallMs` is stuck, not slow (kernel-abi §3.5: the revoke waits, with no
// timeout, for importers to unmap); kmemleak reports an object only once it is
// older than its minimum age (mm/kmemleak.c, jiffies_min_age = 5 s). The
// simulated kernel completes every operation that is not blocked before the
// next turn of the event loop and ages nothing, so it needs only short waits.

export interface Timing {
  /** A blocking kernel call still pending after this long is reported as stalled. */
  stallMs: number;
  /** Wait before a kmemleak scan so that objects of the window are old enough to be reported. */
  kmemleakAgeMs: number;
  /** After a timeout and its cleanups, how long to wait for the scenario's code to unwind. */
  graceMs: number;
}

export const REAL_KERNEL_TIMING: Timing = { stallMs: 5000, kmemleakAgeMs: 5500, graceMs: 5000 };
export const SIMULATED_KERNEL_TIMING: Timing = { stallMs: 100, kmemleakAgeMs: 0, graceMs: 500 };
