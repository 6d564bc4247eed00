// The kernel build's pieces that need no compiler and no network: fragments,
// the config check and its explanation, patch series on a scratch copy (the
// user's tree never written), make's failure excerpt, the cache key, the
// cache root, the lock, and what counts as a kernel tree.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyPatch,
  buildExternalModule,
  buildKey,
  buildKernel,
  describePatchFailure,
  explainUnmet,
  failureExcerpt,
  kconfigDependencies,
  KernelConfigError,
  missingBuildTools,
  kernelParameters,
  mergeConfig,
  parseDotConfig,
  parseFragment,
  patchList,
  progressLine,
  scratchCopy,
  unmetOptions,
  DEFAULT_FRAGMENT,
} from '../../scripts/qemu-ci/kbuild.mjs';
import {
  acquireLock,
  kernelCachePaths,
  kernelCacheRoot,
  NoSpaceError,
  pruneBuilds,
  requireSpace,
} from '../../scripts/qemu-ci/kcache.mjs';
import { extraversionPatch } from '../../scripts/qemu-ci/kernel-ci.mjs';
import {
  KernelInputError,
  makefileVersion,
  newestSource,
  resolveSourcePackage,
  treeIdentity,
  treeProblem,
  userTree,
} from '../../scripts/qemu-ci/ksource.mjs';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'iovh-kbuild-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A tree that passes treeProblem(): the files it looks for, and a few sources. */
function fakeTree(root: string): string {
  const files: Record<string, string> = {
    Makefile: 'VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 13\nEXTRAVERSION =\nNAME = Baby Opossum Posse\n',
    Kconfig: 'source "drivers/Kconfig"\n',
    'arch/x86/Kconfig': 'config X86_64\n\tdef_bool y\n',
    'scripts/kconfig/conf.c': 'int main(void) { return 0; }\n',
    'kernel/configs/tiny.config': '# CONFIG_KERNEL_GZIP is not set\n',
    'drivers/Kconfig': [
      'menu "Device Drivers"',
      '',
      'config PCI_P2PDMA',
      '\tbool "PCI peer-to-peer transfer support"',
      '\tdepends on ZONE_DEVICE',
      '\t# ZONE_DEVICE needs MEMORY_HOTPLUG',
      '\tdepends on PCI && \\',
      '\t\t64BIT',
      '\tselect GENERIC_ALLOCATOR',
      '\thelp',
      '\t  Enables drivers to do PCI peer-to-peer transactions.',
      '',
      'config VFIO_PCI_DMABUF',
      '\tdef_bool y if VFIO_PCI_CORE && PCI_P2PDMA && DMA_SHARED_BUFFER',
      '',
      'endmenu',
      '',
    ].join('\n'),
    'drivers/vfio/core.c': 'int vfio_core;\nint second;\nint third;\n',
    'drivers/vfio/pci.c': 'line one\nline two\nline three\n',
  };
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  return root;
}

