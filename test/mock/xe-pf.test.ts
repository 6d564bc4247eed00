// xe PF provisioning: sriov_admin, the debugfs tile layout and its legacy
// links, auto/custom provisioning, LMEM objects and their blocks (docs/kernel.md §9).
import { describe, expect, it } from 'vitest';
import { enableVfs, expectErrno, GiB, kmsg, MiB, mock, PF, PF_DIR, topology } from './helpers.js';

const ADMIN = `${PF_DIR}/sriov_admin`;
const DBG = `/sys/kernel/debug/dri/${PF}`;
const quota = (b: ReturnType<typeof mock>, vf: number) =>
  BigInt(b.fs.readText(`${ADMIN}/vf${vf}/profile/vram_quota`).trim());

describe('auto-provisioning', () => {
  it('splits free VRAM minus the spare fairly in 2 MiB steps when VFs are enabled, and releases it on disable', () => {
    const b = mock();
    expect(quota(b, 1)).toBe(0n);
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '3');
    // 16 GiB - 64 MiB PF reserve - 128 MiB spare = 16192 MiB; / 3 rounded down to 2 MiB
    const fair = ((16n * GiB - 192n * MiB) / 3n / (2n * MiB)) * (2n * MiB);
    expect(quota(b, 1)).toBe(fair);
    expect(quota(b, 3)).toBe(fair);
    expect(quota(b, 4)).toBe(0n);
    expect(b.fs.readText(`${DBG}/sriov/vf2/tile0/vram_quota`)).toBe(`${fair}\n`);
    expect(b.fs.readText(`${DBG}/sriov/pf/tile0/vram_provisioned`)).toBe(`${fair * 3n}\n`);
    expect(kmsg(b)).toContain(`PF: VF1..VF3 provisioned with ${fair}`);
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expect(quota(b, 1)).toBe(0n);
    expect(b.fs.readText(`${DBG}/sriov/pf/tile0/vram_provisioned`)).toBe('0\n');
  });

  it('a non-zero quota set before enabling blocks auto-provisioning: other VFs stay unprovisioned', () => {
    const b = mock();
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, String(GiB));
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    expect(quota(b, 1)).toBe(GiB);
    expect(quota(b, 2)).toBe(0n);
    const xe = b.kernel.platform.xePf(b.kernel.platform.pci.device(PF)!)!;
    expect(xe.lmemObj(1)?.size).toBe(GiB);
    expect(xe.lmemObj(2)).toBeNull();
  });
});

