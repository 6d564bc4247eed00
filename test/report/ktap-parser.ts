// A strict KTAP version 1 parser written to Documentation/dev-tools/ktap.rst,
// used by the tests to prove that src/report/ktap.ts emits valid KTAP.
//
// Enforced: the output starts with a version line; plan lines are `1..N` and
// follow a version line; result lines are `ok|not ok <n> [description][ #
// [directive] [diagnostic]]`, numbered from 1 by 1 within a level; the
// description contains no `#`; a level has no more results than its plan
// (fewer are recorded as `missing`: a test that never reported, which is how
// a crash looks); TIMEOUT and ERROR results are `not ok`; subtests are
// indented by two spaces per level and start with their own version line,
// which diagnostic lines (KUnit's `# Subtest: name`) may separate from the
// plan. Diagnostic lines (`# ...`) and unknown lines are allowed anywhere
// and are kept.

export type KtapDirective = 'SKIP' | 'TODO' | 'XFAIL' | 'TIMEOUT' | 'ERROR';
const DIRECTIVES: readonly string[] = ['SKIP', 'TODO', 'XFAIL', 'TIMEOUT', 'ERROR'];

export interface KtapResult {
  number: number;
  ok: boolean;
  description: string;
  directive: KtapDirective | null;
  diagnostic: string;
  /** Diagnostic lines seen since the previous result at this level. */
  diagnostics: string[];
  subtests: KtapDocument | null;
}

export interface KtapDocument {
  version: string;
  plan: number | null;
  /** Planned results that never came (plan minus results; 0 without a plan). */
  missing: number;
  /** Diagnostic lines between the version line and the plan (KUnit's `Subtest: name`). */
  header: string[];
  results: KtapResult[];
  unknown: string[];
}

export class KtapError extends Error {
  constructor(line: number, message: string) {
    super(`KTAP line ${line}: ${message}`);
  }
}

const VERSION = /^(KTAP version 1|TAP version 13|TAP version 14)$/;
const PLAN = /^1\.\.(\d+)$/;
const RESULT = /^(ok|not ok) (\d+)(.*)$/;

interface Line {
  no: number;
  indent: number;
  text: string;
}

function lines(text: string): Line[] {
  const out: Line[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw === '' && i === text.split('\n').length - 1) return;
    const indent = raw.length - raw.trimStart().length;
    out.push({ no: i + 1, indent, text: raw.trimStart() });
  });
  return out;
}

export function parseKtap(text: string): KtapDocument {
  const all = lines(text);
  if (all.length === 0) throw new KtapError(1, 'empty output');
  const first = all[0]!;
  if (first.indent !== 0 || !VERSION.test(first.text))
    throw new KtapError(first.no, `expected a version line, got '${first.text}'`);
  const { doc, next } = parseLevel(all, 0, 0);
  if (next !== all.length)
    throw new KtapError(all[next]!.no, `unexpected line at this indentation: '${all[next]!.text}'`);
  return doc;
}

/** Parse one level whose version line is all[start] at `indent`; returns the index after its last result. */
function parseLevel(all: Line[], start: number, indent: number): { doc: KtapDocument; next: number } {
  const version = all[start]!.text;
  const doc: KtapDocument = { version, plan: null, missing: 0, header: [], results: [], unknown: [] };
  let i = start + 1;
  let j = i;
  while (j < all.length && all[j]!.indent === indent && all[j]!.text.startsWith('#')) j += 1;
  if (j < all.length && all[j]!.indent === indent && PLAN.test(all[j]!.text)) {
    doc.header = all.slice(i, j).map((l) => l.text.replace(/^#\s?/, ''));
    doc.plan = Number(PLAN.exec(all[j]!.text)![1]);
    i = j + 1;
  }
  let diagnostics: string[] = [];
  let pendingSub: KtapDocument | null = null;
  while (i < all.length) {
    const line = all[i]!;
    if (line.indent < indent) break;
    if (line.text.startsWith('#')) {
      diagnostics.push(line.text.replace(/^#\s?/, ''));
      i += 1;
      continue;
    }
    if (line.indent === indent + 2 && VERSION.test(line.text)) {
      if (pendingSub) throw new KtapError(line.no, 'a second subtest block before the parent result line');
      const sub = parseLevel(all, i, indent + 2);
      pendingSub = sub.doc;
      i = sub.next;
      continue;
    }
    const m = RESULT.exec(line.text);
    if (line.indent === indent && m) {
      const number = Number(m[2]);
      const expected = doc.results.length + 1;
      if (number !== expected) throw new KtapError(line.no, `test number ${number}, expected ${expected}`);
      const rest = m[3]!;
      if (rest !== '' && !rest.startsWith(' ')) throw new KtapError(line.no, `malformed result line '${line.text}'`);
      const hash = rest.indexOf('#');
      const description = (hash < 0 ? rest : rest.slice(0, hash)).trim();
      let directive: KtapDirective | null = null;
      let diagnostic = '';
      if (hash >= 0) {
        const after = rest.slice(hash + 1).trim();
        const word = after.split(/\s+/)[0] ?? '';
        if (DIRECTIVES.includes(word)) {
          directive = word as KtapDirective;
          diagnostic = after.slice(word.length).trim();
        } else {
          diagnostic = after;
        }
      }
      const ok = m[1] === 'ok';
      if ((directive === 'TIMEOUT' || directive === 'ERROR') && ok)
        throw new KtapError(line.no, `${directive} requires 'not ok'`);
      doc.results.push({ number, ok, description, directive, diagnostic, diagnostics, subtests: pendingSub });
      diagnostics = [];
      pendingSub = null;
      i += 1;
      continue;
    }
    if (line.indent === indent && (VERSION.test(line.text) || PLAN.test(line.text))) {
      throw new KtapError(line.no, `misplaced '${line.text}'`);
    }
    doc.unknown.push(line.text);
    i += 1;
  }
  if (pendingSub)
    throw new KtapError(all[Math.min(i, all.length - 1)]!.no, 'subtest block without a parent result line');
  if (doc.plan !== null && doc.plan < doc.results.length) {
    throw new KtapError(all[Math.min(i, all.length - 1)]!.no, `plan 1..${doc.plan} but ${doc.results.length} results`);
  }
  if (doc.plan !== null) doc.missing = doc.plan - doc.results.length;
  return { doc, next: i };
}
