// @ts-check
// Reading a guest's serial log and results into one verdict. The guest's /init
// (init.sh) ends with exactly one "IOVH-VERDICT <nonce> <what>" line; the
// nonce is random per boot and appears nowhere else, so an echoed command line
// or an old log cannot pass for a verdict. A guest that panics, hangs, exits
// without a verdict or prints nothing gets a verdict that says so, never a pass.
import { fromDist } from './paths.mjs';

/**
 * @typedef {'pass' | 'fail' | 'panic' | 'hang' | 'silent' | 'crash' | 'error'} BootStatus
 *
 * @typedef {object} GuestScenario
 * @property {string} id
 * @property {'pass' | 'fail' | 'skip' | 'warn' | 'crash'} status
 * @property {string | null} [path]
 * @property {string | null} [errno]
 * @property {string} [detail]
 * @property {string | null} [observed]  a value the kernel chose, which the mock must choose too
 * @property {number} [ms]
 * @property {string[]} [bugs]    for a harness result (`run:<id>`), the known bugs it named (src/harness/bugs.ts)
 * @property {string[]} [quirks]  and the quirks
 *
 * @typedef {object} GuestResults
 * @property {string} nonce
 * @property {string} [variant]
 * @property {string} [kernel]
 * @property {string[]} [modules]  iovh's out-of-tree modules the guest had loaded (test/qemu/guest/main.mjs)
 * @property {string | null} [shape]  the kernel's shape as the guest's iovh run detected it (src/shape)
 * @property {GuestScenario[]} scenarios
 *
 * @typedef {object} Judgement  a harness result against the shipped baseline of the kernel's shape
 * @property {'expected' | 'regression' | 'fixed' | 'changed' | 'unlisted'} verdict  src/harness/baseline.ts judge()
 * @property {string} expected   the status the baseline expects
 * @property {string[]} bugs     the bugs it expects named
 * @property {string | null} note
 * @property {string} baseline   the baseline's name
 *
 * @typedef {object} SerialLog
 * @property {{ kind: 'rc', rc: number } | { kind: 'timeout' } | { kind: 'error', step: string } | null} verdict
 * @property {string[]} progress      "IOVH-QEMU" lines, without the prefix
 * @property {string[]} errors        "IOVH-QEMU-ERROR" lines, without the prefix
 * @property {string[]} scenarios     "IOVH-SCENARIO" lines (one per finished scenario), without the prefix
 * @property {string | null} panic    the "Kernel panic - not syncing" line
 * @property {string[]} oopses        BUG:/Oops:/WARNING: lines the console printed
 * @property {string[]} expected      such lines printed between the guest's "iovh: expected kernel reports
 *                                    begin" and "end" markers (the detector checks ask for them)
 * @property {string[]} lastRun       such lines printed between the markers of the guest's last run (bugs/*,
 *                                    src/qemu/last.ts): expected only when every
 *                                    failure of that run is a known bug of the kernel's baseline
 * @property {number} lines
 */

/** The harness results of that run. */
const LAST_RUN = /^run:bugs\//;

/**
 * The markers a guest writes to /dev/kmsg around its last run: src/qemu/markers.ts, from the checkout's dist/ (the
 * guest writes them through the same module).
 */
const markers = /** @type {typeof import('../../src/qemu/markers.js')} */ (await fromDist('qemu/markers.js'));
const { LAST_BEGIN, LAST_END } = markers;

/** @param {string} line a serial line, possibly with a printk timestamp */
function strip(line) {
  return line.replace(/\r$/, '').replace(/^\[\s*\d+\.\d+\]\s?/, '');
}

/**
 * @param {string} text  the serial log
 * @param {string} nonce
 * @returns {SerialLog}
 */