describe('quota writes', () => {
  it('parse with kstrtou64 (EINVAL), round up to 2 MiB, fail ENOSPC beyond free VRAM minus spare', () => {
    const b = mock();
    expectErrno(() => b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, '1G'), 'EINVAL');
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, '1000000');
    expect(quota(b, 1)).toBe(2n * MiB);
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, '0x40000000\n');
    expect(quota(b, 1)).toBe(GiB);
    expectErrno(() => b.fs.writeFile(`${ADMIN}/vf2/profile/vram_quota`, String(16n * GiB)), 'ENOSPC');
    // the debugfs file is the same quota
    b.fs.writeFile(`${DBG}/sriov/vf3/tile0/vram_quota`, String(4n * MiB));
    expect(quota(b, 3)).toBe(4n * MiB);
    // legacy path through the compatibility links: dri/0/gt0/vf3/lmem_quota
    expect(b.fs.readText('/sys/kernel/debug/dri/0/gt0/vf3/lmem_quota')).toBe(`${4n * MiB}\n`);
    expect(b.fs.readlink(`${DBG}/gt0`)).toBe('tile0/gt0');
    expect(b.fs.readlink(`${DBG}/tile0/gt0/vf3`)).toBe('../../sriov/vf3/tile0/gt0');
    expect(b.fs.readlink(`${DBG}/sriov/vf3/tile0/gt0/lmem_quota`)).toBe('../vram_quota');
  });

  it('a quota write replaces a referenced LMEM object (no EBUSY): the old one keeps its VRAM until put', () => {
    // pf_provision_vf_lmem (xe_gt_sriov_pf_config.c) releases the VF's object and allocates a new one;
    // nothing checks who else holds the old one.
    const b = mock();
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, String(GiB));
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1');
    const xe = b.kernel.platform.xePf(b.kernel.platform.pci.device(PF)!)!;
    const obj = xe.lmemObj(1)!;
    expect(obj.size).toBe(GiB);
    obj.get();
    const used = xe.vramUsed();
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, String(2n * GiB));
    expect(xe.lmemObj(1)).not.toBe(obj);
    expect(xe.lmemObj(1)!.size).toBe(2n * GiB);
    expect(b.kernel.live().lmemObjects).toBe(2); // the new one and the referenced old one
    expect(xe.vramUsed()).toBe(used + 2n * GiB); // the old one's VRAM is not given back
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expect(xe.lmemObj(1)).toBeNull();
    expect(b.kernel.live().lmemObjects).toBe(1); // unprovisioned but still referenced
    obj.put();
    expect(b.kernel.live().lmemObjects).toBe(0);
    obj.put(); // underflow: a WARN, not an exception
    expect(kmsg(b)).toContain('refcount_t: underflow; use-after-free.');
    expect(b.kernel.taint & (1 << 9)).not.toBe(0);
  });

  it('read-only debugfs attributes fail the write with EACCES; profile attributes parse', () => {
    const b = mock();
    const e = expectErrno(() => b.fs.writeFile(`${DBG}/sriov/pf/tile0/vram_provisioned`, '1'), 'EACCES');
    expect(e.syscall).toBe('write');
    // xe_sriov_pf_sysfs.c: only the PF's priority can change, only the PF may be 'high'; show lists the
    // choices with the current one in brackets (emit_choice).
    expect(b.fs.readText(`${ADMIN}/vf2/profile/sched_priority`)).toBe('[low] normal\n');
    expectErrno(() => b.fs.writeFile(`${ADMIN}/vf2/profile/sched_priority`, 'normal\n'), 'EACCES');
    b.fs.writeFile(`${ADMIN}/pf/profile/sched_priority`, 'high\n');
    expect(b.fs.readText(`${ADMIN}/pf/profile/sched_priority`)).toBe('low normal [high]\n');
    expectErrno(() => b.fs.writeFile(`${ADMIN}/pf/profile/sched_priority`, 'urgent'), 'EINVAL');
    expectErrno(() => b.fs.writeFile(`${ADMIN}/.bulk_profile/sched_priority`, 'high'), 'EINVAL');
    b.fs.writeFile(`${ADMIN}/.bulk_profile/sched_priority`, 'normal');
    expect(b.fs.readText(`${ADMIN}/vf2/profile/sched_priority`)).toBe('low [normal]\n');
    b.fs.writeFile(`${ADMIN}/.bulk_profile/exec_quantum_ms`, '20');
    expect(b.fs.readText(`${ADMIN}/vf24/profile/exec_quantum_ms`)).toBe('20\n');
    expectErrno(() => b.fs.readText(`${ADMIN}/.bulk_profile/exec_quantum_ms`), 'EACCES');
    b.fs.writeFile(`${ADMIN}/.bulk_profile/vram_quota`, String(64n * MiB));
    expect(quota(b, 24)).toBe(64n * MiB);
  });

  it('sriov_admin/vfN/device links to the VF while it exists', () => {
    const b = mock();
    enableVfs(b, 2, []);
    expect(b.fs.readlink(`${ADMIN}/vf2/device`)).toBe('../../../0000:03:00.2');
    expect(b.fs.readText(`${ADMIN}/vf2/device/vendor`)).toBe('0x8086\n');
    expect(b.fs.readlink(`${ADMIN}/pf/device`)).toBe(`../../../${PF}`);
    // and only while it exists: disabling the VFs takes the links away (xe_sriov_pf_sysfs_unlink_vfs)
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expect(b.fs.exists(`${ADMIN}/vf1`)).toBe(true);
    expectErrno(() => b.fs.readlink(`${ADMIN}/vf1/device`), 'ENOENT');
    expectErrno(() => b.fs.readlink(`${ADMIN}/vf2/device`), 'ENOENT');
  });
});

