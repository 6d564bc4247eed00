// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Run the scenarios in order. A scenario whose prerequisite did not pass is
 * skipped and names it; that prerequisite's own failure fails the run.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, vf: string, pf: string, only?: string[], onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export function runScenarios(o: {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    vf: string;
    pf: string;
    only?: string[];
    onResult?: (r: Result) => void;
}): Promise<Result[]>;
/**
 * @typedef {object} Scenario
 * @property {string} id
 * @property {string} title
 * @property {Array<'device' | 'bars' | 'vgem' | 'emptyBar'>} needs
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */
/** @type {Scenario[]} */
export const SCENARIOS: Scenario[];
/**
 * For each scenario, the kernel rule it exercises, as the mock must model it:
 * what the conformance check names when the mock and the real kernel disagree.
 * @type {Record<string, string>}
 */
export const RULES: Record<string, string>;
/**
 * the iovh modules the scenarios use (dist/ in the guest, src/ under vitest)
 */
export type Lib = {
    vfio: typeof import("../../../src/uapi/vfio.js");
    drm: typeof import("../../../src/uapi/drm.js");
    bufinfo: typeof import("../../../src/uapi/bufinfo.js");
    uapi: typeof import("../../../src/uapi/constants.js");
};
export type Outcome = {
    status: "pass" | "fail" | "skip" | "warn" | "crash";
    path?: string | null;
    errno?: string | null;
    detail: string;
};
export type Result = Outcome & {
    id: string;
    title: string;
    ms: number;
};
export type Ctx = {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    /**
     * the VF bound to vfio-pci
     */
    vf: string;
    pf: string;
    /**
     * once vfio.open passed
     */
    device: import("../../../src/uapi/vfio.js").VfioDevice | null;
    /**
     * memory BARs with MMAP, once vfio.regions passed
     */
    bars: import("../../../src/uapi/vfio.js").VfioRegion[];
    /**
     * a BAR index < 6 of size 0, if any
     */
    emptyBar: number | null;
    /**
     * vgem's render node, once found
     */
    vgem: import("../../../src/uapi/drm.js").DrmDevice | null;
    fdBaseline: Map<number, string> | null;
    kmsgSeq: bigint | null;
    taint: string | null;
};
export type Scenario = {
    id: string;
    title: string;
    needs: Array<"device" | "bars" | "vgem" | "emptyBar">;
    run: (ctx: Ctx) => Outcome | Promise<Outcome>;
};
