// @ts-check
// The mock SR-IOV GPU in a real guest:
//
//   node scripts/qemu-ci/mock-gpu.mjs --kernel-objtree DIR [--qemu PATH] [--timeout S] [--keep]
//
// 1. QEMU with iovh's device patches (qemu-build.mjs, cached), unless --qemu.
// 2. QEMU refuses bad device properties with a message (no guest needed).
// 3. The PF driver (kernel/iovh-mock-gpu) built against the kernel in DIR (a
//    configured and built tree, O= object directory: CONFIG_MODULES, PCI_IOV,
//    VFIO_PCI, INTEL_IOMMU; kbuild's default sanitizer kernel has them), and
//    test/qemu/mock-gpu/lmem-check.c built static.
// 4. A busybox initramfs (init: test/qemu/mock-gpu/init.sh) and one boot: a
//    q35 machine with VT-d and the mock GPU behind a root port, First VF
//    Offset 0xfd so that VF 4 lands on the next bus; VF 1 gets its whole BAR
//    in blocks whose first two are swapped, VF 2 nothing, VFs 3 and 4 a quota
//    (the lowest free blocks); each VF is bound to vfio-pci and checked.
//
// Ends with `mock-gpu: N passed, N failed` (exit 0 only when nothing failed;
// 2 on a usage error). Logs in <qemu-build cache>/logs/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpioNewc } from './cpio.mjs';
import { cachePaths, repoRoot } from './paths.mjs';
import { buildQemu, cacheRoot } from './qemu-build.mjs';
import { setup } from './setup.mjs';
import { MOCK_GPU, MOCK_GPU_FIRMWARE, mockGpuRefusal } from './variants.mjs';

/**
 * One checked fact; a note is reported and not counted.
 * @typedef {{ name: string, ok: boolean, detail: string, note?: boolean }} Result
 */

const MODULE_DIR = join(repoRoot, 'kernel', 'iovh-mock-gpu');
const GUEST_DIR = join(repoRoot, 'test', 'qemu', 'mock-gpu');
/** The machine: what the device test boots. */
export const MACHINE = {
  vfs: 4,
  // First VF Offset 0xfd: VFs 1-3 at 01:1f.5-7, VF 4 at 02:00.0 (the next bus).
  device:
    'iovh-mock-gpu,bus=rp1,id=gpu0,total-vfs=4,vf-offset=0xfd,vf-stride=1,lmem-size=64M,vf-lmem-size=16M,block-size=1M',
  // VF 1: its whole BAR, blocks 32-47 with the first two swapped (slots 0 and 1 are not adjacent in the PF's
  // memory); VF 2: nothing; VF 3: a 1 MiB quota (block 0, the lowest free); VF 4: 3 MiB (blocks 1-3).
  plan: '1:33_32_34_35_36_37_38_39_40_41_42_43_44_45_46_47;3:quota=1048576;4:quota=3145728',
};

/**
 * Bad properties and what QEMU must say (a substring of its message).
 * @type {{ name: string, device: string, port?: string, says: string }[]}
 */
export const BAD_PROPERTIES = [
  { name: 'vf-lmem-size above lmem-size', device: 'lmem-size=16M,vf-lmem-size=32M', says: 'larger than the LMEM' },
  { name: 'lmem-size not a power of two', device: 'lmem-size=48M', says: 'must be a power of two' },
  { name: 'block-size above vf-lmem-size', device: 'vf-lmem-size=1M,block-size=2M', says: 'larger than a VF' },
  { name: 'VFs two buses away', device: 'total-vfs=8,vf-offset=0xff,vf-stride=0x40', says: 'at most the next bus' },
  { name: 'VFs on a bus the port does not reach', device: 'vf-offset=0xfe', port: '', says: 'set bus-reserve=1' },
  { name: 'zero VFs', device: 'total-vfs=0', says: 'total-vfs=0 must be from 1' },
];

/** @param {string} cmd @param {string[]} args @param {{ cwd?: string }} [o] */
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { cwd: o.cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * QEMU's verdict on one bad property set: refused, with the expected words. A
 * property set QEMU accepts is a failure ("QEMU started"), not a machine left waiting.
 * @param {string} qemu
 */
export function checkBadProperties(qemu) {
  return BAD_PROPERTIES.map((b) => {
    const refused = mockGpuRefusal(qemu, {
      port: `pcie-root-port,id=rp1,chassis=1,slot=1${b.port ?? ',bus-reserve=1'}`,
      device: `iovh-mock-gpu,bus=rp1,${b.device}`,
    });
    return { name: b.name, ok: refused?.includes(b.says) === true, detail: refused ?? 'QEMU started' };
  });
}

/**
 * The PF driver (without @importer: no translation step; the catalog's edge/* run through `iovh qemu --device mock-gpu`).
 * @param {string} objtree @param {string} out @param {string | undefined} importer
 */
function buildModule(objtree, out, importer) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const r = run('nice', [
    '-n',
    '10',
    'make',
    '-C',
    objtree,
    `M=${MODULE_DIR}`,
    `MO=${out}`,
    'W=1',
    // Without the importer's sources the translation step is left out.
    `IOVH_IC_IMPORTER=${importer ?? '/nonexistent'}`,
    'modules',
  ]);
  if (r.status !== 0)
    throw new Error(
      `kernel/iovh-mock-gpu does not build against ${objtree}:\n${r.out.trim().split('\n').slice(-12).join('\n')}`,
    );
  const warnings = r.out.split('\n').filter((l) => /warning:/.test(l));
  if (warnings.length) throw new Error(`kernel/iovh-mock-gpu builds with warnings:\n${warnings.join('\n')}`);
  return join(out, 'iovh_mock_gpu.ko');
}

