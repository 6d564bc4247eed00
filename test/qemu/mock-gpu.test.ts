// The mock-GPU QEMU build and guest check, without building or booting
// anything: the patch series, the cache key, how a patch that does not apply
// is reported, and how a guest's console is judged.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BAD_PROPERTIES, checkBadProperties, judgeBoot } from '../../scripts/qemu-ci/mock-gpu.mjs';
import {
  CONFIGURE_ARGS,
  DEFAULT_PATCHES,
  applyPatches,
  buildKey,
  seriesFiles,
} from '../../scripts/qemu-ci/qemu-build.mjs';
import { MOCK_GPU_VARIANT } from '../../scripts/qemu-ci/variants.mjs';
import { deviceProblem, deviceVariants } from '../../src/qemu/run.js';
import { scratchDir } from '../support/scratch.js';

describe('qemu-build', () => {
  it('reads the series in its order, every patch present', () => {
    const files = seriesFiles(DEFAULT_PATCHES).map((f) => f.slice(DEFAULT_PATCHES.length + 1));
    expect(files).toHaveLength(5);
    expect(files[0]).toMatch(/^0001-meson/);
    expect(files[2]).toMatch(/^0003-configs/);
    expect(files[3]).toMatch(/^0004-pcie_sriov/);
    expect(files[4]).toMatch(/^0005-hw-misc-iovh-mock-gpu/);
  });

  it('builds x86_64-softmmu only, without default devices, with the device set of the series', () => {
    expect(CONFIGURE_ARGS).toContain('--target-list=x86_64-softmmu');
    expect(CONFIGURE_ARGS).toContain('--without-default-devices');
    expect(CONFIGURE_ARGS).toContain('--with-devices-x86_64=iovh');
    const configs = readFileSync(seriesFiles(DEFAULT_PATCHES)[2], 'utf8');
    expect(configs).toContain('configs/devices/x86_64-softmmu/iovh.mak');
    const device = readFileSync(seriesFiles(DEFAULT_PATCHES)[4], 'utf8');
    expect(device).toContain('+CONFIG_IOVH_MOCK_GPU=y');
  });

  it('keys a build by the patch texts and the compiler', () => {
    const dir = scratchDir('iovh-qemu-key-');
    const patches = seriesFiles(DEFAULT_PATCHES).map((f, i) => {
      const copy = join(dir, `${i}.patch`);
      writeFileSync(copy, readFileSync(f));
      return copy;
    });
    const key = buildKey(patches, 'gcc 12');
    expect(key).toMatch(/^[0-9a-f]{20}$/);
    expect(buildKey(patches, 'gcc 12')).toBe(key);
    expect(buildKey(patches, 'gcc 13')).not.toBe(key);
    writeFileSync(patches[4], `${readFileSync(patches[4], 'utf8')}\n`);
    expect(buildKey(patches, 'gcc 12')).not.toBe(key);
    expect(buildKey(patches.slice(0, 4), 'gcc 12')).not.toBe(key);
  });

  it('names the patch, file and hunk that do not apply', () => {
    const dir = scratchDir('iovh-qemu-patch-');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'hw'), { recursive: true });
    writeFileSync(join(tree, 'hw', 'a.c'), 'one\ntwo\nthree\n');
    const good = join(dir, '0001-good.patch');
    writeFileSync(good, '--- a/hw/a.c\n+++ b/hw/a.c\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n');
    const bad = join(dir, '0002-bad.patch');
    writeFileSync(bad, '--- a/hw/a.c\n+++ b/hw/a.c\n@@ -1,3 +1,3 @@\n uno\n-dos\n+DOS\n tres\n');
    applyPatches(tree, [good]);
    expect(readFileSync(join(tree, 'hw', 'a.c'), 'utf8')).toBe('one\nTWO\nthree\n');
    expect(() => applyPatches(tree, [bad])).toThrow(
      /0002-bad\.patch does not apply to qemu 10\.0\.2: hw\/a\.c hunk #1/,
    );
    expect(() => applyPatches(tree, [good])).toThrow(/0001-good\.patch .*already applied/);
  });

  it('refuses a series that names a missing patch', () => {
    const dir = scratchDir('iovh-qemu-series-');
    writeFileSync(join(dir, 'series'), '0001-a.patch\n');
    expect(() => seriesFiles(dir)).toThrow(/names 0001-a\.patch, which is not in/);
  });
});

