// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @param {readonly Step[]} steps          the guest program's results (results.json)
 * @param {readonly string[]} consoleOopses the console's kernel reports (verdict.mjs parseSerial().oopses)
 * @param {RunWindows} run                 the guest's `iovh run` report
 * @returns {string[]} one line per unexplained failure; empty: the run's own judgement stands
 */
export function unexplained(steps: readonly Step[], consoleOopses: readonly string[], run: RunWindows): string[];
export type Step = {
    id: string;
    status: string;
};
export type RunWindows = {
    scenarios: {
        log: string[];
        cleanliness: {
            kernelComplaints: string[];
        };
    }[];
};
