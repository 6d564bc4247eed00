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
 * What an expected failure prints: "run:bugs/opath-stale-file: crash (expected: bug opath-stale-file)".
 * @param {GuestScenario} s @param {Judgement} j
 */
export function describeXfail(s: GuestScenario, j: Judgement): string;
/**
 * @param {BootOutcome} o
 * @returns {{ status: BootStatus, reason: string, serial: SerialLog, results: GuestResults | null, xfail: { id: string, line: string }[] }}
 */
export function classify(o: BootOutcome): {
    status: BootStatus;
    reason: string;
    serial: SerialLog;
    results: GuestResults | null;
    xfail: {
        id: string;
        line: string;
    }[];
};
/**
 * The last `n` lines of a log, for reports.
 * @param {string} text @param {number} [n]
 */
export function tail(text: string, n?: number): string;
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
    /**
     * the baseline of the kernel's shape
     * (baselineJudge): a harness result it expects to fail, naming the kernel's
     * known bugs, is an expected failure (XFAIL), counted neither passed nor failed
     */
    judge?: ((s: GuestScenario) => Judgement | null) | null | undefined;
};
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
    /**
     * for a harness result (`run:<id>`), the known bugs it named (src/harness/bugs.ts)
     */
    bugs?: string[] | undefined;
    /**
     * and the quirks
     */
    quirks?: string[] | undefined;
};
export type GuestResults = {
    nonce: string;
    variant?: string | undefined;
    kernel?: string | undefined;
    /**
     * iovh's out-of-tree modules the guest had loaded (test/qemu/guest/main.mjs)
     */
    modules?: string[] | undefined;
    /**
     * the kernel's shape as the guest's iovh run detected it (src/shape)
     */
    shape?: string | null | undefined;
    scenarios: GuestScenario[];
};
/**
 * a harness result against the shipped baseline of the kernel's shape
 */
export type Judgement = {
    /**
     * src/harness/baseline.ts judge()
     */
    verdict: "expected" | "regression" | "fixed" | "changed" | "unlisted";
    /**
     * the status the baseline expects
     */
    expected: string;
    /**
     * the bugs it expects named
     */
    bugs: string[];
    note: string | null;
    /**
     * the baseline's name
     */
    baseline: string;
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
    /**
     * such lines printed between the markers of the guest's last run (bugs/*,
     * src/qemu/last.ts): expected only when every
     * failure of that run is a known bug of the kernel's baseline
     */
    lastRun: string[];
    lines: number;
};