export function parseSerial(text, nonce) {
  /** @type {SerialLog} */
  const out = {
    verdict: null,
    progress: [],
    errors: [],
    scenarios: [],
    panic: null,
    oopses: [],
    expected: [],
    lastRun: [],
    lines: 0,
  };
  let expecting = false;
  let last = false;
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  out.lines = lines.length;
  for (const raw of lines) {
    const line = strip(raw);
    if (line.startsWith('IOVH-QEMU-ERROR ')) out.errors.push(line.slice(16));
    else if (line.startsWith('IOVH-QEMU ')) out.progress.push(line.slice(10));
    else if (line.startsWith('IOVH-SCENARIO ')) out.scenarios.push(line.slice(14));
    else if (line.startsWith('IOVH-VERDICT ')) {
      const [, got, what = ''] = line.split(' ');
      if (got !== nonce) continue;
      let m;
      if ((m = /^rc=(\d+)$/.exec(what))) out.verdict = { kind: 'rc', rc: Number(m[1]) };
      else if (what === 'timeout') out.verdict = { kind: 'timeout' };
      else if ((m = /^error=(\S+)$/.exec(what))) out.verdict = { kind: 'error', step: m[1] };
    } else if (out.panic === null && /Kernel panic - not syncing/.test(line)) out.panic = line.trim();
    else if (line.includes('iovh: expected kernel reports begin')) expecting = true;
    else if (line.includes('iovh: expected kernel reports end')) expecting = false;
    else if (line.includes(LAST_BEGIN)) last = true;
    else if (line.includes(LAST_END)) last = false;
    else if (
      /^(BUG: |Oops: |WARNING: |general protection fault|kernel BUG at|INFO: task .* blocked for more than)/.test(
        line.trim(),
      )
    )
      (expecting ? out.expected : last ? out.lastRun : out.oopses).push(line.trim());
  }
  return out;
}

/**
 * Validate a guest results object (read from the shared folder).
 * @param {unknown} data
 * @param {string} nonce
 * @returns {{ ok: true, results: GuestResults } | { ok: false, reason: string }}
 */
export function checkResults(data, nonce) {
  if (typeof data !== 'object' || data === null) return { ok: false, reason: 'results are not a JSON object' };
  const r = /** @type {Record<string, unknown>} */ (data);
  if (r.nonce !== nonce)
    return { ok: false, reason: `results belong to another boot (nonce ${String(r.nonce)}, expected ${nonce})` };
  if (!Array.isArray(r.scenarios)) return { ok: false, reason: 'results have no scenarios array' };
  const statuses = new Set(['pass', 'fail', 'skip', 'warn', 'crash']);
  for (const s of r.scenarios) {
    if (typeof s !== 'object' || s === null || typeof s.id !== 'string' || !statuses.has(s.status)) {
      return { ok: false, reason: `malformed scenario entry ${JSON.stringify(s).slice(0, 120)}` };
    }
  }
  if (r.scenarios.length === 0) return { ok: false, reason: 'the guest ran no scenario' };
  return { ok: true, results: /** @type {GuestResults} */ (/** @type {unknown} */ (r)) };
}

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
 * @property {((s: GuestScenario) => Judgement | null) | null} [judge]  the baseline of the kernel's shape
 *                                 (baselineJudge): a harness result it expects to fail, naming the kernel's
 *                                 known bugs, is an expected failure (XFAIL), counted neither passed nor failed
 */

/**
 * An expected failure: a bad status the baseline expects (src/harness/baseline.ts judge() says
 * `expected`), never a pass.
 * @param {GuestScenario} s @param {Judgement | null} j
 */
function isXfail(s, j) {
  return (s.status === 'fail' || s.status === 'crash' || s.status === 'warn') && j?.verdict === 'expected';
}

/**
 * What an expected failure prints: "run:bugs/opath-stale-file: crash (expected: bug opath-stale-file)".
 * @param {GuestScenario} s @param {Judgement} j
 */
export function describeXfail(s, j) {
  const named = [...(s.bugs ?? []).map((b) => `bug ${b}`), ...(s.quirks ?? []).map((q) => `quirk ${q}`)];
  return `${s.id}: ${s.status} (expected by baseline ${j.baseline}${named.length ? `: ${named.join(', ')}` : ''})`;
}

/**
 * @param {BootOutcome} o
 * @returns {{ status: BootStatus, reason: string, serial: SerialLog, results: GuestResults | null, xfail: { id: string, line: string }[] }}
 */
