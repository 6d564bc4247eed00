// Exit statuses, one table for every command: EXIT names them, EXIT_MEANINGS
// says what each means (iovh(1)'s EXIT STATUS section is made from it,
// src/cli/man.ts). A run's status is part of its report (summary.exitCode,
// docs/report-schema.md), so the table sits with the report model, below the
// harness that computes it and the CLI that exits with it. 77 is automake's
// SKIP (kselftest's is 4, which `iovh run --skip-exit 4` gives for a run all
// skipped); 130 and 143 are the shell's 128 + signal, so that a CI never
// mistakes an interrupted run for a verdict.
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

/**
 * kselftest's skip status (tools/testing/selftests/kselftest.h KSFT_SKIP):
 * its runner (tools/testing/selftests/kselftest/runner.sh) reports a test
 * that exits 4 as `ok N ... # SKIP` and any status but 0 and 4 as `not ok`,
 * so a run of iovh all skipped there must exit 4, not 77.
 */
export const KSFT_SKIP = 4;

/** What each status means, for people (the man page); KSFT_SKIP where --skip-exit gives it. */
export const EXIT_MEANINGS: readonly [number, string][] = [
  [EXIT.OK, 'no unexpected result; for other commands, the command did what was asked'],
  [EXIT.FAILED, 'an unexpected fail, warn, crash or timeout, or an operational failure'],
  [EXIT.USAGE, 'usage: the input is wrong; nothing was run or changed'],
  [KSFT_SKIP, `with --skip-exit ${KSFT_SKIP}: every scenario skipped (kselftest's KSFT_SKIP)`],
  [EXIT.SKIPPED, 'nothing could be validated: every scenario skipped, or the machine cannot do what the command asks'],
  [EXIT.BROKEN, 'iovh itself is broken: an internal error or a missing build artefact'],
  [EXIT.SIGINT, 'interrupted by SIGINT (the cleanups ran; the reports hold what was collected)'],
  [EXIT.SIGTERM, 'interrupted by SIGTERM'],
];

/** The statuses `--skip-exit` accepts for "nothing was validated": 77 (the default) and kselftest's 4. */
export const SKIP_EXITS = [String(EXIT.SKIPPED), String(KSFT_SKIP)] as const;

/** A run's status as a command exits with it: the all-skipped status replaced by `skipExit`, the rest as they are. */
export function withSkipExit(code: number, skipExit: number = EXIT.SKIPPED): number {
  return code === EXIT.SKIPPED ? skipExit : code;
}