describe('fragments and the config check', () => {
  it('parses option lines and "is not set", and names a bad line', () => {
    const o = parseFragment(
      '# comment\nCONFIG_A=y\n\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_N=30\n',
      'f.config',
    );
    expect(o.map((x) => [x.name, x.value, x.line])).toEqual([
      ['A', 'y', 2],
      ['B', null, 4],
      ['C', '"x y"', 5],
      ['N', '30', 6],
    ]);
    expect(() => parseFragment('CONFIG_A=y\nKASAN=y\n', 'bad.config')).toThrow(
      /bad\.config:2: not a kernel config line/,
    );
    expect(() => parseFragment('KASAN=y\n', 'bad.config')).toThrow(KernelConfigError);
  });

  it('the shipped fragment parses and asks for what issue 11 lists', () => {
    const names = new Map(
      parseFragment(readFileSync(DEFAULT_FRAGMENT, 'utf8'), DEFAULT_FRAGMENT).map((o) => [o.name, o.value]),
    );
    for (const n of [
      'PCI_IOV',
      'PCI_P2PDMA',
      'VFIO_PCI',
      'VFIO_CONTAINER',
      'IOMMUFD',
      'VFIO_DEVICE_CDEV',
      'INTEL_IOMMU',
      'VIRTIO_IOMMU',
      'DMA_SHARED_BUFFER',
      'UDMABUF',
      'DRM_VGEM',
      'IGB',
      'IGBVF',
      'BLK_DEV_NVME',
      '9P_FS',
      'NET_9P_VIRTIO',
      'KPROBES',
      'KPROBE_EVENTS',
      'DYNAMIC_FTRACE',
      'DEBUG_FS',
      'KALLSYMS_ALL',
      'KASAN',
      'SLUB_RCU_DEBUG',
      'DEBUG_KMEMLEAK',
      'PROVE_LOCKING',
      'DETECT_HUNG_TASK',
      'X86_KERNEL_IBT',
      'MODULES',
    ])
      expect(names.get(n), n).toBe('y');
  });

  it('merges fragments over a .config, the last word winning', () => {
    const merged = mergeConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n', [
      ...parseFragment('CONFIG_B=y\n# CONFIG_A is not set\n', 'one'),
      ...parseFragment('CONFIG_B=m\n', 'two'),
    ]);
    const c = parseDotConfig(merged);
    expect([...c]).toEqual([
      ['C', 'm'],
      ['B', 'm'],
      ['A', null],
    ]);
  });

  it('finds options that did not hold; absent or n counts as not set', () => {
    const options = parseFragment(
      'CONFIG_A=y\n# CONFIG_B is not set\n# CONFIG_C is not set\nCONFIG_D=30\nCONFIG_E=y\nCONFIG_F=n\n',
      'f',
    );
    const config = parseDotConfig('CONFIG_A=y\nCONFIG_C=y\nCONFIG_D=120\n# CONFIG_E is not set\n');
    expect(unmetOptions(options, config).map((o) => [o.name, o.actual])).toEqual([
      ['C', 'y'],
      ['D', '120'],
      ['E', null],
    ]);
  });

  it('explains an unmet option with its Kconfig location and dependencies, values shown', () => {
    const tree = fakeTree(join(dir, 'tree'));
    const config = parseDotConfig('CONFIG_PCI=y\nCONFIG_64BIT=y\n');
    const deps = kconfigDependencies(tree, 'PCI_P2PDMA', config);
    expect(deps).toEqual({
      where: 'drivers/Kconfig:3',
      deps: ['depends on ZONE_DEVICE [=n]', 'depends on PCI [=y] && 64BIT [=y]'],
    });
    expect(kconfigDependencies(tree, 'NO_SUCH_OPTION', config)).toBeNull();
    const lines = explainUnmet(
      tree,
      unmetOptions(
        parseFragment('CONFIG_PCI_P2PDMA=y\nCONFIG_NO_SUCH_OPTION=y\nCONFIG_VFIO_PCI_DMABUF=y\n', 'frag.config'),
        config,
      ),
      config,
    );
    expect(lines[0]).toBe(
      'CONFIG_PCI_P2PDMA =y (frag.config:1) came out absent: drivers/Kconfig:3 depends on ZONE_DEVICE [=n]; depends on PCI [=y] && 64BIT [=y]',
    );
    expect(lines[1]).toBe(
      'CONFIG_NO_SUCH_OPTION =y (frag.config:2) came out absent: this tree has no option NO_SUCH_OPTION (no Kconfig defines it)',
    );
    expect(lines[2]).toContain('def_bool y if VFIO_PCI_CORE [=n] && PCI_P2PDMA [=n] && DMA_SHARED_BUFFER [=n]');
  });
});

