// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Every branch of the JavaScript files under `dir` (dist/mock).
 * @param {string} dir
 * @returns {BranchTable}
 */
export function branchTable(dir: string): BranchTable;
/**
 * @typedef {{ startOffset: number, endOffset: number, count: number }} V8Range
 * @typedef {{ url: string, functions: { ranges: V8Range[] }[] }} V8Script
 */
/**
 * The branches of `table` taken in one coverage take (counts since the previous take).
 * @param {BranchTable} table @param {V8Script[]} scripts
 * @returns {number[]}
 */
export function takenIn(table: BranchTable, scripts: V8Script[]): number[];
/**
 * Coverage per step of a replay in this process (the guest program on the
 * mock): an inspector session with precise block coverage; `mark(id)` takes
 * what ran since the previous mark and adds it to unit `id`.
 * @param {string} distMock the dist/mock directory whose branches count
 */
export function startReplayCoverage(distMock: string): Promise<{
    /** What ran since the previous mark goes to unit `id`. @param {string} id */
    mark(id: string): void;
    /** @returns {ReplayCoverage} */
    finish(): ReplayCoverage;
}>;
/**
 * @typedef {{ id: string, agree: boolean, real: { status: string } | null }} Row
 * @typedef {{ kernel: string, total: number, pinned: number, share: number, units: number, counted: number, hits: Set<number> }} Share
 */
/**
 * Which units count: a result the real kernel answered (ran it and did not
 * skip) and the mock agreed with. `boot` (the mock's start and the modules'
 * load, before the first step) counts when the capture and the topology agree;
 * `cli.run` (the run's setup between its scenarios) when the run step does.
 * @param {Row[]} rows conformance rows (compareResults, plus `topology`)
 * @returns {Set<string>}
 */
export function countedUnits(rows: Row[]): Set<string>;
/**
 * @typedef {{ id: string, status: string, path?: string | null, quirks?: Array<{ id: string } | string>, bugs?: Array<{ id: string } | string> }} RunScenario
 */
/**
 * Rows for pinnedShare from two `iovh run` reports of the same scenarios, a
 * real kernel's and the mock's replay of it (replay-run.mjs, whose units are
 * `run:<id>`): a scenario agrees when its status, its path and the defects it
 * names (quirk and bug ids) are the same. Only the scenarios `only` accepts
 * are compared (the ones the CI judges), when given.
 * @param {RunScenario[]} real @param {RunScenario[]} model @param {(id: string) => boolean} [only]
 * @returns {Row[]}
 */
export function runRows(real: RunScenario[], model: RunScenario[], only?: (id: string) => boolean): Row[];
/**
 * The pinned share of one kernel's replay.
 * @param {string} kernel @param {ReplayCoverage} cov @param {Row[]} rows
 * @returns {Share}
 */
export function pinnedShare(kernel: string, cov: ReplayCoverage, rows: Row[]): Share;
/**
 * The union of several kernels' pinned branches (the same branch table).
 * @param {Share[]} shares
 * @returns {{ total: number, pinned: number, share: number }}
 */
export function totalShare(shares: Share[]): {
    total: number;
    pinned: number;
    share: number;
};
/** @param {Share | { pinned: number, total: number, share: number }} s */
export function describeShare(s: Share | {
    pinned: number;
    total: number;
    share: number;
}): string;
/**
 * The branches no counted unit reached, by file (relative to `root`), for
 * finding what a real kernel does not pin yet.
 * @param {BranchTable} table @param {Set<number>} hits @param {string} root
 */
export function unpinnedByFile(table: BranchTable, hits: Set<number>, root: string): {
    file: string;
    branches: number;
    unpinned: number;
}[];
/**
 * taken when count(at) > 0, or, with `minus`, when count(at) > count(minus)
 */
export type Branch = {
    kind: string;
    file: string;
    at: number;
    minus?: number;
    line: number;
};
export type BranchTable = {
    files: string[];
    branches: Branch[];
    byFile: Map<string, number[]>;
    digest: string;
};
export type Unit = {
    id: string;
    hits: number[];
};
export type ReplayCoverage = {
    digest: string;
    total: number;
    units: Unit[];
};
export type V8Range = {
    startOffset: number;
    endOffset: number;
    count: number;
};
export type V8Script = {
    url: string;
    functions: {
        ranges: V8Range[];
    }[];
};
export type Row = {
    id: string;
    agree: boolean;
    real: {
        status: string;
    } | null;
};
export type Share = {
    kernel: string;
    total: number;
    pinned: number;
    share: number;
    units: number;
    counted: number;
    hits: Set<number>;
};
export type RunScenario = {
    id: string;
    status: string;
    path?: string | null;
    quirks?: Array<{
        id: string;
    } | string>;
    bugs?: Array<{
        id: string;
    } | string>;
};
