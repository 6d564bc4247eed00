// @ts-check
// The kernel's detectors, made to report for real and read back through the
// harness's own monitors (src/harness/monitors.ts): a KASAN report must read
// as a crash, a lockdep splat, a hung task, a WARN and a kmemleak report as
// complaints. The reports come from the iovh_detectors test module
// (test/qemu/modules/iovh_detectors), which /init loads on the sanitizer
// guest; without it (the stock kernel, the mock) each check is skipped.
//
// Order matters: a WARN or a KASAN report taints the kernel, and a taint turns
// lock debugging off (kernel/panic.c, add_taint), so lockdep goes first and
// KASAN last. Each trigger is a deliberate kernel bug, so the checks run last, and
// between two /dev/kmsg markers ("iovh: expected kernel reports begin/end")
// that tell the host's verdict (scripts/qemu-ci/verdict.mjs) these reports
// were asked for. lockdep turns itself off after its first report: nothing
// after these checks relies on it.

export const TRIGGER = '/sys/kernel/debug/iovh_detectors/trigger';
export const EXPECT_BEGIN = 'iovh: expected kernel reports begin (detector checks)';
export const EXPECT_END = 'iovh: expected kernel reports end';

/**
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {typeof import('../../../src/harness/monitors.js')} Monitors
 */

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {{ backend: import('../../../src/backend/types.js').Backend, monitors: Monitors, onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export async function runDetectorChecks(o) {
  const fs = o.backend.fs;
  const m = o.monitors;
  /** @type {Result[]} */
  const results = [];
  /** @param {string} id @param {string} title @param {() => Promise<Omit<Result, 'id' | 'title' | 'ms'>>} fn */
  const check = async (id, title, fn) => {
    const t0 = performance.now();
    /** @type {Omit<Result, 'id' | 'title' | 'ms'>} */
    let out;
    try {
      out = await fn();
    } catch (e) {
      const err = /** @type {Error & { code?: string }} */ (e);
      out = { status: 'fail', path: null, errno: err.code ?? null, detail: `${err.name}: ${err.message}` };
    }
    const r = { id, title, ...out, ms: Math.round((performance.now() - t0) * 10) / 10 };
    results.push(r);
    o.onResult?.(r);
  };
  const ok = (/** @type {string} */ detail) => ({
    status: /** @type {const} */ ('pass'),
    path: null,
    errno: null,
    detail,
  });
  const bad = (/** @type {string} */ detail) => ({
    status: /** @type {const} */ ('fail'),
    path: null,
    errno: null,
    detail,
  });
  const ids = ['detector.lockdep', 'detector.hung-task', 'detector.kmemleak', 'detector.warn', 'detector.kasan'];
  if (!fs.exists(TRIGGER)) {
    for (const id of ids)
      await check(id, id, async () => ({
        status: 'skip',
        path: null,
        errno: null,
        detail: `no ${TRIGGER}: the iovh_detectors test module is loaded on the sanitizer guest only`,
      }));
    return results;
  }
  const kmsg = m.KmsgMonitor.open(fs);
  if (!kmsg.available) {
    for (const id of ids) await check(id, id, async () => bad(`cannot read the kernel log: ${kmsg.why}`));
    return results;
  }
  /**
   * Trigger `what` and return the new kernel log lines.
   * @param {string} what
   */
  const provoke = (what) => {
    const from = kmsg.position();
    fs.writeFile(TRIGGER, what);
    return kmsg.since(from).map((r) => r.text);
  };
  /** @param {string[]} lines @param {RegExp} re */
  const first = (lines, re) => lines.find((l) => re.test(l)) ?? null;

  fs.writeFile('/dev/kmsg', `<3>${EXPECT_BEGIN}\n`);
  try {
    await check('detector.lockdep', 'a lockdep splat reads as a complaint', async () => {
      const lines = provoke('abba');
      const line = first(lines, /possible circular locking dependency detected/);
      if (!line) return bad(`no lockdep report in ${lines.length} new kernel log lines`);
      const warning = first(lines, /^WARNING: /) ?? line;
      return m.isComplaintLine(warning) && !m.isCrashLine(warning)
        ? ok(warning)
        : bad(`the monitor does not take '${warning}' for a complaint (or takes it for a crash)`);
    });
    await check('detector.hung-task', 'a task blocked past the hung task timeout reads as a complaint', async () => {
      const knob = '/proc/sys/kernel/hung_task_timeout_secs';
      const was = fs.readText(knob).trim();
      // The detector checks every timeout seconds: 2 s, and a 7 s sleep is reported.
      fs.writeFile(knob, '2');
      /** @type {string[]} */
      let lines;
      try {
        // Our write sleeps 7 s in D state; khungtaskd, woken by the new timeout, reports it meanwhile.
        lines = provoke('hang 7');
      } finally {
        fs.writeFile(knob, was);
      }
      const line = first(lines, /INFO: task .* blocked for more than \d+ seconds/);
      if (!line) return bad(`no hung task report (timeout 2 s, slept 7 s; ${lines.length} new lines)`);
      return m.isComplaintLine(line) ? ok(line) : bad(`the monitor does not take '${line}' for a complaint`);
    });
    await check('detector.kmemleak', "kmemleak's monitor finds objects leaked in its window", async () => {
      const leak = m.KmemleakMonitor.open(fs);
      if (!leak.available) return bad(`kmemleak unavailable: ${leak.why}`);
      leak.begin();
      fs.writeFile(TRIGGER, 'leak');
      // kmemleak reports an object only once it is older than 5 s (mm/kmemleak.c, MSECS_MIN_AGE).
      await sleep(6000);
      const blocks = leak.end();
      const ours = blocks.filter((b) => b.some((l) => /iovh_leak|iovh_detectors/.test(l)));
      return ours.length
        ? ok(`${ours.length} of ${blocks.length} unreferenced objects from iovh_leak: ${ours[0][0]}`)
        : bad(`${blocks.length} unreferenced objects, none allocated by iovh_leak`);
    });
    await check('detector.warn', 'a WARN reads as a complaint, not a crash', async () => {
      const lines = provoke('warn');
      const line = first(lines, /^WARNING: /);
      if (!line) return bad(`no WARNING line in ${lines.length} new kernel log lines`);
      return m.isComplaintLine(line) && !m.isCrashLine(line) ? ok(line) : bad(`misread: '${line}'`);
    });
    await check('detector.kasan', 'a KASAN use-after-free report reads as a crash', async () => {
      const lines = provoke('uaf');
      const line = first(lines, /BUG: KASAN: slab-use-after-free/);
      if (!line) return bad(`no KASAN report in ${lines.length} new kernel log lines`);
      return m.isCrashLine(line) ? ok(line) : bad(`the monitor does not take '${line}' for a crash`);
    });
  } finally {
    fs.writeFile('/dev/kmsg', `<3>${EXPECT_END}\n`);
  }
  return results;
}
