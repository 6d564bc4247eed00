// @ts-check
// One guest boot: start QEMU for a variant, keep its serial console in a log
// file, stop it at a hard wall-clock limit, read the results the guest wrote
// to the shared folder, and turn all of it into one verdict (verdict.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { qemuArgs, NUM_VFS } from './variants.mjs';
import { classify, tail } from './verdict.mjs';
import { fromDist, repoRoot } from './paths.mjs';

/** The guest program /init runs with this host's node (inside the chroot of the host root). */
export const GUEST_ENTRY = join(repoRoot, 'test', 'qemu', 'guest', 'main.mjs');

/**
 * @typedef {object} BootOptions
 * @property {import('./variants.mjs').Variant} variant
 * @property {string} qemu             qemu-system-x86_64
 * @property {string} kernel           vmlinuz
 * @property {string} initrd
 * @property {import('./paths.mjs').CachePaths} paths
 * @property {number} [timeoutSeconds] hard wall-clock limit for the whole boot
 * @property {number} [smp]
 * @property {string} [memory]
 * @property {string} [entry]          guest program (default GUEST_ENTRY)
 * @property {string} [extraAppend]    more kernel parameters (debugging: loglevel=7, ...)
 * @property {string} [kernelAppend]   kernel parameters the kernel itself needs (kasan_multi_shot)
 * @property {string} [label]          names the boot in logs and reports (default: the variant's name)
 * @property {string[]} [guestArgs]    more arguments for the guest program (iovh.args, comma-separated)
 * @property {string[]} [insmod]       absolute host paths of modules /init loads before the program (iovh.insmod)
 *
 * @typedef {object} BootReport
 * @property {string} variant               the boot's label (the variant's name unless given)
 * @property {string} machine               the variant's name
 * @property {import('./verdict.mjs').BootStatus} status
 * @property {string} reason
 * @property {string} logPath
 * @property {string} channelPath           what the guest wrote on its verdict channel (ttyS1)
 * @property {string} resultsDir
 * @property {number} wallSeconds           QEMU start to QEMU exit (or kill)
 * @property {number | null} verdictSeconds QEMU start to the verdict line
 * @property {number | null} initSeconds    QEMU start to /init's first line on the channel (boot to /init;
 *                                          250 ms resolution)
 * @property {import('./verdict.mjs').GuestResults | null} results
 * @property {{ id: string, line: string }[]} xfail  harness results the baseline of the kernel's shape expects
 *                                          to fail (known bugs): neither passed nor failed
 * @property {string | null} baseline       that baseline's name, or why there is none
 * @property {string} logTail
 * @property {string[]} progress
 */

/**
 * The judge of a guest's harness results: the shipped baseline of the kernel's
 * shape (baselines/<shape>.json, as the guest's iovh run detected the shape)
 * through src/harness/baseline.ts judge(), from the checkout's dist/. Null,
 * with the reason, when there is no shape or no such baseline: then every bad
 * status fails, as before.
 * @param {unknown} data  results.json
 * @returns {Promise<{ judge: ((s: import('./verdict.mjs').GuestScenario) => import('./verdict.mjs').Judgement | null) | null, baseline: string }>}
 */
export async function baselineJudge(data) {
  const shape = typeof data === 'object' && data !== null ? /** @type {{ shape?: unknown }} */ (data).shape : undefined;
  if (typeof shape !== 'string' || !/^[a-z0-9.-]+$/.test(shape))
    return { judge: null, baseline: 'none: the guest named no kernel shape' };
  const file = join(repoRoot, 'baselines', `${shape}.json`);
  if (!existsSync(file)) return { judge: null, baseline: `none: no shipped baseline for shape ${shape}` };
  const mod = /** @type {typeof import('../../src/harness/baseline.js')} */ (await fromDist('harness/baseline.js'));
  const b = mod.loadBaseline(file);
  const known = [...b.quirks, ...b.bugs];
  return {
    baseline: b.name,
    judge: (s) => {
      if (!s.id.startsWith('run:')) return null;
      const st = /** @type {import('../../src/report/model.js').Status} */ (s.status);
      const r = mod.judge(b.scenarios.get(s.id.slice(4)), st, [...(s.bugs ?? []), ...(s.quirks ?? [])], known);
      return { verdict: r.verdict, expected: r.expected, bugs: r.bugs, note: r.note, baseline: b.name };
    },
  };
}

/**
 * Kernel command-line values cannot hold whitespace (nor, in iovh.args, a
 * comma, which separates the arguments there); say so instead of booting a
 * guest that misreads them.
 * @param {string} what @param {string} value @param {boolean} [list]
 */
export function cmdlineSafe(what, value, list = false) {
  if (/\s/.test(value) || (list && value.includes(',')) || value.includes('"'))
    throw new Error(
      `${what} '${value}' contains ${list && value.includes(',') ? 'a comma' : 'whitespace or a quote'}, which the guest's kernel command line cannot carry`,
    );
  return value;
}

/**
 * @param {BootOptions} o
 * @returns {Promise<BootReport>}
 */