describe('patches on a scratch copy', () => {
  const patch = (file: string, from: string, to: string, at = 1) =>
    `From: someone\nSubject: [PATCH] change ${file}\n\n---\ndiff --git a/${file} b/${file}\n--- a/${file}\n+++ b/${file}\n@@ -${at},3 +${at},3 @@\n line one\n-${from}\n+${to}\n line three\n-- \n2.50.1\n`;

  it('lists a series: files in the order given, a directory by its series file or sorted', () => {
    const d = join(dir, 'series');
    mkdirSync(d);
    for (const n of ['0002-b.patch', '0001-a.patch', 'notes.txt', '0003-c.diff']) writeFileSync(join(d, n), 'x');
    expect(patchList([d]).map((f) => f.slice(d.length + 1))).toEqual(['0001-a.patch', '0002-b.patch', '0003-c.diff']);
    writeFileSync(join(d, 'series'), '# quilt\n0003-c.diff\n0001-a.patch -p1\n');
    expect(patchList([d]).map((f) => f.slice(d.length + 1))).toEqual(['0003-c.diff', '0001-a.patch']);
    writeFileSync(join(d, 'series'), 'missing.patch\n');
    expect(() => patchList([d])).toThrow(/names missing\.patch, which does not exist/);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => patchList([empty])).toThrow(/holds no \*\.patch/);
    expect(() => patchList([join(dir, 'nope.patch')])).toThrow(KernelInputError);
  });

  it("applies to a hard-linked copy and leaves the user's tree byte for byte and inode for inode", () => {
    const tree = fakeTree(join(dir, 'tree'));
    const before = readFileSync(join(tree, 'drivers/vfio/pci.c'), 'utf8');
    const inode = statSync(join(tree, 'drivers/vfio/pci.c')).ino;
    const scratch = join(dir, 'scratch');
    expect(scratchCopy(tree, scratch, { allowCopy: true })).toBe('hardlinks');
    expect(statSync(join(scratch, 'drivers/vfio/pci.c')).ino).toBe(inode);
    const p = join(dir, '0001-pci.patch');
    writeFileSync(p, patch('drivers/vfio/pci.c', 'line two', 'line TWO'));
    expect(applyPatch(scratch, p, tree)).toEqual(['drivers/vfio/pci.c']);
    expect(readFileSync(join(scratch, 'drivers/vfio/pci.c'), 'utf8')).toBe('line one\nline TWO\nline three\n');
    expect(readFileSync(join(tree, 'drivers/vfio/pci.c'), 'utf8')).toBe(before);
    expect(statSync(join(tree, 'drivers/vfio/pci.c')).ino).toBe(inode);
    expect(statSync(join(tree, 'drivers/vfio/pci.c')).nlink).toBe(1);
  });

  it('names the patch, the file and the hunk that does not apply', () => {
    const tree = fakeTree(join(dir, 'tree'));
    const scratch = join(dir, 'scratch');
    scratchCopy(tree, scratch, { allowCopy: true });
    const bad = join(dir, '0002-stale.patch');
    writeFileSync(bad, patch('drivers/vfio/pci.c', 'line 2 as it was in 7.1', 'changed'));
    expect(() => applyPatch(scratch, bad, tree)).toThrow(
      'patch 0002-stale.patch does not apply: drivers/vfio/pci.c hunk #1 (at line 1)',
    );
    const missing = join(dir, '0003-missing.patch');
    writeFileSync(missing, patch('drivers/gpu/xe/xe_bo.c', 'line two', 'x'));
    expect(() => applyPatch(scratch, missing, tree)).toThrow(
      /patch 0003-missing\.patch does not apply: drivers\/gpu\/xe\/xe_bo\.c does not exist in the tree/,
    );
    const garbage = join(dir, '0004-prose.patch');
    writeFileSync(garbage, 'This is a cover letter, not a diff.\n');
    expect(() => applyPatch(scratch, garbage, tree)).toThrow(/0004-prose\.patch does not apply: it contains no diff/);
    const good = join(dir, '0005-good.patch');
    writeFileSync(good, patch('drivers/vfio/pci.c', 'line two', 'line 2'));
    applyPatch(scratch, good, tree);
    expect(() => applyPatch(scratch, good, tree)).toThrow(/already has this change/);
    expect(readFileSync(join(tree, 'drivers/vfio/pci.c'), 'utf8')).toBe('line one\nline two\nline three\n');
  });

  it("makes the CI's one-patch series from the tree's own Makefile", () => {
    const tree = fakeTree(join(dir, 'tree'));
    const scratch = join(dir, 'scratch');
    scratchCopy(tree, scratch, { allowCopy: true });
    const p = join(dir, '0001-extraversion.patch');
    writeFileSync(p, extraversionPatch(readFileSync(join(tree, 'Makefile'), 'utf8'), '-iovhci'));
    expect(applyPatch(scratch, p, tree)).toEqual(['Makefile']);
    expect(readFileSync(join(scratch, 'Makefile'), 'utf8')).toContain('\nEXTRAVERSION = -iovhci\n');
    expect(readFileSync(join(tree, 'Makefile'), 'utf8')).toContain('\nEXTRAVERSION =\n');
  });

  it('reads failures from GNU patch output', () => {
    const out = [
      'patching file drivers/vfio/pci/vfio_pci_dmabuf.c',
      'Hunk #2 FAILED at 120.',
      'Hunk #4 FAILED at 310.',
      '2 out of 7 hunks FAILED',
    ].join('\n');
    expect(describePatchFailure('0004-vfio.patch', out)).toBe(
      'patch 0004-vfio.patch does not apply: drivers/vfio/pci/vfio_pci_dmabuf.c hunk #2 (at line 120); drivers/vfio/pci/vfio_pci_dmabuf.c hunk #4 (at line 310)',
    );
  });

  it('leaves nothing behind in the cache when a patch does not apply, and the tree untouched', async () => {
    const tree = fakeTree(join(dir, 'tree'));
    const bad = join(dir, '0001-stale.patch');
    writeFileSync(bad, patch('drivers/vfio/pci.c', 'not there', 'x'));
    const paths = kernelCachePaths(join(dir, 'cache'));
    const source = userTree(tree);
    await expect(buildKernel({ source, patches: [bad], paths })).rejects.toThrow(
      'patch 0001-stale.patch does not apply: drivers/vfio/pci.c hunk #1 (at line 1)',
    );
    expect(existsSync(paths.builds) ? readdirNoLocks(paths.builds) : []).toEqual([]);
    expect(readFileSync(join(tree, 'drivers/vfio/pci.c'), 'utf8')).toBe('line one\nline two\nline three\n');
  });
});

