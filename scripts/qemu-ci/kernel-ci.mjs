// @ts-check
// `iovh qemu` as a user runs it, in the QEMU CI: the real command line in a
// child process, against the kernel cache the sanitizer guest uses.
//   - Debian's source, the default: builds (cached), boots, judges;
//   - a tree given by path with a one-patch series (Debian's tree plus a patch
//     that sets EXTRAVERSION, so the guest's `uname -r` proves it was applied);
//   - a prebuilt bzImage whose init cannot start: verdict panic, with the line;
//   - bad input on a real tree: a fragment option the tree does not have, and a
//     patch that makes the compiler fail (the failing command's lines shown).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.mjs';

/** @typedef {{ name: string, status: 'pass' | 'fail' | 'skip', detail: string }} Check */

/**
 * The scenarios the `iovh qemu` runs here keep to: these checks prove the
 * command (build, patch, boot, verdict, reports); the sanitizer guest before
 * them runs every scenario on the same kernel.
 */
export const COMMAND_FILTERS = ['--filter', 'export/*', '--filter', 'iommufd/*'];

/**
 * Run `iovh <args>` (bin/iovh.js) and collect its output.
 * @param {string[]} args @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string, seconds: number }>}
 */
export function iovhCli(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'iovh.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, seconds: Math.round((performance.now() - t0) / 100) / 10 }),
    );
  });
}

/**
 * A unified diff that sets EXTRAVERSION in a kernel Makefile, made from the
 * tree's own Makefile so its context matches whatever version it is.
 * @param {string} makefile the Makefile's text @param {string} extraversion
 */
export function extraversionPatch(makefile, extraversion) {
  const lines = makefile.split('\n');
  // The text after the last newline is no line.
  if (lines[lines.length - 1] === '') lines.pop();
  const i = lines.findIndex((l) => /^EXTRAVERSION\s*=/.test(l));
  if (i < 0) throw new Error('the Makefile has no EXTRAVERSION line');
  const from = Math.max(0, i - 3);
  const to = Math.min(lines.length, i + 4);
  const before = lines.slice(from, to);
  const body = before.map((l, k) => (from + k === i ? `-${l}\n+EXTRAVERSION = ${extraversion}` : ` ${l}`));
  return [
    'From: iovh CI <iovh@localhost>',
    `Subject: [PATCH] Makefile: EXTRAVERSION = ${extraversion}`,
    '',
    '---',
    'diff --git a/Makefile b/Makefile',
    '--- a/Makefile',
    '+++ b/Makefile',
    `@@ -${from + 1},${before.length} +${from + 1},${before.length} @@`,
    ...body,
    '',
  ].join('\n');
}

/**
 * @param {{ tree: string, bzImage: string, release: string, qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<Check[]>}
 */
