// @ts-check
// One-time setup of the QEMU CI, cached under .cache/qemu-ci/:
//   - qemu-system-x86 >= 8.0 (igb arrived in QEMU 8.0; bookworm has 7.2, its
//     backports 10.x), installed with apt through a private configuration when
//     missing (README.md, "What it does");
//   - the newest Debian sid amd64 kernel, resolved at run time through the
//     `linux-image-amd64` metapackage (never a version written here), its
//     modules, busybox-static from sid, and this system's kmod for
//     depmod/modprobe, all fetched with `apt-get download` and unpacked with
//     `dpkg-deb -x`; nothing but QEMU is installed;
//   - modules.dep, which the modules package does not ship.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  closeSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  PrivateApt,
  backportsSourcesText,
  dependsNames,
  releaseArchive,
  requireTools,
  run,
  sidSourcesText,
  systemCodename,
  systemSources,
  unpackDebs,
  which,
} from './apt.mjs';

/**
 * @typedef {object} Manifest
 * @property {number} format
 * @property {string} createdAt
 * @property {{ release: string, version: string, packages: string[], vmlinuz: string, modulesRoot: string, config: Record<string, string> }} kernel
 * @property {{ version: string, path: string }} busybox
 * @property {{ version: string, path: string }} kmod
 */

const MANIFEST_FORMAT = 1;

/**
 * Kernel options the guest needs (README.md, "What it does", step 1); a sid
 * kernel that drops one fails setup with its name instead of a confusing boot.
 * `m` accepts y or m.
 */
export const REQUIRED_CONFIG = /** @type {const} */ ({
  VFIO: 'm',
  VFIO_PCI: 'm',
  VFIO_PCI_DMABUF: 'y',
  VFIO_GROUP: 'y',
  VFIO_CONTAINER: 'y',
  VFIO_IOMMU_TYPE1: 'm',
  PCI_IOV: 'y',
  PCI_P2PDMA: 'y',
  DMA_SHARED_BUFFER: 'y',
  UDMABUF: 'y',
  DRM_VGEM: 'm',
  NET_9P_VIRTIO: 'm',
  '9P_FS': 'm',
  INTEL_IOMMU: 'y',
  VIRTIO_IOMMU: 'm',
  IGB: 'm',
  BLK_DEV_NVME: 'm',
  DEBUG_FS: 'y',
});

/** QEMU's first version with the igb device model. */
export const MIN_QEMU_MAJOR = 8;

/** @param {string} text  `qemu-system-x86_64 --version` output */
export function parseQemuVersion(text) {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), text: m[0] };
}

/**
 * Upstream major of a Debian version string (`1:10.0.2+ds-2~bpo12+1` -> 10).
 * @param {string} version
 */
export function debianUpstreamMajor(version) {
  const m = /^(?:\d+:)?(\d+)/.exec(version);
  return m ? Number(m[1]) : NaN;
}

/**
 * From `apt-cache show linux-image-amd64` and a lookup of other packages,
 * the kernel ABI name (`7.2.13+deb14-amd64`) and the packages to download.
 * Debian 7.x splits the image into linux-{binary,modules,base}-<abi> behind a
 * tiny linux-image-<abi> metapackage; older layouts put everything in
 * linux-image-<abi> itself. Both are handled: every dependency named
 * linux-*-<abi> is taken, plus the image package.
 * @param {Record<string, string>} meta  fields of linux-image-amd64
 * @param {(pkg: string) => Record<string, string>} show
 */
export function resolveKernelPackages(meta, show) {
  const image = dependsNames(meta.Depends).find((n) => /^linux-image-\d/.test(n));
  if (!image)
    throw new Error(
      `linux-image-amd64 ${meta.Version ?? ''} depends on no linux-image-<version> package (Depends: ${meta.Depends ?? 'none'})`,
    );
  const abi = image.slice('linux-image-'.length).replace(/-unsigned$/, '');
  const fields = show(image);
  const parts = dependsNames(fields.Depends).filter(
    (n) => n.startsWith('linux-') && n.endsWith(`-${abi}`) && n !== image,
  );
  return { release: abi, version: fields.Version ?? meta.Version ?? '', packages: [image, ...parts] };
}

/**
 * `CONFIG_X=y` lines of a kernel config, as a map X -> value (unset options absent).
 * @param {string} text
 */