/** @param {string} out */
function buildCheck(out) {
  const bin = join(out, 'lmem-check');
  const r = run('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', bin, join(GUEST_DIR, 'lmem-check.c')]);
  if (r.status !== 0) throw new Error(`lmem-check.c: ${r.out.trim()}`);
  return bin;
}

/**
 * @param {{ busybox: string, module: string, check: string }} f
 * @param {string} file
 */
function initramfs(f, file) {
  /** @type {import('./cpio.mjs').CpioEntry[]} */
  const extra = [];
  const data = cpioNewc([
    { type: 'dir', path: 'bin' },
    { type: 'dir', path: 'dev' },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { type: 'file', path: 'bin/busybox', data: readFileSync(f.busybox), mode: 0o755 },
    { type: 'file', path: 'init', data: readFileSync(join(GUEST_DIR, 'init.sh')), mode: 0o755 },
    { type: 'file', path: 'iovh_mock_gpu.ko', data: readFileSync(f.module), mode: 0o644 },
    { type: 'file', path: 'lmem-check', data: readFileSync(f.check), mode: 0o755 },
    ...extra,
  ]);
  writeFileSync(file, data);
}

/**
 * @param {{ qemu: string, kernel: string, initrd: string, log: string, timeoutSeconds: number }} o
 * @returns {Promise<{ log: string, status: number | null, timedOut: boolean, seconds: number }>}
 */
