import { chmodSync, chownSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backend/native.js';
import { createMockBackend } from '../../src/mock/backend.js';
import { parseKernelConfig, renderChecks, runDoctor, summarize, type Check } from '../../src/host/doctor.js';
import { FixtureTree, resourceText } from './fixture-tree.js';
import { tempDir } from './helpers.js';

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

function byId(checks: Check[]): Record<string, Check> {
  return Object.fromEntries(checks.map((c) => [c.id, c]));
}

function tree(): FixtureTree {
  const d = tempDir('iovh-doctor-');
  dirs.push(d);
  return new FixtureTree(d.path);
}

describe('doctor', () => {
  it('passes a ready lab machine and names what is present', () => {
    const t = tree();
    t.file('/proc/sys/kernel/osrelease', '7.2.13-iovh\n');
    t.file('/proc/cmdline', 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt\n');
    t.config(
      [
        'VFIO=m',
        'VFIO_PCI=m',
        'VFIO_PCI_DMABUF=y',
        'PCI_P2PDMA=y',
        'PCI_IOV=y',
        'DRM_XE=m',
        'IOMMUFD=y',
        'DEBUG_FS=y',
        'KPROBES=y',
        'KPROBE_EVENTS=y',
        'DEBUG_KMEMLEAK=y',
        'VFIO_IOMMU_TYPE1=m',
      ]
        .map((l) => `CONFIG_${l}`)
        .join('\n'),
    );
    t.file(
      '/proc/kallsyms',
      'ffffffff81000000 T dma_buf_match_interconnects\nffffffff81000080 T dma_buf_map_interconnect\n' +
        'ffffffff81000090 T dma_buf_invalidate_mappings\nffffffff810000a0 T dma_buf_attach_revocable\n' +
        'ffffffff81000100 t vfio_pci_match_interconnect\t[vfio_pci]\n',
    );
    for (const m of ['vfio', 'vfio_iommu_type1', 'vfio_pci', 'xe']) t.dir(`/sys/module/${m}`);
    t.file('/dev/vfio/vfio', '', 0o666);
    t.file('/dev/dri/renderD128', '', 0o666);
    t.dir('/sys/kernel/debug/dri');
    t.file('/sys/kernel/tracing/kprobe_events', '');
    // iovh's probes live in a trace instance of its own (src/machine/readiness.ts tracefsReadiness).
    t.dir('/sys/kernel/tracing/instances');
    t.device(
      '0000:03:00.0',
      {
        vendor: '0x8086',
        device: '0xe20b',
        class: '0x030000',
        sriov_totalvfs: '24',
        sriov_numvfs: '0',
        sriov_offset: '1',
        sriov_stride: '1',
      },
      { driver: 'xe', group: 13, resource: resourceText({}) },
    );
    t.file('/sys/devices/pci0000:00/0000:03:00.0/sriov_admin/vf1/profile/vram_quota', '0\n');
    const checks = runDoctor(createNativeBackend({ root: t.root }).fs, { uid: 0 });
    const c = byId(checks);
    expect(summarize(checks)).toEqual({ pass: checks.length, warn: 0, fail: 0 });
    expect(c['kernel.release']!.detail).toBe('Linux 7.2.13-iovh');
    expect(c['config.VFIO_PCI_DMABUF']!.detail).toBe('CONFIG_VFIO_PCI_DMABUF=y');
    expect(c.iommu!.detail).toBe('1 IOMMU group (cmdline: intel_iommu=on iommu=pt)');
    expect(c['kernel.shape']!.detail).toBe('kernel shape: rfc-v1 — IOV import path: rfc-v1 interconnect');
    expect(c['provisioning.0000:03:00.0']!.detail).toMatch(/sriov_admin/);
  });

  it('fails what iovh cannot work without, warns about lost evidence, with a fix each', () => {
    const t = tree();
    t.file('/proc/version', 'Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP\n');
    t.file(
      '/boot/config-6.1.0-18-amd64',
      'CONFIG_VFIO=m\nCONFIG_VFIO_PCI_CORE=m\nCONFIG_VFIO_PCI=m\nCONFIG_PCI_IOV=y\nCONFIG_PCI_P2PDMA=y\nCONFIG_DMA_SHARED_BUFFER=y\n',
    );
    t.file('/proc/cmdline', 'root=/dev/sda1 quiet\n');
    t.file('/proc/kallsyms', 'ffffffff81000000 T dma_buf_export\n');
    t.device(
      '0000:01:00.0',
      {
        vendor: '0x8086',
        device: '0x10c9',
        class: '0x020000',
        sriov_totalvfs: '7',
        sriov_numvfs: '0',
        sriov_offset: '128',
        sriov_stride: '2',
      },
      { driver: 'igb' },
    );
    const checks = runDoctor(createNativeBackend({ root: t.root }).fs, { uid: 1000 });
    const c = byId(checks);
    expect(c['kernel.release']!.detail).toBe('Linux 6.1.0-18-amd64');
    expect(c['kernel.config']!.detail).toBe('read /boot/config-6.1.0-18-amd64');
    // A 6.1 kernel has every dependency: VFIO_PCI_DMABUF (no prompt) is missing because it came with 6.19.
    expect(c['config.VFIO_PCI_DMABUF']).toMatchObject({
      status: 'fail',
      fix: 'use Linux 6.19 or later (CONFIG_VFIO_PCI_DMABUF has no prompt: Linux 6.19 and later turn it on when VFIO_PCI_CORE, PCI_P2PDMA and DMA_SHARED_BUFFER are, and all three are set here)',
    });
    expect(c['config.KPROBES']).toMatchObject({
      status: 'warn',
      fix: 'use a kernel built with CONFIG_KPROBES=y (a bool)',
    });
    expect(c.iommu).toMatchObject({
      status: 'fail',
      detail: 'no IOMMU groups: the IOMMU is off or absent (no iommu options on the cmdline)',
    });
    expect(c.iommu!.fix).toMatch(/intel_iommu=on/);
    expect(c['module.vfio_pci']).toMatchObject({ status: 'fail', fix: 'modprobe vfio-pci' });
    expect(c['dev.vfio']!.status).toBe('fail');
    // 6.1 lists none of the table's markers: unknown, with what was seen, never the nearest row.
    expect(c['kernel.shape']).toMatchObject({
      status: 'warn',
      detail:
        'kernel shape: unknown — symbols seen: none of the table; release 6.1.0-18-amd64; PROBE not run (doctor does not open VFs: an open through VFIO resets the VF)',
    });
    expect(c['provisioning.0000:01:00.0']).toMatchObject({ status: 'warn' });
    expect(c['provisioning.0000:01:00.0']!.detail).toMatch(/not available: 0000:01:00.0 has driver igb/);
    for (const x of checks.filter((x) => x.status !== 'pass')) expect(x.fix, x.id).toBeTruthy();
    const text = renderChecks(checks, 'backend: native (fixture)');
    expect(text).toMatch(/^fail {2}iommu {22}/m);
    expect(text).toMatch(/fix: boot with intel_iommu=on/);
    expect(text.trim().split('\n').pop()).toMatch(/^\d+ pass, \d+ warn, \d+ fail$/);
  });

  it('gives fixes a kernel config can follow: bools =y only, tristates y or m, VFIO_PCI_DMABUF through its dependencies', () => {
    const t = tree();
    t.file('/proc/sys/kernel/osrelease', '6.18.0\n');
    t.config('CONFIG_VFIO=m\nCONFIG_VFIO_PCI_CORE=m\nCONFIG_VFIO_PCI=m\n');
    const c = byId(runDoctor(createNativeBackend({ root: t.root }).fs, { uid: 0 }));
    // Kconfig types: docs/kernel.md §4-§5 (VFIO_PCI_DMABUF a def_bool without prompt, PCI_P2PDMA and KPROBES bools).
    const bools = ['PCI_P2PDMA', 'PCI_IOV', 'DEBUG_FS', 'KPROBES', 'KPROBE_EVENTS', 'DEBUG_KMEMLEAK'];
    for (const b of bools) {
      expect(c[`config.${b}`]!.fix, b).toMatch(new RegExp(`CONFIG_${b}=y \\(a bool`));
      expect(c[`config.${b}`]!.fix, b).not.toMatch(/=m/);
    }
    expect(c['config.DRM_XE']!.fix).toBe('use a kernel built with CONFIG_DRM_XE=y or =m');
    expect(c['config.IOMMUFD']!.fix).toMatch(/CONFIG_IOMMUFD=y or =m and CONFIG_VFIO_DEVICE_CDEV=y/);
    const dmabuf = c['config.VFIO_PCI_DMABUF']!.fix!;
    expect(dmabuf).not.toMatch(/CONFIG_VFIO_PCI_DMABUF=/);
    expect(dmabuf).toMatch(
      /^build Linux 6.19 or later with CONFIG_PCI_P2PDMA=y and a driver that selects DMA_SHARED_BUFFER \(DRM does\) \(CONFIG_VFIO_PCI_DMABUF has no prompt/,
    );
    expect(dmabuf).toMatch(/here PCI_P2PDMA, DMA_SHARED_BUFFER are not set\)$/);
  });

  it('says what to do about a PF without quota files: debugfs, a 7.0 kernel, or nothing on an integrated GPU', () => {
    const t = tree();
    t.device(
      '0000:00:02.0',
      {
        vendor: '0x8086',
        device: '0x7d55',
        class: '0x030000',
        sriov_totalvfs: '7',
        sriov_numvfs: '0',
        sriov_offset: '1',
        sriov_stride: '1',
      },
      { driver: 'xe' },
    );
    const before = byId(runDoctor(createNativeBackend({ root: t.root }).fs, { uid: 0 }))['provisioning.0000:00:02.0']!;
    expect(before.fix).toMatch(/^mount -t debugfs none \/sys\/kernel\/debug \(as root\), or use Linux 7.0 or later/);
    t.dir('/sys/kernel/debug/dri');
    const after = byId(runDoctor(createNativeBackend({ root: t.root }).fs, { uid: 0 }))['provisioning.0000:00:02.0']!;
    expect(after.detail).toMatch(/an integrated GPU has no VRAM to provision/);
    expect(after.fix).toMatch(/^nothing to do on an integrated GPU/);
  });

  it('reads kernel configs, ignoring what is not set', () => {
    const cfg = parseKernelConfig('# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\n');
    expect([...cfg]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_C', '"x y"'],
    ]);
  });
});

describe('device node access, decided as generic_permission does (owner, group, other; root passes)', () => {
  it('judges /dev/vfio/vfio, the VFIO group nodes and render nodes by the user, its groups and the node owner', () => {
    const t = tree();
    const nodes = ['/dev/vfio/vfio', '/dev/vfio/13', '/dev/vfio/14', '/dev/dri/renderD128'];
    const chmod = (p: string, mode: number) => chmodSync(join(t.root, p), mode);
    for (const p of nodes) t.file(p, '');
    t.file('/dev/dri/card0', '');
    for (const p of nodes) chmod(p, 0o660);
    // The fixture's nodes belong to whoever runs the test (given away when that is root, whom no bits
    // stop): name that owner and group as a lab would.
    if (process.geteuid?.() === 0) for (const p of nodes) chownSync(join(t.root, p), 4321, 4322);
    const { uid: owner, gid: group } = statSync(join(t.root, '/dev/vfio/vfio'));
    t.file('/etc/passwd', `labadmin:x:${owner}:${group}::/root:/bin/sh\n`);
    t.file('/etc/group', `vfio:x:${group}:\n`);
    const fs = createNativeBackend({ root: t.root }).fs;
    const user = owner + 1000;
    const otherGid = group + 1000;

    // 0660 labadmin:vfio, the user in vfio as a supplementary group (or its effective gid): open.
    for (const env of [
      { uid: user, gid: otherGid, groups: [7, group] },
      { uid: user, gid: group, groups: [] },
    ]) {
      const c = byId(runDoctor(fs, env));
      expect(c['dev.vfio']).toEqual({
        id: 'dev.vfio',
        status: 'pass',
        detail: '/dev/vfio/vfio is 0660 labadmin:vfio, this user is in group vfio',
      });
      expect(c['dev.vfio.groups']).toMatchObject({
        status: 'pass',
        detail:
          '/dev/vfio/13 is 0660 labadmin:vfio, this user is in group vfio; /dev/vfio/14 is 0660 labadmin:vfio, this user is in group vfio',
      });
      expect(c['dev.dri']).toMatchObject({ status: 'pass', detail: '/dev/dri: card0 renderD128' });
    }

    // The same user outside the group: every node is closed to it, and the fix names the group.
    const out = byId(runDoctor(fs, { uid: user, gid: otherGid, groups: [] }));
    const fix = 'add this user to group vfio (usermod -aG vfio $USER, then log in again), or run as root';
    expect(out['dev.vfio']).toEqual({
      id: 'dev.vfio',
      status: 'warn',
      detail: `this user cannot open /dev/vfio/vfio: /dev/vfio/vfio is 0660 labadmin:vfio: uid ${user} is not its owner, not in group vfio, and others have no rw (an ACL may still grant it: getfacl /dev/vfio/vfio)`,
      fix,
    });
    expect(out['dev.vfio.groups']).toMatchObject({ status: 'warn', fix });
    expect(out['dev.vfio.groups']!.detail).toMatch(
      /^this user cannot open VFIO group nodes: \/dev\/vfio\/13 is 0660 labadmin:vfio: .*; \/dev\/vfio\/14 is 0660 labadmin:vfio: /,
    );
    expect(out['dev.dri']).toMatchObject({ status: 'warn', fix });

    // A group node only its owner may open is named, even when /dev/vfio/vfio is open to everyone.
    chmod('/dev/vfio/vfio', 0o666);
    chmod('/dev/vfio/14', 0o600);
    const one = byId(runDoctor(fs, { uid: user, gid: otherGid, groups: [group] }));
    expect(one['dev.vfio']).toMatchObject({
      status: 'pass',
      detail: '/dev/vfio/vfio is 0666 labadmin:vfio, this user is in group vfio',
    });
    expect(one['dev.vfio.groups']).toMatchObject({
      status: 'warn',
      detail:
        "this user cannot open VFIO group nodes: /dev/vfio/14 is 0600 labadmin:vfio: group vfio (this user's) has no rw",
      fix: 'run as root, or give your group rw on /dev/vfio/* with a udev rule',
    });

    // The owner is judged by the owner bits alone, as the kernel does.
    chmod('/dev/vfio/vfio', 0o066);
    expect(byId(runDoctor(fs, { uid: owner, gid: group, groups: [group] }))['dev.vfio']).toMatchObject({
      status: 'warn',
      detail:
        'this user cannot open /dev/vfio/vfio: /dev/vfio/vfio is 0066 labadmin:vfio: its owner (this user) has no rw',
    });

    // Root opens any node, whatever its bits.
    for (const p of nodes) chmod(p, 0o000);
    const root = byId(runDoctor(fs, { uid: 0 }));
    for (const id of ['dev.vfio', 'dev.vfio.groups', 'dev.dri']) expect(root[id]!.status, id).toBe('pass');
  });

  it('works through the mock backend: kernel-made nodes are root:root, and a VFIO group node is 0600', () => {
    const b = createMockBackend();
    try {
      const dev = (bdf: string, attr: string) => `/sys/bus/pci/devices/${bdf}/${attr}`;
      expect(byId(runDoctor(b.fs, { uid: 1000, gid: 1000, groups: [] }))['dev.vfio.groups']).toMatchObject({
        status: 'pass',
        detail: expect.stringMatching(/^no VFIO group nodes yet/),
      });
      b.fs.writeFile(dev('0000:03:00.0', 'sriov_drivers_autoprobe'), '0');
      b.fs.writeFile(dev('0000:03:00.0', 'sriov_numvfs'), '1');
      b.fs.writeFile(dev('0000:03:00.1', 'driver_override'), 'vfio-pci');
      b.fs.writeFile('/sys/bus/pci/drivers_probe', '0000:03:00.1');
      const g = b.fs.readlink(dev('0000:03:00.1', 'iommu_group')).split('/').pop()!;
      expect(b.fs.stat(`/dev/vfio/${g}`)).toMatchObject({ kind: 'chardev', mode: 0o600, uid: 0, gid: 0 });
      const c = byId(runDoctor(b.fs, { uid: 1000, gid: 1000, groups: [] }));
      expect(c['dev.vfio']).toMatchObject({ status: 'pass', detail: '/dev/vfio/vfio is 0666 0:0, open to everyone' });
      expect(c['dev.vfio.groups']).toMatchObject({
        status: 'warn',
        detail: `this user cannot open VFIO group nodes: /dev/vfio/${g} is 0600 0:0: uid 1000 is not its owner, and others have no rw (an ACL may still grant it: getfacl /dev/vfio/${g})`,
      });
      expect(byId(runDoctor(b.fs, { uid: 0 }))['dev.vfio.groups']).toMatchObject({
        status: 'pass',
        detail: `/dev/vfio/${g} (root opens any)`,
      });
    } finally {
      b.close();
    }
  });
});
