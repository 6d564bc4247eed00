// Kernel services: /dev/kmsg records, WARN/oops and taint, the hung-task
// report, kmemleak, /proc files, and tracefs (kprobe_events syntax and errno,
// events, instances, the `trace` format).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { LogLevel } from '../../src/mock/contracts.js';
import { expectErrno, mock, PF } from './helpers.js';
import { scratchDir } from '../support/scratch.js';

const T = '/sys/kernel/tracing';
const KMSG_RE = /^(\d+),(\d+),(\d+),-;([^\n]*)\n( [A-Z]+=[^\n]*\n)*$/;

describe('/dev/kmsg', () => {
  it('one record per read in the dev-kmsg format, dictionary lines for device messages', () => {
    const b = mock();
    const recs = b.fs.readRecords('/dev/kmsg');
    expect(recs.length).toBeGreaterThan(3);
    for (const r of recs) expect(r).toMatch(KMSG_RE);
    const seqs = recs.map((r) => Number(r.split(',')[1]));
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const dev = recs.find((r) => r.includes(`xe ${PF}: [drm] Initialized xe`))!;
    expect(dev).toMatch(
      /^6,\d+,\d+,-;xe 0000:03:00\.0: \[drm\] Initialized xe 1\.1\.0 for 0000:03:00\.0 on minor 0\n SUBSYSTEM=pci\n DEVICE=\+pci:0000:03:00\.0\n$/,
    );
  });

  it('userspace writes get facility user, level 4 unless <N> says otherwise; control bytes are escaped', () => {
    const b = mock();
    b.fs.writeFile('/dev/kmsg', 'iovh: scenario start\n');
    b.fs.writeFile('/dev/kmsg', '<3>iovh: bad\\thing\x01');
    const recs = b.fs.readRecords('/dev/kmsg');
    expect(recs[recs.length - 2]).toMatch(/^12,\d+,\d+,-;iovh: scenario start\n$/);
    expect(recs[recs.length - 1]).toMatch(/^11,\d+,\d+,-;iovh: bad\\x5cthing\\x01\n$/);
  });

  it('timestamps are deterministic: the same operations give the same log', () => {
    const run = () => {
      const b = mock();
      b.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_numvfs`, '2');
      return b.fs.readRecords('/dev/kmsg').join('');
    };
    expect(run()).toBe(run());
  });
});

describe('WARN, oops, taint, hung task', () => {
  it('a WARN taints W (512), an oops taints D (128); /proc/sys/kernel/tainted shows the mask', () => {
    const b = mock();
    const k = b.kernel.platform.kernel;
    expect(b.fs.readText('/proc/sys/kernel/tainted')).toBe('0\n');
    k.warn('xe_bo_move+0x1c/0x9a0 [xe]', 'xe: something odd');
    expect(b.fs.readText('/proc/sys/kernel/tainted')).toBe('512\n');
    k.oops('NULL pointer dereference', 'xe_bo_move+0x51e/0x9a0 [xe]');
    expect(b.kernel.taint).toBe(640);
    const log = b.fs.readRecords('/dev/kmsg').join('');
    expect(log).toContain('------------[ cut here ]------------');
    expect(log).toMatch(/WARNING: CPU: 0 PID: 4242 at xe_bo_move\+0x1c\/0x9a0 \[xe\]/);
    expect(log).toContain('BUG: kernel NULL pointer dereference, address: 0000000000000000');
    expect(log).toMatch(/Oops: Oops: 0000 \[#1\] SMP NOPTI/);
    expect(log).toMatch(/Comm: node Tainted: G {8}W {10} /);
    expect(log).toContain('---[ end trace 0000000000000000 ]---');
    // taint can be added from userspace, not cleared
    b.fs.writeFile('/proc/sys/kernel/tainted', '1');
    expect(b.kernel.taint).toBe(641);
  });

  it('the hung-task report names the task and jumps the clock by the timeout', () => {
    const b = mock();
    const k = b.kernel.platform.kernel;
    const before = k.now();
    k.hungTask(['vfio_pci_dma_buf_cleanup+0xc2/0xe0 [vfio_pci_core]']);
    expect(k.now() - before).toBeGreaterThan(122_000_000n);
    const log = b.fs.readRecords('/dev/kmsg').join('');
    expect(log).toContain('INFO: task node:4242 blocked for more than 122 seconds.');
    expect(log).toContain('"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.');
    expect(log).toContain(' vfio_pci_dma_buf_cleanup+0xc2/0xe0 [vfio_pci_core]');
  });

  it('log() with a non-PCI source carries a DEVICE dictionary entry', () => {
    const b = mock();
    b.kernel.platform.kernel.log(LogLevel.ERR, 'vgem vgem', 'hello');
    const last = b.fs.readRecords('/dev/kmsg').pop()!;
    expect(last).toMatch(/^3,\d+,\d+,-;vgem vgem: hello\n DEVICE=\+vgem\n$/);
  });
});

describe('kmemleak (mm/kmemleak.c kmemleak_scan, kmemleak_write)', () => {
  const KL = '/sys/kernel/debug/kmemleak';
  // The scan mechanics on a kernel without KASAN: there a free overwrites the stale sheaf slot of a small object.
  const NO_KASAN = { kernelConfig: { KASAN: 'n', SLUB_RCU_DEBUG: 'n' } } as const;

  it('a small kmalloc leaked on a KASAN kernel of the 7.1 line stays referenced (its per-CPU sheaf slot); a large one does not', async () => {
    const reported = async (opts: Parameters<typeof mock>[0], size: number): Promise<boolean> => {
      const b = mock(opts);
      b.kernel.platform.kernel.alloc('leaked+0x0/0x10', size).orphan();
      b.fs.writeFile(KL, 'scan');
      await b.sleep!(6000);
      b.fs.writeFile(KL, 'scan');
      const r = b.fs.readText(KL).includes('leaked+0x0/0x10');
      b.close();
      return r;
    };
    // mm/slub.c alloc_from_pcs leaves the address in the sheaf; KASAN's quarantine keeps frees from overwriting it.
    expect(await reported({ profile: 'upstream-7.1' }, 24)).toBe(false);
    expect(await reported({ profile: 'rfc-v1' }, 8192)).toBe(false);
    // kmalloc_large: the page allocator, no sheaf.
    expect(await reported({ profile: 'upstream-7.1' }, 8193)).toBe(true);
    // Without KASAN frees refill the sheaf and overwrite the slot.
    expect(await reported({ profile: 'upstream-7.1', ...NO_KASAN }, 24)).toBe(true);
    // Only the 7.2.13 source was read: the older lines keep reporting.
    expect(await reported({ profile: 'upstream-7.0' }, 24)).toBe(true);
  });

  it('an orphan is gray at the scan that first sees it and reported by the next, in kmemleak format, once', async () => {
    const b = mock(NO_KASAN);
    const k = b.kernel.platform.kernel;
    const a = k.alloc('dma_buf_map_interconnect+0x4e/0xe0', 24);
    k.alloc('kept+0x0/0x10', 16);
    a.orphan();
    await b.sleep!(6000);
    b.fs.writeFile(KL, 'scan');
    expect(b.fs.readText(KL)).toBe('');
    b.fs.writeFile(KL, 'scan\n');
    const r = b.fs.readText(KL);
    // kmemleak records the slab object_size: a 24-byte kmalloc lands in kmalloc-32 (mm/slab_common.c kmalloc_info).
    expect(r).toMatch(
      /^unreferenced object 0x[0-9a-f]+ \(size 32\):\n {2}comm "node", pid 4242, jiffies \d+\n {2}hex dump \(first 32 bytes\):\n/,
    );
    expect(r).toContain('  backtrace (crc ');
    expect(r).toContain('    dma_buf_map_interconnect+0x4e/0xe0\n');
    expect(r.match(/unreferenced object/g)).toHaveLength(1);
    const leaks = () => b.fs.readRecords('/dev/kmsg').filter((l) => l.includes('new suspected memory leaks'));
    expect(leaks()).toHaveLength(1);
    expect(leaks()[0]).toContain('kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)');
    b.fs.writeFile(KL, 'scan');
    expect(leaks()).toHaveLength(1);
  });

  it('an object younger than the minimum age (5 s) is not reported, however many scans; it is once time has passed', async () => {
    const b = mock(NO_KASAN);
    const k = b.kernel.platform.kernel;
    k.alloc('young+0x0/0x10', 64).orphan();
    for (let i = 0; i < 4; i++) b.fs.writeFile(KL, 'scan');
    expect(b.fs.readText(KL)).toBe('');
    await b.sleep!(5000);
    // its checksum did not change since the scans above: this scan reports it
    b.fs.writeFile(KL, 'scan');
    expect(b.fs.readText(KL)).toMatch(/^unreferenced object .*\(size 64\)/);
  });

  it('clear hides what was reported, not what is still gray; a later leak is reported after clear', async () => {
    const b = mock(NO_KASAN);
    const k = b.kernel.platform.kernel;
    k.alloc('first+0x0/0x10', 32).orphan();
    await b.sleep!(6000);
    b.fs.writeFile(KL, 'scan');
    b.fs.writeFile(KL, 'scan');
    const late = k.alloc('second+0x0/0x10', 40);
    late.orphan();
    await b.sleep!(6000);
    b.fs.writeFile(KL, 'scan'); // first sighting of `second`: gray
    b.fs.writeFile(KL, 'clear');
    expect(b.fs.readText(KL)).toBe('');
    b.fs.writeFile(KL, 'scan');
    const r = b.fs.readText(KL);
    expect(r.match(/unreferenced object/g)).toHaveLength(1);
    expect(r).toContain('(size 64)'); // kmalloc-64 holds a 40-byte object
  });

  it('after off: every write but clear is EBUSY, reads still list what was found, clear frees it, new objects go untracked', async () => {
    const b = mock(NO_KASAN);
    const k = b.kernel.platform.kernel;
    k.alloc('found+0x0/0x10', 24).orphan();
    await b.sleep!(6000);
    b.fs.writeFile(KL, 'scan');
    b.fs.writeFile(KL, 'scan');
    b.fs.writeFile(KL, 'off');
    expect(b.fs.readRecords('/dev/kmsg').join('')).toContain('Kmemleak disabled without freeing internal data.');
    for (const cmd of ['scan', 'off', 'scan=on', 'stack=off', 'explode'])
      expectErrno(() => b.fs.writeFile(KL, cmd), 'EBUSY');
    expect(b.fs.readText(KL)).toContain('(size 32)');
    k.alloc('after+0x0/0x10', 8).orphan();
    expect(k.kmemleak.unreferenced()).toBe(1);
    b.fs.writeFile(KL, 'clear');
    expect(b.fs.readText(KL)).toBe('');
    expect(k.kmemleak.unreferenced()).toBe(0);
    // without leaks found, off frees everything at once
    const c = mock(NO_KASAN);
    c.kernel.platform.kernel.alloc('x+0x0/0x10', 8).orphan();
    c.fs.writeFile(KL, 'off');
    expect(c.kernel.platform.kernel.kmemleak.unreferenced()).toBe(0);
  });

  it('commands match by prefix as kmemleak_write does; bad numbers, unknown objects and commands are EINVAL', () => {
    const b = mock(NO_KASAN);
    b.fs.writeFile(KL, 'scan=600\n');
    b.fs.writeFile(KL, 'stack=on');
    expectErrno(() => b.fs.writeFile(KL, 'scan=soon'), 'EINVAL');
    expectErrno(() => b.fs.writeFile(KL, 'dump=0x1234'), 'EINVAL');
    expect(b.fs.readRecords('/dev/kmsg').pop()).toContain('kmemleak: Unknown object at 0x00001234');
    expectErrno(() => b.fs.writeFile(KL, 'explode'), 'EINVAL');
  });

  it('a state file keeps what was found and whether kmemleak is on', async () => {
    const dir = scratchDir('iovh-kl-');
    const statePath = join(dir, 's.json');
    const b = mock({ ...NO_KASAN, statePath });
    b.kernel.platform.kernel.alloc('kept+0x0/0x10', 24).orphan();
    await b.sleep!(6000);
    b.fs.writeFile(KL, 'scan');
    b.fs.writeFile(KL, 'scan');
    b.fs.writeFile(KL, 'off');
    b.close();
    const again = mock({ ...NO_KASAN, statePath });
    expect(again.fs.readText(KL)).toContain('(size 32)');
    expectErrno(() => again.fs.writeFile(KL, 'scan'), 'EBUSY');
  });
});

describe('/proc', () => {
  it('kallsyms per profile: the RFC symbols only with the series, static helpers possibly absent', () => {
    const up = mock({ profile: 'upstream-7.1' }).fs.readText('/proc/kallsyms');
    const rfc = mock({ profile: 'rfc-v1' }).fs.readText('/proc/kallsyms');
    for (const line of rfc.trimEnd().split('\n')) expect(line).toMatch(/^[0-9a-f]{16} [tT] \w+(\t\[\w+\])?$/);
    expect(rfc).toMatch(/ T dma_buf_map_interconnect\n/);
    expect(rfc).toMatch(/ t vfio_pci_match_interconnect\t\[vfio_pci_core\]\n/);
    expect(rfc).not.toContain('xe_bo_translate_io_xarray_to_dpa');
    expect(up).not.toContain('dma_buf_map_interconnect');
    expect(up).toMatch(/ T xe_gt_sriov_pf_config_get_lmem_obj\t\[xe\]\n/);
  });

  it('version, cmdline, modules, config: /proc/config.gz only on the test kernels, /boot/config always', () => {
    const b = mock({ profile: 'fixed' });
    expect(b.fs.readText('/proc/version')).toMatch(/^Linux version 7\.2\.13-rfc-iov-fixed /);
    expect(b.fs.readText('/proc/cmdline')).toContain('intel_iommu=on');
    expect(b.fs.readText('/proc/modules')).toMatch(/^vfio_pci \d+ 0 - Live 0x[0-9a-f]+$/m);
    expect(gunzipSync(b.fs.readFile('/proc/config.gz')).toString()).toContain('CONFIG_VFIO_PCI_DMABUF=y');
    // The default topology is a lab kernel built with iommufd and the VFIO cdev (docs/topology.md kernel.config).
    expect(b.fs.readText('/boot/config-7.2.13-rfc-iov-fixed')).toMatch(/^CONFIG_IOMMUFD=y$/m);
    expect(b.fs.readText('/boot/config-7.2.13-rfc-iov-fixed')).toMatch(/^CONFIG_VFIO_DEVICE_CDEV=y$/m);
    const debian = mock({ profile: 'upstream-7.1', kernelConfig: { IOMMUFD: 'n', VFIO_DEVICE_CDEV: 'n' } });
    expect(debian.fs.readText('/boot/config-7.2.13')).toContain('# CONFIG_IOMMUFD is not set');
    debian.close();
    const up = mock({ profile: 'upstream-7.1' });
    expect(up.fs.exists('/proc/config.gz')).toBe(false);
    expect(up.fs.exists('/sys/module/vfio_pci/initstate')).toBe(true);
    expectErrno(() => up.fs.writeFile('/proc/version', 'x'), 'EIO');
  });
});

describe('tracefs', () => {
  it('kprobe_events: syntax, default names, unknown symbol EINVAL, duplicates EEXIST, reading shows the definitions', () => {
    const b = mock({ profile: 'rfc-v1' });
    const f = `${T}/kprobe_events`;
    b.fs.writeFile(
      f,
      'p:iovh/match dma_buf_match_interconnects\nr:iovh/match_ret dma_buf_match_interconnects ret=$retval:u32\n',
      { append: true },
    );
    b.fs.writeFile(f, 'p xe:xe_gt_sriov_pf_config_get_lmem_obj vfid=$arg2:u32', { append: true });
    expect(b.fs.readText(f)).toBe(
      'p:iovh/match dma_buf_match_interconnects\n' +
        'r:iovh/match_ret dma_buf_match_interconnects ret=$retval:u32\n' +
        'p:kprobes/p_xe_xe_gt_sriov_pf_config_get_lmem_obj_0 xe:xe_gt_sriov_pf_config_get_lmem_obj vfid=$arg2:u32\n',
    );
    expect(b.fs.readdir(`${T}/events/iovh`)).toEqual(['enable', 'match', 'match_ret']);
    // __trace_kprobe_create: validate_probe_symbol finding nothing (ENOENT) fails the write with EINVAL.
    expectErrno(() => b.fs.writeFile(f, 'p:iovh/nope xe_bo_translate_io_xarray_to_dpa', { append: true }), 'EINVAL');
    expectErrno(
      () => b.fs.writeFile(f, 'p:iovh/wrongmod vfio:dma_buf_match_interconnects', { append: true }),
      'EINVAL',
    );
    expectErrno(() => b.fs.writeFile(f, 'p:iovh/match dma_buf_export', { append: true }), 'EEXIST');
    expectErrno(() => b.fs.writeFile(f, 'p:iovh/r dma_buf_export r=$retval', { append: true }), 'EINVAL');
    expectErrno(() => b.fs.writeFile(f, 'x:iovh/x dma_buf_export', { append: true }), 'EINVAL');
    expectErrno(() => b.fs.writeFile(f, 'r:iovh/off dma_buf_export+4', { append: true }), 'EINVAL');
    expectErrno(() => b.fs.writeFile(f, '-:iovh/ghost', { append: true }), 'ENOENT');
    b.fs.writeFile(f, '-:iovh/match_ret', { append: true });
    expect(b.fs.readText(f)).not.toContain('match_ret');
  });

  it('an enabled event blocks removal and the truncating write (EBUSY); hits print in ftrace format', () => {
    const b = mock({ profile: 'rfc-v1' });
    const f = `${T}/kprobe_events`;
    b.fs.writeFile(
      f,
      'p:iovh/lmem xe_gt_sriov_pf_config_get_lmem_obj vfid=$arg2:u32\nr:iovh/lmem_ret xe_gt_sriov_pf_config_get_lmem_obj obj=$retval',
    );
    b.fs.writeFile(`${T}/events/iovh/enable`, '1');
    expect(b.fs.readText(`${T}/events/iovh/lmem/enable`)).toBe('1\n');
    expectErrno(() => b.fs.writeFile(f, ''), 'EBUSY');
    expectErrno(() => b.fs.writeFile(f, '-:iovh/lmem', { append: true }), 'EBUSY');
    expectErrno(() => b.fs.writeFile(`${T}/events/iovh/lmem/enable`, '2'), 'EINVAL');
    const k = b.kernel.platform.kernel;
    k.trace('xe_gt_sriov_pf_config_get_lmem_obj', 'entry', { arg1: 0xffff888100000000n, arg2: 1 });
    k.trace('xe_gt_sriov_pf_config_get_lmem_obj', 'return', { retval: 0xffff888104400000n });
    k.trace('dma_buf_export', 'entry', {}); // not armed: no line
    const trace = b.fs.readText(`${T}/trace`);
    const lines = trace.split('\n');
    expect(lines[0]).toBe('# tracer: nop');
    expect(trace).toContain('# entries-in-buffer/entries-written: 2/2   #P:2');
    const hits = lines.filter((l) => !l.startsWith('#') && l !== '');
    expect(hits).toHaveLength(2);
    // CONFIG_X86_KERNEL_IBT=y (as Debian's amd64 kernels): the entry probe sits after ENDBR64, at +0x4.
    expect(b.fs.readText(`/boot/config-${b.kernel.profile.release}`)).toMatch(/^CONFIG_X86_KERNEL_IBT=y$/m);
    expect(hits[0]).toMatch(
      /^ {12}node-4242 {4}\[000\] \.{5} +\d+\.\d{6}: lmem: \(xe_gt_sriov_pf_config_get_lmem_obj\+0x4\/0x60 \[xe\]\) vfid=1$/,
    );
    expect(hits[1]).toMatch(
      /: lmem_ret: \(xe_bo_move\+0x51e\/0x9a0 \[xe\] <- xe_gt_sriov_pf_config_get_lmem_obj\) obj=0xffff888104400000$/,
    );
    b.fs.writeFile(`${T}/trace`, '');
    expect(b.fs.readText(`${T}/trace`)).toContain('entries-in-buffer/entries-written: 0/0');
    b.fs.writeFile(`${T}/events/iovh/enable`, '0');
    b.fs.writeFile(f, '');
    expect(b.fs.readText(f)).toBe('');
    expect(b.fs.exists(`${T}/events/iovh`)).toBe(false);
  });

  it('instances have their own buffer and enables; mkdir elsewhere is EPERM', () => {
    const b = mock({ profile: 'fixed' });
    b.fs.writeFile(`${T}/kprobe_events`, 'p:iovh/map dma_buf_map_interconnect');
    b.fs.mkdir(`${T}/instances/iovh`);
    expectErrno(() => b.fs.mkdir(`${T}/instances/iovh`), 'EEXIST');
    expectErrno(() => b.fs.mkdir(`${T}/events/mine`), 'EPERM');
    expectErrno(() => b.fs.mkdir('/sys/bus/pci/foo'), 'EPERM');
    b.fs.writeFile(`${T}/instances/iovh/events/iovh/map/enable`, '1');
    b.kernel.platform.kernel.trace('dma_buf_map_interconnect', 'entry', {});
    expect(b.fs.readText(`${T}/instances/iovh/trace`)).toMatch(/map: \(dma_buf_map_interconnect\+0x4\/0xe0\)\n$/);
    expect(b.fs.readText(`${T}/trace`)).not.toMatch(/map:/);
    b.fs.writeFile(`${T}/instances/iovh/tracing_on`, '0');
    b.kernel.platform.kernel.trace('dma_buf_map_interconnect', 'entry', {});
    expect(b.fs.readText(`${T}/instances/iovh/trace`).match(/map:/g)).toHaveLength(1);
    expectErrno(() => b.fs.writeFile(`${T}/kprobe_events`, ''), 'EBUSY'); // enabled in the instance
    b.fs.rmdir(`${T}/instances/iovh`);
    expectErrno(() => b.fs.rmdir(`${T}/instances/iovh`), 'ENOENT');
    b.fs.writeFile(`${T}/kprobe_events`, '');
  });

  it('dma_buf tracepoints print exp_name/size/ino (docs/kernel.md §10); set_event enables them', () => {
    const b = mock();
    b.fs.writeFile(`${T}/set_event`, 'dma_buf:dma_buf_export\n');
    expect(b.fs.readText(`${T}/set_event`)).toBe('dma_buf:dma_buf_export\n');
    const memfd = b.dev.memfdCreate('t', 2);
    b.dev.ftruncate(memfd, 4096n);
    b.dev.addSeals(memfd, 2);
    const u = b.dev.open('/dev/udmabuf', 2);
    b.dev.udmabufCreate(u, { memfd, offset: 0n, size: 4096n });
    expect(b.fs.readText(`${T}/trace`)).toMatch(/: dma_buf_export: exp_name=udmabuf size=4096 ino=\d+\n$/);
    expectErrno(() => b.fs.writeFile(`${T}/set_event`, 'nope:nothing'), 'EINVAL');
  });
});

describe('what capture and doctor read', () => {
  it('osrelease, boot_id, iomem System RAM lines and DMI ids that rebuild the machine line', async () => {
    const { parseIomemRam } = await import('../../src/host/capture.js');
    const b = mock({ profile: 'upstream-7.1' });
    expect(b.fs.readText('/proc/sys/kernel/osrelease')).toBe('7.2.13\n');
    const id = b.fs.readText('/proc/sys/kernel/random/boot_id');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}\n$/);
    expect(mock({ profile: 'upstream-7.1' }).fs.readText('/proc/sys/kernel/random/boot_id')).toBe(id);
    const iomem = b.fs.readText('/proc/iomem');
    expect(iomem).toContain('00000000-7fffffff : System RAM\n');
    expect(iomem).toContain('4000000000-43ffffffff : 0000:03:00.0\n');
    expect(parseIomemRam(iomem)).toEqual([
      { start: 0n, size: 0x80000000n },
      { start: 0x100000000n, size: 0x380000000n },
    ]);
    const dmi = (n: string) => b.fs.readText(`/sys/class/dmi/id/${n}`).trim();
    expect(`${dmi('sys_vendor')} ${dmi('product_name')}, BIOS ${dmi('bios_version')} ${dmi('bios_date')}`).toBe(
      'iovh mock machine (Battlemage-like SR-IOV PF), BIOS 0.1 11/24/2026',
    );
  });
});
