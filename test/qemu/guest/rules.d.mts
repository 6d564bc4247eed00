// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
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
/** Every rule, in the order the guest runs them: this file's, then rules-more.mjs's. @type {Rule[]} */
export const RULE_SCENARIOS: Rule[];
/** The kernel rule of each scenario id (conformance names it on a disagreement). @type {Record<string, string>} */
export const RULE_RULES: Record<string, string>;
export type Outcome = import("./scenarios.mjs").Outcome;
export type Result = import("./scenarios.mjs").Result;
export type Lib = import("./iommufd.mjs").Lib;
export type Ctx = import("./rule-table.mjs").Ctx;
export type Rule = import("./rule-table.mjs").Rule;