export function classify(o) {
  const console = parseSerial(o.log, o.nonce);
  const chan = o.channel === undefined ? null : parseSerial(o.channel, o.nonce);
  const serial = chan
    ? {
        ...chan,
        panic: console.panic,
        oopses: console.oopses,
        lastRun: console.lastRun,
        lines: console.lines + chan.lines,
      }
    : console;
  const lastScenario = serial.scenarios.length
    ? `, after scenario ${serial.scenarios[serial.scenarios.length - 1].split(' :: ')[0]}`
    : '';
  const where = serial.progress.length
    ? `; last step: ${serial.progress[serial.progress.length - 1]}${lastScenario}`
    : '';
  const checked = o.resultsData === undefined ? null : checkResults(o.resultsData, o.nonce);
  const results = checked?.ok ? checked.results : null;
  const judged = results ? results.scenarios.map((s) => ({ s, j: o.judge?.(s) ?? null })) : [];
  const xfailing = judged.filter(({ s, j }) => isXfail(s, j));
  const xfail = xfailing.map(({ s, j }) => ({ id: s.id, line: describeXfail(s, /** @type {Judgement} */ (j)) }));
  const failing = judged
    .filter(({ s, j }) => (s.status === 'fail' || s.status === 'crash' || s.status === 'warn') && !isXfail(s, j))
    .map(({ s }) => s);
  // The console's reports during the last run are its expected failures' own when all of its failures were expected.
  const lastExpected = xfailing.some(({ s }) => LAST_RUN.test(s.id)) && !failing.some((s) => LAST_RUN.test(s.id));
  const oopses = lastExpected ? serial.oopses : [...serial.oopses, ...serial.lastRun];
  const expectedNote = xfail.length
    ? `; ${xfail.length} expected failure(s), known bugs of this kernel: ${xfail
        .slice(0, 4)
        .map((x) => x.line)
        .join('; ')}`
    : '';
  const failText = failing
    .slice(0, 6)
    .map((s) => `${s.id}: ${s.status}${s.detail ? ` (${s.detail})` : ''}`)
    .join('; ');

  if (serial.panic) return { status: 'panic', reason: `kernel panic: ${serial.panic}${where}`, serial, results, xfail };
  if (o.timedOut) {
    if (serial.lines === 0)
      return { status: 'silent', reason: `the guest printed nothing in ${o.timeoutSeconds} s`, serial, results, xfail };
    return {
      status: 'hang',
      reason: `no verdict after ${o.timeoutSeconds} s (wall-clock limit)${where}`,
      serial,
      results,
      xfail,
    };
  }
  if (!serial.verdict) {
    if (serial.lines === 0) {
      const err = o.qemuStderr.trim().split('\n').slice(-3).join(' | ');
      return {
        status: 'silent',
        reason: `QEMU exited (${o.signal ?? `code ${o.exitCode}`}) and the guest printed nothing${err ? `: ${err}` : ''}`,
        serial,
        results,
        xfail,
      };
    }
    return {
      status: 'crash',
      reason: `QEMU exited (${o.signal ?? `code ${o.exitCode}`}) without a verdict from the guest${where}`,
      serial,
      results,
      xfail,
    };
  }
  if (serial.verdict.kind === 'timeout') {
    return {
      status: 'hang',
      reason: `the guest program did not finish within the guest watchdog${where}`,
      serial,
      results,
      xfail,
    };
  }
  if (serial.verdict.kind === 'error') {
    return {
      status: 'error',
      reason: `guest step '${serial.verdict.step}' failed: ${serial.errors.join(' / ') || 'no message'}`,
      serial,
      results,
      xfail,
    };
  }
  if (!checked)
    return {
      status: 'fail',
      reason: `the guest exited rc=${serial.verdict.rc} but left no results (${o.resultsError ?? 'no results.json'})${where}`,
      serial,
      results,
      xfail,
    };
  if (!checked.ok)
    return { status: 'fail', reason: `guest results rejected: ${checked.reason}`, serial, results, xfail };
  if (failing.length)
    return {
      status: 'fail',
      reason: `${failing.length} scenario(s) failed: ${failText}${expectedNote}`,
      serial,
      results,
      xfail,
    };
  // The guest program exits 1 when a result is bad (test/qemu/guest/main.mjs): explained when all were expected.
  if (serial.verdict.rc !== 0 && !(serial.verdict.rc === 1 && xfail.length > 0))
    return { status: 'fail', reason: `the guest program exited rc=${serial.verdict.rc}`, serial, results, xfail };
  if (oopses.length) {
    return {
      status: 'fail',
      reason: `the kernel console printed ${oopses.length} oops/warning line(s): ${oopses[0]}${expectedNote}`,
      serial,
      results,
      xfail,
    };
  }
  if (!checked.results.scenarios.some((s) => s.status === 'pass')) {
    return { status: 'fail', reason: 'every scenario was skipped: nothing was proven', serial, results, xfail };
  }
  return {
    status: 'pass',
    reason: `${checked.results.scenarios.filter((s) => s.status === 'pass').length} scenarios passed${expectedNote}`,
    serial,
    results,
    xfail,
  };
}

/**
 * The last `n` lines of a log, for reports.
 * @param {string} text @param {number} [n]
 */
export function tail(text, n = 30) {
  const lines = text.replace(/\r/g, '').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}
