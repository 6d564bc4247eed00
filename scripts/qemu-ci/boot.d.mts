// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
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
};
export type BootReport = {
    variant: string;
    status: import("./verdict.mjs").BootStatus;
    reason: string;
    logPath: string;
    resultsDir: string;
    /**
     * QEMU start to QEMU exit (or kill)
     */
    wallSeconds: number;
    /**
     * QEMU start to the verdict line
     */
    verdictSeconds: number | null;
    results: import("./verdict.mjs").GuestResults | null;
    logTail: string;
    progress: string[];
};
