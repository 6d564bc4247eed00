// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @param {string} text  the serial log
 * @param {string} nonce
 * @returns {SerialLog}
 */
export function parseSerial(text: string, nonce: string): SerialLog;
/**
 * Validate a guest results object (read from the shared folder).
 * @param {unknown} data
 * @param {string} nonce
 * @returns {{ ok: true, results: GuestResults } | { ok: false, reason: string }}
 */
export function checkResults(data: unknown, nonce: string): {
    ok: true;
    results: GuestResults;
} | {
    ok: false;
    reason: string;
};
/**
 * @typedef {object} BootOutcome
 * @property {string} log          the kernel console (ttyS0)
 * @property {string} [channel]    the verdict channel (ttyS1): when given, the
 *                                 verdict, progress and results are read from it
 *                                 only, and the console only for panics and oopses
 * @property {string} nonce
 * @property {boolean} timedOut    the host's wall-clock limit killed QEMU
 * @property {number} timeoutSeconds
 * @property {number | null} exitCode  QEMU's
 * @property {string | null} signal
 * @property {string} qemuStderr
 * @property {unknown} [resultsData]   parsed results.json, if the file existed and parsed
 * @property {string} [resultsError]   why it could not be read
 */
/**
 * @param {BootOutcome} o
 * @returns {{ status: BootStatus, reason: string, serial: SerialLog, results: GuestResults | null }}
 */
export function classify(o: BootOutcome): {
    status: BootStatus;
    reason: string;
    serial: SerialLog;
    results: GuestResults | null;
};
/**
 * The last `n` lines of a log, for reports.
 * @param {string} text @param {number} [n]
 */
export function tail(text: string, n?: number): string;
export type BootStatus = "pass" | "fail" | "panic" | "hang" | "silent" | "crash" | "error";
export type GuestScenario = {
    id: string;
    status: "pass" | "fail" | "skip" | "warn" | "crash";
    path?: string | null | undefined;
    errno?: string | null | undefined;
    detail?: string | undefined;
    /**
     * a value the kernel chose, which the mock must choose too
     */
    observed?: string | null | undefined;
    ms?: number | undefined;
};
export type GuestResults = {
    nonce: string;
    variant?: string | undefined;
    kernel?: string | undefined;
    /**
     * iovh's out-of-tree modules the guest had loaded (test/qemu/guest/main.mjs)
     */
    modules?: string[] | undefined;
    scenarios: GuestScenario[];
};
export type SerialLog = {
    verdict: {
        kind: "rc";
        rc: number;
    } | {
        kind: "timeout";
    } | {
        kind: "error";
        step: string;
    } | null;
    /**
     * "IOVH-QEMU" lines, without the prefix
     */
    progress: string[];
    /**
     * "IOVH-QEMU-ERROR" lines, without the prefix
     */
    errors: string[];
    /**
     * "IOVH-SCENARIO" lines (one per finished scenario), without the prefix
     */
    scenarios: string[];
    /**
     * the "Kernel panic - not syncing" line
     */
    panic: string | null;
    /**
     * BUG:/Oops:/WARNING: lines the console printed
     */
    oopses: string[];
    /**
     * such lines printed between the guest's "iovh: expected kernel reports
     * begin" and "end" markers (the detector checks ask for them)
     */
    expected: string[];
    lines: number;
};
export type BootOutcome = {
    /**
     * the kernel console (ttyS0)
     */
    log: string;
    /**
     * the verdict channel (ttyS1): when given, the
     *     verdict, progress and results are read from it
     *     only, and the console only for panics and oopses
     */
    channel?: string | undefined;
    nonce: string;
    /**
     * the host's wall-clock limit killed QEMU
     */
    timedOut: boolean;
    timeoutSeconds: number;
    /**
     * QEMU's
     */
    exitCode: number | null;
    signal: string | null;
    qemuStderr: string;
    /**
     * parsed results.json, if the file existed and parsed
     */
    resultsData?: unknown;
    /**
     * why it could not be read
     */
    resultsError?: string | undefined;
};