function bootGuest(o) {
  const args = [
    ...MOCK_GPU_FIRMWARE,
    '-machine',
    'q35',
    '-accel',
    'tcg',
    '-cpu',
    'max',
    '-smp',
    '1',
    '-m',
    '1G',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-monitor',
    'none',
    '-no-reboot',
    '-kernel',
    o.kernel,
    '-initrd',
    o.initrd,
    '-append',
    // xe.force_probe=!*: a kernel with xe built in must leave the mock PF (Battlemage's IDs) alone;
    // no_timer_check: under TCG on a loaded host the IO-APIC timer check can fail and panic the boot.
    `console=ttyS0 panic=-1 intel_iommu=on no_timer_check xe.force_probe=!* mockgpu.vfs=${MACHINE.vfs} mockgpu.plan=${MACHINE.plan}`,
    '-device',
    'intel-iommu',
    '-device',
    MOCK_GPU.port,
    '-device',
    MACHINE.device,
  ];
  return new Promise((resolvePromise) => {
    const t0 = Date.now();
    const child = spawn(o.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = `# ${o.qemu} ${args.join(' ')}\n`;
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutSeconds * 1000);
    child.stdout.on('data', (c) => (log += c.toString('latin1')));
    child.stderr.on('data', (c) => (log += c.toString('latin1')));
    child.on('close', (status) => {
      clearTimeout(limit);
      writeFileSync(o.log, log);
      resolvePromise({ log, status, timedOut, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/**
 * What the boot proved, one result per check.
 * @param {string} log
 */
export function judgeBoot(log) {
  /** @type {Result[]} */
  const results = [];
  const lines = log.split('\n').map((l) => l.replace(/\r$/, ''));
  const splat = (/** @type {string} */ l) =>
    /\b(BUG:|WARNING:|Oops|KASAN|Kernel panic|general protection fault)/.test(l);
  // What the kernel reported before the test began (while booting) is not the device's doing: a note.
  const start = lines.findIndex((l) => l.startsWith('MOCKGPU-STEP'));
  const before = (start < 0 ? lines : lines.slice(0, start)).find(splat);
  const bug = start < 0 ? undefined : lines.slice(start).find(splat);
  results.push({
    name: 'kernel log clean from the driver load on (no BUG, WARNING, KASAN, oops)',
    ok: !bug,
    detail: bug ?? '',
  });
  if (before)
    results.push({
      name: 'note: the kernel reported while booting, before the test',
      ok: true,
      note: true,
      detail: before,
    });
  const err = lines.find((l) => l.startsWith('MOCKGPU-ERROR'));
  if (err) results.push({ name: 'guest steps', ok: false, detail: err });
  for (const l of lines) {
    const m = /^(ok|not ok) \d+ - (.*)$/.exec(l);
    if (m) results.push({ name: m[2], ok: m[1] === 'ok', detail: '' });
  }
  const vfs = lines.filter((l) => l.startsWith('MOCKGPU-VF '));
  const nextBus = vfs.filter((l) => /^MOCKGPU-VF \d+ [0-9a-f]{4}:02:/.test(l));
  results.push({
    name: `VFs on the bus after the PF's (VF 4 expected on bus 02)`,
    ok: nextBus.length === 1 && /^MOCKGPU-VF 4 /.test(nextBus[0]),
    detail: vfs.join('; '),
  });
  const done = lines.find((l) => l.startsWith('MOCKGPU-DONE'));
  results.push({ name: 'guest finished', ok: done === 'MOCKGPU-DONE rc=0', detail: done ?? 'no MOCKGPU-DONE line' });
  return results;
}

async function main() {
  const args = process.argv.slice(2);
  /** @type {string | undefined} */
  let objtree = process.env.IOVH_MOCK_GPU_KERNEL;
  /** @type {string | undefined} */
  let qemu;
  let timeoutSeconds = 600;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--kernel-objtree' && args[i + 1]) objtree = resolve(args[++i]);
    else if (a === '--qemu' && args[i + 1]) qemu = resolve(args[++i]);
    else if (a === '--timeout' && args[i + 1]) timeoutSeconds = Number(args[++i]);
    else {
      process.stderr.write(
        `mock-gpu: unknown argument ${a}\nusage: mock-gpu.mjs --kernel-objtree DIR [--qemu PATH] [--timeout SECONDS]\n`,
      );
      process.exit(2);
    }
  }
  if (!objtree) {
    process.stderr.write('mock-gpu: --kernel-objtree DIR (or IOVH_MOCK_GPU_KERNEL) names the built kernel to boot\n');
    process.exit(2);
  }
  const bzImage = join(objtree, 'arch', 'x86', 'boot', 'bzImage');
  if (!existsSync(bzImage)) {
    process.stderr.write(`mock-gpu: ${bzImage} does not exist (not a built kernel object tree)\n`);
    process.exit(2);
  }
  const log = (/** @type {string} */ s) => process.stderr.write(`${s}\n`);
  const root = cacheRoot();
  const work = join(root, 'mock-gpu');
  mkdirSync(join(root, 'logs'), { recursive: true });
  mkdirSync(work, { recursive: true });
  /** @type {Result[]} */
  const results = [];
  /** @type {string} */
  let qemuPath;
  if (qemu) qemuPath = qemu;
  else {
    const b = buildQemu({ log });
    qemuPath = b.qemu;
    log(
      `mock-gpu: QEMU ${b.version} (${b.cached ? 'cached' : `built in ${Math.round(b.timing.wallSeconds)} s wall, ${Math.round(b.timing.cpuSeconds)} CPU-s`}) ${qemuPath}`,
    );
  }
  for (const r of checkBadProperties(qemuPath)) results.push({ ...r, name: `QEMU refuses ${r.name}` });

  const check = buildCheck(work);
  const { manifest } = setup({ paths: cachePaths(), log });
  const initrd = join(work, 'initramfs.cpio');
  // The importer's side (RFC 7/8's translation on this device) is iovh's own catalog now: edge/* through
  // `iovh qemu --device mock-gpu` (docs/mock-gpu.md). This boot checks the device and its driver alone.
  const ko = buildModule(realpathSync(objtree), join(work, 'module'), undefined);
  initramfs({ busybox: manifest.busybox.path, module: ko, check }, initrd);
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const logFile = join(root, 'logs', `mock-gpu-${stamp}.log`);
  log(`mock-gpu: booting ${bzImage} (log: ${logFile})`);
  const b = await bootGuest({ qemu: qemuPath, kernel: bzImage, initrd, log: logFile, timeoutSeconds });
  if (b.timedOut)
    results.push({ name: 'guest within the time limit', ok: false, detail: `killed after ${timeoutSeconds} s` });
  results.push(...judgeBoot(b.log));
  for (const r of results)
    process.stdout.write(
      `${r.note ? 'note' : r.ok ? 'ok' : 'FAIL'}  ${r.name}${r.detail && (!r.ok || r.note) ? `: ${r.detail}` : ''}\n`,
    );
  const counted = results.filter((r) => !r.note);
  const failed = counted.filter((r) => !r.ok).length;
  process.stdout.write(
    `mock-gpu: ${counted.length - failed} passed, ${failed} failed (boot ${Math.round(b.seconds)} s; log ${logFile})\n`,
  );
  rmSync(initrd, { force: true });
  process.exit(failed ? 1 : 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await main();
  } catch (e) {
    if (process.env.IOVH_DEBUG) throw e;
    process.stderr.write(`mock-gpu: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}
