// @ts-check
// More kernel rules a QEMU guest's kernel answers, next to rules.mjs (run in
// the same VF phase, ids `rules.*`): how the pseudo filesystems answer stat,
// read, write, mkdir and rmdir (fs/kernfs, fs/proc, fs/tracefs, fs/read_write.c,
// fs/namei.c), more of tracefs (kernel/trace/trace_kprobe.c, trace_probe.c,
// trace_events.c, trace.c), sysfs resource mmap (drivers/pci/pci-sysfs.c),
// /proc/sys/kernel writes (kernel/sysctl.c, kernel/panic.c) and memfd sizes
// (mm/shmem.c). Each case names the kernel function that decides it; where the
// answer is a value it goes into `observed`, which the mock must give too.
import { codeOf, ruleTable, table } from './rule-table.mjs';
import { fireExports, kprobeGroup, kprobesMissing } from './probes.mjs';
import { fail, pass, skip } from './scenarios.mjs';

const PAGE = 4096;
const SYS = '/sys/bus/pci/devices';
const T = '/sys/kernel/tracing';

/** @typedef {import('./rule-table.mjs').Ctx} Ctx */

const { rules, rule } = ruleTable();
/** This file's rules, in order: rules.mjs runs them after its own. */
export const MORE_RULES = rules;

