// @ts-check
// The guest program's kernel rules (rules.mjs, rules-more.mjs) are made one
// way: rule(id, title, rule, run) adds one to a table, in the order written;
// table() runs calls each with the errno the kernel's source gives. Both rule
// files and iommufd.mjs take these from here, so that neither rule file needs
// the other to be loaded first.
import { fail, pass, sysErr } from './scenarios.mjs';

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
export function ruleTable() {
  /** @type {Rule[]} */
  const rules = [];
  return { rules, rule: (id, title, rule, run) => void rules.push({ id, title, rule, run }) };
}

/** The errno name of `fn`'s failure, or 'ok'. @param {() => unknown} fn */
export function codeOf(fn) {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!sysErr(e)) throw e;
    return e.code;
  }
}

/**
 * Several calls, each with the errno the kernel's source gives: pass when all
 * match; `observed` lists what came back, in order.
 * @param {Array<[string, string, () => unknown]>} cases [what, expected, call]
 * @param {() => void} [after] put back what the calls changed
 * @returns {Outcome}
 */
export function table(cases, after) {
  /** @type {string[]} */
  const got = [];
  /** @type {string[]} */
  const wrong = [];
  try {
    for (const [what, want, call] of cases) {
      const c = codeOf(call);
      got.push(`${what}:${c}`);
      if (c !== want) wrong.push(`${what}: ${c}, expected ${want}`);
    }
  } finally {
    after?.();
  }
  const observed = got.join(' ');
  return wrong.length ? fail(wrong.join('; '), { observed }) : pass(observed, { observed });
}
