// `iovh qemu` bad input: one line on stderr, exit 2, nothing built, booted or
// left behind; the user's tree untouched. None of these reach a compiler or QEMU.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { iovh } from './run-cli.js';
import { bzImageProblem, embeddedConfig } from '../../src/qemu/image.js';
import { combineExitCodes, guestExitCode, reportPathFor } from '../../src/cli/commands/qemu.js';
import { requiredBuiltins, resolveVariants } from '../../src/qemu/run.js';

const dir = mkdtempSync(join(tmpdir(), 'iovh-qemu-usage-'));
const cache = join(dir, 'cache');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An x86 boot header (Documentation/arch/x86/boot.rst), then `payload`. */
function fakeBzImage(name: string, payload: Buffer = Buffer.alloc(0)): string {
  const head = Buffer.alloc(0x400);
  head.writeUInt16LE(0xaa55, 0x1fe);
  head.write('HdrS', 0x202, 'latin1');
  head.writeUInt16LE(0x020f, 0x206);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([head, payload]));
  return file;
}

function ikconfig(text: string): Buffer {
  return Buffer.concat([Buffer.from('IKCFG_ST'), gzipSync(text), Buffer.from('IKCFG_ED')]);
}

const tree = join(dir, 'tree');
const files: Record<string, string> = {
  Makefile: 'VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 13\n',
  Kconfig: '',
  'arch/x86/Kconfig': '',
  'scripts/kconfig/conf.c': '',
  'kernel/configs/tiny.config': '',
  'drivers/vfio/pci.c': 'line one\nline two\nline three\n',
};
for (const [f, text] of Object.entries(files)) {
  mkdirSync(join(tree, f, '..'), { recursive: true });
  writeFileSync(join(tree, f), text);
}
const stale = join(dir, '0001-stale.patch');
writeFileSync(
  stale,
  '--- a/drivers/vfio/pci.c\n+++ b/drivers/vfio/pci.c\n@@ -1,3 +1,3 @@\n line one\n-line 2 from another tree\n+line TWO\n line three\n',
);
mkdirSync(join(dir, 'notatree'));
writeFileSync(join(dir, 'notatree', 'Makefile'), 'all:\n\ttrue\n');
const notImage = join(dir, 'vmlinux.txt');
writeFileSync(notImage, 'this is not a kernel\n'.repeat(100));
const noConfig = fakeBzImage('bzImage-noconfig');
const partial = 'CONFIG_PCI=y\nCONFIG_VFIO=m\n';
const embedded = fakeBzImage('bzImage-ikconfig', ikconfig(partial));
// The config inside a compressed payload, followed by what a bzImage has after it.
const compressed = fakeBzImage(
  'bzImage-gz',
  Buffer.concat([
    gzipSync(Buffer.concat([Buffer.alloc(64), ikconfig(partial)])),
    Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]),
  ]),
);
const dotConfig = join(dir, 'dot.config');
writeFileSync(dotConfig, partial);
writeFileSync(join(dir, 'mod.txt'), 'x');