function readdirNoLocks(d: string): string[] {
  return readdirSync(d).filter((n) => !n.endsWith('.lock'));
}

describe('out-of-tree modules', () => {
  it('refuses a directory that is not a module', async () => {
    const paths = kernelCachePaths(join(dir, 'cache'));
    const kernel = { dir: join(dir, 'k'), srctree: dir, objtree: dir, release: '7.2.13' } as unknown as Parameters<
      typeof buildExternalModule
    >[0]['kernel'];
    await expect(buildExternalModule({ kernel, dir, paths })).rejects.toThrow(/has no Kbuild or Makefile/);
  });
});

describe('make failures', () => {
  it('keeps the compiler diagnostic and make target of the failing command', () => {
    const lines = [
      '  CC      kernel/fork.o',
      '  CC      drivers/vfio/pci/vfio_pci_dmabuf.o',
      "drivers/vfio/pci/vfio_pci_dmabuf.c: In function 'vfio_pci_dma_buf_attach':",
      "drivers/vfio/pci/vfio_pci_dmabuf.c:31:13: error: 'struct vfio_pci_dma_buf' has no member named 'interconnect'",
      '   31 |         priv->interconnect = true;',
      '      |             ^~',
      'make[5]: *** [scripts/Makefile.build:229: drivers/vfio/pci/vfio_pci_dmabuf.o] Error 1',
      'make[4]: *** [scripts/Makefile.build:478: drivers/vfio/pci] Error 2',
      '  CC      mm/slub.o',
    ];
    const f = failureExcerpt(lines);
    expect(f.target).toBe('drivers/vfio/pci/vfio_pci_dmabuf.o');
    expect(f.summary).toBe(
      "drivers/vfio/pci/vfio_pci_dmabuf.c:31:13: error: 'struct vfio_pci_dma_buf' has no member named 'interconnect'",
    );
    expect(f.excerpt[0]).toBe("drivers/vfio/pci/vfio_pci_dmabuf.c: In function 'vfio_pci_dma_buf_attach':");
    expect(f.excerpt).toContain(
      'make[5]: *** [scripts/Makefile.build:229: drivers/vfio/pci/vfio_pci_dmabuf.o] Error 1',
    );
  });

  it('falls back to the last lines when no diagnostic names an error', () => {
    const f = failureExcerpt(['a', 'b', 'make: *** [Makefile:2000: vmlinux] Killed']);
    expect(f.summary).toBe('make: *** [Makefile:2000: vmlinux] Killed');
    expect(f.excerpt).toEqual(['a', 'b', 'make: *** [Makefile:2000: vmlinux] Killed']);
  });

  it('shows progress as objects done of the total', () => {
    expect(progressLine({ phase: 'build', done: 812, total: 1700, estimated: true, elapsedSeconds: 401 })).toBe(
      'kernel build: 812/~1700 objects, 6:41 elapsed',
    );
    expect(progressLine({ phase: 'build', done: 5, total: 1662, estimated: false, elapsedSeconds: 9.5 })).toBe(
      'kernel build: 5/1662 objects, 0:09 elapsed',
    );
  });
});

