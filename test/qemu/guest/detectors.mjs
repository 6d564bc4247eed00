// @ts-check
// The kernel's detectors, made to report for real inside a scenario's window
// and judged by the harness itself (src/harness/runner.ts, the same runner
// `iovh run` uses): a KASAN report must make that scenario `crash` with the
// report's line as its reason and the report in its log excerpt; a lockdep
// splat, a hung task and a WARN must make it `warn` the same way; kmemleak's
// monitor must find the objects leaked in its window. The reports come from
// the iovh_detectors test module (test/qemu/modules/iovh_detectors), which
// /init loads on the sanitizer guest; without it (the stock kernel, the mock)
// each check is skipped, saying so.
//
// First, before any scenario ran: the detectors must be armed. A kernel
// tainted at boot (a KASAN report while booting, say) has turned lock
// debugging off for good (kernel/panic.c add_taint -> debug_locks_off), and
// lockdep would see nothing all run long: `detector.armed` fails then, with
// the boot's own report.
//
// Order matters for the deliberate reports: a WARN or a KASAN report taints
// the kernel, and the taint turns lockdep off, so lockdep goes first and KASAN
// last. They run last of all, between two /dev/kmsg markers ("iovh: expected
// kernel reports begin/end") that tell the host's verdict
// (scripts/qemu-ci/verdict.mjs) these reports were asked for.

export const TRIGGER = '/sys/kernel/debug/iovh_detectors/trigger';
export const EXPECT_BEGIN = 'iovh: expected kernel reports begin (detector checks)';
export const EXPECT_END = 'iovh: expected kernel reports end';
const LOCKDEP_STATS = '/proc/lockdep_stats';
const HUNG_TIMEOUT = '/proc/sys/kernel/hung_task_timeout_secs';

/**
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {typeof import('../../../src/harness/monitors.js')} Monitors
 * @typedef {{ runScenarios: typeof import('../../../src/harness/runner.js').runScenarios, timingFor: typeof import('../../../src/harness/timing.js').timingFor }} Harness
 * @typedef {import('../../../src/backend/types.js').Backend} Backend
 * @typedef {import('../../../src/report/model.js').ScenarioResult} ScenarioResult
 */

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether the kernel's detectors are on: lockdep's debug_locks, the taint
 * mask (no taint at all before iovh loads its test module), KASAN's banner.
 * @param {{ backend: Backend, monitors: Monitors }} o
 * @returns {{ status: 'pass' | 'fail' | 'skip', detail: string }}
 */
export function detectorsArmed(o) {
  const fs = o.backend.fs;
  /** @param {string} p */
  const read = (p) => {
    try {
      return fs.readText(p);
    } catch {
      return null;
    }
  };
  const stats = read(LOCKDEP_STATS);
  if (stats === null)
    return { status: 'skip', detail: `no ${LOCKDEP_STATS}: not a lockdep kernel (CONFIG_PROVE_LOCKING)` };
  const debugLocks = /^\s*debug_locks:\s*(\d+)/m.exec(stats)?.[1] ?? null;
  const taint = o.monitors.readTaint(fs);
  // O (out-of-tree module) is our own test module: any other letter is the kernel's.
  const letters = taint === null ? [] : o.monitors.taintLetters(taint).filter((l) => l !== 'O');
  const kmsg = o.monitors.KmsgMonitor.open(fs);
  const log = kmsg.records().map((r) => r.text);
  const kasan = log.find((l) => /KernelAddressSanitizer initialized/.test(l)) ?? null;
  const first = log.find((l) => o.monitors.isComplaintLine(l)) ?? null;
  const problems = [];
  if (debugLocks !== '1')
    problems.push(`lockdep is off (debug_locks: ${debugLocks ?? 'unreadable'})${first ? `: ${first}` : ''}`);
  if (letters.length) problems.push(`the kernel is tainted ${letters.join('')} already${first ? ` (${first})` : ''}`);
  return problems.length
    ? { status: 'fail', detail: problems.join('; ') }
    : {
        status: 'pass',
        detail: `debug_locks 1, taint ${taint ?? '?'} (O: iovh_detectors), ${kasan ?? 'KASAN banner no longer in the log buffer'}`,
      };
}

