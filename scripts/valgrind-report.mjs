#!/usr/bin/env node
// Reads memcheck's XML output (valgrind --xml=yes, protocol 4) for
// scripts/valgrind.sh: every error that survived the suppressions, whether it
// has a frame in our code (the addon, or a source file under core/), and
// the suppressions that matched. Exit 1 when any error is left.
//
// Usage: node scripts/valgrind-report.mjs <memcheck.xml> <addon.node>
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {object} Frame
 * @property {string} fn    function name, or ?? when unknown
 * @property {string} obj   the object file it is in
 * @property {string | null} at  source file:line, when debug info has it
 */

/**
 * @typedef {object} MemcheckError
 * @property {string} kind  memcheck's kind (InvalidRead, UninitCondition, Leak_DefinitelyLost, ...)
 * @property {string} what  its one-line description
 * @property {boolean} ours a frame is in `addon` or in a source file under core/
 * @property {Frame[]} frames
 */

/**
 * @typedef {object} MemcheckSummary
 * @property {MemcheckError[]} errors  errors left after the suppressions
 * @property {number} ours  how many of them have a frame in our code
 * @property {{ name: string, count: number }[]} suppressed
 */

/** @param {string} s @param {string} t @returns {string[]} */
function tags(s, t) {
  return [...s.matchAll(new RegExp(`<${t}>([\\s\\S]*?)</${t}>`, 'g'))].map((m) => m[1] ?? '');
}

/** @param {string} s */
function unescapeXml(s) {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * @param {string} xml  memcheck's XML
 * @param {string} addon  path of our addon as memcheck names it in <obj>
 * @returns {MemcheckSummary}
 */
export function summarizeMemcheck(xml, addon) {
  if (!xml.includes('<valgrindoutput>')) throw new Error('not a valgrind XML report');
  if (!xml.includes('</valgrindoutput>')) throw new Error('the valgrind XML report is truncated (did valgrind die?)');
  const errors = tags(xml, 'error').map((e) => {
    const kind = tags(e, 'kind')[0] ?? '?';
    const what = unescapeXml(tags(e, 'what')[0] ?? tags(tags(e, 'xwhat')[0] ?? '', 'text')[0] ?? '');
    const frames = tags(e, 'frame').map((f) => {
      const file = tags(f, 'file')[0];
      const dir = tags(f, 'dir')[0];
      return {
        fn: unescapeXml(tags(f, 'fn')[0] ?? '??'),
        obj: tags(f, 'obj')[0] ?? '',
        at: file ? `${dir ? `${dir}/` : ''}${file}:${tags(f, 'line')[0] ?? '?'}` : null,
      };
    });
    const ours = frames.some((f) => f.obj === addon || (f.at !== null && /(^|\/)core\/[^/]+:\d+$/.test(f.at)));
    return { kind, what, ours, frames };
  });
  const suppressed = tags(tags(xml, 'suppcounts')[0] ?? '', 'pair').map((p) => ({
    name: tags(p, 'name')[0] ?? '?',
    count: Number(tags(p, 'count')[0] ?? 0),
  }));
  return { errors, ours: errors.filter((e) => e.ours).length, suppressed };
}

/** @param {MemcheckSummary} s @returns {string} */
export function renderMemcheck(s) {
  const lines = [];
  for (const e of s.errors) {
    lines.push(`valgrind: ${e.ours ? 'OUR CODE' : 'Node/V8'}: ${e.kind}: ${e.what}`);
    for (const f of e.frames.slice(0, 8)) lines.push(`    ${f.fn} (${f.at ?? f.obj})`);
  }
  const supp = s.suppressed.map((p) => `${p.name} x${p.count}`).join(', ') || 'none';
  lines.push(
    `valgrind: ${s.errors.length} error(s), ${s.ours} with a frame in our code; suppressed as Node/V8 noise: ${supp}`,
  );
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [xmlPath, addon] = process.argv.slice(2);
  if (!xmlPath || !addon) {
    console.error('usage: valgrind-report.mjs <memcheck.xml> <addon.node>');
    process.exit(2);
  }
  try {
    const s = summarizeMemcheck(readFileSync(xmlPath, 'utf8'), addon);
    process.stdout.write(renderMemcheck(s));
    process.exit(s.errors.length > 0 ? 1 : 0);
  } catch (e) {
    console.error(`valgrind: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
