// PCI, SR-IOV and driver binding through sysfs (docs/kernel.md §9;
// drivers/pci/iov.c, drivers/base/bus.c, drivers/pci/pci-driver.c).
import { describe, expect, it } from 'vitest';
import { enableVfs, expectErrno, GiB, groupOf, kmsg, mock, PF, PF_DIR, topology, VF0, VF1 } from './helpers.js';

describe('sriov_numvfs', () => {
  it('creates and removes VFs with virtfnN (0-based) and physfn links', () => {
    const b = mock();
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '3\n');
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('3\n');
    expect(b.fs.readlink(`${PF_DIR}/virtfn0`)).toBe(`../${VF0}`);
    expect(b.fs.readlink(`${PF_DIR}/virtfn2`)).toBe('../0000:03:00.3');
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF0}/physfn`)).toBe(`../${PF}`);
    expect(b.fs.readText(`/sys/bus/pci/devices/${VF1}/device`)).toBe('0xe20b\n');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}`)).toBe(false);
    expect(b.fs.exists(`${PF_DIR}/virtfn0`)).toBe(false);
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('0\n');
  });

  it('has the kernel errno: EINVAL parse, ERANGE > totalvfs, EBUSY with another count, ENOENT without a driver', () => {
    const b = mock();
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, 'two'), 'EINVAL');
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '-1'), 'EINVAL');
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '70000'), 'EINVAL'); // kstrtou16 overflow is reported as EINVAL
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '25'), 'ERANGE');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2'); // same count: no-op success
    const e = expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '4'), 'EBUSY');
    expect(e.syscall).toBe('write');
    expect(e.path).toBe(`${PF_DIR}/sriov_numvfs`);
    expect(kmsg(b)).toContain('2 VFs already enabled. Disable before enabling 4 VFs');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    b.fs.writeFile(`/sys/bus/pci/drivers/xe/unbind`, PF);
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1'), 'ENOENT');
    expect(kmsg(b)).toContain('no driver bound to device; cannot configure SR-IOV');
  });

  it('read-only attributes refuse an open for write with EACCES', () => {
    const b = mock();
    const e = expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_totalvfs`, '4'), 'EACCES');
    expect(e.syscall).toBe('open');
    expect(b.fs.readText(`${PF_DIR}/sriov_totalvfs`)).toBe('24\n');
    expect(b.fs.readText(`${PF_DIR}/sriov_offset`)).toBe('1\n');
    expect(b.fs.readText(`${PF_DIR}/sriov_stride`)).toBe('1\n');
    expect(b.fs.readText(`${PF_DIR}/sriov_vf_device`)).toBe('e20b\n');
    expectErrno(() => b.fs.readText(`${PF_DIR}/nonexistent`), 'ENOENT');
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/nonexistent`, '1'), 'ENOENT');
  });

  it('sriov_drivers_autoprobe takes kstrtobool and decides who probes VFs', () => {
    const b = mock();
    expect(b.fs.readText(`${PF_DIR}/sriov_drivers_autoprobe`)).toBe('1\n');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1');
    // autoprobe on: xe binds its own VFs (docs/kernel.md §9)
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF0}/driver`)).toMatch(/drivers\/xe$/);
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_drivers_autoprobe`, 'maybe'), 'EINVAL');
    b.fs.writeFile(`${PF_DIR}/sriov_drivers_autoprobe`, 'off');
    expect(b.fs.readText(`${PF_DIR}/sriov_drivers_autoprobe`)).toBe('0\n');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1');
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}/driver`)).toBe(false);
    // autoprobe 0: a VF probes only with driver_override set, even through bind
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/xe/bind', VF0), 'ENODEV');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0); // a failed probe is not an error here
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}/driver`)).toBe(false);
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'xe');
    b.fs.writeFile('/sys/bus/pci/drivers/xe/bind', VF0);
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF0}/driver`)).toMatch(/drivers\/xe$/);
  });

  it('VF BAR2 is resized to the largest size for numvfs (pci_iov_vf_bar_get_sizes)', () => {
    const b = mock();
    const bar2 = (bdf: string) => b.fs.readText(`/sys/bus/pci/devices/${bdf}/resource`).split('\n')[2]!;
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '1');
    expect(bar2(VF0)).toBe('0x0000004400000000 0x00000047ffffffff 0x000000000014220c'); // 16 GiB
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    expect(bar2(VF1)).toBe('0x0000004600000000 0x00000047ffffffff 0x000000000014220c'); // 8 GiB each
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '24');
    expect(bar2('0000:03:03.0')).toBe('0x00000049c0000000 0x00000049ffffffff 0x000000000014220c'); // VF24, 1 GiB
    expect(b.fs.stat(`/sys/bus/pci/devices/${VF0}/resource2`).size).toBe(Number(GiB));
  });

  it('places VFs by offset and stride, also on the next bus number (RFC quirk 5)', () => {
    const t = topology((t) => {
      t.devices[0]!.sriov!.offset = 0x100;
    });
    const b = mock({ topology: t });
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    expect(b.fs.readlink(`${PF_DIR}/virtfn0`)).toBe('../0000:04:00.0');
    expect(b.fs.readlink(`${PF_DIR}/virtfn1`)).toBe('../0000:04:00.1');
    const p = b.kernel.platform.pci;
    expect(p.devicesOnBus(0, 3).map((d) => d.bdf)).toEqual([PF]);
    expect(p.devicesOnBus(0, 4).map((d) => d.bdf)).toEqual(['0000:04:00.0', '0000:04:00.1']);
  });

  it('gives each VF its own IOMMU group, listed under /sys/kernel/iommu_groups', () => {
    const b = mock();
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    expect(groupOf(b, PF)).toBe(13);
    const g0 = groupOf(b, VF0);
    const g1 = groupOf(b, VF1);
    expect(new Set([13, g0, g1]).size).toBe(3);
    expect(b.fs.readdir(`/sys/kernel/iommu_groups/${g0}/devices`)).toEqual([VF0]);
    expect(b.fs.readlink(`/sys/kernel/iommu_groups/${g0}/devices/${VF0}`)).toMatch(
      new RegExp(`/devices/pci0000:00/.*/${VF0}$`),
    );
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    expect(b.fs.exists(`/sys/kernel/iommu_groups/${g0}`)).toBe(false);
  });
});

describe('driver_override and binding', () => {
  it('driver_override reads (null) when unset and a lone newline clears it', () => {
    const b = mock();
    enableVfs(b, 1, []);
    const f = `/sys/bus/pci/devices/${VF0}/driver_override`;
    expect(b.fs.readText(f)).toBe('(null)\n');
    b.fs.writeFile(f, 'vfio-pci\n');
    expect(b.fs.readText(f)).toBe('vfio-pci\n');
    b.fs.writeFile(f, '\n');
    expect(b.fs.readText(f)).toBe('(null)\n');
    expectErrno(() => b.fs.writeFile(f, 'x'.repeat(4096)), 'EINVAL');
  });

  it('vfio-pci binds only by override or new_id; binding a bound device is EBUSY; unbind needs the right driver', () => {
    const b = mock();
    enableVfs(b, 2, []);
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', VF0), 'ENODEV');
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', `${VF0}\n`);
    expect(b.fs.readdir('/sys/bus/pci/drivers/vfio-pci')).toContain(VF0);
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/bind', VF0), 'EBUSY');
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/xe/unbind', VF0), 'ENODEV');
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', '0000:09:00.0'), 'ENODEV');
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', VF0);
    expect(b.fs.exists(`/sys/bus/pci/devices/${VF0}/driver`)).toBe(false);
    // drivers/base/bus.c drivers_probe_store: no such device is ENODEV.
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers_probe', '0000:09:00.0'), 'ENODEV');
    // new_id: "vvvv dddd"; fewer than 2 fields EINVAL; an id xe already matches is EEXIST for xe.
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/new_id', '8086'), 'EINVAL');
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/xe/new_id', '8086 e20b'), 'EEXIST');
    b.fs.writeFile(`${PF_DIR}/sriov_drivers_autoprobe`, '1');
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/new_id', '8086 e20b');
    // driver_attach: every unbound device the id matches and that may probe
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF1}/driver`)).toMatch(/vfio-pci$/);
    // do_pci_add_dynid(check_dup): the same id again is EEXIST (seen on 7.2.13).
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/new_id', '8086 e20b'), 'EEXIST');
    expectErrno(() => b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/remove_id', '8086 1234'), 'ENODEV');
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/remove_id', '8086 e20b');
  });

  it('a vfio-pci bind creates /dev/vfio/<group>, an unbind removes it', () => {
    const b = mock();
    enableVfs(b, 1);
    const g = groupOf(b, VF0);
    expect(b.fs.stat(`/dev/vfio/${g}`)).toMatchObject({ kind: 'chardev', minor: g });
    b.fs.writeFile('/sys/bus/pci/drivers/vfio-pci/unbind', VF0);
    expect(b.fs.exists(`/dev/vfio/${g}`)).toBe(false);
  });

  it('sriov_vf_msix_count on a VF of xe is EOPNOTSUPP (no sriov_set_msix_vec_count)', () => {
    const b = mock();
    enableVfs(b, 1, []);
    expectErrno(() => b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/sriov_vf_msix_count`, '4'), 'EOPNOTSUPP');
    expectErrno(() => b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/sriov_vf_msix_count`, 'x'), 'EINVAL');
  });
});

