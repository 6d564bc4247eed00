// @ts-check
// One guest boot: start QEMU for a variant, keep its serial console in a log
// file, stop it at a hard wall-clock limit, read the results the guest wrote
// to the shared folder, and turn all of it into one verdict (verdict.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { qemuArgs, NUM_VFS } from './variants.mjs';
import { classify, tail } from './verdict.mjs';
import { repoRoot } from './paths.mjs';

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
 *
 * @typedef {object} BootReport
 * @property {string} variant
 * @property {import('./verdict.mjs').BootStatus} status
 * @property {string} reason
 * @property {string} logPath
 * @property {string} resultsDir
 * @property {number} wallSeconds           QEMU start to QEMU exit (or kill)
 * @property {number | null} verdictSeconds QEMU start to the verdict line
 * @property {import('./verdict.mjs').GuestResults | null} results
 * @property {string} logTail
 * @property {string[]} progress
 */

/** Kernel command-line values cannot hold whitespace; say so instead of booting a guest that misreads them. */
/** @param {string} what @param {string} value */
function cmdlineSafe(what, value) {
  if (/\s/.test(value))
    throw new Error(`${what} '${value}' contains whitespace, which the guest's kernel command line cannot carry`);
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
  const runId = `${o.variant.name}-${stamp}-${nonce.slice(0, 6)}`;
  const resultsDir = join(o.paths.results, runId);
  mkdirSync(resultsDir, { recursive: true });
  mkdirSync(o.paths.logs, { recursive: true });
  const logPath = join(o.paths.logs, `${runId}.log`);
  const latest = join(o.paths.logs, `${o.variant.name}.latest.log`);
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
    ...(o.extraAppend ? [o.extraAppend] : []),
  ].join(' ');
  const args = qemuArgs(o.variant, {
    kernel: o.kernel,
    initrd: o.initrd,
    resultsDir,
    append,
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
  // At the start of a line: init's echo is never behind a printk timestamp.
  const marker = `\nIOVH-VERDICT ${nonce} `;

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
    if (verdictSeconds === null && log.includes(marker)) {
      verdictSeconds = since();
      // The guest powers off right after its verdict; a QEMU that lingers is stopped.
      grace = setTimeout(kill, 15_000);
    }
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
  if (grace) clearTimeout(grace);
  const wallSeconds = since();
  // Assigned in the stdout handler; TypeScript's flow analysis does not see that.
  const verdictAt = /** @type {number | null} */ (verdictSeconds);
  if (stderr) logFile.write(`\n# qemu stderr:\n${stderr}`);
  logFile.write(
    `\n# host: qemu exit=${exit.signal ?? exit.code} wall=${wallSeconds.toFixed(2)}s verdict=${verdictAt === null ? 'none' : `${verdictAt.toFixed(2)}s`}\n`,
  );
  await new Promise((resolve) => logFile.end(resolve));

  if (exit.spawnError) {
    return {
      variant: o.variant.name,
      status: 'error',
      reason: `cannot start ${o.qemu}: ${exit.spawnError.message}`,
      logPath,
      resultsDir,
      wallSeconds,
      verdictSeconds,
      results: null,
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
  const c = classify({
    log,
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
    variant: o.variant.name,
    status: c.status,
    reason: c.reason,
    logPath,
    resultsDir,
    wallSeconds,
    verdictSeconds,
    results: c.results,
    logTail: tail(log, 40),
    progress: c.serial.progress,
  };
}
