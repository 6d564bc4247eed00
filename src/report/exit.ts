// Exit statuses, one table for every command. A run's status is part of its
// report (summary.exitCode, docs/report-schema.md), so the table sits with
// the report model, below the harness that computes it and the CLI that
// exits with it.
//
//   0    no unexpected result (a command: it did what was asked)
//   1    an unexpected fail/warn/crash/timeout, or an operational failure
//   2    usage: the user's input is wrong (nothing was run or changed)
//   77   nothing could be validated: every scenario skipped, or the machine
//        cannot do what a command asks (automake's and kselftest's SKIP)
//   99   iovh itself is broken (an internal error, a missing build artefact)
//   130  interrupted by SIGINT, 143 by SIGTERM (the shell's 128 + signal),
//        so that a CI never mistakes an interrupted run for a verdict
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  SKIPPED: 77,
  BROKEN: 99,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

/** The status after SIGINT or SIGTERM stopped a command. */
export function signalExit(signal: string): number {
  return signal === 'SIGTERM' ? EXIT.SIGTERM : EXIT.SIGINT;
}