describe('LMEM objects and VRAM blocks', () => {
  it('a forced block size gives discontiguous objects; dpaAt follows the blocks', () => {
    const t = topology((t) => {
      t.devices[0]!.xe!.vramBlockSize = '0x200000';
    });
    const b = mock({ topology: t });
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, String(8n * MiB));
    const xe = b.kernel.platform.xePf(b.kernel.platform.pci.device(PF)!)!;
    const o = xe.lmemObj(1)!;
    expect(o.blocks).toHaveLength(4);
    for (const bl of o.blocks) expect(bl.size).toBe(2n * MiB);
    // drm_buddy hands out the highest free block first: each block lies below the previous one
    for (let i = 1; i < o.blocks.length; i++) expect(o.blocks[i]!.dpa).toBeLessThan(o.blocks[i - 1]!.dpa);
    expect(o.dpaAt(2n * MiB)).toBe(o.blocks[1]!.dpa);
    expect(o.dpaAt(2n * MiB - 8n)).toBe(o.blocks[0]!.dpa + 2n * MiB - 8n);
    expect(() => o.dpaAt(8n * MiB)).toThrow(RangeError);
  });

  it('VF BAR2 offset X reaches object offset X through the LMTT; beyond the quota reads all ones', () => {
    const t = topology((t) => {
      t.devices[0]!.xe!.vramBlockSize = '0x200000';
    });
    const b = mock({ topology: t });
    b.fs.writeFile(`${ADMIN}/vf1/profile/vram_quota`, String(4n * MiB));
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1');
    const k = b.kernel.platform;
    const xe = k.xePf(k.pci.device(PF)!)!;
    const vf = k.pci.device('0000:03:00.1')!;
    const bar2 = vf.bar(2)!.start;
    const data = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    k.bus.write(bar2 + 2n * MiB - 8n, data);
    const o = xe.lmemObj(1)!;
    expect(xe.vram.read(o.dpaAt(2n * MiB - 8n), 8)).toEqual(data.subarray(0, 8));
    expect(xe.vram.read(o.dpaAt(2n * MiB), 8)).toEqual(data.subarray(8));
    expect(k.bus.read(bar2 + 4n * MiB, 4)).toEqual(Uint8Array.from([0xff, 0xff, 0xff, 0xff]));
    k.bus.write(bar2 + 4n * MiB, Uint8Array.from([1, 2, 3, 4]));
    expect(k.bus.read(bar2 + 4n * MiB, 4)).toEqual(Uint8Array.from([0xff, 0xff, 0xff, 0xff]));
    expect(k.bus.classify(bar2)).toBe('mmio');
    expect(k.bus.classify(0x200000000n)).toBe('ram');
    expect(k.bus.classify(0x90000000_00n)).toBe('none');
  });
});

describe('provisioning interfaces', () => {
  it('debugfs-only kernels have no sriov_admin; legacy kernels have real gtN/vfN files', () => {
    const dbg = mock({ topology: topology((t) => (t.devices[0]!.xe!.provisioning = 'debugfs')) });
    expect(dbg.fs.exists(ADMIN)).toBe(false);
    dbg.fs.writeFile(`${DBG}/sriov/vf1/tile0/vram_quota`, String(GiB));
    expect(dbg.fs.readText('/sys/kernel/debug/dri/0/gt0/vf1/lmem_quota')).toBe(`${GiB}\n`);

    const legacy = mock({ topology: topology((t) => (t.devices[0]!.xe!.provisioning = 'legacy')) });
    expect(legacy.fs.exists(ADMIN)).toBe(false);
    expect(legacy.fs.exists(`${DBG}/sriov`)).toBe(false);
    expect(legacy.fs.lstat(`${DBG}/gt0/vf1/lmem_quota`).kind).toBe('file');
    legacy.fs.writeFile('/sys/kernel/debug/dri/0/gt0/vf1/lmem_quota', String(GiB));
    expect(legacy.fs.readText(`${DBG}/gt0/vf1/lmem_quota`)).toBe(`${GiB}\n`);
    // No custom mode on these kernels: enabling provisions every VF fairly, over what was set before
    // (xe_pci_sriov.c pf_provision_vfs); the fair share is taken from the VRAM free at that moment.
    legacy.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    const fair = ((16n * GiB - 192n * MiB - GiB) / 2n / (2n * MiB)) * (2n * MiB);
    expect(legacy.fs.readText(`${DBG}/gt0/vf1/lmem_quota`)).toBe(`${fair}\n`);
    expect(legacy.fs.readText(`${DBG}/gt0/vf2/lmem_quota`)).toBe(`${fair}\n`);
    const xe = legacy.kernel.platform.xePf(legacy.kernel.platform.pci.device(PF)!)!;
    expect(xe.liveLmemObjects()).toBe(2);
  });

  it('a VF FLR (vfio open) clears the VF LMEM', () => {
    const b = mock();
    enableVfs(b, 1);
    const k = b.kernel.platform;
    const xe = k.xePf(k.pci.device(PF)!)!;
    const dpa = xe.lmemObj(1)!.dpaAt(0n);
    xe.vram.write(dpa, Uint8Array.from([9, 9, 9, 9]));
    const d = b.dev;
    const c = d.open('/dev/vfio/vfio', 2);
    const g = d.open(`/dev/vfio/14`, 2);
    d.vfioGroupSetContainer(g, c);
    d.vfioSetIommu(c, 3);
    d.vfioGroupGetDeviceFd(g, '0000:03:00.1');
    expect(xe.vram.read(dpa, 4)).toEqual(new Uint8Array(4));
    expect(kmsg(b)).toContain('vfio-pci 0000:03:00.1: resetting');
  });
});
