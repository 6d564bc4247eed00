// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {object} RfcKernel
 * @property {import('./kbuild.mjs').BuiltKernel} built
 * @property {string} importer      the stand-in importer's .ko
 * @property {number | null} cpuSeconds  the kernel build's (as recorded when it was built)
 */
/**
 * Build (or take from the cache) the rfc-v1 kernel and the importer against it.
 * @param {{ source: import('./ksource.mjs').KernelSource, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void, onProgress?: (p: import('./kbuild.mjs').BuildProgress) => void }} o
 * @returns {Promise<RfcKernel>}
 */
export function prepareRfcKernel(o: {
    source: import("./ksource.mjs").KernelSource;
    paths: import("./kcache.mjs").KernelCachePaths;
    log?: (s: string) => void;
    onProgress?: (p: import("./kbuild.mjs").BuildProgress) => void;
}): Promise<RfcKernel>;
/** The machine of this guest. */
export function rfcVariant(): import("./variants.mjs").Variant;
/**
 * The boot of this guest (boot.mjs): the kernel built with the series, the
 * importer loaded by /init, `iovh qemu`'s guest program running rfc/*.
 * @param {{ kernel: RfcKernel, qemu: string, initrd: string, paths: import('./paths.mjs').CachePaths, timeoutSeconds: number }} o
 * @returns {import('./boot.mjs').BootOptions}
 */
export function rfcBootOptions(o: {
    kernel: RfcKernel;
    qemu: string;
    initrd: string;
    paths: import("./paths.mjs").CachePaths;
    timeoutSeconds: number;
}): import("./boot.mjs").BootOptions;
/**
 * @typedef {{ id: string, status: string, quirks: { id: string }[], bugs?: { id: string }[], path: string | null,
 *   reason: string, log: string[], cleanliness: { kernelComplaints: string[] },
 *   baseline: { verdict: string, expected: string, note: string | null } | null }} RunScenario
 * @typedef {{ scenarios: RunScenario[], summary: { exitCode: number, exitReason: string }, kernel: { shape?: { name: string } | null } }} RunReport
 */
/**
 * The rfc/* scenarios on the mock's rfc-v1 profile (its own machine, the
 * default topology): what the model predicts for this kernel.
 * @param {{ log?: (s: string) => void }} [o]
 * @returns {RunReport}
 */
export function rfcOnMock(o?: {
    log?: (s: string) => void;
}): RunReport;
/**
 * Scenario by scenario: the same status and the same defects named. The path
 * is shown, not compared: the machines differ in the function the stand-in
 * offers as "another device" (the guest's host bridge, which vfio refuses
 * outright; the mock's other VF, which it maps scatter-gather), and the
 * scenario accepts either.
 * @param {RunReport} real @param {RunReport} model
 * @returns {{ id: string, agree: boolean, line: string }[]}
 */
export function compareRfc(real: RunReport, model: RunReport): {
    id: string;
    agree: boolean;
    line: string;
}[];
/**
 * The checks of the rfc-v1 guest: it reached its verdict, its run report is
 * there and names the shape rfc-v1, nothing failed that no baseline speaks
 * for (a bring-up step, a kernel report outside every scenario), every rfc/*
 * result is what baselines/rfc-v1.json expects (a known defect is expected,
 * never a pass), the series' defects were found for real (not skipped), and
 * the mock's rfc-v1 profile agrees scenario by scenario.
 * @param {import('./boot.mjs').BootReport} b
 * @param {RunReport | null} model   null: the mock could not run (`modelError` says why)
 * @param {string | null} [modelError]
 * @returns {import('./ci.mjs').Check[]}
 */
export function rfcChecks(b: import("./boot.mjs").BootReport, model: RunReport | null, modelError?: string | null): import("./ci.mjs").Check[];
/**
 * The checks of a boot of this guest (rfcChecks), against the mock's rfc-v1
 * run (rfcOnMock), whose failure to run is a failed check.
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log?: (s: string) => void }} [o]
 * @returns {import('./ci.mjs').Check[]}
 */
export function judgeRfcBoot(b: import("./boot.mjs").BootReport, o?: {
    log?: (s: string) => void;
}): import("./ci.mjs").Check[];
export const RFC_SERIES: string;
/** The mock profile (and shipped baseline) of the same series. */
export const RFC_PROFILE: "rfc-v1";
export const RFC_VARIANT: "igb-ivshmem-intel-iommu";
export const RFC_FILTER: "rfc/*";
/** Boot labels of this guest (not `kasan-`: the conformance and `record` take those as the default kernel's). */
export const RFC_LABEL: "rfc-v1-igb-ivshmem-intel-iommu";
/** `iovh qemu`'s guest program: brings up the VFs, binds the extras, runs iovh run with the shape's baseline. */
export const GUEST_PROGRAM: string;
export type RfcKernel = {
    built: import("./kbuild.mjs").BuiltKernel;
    /**
     * the stand-in importer's .ko
     */
    importer: string;
    /**
     * the kernel build's (as recorded when it was built)
     */
    cpuSeconds: number | null;
};
export type RunScenario = {
    id: string;
    status: string;
    quirks: {
        id: string;
    }[];
    bugs?: {
        id: string;
    }[];
    path: string | null;
    reason: string;
    log: string[];
    cleanliness: {
        kernelComplaints: string[];
    };
    baseline: {
        verdict: string;
        expected: string;
        note: string | null;
    } | null;
};
export type RunReport = {
    scenarios: RunScenario[];
    summary: {
        exitCode: number;
        exitReason: string;
    };
    kernel: {
        shape?: {
            name: string;
        } | null;
    };
};
