// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {import('./scenarios.mjs').Outcome} Outcome
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
 *
 * @typedef {(id: string, title: string, rule: string, run: Rule['run']) => void} RuleMaker
 */
/**
 * A table of rules and the one way to add to it: `rule(id, title, rule, run)`
 * appends, so the table's order is the order of the calls.
 * @returns {{ rules: Rule[], rule: RuleMaker }}
 */
export function ruleTable(): {
    rules: Rule[];
    rule: RuleMaker;
};
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
export type Outcome = import("./scenarios.mjs").Outcome;
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
export type RuleMaker = (id: string, title: string, rule: string, run: Rule["run"]) => void;