export function parseKernelConfig(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Names of REQUIRED_CONFIG options the config lacks, with what it has.
 * @param {Record<string, string>} config
 */
export function missingConfig(config) {
  const missing = [];
  for (const [name, want] of Object.entries(REQUIRED_CONFIG)) {
    const have = config[name];
    const ok = want === 'y' ? have === 'y' : have === 'y' || have === 'm';
    if (!ok) missing.push(`CONFIG_${name}=${have ?? 'unset'} (need ${want === 'y' ? 'y' : 'y or m'})`);
  }
  return missing;
}

/**
 * @param {import('./paths.mjs').CachePaths} paths
 * @returns {Manifest | null}
 */
export function readManifest(paths) {
  try {
    const m = /** @type {Manifest} */ (JSON.parse(readFileSync(paths.manifest, 'utf8')));
    if (m.format !== MANIFEST_FORMAT) return null;
    for (const p of [
      m.kernel.vmlinuz,
      join(m.kernel.modulesRoot, 'lib', 'modules', m.kernel.release, 'modules.dep'),
      m.busybox.path,
      m.kmod.path,
    ]) {
      if (!existsSync(p)) return null;
    }
    return m;
  } catch {
    return null;
  }
}

/**
 * The QEMU binary, installed when missing or older than 8.0.
 * @param {import('./paths.mjs').CachePaths} paths
 * @param {(s: string) => void} log
 */
export function ensureQemu(paths, log) {
  const found = which('qemu-system-x86_64');
  if (found) {
    const v = parseQemuVersion(run(found, ['--version']));
    if (v && v.major >= MIN_QEMU_MAJOR) return { path: found, version: v.text.replace('QEMU emulator version ', '') };
    log(`qemu: ${found} is ${v ? v.text : 'of unknown version'}; need >= ${MIN_QEMU_MAJOR}.0 for the igb device`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `qemu-system-x86_64 >= ${MIN_QEMU_MAJOR}.0 is not installed and this is not root; ` +
        `run \`node scripts/qemu-ci/main.mjs setup\` as root once, or install qemu-system-x86 (>= ${MIN_QEMU_MAJOR}.0; Debian 12: from bookworm-backports)`,
    );
  }
  for (const tool of ['apt-get', 'apt-cache'])
    if (!which(tool)) throw new Error(`qemu-system-x86 is missing and ${tool} is not available to install it`);
  const codename = systemCodename();
  if (!codename) throw new Error("cannot read VERSION_CODENAME from /etc/os-release to find this system's backports");
  const apt = new PrivateApt(paths.aptHost, backportsSourcesText(systemSources(), codename));
  log(`qemu: updating a private package list for ${codename} and ${codename}-backports`);
  apt.update();
  const candidate = apt.show('qemu-system-x86').Version ?? '';
  const target = debianUpstreamMajor(candidate) >= MIN_QEMU_MAJOR ? undefined : `${codename}-backports`;
  log(`qemu: installing qemu-system-x86${target ? ` from ${target}` : ` ${candidate}`}`);
  apt.install(['qemu-system-x86'], target);
  const path = which('qemu-system-x86_64');
  const v = path ? parseQemuVersion(run(path, ['--version'])) : null;
  if (!path || !v || v.major < MIN_QEMU_MAJOR) {
    throw new Error(
      `installing qemu-system-x86 did not give QEMU >= ${MIN_QEMU_MAJOR}.0 (got ${v ? v.text : 'nothing'})`,
    );
  }
  return { path, version: v.text.replace('QEMU emulator version ', '') };
}

/**
 * Holds the setup lock while `fn` runs (two CI jobs sharing a cache must not unpack over each other).
 * @template T
 * @param {string} lock @param {() => T} fn
 * @returns {T}
 */
function withLock(lock, fn) {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8'));
      let alive = false;
      try {
        if (pid > 0) process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (!alive) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`setup lock ${lock} held by pid ${pid} for 15 minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * First existing path among candidates under `root`.
 * @param {string} root @param {string[]} rels
 */
function firstExisting(root, rels) {
  for (const r of rels) if (existsSync(join(root, r))) return join(root, r);
  return null;
}

/**
 * Everything the guest needs, from the cache when it is complete.
 * @param {{ paths: import('./paths.mjs').CachePaths, refresh?: boolean, log?: (s: string) => void }} options
 * @returns {{ manifest: Manifest, qemu: { path: string, version: string }, cached: boolean, seconds: number }}
 */
export function setup({ paths, refresh = false, log = (s) => process.stderr.write(`${s}\n`) }) {
  const t0 = Date.now();
  mkdirSync(paths.root, { recursive: true });
  return withLock(paths.lock, () => {
    const qemu = ensureQemu(paths, log);
    const cachedManifest = refresh ? null : readManifest(paths);
    if (cachedManifest) return { manifest: cachedManifest, qemu, cached: true, seconds: (Date.now() - t0) / 1000 };

    requireTools(['apt-get', 'apt-cache', 'dpkg-deb', 'xz'], 'setup');
    const codename = systemCodename();
    if (!codename) throw new Error('cannot read VERSION_CODENAME from /etc/os-release');
    const sources = systemSources();
    const sid = new PrivateApt(paths.aptSid, sidSourcesText(releaseArchive(sources, codename)));
    const host = new PrivateApt(paths.aptHost, backportsSourcesText(sources, codename));
    log("setup: updating private package lists (Debian sid; this system's release)");
    sid.update();
    if (!host.hasLists()) host.update();

    const kernel = resolveKernelPackages(sid.show('linux-image-amd64'), (p) => sid.show(p));
    const busyboxVersion = sid.show('busybox-static').Version ?? '';
    const kmodVersion = host.show('kmod').Version ?? '';
    log(
      `setup: sid kernel ${kernel.release} (${kernel.version}: ${kernel.packages.join(', ')}), busybox-static ${busyboxVersion}, kmod ${kmodVersion}`,
    );

    rmSync(paths.debs, { recursive: true, force: true });
    mkdirSync(paths.debs, { recursive: true });
    sid.download(paths.debs, [
      ...kernel.packages.map((p) => `${p}=${kernel.version}`),
      `busybox-static=${busyboxVersion}`,
    ]);
    host.download(paths.debs, [`kmod=${kmodVersion}`]);

    // Unpack into fresh directories and swap them in, so an interrupted setup
    // never leaves a half-unpacked tree that a later run would take as cached.
    const stage = (/** @type {string} */ p) => `${p}.new`;
    for (const p of [paths.kernel, paths.busybox, paths.kmod]) rmSync(stage(p), { recursive: true, force: true });
    log('setup: unpacking');
    unpackDebs(paths.debs, kernel.packages, stage(paths.kernel));
    unpackDebs(paths.debs, ['busybox-static'], stage(paths.busybox));
    unpackDebs(paths.debs, ['kmod'], stage(paths.kmod));

    const modulesRoot = join(stage(paths.kernel), 'usr');
    const kdir = join(modulesRoot, 'lib', 'modules', kernel.release);
    const vmlinuz = firstExisting(stage(paths.kernel), [
      `usr/lib/modules/${kernel.release}/vmlinuz`,
      `boot/vmlinuz-${kernel.release}`,
    ]);
    if (!vmlinuz) throw new Error(`no vmlinuz for ${kernel.release} in ${kernel.packages.join(', ')}`);
    const configPath = firstExisting(stage(paths.kernel), [
      `usr/lib/modules/${kernel.release}/config`,
      `boot/config-${kernel.release}`,
    ]);
    if (!configPath) throw new Error(`no kernel config for ${kernel.release} in ${kernel.packages.join(', ')}`);
    const config = parseKernelConfig(readFileSync(configPath, 'utf8'));
    const missing = missingConfig(config);
    if (missing.length)
      throw new Error(`sid kernel ${kernel.release} lacks what the guest needs: ${missing.join(', ')}`);

    const busybox = firstExisting(stage(paths.busybox), ['bin/busybox', 'usr/bin/busybox']);
    if (!busybox) throw new Error('busybox-static has no bin/busybox');
    const kmod = firstExisting(stage(paths.kmod), ['bin/kmod', 'usr/bin/kmod']);
    if (!kmod) throw new Error('kmod has no bin/kmod');
    // kmod is one multi-call binary; the tool is chosen by argv[0].
    const kbin = join(stage(paths.kmod), 'tools');
    mkdirSync(kbin, { recursive: true });
    for (const tool of ['depmod', 'modprobe', 'modinfo']) symlinkSync(kmod, join(kbin, tool));
    run(join(kbin, 'depmod'), ['-b', modulesRoot, kernel.release]);
    if (!existsSync(join(kdir, 'modules.dep'))) throw new Error(`depmod wrote no modules.dep in ${kdir}`);

    for (const p of [paths.kernel, paths.busybox, paths.kmod]) {
      rmSync(p, { recursive: true, force: true });
      renameSync(stage(p), p);
    }
    // The symlinks point into the staging name: remake them at the final place.
    const finalKmod = firstExisting(paths.kmod, ['bin/kmod', 'usr/bin/kmod']) ?? '';
    for (const tool of ['depmod', 'modprobe', 'modinfo']) {
      rmSync(join(paths.kmod, 'tools', tool), { force: true });
      symlinkSync(finalKmod, join(paths.kmod, 'tools', tool));
    }
    rmSync(paths.debs, { recursive: true, force: true });
    rmSync(paths.initramfs, { recursive: true, force: true });

    const rebase = (/** @type {string} */ p, /** @type {string} */ from, /** @type {string} */ to) =>
      join(to, p.slice(from.length));
    /** @type {Manifest} */
    const manifest = {
      format: MANIFEST_FORMAT,
      createdAt: new Date().toISOString(),
      kernel: {
        release: kernel.release,
        version: kernel.version,
        packages: kernel.packages,
        vmlinuz: rebase(vmlinuz, stage(paths.kernel), paths.kernel),
        modulesRoot: join(paths.kernel, 'usr'),
        config: Object.fromEntries(Object.keys(REQUIRED_CONFIG).map((k) => [k, config[k] ?? 'unset'])),
      },
      busybox: { version: busyboxVersion, path: rebase(busybox, stage(paths.busybox), paths.busybox) },
      kmod: { version: kmodVersion, path: finalKmod },
    };
    writeFileSync(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
    log(`setup: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { manifest, qemu, cached: false, seconds: (Date.now() - t0) / 1000 };
  });
}