describe('the cache', () => {
  it('keys a build by tree, patches, fragments and toolchain', () => {
    const base = {
      identity: 'debian:linux-source-7.2=7.2.13-1',
      patches: [{ sha256: 'p1' }],
      fragments: [{ sha256: 'f1' }],
      toolchain: { cc: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0', ld: 'GNU ld 2.40' },
    };
    const k = buildKey(base);
    expect(k).toMatch(/^[0-9a-f]{20}$/);
    expect(buildKey({ ...base })).toBe(k);
    for (const other of [
      { ...base, identity: 'debian:linux-source-7.2=7.2.14-1' },
      { ...base, patches: [] },
      { ...base, patches: [{ sha256: 'p2' }] },
      { ...base, fragments: [{ sha256: 'f1' }, { sha256: 'f2' }] },
      { ...base, toolchain: { ...base.toolchain, cc: 'gcc (Debian 14.2.0-19) 14.2.0' } },
    ])
      expect(buildKey(other)).not.toBe(k);
  });

  it('lives under $IOVH_KERNEL_CACHE, else $XDG_CACHE_HOME/iovh/kernels, else ~/.cache/iovh/kernels', () => {
    expect(kernelCacheRoot({ IOVH_KERNEL_CACHE: '/big/k', XDG_CACHE_HOME: '/x' })).toBe('/big/k');
    expect(kernelCacheRoot({ XDG_CACHE_HOME: '/x' })).toBe('/x/iovh/kernels');
    // A relative XDG_CACHE_HOME is invalid per the XDG spec: ignored.
    expect(kernelCacheRoot({ XDG_CACHE_HOME: 'rel', HOME: '/home/u' })).toMatch(/\/\.cache\/iovh\/kernels$/);
  });

  it('takes over a lock whose owner died, and waits for a live one', async () => {
    const lock = join(dir, 'k.lock');
    writeFileSync(lock, '999999999\n');
    const release = await acquireLock(lock, { what: 'test' });
    expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    await expect(acquireLock(lock, { what: 'test' })).rejects.toThrow(/already held by this process/);
    release();
    expect(existsSync(lock)).toBe(false);
    // A live owner: another process holds it for a moment, we get it after.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(lock)}, process.pid + '\\n'); console.log('held'); setTimeout(() => require('fs').rmSync(${JSON.stringify(lock)}), 800)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((r) => holder.stdout.once('data', r));
    const waited: string[] = [];
    const again = await acquireLock(lock, { what: 'build', log: (s) => waited.push(s) });
    expect(waited).toEqual([`build: waiting for pid ${holder.pid}, which holds ${lock}`]);
    expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
    again();
    holder.kill();
  });

  it('refuses to start without the space a build needs', () => {
    expect(() => requireSpace(dir, 2 ** 60, 'a kernel build')).toThrow(NoSpaceError);
    expect(() => requireSpace(dir, 2 ** 60, 'a kernel build')).toThrow(
      /no space left in the kernel cache .*needs about/,
    );
  });

  it('prunes the least recently used complete builds, never one in progress, and incomplete ones unused for a day', () => {
    const paths = kernelCachePaths(dir);
    for (const [k, age] of [
      ['a', 3],
      ['b', 2],
      ['c', 1],
    ] as const) {
      mkdirSync(join(paths.builds, k), { recursive: true });
      const m = join(paths.builds, k, 'manifest.json');
      writeFileSync(m, '{}');
      const t = new Date(Date.now() - age * 3600_000);
      utimesSync(m, t, t);
    }
    mkdirSync(join(paths.builds, 'busy'));
    writeFileSync(join(paths.builds, 'busy.lock'), `${process.pid}\n`);
    // Incomplete builds (no manifest): one failed two days ago and left alone since, one made two days ago and
    // retried an hour ago (the retry appends to its build.log, the directory's own mtime stays).
    const twoDays = new Date(Date.now() - 48 * 3600_000);
    for (const k of ['stale', 'retried']) {
      mkdirSync(join(paths.builds, k));
      writeFileSync(join(paths.builds, k, 'build.log'), 'make\n');
      utimesSync(join(paths.builds, k, 'build.log'), twoDays, twoDays);
      utimesSync(join(paths.builds, k), twoDays, twoDays);
    }
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(paths.builds, 'retried', 'build.log'), hourAgo, hourAgo);
    expect(pruneBuilds(paths, 1).sort()).toEqual(['a', 'b', 'stale']);
    expect(existsSync(join(paths.builds, 'c'))).toBe(true);
    expect(existsSync(join(paths.builds, 'busy'))).toBe(true);
    expect(existsSync(join(paths.builds, 'retried'))).toBe(true);
  });
});