/** The second VF of the PF (enabled, no driver: the bring-up turned autoprobe off), or null. @param {Ctx} ctx */
function secondVf(ctx) {
  try {
    return ctx.backend.fs.readlink(`${SYS}/${ctx.pf}/virtfn1`).split('/').pop() ?? null;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------ the pseudo filesystems

rule(
  'fs.stat',
  'what stat and lstat say of sysfs, procfs and device nodes',
  'kernfs_iop_getattr: sysfs directories, links (lstat: st_size 0) and attributes, an attribute 0444 without a store, 0644 with one (DEVICE_ATTR_RW: sriov_numvfs, driver_override), 0200 write-only (drivers_probe), text attributes st_size PAGE_SIZE, a bin attribute its size (pci_create_attr: resourceN is the BAR size, mode 0600); procfs files st_size 0 (proc_reg); devtmpfs nodes: /dev/vfio/vfio misc 10:196 0666 (VFIO_MINOR, vfio_misc_dev mode), /dev/null 1:3 0666, /dev/kmsg 1:11 0644 (drivers/char/mem.c devlist)',
  (ctx) => {
    const fs = ctx.backend.fs;
    const vf0 = `${SYS}/${ctx.vf}`;
    /** @param {import('../../../src/backend/types.js').FileStat} s */
    const show = (s) =>
      `${s.kind} ${s.mode.toString(8).padStart(4, '0')}${s.kind === 'chardev' ? ` ${s.major}:${s.minor}` : ` ${s.size}`}`;
    /** @type {Array<[string, () => import('../../../src/backend/types.js').FileStat]>} */
    const cases = [
      ['pf dir', () => fs.stat(`${SYS}/${ctx.pf}`)],
      ['physfn lstat', () => fs.lstat(`${vf0}/physfn`)],
      ['physfn stat', () => fs.stat(`${vf0}/physfn`)],
      ['vendor', () => fs.stat(`${SYS}/${ctx.pf}/vendor`)],
      ['sriov_numvfs', () => fs.stat(`${SYS}/${ctx.pf}/sriov_numvfs`)],
      ['driver_override', () => fs.stat(`${vf0}/driver_override`)],
      ['drivers_probe', () => fs.stat('/sys/bus/pci/drivers_probe')],
      ['resource0', () => fs.stat(`${vf0}/resource0`)],
      ['/proc/version', () => fs.stat('/proc/version')],
      ['/dev/vfio/vfio', () => fs.stat('/dev/vfio/vfio')],
      ['/dev/null', () => fs.stat('/dev/null')],
      ['/dev/kmsg', () => fs.stat('/dev/kmsg')],
    ];
    const got = cases.map(([what, fn]) => {
      try {
        return `${what}: ${show(fn())}`;
      } catch (e) {
        return `${what}: ${/** @type {{ code?: string }} */ (e).code ?? String(e)}`;
      }
    });
    const observed = got.join('; ');
    const want = [
      'pf dir: dir 0755 0',
      'physfn lstat: link 0777 0',
      'physfn stat: dir 0755 0',
      'vendor: file 0444 4096',
      'sriov_numvfs: file 0644 4096',
      'driver_override: file 0644 4096',
      'drivers_probe: file 0200 4096',
      'resource0: file 0600',
      '/proc/version: file 0444 0',
      '/dev/vfio/vfio: chardev 0666 10:196',
      '/dev/null: chardev 0666 1:3',
      '/dev/kmsg: chardev 0644 1:11',
    ];
    const wrong = want.filter((w, i) => !got[i]?.startsWith(w));
    return wrong.length
      ? fail(`unexpected: ${wrong.join(', ')} (${observed})`, { observed })
      : pass(observed, { observed });
  },
);

rule(
  'fs.errors',
  'reads, writes, mkdir and rmdir the pseudo filesystems refuse',
  'read(2) of a directory EISDIR (generic_read_dir); a file without a read op EINVAL and without a write op EINVAL (vfs_read/vfs_write: no FMODE_CAN_READ/WRITE: /dev/vfio/vfio, tracefs available_events); a sysfs attribute without show opened for reading EACCES (kernfs_fop_open); a procfs file without proc_write EIO (pde_write); mkdir in sysfs EPERM (kernfs_iop_mkdir: no syscall ops), of an existing name EEXIST, under a file ENOTDIR (filename_create, path lookup); rmdir of a sysfs directory EPERM (kernfs_iop_rmdir), of a file or a link ENOTDIR (may_delete)',
  (ctx) => {
    const fs = ctx.backend.fs;
    const pf = `${SYS}/${ctx.pf}`;
    const tracefs = fs.exists(`${T}/available_events`);
    return table([
      ['read a directory', 'EISDIR', () => fs.readFile(pf)],
      ['read /dev/vfio/vfio', 'EINVAL', () => fs.readFile('/dev/vfio/vfio')],
      ['read drivers_probe', 'EACCES', () => fs.readFile('/sys/bus/pci/drivers_probe')],
      ['write /proc/version', 'EIO', () => fs.writeFile('/proc/version', 'x')],
      ['write /dev/vfio/vfio', 'EINVAL', () => fs.writeFile('/dev/vfio/vfio', 'x')],
      ...(tracefs
        ? /** @type {Array<[string, string, () => unknown]>} */ ([
            ['write available_events', 'EINVAL', () => fs.writeFile(`${T}/available_events`, 'x', { append: true })],
          ])
        : []),
      ['mkdir in sysfs', 'EPERM', () => fs.mkdir(`${pf}/iovh_rules_dir`)],
      ['mkdir an existing name', 'EEXIST', () => fs.mkdir(pf)],
      ['mkdir under a file', 'ENOTDIR', () => fs.mkdir(`${pf}/vendor/x`)],
      ['rmdir a sysfs directory', 'EPERM', () => fs.rmdir('/sys/bus/pci/drivers/vfio-pci')],
      ['rmdir a file', 'ENOTDIR', () => fs.rmdir(`${pf}/vendor`)],
      ['rmdir a link', 'ENOTDIR', () => fs.rmdir(`${SYS}/${ctx.vf}/physfn`)],
    ]);
  },
);

rule(
  'fs.open',
  'open(2) of directories, attributes and device nodes, and what an O_PATH fd refuses',
  "do_open/may_open: a directory opened for writing EISDIR, for reading it opens; a missing name ENOENT; O_PATH opens any of them without running the file's open (do_dentry_open), and the fd takes no file operation: ioctl and pread look it up with fdget(), mmap with fget(), both skip FMODE_PATH files (fs/file.c), so each is EBADF; readRecords (O_NONBLOCK reads to EOF) of a sysfs attribute gives its text as one record",
  (ctx) => {
    const { O, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const fs = ctx.backend.fs;
    const pf = `${SYS}/${ctx.pf}`;
    /** @type {number[]} */
    const fds = [];
    const open = (/** @type {string} */ p, /** @type {number} */ flags) => {
      const fd = dev.open(p, flags | O.CLOEXEC);
      fds.push(fd);
      return fd;
    };
    try {
      let opath = -1;
      const out = table([
        ['a directory O_RDWR', 'EISDIR', () => open(pf, O.RDWR)],
        ['a directory O_RDONLY', 'ok', () => open(pf, O.RDONLY)],
        ['an attribute O_RDONLY', 'ok', () => open(`${pf}/vendor`, O.RDONLY)],
        ['a missing name', 'ENOENT', () => open(`${pf}/iovh_absent`, O.RDONLY)],
        ['/dev/vfio/vfio O_PATH', 'ok', () => (opath = open('/dev/vfio/vfio', O.PATH))],
        ['VFIO_GET_API_VERSION on it', 'EBADF', () => dev.vfioGetApiVersion(opath)],
        ['mmap of it', 'EBADF', () => dev.mmap(opath, 0n, PAGE, PROT.READ).unmap()],
        ['a directory O_PATH', 'ok', () => open(pf, O.PATH)],
        [
          'vendor as one record',
          'ok',
          () => {
            const r = fs.readRecords(`${pf}/vendor`);
            return r.length === 1 && r[0] === fs.readText(`${pf}/vendor`) ? 0 : dev.close(-1);
          },
        ],
      ]);
      return out;
    } finally {
      for (const fd of fds) dev.close(fd);
    }
  },
);

// ------------------------------------------------------------ tracefs

rule(
  'tracefs.names',
  'kprobe names: defaults, clashes with tracepoints, too many arguments, the format file',
  "trace_kprobe.c __trace_kprobe_create: no EVENT gives p_<symbol>_<offset> in group kprobes; more than MAX_TRACE_ARGS (128) arguments E2BIG; an event name that is not a C identifier EINVAL (is_good_name), while a group may also hold '-' (is_good_system_name); trace_probe_register_event_call: a GROUP/EVENT a tracepoint already has (dma_buf/dma_buf_put) EEXIST; the format file: common fields, then __probe_ip for an entry probe, __probe_func and __probe_ret_ip for a return probe (kprobe_event_define_fields, kretprobe_event_define_fields), then each argument (x64: u64, 0x%Lx), and the print fmt of __set_print_fmt; an instance's tracing_on reads what was written (rb_simple_write); filter reads none and takes 0 (apply_event_filter)",
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    const fs = ctx.backend.fs;
    const { g, def, inst } = kprobeGroup(ctx, 'names');
    const many = Array.from({ length: 129 }, (_, i) => `a${i}=$arg1`).join(' ');
    /** @type {string[]} */
    const made = [];
    let instance = false;
    const format = (/** @type {string} */ e) =>
      fs
        .readText(`${T}/events/${g}/${e}/format`)
        .split('\n')
        .filter((l) => !l.startsWith('ID:'))
        .join('|');
    /** @type {string[]} */
    const seen = [];
    try {
      const out = table(
        [
          ['default name', 'ok', () => (def('p dma_buf_export'), made.push('kprobes/p_dma_buf_export_0'))],
          [
            'listed as p:kprobes/p_dma_buf_export_0',
            'ok',
            () =>
              fs.readText(`${T}/kprobe_events`).includes('p:kprobes/p_dma_buf_export_0 dma_buf_export') ? 0 : def('x'),
          ],
          ['remove it', 'ok', () => (def('-:kprobes/p_dma_buf_export_0'), made.shift())],
          ['129 arguments', 'E2BIG', () => def(`p:${g}/m dma_buf_export ${many}`)],
          ['event 1bad', 'EINVAL', () => def(`p:${g}/1bad dma_buf_export`)],
          // A group may hold '-' (is_good_system_name), an event may not.
          ['group a-b', 'ok', () => (def(`p:a-b_${process.pid}/x dma_buf_export`), made.push(`a-b_${process.pid}/x`))],
          ['event a-b', 'EINVAL', () => def(`p:${g}/a-b dma_buf_export`)],
          ['a tracepoint name', 'EEXIST', () => def('p:dma_buf/dma_buf_put dma_buf_export')],
          ['entry probe', 'ok', () => (def(`p:${g}/e dma_buf_export x=$arg1`), made.push(`${g}/e`))],
          ['return probe', 'ok', () => (def(`r:${g}/r dma_buf_export`), made.push(`${g}/r`))],
          ['format of e', 'ok', () => seen.push(`e{${format('e')}}`)],
          ['format of r', 'ok', () => seen.push(`r{${format('r')}}`)],
          ['instance', 'ok', () => (fs.mkdir(inst), (instance = true))],
          ['tracing_on 0', 'ok', () => fs.writeFile(`${inst}/tracing_on`, '0')],
          ['reads 0', 'ok', () => (fs.readText(`${inst}/tracing_on`) === '0\n' ? 0 : def('x'))],
          ['tracing_on 1', 'ok', () => fs.writeFile(`${inst}/tracing_on`, '1')],
          ['reads 1', 'ok', () => (fs.readText(`${inst}/tracing_on`) === '1\n' ? 0 : def('x'))],
          ['filter reads none', 'ok', () => (fs.readText(`${inst}/events/${g}/e/filter`) === 'none\n' ? 0 : def('x'))],
          ['filter 0', 'ok', () => fs.writeFile(`${inst}/events/${g}/e/filter`, '0')],
          ['events/enable 0', 'ok', () => (fs.readText(`${inst}/events/enable`) === '0\n' ? 0 : def('x'))],
          ['set_event by name alone', 'ok', () => fs.writeFile(`${inst}/set_event`, 'e', { append: true })],
          ['events/enable X', 'ok', () => (fs.readText(`${inst}/events/enable`) === 'X\n' ? 0 : def('x'))],
          ['e enabled', 'ok', () => (fs.readText(`${inst}/events/${g}/e/enable`) === '1\n' ? 0 : def('x'))],
          ['set_event !name', 'ok', () => fs.writeFile(`${inst}/set_event`, '!e', { append: true })],
          ['e disabled', 'ok', () => (fs.readText(`${inst}/events/${g}/e/enable`) === '0\n' ? 0 : def('x'))],
        ],
        () => {
          if (instance) fs.rmdir(inst);
          for (const e of made) codeOf(() => def(`-:${e}`));
        },
      );
      const observed = `${out.observed} ${seen.join(' ').replaceAll(g, 'G')}`;
      return { ...out, observed, detail: `${out.detail}; ${seen.join(' ').replaceAll(g, 'G')}` };
    } catch (e) {
      if (instance) codeOf(() => fs.rmdir(inst));
      for (const x of made) codeOf(() => def(`-:${x}`));
      throw e;
    }
  },
);

rule(
  'tracefs.fetch-values',
  'what $comm, a register and $retval fetch when dma_buf_export fires',
  'trace_probe.c: $comm fetches current->comm as a string ("node" here, as /proc/self/comm says); %di on x86-64 is the first argument (struct dma_buf_export_info *, a kernel pointer); a return probe prints (CALLER+off/size <- SYMBOL) with CALLER the function dma_buf_export returned to (vfio_pci_core_feature_dma_buf, drivers/vfio/pci/vfio_pci_dmabuf.c), and $retval is the struct dma_buf * it returned',
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    const fs = ctx.backend.fs;
    const { g, def, inst } = kprobeGroup(ctx, 'values');
    def(`p:${g}/c dma_buf_export comm=$comm info=%di`);
    def(`r:${g}/r dma_buf_export ret=$retval`);
    let made = false;
    try {
      fs.mkdir(inst);
      made = true;
      fs.writeFile(`${inst}/events/${g}/enable`, '1');
      fireExports(ctx);
      fs.writeFile(`${inst}/events/${g}/enable`, '0');
      const lines = fs.readText(`${inst}/trace`).split('\n');
      const c = lines.find((l) => l.includes(' c: ('));
      const r = lines.find((l) => l.includes(' r: ('));
      const comm = fs.readText('/proc/self/comm').trim();
      const got = {
        comm: /comm="([^"]*)"/.exec(c ?? '')?.[1] ?? null,
        info: /info=(0x[0-9a-f]+)/.exec(c ?? '')?.[1] ?? null,
        caller:
          /r: \(([A-Za-z0-9_.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\w+\])? <- dma_buf_export\)/.exec(r ?? '')?.[1] ?? null,
        ret: /ret=(0x[0-9a-f]+)/.exec(r ?? '')?.[1] ?? null,
      };
      // A kernel address: 0xffff... with 4-level paging, 0xff... with 5 (Debian's kernel on QEMU's -cpu max has LA57).
      const kernelPointer = (/** @type {string | null} */ v) => v !== null && /^0xff[0-9a-f]{14}$/.test(v);
      const observed = `comm=${got.comm === comm ? 'own' : got.comm} info=${kernelPointer(got.info) ? 'kernel pointer' : got.info} caller=${got.caller} ret=${kernelPointer(got.ret) ? 'kernel pointer' : got.ret}`;
      const ok =
        got.comm === comm &&
        kernelPointer(got.info) &&
        got.caller === 'vfio_pci_core_feature_dma_buf' &&
        kernelPointer(got.ret);
      return ok
        ? pass(observed, { observed })
        : fail(`${observed} (lines: ${c ?? 'none'} | ${r ?? 'none'})`, { observed });
    } finally {
      if (made) fs.rmdir(inst);
      def(`-:${g}/c`);
      def(`-:${g}/r`);
    }
  },
);