export async function qemuCommandChecks(o) {
  /** @type {Check[]} */
  const checks = [];
  const work = mkdtempSync(join(tmpdir(), 'iovh-qemu-cli-'));
  const env = { ...process.env, IOVH_QEMU_CACHE: o.qemuCache, NO_COLOR: '1' };
  /**
   * @param {string} name @param {() => Promise<{ ok: boolean | null, detail: string }>} fn
   * @returns {Promise<Check>}
   */
  const check = async (name, fn) => {
    o.log(`qemu-ci: ${name}`);
    try {
      const r = await fn();
      return { name, status: r.ok === null ? 'skip' : r.ok ? 'pass' : 'fail', detail: r.detail };
    } catch (e) {
      return { name, status: 'fail', detail: e instanceof Error ? e.message : String(e) };
    }
  };
  /** @param {string} s */
  const lastLine = (s) => s.trim().split('\n').pop() ?? '';
  try {
    const c1 = check("iovh qemu: Debian's source (default)", async () => {
      const json = join(work, 'default.json');
      const r = await iovhCli(['qemu', '--variant', 'igb', ...COMMAND_FILTERS, '--json', json], env);
      const run = JSON.parse(readFileSync(json, 'utf8'));
      const head = /qemu igb-intel-iommu: kernel (\S+), (\w+)/.exec(r.stdout);
      const ok = r.code === 0 && run.complete === true && run.kernel.release === o.release && head?.[2] === 'PASS';
      return {
        ok,
        detail: `exit ${r.code} in ${r.seconds} s; guest ${head?.[2] ?? 'no verdict line'}; kernel ${run.kernel.release}; ${run.summary?.exitReason ?? ''}${ok ? '' : ` | ${lastLine(r.stderr)}`}`,
      };
    });

    const c2 = check('iovh qemu: a tree given by path with a one-patch series', async () => {
      const extra = '-iovhci';
      const series = join(work, 'series');
      mkdirSync(series);
      writeFileSync(
        join(series, '0001-Makefile-EXTRAVERSION.patch'),
        extraversionPatch(readFileSync(join(o.tree, 'Makefile'), 'utf8'), extra),
      );
      const json = join(work, 'patched.json');
      const r = await iovhCli(
        ['qemu', '--kernel-tree', o.tree, '--patches', series, '--variant', 'igb', ...COMMAND_FILTERS, '--json', json],
        env,
      );
      const run = JSON.parse(readFileSync(json, 'utf8'));
      const release = run.kernel.release ?? '';
      const ok = r.code === 0 && release === `${o.release}${extra}` && run.complete === true;
      return {
        ok,
        detail: `exit ${r.code} in ${r.seconds} s; the guest runs ${release || 'no kernel'} (want ${o.release}${extra}); ${run.summary?.exitReason ?? ''}${ok ? '' : ` | ${lastLine(r.stderr)}`}`,
      };
    });

    // Two guests at once (-smp 1 each, one per core): the default source and the patched tree.
    checks.push(...(await Promise.all([c1, c2])));

    const c3 = check('iovh qemu --kernel: a kernel whose init cannot start is a panic, with its line', async () => {
      const r = await iovhCli(['qemu', '--kernel', o.bzImage, '--variant', 'igb', '--guest-timeout', '300'], {
        ...env,
        IOVH_QEMU_APPEND: 'rdinit=/iovh-no-such-init',
      });
      const m = /qemu igb-intel-iommu: kernel \S+, PANIC \(.*\): kernel panic: (.*)/.exec(r.stdout);
      return {
        ok: r.code === 1 && m !== null,
        detail: `exit ${r.code}; ${m ? m[1] : `no PANIC line: ${lastLine(r.stdout)}`}`,
      };
    });

    const c4 = check('iovh qemu: a fragment option the tree does not have', async () => {
      const frag = join(work, 'extra.config');
      writeFileSync(frag, 'CONFIG_IOVH_NO_SUCH_OPTION=y\n');
      const r = await iovhCli(['qemu', '--kernel-tree', o.tree, '--config', frag, '--build-only'], env);
      const line = lastLine(r.stderr);
      const ok =
        r.code === 2 &&
        /CONFIG_IOVH_NO_SUCH_OPTION =y \(extra\.config:1\) came out absent: this tree has no option/.test(line);
      return { ok, detail: `exit ${r.code}: ${line}` };
    });

    const c5 = check('iovh qemu: a compiler error shows the failing command', async () => {
      const patch = join(work, '0001-break-bounds.patch');
      const bounds = readFileSync(join(o.tree, 'kernel', 'bounds.c'), 'utf8').split('\n');
      const ctx = bounds.slice(0, 3);
      writeFileSync(
        patch,
        [
          '--- a/kernel/bounds.c',
          '+++ b/kernel/bounds.c',
          `@@ -1,${ctx.length} +1,${ctx.length + 1} @@`,
          '+#error "iovh CI: a deliberate compiler error"',
          ...ctx.map((l) => ` ${l}`),
          '',
        ].join('\n'),
      );
      const r = await iovhCli(['qemu', '--kernel-tree', o.tree, '--patches', patch, '--build-only'], env);
      const ok =
        r.code === 1 &&
        /kernel\/bounds\.c:1:\d+: error: #error "iovh CI: a deliberate compiler error"/.test(r.stderr) &&
        /^iovh: kernel build failed .*kernel\/bounds\.s/m.test(r.stderr);
      return { ok, detail: `exit ${r.code}: ${lastLine(r.stderr)}` };
    });
    // A guest that panics at once and two builds that stop early, side by side.
    checks.push(...(await Promise.all([c3, c4, c5])));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return checks;
}

/**
 * The switch machine with the PF on vfio-pci (docs/kernels.md "The switch machine with the PF on vfio-pci"):
 * the VF opened with the run's VF token, its PF and the other VF reached by bus address through the switch, the
 * root-bus device not. One guest of the cached source kernel; ci.mjs runs it in the guest pool's slot that frees
 * up before the sanitizer guest ends, not after the pool.
 * @param {{ qemuCache: string, log: (s: string) => void }} o
 * @returns {Promise<Check>}
 */
export async function switchVfioCheck(o) {
  const name = 'iovh qemu --variant igb-switch-vfio: P2P through the switch by bus address';
  o.log(`qemu-ci: ${name}`);
  const work = mkdtempSync(join(tmpdir(), 'iovh-qemu-switch-'));
  const env = { ...process.env, IOVH_QEMU_CACHE: o.qemuCache, NO_COLOR: '1' };
  try {
    const json = join(work, 'switch-vfio.json');
    const r = await iovhCli(
      ['qemu', '--variant', 'igb-switch-vfio', '--filter', 'import/p2p-route', '--json', json],
      env,
    );
    const run = JSON.parse(readFileSync(json, 'utf8'));
    const s = (run.scenarios ?? []).find((/** @type {{ id: string }} */ x) => x.id === 'import/p2p-route');
    /** @type {{ role: string, route: string, map: string }[]} */
    const routes = s?.evidence?.routes ?? [];
    const of = (/** @type {string} */ role) => routes.find((x) => x.role === role);
    const ok =
      r.code === 0 &&
      s?.status === 'pass' &&
      typeof s?.evidence?.vfToken === 'string' &&
      of('its PF')?.route === 'bus address' &&
      of('another VF of its PF')?.route === 'bus address' &&
      of('a device on the root bus')?.map === 'EINVAL';
    const said = routes.map((x) => `${x.role}: ${x.route}`).join(', ');
    const last = r.stderr.trim().split('\n').pop() ?? '';
    return {
      name,
      status: ok ? 'pass' : 'fail',
      detail: `exit ${r.code} in ${r.seconds} s; ${s ? `${s.status}: ${said}` : 'no import/p2p-route result'}${ok ? '' : ` | ${last}`}`,
    };
  } catch (e) {
    return { name, status: 'fail', detail: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
