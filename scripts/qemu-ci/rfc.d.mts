// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {object} RfcKernel
 * @property {import('./kbuild.mjs').BuiltKernel} built
 * @property {string} importer      the stand-in importer's .ko
 * @property {string} driver        the mock GPU's PF driver's .ko (loaded after the importer: it installs its
 *                                  translation there)
 * @property {number | null} cpuSeconds  the kernel build's (as recorded when it was built)
 */
/**
 * Build (or take from the cache) the rfc-v1 kernel, the importer and the mock GPU's PF driver against it.
 * @param {{ source: import('./ksource.mjs').KernelSource, paths: import('./kcache.mjs').KernelCachePaths, log?: (s: string) => void, onProgress?: (p: import('./kbuild.mjs').BuildProgress) => void }} o
 * @returns {Promise<RfcKernel>}
 */
export function prepareRfcKernel(o: {
    source: import("./ksource.mjs").KernelSource;
    paths: import("./kcache.mjs").KernelCachePaths;
    log?: (s: string) => void;
    onProgress?: (p: import("./kbuild.mjs").BuildProgress) => void;
}): Promise<RfcKernel>;
/**
 * The machine of this guest: the mock GPU (only iovh's QEMU build has it,
 * scripts/qemu-ci/qemu-build.mjs) with ivshmem-plain beside it.
 * @returns {import('./variants.mjs').Variant}
 */
export function rfcVariant(): import("./variants.mjs").Variant;
/**
 * The boot of this guest (boot.mjs): the kernel built with the series, the
 * importer then the PF driver loaded by /init (as `iovh qemu --device
 * mock-gpu` loads them), `iovh qemu`'s guest program running rfc/* and
 * edge/* (rfc/* alone with `edge: false`). `qemu` is iovh's QEMU build (the
 * mock GPU is not in Debian's).
 * @param {{ kernel: RfcKernel, qemu: string, initrd: string, paths: import('./paths.mjs').CachePaths, timeoutSeconds: number, edge?: boolean }} o
 * @returns {import('./boot.mjs').BootOptions}
 */
export function rfcBootOptions(o: {
    kernel: RfcKernel;
    qemu: string;
    initrd: string;
    paths: import("./paths.mjs").CachePaths;
    timeoutSeconds: number;
    edge?: boolean;
}): import("./boot.mjs").BootOptions;
/**
 * @typedef {{ id: string, status: string, quirks: { id: string }[], bugs?: { id: string }[], path: string | null,
 *   reason: string, log: string[], cleanliness: { kernelComplaints: string[] },
 *   baseline: { verdict: string, expected: string, note: string | null } | null }} RunScenario
 * @typedef {{ scenarios: RunScenario[], summary: { exitCode: number, exitReason: string }, kernel: { shape?: { name: string } | null } }} RunReport
 */
/**
 * The rfc-v1 guest's machine as the mock's topology (docs/topology.md): the
 * igb guest's, as `iovh capture` saw it there (topology-igb.json; this guest
 * has the same igb on the same root port), plus what variants.mjs adds:
 * q35's host bridge (the "other device" rfc/refuse-device offers, as in the
 * guest) and QEMU's ivshmem-plain on a root port of its own, bound to vfio-pci
 * as the guest program binds it: BAR 0 its registers (IVSHMEM_REG_BAR_SIZE,
 * 256 bytes), BAR 2 the 4 MiB memory backend, 64-bit prefetchable
 * (hw/misc/ivshmem.c ivshmem_common_realize). The addresses are the mock's
 * own; the scenarios compare ranges with the BAR's start, whatever it is.
 * The CI boots this guest on the mock GPU machine (RFC_VARIANT), not on igb:
 * rfc/* uses only ivshmem-plain (the exporter, and its own importer) and the
 * first other function by address (src/harness/standin.ts: q35's host
 * bridge, 00:00.0, on either machine), which both machines have alike.
 * @returns {Record<string, unknown> & { devices: Record<string, unknown>[] }}
 */
export function rfcTopology(): Record<string, unknown> & {
    devices: Record<string, unknown>[];
};
/**
 * The rfc/* scenarios on the mock's rfc-v1 profile, on the guest's machine
 * (rfcTopology): what the model predicts for this kernel. With `coverage`,
 * the run is under V8 coverage per scenario (replay-run.mjs; the pinned share).
 * @param {{ log?: (s: string) => void, coverage?: string | null }} [o]
 * @returns {RunReport}
 */
export function rfcOnMock(o?: {
    log?: (s: string) => void;
    coverage?: string | null;
}): RunReport;
/**
 * Scenario by scenario: the same status, the same path and the same defects
 * named (the mock replays the guest's machine, rfcTopology).
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
 * run (rfcOnMock), whose failure to run is a failed check; with `coverage` (a
 * file for the replay's coverage), also the pinned share of this kernel: the
 * branches of the mock its rfc/* replay ran in the scenarios the kernel
 * answered (not skipped) and the mock agreed with (coverage.mjs runRows).
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log?: (s: string) => void, coverage?: string | null }} [o]
 * @returns {{ checks: import('./ci.mjs').Check[], pinned: import('./coverage.mjs').Share | null }}
 */
export function judgeRfcBoot(b: import("./boot.mjs").BootReport, o?: {
    log?: (s: string) => void;
    coverage?: string | null;
}): {
    checks: import("./ci.mjs").Check[];
    pinned: import("./coverage.mjs").Share | null;
};
/**
 * The fixture test/qemu/rfc-conformance.test.ts and the pinned share replay
 * (pinned.mjs), from the rfc-v1 guest's run report:
 *   node scripts/qemu-ci/rfc.mjs record <its results folder>/iovh-run.json
 * @param {RunReport & { startedAt?: string, kernel: { release?: string } }} run
 * @param {{ recorded: string, kernel: string }} about
 */
export function rfcFixtureFrom(run: RunReport & {
    startedAt?: string;
    kernel: {
        release?: string;
    };
}, about: {
    recorded: string;
    kernel: string;
}): {
    variant: string;
    command: string;
    profile: string;
    notes: string[];
    scenarios: {
        id: string;
        status: string;
        path: string | null;
        quirks: string[];
        bugs: string[];
        reason: string;
    }[];
    recorded: string;
    kernel: string;
};
export const RFC_SERIES: string;
/** The mock profile (and shipped baseline) of the same series. */
export const RFC_PROFILE: "rfc-v1";
export const RFC_VARIANT: "mock-gpu-intel-iommu";
export const RFC_FILTER: "rfc/*";
/** What the same boot runs besides rfc/*: the translation's corners on the mock GPU (mock-gpu-ci.mjs edgeChecks). */
export const EDGE_FILTER: "edge/*";
/** Boot labels of this guest (not `kasan-`: the conformance and `record` take those as the default kernel's). */
export const RFC_LABEL: "rfc-v1-mock-gpu-intel-iommu";
/** `iovh qemu`'s guest program: brings up the VFs, binds the extras, runs iovh run with the shape's baseline. */
export const GUEST_PROGRAM: string;
export type RfcKernel = {
    built: import("./kbuild.mjs").BuiltKernel;
    /**
     * the stand-in importer's .ko
     */
    importer: string;
    /**
     * the mock GPU's PF driver's .ko (loaded after the importer: it installs its
     * translation there)
     */
    driver: string;
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
