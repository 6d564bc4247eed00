// The guest program of `iovh qemu` (src/qemu/guest.ts): its arguments, and
// how the harness's results become the steps the host's verdict reads.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unexplained } from '../../scripts/qemu-ci/windows.mjs';
import { bindExtras, parseGuestArgs, shapeBaseline } from '../../src/qemu/guest.js';
import { guestLine, guestOutcome } from '../../src/cli/commands/qemu.js';
import { fromHarness } from '../../src/qemu/steps.js';

describe('iovh qemu guest program', () => {
  it('takes --name value pairs from /init, --filter repeatable', () => {
    expect(
      parseGuestArgs([
        '--out',
        '/run/iovh-results/results.json',
        '--nonce',
        'abc',
        '--variant',
        'igb-intel-iommu',
        '--numvfs',
        '2',
        '--repo',
        '/work/iovh',
        '--filter',
        'export/*',
        '--filter',
        '!export/whole-bar',
        '--timeout',
        '30',
      ]),
    ).toEqual({
      out: '/run/iovh-results/results.json',
      nonce: 'abc',
      variant: 'igb-intel-iommu',
      numvfs: 2,
      filters: ['export/*', '!export/whole-bar'],
      timeout: '30',
    });
    expect(() => parseGuestArgs(['--out', 'x', '--nonce'])).toThrow(/expected --name value pairs/);
    expect(() => parseGuestArgs(['--out', 'x', '--nonce', 'n'])).toThrow('missing --variant');
    expect(() => parseGuestArgs(['--out', 'x', '--nonce', 'n', '--variant', 'v', '--numvfs', '0'])).toThrow(
      /--numvfs must be a positive integer/,
    );
  });

  it('keeps the harness status, path and errno; a timeout fails', () => {
    const s = {
      id: 'lifecycle/revoke-on-reset',
      title: 'reset revokes',
      status: 'warn',
      path: null,
      reason: 'kernel complained: BUG: KASAN: slab-use-after-free in get_file_active+0x4a/0xe0',
      error: null,
      durationMs: 1234.56,
    };
    expect(fromHarness(s)).toEqual({
      id: 'run:lifecycle/revoke-on-reset',
      title: 'reset revokes',
      status: 'warn',
      path: null,
      errno: null,
      detail: s.reason,
      ms: 1234.6,
    });
    const refused = fromHarness({
      ...s,
      id: 'import/non-p2p-importer',
      status: 'fail',
      path: 'refused',
      reason: 'EINVAL at import',
      error: { code: 'EINVAL' },
    });
    expect([refused.status, refused.path, refused.errno]).toEqual(['fail', 'refused', 'EINVAL']);
    expect(fromHarness({ ...s, status: 'timeout', reason: 'ran 60 s' })).toMatchObject({
      status: 'fail',
      detail: 'timeout: ran 60 s',
    });
  });
});

