// @ts-check
// Whether a guest's failures are its run's to judge. The host's verdict
// (verdict.mjs) fails a guest for any bad result and any kernel report on the
// console; a run judged by the baseline of its kernel's shape may expect some
// (an rfc-v1 kernel's oops in rfc/closed-device). What stays unexplained then
// is what no baseline speaks for: a bring-up step of the guest program that
// failed, or a kernel report outside every scenario's window.

/**
 * @typedef {{ id: string, status: string }} Step
 * @typedef {{ scenarios: { log: string[], cleanliness: { kernelComplaints: string[] } }[] }} RunWindows
 */

/** @param {string} line */
function text(line) {
  return line
    .replace(/\r$/, '')
    .replace(/^\[\s*\d+\.\d+\]\s?/, '')
    .trim();
}

/**
 * @param {readonly Step[]} steps          the guest program's results (results.json)
 * @param {readonly string[]} consoleOopses the console's kernel reports (verdict.mjs parseSerial().oopses)
 * @param {RunWindows} run                 the guest's `iovh run` report
 * @returns {string[]} one line per unexplained failure; empty: the run's own judgement stands
 */
export function unexplained(steps, consoleOopses, run) {
  /** @type {string[]} */
  const out = [];
  for (const s of steps)
    if (!s.id.startsWith('run:') && (s.status === 'fail' || s.status === 'crash' || s.status === 'warn'))
      out.push(`guest step ${s.id}: ${s.status}`);
  const inWindows = new Set(run.scenarios.flatMap((r) => [...r.cleanliness.kernelComplaints, ...r.log].map(text)));
  for (const o of consoleOopses)
    if (!inWindows.has(text(o))) out.push(`kernel report outside any scenario: ${text(o)}`);
  return out;
}
