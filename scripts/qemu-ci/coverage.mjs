// @ts-check
// How much of the mock a real kernel pins: the share of the mock's branches
// that run while the guest program is replayed on the mock, counting only the
// steps a real kernel answered and the mock answered the same way (the
// conformance check's agreeing rows). One figure per kernel, and their union.
//
// Branches are counted in the JavaScript that runs (dist/mock/**/*.js, what
// `npm run build:ts` emits from src/mock; tsc keeps the control flow) as
// istanbul counts them: both arms of an `if` (the implicit else too), of a
// `?:`, of `&&`/`||`/`??` (short-circuited, right side evaluated), each
// `case`/`default` with statements, and each `catch`. Whether one ran in a
// step comes from V8's block coverage (the inspector's
// Profiler.takePreciseCoverage with call counts, which resets the counters at
// each take): the replay takes coverage at every step boundary and the count
// at a branch's first byte is the count of the innermost range holding it.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * @typedef {{ kind: string, file: string, at: number, minus?: number, line: number }} Branch
 *   taken when count(at) > 0, or, with `minus`, when count(at) > count(minus)
 * @typedef {{ files: string[], branches: Branch[], byFile: Map<string, number[]>, digest: string }} BranchTable
 * @typedef {{ id: string, hits: number[] }} Unit
 * @typedef {{ digest: string, total: number, units: Unit[] }} ReplayCoverage
 */

/** @param {string} dir @returns {string[]} */
function jsFiles(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...jsFiles(p));
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out.sort();
}

/**
 * Every branch of the JavaScript files under `dir` (dist/mock).
 * @param {string} dir
 * @returns {BranchTable}
 */