export async function boot(o) {
  const timeoutSeconds = o.timeoutSeconds ?? 240;
  const nonce = randomBytes(8).toString('hex');
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const label = o.label ?? o.variant.name;
  const runId = `${label}-${stamp}-${nonce.slice(0, 6)}`;
  const resultsDir = join(o.paths.results, runId);
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(o.paths.logs, { recursive: true });
  const logPath = join(o.paths.logs, `${runId}.log`);
  const latest = join(o.paths.logs, `${label}.latest.log`);
  const channelPath = join(o.paths.logs, `${runId}.channel`);
  writeFileSync(channelPath, '');
  rmSync(latest, { force: true });
  symlinkSync(`${runId}.log`, latest);

  // The guest watchdog fires before the host's limit so that a hung guest
  // still prints its blocked tasks; what is left covers boot and power-off.
  const guestTimeout = Math.max(10, timeoutSeconds - 45);
  const append = [
    `iovh.variant=${o.variant.name}`,
    `iovh.nonce=${nonce}`,
    `iovh.node=${cmdlineSafe('node', realpathSync(process.execPath))}`,
    `iovh.run=${cmdlineSafe('guest program', o.entry ?? GUEST_ENTRY)}`,
    `iovh.repo=${cmdlineSafe('checkout', repoRoot)}`,
    `iovh.numvfs=${NUM_VFS}`,
    `iovh.timeout=${guestTimeout}`,
    'iovh.channel=ttyS1',
    ...(o.guestArgs?.length
      ? [`iovh.args=${o.guestArgs.map((a) => cmdlineSafe('guest argument', a, true)).join(',')}`]
      : []),
    ...(o.insmod?.length ? [`iovh.insmod=${o.insmod.map((m) => cmdlineSafe('module', m, true)).join(',')}`] : []),
    ...(o.kernelAppend ? [o.kernelAppend] : []),
    ...(o.extraAppend ? [o.extraAppend] : []),
  ].join(' ');
  const args = qemuArgs(o.variant, {
    kernel: o.kernel,
    initrd: o.initrd,
    resultsDir,
    append,
    channel: channelPath,
    smp: o.smp,
    memory: o.memory,
  });

  const logFile = createWriteStream(logPath);
  logFile.write(`# ${o.qemu} ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);
  const t0 = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t0) / 1e9;
  const child = spawn(o.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let stderr = '';
  let timedOut = false;
  /** @type {number | null} */
  let verdictSeconds = null;
  /** @type {NodeJS.Timeout | undefined} */
  let grace;
  // On the verdict channel, at the start of a line.
  const marker = `IOVH-VERDICT ${nonce} `;
  const readChannel = () => {
    try {
      return readFileSync(channelPath, 'latin1');
    } catch {
      return '';
    }
  };
  /** @type {number | null} */
  let initSeconds = null;
  const poll = setInterval(() => {
    if (verdictSeconds !== null) return;
    const text = readChannel();
    if (initSeconds === null && text.startsWith('IOVH-QEMU ')) initSeconds = since();
    if (text.split('\n').some((l) => l.startsWith(marker))) {
      verdictSeconds = since();
      // The guest powers off right after its verdict; a QEMU that lingers is stopped.
      grace = setTimeout(kill, 15_000);
    }
  }, 250);

  const kill = () => {
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  };
  const limit = setTimeout(() => {
    timedOut = verdictSeconds === null;
    kill();
  }, timeoutSeconds * 1000);

  child.stdout.on('data', (chunk) => {
    const s = chunk.toString('latin1');
    log += s;
    logFile.write(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk.toString('utf8');
  });

  /** @type {{ code: number | null, signal: string | null, spawnError?: Error }} */
  const exit = await new Promise((resolve) => {
    child.on('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(limit);
  clearInterval(poll);
  if (grace) clearTimeout(grace);
  const wallSeconds = since();
  const channel = readChannel();
  if (verdictSeconds === null && channel.split('\n').some((l) => l.replace(/\r$/, '').startsWith(marker)))
    verdictSeconds = wallSeconds;
  // Assigned in the stdout handler; TypeScript's flow analysis does not see that.
  const verdictAt = /** @type {number | null} */ (verdictSeconds);
  if (stderr) logFile.write(`\n# qemu stderr:\n${stderr}`);
  logFile.write(
    `\n# host: qemu exit=${exit.signal ?? exit.code} wall=${wallSeconds.toFixed(2)}s verdict=${verdictAt === null ? 'none' : `${verdictAt.toFixed(2)}s`}\n`,
  );
  await new Promise((resolve) => logFile.end(resolve));

  if (exit.spawnError) {
    return {
      variant: label,
      machine: o.variant.name,
      status: 'error',
      reason: `cannot start ${o.qemu}: ${exit.spawnError.message}`,
      logPath,
      channelPath,
      resultsDir,
      wallSeconds,
      verdictSeconds,
      initSeconds,
      results: null,
      xfail: [],
      baseline: null,
      logTail: '',
      progress: [],
    };
  }

  /** @type {unknown} */
  let resultsData;
  let resultsError;
  try {
    resultsData = JSON.parse(readFileSync(join(resultsDir, 'results.json'), 'utf8'));
  } catch (e) {
    resultsError = /** @type {Error} */ (e).message;
  }
  let judged;
  try {
    judged = await baselineJudge(resultsData);
  } catch (e) {
    judged = { judge: null, baseline: `none: ${/** @type {Error} */ (e).message}` };
  }
  const c = classify({
    judge: judged.judge,
    log,
    channel,
    nonce,
    timedOut,
    timeoutSeconds,
    exitCode: exit.code,
    signal: exit.signal,
    qemuStderr: stderr,
    resultsData,
    resultsError,
  });
  return {
    variant: label,
    machine: o.variant.name,
    status: c.status,
    reason: c.reason,
    logPath,
    channelPath,
    resultsDir,
    wallSeconds,
    verdictSeconds,
    initSeconds,
    results: c.results,
    xfail: c.xfail,
    baseline: judged.baseline,
    logTail: tail(log, 40),
    progress: c.serial.progress,
  };
}
