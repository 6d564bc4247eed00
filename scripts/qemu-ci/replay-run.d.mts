// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/** @param {string[]} argv */
export function parseReplayArgs(argv: string[]): {
    coverage: string | null;
    repo: string;
    cli: string[];
};
/**
 * `iovh run` on the mock in a child process: under coverage (written to
 * `coverage`) through this script, or plainly through bin/iovh.js.
 * @param {{ args: string[], env: NodeJS.ProcessEnv, coverage?: string | null, repo?: string }} o
 * @returns {{ status: number | null, stdout: string, stderr: string }}
 */
export function replayRun(o: {
    args: string[];
    env: NodeJS.ProcessEnv;
    coverage?: string | null;
    repo?: string;
}): {
    status: number | null;
    stdout: string;
    stderr: string;
};
/**
 * A guest's run replayed on the mock: the topology written into `work`, `iovh run --backend mock --topology ...
 * --profile <profile> <args> --json` with its own state directory there, and the report read back (null when the run
 * wrote none: the caller says so with the exit status and stderr). The one way the CI replays `iovh run` on the mock
 * (rfc.mjs rfcOnMock, mock-gpu-ci.mjs edgeOnMock).
 * @param {{ work: string, topology: unknown, profile: string, args: string[], coverage?: string | null }} o
 * @returns {{ status: number | null, stdout: string, stderr: string, report: any }}
 */
export function replayOnMock(o: {
    work: string;
    topology: unknown;
    profile: string;
    args: string[];
    coverage?: string | null;
}): {
    status: number | null;
    stdout: string;
    stderr: string;
    report: any;
};