/**
 * @param {{ backend: Backend, monitors: Monitors, harness?: Harness, toolVersion?: string, onResult?: (r: Result) => void }} o
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
  if (!fs.exists(TRIGGER) || !o.harness) {
    for (const id of ids)
      await check(id, id, async () => ({
        status: 'skip',
        path: null,
        errno: null,
        detail: !o.harness
          ? "the harness's runner is not loaded here"
          : `no ${TRIGGER}: the iovh_detectors test module is loaded on the sanitizer guest only`,
      }));
    return results;
  }
  const harness = o.harness;
  const backend = o.backend;

  /**
   * One harness scenario whose body is `body` (a deliberate kernel bug), run
   * by the harness's runner on this kernel as `iovh run` runs one.
   * @param {string} name @param {(ctx: import('../../../src/harness/scenario.js').ScenarioContext) => Promise<void>} body
   * @returns {Promise<ScenarioResult>}
   */
  const inWindow = async (name, body) => {
    const run = await harness.runScenarios({
      backend,
      backendInfo: { name: backend.traits.name, reason: 'detector checks', profile: null },
      scenarios: [
        {
          id: `detector/${name}`,
          title: `a deliberate ${name} report`,
          description: 'iovh_detectors provokes the report inside the window',
          expectedPath: null,
          run: body,
        },
      ],
      timeoutMs: 60_000,
      timing: harness.timingFor(backend),
      want: { pf: null, vf: null },
      baseline: null,
      filters: [],
      setup: [],
      toolVersion: o.toolVersion ?? 'guest',
    });
    const r = run.scenarios[0];
    if (!r) throw new Error('the runner returned no result');
    return r;
  };
  /**
   * The runner's verdict on a scenario that provoked `re`: `want` as status,
   * the report's line in the reason and in the scenario's log excerpt.
   * @param {ScenarioResult} r @param {'crash' | 'warn'} want @param {RegExp} re
   */
  const judged = (r, want, re) => {
    const inLog = r.log.find((l) => re.test(l));
    if (r.status !== want) return bad(`judged ${r.status}, not ${want}: ${r.reason}`);
    if (!re.test(r.reason)) return bad(`${r.status}, but the reason does not carry the report: ${r.reason}`);
    if (!inLog) return bad(`${r.status}, but the report is not in the scenario's log (${r.log.length} lines)`);
    return ok(`${r.status}: ${r.reason} (log excerpt: ${r.log.length} lines)`);
  };
  const write = (/** @type {string} */ what) => fs.writeFile(TRIGGER, what);

  fs.writeFile('/dev/kmsg', `<3>${EXPECT_BEGIN}\n`);
  try {
    await check('detector.lockdep', 'a lockdep splat inside a scenario makes it warn, with the splat', async () => {
      const r = await inWindow('lockdep', async () => write('abba'));
      return judged(r, 'warn', /possible circular locking dependency detected/);
    });
    await check('detector.hung-task', 'a task blocked past the hung task timeout makes its scenario warn', async () => {
      const was = fs.readText(HUNG_TIMEOUT).trim();
      // khungtaskd checks every timeout seconds: with 2 s, a 7 s sleep in D state is reported meanwhile.
      fs.writeFile(HUNG_TIMEOUT, '2');
      try {
        const r = await inWindow('hung-task', async () => write('hang 7'));
        return judged(r, 'warn', /INFO: task .* blocked for more than \d+ seconds/);
      } finally {
        fs.writeFile(HUNG_TIMEOUT, was);
      }
    });
    await check('detector.kmemleak', "kmemleak's monitor finds objects leaked in its window", async () => {
      const leak = m.KmemleakMonitor.open(fs);
      if (!leak.available) return bad(`kmemleak unavailable: ${leak.why}`);
      leak.begin();
      write('leak');
      // kmemleak reports an object only once it is older than 5 s (mm/kmemleak.c, MSECS_MIN_AGE).
      await sleep(6000);
      const blocks = leak.end();
      const ours = blocks.filter((b) => b.some((l) => /iovh_leak|iovh_detectors/.test(l)));
      const pid = ours.map((b) => m.kmemleakObject(b).pid).find((p) => p !== null) ?? null;
      if (!ours.length) return bad(`${blocks.length} unreferenced objects, none allocated by iovh_leak`);
      // The harness attributes a leak to a scenario by the allocating task (src/harness/monitors.ts attributeKmemleak).
      if (pid !== process.pid)
        return bad(`${ours.length} objects from iovh_leak, but attributed to pid ${pid}, not ${process.pid}`);
      return ok(`${ours.length} of ${blocks.length} unreferenced objects from iovh_leak, pid ${pid}: ${ours[0]?.[0]}`);
    });
    await check('detector.warn', 'a WARN inside a scenario makes it warn, not crash', async () => {
      const r = await inWindow('warn', async () => write('warn'));
      return judged(r, 'warn', /WARNING: .*iovh_detectors/);
    });
    await check(
      'detector.kasan',
      'a KASAN use-after-free inside a scenario makes it crash, with the report',
      async () => {
        const r = await inWindow('kasan', async () => write('uaf'));
        return judged(r, 'crash', /BUG: KASAN: slab-use-after-free/);
      },
    );
  } finally {
    fs.writeFile('/dev/kmsg', `<3>${EXPECT_END}\n`);
  }
  return results;
}
