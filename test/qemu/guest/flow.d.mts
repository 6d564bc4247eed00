// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * The harness's result for one of its scenarios, as a flow result: status
 * and path as the harness judged them, errno = the code of the error that
 * ended the scenario, if any (docs/report-schema.md).
 * @param {{ id: string, title: string, status: string, path: string | null, reason: string, error: { code: string | null } | null, durationMs: number }} s
 * @returns {Result}
 */
export function fromHarness(s: {
    id: string;
    title: string;
    status: string;
    path: string | null;
    reason: string;
    error: {
        code: string | null;
    } | null;
    durationMs: number;
}): Result;
/**
 * @param {FlowOptions} o
 * @returns {Promise<{ results: Result[], pf: string | null, vf: string | null }>}
 */
export function runFlow(o: FlowOptions): Promise<{
    results: Result[];
    pf: string | null;
    vf: string | null;
}>;
/**
 * The kernel rule each step relies on, as the mock must model it (see RULES
 * in scenarios.mjs; the conformance check names it on a disagreement).
 * @type {Record<string, string>}
 */
export const FLOW_RULES: Record<string, string>;
export type Result = import("./scenarios.mjs").Result;
export type Lib = import("./iommufd.mjs").Lib;
export type Backend = import("../../../src/backend/types.js").Backend;
export type FlowOptions = {
    lib: Lib;
    /**
     * src/cli/main.ts main()
     */
    cli: (argv: string[]) => Promise<number>;
    /**
     * a backend on the same kernel the CLI acts on
     */
    open: () => Backend;
    /**
     * what selects that kernel on the CLI
     */
    backendArgs: string[];
    numvfs: number;
    /**
     * where artifacts go (topology.json, iovh-run.json)
     */
    outDir: string;
    onResult?: ((r: Result) => void) | undefined;
    /**
     * the harness's runner, for the detector checks
     */
    harness?: import("./detectors.mjs").Harness | undefined;
};
