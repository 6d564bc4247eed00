// @ts-check
// The guest's initramfs: busybox, our /init, and the kernel modules each
// variant loads (decompressed, since the guest has no xz), with one insmod list
// per variant in /etc/iovh/<variant>.modules. Built from the cache and kept
// under a name derived from its inputs, so an unchanged setup reuses it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cpioNewc } from './cpio.mjs';
import { cacheKey } from './kcache.mjs';
import { moduleNames } from './variants.mjs';
import { kmodTool } from './setup.mjs';

export const INIT_SCRIPT = new URL('./init.sh', import.meta.url);

/**
 * Module files to insmod, in order, for `names`: `modprobe --show-depends`
 * prints the dependencies first (`insmod <path>`); built-ins print `builtin`.
 * @param {string} modprobe
 * @param {import('./setup.mjs').Manifest} manifest
 * @param {string[]} names
 */
export function insmodOrder(modprobe, manifest, names) {
  /** @type {string[]} */
  const files = [];
  for (const name of names) {
    const r = spawnSync(
      modprobe,
      ['-d', manifest.kernel.modulesRoot, '-S', manifest.kernel.release, '--show-depends', name],
      { encoding: 'utf8' },
    );
    if (r.status !== 0)
      throw new Error(`module ${name} is not in kernel ${manifest.kernel.release}: ${(r.stderr || '').trim()}`);
    for (const line of r.stdout.split('\n')) {
      const m = /^insmod (\S+)/.exec(line);
      if (m && !files.includes(m[1])) files.push(m[1]);
    }
  }
  return files;
}

/**
 * `foo.ko.xz` -> `foo.ko`
 * @param {string} file
 */
function koName(file) {
  return basename(file).replace(/\.(xz|zst|gz)$/, '');
}

/** @param {string} file */
function decompress(file) {
  if (file.endsWith('.ko')) return readFileSync(file);
  const tool = file.endsWith('.xz') ? 'xz' : file.endsWith('.zst') ? 'zstd' : file.endsWith('.gz') ? 'gzip' : null;
  if (!tool) throw new Error(`unknown module compression: ${file}`);
  const r = spawnSync(tool, ['-dc', file], { maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`${tool}: ${r.error.message} (needed to unpack ${basename(file)})`);
  if (r.status !== 0) throw new Error(`${tool} -dc ${file} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/**
 * Build (or reuse) the initramfs holding every variant's modules. A kernel
 * built from source with iovh's fragment has every driver built in
 * (`manifest: null`): its initramfs holds busybox and /init only.
 * @param {{ paths: import('./paths.mjs').CachePaths, manifest: import('./setup.mjs').Manifest | null, busybox: { path: string, version: string }, variants: import('./variants.mjs').Variant[] }} o
 * @returns {{ path: string, cached: boolean, lists: Record<string, string[]> }}
 */
export function buildInitramfs({ paths, manifest, busybox, variants }) {
  const init = readFileSync(INIT_SCRIPT);
  /** @type {Record<string, string[]>} */
  const lists = {};
  for (const v of variants)
    lists[v.name] = manifest ? insmodOrder(kmodTool(paths, 'modprobe'), manifest, moduleNames(v)) : [];
  const key = cacheKey(
    [
      JSON.stringify({
        release: manifest?.kernel.release ?? 'builtin',
        createdAt: manifest?.createdAt ?? null,
        busybox: busybox.version,
        busyboxPath: busybox.path,
        lists,
      }),
      init,
    ],
    16,
  );
  mkdirSync(paths.initramfs, { recursive: true });
  const out = join(paths.initramfs, `initramfs-${key}.cpio.gz`);
  if (existsSync(out)) return { path: out, cached: true, lists };

  /** @type {import('./cpio.mjs').CpioEntry[]} */
  const entries = [
    ...['bin', 'dev', 'etc', 'etc/iovh', 'host', 'lib', 'lib/modules', 'proc', 'sys', 'tmp'].map((p) => ({
      type: /** @type {const} */ ('dir'),
      path: p,
    })),
    // The kernel opens /dev/console for init's stdio before init can mount devtmpfs.
    { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: readFileSync(busybox.path), mode: 0o755 },
    { type: 'file', path: 'init', data: init, mode: 0o755 },
  ];
  const all = [...new Set(Object.values(lists).flat())];
  for (const file of all) entries.push({ type: 'file', path: `lib/modules/${koName(file)}`, data: decompress(file) });
  for (const [name, files] of Object.entries(lists)) {
    entries.push({
      type: 'file',
      path: `etc/iovh/${name}.modules`,
      data: Buffer.from(`${files.map(koName).join('\n')}\n`),
    });
  }
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, gzipSync(cpioNewc(entries), { level: 1 }));
  renameSync(tmp, out);
  // Older builds (another init.sh, another kernel): keep the four newest.
  const old = readdirSync(paths.initramfs)
    .filter((n) => /^initramfs-[0-9a-f]+\.cpio\.gz$/.test(n))
    .map((n) => ({ n, t: statSync(join(paths.initramfs, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t)
    .slice(4);
  for (const { n } of old) rmSync(join(paths.initramfs, n), { force: true });
  return { path: out, cached: false, lists };
}
