// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {object} BootOptions
 * @property {import('./variants.mjs').Variant} variant
 * @property {string} qemu             qemu-system-x86_64
 * @property {string} kernel           vmlinuz
 * @property {string} initrd
 * @property {import('./paths.mjs').CachePaths} paths
 * @property {number} [timeoutSeconds] hard wall-clock limit for the whole boot
 * @property {number} [smp]
 * @property {string} [memory]
 * @property {string} [entry]          guest program (default GUEST_ENTRY)
 * @property {string} [extraAppend]    more kernel parameters (debugging: loglevel=7, ...)
 * @property {string} [kernelAppend]   kernel parameters the kernel itself needs (kasan_multi_shot)
 * @property {string} [label]          names the boot in logs and reports (default: the variant's name)
 * @property {string[]} [guestArgs]    more arguments for the guest program (iovh.args, comma-separated)
 * @property {string[]} [insmod]       absolute host paths of modules /init loads before the program (iovh.insmod)
 *
 * @typedef {object} BootReport
 * @property {string} variant               the boot's label (the variant's name unless given)
 * @property {string} machine               the variant's name
 * @property {import('./verdict.mjs').BootStatus} status
 * @property {string} reason
 * @property {string} logPath
 * @property {string} channelPath           what the guest wrote on its verdict channel (ttyS1)
 * @property {string} resultsDir
 * @property {number} wallSeconds           QEMU start to QEMU exit (or kill)
 * @property {number | null} verdictSeconds QEMU start to the verdict line
 * @property {number | null} initSeconds    QEMU start to /init's first line on the channel (boot to /init;
 *                                          250 ms resolution)
 * @property {import('./verdict.mjs').GuestResults | null} results
 * @property {{ id: string, line: string }[]} xfail  harness results the baseline of the kernel's shape expects
 *                                          to fail (known bugs): neither passed nor failed
 * @property {string | null} baseline       that baseline's name, or why there is none
 * @property {string} logTail
 * @property {string[]} progress
 */
/**
 * The judge of a guest's harness results: the shipped baseline of the kernel's
 * shape (baselines/<shape>.json, as the guest's iovh run detected the shape)
 * through src/harness/baseline.ts judge(), from the checkout's dist/. Null,
 * with the reason, when there is no shape or no such baseline: then every bad
 * status fails, as before.
 * @param {unknown} data  results.json
 * @returns {Promise<{ judge: ((s: import('./verdict.mjs').GuestScenario) => import('./verdict.mjs').Judgement | null) | null, baseline: string }>}
 */
export function baselineJudge(data: unknown): Promise<{
    judge: ((s: import("./verdict.mjs").GuestScenario) => import("./verdict.mjs").Judgement | null) | null;
    baseline: string;
}>;
/**
 * Kernel command-line values cannot hold whitespace (nor, in iovh.args, a
 * comma, which separates the arguments there); say so instead of booting a
 * guest that misreads them.
 * @param {string} what @param {string} value @param {boolean} [list]
 */
export function cmdlineSafe(what: string, value: string, list?: boolean): string;
/**
 * @param {BootOptions} o
 * @returns {Promise<BootReport>}
 */
export function boot(o: BootOptions): Promise<BootReport>;
/** The guest program /init runs with this host's node (inside the chroot of the host root). */
export const GUEST_ENTRY: string;
export type BootOptions = {
    variant: import("./variants.mjs").Variant;
    /**
     * qemu-system-x86_64
     */
    qemu: string;
    /**
     * vmlinuz
     */
    kernel: string;
    initrd: string;
    paths: import("./paths.mjs").CachePaths;
    /**
     * hard wall-clock limit for the whole boot
     */
    timeoutSeconds?: number | undefined;
    smp?: number | undefined;
    memory?: string | undefined;
    /**
     * guest program (default GUEST_ENTRY)
     */
    entry?: string | undefined;
    /**
     * more kernel parameters (debugging: loglevel=7, ...)
     */
    extraAppend?: string | undefined;
    /**
     * kernel parameters the kernel itself needs (kasan_multi_shot)
     */
    kernelAppend?: string | undefined;
    /**
     * names the boot in logs and reports (default: the variant's name)
     */
    label?: string | undefined;
    /**
     * more arguments for the guest program (iovh.args, comma-separated)
     */
    guestArgs?: string[] | undefined;
    /**
     * absolute host paths of modules /init loads before the program (iovh.insmod)
     */
    insmod?: string[] | undefined;
};
export type BootReport = {
    /**
     * the boot's label (the variant's name unless given)
     */
    variant: string;
    /**
     * the variant's name
     */
    machine: string;
    status: import("./verdict.mjs").BootStatus;
    reason: string;
    logPath: string;
    /**
     * what the guest wrote on its verdict channel (ttyS1)
     */
    channelPath: string;
    resultsDir: string;
    /**
     * QEMU start to QEMU exit (or kill)
     */
    wallSeconds: number;
    /**
     * QEMU start to the verdict line
     */
    verdictSeconds: number | null;
    /**
     * QEMU start to /init's first line on the channel (boot to /init;
     * 250 ms resolution)
     */
    initSeconds: number | null;
    results: import("./verdict.mjs").GuestResults | null;
    /**
     * harness results the baseline of the kernel's shape expects
     * to fail (known bugs): neither passed nor failed
     */
    xfail: {
        id: string;
        line: string;
    }[];
    /**
     * that baseline's name, or why there is none
     */
    baseline: string | null;
    logTail: string;
    progress: string[];
};