describe('mock-gpu guest verdict', () => {
  const clean = [
    'MOCKGPU-PF 0000:01:00.0 0x8086:0xe20b totalvfs=4 offset=253 stride=1',
    'MOCKGPU-VF 1 0000:01:1f.5 blocks=[33 32 34] quota=3145728',
    'ok 1 - VF 0000:01:1f.5 BAR 2: 16777216 bytes, mmap-able (flags 0xf)',
    'MOCKGPU-VF 2 0000:01:1f.6 blocks=[] quota=0',
    'MOCKGPU-VF 3 0000:01:1f.7 blocks=[0] quota=1048576',
    'MOCKGPU-VF 4 0000:02:00.0 blocks=[1 2 3] quota=3145728',
    'LMEM-CHECK PASS',
    'MOCKGPU-DONE rc=0',
  ];

  it('passes a clean run with VF 4 on the next bus', () => {
    const r = judgeBoot(clean.join('\n'));
    expect(r.filter((x) => !x.ok)).toEqual([]);
    expect(r.map((x) => x.name)).toContain('VF 0000:01:1f.5 BAR 2: 16777216 bytes, mmap-able (flags 0xf)');
  });

  it('fails on a failed check, a kernel splat, a missing end, or VFs all on one bus', () => {
    const failedNames = (log: string[]) =>
      judgeBoot(log.join('\n'))
        .filter((x) => !x.ok)
        .map((x) => x.name);
    expect(failedNames([...clean, 'not ok 2 - as provisioned: PF block 33 first page -> VF slot 0: differ'])).toEqual([
      'as provisioned: PF block 33 first page -> VF slot 0: differ',
    ]);
    expect(
      failedNames(['MOCKGPU-STEP insmod', '[  3.1] BUG: KASAN: slab-out-of-bounds in mgpu_probe', ...clean])[0],
    ).toMatch(/kernel log clean/);
    expect(failedNames(clean.slice(0, -1))).toEqual(['guest finished']);
    expect(failedNames(clean.map((l) => l.replace(' 0000:02:', ' 0000:01:')))[0]).toMatch(/bus after the PF/);
  });

  it('reports what the kernel said while booting, before the test, as a note', () => {
    const r = judgeBoot(
      ['[  0.5] BUG: KASAN: wild-memory-access in do_raw_spin_lock', 'MOCKGPU-STEP insmod', ...clean].join('\n'),
    );
    expect(r.filter((x) => !x.ok)).toEqual([]);
    expect(r.find((x) => x.note)?.detail).toMatch(/wild-memory-access/);
  });

  it('expects QEMU to refuse each bad property set with words of its own message', () => {
    for (const b of BAD_PROPERTIES) expect(b.says.length).toBeGreaterThan(5);
    expect(new Set(BAD_PROPERTIES.map((b) => b.device)).size).toBe(BAD_PROPERTIES.length);
  });
});

describe('asking QEMU about the device (one probe: the CI check and iovh qemu --device)', () => {
  // A stand-in for qemu-system-x86_64: refuses lmem-size=48M with QEMU's words; accepts the rest and then, as
  // QEMU paused by -S, runs until its monitor says quit (-monitor stdio), else 3 s more.
  const fakeQemu = (): string => {
    const f = join(scratchDir('iovh-fake-qemu-'), 'qemu-system-x86_64');
    writeFileSync(
      f,
      [
        '#!/bin/sh',
        'for a in "$@"; do case "$a" in *lmem-size=48M*)',
        '  echo "qemu-system-x86_64: -device $a: iovh-mock-gpu: lmem-size=0x3000000 must be a power of two" >&2; exit 1;;',
        'esac; done',
        'while read -r l; do [ "$l" = quit ] && exit 0; done',
        'sleep 3',
        '',
      ].join('\n'),
    );
    chmodSync(f, 0o755);
    return f;
  };

  it("returns QEMU's reason without its prefix, or null; an accepted machine is told to quit", () => {
    const qemu = fakeQemu();
    const t0 = Date.now();
    expect(deviceProblem(qemu, { ...MOCK_GPU_VARIANT, deviceProps: { 'lmem-size': '48M' } })).toBe(
      'iovh-mock-gpu: lmem-size=0x3000000 must be a power of two',
    );
    expect(deviceProblem(qemu, MOCK_GPU_VARIANT)).toBeNull();
    const bad = checkBadProperties(qemu);
    expect(bad.find((b) => b.name === 'lmem-size not a power of two')).toEqual({
      name: 'lmem-size not a power of two',
      ok: true,
      detail: 'iovh-mock-gpu: lmem-size=0x3000000 must be a power of two',
    });
    // The others this stand-in accepts: failures, at once (not a paused QEMU waiting on nobody).
    expect(bad.filter((b) => !b.ok).map((b) => b.detail)).toEqual(
      Array(BAD_PROPERTIES.length - 1).fill('QEMU started'),
    );
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});

describe('--device mock-gpu,translation=...: a setting of the PF driver, not of QEMU', () => {
  it('becomes the module parameter /init hands to insmod, and no QEMU property', () => {
    const [v] = deviceVariants('mock-gpu,block-size=1M,translation=fixed');
    expect(v).toMatchObject({ deviceProps: { 'block-size': '1M' }, moduleParams: ['iovh_mock_gpu.translation=fixed'] });
    expect(deviceVariants('mock-gpu')[0]).not.toHaveProperty('moduleParams');
  });
});