export function branchTable(dir) {
  /** @type {Branch[]} */
  const branches = [];
  /** @type {Map<string, number[]>} */
  const byFile = new Map();
  const hash = createHash('sha256');
  const files = jsFiles(resolve(dir));
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    hash.update(path).update(text);
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
    const idx = /** @type {number[]} */ ([]);
    /** @param {string} kind @param {number} at @param {number} [minus] */
    const add = (kind, at, minus) => {
      idx.push(branches.length);
      branches.push({
        kind,
        file: path,
        at,
        ...(minus === undefined ? {} : { minus }),
        line: sf.getLineAndCharacterOfPosition(at).line + 1,
      });
    };
    const start = (/** @type {ts.Node} */ n) => n.getStart(sf);
    const visit = (/** @type {ts.Node} */ n) => {
      if (ts.isIfStatement(n)) {
        add('if', start(n.thenStatement));
        if (n.elseStatement) add('else', start(n.elseStatement));
        else add('else (implicit)', start(n), start(n.thenStatement));
      } else if (ts.isConditionalExpression(n)) {
        add('?: true', start(n.whenTrue));
        add('?: false', start(n.whenFalse));
      } else if (
        ts.isBinaryExpression(n) &&
        [
          ts.SyntaxKind.AmpersandAmpersandToken,
          ts.SyntaxKind.BarBarToken,
          ts.SyntaxKind.QuestionQuestionToken,
          ts.SyntaxKind.AmpersandAmpersandEqualsToken,
          ts.SyntaxKind.BarBarEqualsToken,
          ts.SyntaxKind.QuestionQuestionEqualsToken,
        ].includes(n.operatorToken.kind)
      ) {
        add('logical: right side', start(n.right));
        add('logical: short-circuit', start(n), start(n.right));
      } else if (ts.isCaseClause(n) || ts.isDefaultClause(n)) {
        const first = n.statements[0];
        if (first) add(ts.isCaseClause(n) ? 'case' : 'default', start(first));
      } else if (ts.isCatchClause(n)) {
        add('catch', start(n.block));
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
    byFile.set(path, idx);
  }
  return { files, branches, byFile, digest: hash.digest('hex').slice(0, 16) };
}

/**
 * @typedef {{ startOffset: number, endOffset: number, count: number }} V8Range
 * @typedef {{ url: string, functions: { ranges: V8Range[] }[] }} V8Script
 */

/**
 * The branches of `table` taken in one coverage take (counts since the previous take).
 * @param {BranchTable} table @param {V8Script[]} scripts
 * @returns {number[]}
 */
export function takenIn(table, scripts) {
  /** @type {number[]} */
  const out = [];
  for (const s of scripts) {
    const path = s.url.startsWith('file://') ? decodeURIComponent(new URL(s.url).pathname) : s.url;
    const idx = table.byFile.get(path);
    if (!idx || idx.length === 0) continue;
    const ranges = s.functions.flatMap((f) => f.ranges);
    if (!ranges.some((r) => r.count > 0)) continue;
    // Ranges nest; the count at an offset is the innermost range's. Sweep the offsets in order with a stack.
    ranges.sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
    const offsets = [...new Set(idx.flatMap((i) => [table.branches[i].at, table.branches[i].minus ?? -1]))]
      .filter((o) => o >= 0)
      .sort((a, b) => a - b);
    /** @type {Map<number, number>} */
    const countAt = new Map();
    /** @type {V8Range[]} */
    const stack = [];
    let next = 0;
    for (const o of offsets) {
      while (next < ranges.length && ranges[next].startOffset <= o) {
        const r = ranges[next++];
        while (stack.length && stack[stack.length - 1].endOffset <= r.startOffset) stack.pop();
        stack.push(r);
      }
      while (stack.length && stack[stack.length - 1].endOffset <= o) stack.pop();
      countAt.set(o, stack.length ? stack[stack.length - 1].count : 0);
    }
    for (const i of idx) {
      const b = table.branches[i];
      const c = countAt.get(b.at) ?? 0;
      const taken = b.minus === undefined ? c > 0 : c > (countAt.get(b.minus) ?? 0);
      if (taken) out.push(i);
    }
  }
  return out;
}

/**
 * Coverage per step of a replay in this process (the guest program on the
 * mock): an inspector session with precise block coverage; `mark(id)` takes
 * what ran since the previous mark and adds it to unit `id`.
 * @param {string} distMock the dist/mock directory whose branches count
 */
export async function startReplayCoverage(distMock) {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  /** @param {string} method @param {object} [params] @returns {any} */
  const post = (method, params) => {
    /** @type {any} */
    let out;
    /** @type {Error | null} */
    let err = null;
    // An in-thread session answers synchronously.
    session.post(method, params, (e, v) => {
      err = e;
      out = v;
    });
    if (err) throw err;
    return out;
  };
  post('Profiler.enable');
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  const table = branchTable(distMock);
  /** @type {Map<string, Set<number>>} */
  const units = new Map();
  return {
    /** What ran since the previous mark goes to unit `id`. @param {string} id */
    mark(id) {
      const { result } = post('Profiler.takePreciseCoverage');
      const hits = takenIn(table, result);
      let set = units.get(id);
      if (!set) units.set(id, (set = new Set()));
      for (const h of hits) set.add(h);
    },
    /** @returns {ReplayCoverage} */
    finish() {
      post('Profiler.stopPreciseCoverage');
      post('Profiler.disable');
      session.disconnect();
      return {
        digest: table.digest,
        total: table.branches.length,
        units: [...units].map(([id, s]) => ({ id, hits: [...s].sort((a, b) => a - b) })),
      };
    },
  };
}

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
export function countedUnits(rows) {
  const ok = new Set(rows.filter((r) => r.agree && r.real && r.real.status !== 'skip').map((r) => r.id));
  const topology = rows.find((r) => r.id === 'topology');
  if (ok.has('cli.capture') && topology?.agree) ok.add('boot');
  return ok;
}

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
export function runRows(real, model, only = () => true) {
  // A report names defects as objects, a fixture by id.
  const ids = (/** @type {Array<{ id: string } | string> | undefined} */ list) =>
    (list ?? []).map((x) => (typeof x === 'string' ? x : x.id));
  /** @param {RunScenario} s */
  const key = (s) =>
    JSON.stringify({ status: s.status, path: s.path ?? null, defects: [...ids(s.quirks), ...ids(s.bugs)].sort() });
  const mine = new Map(model.map((s) => [s.id, s]));
  return real
    .filter((s) => only(s.id))
    .map((s) => {
      const m = mine.get(s.id);
      return { id: `run:${s.id}`, agree: m !== undefined && key(m) === key(s), real: { status: s.status } };
    });
}

/**
 * The pinned share of one kernel's replay.
 * @param {string} kernel @param {ReplayCoverage} cov @param {Row[]} rows
 * @returns {Share}
 */
export function pinnedShare(kernel, cov, rows) {
  const counted = countedUnits(rows);
  /** @type {Set<number>} */
  const hits = new Set();
  let n = 0;
  for (const u of cov.units) {
    if (!counted.has(u.id)) continue;
    n++;
    for (const h of u.hits) hits.add(h);
  }
  return {
    kernel,
    total: cov.total,
    pinned: hits.size,
    share: cov.total ? hits.size / cov.total : 0,
    units: cov.units.length,
    counted: n,
    hits,
  };
}

/**
 * The union of several kernels' pinned branches (the same branch table).
 * @param {Share[]} shares
 * @returns {{ total: number, pinned: number, share: number }}
 */
export function totalShare(shares) {
  const all = new Set();
  for (const s of shares) for (const h of s.hits) all.add(h);
  const total = shares[0]?.total ?? 0;
  return { total, pinned: all.size, share: total ? all.size / total : 0 };
}

/** @param {Share | { pinned: number, total: number, share: number }} s */
export function describeShare(s) {
  return `${(s.share * 100).toFixed(1)} % (${s.pinned} of ${s.total} branches of src/mock)`;
}

/**
 * The branches no counted unit reached, by file (relative to `root`), for
 * finding what a real kernel does not pin yet.
 * @param {BranchTable} table @param {Set<number>} hits @param {string} root
 */
export function unpinnedByFile(table, hits, root) {
  /** @type {{ file: string, branches: number, unpinned: number }[]} */
  const out = [];
  for (const [file, idx] of table.byFile) {
    const missing = idx.filter((i) => !hits.has(i)).length;
    out.push({ file: relative(root, file), branches: idx.length, unpinned: missing });
  }
  return out.sort((a, b) => b.unpinned - a.unpinned);
}
