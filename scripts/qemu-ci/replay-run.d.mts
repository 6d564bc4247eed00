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