/**
 * A tool of the cached kmod (depmod, modprobe, modinfo).
 * @param {import('./paths.mjs').CachePaths} paths @param {'depmod' | 'modprobe' | 'modinfo'} tool
 */
export function kmodTool(paths, tool) {
  return join(paths.kmod, 'tools', tool);
}

/**
 * What every guest needs besides its kernel: QEMU (installed when missing)
 * and busybox-static, reused from the stock kernel's setup when that has run,
 * else downloaded alone (a source-built kernel needs no kernel packages).
 * @param {{ paths: import('./paths.mjs').CachePaths, log?: (s: string) => void }} options
 * @returns {{ qemu: { path: string, version: string }, busybox: { path: string, version: string }, cached: boolean, seconds: number }}
 */
export function setupTools({ paths, log = (s) => process.stderr.write(`${s}\n`) }) {
  const t0 = Date.now();
  mkdirSync(paths.root, { recursive: true });
  return withLock(paths.lock, () => {
    const qemu = ensureQemu(paths, log);
    const done = (/** @type {{ path: string, version: string }} */ busybox, /** @type {boolean} */ cached) => ({
      qemu,
      busybox,
      cached,
      seconds: (Date.now() - t0) / 1000,
    });
    const stock = readManifest(paths);
    if (stock) return done(stock.busybox, true);
    const toolsFile = join(paths.root, 'tools.json');
    try {
      const t = JSON.parse(readFileSync(toolsFile, 'utf8'));
      if (t.busybox && existsSync(t.busybox.path)) return done(t.busybox, true);
    } catch {
      // not set up yet
    }
    requireTools(['apt-get', 'apt-cache', 'dpkg-deb'], 'setup');
    const codename = systemCodename();
    if (!codename) throw new Error('cannot read VERSION_CODENAME from /etc/os-release');
    const sid = new PrivateApt(paths.aptSid, sidSourcesText(releaseArchive(systemSources(), codename)));
    if (!sid.hasLists()) {
      log('setup: updating a private package list for Debian sid (busybox-static)');
      sid.update();
    }
    const version = sid.show('busybox-static').Version ?? '';
    const dir = join(paths.root, 'tools');
    const debs = join(dir, 'debs');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(debs, { recursive: true });
    sid.download(debs, [`busybox-static=${version}`]);
    unpackDebs(debs, ['busybox-static'], join(dir, 'busybox'));
    rmSync(debs, { recursive: true, force: true });
    const path = firstExisting(join(dir, 'busybox'), ['bin/busybox', 'usr/bin/busybox']);
    if (!path) throw new Error('busybox-static has no bin/busybox');
    const busybox = { path, version };
    writeFileSync(toolsFile, `${JSON.stringify({ busybox }, null, 2)}\n`);
    return done(busybox, false);
  });
}
