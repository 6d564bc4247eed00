// @ts-check
// More kernel rules a QEMU guest's kernel answers, next to rules.mjs (run in
// the same VF phase, ids `rules.*`): how the pseudo filesystems answer stat,
// read, write, mkdir and rmdir (fs/kernfs, fs/proc, fs/tracefs, fs/read_write.c,
// fs/namei.c), /proc/sys/kernel writes (kernel/sysctl.c, kernel/panic.c) and
// memfd sizes (mm/shmem.c). Each case names the kernel function that decides it; where the
// answer is a value it goes into `observed`, which the mock must give too.
import { fail, pass } from './scenarios.mjs';
import { table } from './rules.mjs';

const PAGE = 4096;
const SYS = '/sys/bus/pci/devices';
const T = '/sys/kernel/tracing';

/**
 * @typedef {import('./rules.mjs').Rule} Rule
 * @typedef {import('./rules.mjs').Ctx} Ctx
 */

/** @type {Rule[]} */
export const MORE_RULES = [];
/** @param {string} id @param {string} title @param {string} rule @param {Rule['run']} run */
function rule(id, title, rule, run) {
  MORE_RULES.push({ id, title, rule, run });
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
