// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Run `iovh <args>` (bin/iovh.js) and collect its output.
 * @param {string[]} args @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, seconds: number }>}
 */
export function iovhCli(args: string[], env: NodeJS.ProcessEnv): Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}>;
/**
 * A unified diff that sets EXTRAVERSION in a kernel Makefile, made from the
 * tree's own Makefile so its context matches whatever version it is.
 * @param {string} makefile the Makefile's text @param {string} extraversion
 */
export function extraversionPatch(makefile: string, extraversion: string): string;
/**
 * @param {{ tree: string, bzImage: string, release: string, qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<Check[]>}
 */
export function qemuCommandChecks(o: {
    tree: string;
    bzImage: string;
    release: string;
    qemuCache: string;
    log: (s: string) => void;
}): Promise<Check[]>;
/**
 * The switch machine with the PF on vfio-pci (docs/kernels.md "The switch machine with the PF on vfio-pci"):
 * the VF opened with the run's VF token, its PF and the other VF reached by bus address through the switch, the
 * root-bus device not. One guest of the cached source kernel; ci.mjs runs it in the guest pool's slot that frees
 * up before the sanitizer guest ends, not after the pool.
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<Check>}
 */
export function switchVfioCheck(o: {
    qemuCache: string;
    log: (s: string) => void;
}): Promise<Check>;
/** @typedef {{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }} Check */
/**
 * The scenarios the `iovh qemu` runs here keep to: these checks prove the
 * command (build, patch, boot, verdict, reports); the sanitizer guest before
 * them runs every scenario on the same kernel.
 */
export const COMMAND_FILTERS: string[];
export type Check = {
    name: string;
    status: "pass" | "fail" | "skip";
    detail: string;
};