// ------------------------------------------------------------ sysfs resource files (drivers/pci/pci-sysfs.c)

rule(
  'sysfs.resource-mmap',
  "mmap of a VF's sysfs resource file",
  "pci_dev_resource_uc_attr: resourceN for each memory BAR (resourceN_wc only where arch_can_pci_mmap_wc(), which this guest's x86 answers no: not compared); pci_mmap_resource_range: within the BAR (pci_mmap_fits) maps the bus addresses, past its end EINVAL; mmap(2) of an offset that is not page aligned EINVAL (do_mmap)",
  (ctx) => {
    const vf1 = secondVf(ctx);
    if (!vf1) return skip('no second VF (the bring-up enables two)');
    const { O, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const dir = `${SYS}/${vf1}`;
    const bar = ctx.backend.fs.stat(`${dir}/resource0`).size;
    const fd = dev.open(`${dir}/resource0`, O.RDWR | O.CLOEXEC);
    try {
      const map = (/** @type {bigint} */ off, /** @type {number} */ len) => dev.mmap(fd, off, len, PROT.READ).unmap();
      const out = table([
        ['first page', 'ok', () => map(0n, PAGE)],
        ['the whole BAR', 'ok', () => map(0n, bar)],
        ['last page', 'ok', () => map(BigInt(bar - PAGE), PAGE)],
        ['a page past the end', 'EINVAL', () => map(BigInt(bar), PAGE)],
        ['longer than the BAR', 'EINVAL', () => map(0n, bar + PAGE)],
        ['offset 100', 'EINVAL', () => map(100n, PAGE)],
      ]);
      return { ...out, observed: `${out.observed} size=${bar}` };
    } finally {
      dev.close(fd);
    }
  },
);

// ------------------------------------------------------------ /proc/sys/kernel

rule(
  'proc.sysctl',
  '/proc/sys/kernel/tainted and hung_task_timeout_secs take what their handlers parse',
  "proc_taint (kernel/panic.c) via proc_doulongvec_minmax: a negative number EINVAL, 0 adds no taint; proc_dohung_task_timeout_secs (kernel/hung_task.c): a negative number EINVAL, the current value written back is accepted; /proc/self is a link to the caller's pid, /proc/thread-self to <pid>/task/<tid> (fs/proc/self.c, thread_self.c)",
  (ctx) => {
    const fs = ctx.backend.fs;
    const hung = '/proc/sys/kernel/hung_task_timeout_secs';
    const hasHung = fs.exists(hung);
    const taint = fs.readText('/proc/sys/kernel/tainted').trim();
    const self = fs.readlink('/proc/self');
    const thread = fs.readlink('/proc/thread-self');
    const out = table([
      ['/proc/self is a pid', 'ok', () => (/^\d+$/.test(self) ? 0 : fs.readFile('/'))],
      ['/proc/thread-self is pid/task/tid', 'ok', () => (thread === `${self}/task/${self}` ? 0 : fs.readFile('/'))],
      ['tainted -1', 'EINVAL', () => fs.writeFile('/proc/sys/kernel/tainted', '-1')],
      ['tainted 0', 'ok', () => fs.writeFile('/proc/sys/kernel/tainted', '0')],
      [
        'taint unchanged',
        'ok',
        () => (fs.readText('/proc/sys/kernel/tainted').trim() === taint ? 0 : fs.readFile('/')),
      ],
      ...(hasHung
        ? /** @type {Array<[string, string, () => unknown]>} */ ([
            ['hung_task_timeout_secs -1', 'EINVAL', () => fs.writeFile(hung, '-1')],
            ['hung_task_timeout_secs as it is', 'ok', () => fs.writeFile(hung, fs.readText(hung).trim())],
          ])
        : []),
    ]);
    return out;
  },
);

// ------------------------------------------------------------ memfd sizes (mm/shmem.c)

rule(
  'memfd.truncate',
  'a memfd grows and shrinks by ftruncate, and a partial page past the new end reads zero',
  "shmem_setattr: a size change without seals is accepted in either direction; truncate_setsize zeroes the tail of a partial last page (truncate_inode_pages_range), so bytes past a shrink read 0 after the file grows again; udmabuf_create: a range past the memfd's end EINVAL",
  (ctx) => {
    const { MFD, F_SEAL, O, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const P = BigInt(PAGE);
    const fd = dev.memfdCreate('iovh-rules-truncate', MFD.ALLOW_SEALING);
    const udmabuf = ctx.backend.fs.exists('/dev/udmabuf') ? dev.open('/dev/udmabuf', O.RDWR) : null;
    try {
      dev.ftruncate(fd, 3n * P);
      const fill = () => {
        const m = dev.mmap(fd, 0n, 2 * PAGE, PROT.READ | PROT.WRITE);
        try {
          m.write(0, new Uint8Array(2 * PAGE).fill(0xa5));
        } finally {
          m.unmap();
        }
      };
      const byteAt = (/** @type {number} */ off) => {
        const m = dev.mmap(fd, 0n, 2 * PAGE, PROT.READ);
        try {
          return m.read(off, 1)[0];
        } finally {
          m.unmap();
        }
      };
      /** @type {number[]} */
      const seen = [];
      const out = table([
        ['fill 2 pages', 'ok', fill],
        ['shrink to 1 page + 100', 'ok', () => dev.ftruncate(fd, P + 100n)],
        ['grow to 2 pages', 'ok', () => dev.ftruncate(fd, 2n * P)],
        [
          'byte 99 of page 1 kept, byte 100 zero',
          'ok',
          () => (
            seen.push(byteAt(PAGE + 99) ?? -1, byteAt(PAGE + 100) ?? -1), seen.join() === '165,0' || dev.close(-1)
          ),
        ],
        ['grow to 4 pages', 'ok', () => dev.ftruncate(fd, 4n * P)],
        ['shrink to 0', 'ok', () => dev.ftruncate(fd, 0n)],
        ['grow to 2 pages again', 'ok', () => dev.ftruncate(fd, 2n * P)],
        ...(udmabuf === null
          ? []
          : /** @type {Array<[string, string, () => unknown]>} */ ([
              ['seal SHRINK', 'ok', () => dev.addSeals(fd, F_SEAL.SHRINK)],
              [
                'udmabuf past the end',
                'EINVAL',
                () => dev.close(dev.udmabufCreate(udmabuf, { memfd: fd, offset: P, size: 2n * P })),
              ],
              [
                'udmabuf of the whole file',
                'ok',
                () => dev.close(dev.udmabufCreate(udmabuf, { memfd: fd, offset: 0n, size: 2n * P })),
              ],
            ])),
      ]);
      return { ...out, observed: `${out.observed} bytes=${seen.join(',')}` };
    } finally {
      if (udmabuf !== null) dev.close(udmabuf);
      dev.close(fd);
    }
  },
);

// ------------------------------------------------------------ the stand-in importer on a kernel without the series

/**
 * Why the stand-in importer rules cannot run here, or null. Whether the module is loaded is part of the
 * machine, as its devices are: the guest's /init loads it (ci.mjs builds it against the kernel under test;
 * Debian's stock kernel has no headers here to build it), and the replay on the mock is told the same.
 * @param {Ctx} ctx
 */
function standInMissing(ctx) {
  if (!ctx.standIn)
    return "iovh's stand-in importer is not loaded (kernel/iovh-ic-importer; the sanitizer guest loads it)";
  if (!ctx.lib.iovhIc) return 'the stand-in uAPI module is not available';
  return null;
}

rule(
  'standin.p2p-import',
  'a dynamic P2P importer on the VF dma-buf: attach gates, the P2P route, revoke by reset and low power, close',
  'kernel/iovh-ic-importer IOVH_IC_IMPORT: unknown flags EINVAL, no such importer device ENODEV, dma_buf_get of a closed fd EBADF and of a file that is not a dma-buf EINVAL; vfio_pci_dma_buf_attach: an importer without peer2peer EOPNOTSUPP, without invalidate_mappings EOPNOTSUPP (dma_buf_attach_revocable), with both it attaches and nothing negotiates (no interconnect series), a revoked buffer ENODEV; IOVH_IC_MAP: dma_buf_map_attachment -> vfio_pci_dma_buf_map -> dma_buf_phys_vec_to_sgt asks pci_p2pdma_map_type for the route between the importer (the PF) and the VF, which on this QEMU machine (both below one root port, no whitelisted host bridge: drivers/pci/p2pdma.c) is NOT_SUPPORTED: EINVAL, and while revoked ENODEV first; every revoke and un-revoke calls invalidate_mappings (vfio_pci_dma_buf_move: a reset twice, low power entry and exit once each, the close once); IOVH_IC_RW without the interconnect path EOPNOTSUPP; an unknown handle ENOENT',
  async (ctx) => {
    const why = standInMissing(ctx);
    if (why) return skip(why);
    const ic = /** @type {NonNullable<typeof ctx.lib.iovhIc>} */ (ctx.lib.iovhIc);
    const { IOVH_IC } = ic;
    const { O, VFIO } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const importer = ic.StandInImporter.open(ctx.backend);
    const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
    const nul = dev.open('/dev/null', O.RDWR);
    /** @type {import('../../../src/uapi/iovh-ic.js').IcImport[]} */
    const imports = [];
    /** @type {import('../../../src/uapi/dmabuf.js').DmaBuf[]} */
    const bufs = [];
    try {
      const bar = [0, 1, 2, 3, 4, 5].find((i) => device.regionInfo(i).size >= BigInt(PAGE));
      if (bar === undefined) return skip('no BAR of a page');
      const buf = device.exportDmaBuf({ region: bar, ranges: [{ offset: 0, length: 2 * PAGE }] });
      bufs.push(buf);
      const P2P_REVOCABLE = IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE;
      const imp = (/** @type {number} */ fd, /** @type {number} */ flags, importerBdf = ctx.pf) => {
        const got = importer.import(fd, { importer: importerBdf, bar, flags });
        imports.push(got);
        return got;
      };
      /** @type {string[]} */
      const seen = [`api=${importer.api}`];
      /** @type {import('../../../src/uapi/iovh-ic.js').IcImport | null} */
      let a = null;
      const held = () => /** @type {import('../../../src/uapi/iovh-ic.js').IcImport} */ (a);
      const note = (/** @type {string} */ what) => {
        const info = held().info();
        seen.push(`${what}: invalidations=${info.invalidations} state=${info.state} path=${ic.icPathName(info.path)}`);
      };
      const lowPower = (/** @type {number} */ f) => device.feature(VFIO.DEVICE_FEATURE_SET | f, new Uint8Array(0));
      const first = table([
        ['flag 0x10', 'EINVAL', () => imp(buf.fd, 0x10)],
        ['no such importer device', 'ENODEV', () => imp(buf.fd, P2P_REVOCABLE, '0000:fe:1f.7')],
        ['a closed fd', 'EBADF', () => imp(4005, P2P_REVOCABLE)],
        ['/dev/null', 'EINVAL', () => imp(nul, P2P_REVOCABLE)],
        ['no peer2peer', 'EOPNOTSUPP', () => imp(buf.fd, IOVH_IC.IMPORT_REVOCABLE)],
        ['not revocable', 'EOPNOTSUPP', () => imp(buf.fd, IOVH_IC.IMPORT_P2P)],
        [
          'P2P and revocable',
          'ok',
          () => {
            a = imp(buf.fd, P2P_REVOCABLE);
            seen.push(`negotiated=${a.negotiated} size=${a.size}`);
          },
        ],
        ['map: no P2P route here', 'EINVAL', () => held().map()],
        ['read through the ranges', 'EOPNOTSUPP', () => held().read(0n, 4)],
      ]);
      if (first.status !== 'pass') return { ...first, observed: `${first.observed} ${seen.join(' ')}` };
      note('imported');
      // The reset is asynchronous (vfio waits for importers to unmap): outside table(), which is synchronous.
      await device.reset();
      note('after reset');
      const second = table([
        ['LOW_POWER_ENTRY', 'ok', () => lowPower(VFIO.FEATURE_LOW_POWER_ENTRY)],
        ['map while in low power', 'ENODEV', () => held().map()],
        ['import while in low power', 'ENODEV', () => imp(buf.fd, P2P_REVOCABLE)],
        ['LOW_POWER_EXIT', 'ok', () => lowPower(VFIO.FEATURE_LOW_POWER_EXIT)],
        ['a second import', 'ok', () => imp(buf.fd, P2P_REVOCABLE)],
        ['after low power', 'ok', () => note('after low power')],
        ['close the VFIO device', 'ok', () => device.close()],
        ['after the close', 'ok', () => note('after the close')],
        ['map after the close', 'ENODEV', () => held().map()],
        ['import after the close', 'ENODEV', () => imp(buf.fd, P2P_REVOCABLE)],
        ['release', 'ok', () => held().release()],
        ['info of a released handle', 'ENOENT', () => held().info()],
      ]);
      const observed = `${first.observed} ${second.observed} ${seen.join(' ')}`;
      return second.status === 'pass' ? pass(observed, { observed }) : { ...second, observed };
    } finally {
      for (const i of imports) codeOf(() => i.release());
      for (const b of bufs) b.close();
      dev.close(nul);
      importer.close();
      if (!device.closed) device.close();
    }
  },
);