describe('a build that failed', () => {
  // A stand-in for the kernel's top Makefile: the targets buildKernel runs, writing into O= as kbuild does. `all`
  // leaves a bzImage and a vmlinux before it fails while `fail` exists: a half-built tree that has an image.
  const stand = (fail: string) =>
    [
      'tinyconfig:',
      '\t@mkdir -p $(O) && : > $(O)/.config',
      'kvm_guest.config olddefconfig:',
      '\t@true',
      'all:',
      '\t@mkdir -p $(O)/arch/x86/boot && echo image > $(O)/arch/x86/boot/bzImage && : > $(O)/vmlinux',
      `\t@if [ -e ${fail} ]; then echo 'drivers/vfio/pci.c:1:1: error: broken' >&2; exit 2; fi`,
      'kernelrelease:',
      '\t@echo 7.2.13',
      '.PHONY: tinyconfig kvm_guest.config olddefconfig all kernelrelease',
      '',
    ].join('\n');

  // buildKernel asks for the kernel's build tools before it runs make (CI installs them: .ci/run).
  it.skipIf(missingBuildTools().length > 0)(
    'is never taken for a built kernel: no manifest, so the next run builds again, in the same directory',
    async () => {
      const tree = fakeTree(join(dir, 'tree'));
      const fail = join(dir, 'fail');
      writeFileSync(fail, '');
      writeFileSync(join(tree, 'Makefile'), `${readFileSync(join(tree, 'Makefile'), 'utf8')}${stand(fail)}`);
      const paths = kernelCachePaths(join(dir, 'cache'));
      const source = userTree(tree);
      const build = () => buildKernel({ source, paths, ccache: false, jobs: 1 });
      await expect(build()).rejects.toThrow(
        /kernel build failed compiling at all: drivers\/vfio\/pci.c:1:1: error: broken/,
      );
      const [key] = readdirNoLocks(paths.builds).filter((n) => n !== 'objects.json');
      const built = join(paths.builds, key!);
      // What the failed attempt left: the copy, the config, an image; not the manifest, written last.
      expect(existsSync(join(built, 'obj', 'arch', 'x86', 'boot', 'bzImage'))).toBe(true);
      expect(existsSync(join(built, 'config.done'))).toBe(true);
      expect(existsSync(join(built, 'manifest.json'))).toBe(false);
      // Still broken: it runs make again and fails again, rather than booting the half-built image.
      await expect(build()).rejects.toThrow(/kernel build failed compiling/);
      // Mended: the same directory goes on from where it stopped and is complete; then a cache hit.
      rmSync(fail);
      const done = await build();
      expect({ cached: done.cached, dir: done.dir, release: done.release }).toEqual({
        cached: false,
        dir: built,
        release: '7.2.13',
      });
      expect(existsSync(join(built, 'manifest.json'))).toBe(true);
      expect((await build()).cached).toBe(true);
    },
  );
});

