// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/** The errno name of `fn`'s failure, or 'ok'. @param {() => unknown} fn */
export function codeOf(fn: () => unknown): string;
/**
 * Several calls, each with the errno the kernel's source gives: pass when all
 * match; `observed` lists what came back, in order.
 * @param {Array<[string, string, () => unknown]>} cases [what, expected, call]
 * @param {() => void} [after] put back what the calls changed
 * @returns {Outcome}
 */
export function table(cases: Array<[string, string, () => unknown]>, after?: () => void): Outcome;
/**
 * Run them, each id prefixed `rules.`.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, pf: string, vf: string, standIn?: boolean, onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export function runRuleScenarios(o: {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    pf: string;
    vf: string;
    standIn?: boolean;
    onResult?: (r: Result) => void;
}): Promise<Result[]>;
/**
 * @typedef {import('./scenarios.mjs').Outcome} Outcome
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {import('./iommufd.mjs').Lib} Lib
 *
 * @typedef {object} Ctx
 * @property {import('../../../src/backend/types.js').Backend} backend
 * @property {Lib} lib
 * @property {string} pf
 * @property {string} vf      on vfio-pci, not open
 * @property {boolean} [standIn]  the guest's /init loaded iovh's stand-in importer (kernel/iovh-ic-importer)
 *
 * @typedef {object} Rule
 * @property {string} id
 * @property {string} title
 * @property {string} rule
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */
/** @type {Rule[]} */
export const RULE_SCENARIOS: Rule[];
/** The kernel rule of each scenario id (conformance names it on a disagreement). @type {Record<string, string>} */
export const RULE_RULES: Record<string, string>;
export type Outcome = import("./scenarios.mjs").Outcome;
export type Result = import("./scenarios.mjs").Result;
export type Lib = import("./iommufd.mjs").Lib;
export type Ctx = {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    pf: string;
    /**
     * on vfio-pci, not open
     */
    vf: string;
    /**
     * the guest's /init loaded iovh's stand-in importer (kernel/iovh-ic-importer)
     */
    standIn?: boolean | undefined;
};
export type Rule = {
    id: string;
    title: string;
    rule: string;
    run: (ctx: Ctx) => Outcome | Promise<Outcome>;
};