describe('iovh qemu: bad input is one line, exit 2, before anything is built', () => {
  it.each([
    [
      ['--kernel', noConfig, '--kernel-tree', tree],
      /^iovh: --kernel \(a prebuilt bzImage\) and --kernel-tree .* exclude each other\n$/,
    ],
    [['--kernel', noConfig, '--patches', stale], /^iovh: --patches needs a kernel to build/],
    [['--variant', 'e1000'], /^iovh: --variant: unknown variant 'e1000' \(choose from .*\) \(or igb, nvme\)\n$/],
    [['--guest-timeout', '5'], /^iovh: --guest-timeout must be a whole number of seconds from 60 to 86400, got '5'\n$/],
    [['--jobs', '0'], /^iovh: --jobs must be 1 to 1024, got '0'\n$/],
    [['--timeout', 'soon'], /^iovh: --timeout must be a number of seconds/],
    [['--filter', 'a,b'], /^iovh: --filter 'a,b': a guest's filter cannot hold whitespace, commas or quotes\n$/],
    [['--insmod', join(dir, 'mod.txt')], /^iovh: --insmod .*mod\.txt: not a kernel module \(\.ko\)\n$/],
    [['--insmod', join(dir, 'gone.ko')], /^iovh: --insmod .*gone\.ko: no such file\n$/],
    [['--json', '-', '--ktap', '-'], /^iovh: only one report can go to stdout \(-\)\n$/],
    [['--variant', 'all', '--json', '-'], /^iovh: --json -: with several variants each report needs its own file\n$/],
    [['--device', 'gpu'], /^iovh: --device gpu: unknown device 'gpu' \(choose from mock-gpu\)\n$/],
    [['--device', 'mock-gpu,total-vfs'], /^iovh: --device mock-gpu,total-vfs: 'total-vfs' is not a property=value\n$/],
    [['--device', 'mock-gpu,bus=pcie.0'], /^iovh: --device mock-gpu,bus=pcie.0: 'bus' is iovh's to set/],
    [
      ['--device', 'mock-gpu,translation=v2'],
      /^iovh: --device mock-gpu,translation=v2: translation must be one of rfc-v1, fixed\n$/,
    ],
    [
      ['--device', 'mock-gpu', '--variant', 'igb'],
      /^iovh: --device mock-gpu is a machine of its own \(mock-gpu-intel-iommu\): drop --variant\n$/,
    ],
    [
      ['--device', 'mock-gpu', '--kernel', embedded],
      /^iovh: --device mock-gpu builds its PF driver and the stand-in importer against the kernel: use a kernel built from source, not --kernel\n$/,
    ],
    [
      ['--qemu-patches', stale],
      /^iovh: --qemu-patches patches the QEMU that iovh builds for --device: give --device mock-gpu\n$/,
    ],
    [
      ['--device', 'mock-gpu', '--qemu-patches', join(dir, 'gone')],
      /^iovh: --qemu-patches .*gone: no such file or directory\n$/,
    ],
    [['--build-only', '--kernel', noConfig], /^iovh: --build-only builds a kernel: it does not take --kernel\n$/],
    [['--kernel-tree', join(dir, 'nope')], /^iovh: .*nope: no such directory\n$/],
    [
      ['--kernel-tree', join(dir, 'notatree')],
      /^iovh: .*notatree is not a kernel source tree \(its Makefile sets no VERSION and PATCHLEVEL\)\n$/,
    ],
    [['--kernel', notImage], /^iovh: .*vmlinux\.txt is not a bzImage \(no x86 boot header/],
    [['--kernel', join(dir, 'missing-bzImage')], /^iovh: .*missing-bzImage: no such file\n$/],
    [
      ['--kernel', noConfig],
      /^iovh: .*bzImage-noconfig carries no config \(built without CONFIG_IKCONFIG\): pass its \.config with --config\n$/,
    ],
    [
      ['--kernel', embedded],
      /^iovh: .*bzImage-ikconfig cannot run the guest: its config \(.*embedded, CONFIG_IKCONFIG\) lacks, built in \(=y; the guest loads no modules\): .*CONFIG_VFIO \(m\).*CONFIG_VFIO_PCI \(unset\)/,
    ],
    [['--kernel', compressed], /^iovh: .*bzImage-gz cannot run the guest: .*CONFIG_IGB \(unset\)/],
    [
      ['--kernel', noConfig, '--config', dotConfig],
      /^iovh: .*cannot run the guest: its config \(.*dot\.config\) lacks/,
    ],
  ])('%j', async (args, message) => {
    const r = await iovh('qemu', '--kernel-cache', cache, ...args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
  });

  it('a patch that does not apply names patch, file and hunk; the tree and the cache keep nothing of it', async () => {
    const r = await iovh('qemu', '--kernel-cache', cache, '--kernel-tree', tree, '--patches', stale);
    expect(r.stderr.trim().split('\n').pop()).toBe(
      'iovh: patch 0001-stale.patch does not apply: drivers/vfio/pci.c hunk #1 (at line 1)',
    );
    expect(r.code).toBe(2);
    expect(readFileSync(join(tree, 'drivers/vfio/pci.c'), 'utf8')).toBe(files['drivers/vfio/pci.c']);
    expect(readdirSync(tree).sort()).toEqual(['Kconfig', 'Makefile', 'arch', 'drivers', 'kernel', 'scripts']);
    const builds = join(cache, 'builds');
    expect(existsSync(builds) ? readdirSync(builds).filter((n) => !n.endsWith('.lock')) : []).toEqual([]);
  });
});

describe('iovh qemu pieces', () => {
  it('tells a bzImage from other files, and finds its embedded config', () => {
    expect(bzImageProblem(embedded)).toBeNull();
    expect(bzImageProblem(notImage)).toMatch(/not a bzImage/);
    const tiny = join(dir, 'tiny');
    writeFileSync(tiny, 'x');
    expect(bzImageProblem(tiny)).toMatch(/too small/);
    expect(bzImageProblem(dir)).toMatch(/not a regular file/);
    expect(embeddedConfig(embedded)).toBe(partial);
    expect(embeddedConfig(compressed)).toBe(partial);
    expect(embeddedConfig(noConfig)).toBeNull();
  });

  it('maps --variant shorthands and names report files per variant', () => {
    expect(resolveVariants(['igb']).map((v) => v.name)).toEqual(['igb-intel-iommu']);
    expect(resolveVariants(['nvme', 'igb', 'igb-intel-iommu']).map((v) => v.name)).toEqual([
      'nvme-virtio-iommu',
      'igb-intel-iommu',
    ]);
    expect(resolveVariants(['ivshmem']).map((v) => v.name)).toEqual(['igb-ivshmem-intel-iommu']);
    expect(resolveVariants(['igb-switch']).map((v) => v.name)).toEqual(['igb-switch-intel-iommu']);
    expect(resolveVariants(['igb-switch-vfio']).map((v) => v.name)).toEqual(['igb-switch-vfio-intel-iommu']);
    expect(resolveVariants(['all'])).toHaveLength(7);
    expect(reportPathFor('out/run.json', 'igb-intel-iommu', false)).toBe('out/run.json');
    expect(reportPathFor('out/run.json', 'igb-intel-iommu', true)).toBe('out/run.igb-intel-iommu.json');
    expect(reportPathFor('report', 'nvme-virtio-iommu', true)).toBe('report.nvme-virtio-iommu');
  });

  it('asks a prebuilt kernel for what each machine needs built in', () => {
    const igb = requiredBuiltins(resolveVariants(['igb']));
    expect(igb).toContain('INTEL_IOMMU');
    expect(igb).toContain('IGB');
    expect(igb).not.toContain('BLK_DEV_NVME');
    expect(requiredBuiltins(resolveVariants(['nvme']))).toEqual(
      expect.arrayContaining(['VIRTIO_IOMMU', 'BLK_DEV_NVME']),
    );
  });

  it('exits like iovh run when the guest reached its verdict, 1 when it did not', () => {
    expect(guestExitCode('pass', 0)).toBe(0);
    expect(guestExitCode('pass', 77)).toBe(77);
    expect(guestExitCode('fail', 1)).toBe(1);
    // The run passed but the kernel complained outside any scenario (a WARN at boot): the guest failed.
    expect(guestExitCode('fail', 0)).toBe(1);
    for (const s of ['panic', 'hang', 'silent', 'crash', 'error']) expect(guestExitCode(s, 0)).toBe(1);
    expect(guestExitCode('pass', null)).toBe(1);
    expect(combineExitCodes([0, 77])).toBe(0);
    expect(combineExitCodes([77, 77])).toBe(77);
    expect(combineExitCodes([0, 1])).toBe(1);
    expect(combineExitCodes([])).toBe(0);
  });
});
