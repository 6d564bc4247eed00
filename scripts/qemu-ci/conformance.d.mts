// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Compare per scenario. `rules` maps a scenario id to the kernel rule it
 * exercises.
 * @param {ScenarioResult[]} real
 * @param {ScenarioResult[]} model
 * @param {Record<string, string>} rules
 * @returns {Comparison[]}
 */
export function compareResults(real: ScenarioResult[], model: ScenarioResult[], rules: Record<string, string>): Comparison[];
/**
 * The rule to name for a scenario id: ours from `rules`; for a harness
 * scenario (`run:<id>`), the behaviour its description states.
 * @param {Record<string, string>} rules @param {string} id
 */
export function ruleFor(rules: Record<string, string>, id: string): string;
/**
 * One line per disagreement, naming the scenario and the rule to fix.
 * @param {Comparison} c
 */
export function describeDisagreement(c: Comparison): string;
/**
 * @typedef {{ index: number, size: string, kind: string }} TopoBar
 * @typedef {{ bdf: string, vendor: string, device: string, class: string, bars: TopoBar[],
 *   sriov?: { totalvfs: number, offset: number, stride: number, vfDevice: string, vfBars: TopoBar[] } }} TopoDevice
 */
/**
 * Where the topology the igb guest captured (`iovh capture`) differs from the
 * committed igb-like topology, in what the mock's answers depend on: ids,
 * class, the PF's BARs (memory and I/O), the SR-IOV geometry and the VF BARs
 * (index, kind, size).
 * @param {{ devices: TopoDevice[] }} captured
 * @param {{ devices: TopoDevice[] }} committed
 * @returns {string[]}
 */
export function topologyDifferences(captured: {
    devices: TopoDevice[];
}, committed: {
    devices: TopoDevice[];
}): string[];
/**
 * The text of topology-igb.json from the topology `iovh capture` wrote in the
 * igb guest, as is but for `kernel`: its cmdline carries the boot's nonce and
 * iovh.* parameters, and the mock's profile says which kernel it models.
 * `bridges` (q35's host bridge, the root port's ACS: what the P2P route
 * between the PF and a VF follows, rules-more.mjs standin.p2p-import) as the
 * guest's capture read them; from the committed file when a capture of an
 * older iovh has none.
 * @param {{ kernel?: unknown, bridges?: unknown[] }} captured
 * @param {{ bridges?: unknown[] }} [committed] the topology file as committed
 */
export function topologyFileFrom(captured: {
    kernel?: unknown;
    bridges?: unknown[];
}, committed?: {
    bridges?: unknown[];
}): string;
/**
 * The fixture text for a passing igb guest's results: what the real kernel
 * said per scenario, with the kernel and QEMU it came from.
 * @param {import('./boot.mjs').BootReport} boot
 * `topologyDifferences`: where the guest's capture differs from topology-igb.json (topologyDifferences), as
 * the CI's conformance row `topology` says; the pinned share counts the mock's start (`boot`) only when none.
 * @param {{ kernel: string, qemu: string, kernelConfig?: Record<string, 'y' | 'n'>, topologyDifferences?: string[] }} versions
 * @param {RegExp} [omit] ids of results to leave out (and whose failure does not stop the recording)
 */
export function fixtureFrom(boot: import("./boot.mjs").BootReport, versions: {
    kernel: string;
    qemu: string;
    kernelConfig?: Record<string, "y" | "n">;
    topologyDifferences?: string[];
}, omit?: RegExp): string;
/**
 * The modelled options as the text of a .config (or /proc/config.gz) says:
 * `y` for built in or a module, `n` for not set or absent.
 * @param {string} text
 * @returns {Record<string, 'y' | 'n'>}
 */
export function kernelConfigFrom(text: string): Record<string, "y" | "n">;
/** Why the mock cannot be run from this checkout, or null when it can. */
export function mockUnavailable(repo?: string): string | null;
/**
 * The guest program (test/qemu/guest/main.mjs) on the mock: the same flow
 * and scenarios the guest ran, with the upstream profile and the igb-like
 * topology, in a child process whose output goes to `log`.
 * `kernelConfig`: how the real kernel was built, for the options the mock
 * models (src/mock/kconfig.ts), e.g. `{ IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' }`
 * for a kernel built with kconfig/iovh-guest.config (kernelConfigFrom reads it
 * from a .config); absent: the profile's, Debian's stock build.
 * `coverage`: a file where the replay writes the mock's branches each step ran
 * (scripts/qemu-ci/coverage.mjs; the pinned share).
 * `modules`: the out-of-tree modules the real guest had loaded (its results' `modules`): the mock loads them too.
 * @param {{ repo?: string, profile?: string, outDir: string, log: string, kernelConfig?: Record<string, 'y' | 'n'>, modules?: string[], coverage?: string }} o
 * @returns {Promise<import('../../test/qemu/guest/scenarios.mjs').Result[]>}
 */
export function runOnMock(o: {
    repo?: string;
    profile?: string;
    outDir: string;
    log: string;
    kernelConfig?: Record<string, "y" | "n">;
    modules?: string[];
    coverage?: string;
}): Promise<import("../../test/qemu/guest/scenarios.mjs").Result[]>;
export const GUEST_DIR: string;
export const IGB_TOPOLOGY: import("url").URL;
/**
 * The igb guest's results, recorded from a passing run (`main.mjs record`):
 * test/qemu/conformance-mock.test.ts compares the mock with them on every
 * `npm test`, without QEMU.
 */
export const KERNEL_FIXTURE: string;
/**
 * The same for the igb guest of the source-built sanitizer kernel (kasan-igb-intel-iommu): it has
 * IOMMUFD, VFIO_DEVICE_CDEV and kmemleak, so its fixture pins what the stock kernel cannot answer.
 */
export const KASAN_FIXTURE: string;
/**
 * Results that check the kernel's own detectors (test/qemu/guest/detectors.mjs:
 * KASAN, lockdep, kmemleak, hung task, WARN, provoked by a test module), not a
 * rule the mock models: left out of the comparison.
 */
export const NOT_MODELLED: RegExp;
/** Variants whose device the igb-like topology models. */
export const CONFORMANCE_DEVICE: "igb";
/**
 * The build options the mock models, which a kernel's .config sets for it: src/mock/kconfig.ts MODELLED_OPTIONS,
 * from the checkout's dist/ (a copy here had lost PROVE_LOCKING and SECURITY, so the sanitizer guest's mock ran
 * without the lock debugging its build has).
 */
export const MODELLED_KCONFIG: readonly ["IOMMUFD", "VFIO_DEVICE_CDEV", "TRANSPARENT_HUGEPAGE", "DEBUG_KMEMLEAK", "KASAN", "SLUB_RCU_DEBUG", "PROVE_LOCKING", "SECURITY"];
export type ScenarioResult = {
    id: string;
    status: string;
    path?: string | null;
    errno?: string | null;
    detail?: string;
    observed?: string | null;
};
export type Comparison = {
    id: string;
    agree: boolean;
    real: ScenarioResult | null;
    model: ScenarioResult | null;
    diffs: string[];
    rule: string;
};
export type TopoBar = {
    index: number;
    size: string;
    kind: string;
};
export type TopoDevice = {
    bdf: string;
    vendor: string;
    device: string;
    class: string;
    bars: TopoBar[];
    sriov?: {
        totalvfs: number;
        offset: number;
        stride: number;
        vfDevice: string;
        vfBars: TopoBar[];
    };
};