describe('sysfs attributes of a device', () => {
  it('shows ids, class, resource lines and the driver/iommu links', () => {
    const b = mock();
    expect(b.fs.readText(`${PF_DIR}/vendor`)).toBe('0x8086\n');
    expect(b.fs.readText(`${PF_DIR}/class`)).toBe('0x030000\n');
    expect(b.fs.readText(`${PF_DIR}/modalias`)).toBe('pci:v00008086d0000E20Bsv00008086sd00001100bc03sc00i00\n');
    const lines = b.fs.readText(`${PF_DIR}/resource`).trimEnd().split('\n');
    expect(lines).toHaveLength(13);
    expect(lines[0]).toBe('0x0000000088000000 0x0000000088ffffff 0x0000000000140204');
    expect(lines[9]).toBe('0x0000004400000000 0x00000049ffffffff 0x000000000014220c'); // VF BAR2 reservation (resource 9)
    expect(b.fs.readlink(`${PF_DIR}/driver`)).toBe('../../../../../../bus/pci/drivers/xe');
    expect(b.fs.readlink(`${PF_DIR}/iommu_group`)).toBe('../../../../../../kernel/iommu_groups/13');
    expect(b.fs.readlink(`/sys/bus/pci/devices/${PF}`)).toBe(
      '../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:01.0/0000:03:00.0',
    );
    expect(b.fs.stat(`${PF_DIR}/driver`)).toMatchObject({ kind: 'dir' });
    expect(b.fs.lstat(`${PF_DIR}/driver`)).toMatchObject({ kind: 'link' });
    expect(b.fs.stat(`${PF_DIR}/resource2`)).toMatchObject({ kind: 'file', mode: 0o600, size: 16 * 2 ** 30 });
    expectErrno(() => b.fs.readFile(`${PF_DIR}/resource2`), 'EIO');
    expect(b.fs.readFile(`${PF_DIR}/config`).subarray(0, 4)).toEqual(Uint8Array.from([0x86, 0x80, 0x0b, 0xe2]));
  });
});
