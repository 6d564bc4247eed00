// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @param {FlowOptions} o
 * @returns {Promise<{ results: Result[], pf: string | null, vf: string | null, shape: string | null, standIn: boolean | null }>}
 */
export function runFlow(o: FlowOptions): Promise<{
    results: Result[];
    pf: string | null;
    vf: string | null;
    shape: string | null;
    standIn: boolean | null;
}>;
/**
 * The kernel rule each step relies on, as the mock must model it (see RULES
 * in scenarios.mjs; the conformance check names it on a disagreement).
 * @type {Record<string, string>}
 */
export const FLOW_RULES: Record<string, string>;
/**
 * The harness scenarios that need iovh's stand-in importer module: where it is
 * not loaded (the stock kernel's guest) they are left out of the run, on the
 * mock too, rather than skipped on one side and run on the other.
 */
export const STAND_IN_SCENARIOS: string[];
export type Result = import("./scenarios.mjs").Result;
export type Lib = import("./iommufd.mjs").Lib;
export type Backend = import("../../../src/backend/types.js").Backend;
export type FlowOptions = {
    /**
     * steps: fromHarness; last: the last run (bugs/*); both shared with `iovh qemu`'s guest (src/qemu/guest.ts)
     */
    lib: Lib & {
        steps: typeof import("../../../src/qemu/steps.js");
        last: typeof import("../../../src/qemu/last.js");
    };
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
     * iovh's stand-in importer module is loaded (rules-more.mjs)
     */
    standIn?: boolean | undefined;
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