describe('kernel trees', () => {
  it('reads the version from the Makefile', () => {
    expect(makefileVersion('VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 13\n')).toBe('7.2.13');
    expect(makefileVersion('VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 0\nEXTRAVERSION = -rc7\n')).toBe('7.3');
    expect(makefileVersion('all:\n\techo hi\n')).toBeNull();
  });

  it('says why a directory is not a buildable kernel tree', () => {
    expect(treeProblem(join(dir, 'nope'))).toMatch(/no such directory/);
    writeFileSync(join(dir, 'file'), 'x');
    expect(treeProblem(join(dir, 'file'))).toMatch(/is not a directory/);
    mkdirSync(join(dir, 'empty'));
    expect(treeProblem(join(dir, 'empty'))).toMatch(/not a kernel source tree \(no top-level Makefile\)/);
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'Makefile'), 'all:\n');
    expect(treeProblem(join(dir, 'app'))).toMatch(/sets no VERSION and PATCHLEVEL/);
    const tree = fakeTree(join(dir, 'tree'));
    expect(treeProblem(tree)).toBeNull();
    writeFileSync(join(tree, '.config'), 'CONFIG_X=y\n');
    expect(treeProblem(tree)).toMatch(/configured or built in place \(it has \.config\).*make mrproper/);
    expect(() => userTree(tree)).toThrow(KernelInputError);
  });

  it('identifies a tree by content metadata: an edit changes it, a copy with the same times does not', () => {
    const tree = fakeTree(join(dir, 'tree'));
    const a = treeIdentity(tree);
    expect(a.files).toBeGreaterThan(5);
    expect(treeIdentity(tree).hash).toBe(a.hash);
    writeFileSync(join(tree, 'drivers/vfio/pci.c'), 'line one\nline 2\nline three\n');
    const b = treeIdentity(tree);
    expect(b.hash).not.toBe(a.hash);
    const t = new Date(Date.now() - 86_400_000);
    utimesSync(join(tree, 'drivers/vfio/pci.c'), t, t);
    expect(treeIdentity(tree).hash).not.toBe(b.hash);
    mkdirSync(join(tree, '.git'));
    writeFileSync(join(tree, '.git', 'index'), 'changes all the time');
    expect(treeIdentity(tree).hash).toBe(treeIdentity(tree).hash);
  });

  it("resolves Debian's newest linux-source through the metapackage", () => {
    const shown: string[] = [];
    const r = resolveSourcePackage((p): Record<string, string> => {
      shown.push(p);
      return p === 'linux-source'
        ? { Version: '7.2.13-1', Depends: 'linux-source-7.2 (= 7.2.13-1)' }
        : { Version: '7.2.13-1', Size: '164000000' };
    });
    expect(r).toEqual({ name: 'linux-source-7.2', version: '7.2.13-1', size: 164000000 });
    expect(shown).toEqual(['linux-source', 'linux-source-7.2']);
    expect(() => resolveSourcePackage(() => ({ Version: '1', Depends: 'linux-doc' }))).toThrow(
      /depends on no linux-source-<version>/,
    );
  });

  it('asks apt again only when its lists changed', () => {
    const shown: string[] = [];
    const apt = {
      show: (p: string): Record<string, string> => {
        shown.push(p);
        return p === 'linux-source'
          ? { Version: '7.2.14-1', Depends: 'linux-source-7.2 (= 7.2.14-1)' }
          : { Version: '7.2.14-1', Size: '1' };
      },
    };
    const lists = join(dir, 'apt', 'lists');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_sid_main_binary-amd64_Packages'), 'Package: a\n');
    const want = { name: 'linux-source-7.2', version: '7.2.14-1', size: 1 };
    expect(newestSource(apt, join(dir, 'apt'))).toEqual(want);
    expect(newestSource(apt, join(dir, 'apt'))).toEqual(want);
    expect(shown).toEqual(['linux-source', 'linux-source-7.2']);
    // An update that rewrote the lists: asked again.
    writeFileSync(
      join(lists, 'deb.debian.org_debian_dists_sid_main_binary-amd64_Packages'),
      'Package: a\nPackage: b\n',
    );
    expect(newestSource(apt, join(dir, 'apt'))).toEqual(want);
    expect(shown).toHaveLength(4);
  });
});

describe('kernelParameters', () => {
  const config = (o: Record<string, string>) => new Map<string, string | null>(Object.entries(o));
  it('a KASAN kernel reports every finding, and one that can run 5-level paging boots with 4 levels', () => {
    expect(kernelParameters(config({ KASAN: 'y', PGTABLE_LEVELS: '5' }))).toBe('kasan_multi_shot no5lvl');
    expect(kernelParameters(config({ KASAN: 'y', X86_5LEVEL: 'y' }))).toBe('kasan_multi_shot no5lvl');
    expect(kernelParameters(config({ KASAN: 'y', PGTABLE_LEVELS: '4' }))).toBe('kasan_multi_shot');
  });
  it('a kernel without KASAN needs nothing', () => {
    expect(kernelParameters(config({ PGTABLE_LEVELS: '5' }))).toBe('');
  });
});
