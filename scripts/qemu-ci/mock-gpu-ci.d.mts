// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * edge/* of the mock GPU guest replayed on the mock loaded with the guest's capture (replayTopology), on the VF the
 * guest tested: the check of the CI guest (mockGpuChecks) and the pinned share (pinned.mjs) run this one replay.
 * @param {{ work: string, topology: unknown, profile: string, coverage?: string | null }} o
 */
export function edgeOnMock(o: {
    work: string;
    topology: unknown;
    profile: string;
    coverage?: string | null;
}): {
    status: number | null;
    stdout: string;
    stderr: string;
    report: any;
};
/**
 * What a guest's capture of an older iovh misses for the mock (a newer one
 * captures its bridges): the host bridge, q35's
 * 8086:29c0, which is on no P2P whitelist (drivers/pci/p2pdma.c). The PF and
 * its VFs sit below a QEMU root port, whose ACS (SV TB RR CR UF DT, QEMU's
 * pcie_acs_init) the mock's default for an unlisted root port matches: ACS
 * redirect between them, so the P2P route goes through that host bridge and
 * the guest's scatter-gather fallbacks fail EINVAL (src/mock/pcie.ts).
 * @param {Record<string, unknown>} captured
 */
export function replayTopology(captured: Record<string, unknown>): {
    bridges: {};
};
/**
 * Per scenario: status, path and the quirk ids; a line for each difference.
 * @param {{ id: string, status: string, path?: string | null, quirks?: { id: string }[] }[]} real
 * @param {{ id: string, status: string, path?: string | null, quirks?: { id: string }[] }[]} model
 */
export function edgeDisagreements(real: {
    id: string;
    status: string;
    path?: string | null;
    quirks?: {
        id: string;
    }[];
}[], model: {
    id: string;
    status: string;
    path?: string | null;
    quirks?: {
        id: string;
    }[];
}[]): string[];
/**
 * What the CLI does with a bad device property, as a user meets it: `iovh
 * qemu --device mock-gpu,lmem-size=48M` is refused with QEMU's reason, exit
 * 2, before any kernel is built (QEMU's build is cached by then: the guest
 * of the series booted on this device).
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }[]>}
 */
export function mockGpuChecks(o: {
    qemuCache: string;
    log: (s: string) => void;
}): Promise<{
    name: string;
    status: "pass" | "fail" | "skip";
    detail: string;
}[]>;
/**
 * The edge/* side of the series' guest on the mock GPU (rfc.mjs boots it,
 * running rfc/* and edge/*): every edge/* scenario ran in the guest (none
 * skipped: the guest program lays the LMEM out so that each corner has its
 * VF), and the mock, replaying the topology the guest captured under the
 * `profile` (rfc-v1), agrees scenario by scenario on status, path and
 * quirks. With `coverage` (a file for the replay's V8 coverage,
 * replay-run.mjs), also the pinned share of this kernel: the branches of the
 * mock its edge/* replay ran in the scenarios the guest answered (not
 * skipped) and the mock agreed with (coverage.mjs runRows).
 * @param {import('./boot.mjs').BootReport} b
 * @param {{ log: (s: string) => void, profile?: string, coverage?: string | null }} o
 * @returns {Promise<{ checks: { name: string, status: 'pass' | 'fail' | 'skip', detail: string }[], pinned: import('./coverage.mjs').Share | null }>}
 */
export function edgeChecks(b: import("./boot.mjs").BootReport, o: {
    log: (s: string) => void;
    profile?: string;
    coverage?: string | null;
}): Promise<{
    checks: {
        name: string;
        status: "pass" | "fail" | "skip";
        detail: string;
    }[];
    pinned: import("./coverage.mjs").Share | null;
}>;
/**
 * The fixtures test/qemu/mock-gpu-conformance.test.ts replays, from a guest's
 * run report and its capture (the PF driver's translation: rfc-v1, the
 * default, replayed under the rfc-v1 profile; or fixed, `--device
 * mock-gpu,translation=fixed`, under the fixed profile):
 *   node scripts/qemu-ci/mock-gpu-ci.mjs record <guest results folder> <iovh qemu --json report> [rfc-v1|fixed]
 * @param {{ scenarios: { id: string, status: string, path?: string | null, quirks?: { id: string }[], reason: string }[] }} run
 * @param {Record<string, unknown>} captured
 * @param {{ recorded: string, kernel: string, qemu: string }} about
 * @param {'rfc-v1' | 'fixed'} [translation]
 */
export function fixtureFrom(run: {
    scenarios: {
        id: string;
        status: string;
        path?: string | null;
        quirks?: {
            id: string;
        }[];
        reason: string;
    }[];
}, captured: Record<string, unknown>, about: {
    recorded: string;
    kernel: string;
    qemu: string;
}, translation?: "rfc-v1" | "fixed"): {
    command: string;
    profile: "fixed" | "rfc-v1";
    vf: string;
    notes: string[];
    topology: {
        bridges: {};
    };
    scenarios: {
        id: string;
        status: string;
        path: string | null;
        quirks: string[];
        reason: string;
    }[];
    recorded: string;
    kernel: string;
    qemu: string;
};
export const EDGE: string[];
/** The run's VF: VF 1 of the guest's plan (src/qemu/guest.ts MOCK_GPU_PLAN). */
export const MOCK_GPU_VF: "0000:01:1f.5";