describe('the extra devices of a variant (ivshmem for the rfc/* scenarios)', () => {
  /** A fixture /sys/bus/pci: one ivshmem function, one other; drivers_probe "binds" by making the driver link. */
  function fixture(bound: string | null) {
    const root = mkdtempSync(join(tmpdir(), 'iovh-test-extras-'));
    const sys = join(root, 'devices');
    for (const [bdf, vendor, device] of [
      ['0000:00:00.0', '0x8086', '0x29c0'],
      ['0000:02:00.0', '0x1af4', '0x1110'],
    ] as const) {
      mkdirSync(join(sys, bdf), { recursive: true });
      writeFileSync(join(sys, bdf, 'vendor'), `${vendor}\n`);
      writeFileSync(join(sys, bdf, 'device'), `${device}\n`);
      writeFileSync(join(sys, bdf, 'driver_override'), '(null)\n');
    }
    mkdirSync(join(root, 'drivers', 'vfio-pci'), { recursive: true });
    writeFileSync(join(root, 'drivers_probe'), '');
    if (bound) symlinkSync(join(root, 'drivers', bound), join(sys, '0000:02:00.0', 'driver'));
    return { root, sys };
  }

  it('binds ivshmem to vfio-pci by driver_override and drivers_probe with its address', () => {
    const { root, sys } = fixture(null);
    try {
      const r = bindExtras(['ivshmem'], sys);
      expect(readFileSync(join(sys, '0000:02:00.0', 'driver_override'), 'utf8')).toBe('vfio-pci');
      expect(readFileSync(join(root, 'drivers_probe'), 'utf8')).toBe('0000:02:00.0');
      // The fixture's probe binds nothing: said, not taken for a bind.
      expect(r.bound).toEqual([]);
      expect(r.problems).toEqual(['0000:02:00.0 (ivshmem): bound to no driver after the probe, not vfio-pci']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('leaves a function already on vfio-pci alone, and names a missing device', () => {
    const { root, sys } = fixture('vfio-pci');
    try {
      expect(bindExtras(['ivshmem'], sys)).toEqual({ bound: ['0000:02:00.0 (ivshmem) on vfio-pci'], problems: [] });
      expect(readFileSync(join(root, 'drivers_probe'), 'utf8')).toBe('');
      rmSync(join(sys, '0000:02:00.0'), { recursive: true });
      expect(bindExtras(['ivshmem'], sys).problems).toEqual(['no ivshmem function (1af4:1110)']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("judges by the shipped baseline of the kernel's shape; none for an unknown shape", () => {
    const v1 = ['ffffffff81000000 T dma_buf_map_interconnect', 'ffffffff81000100 T dma_buf_match_interconnects'];
    const b = shapeBaseline(`${v1.join('\n')}\n`, '7.2.13');
    expect(b?.shape).toBe('rfc-v1');
    expect(b?.path).toMatch(/baselines\/rfc-v1\.json$/);
    expect(shapeBaseline(null, null)).toBeNull();
  });
});

describe('what a guest run does not explain', () => {
  const window = (complaints: string[]) => ({ log: [], cleanliness: { kernelComplaints: complaints } });
  it('a failed bring-up step, or a kernel report outside every scenario window', () => {
    const run = { scenarios: [window(['[   88.100000] Oops: general protection fault, probably for non-canonical'])] };
    const steps = [
      { id: 'qemu.vfs-enable', status: 'pass' },
      { id: 'run:rfc/closed-device', status: 'crash' },
    ];
    expect(
      unexplained(steps, ['[   88.100000] Oops: general protection fault, probably for non-canonical'], run),
    ).toEqual([]);
    expect(
      unexplained([...steps, { id: 'qemu.bind-extras', status: 'fail' }], ['WARNING: CPU: 0 PID: 1 at boot'], run),
    ).toEqual([
      'guest step qemu.bind-extras: fail',
      'kernel report outside any scenario: WARNING: CPU: 0 PID: 1 at boot',
    ]);
  });
});

describe("a guest's line and exit status", () => {
  it("says PASS when the host failed it for failures the run's baseline expects, as the exit status does", () => {
    // The rfc-v1 kernel's known defects: the host's verdict fails the guest, the run's baseline expects them all.
    expect(guestOutcome('fail', 0, [])).toEqual({ code: 0, shown: 'PASS', expected: true });
    // ... and the run skipped every scenario: SKIP, as its exit status 77 says.
    expect(guestOutcome('fail', 77, [])).toEqual({ code: 77, shown: 'SKIP', expected: true });
    // The baseline does not expect everything: the run's own exit status, and FAIL.
    expect(guestOutcome('fail', 1, [])).toEqual({ code: 1, shown: 'FAIL', expected: true });
    // Something no baseline speaks for: the host's verdict stands.
    expect(guestOutcome('fail', 0, ['guest step qemu.bind: fail'])).toEqual({
      code: 1,
      shown: 'FAIL',
      expected: false,
    });
    // Not asked: as guestExitCode, the status word as the host gave it.
    expect(guestOutcome('pass', 0, null)).toEqual({ code: 0, shown: 'PASS', expected: false });
    expect(guestOutcome('panic', null, null)).toEqual({ code: 1, shown: 'PANIC', expected: false });
    expect(guestOutcome('fail', null, null)).toEqual({ code: 1, shown: 'FAIL', expected: false });
  });

  it('says SKIP, never PASS, when the run skipped every scenario (exit 77) and only the bring-up steps passed', () => {
    // The default KASAN kernel on the mock GPU: the six edge/* skip naming upstream-7.1, the host's verdict passes
    // the guest on its qemu.* steps.
    const outcome = guestOutcome('pass', 77, null);
    expect(outcome).toEqual({ code: 77, shown: 'SKIP', expected: false });
    const boot = {
      variant: 'mock-gpu-intel-iommu',
      reason: '5 scenarios passed',
      verdictSeconds: 60.5,
      wallSeconds: 70,
    };
    expect(guestLine(boot, '7.2.13', outcome)).toBe(
      "qemu mock-gpu-intel-iommu: kernel 7.2.13, SKIP (verdict at 60.5 s, wall 70.0 s): every scenario of the run was skipped: nothing was validated (the host's verdict, which counts the guest's bring-up steps: 5 scenarios passed)",
    );
    // A failed guest whose run skipped everything still fails (guestExitCode: 1).
    expect(guestOutcome('fail', 77, null)).toEqual({ code: 1, shown: 'FAIL', expected: false });
  });
});

describe("README's rfc-v1 sample", () => {
  it("shows the guest's line as iovh prints it for that run (the host failed it, the baseline expects every failure, exit 0)", () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const m =
      /^qemu (igb-ivshmem-intel-iommu): kernel (\S+), \w+ \(verdict at ([\d.]+) s, wall ([\d.]+) s\): every failure is expected by the run's baseline \(the host's verdict: (4 scenario\(s\) failed: .*)\)$/m.exec(
        readme,
      );
    expect(m, 'the sample line').not.toBeNull();
    const [line, variant, release, verdict, wall, reason] = m as unknown as string[];
    const boot = { variant: variant!, reason: reason!, verdictSeconds: Number(verdict), wallSeconds: Number(wall) };
    expect(guestLine(boot, release!, guestOutcome('fail', 0, []))).toBe(line);
  });
});
