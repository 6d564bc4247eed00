// @ts-check
// Kernel rules the mock models that a QEMU guest's kernel can answer beyond
// the export path: the errno of sysfs stores (drivers/pci/iov.c,
// drivers/base/bus.c, drivers/pci/pci-driver.c), of tracefs kprobe
// definitions and instances (kernel/trace/trace_kprobe.c, trace_probe.c,
// trace.c), of the VFIO container, group, device, config space and features
// (drivers/vfio/{container,group,vfio_main}.c, drivers/vfio/pci/*),
// of udmabuf (drivers/dma-buf/udmabuf.c) and the dma-buf core, of the
// kmemleak control file (mm/kmemleak.c) and /dev/kmsg (kernel/printk/printk.c).
// Each asks the kernel and compares with what its source says; where the
// answer is a value, it is `observed`, which the mock must give too.
//
// They run in the VF phase of the guest (the VF on vfio-pci, its device
// closed) and put back what they change.
import { codeOf, ruleTable, table } from './rule-table.mjs';
import { fireExports, kprobeGroup, kprobesMissing } from './probes.mjs';
import { expectErrno, fail, pass, skip, sysErr } from './scenarios.mjs';
// More rules of the same kind (pseudo filesystems, more tracefs, sysfs resource mmap, sysctl, memfd sizes), run after these.
import { MORE_RULES } from './rules-more.mjs';

const PAGE = 4096;
const SYS = '/sys/bus/pci/devices';
const T = '/sys/kernel/tracing';
const KMEMLEAK = '/sys/kernel/debug/kmemleak';
// include/uapi/linux/memfd.h and fcntl.h (not in src/uapi/constants.ts: iovh itself does not use them)
const MFD_NOEXEC_SEAL = 0x8;
const MFD_EXEC = 0x10;
const F_SEAL_EXEC = 0x20;

/**
 * @typedef {import('./scenarios.mjs').Outcome} Outcome
 * @typedef {import('./scenarios.mjs').Result} Result
 * @typedef {import('./iommufd.mjs').Lib} Lib
 * @typedef {import('./rule-table.mjs').Ctx} Ctx
 * @typedef {import('./rule-table.mjs').Rule} Rule
 */

const { rules: OWN_RULES, rule } = ruleTable();

/** @param {Ctx} ctx @param {string} path */
const read = (ctx, path) => ctx.backend.fs.readText(path).trim();
/** @param {Ctx} ctx @param {string} path @param {string} data */
const write = (ctx, path, data) => ctx.backend.fs.writeFile(path, data);

// ------------------------------------------------------------ sysfs (drivers/pci/iov.c, drivers/base/bus.c)

rule(
  'sysfs.numvfs',
  'sriov_numvfs refuses text, too many VFs and a change while enabled',
  'sriov_numvfs_store: kstrtou16 failing (text, 65536) is EINVAL, above sriov_totalvfs ERANGE, the count it has a no-op, another count while VFs are enabled EBUSY',
  (ctx) => {
    const dir = `${SYS}/${ctx.pf}`;
    const total = Number(read(ctx, `${dir}/sriov_totalvfs`));
    const now = read(ctx, `${dir}/sriov_numvfs`);
    return table([
      ['abc', 'EINVAL', () => write(ctx, `${dir}/sriov_numvfs`, 'abc')],
      ['65536', 'EINVAL', () => write(ctx, `${dir}/sriov_numvfs`, '65536')],
      ['-1', 'EINVAL', () => write(ctx, `${dir}/sriov_numvfs`, '-1')],
      [`${total + 1}`, 'ERANGE', () => write(ctx, `${dir}/sriov_numvfs`, String(total + 1))],
      [`same ${now}`, 'ok', () => write(ctx, `${dir}/sriov_numvfs`, now)],
      ['other', 'EBUSY', () => write(ctx, `${dir}/sriov_numvfs`, String(Number(now) === 1 ? 2 : 1))],
      ['0x2 hex', Number(now) === 2 ? 'ok' : 'EBUSY', () => write(ctx, `${dir}/sriov_numvfs`, '0x2')],
      ['+2', Number(now) === 2 ? 'ok' : 'EBUSY', () => write(ctx, `${dir}/sriov_numvfs`, '+2')],
      ['02 octal', Number(now) === 2 ? 'ok' : 'EBUSY', () => write(ctx, `${dir}/sriov_numvfs`, '02')],
      ['08 (not octal)', 'EINVAL', () => write(ctx, `${dir}/sriov_numvfs`, '08')],
    ]);
  },
);

rule(
  'sysfs.autoprobe',
  'sriov_drivers_autoprobe takes a boolean',
  'sriov_drivers_autoprobe_store: kstrtobool (1/0, y/n, t/f in either case, on/off; a lone o is EINVAL), anything else EINVAL; the value reads back as 0/1',
  (ctx) => {
    const f = `${SYS}/${ctx.pf}/sriov_drivers_autoprobe`;
    const was = read(ctx, f);
    return table(
      [
        ['x', 'EINVAL', () => write(ctx, f, 'x')],
        ['on', 'ok', () => write(ctx, f, 'on')],
        ['reads 1', 'ok', () => (read(ctx, f) === '1' ? 0 : write(ctx, f, 'x'))],
        ['n', 'ok', () => write(ctx, f, 'n')],
        ['reads 0', 'ok', () => (read(ctx, f) === '0' ? 0 : write(ctx, f, 'x'))],
        ['T', 'ok', () => write(ctx, f, 'T')],
        ['reads 1 after T', 'ok', () => (read(ctx, f) === '1' ? 0 : write(ctx, f, 'x'))],
        ['F', 'ok', () => write(ctx, f, 'F')],
        ['o alone', 'EINVAL', () => write(ctx, f, 'o')],
        ['off', 'ok', () => write(ctx, f, 'off')],
        ['reads 0 after off', 'ok', () => (read(ctx, f) === '0' ? 0 : write(ctx, f, 'x'))],
      ],
      () => write(ctx, f, was),
    );
  },
);

rule(
  'sysfs.bind',
  'bind, unbind and drivers_probe of devices that are not there or not bound',
  "bind_store/unbind_store: no such device (or not the driver's) is ENODEV, a device already bound EBUSY (__driver_probe_device); drivers_probe_store: no such device is ENODEV",
  (ctx) =>
    table([
      ['bind unknown', 'ENODEV', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/bind', '0000:7f:1f.7')],
      ['unbind unknown', 'ENODEV', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/unbind', '0000:7f:1f.7')],
      ['unbind the PF from vfio-pci', 'ENODEV', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/unbind', ctx.pf)],
      ['drivers_probe unknown', 'ENODEV', () => write(ctx, '/sys/bus/pci/drivers_probe', '0000:7f:1f.7')],
      // __driver_probe_device: a device that has a driver is EBUSY.
      ['bind the bound VF again', 'EBUSY', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/bind', ctx.vf)],
    ]),
);

rule(
  'sysfs.new-id',
  'new_id and remove_id parse their fields',
  'new_id_store: fewer than two hex fields is EINVAL; remove_id_store: an id that was never added is ENODEV',
  (ctx) =>
    table([
      ['new_id zz', 'EINVAL', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/new_id', 'zz')],
      ['new_id one field', 'EINVAL', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/new_id', '8086')],
      ['remove_id absent', 'ENODEV', () => write(ctx, '/sys/bus/pci/drivers/vfio-pci/remove_id', '1234 5678')],
    ]),
);

rule(
  'sysfs.dynid',
  "dynamic ids: added, not twice, removed; driver_data must be one of the table's; an id the driver has is EEXIST",
  "new_id_store: without driver_data an id the driver's static table matches is EEXIST (do_pci_match_id, override-only entries excluded: vfio-pci's match nothing), a driver_data no table entry has EINVAL, and so is an id a dynamic id already matches (do_pci_add_dynid with check_dup); remove_id_store: fewer than two fields EINVAL, a matching dynamic id is removed, then ENODEV",
  (ctx) => {
    const vfio = '/sys/bus/pci/drivers/vfio-pci';
    const pfDriver = ctx.backend.fs.readlink(`${SYS}/${ctx.pf}/driver`).split('/').pop();
    const vendor = read(ctx, `${SYS}/${ctx.pf}/vendor`).replace(/^0x/, '');
    const device = read(ctx, `${SYS}/${ctx.pf}/device`).replace(/^0x/, '');
    return table(
      [
        ['new_id', 'ok', () => write(ctx, `${vfio}/new_id`, '1234 5678')],
        ['new_id again', 'EEXIST', () => write(ctx, `${vfio}/new_id`, '1234 5678')],
        ['new_id driver_data 1', 'EINVAL', () => write(ctx, `${vfio}/new_id`, '1234 5679 ffffffff ffffffff 0 0 1')],
        ['new_id driver_data 0', 'ok', () => write(ctx, `${vfio}/new_id`, '1234 567a ffffffff ffffffff 0 0 0')],
        [
          `new_id of the PF's own id to ${pfDriver}`,
          'EEXIST',
          () => write(ctx, `/sys/bus/pci/drivers/${pfDriver}/new_id`, `${vendor} ${device}`),
        ],
        ['remove_id zz', 'EINVAL', () => write(ctx, `${vfio}/remove_id`, 'zz')],
        ['remove_id', 'ok', () => write(ctx, `${vfio}/remove_id`, '1234 5678')],
        ['remove_id again', 'ENODEV', () => write(ctx, `${vfio}/remove_id`, '1234 5678')],
        ['remove_id with subvendor', 'ok', () => write(ctx, `${vfio}/remove_id`, '1234 567a ffffffff')],
      ],
      () => {
        for (const id of ['1234 5678', '1234 567a'])
          try {
            write(ctx, `${vfio}/remove_id`, id);
          } catch {
            // already removed
          }
      },
    );
  },
);

rule(
  'sysfs.driver-override',
  'driver_override takes a name, and a newline clears it',
  'driver_override store: a name sets it, "\\n" clears it to "(null)"',
  (ctx) => {
    const f = `${SYS}/${ctx.pf}/driver_override`;
    const was = read(ctx, f);
    /** @type {string[]} */
    const seen = [];
    try {
      write(ctx, f, 'iovh-nothing');
      seen.push(read(ctx, f));
      write(ctx, f, '\n');
      seen.push(read(ctx, f));
    } finally {
      write(ctx, f, was === '(null)' ? '\n' : was);
    }
    const observed = seen.join(' ');
    return observed === 'iovh-nothing (null)' ? pass(observed, { observed }) : fail(observed, { observed });
  },
);

rule(
  'sysfs.read-only',
  'read-only and absent attributes',
  'kernfs: opening an attribute without a store for writing is EACCES; an absent attribute is ENOENT; a directory is EISDIR',
  (ctx) =>
    table([
      ['write vendor', 'EACCES', () => write(ctx, `${SYS}/${ctx.pf}/vendor`, '1')],
      ['write sriov_totalvfs', 'EACCES', () => write(ctx, `${SYS}/${ctx.pf}/sriov_totalvfs`, '1')],
      ['read absent', 'ENOENT', () => read(ctx, `${SYS}/${ctx.pf}/iovh_absent`)],
      ['readdir a file', 'ENOTDIR', () => ctx.backend.fs.readdir(`${SYS}/${ctx.pf}/vendor`)],
      ['readlink a file', 'EINVAL', () => ctx.backend.fs.readlink(`${SYS}/${ctx.pf}/vendor`)],
    ]),
);

rule(
  'sysfs.vf-files',
  "a VF's sysfs: physfn, no SR-IOV files, its iommu_group",
  'pci_iov_sysfs_link: a VF links physfn to its PF and the PF virtfnN to it; a VF has no sriov_* files',
  (ctx) => {
    const dir = `${SYS}/${ctx.vf}`;
    const physfn = ctx.backend.fs.readlink(`${dir}/physfn`).split('/').pop();
    const hasSriov = ctx.backend.fs.exists(`${dir}/sriov_totalvfs`);
    const observed = `physfn=${physfn} sriov=${hasSriov}`;
    return physfn === ctx.pf && !hasSriov ? pass(observed, { observed }) : fail(observed, { observed });
  },
);

// ------------------------------------------------------------ tracefs (kernel/trace/trace_kprobe.c)

rule(
  'tracefs.kprobe-errors',
  'kprobe_events refuses bad definitions with their errno',
  '__trace_kprobe_create: an unknown symbol is EINVAL (validate_probe_symbol ENOENT reported as BAD_PROBE_ADDR); a malformed command, MAXACTIVE on an entry probe, $retval on an entry probe, a bad argument name or a duplicated one EINVAL; the same probe twice EEXIST; removing what is not there ENOENT, what is enabled EBUSY',
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    const { g, def, inst } = kprobeGroup(ctx, 'rules');
    let made = false;
    try {
      return table(
        [
          ['unknown symbol', 'EINVAL', () => def(`p:${g}/a iovh_no_such_function`)],
          ['no symbol', 'EINVAL', () => def(`p:${g}/a`)],
          ['bad head', 'EINVAL', () => def(`x:${g}/a dma_buf_export`)],
          ['maxactive on p', 'EINVAL', () => def(`p5:${g}/a dma_buf_export`)],
          ['$retval on p', 'EINVAL', () => def(`p:${g}/a dma_buf_export r=$retval`)],
          ['bad arg name', 'EINVAL', () => def(`p:${g}/a dma_buf_export 1x=$arg1`)],
          ['dup arg name', 'EINVAL', () => def(`p:${g}/a dma_buf_export x=$arg1 x=$arg2`)],
          ['define', 'ok', () => def(`p:${g}/a dma_buf_export`)],
          ['same again', 'EEXIST', () => def(`p:${g}/a dma_buf_export`)],
          ['return probe same name', 'EEXIST', () => def(`r:${g}/a dma_buf_export`)],
          ['remove absent', 'ENOENT', () => def(`-:${g}/b`)],
          [
            'enable in an instance',
            'ok',
            () => {
              ctx.backend.fs.mkdir(inst);
              made = true;
              ctx.backend.fs.writeFile(`${inst}/events/${g}/a/enable`, '1');
            },
          ],
          ['remove enabled', 'EBUSY', () => def(`-:${g}/a`)],
          ['enable 2', 'EINVAL', () => ctx.backend.fs.writeFile(`${inst}/events/${g}/a/enable`, '2')],
          ['instance again', 'EEXIST', () => ctx.backend.fs.mkdir(inst)],
        ],
        () => {
          if (made) {
            try {
              ctx.backend.fs.writeFile(`${inst}/events/${g}/a/enable`, '0');
            } catch {
              // removed below either way
            }
            ctx.backend.fs.rmdir(inst);
          }
          try {
            def(`-:${g}/a`);
          } catch {
            // not defined
          }
        },
      );
    } catch (e) {
      if (!sysErr(e)) throw e;
      return fail(`${e.code}: ${e.message}`, { errno: e.code });
    }
  },
);

rule(
  'tracefs.instance-absent',
  'removing an instance that does not exist',
  'instance_rmdir: no such instance is ENOENT',
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    return expectErrno(ctx, 'rmdir instances/iovh_absent', 'ENOENT', () =>
      ctx.backend.fs.rmdir(`${T}/instances/iovh_absent_${process.pid}`),
    );
  },
);

rule(
  'tracefs.hits',
  'an entry probe with fetch arguments records one hit per export',
  'a kprobe on dma_buf_export fires once per VFIO_DEVICE_FEATURE DMA_BUF export, in the instance it is enabled in only',
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    const { g, def, inst } = kprobeGroup(ctx, 'hits');
    const other = `${T}/instances/${g}_other`;
    def(`p:${g}/export dma_buf_export info=$arg1:x64`);
    ctx.backend.fs.mkdir(inst);
    ctx.backend.fs.mkdir(other);
    try {
      ctx.backend.fs.writeFile(`${inst}/events/${g}/export/enable`, '1');
      fireExports(ctx, 3);
      ctx.backend.fs.writeFile(`${inst}/events/${g}/export/enable`, '0');
      const lines = (/** @type {string} */ dir) =>
        ctx.backend.fs
          .readText(`${dir}/trace`)
          .split('\n')
          .filter((l) => l.includes(`export: (dma_buf_export+`));
      const here = lines(inst);
      const there = lines(other);
      const withArg = here.filter((l) => / info=0x[0-9a-f]+/.test(l)).length;
      const observed = `hits=${here.length} args=${withArg} other=${there.length}`;
      return here.length === 3 && withArg === 3 && there.length === 0
        ? pass(observed, { observed })
        : fail(observed, { observed });
    } finally {
      ctx.backend.fs.rmdir(inst);
      ctx.backend.fs.rmdir(other);
      def(`-:${g}/export`);
    }
  },
);

rule(
  'tracefs.fetch-types',
  'kprobe fetch types and immediates, set_event, and a group enable that reads X',
  'trace_probe.c: an immediate (\\N) is fetched as written, its type decides the print (x: 0x%x of the low bits, u: %u, s: %d; no type: x64); kprobe_events shows each definition as written, a return probe with its MAXACTIVE (trace_kprobe_show); set_event takes GROUP:EVENT, ! before it disables, no match is EINVAL (ftrace_set_clr_event); events/GROUP/enable reads X when some of its events are enabled (system_enable_read)',
  (ctx) => {
    const why = kprobesMissing(ctx);
    if (why) return skip(why);
    const fs = ctx.backend.fs;
    const { g, def, inst } = kprobeGroup(ctx, 'types');
    const entry = `p:${g}/t dma_buf_export a=\\123 b=\\123:u32 c=\\-1:s8 d=\\0x1ff:x8 e=\\-2:u16`;
    const ret = `r4:${g}/r dma_buf_export rv=$retval:x64`;
    def(entry);
    def(ret);
    fs.mkdir(inst);
    try {
      const shown = fs
        .readText(`${T}/kprobe_events`)
        .split('\n')
        .filter((l) => l.includes(`${g}/`))
        .map((l) => l.trim());
      const setEvent = (/** @type {string} */ s) => fs.writeFile(`${inst}/set_event`, s, { append: true });
      const before = fs.readText(`${inst}/events/${g}/enable`).trim();
      setEvent(`${g}:t`);
      const mixed = fs.readText(`${inst}/events/${g}/enable`).trim();
      const listed = fs
        .readText(`${inst}/set_event`)
        .split('\n')
        .filter((l) => l.startsWith(`${g}:`));
      const noMatch = codeOf(() => setEvent(`${g}:nope`));
      fireExports(ctx);
      setEvent(`!${g}:t`);
      const after = fs.readText(`${inst}/events/${g}/t/enable`).trim();
      const hit = fs
        .readText(`${inst}/trace`)
        .split('\n')
        .find((l) => l.includes(' t: (dma_buf_export+'));
      const args = hit ? hit.slice(hit.indexOf(') ') + 2).trim() : 'no hit';
      const observed = `shown [${shown.join(' | ').replaceAll(g, 'G')}] enable ${before}/${mixed}/${after} set_event [${listed.join(',').replaceAll(g, 'G')}] no match ${noMatch}; ${args}`;
      const want =
        shown.includes(entry) &&
        shown.includes(ret) &&
        before === '0' &&
        mixed === 'X' &&
        after === '0' &&
        listed.length === 1 &&
        noMatch === 'EINVAL' &&
        args === 'a=0x7b b=123 c=-1 d=0xff e=65534';
      return want ? pass(observed, { observed }) : fail(observed, { observed });
    } finally {
      fs.rmdir(inst);
      def(`-:${g}/t`);
      def(`-:${g}/r`);
    }
  },
);

// ------------------------------------------------------------ VFIO (drivers/vfio/{container,group}.c, pci/*)

rule(
  'vfio.container-errors',
  'container and group ioctls out of order',
  'container.c: SET_IOMMU without a group is EINVAL; group.c: GET_DEVICE_FD before the container has an IOMMU EINVAL, SET_CONTAINER twice EINVAL, a device name not in the group ENODEV, a second open of the group EBUSY, UNSET_CONTAINER while a device is open EBUSY',
  (ctx) => {
    const { VFIO, O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const n = ctx.lib.vfio.iommuGroupOf(ctx.backend, ctx.vf);
    const c = dev.open('/dev/vfio/vfio', O.RDWR);
    const g = dev.open(`/dev/vfio/${n}`, O.RDWR);
    /** @type {number | null} */
    let d = null;
    try {
      return table([
        ['SET_IOMMU alone', 'EINVAL', () => dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU)],
        [
          'check TYPE1v2',
          'ok',
          () => (dev.vfioCheckExtension(c, VFIO.TYPE1v2_IOMMU) > 0 ? 0 : dev.vfioSetIommu(-1, 0)),
        ],
        ['open the group again', 'EBUSY', () => dev.close(dev.open(`/dev/vfio/${n}`, O.RDWR))],
        ['SET_CONTAINER', 'ok', () => dev.vfioGroupSetContainer(g, c)],
        ['SET_CONTAINER again', 'EINVAL', () => dev.vfioGroupSetContainer(g, c)],
        ['GET_DEVICE_FD first', 'EINVAL', () => dev.close(dev.vfioGroupGetDeviceFd(g, ctx.vf))],
        ['SET_IOMMU 7', 'ENODEV', () => dev.vfioSetIommu(c, 7)],
        ['SET_IOMMU', 'ok', () => dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU)],
        ['SET_IOMMU again', 'EINVAL', () => dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU)],
        ['device not in group', 'ENODEV', () => dev.close(dev.vfioGroupGetDeviceFd(g, ctx.pf))],
        [
          'GET_DEVICE_FD',
          'ok',
          () => {
            d = dev.vfioGroupGetDeviceFd(g, ctx.vf);
          },
        ],
        ['UNSET with a device open', 'EBUSY', () => dev.vfioGroupUnsetContainer(g)],
      ]);
    } finally {
      if (d !== null) dev.close(d);
      dev.close(g);
      dev.close(c);
    }
  },
);

rule(
  'vfio.group-status',
  'GET_STATUS before and after SET_CONTAINER, and SET_CONTAINER of what is not a container',
  'vfio_group_ioctl_get_status: VIABLE when no kernel driver owns a device of the group, VIABLE|CONTAINER_SET once it has a container; vfio_group_ioctl_set_container: a closed fd EBADF, an open file that is neither a container nor an iommufd EBADFD; vfio_group_ioctl_unset_container: no container EINVAL',
  (ctx) => {
    const { O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const n = ctx.lib.vfio.iommuGroupOf(ctx.backend, ctx.vf);
    const c = dev.open('/dev/vfio/vfio', O.RDWR);
    const g = dev.open(`/dev/vfio/${n}`, O.RDWR);
    const nul = dev.open('/dev/null', O.RDWR);
    const status = (/** @type {number} */ want) => () => (dev.vfioGroupGetStatus(g).flags === want ? 0 : dev.close(-1));
    try {
      return table([
        ['GET_STATUS: viable', 'ok', status(1)],
        ['SET_CONTAINER a closed fd', 'EBADF', () => dev.vfioGroupSetContainer(g, 4007)],
        ['SET_CONTAINER /dev/null', 'EBADFD', () => dev.vfioGroupSetContainer(g, nul)],
        ['UNSET without a container', 'EINVAL', () => dev.vfioGroupUnsetContainer(g)],
        ['SET_CONTAINER', 'ok', () => dev.vfioGroupSetContainer(g, c)],
        ['GET_STATUS: viable, container set', 'ok', status(3)],
        ['UNSET', 'ok', () => dev.vfioGroupUnsetContainer(g)],
        ['GET_STATUS: viable again', 'ok', status(1)],
        ['UNSET again', 'EINVAL', () => dev.vfioGroupUnsetContainer(g)],
      ]);
    } finally {
      for (const fd of [nul, g, c]) dev.close(fd);
    }
  },
);

rule(
  'vfio.region-errors',
  'region reads, writes and mmaps outside what a BAR allows',
  'vfio_pci_rw: past the end of a BAR, or an index above the config region, is EINVAL; vfio_pci_core_mmap: an unaligned offset, a range past the BAR, or a non-BAR region is EINVAL',
  (ctx) => {
    const { PROT, VFIO } = ctx.lib.uapi;
    const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
    try {
      const bar = [0, 1, 2, 3, 4, 5].map((i) => device.regionInfo(i)).find((r) => r.size >= BigInt(PAGE));
      if (!bar) return skip('no BAR of a page');
      const dev = ctx.backend.dev;
      const fd = device.fd;
      return table([
        ['read past the BAR', 'EINVAL', () => dev.vfioRegionRead(fd, bar.offset + bar.size, 4)],
        ['read region 9', 'EINVAL', () => dev.vfioRegionRead(fd, 9n << 40n, 4)],
        ['read VGA region', 'EINVAL', () => dev.vfioRegionRead(fd, BigInt(VFIO.PCI_VGA_REGION_INDEX) << 40n, 4)],
        ['mmap unaligned', 'EINVAL', () => dev.mmap(fd, bar.offset + 100n, PAGE, PROT.READ).unmap()],
        ['mmap past the BAR', 'EINVAL', () => dev.mmap(fd, bar.offset, Number(bar.size) + PAGE, PROT.READ).unmap()],
        [
          'mmap config',
          'EINVAL',
          () => dev.mmap(fd, BigInt(VFIO.PCI_CONFIG_REGION_INDEX) << 40n, PAGE, PROT.READ).unmap(),
        ],
        // vfio_pci_config_rw_single: outside cfg_size is EFAULT.
        ['read config past 4 KiB', 'EFAULT', () => device.read(VFIO.PCI_CONFIG_REGION_INDEX, 4096, 4)],
      ]);
    } finally {
      device.close();
    }
  },
);

rule(
  'vfio.features',
  'device features vfio-pci does not have, and low power',
  'vfio_ioctl_device_feature: migration and logging features are ENOTTY on vfio-pci, the PF token ENOTTY on a VF (no vf_token); in LOW_POWER_ENTRY a region read still works (vfio_pci_rw resumes the device first: pm_runtime_resume_and_get), a second entry is EINVAL (pm_runtime_engaged), LOW_POWER_EXIT ends it and is no error when not in low power; vfio_check_feature: GET of a SET-only feature or a payload shorter than the struct EINVAL; vfio_pci_core_pm_entry_with_wakeup: eventfd_ctx_fdget of a closed fd EBADF, of a file that is not an eventfd EINVAL',
  (ctx) => {
    const { VFIO, O } = ctx.lib.uapi;
    const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
    const nul = ctx.backend.dev.open('/dev/null', O.RDWR);
    try {
      const bar = [0, 1, 2, 3, 4, 5].find((i) => device.regionInfo(i).size >= BigInt(PAGE));
      const f = (/** @type {number} */ flags, /** @type {Uint8Array} */ p = new Uint8Array(0)) =>
        device.feature(flags, p);
      // VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: struct vfio_device_low_power_entry_with_wakeup { s32 wakeup_eventfd; u32 reserved; }
      const WITH_WAKEUP = 4;
      const efd = (/** @type {number} */ fd) => {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setInt32(0, fd, true);
        return b;
      };
      return table([
        ['MIGRATION', 'ENOTTY', () => f(VFIO.DEVICE_FEATURE_GET | 1, new Uint8Array(8))],
        ['DMA_LOGGING_START', 'ENOTTY', () => f(VFIO.DEVICE_FEATURE_SET | 6, new Uint8Array(8))],
        ['PCI_VF_TOKEN', 'ENOTTY', () => f(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_PCI_VF_TOKEN, new Uint8Array(16))],
        [
          'LOW_POWER_ENTRY probe',
          'ok',
          () => f(VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY),
        ],
        ['LOW_POWER_ENTRY', 'ok', () => f(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY)],
        ['BAR read in low power', 'ok', () => device.read(/** @type {number} */ (bar), 0, 4)],
        ['LOW_POWER_ENTRY again', 'EINVAL', () => f(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY)],
        ['LOW_POWER_EXIT', 'ok', () => f(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT)],
        ['BAR read after', 'ok', () => device.read(/** @type {number} */ (bar), 0, 4)],
        ['LOW_POWER_EXIT when not low', 'ok', () => f(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_EXIT)],
        ['LOW_POWER_ENTRY GET', 'EINVAL', () => f(VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_LOW_POWER_ENTRY)],
        ['WITH_WAKEUP short', 'EINVAL', () => f(VFIO.DEVICE_FEATURE_SET | WITH_WAKEUP, new Uint8Array(4))],
        ['WITH_WAKEUP closed fd', 'EBADF', () => f(VFIO.DEVICE_FEATURE_SET | WITH_WAKEUP, efd(4006))],
        ['WITH_WAKEUP /dev/null', 'EINVAL', () => f(VFIO.DEVICE_FEATURE_SET | WITH_WAKEUP, efd(nul))],
        ['BAR read at the end', 'ok', () => device.read(/** @type {number} */ (bar), 0, 4)],
      ]);
    } finally {
      ctx.backend.dev.close(nul);
      device.close();
    }
  },
);

// ------------------------------------------------------------ memfd and seals (mm/memfd.c, mm/shmem.c)

rule(
  'memfd.create',
  'memfd_create refuses unknown flags, EXEC with NOEXEC_SEAL, and long names',
  'memfd_create: without MFD_HUGETLB a flag beyond MFD_ALL_FLAGS is EINVAL, MFD_EXEC with MFD_NOEXEC_SEAL EINVAL, both checked before the name; a name longer than NAME_MAX - strlen("memfd:") (249 bytes) EINVAL',
  (ctx) => {
    const dev = ctx.backend.dev;
    /** @type {number[]} */
    const made = [];
    const mk = (/** @type {string} */ name, /** @type {number} */ flags) => made.push(dev.memfdCreate(name, flags));
    return table(
      [
        ['flag 0x100', 'EINVAL', () => mk('iovh-rules', 0x100)],
        ['EXEC|NOEXEC_SEAL', 'EINVAL', () => mk('iovh-rules', MFD_EXEC | MFD_NOEXEC_SEAL)],
        ['flag 0x100 and a long name', 'EINVAL', () => mk('n'.repeat(300), 0x100)],
        ['name of 250', 'EINVAL', () => mk('n'.repeat(250), 0)],
        ['name of 249', 'ok', () => mk('n'.repeat(249), MFD_NOEXEC_SEAL)],
        ['NOEXEC_SEAL|CLOEXEC', 'ok', () => mk('iovh-rules', MFD_NOEXEC_SEAL | 1)],
      ],
      () => {
        for (const fd of made) dev.close(fd);
      },
    );
  },
);

rule(
  'memfd.seals',
  'F_ADD_SEALS and what each seal then refuses',
  'memfd_add_seals: a memfd made without MFD_ALLOW_SEALING starts with F_SEAL_SEAL (EPERM), one made with MFD_NOEXEC_SEAL has it cleared (memfd_create clears F_SEAL_SEAL and sets F_SEAL_EXEC); an unknown seal bit EINVAL; F_SEAL_WRITE while a writable shared mapping exists EBUSY (mapping_deny_writable); F_SEAL_EXEC on an executable memfd implies SHRINK, GROW, WRITE and FUTURE_WRITE; after F_SEAL_SEAL EPERM. shmem_setattr: a shrink under F_SEAL_SHRINK or a growth under F_SEAL_GROW EPERM; memfd_check_seals_mmap: a writable shared mmap under F_SEAL_WRITE EPERM; do_mmap: an offset not page aligned EINVAL',
  (ctx) => {
    const { MFD, F_SEAL, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const P = BigInt(PAGE);
    const plain = dev.memfdCreate('iovh-rules-plain', 0);
    const noexec = dev.memfdCreate('iovh-rules-noexec', MFD_NOEXEC_SEAL);
    const s = dev.memfdCreate('iovh-rules-seals', MFD.ALLOW_SEALING | MFD_EXEC);
    const w = dev.memfdCreate('iovh-rules-write', MFD.ALLOW_SEALING | MFD_EXEC);
    const x = dev.memfdCreate('iovh-rules-exec', MFD.ALLOW_SEALING | MFD_EXEC);
    /** @type {import('../../../src/backend/types.js').Mapping | null} */
    let map = null;
    try {
      for (const fd of [s, w, x]) dev.ftruncate(fd, 2n * P);
      return table(
        [
          ['no ALLOW_SEALING: SHRINK', 'EPERM', () => dev.addSeals(plain, F_SEAL.SHRINK)],
          ['NOEXEC_SEAL: SHRINK', 'ok', () => dev.addSeals(noexec, F_SEAL.SHRINK)],
          ['unknown seal 0x100', 'EINVAL', () => dev.addSeals(s, 0x100)],
          ['SHRINK', 'ok', () => dev.addSeals(s, F_SEAL.SHRINK)],
          ['shrink', 'EPERM', () => dev.ftruncate(s, P)],
          ['grow', 'ok', () => dev.ftruncate(s, 3n * P)],
          ['GROW', 'ok', () => dev.addSeals(s, F_SEAL.GROW)],
          ['grow under GROW', 'EPERM', () => dev.ftruncate(s, 4n * P)],
          ['same size', 'ok', () => dev.ftruncate(s, 3n * P)],
          ['SEAL', 'ok', () => dev.addSeals(s, F_SEAL.SEAL)],
          ['WRITE after SEAL', 'EPERM', () => dev.addSeals(s, F_SEAL.WRITE)],
          ['mmap at offset 100', 'EINVAL', () => dev.mmap(w, 100n, PAGE, PROT.READ).unmap()],
          ['mmap rw', 'ok', () => (map = dev.mmap(w, 0n, PAGE, PROT.READ | PROT.WRITE))],
          ['WRITE while mapped rw', 'EBUSY', () => dev.addSeals(w, F_SEAL.WRITE)],
          ['unmap', 'ok', () => (map?.unmap(), (map = null))],
          ['WRITE', 'ok', () => dev.addSeals(w, F_SEAL.WRITE)],
          ['mmap rw under WRITE', 'EPERM', () => dev.mmap(w, 0n, PAGE, PROT.READ | PROT.WRITE).unmap()],
          ['mmap ro under WRITE', 'ok', () => dev.mmap(w, 0n, PAGE, PROT.READ).unmap()],
          ['EXEC on an executable memfd', 'ok', () => dev.addSeals(x, F_SEAL_EXEC)],
          ['grow after EXEC', 'EPERM', () => dev.ftruncate(x, 4n * P)],
          ['shrink after EXEC', 'EPERM', () => dev.ftruncate(x, P)],
        ],
        () => {
          map?.unmap();
          for (const fd of [x, w, s, noexec, plain]) dev.close(fd);
        },
      );
    } catch (e) {
      for (const fd of [x, w, s, noexec, plain]) dev.close(fd);
      throw e;
    }
  },
);

// ------------------------------------------------------------ vgem, a DRM driver without KMS (drivers/gpu/drm/vgem)

rule(
  'vgem.ioctls',
  "vgem's render node: the capabilities a non-KMS driver has, PRIME and GEM handle errno",
  'drm_getcap: TIMESTAMP_MONOTONIC 1, PRIME import|export, SYNCOBJ and SYNCOBJ_TIMELINE 0 (vgem has no DRIVER_SYNCOBJ); every other capability EOPNOTSUPP on a driver without DRIVER_MODESET; drm_syncobj_create_ioctl EOPNOTSUPP without DRIVER_SYNCOBJ; drm_prime_fd_to_handle_ioctl: the same dma-buf imported twice gives the same handle, a file that is not a dma-buf EINVAL (dma_buf_get), a closed fd EBADF; drm_prime_handle_to_fd_ioctl: flags beyond CLOEXEC|RDWR EINVAL, an unknown handle ENOENT; drm_gem_close_ioctl: an unknown handle EINVAL',
  (ctx) => {
    const { MFD, F_SEAL, O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const nodes = ctx.lib.drm.findRenderNodes(ctx.backend, 'vgem');
    if (nodes.length === 0) return skip('no vgem render node (CONFIG_DRM_VGEM)');
    if (!ctx.backend.fs.exists('/dev/udmabuf')) return skip('no /dev/udmabuf to make a dma-buf vgem can import');
    const drm = dev.open(nodes[0].path, O.RDWR);
    const ctl = dev.open('/dev/udmabuf', O.RDWR);
    const memfd = dev.memfdCreate('iovh-rules-vgem', MFD.ALLOW_SEALING);
    const nul = dev.open('/dev/null', O.RDWR);
    /** @type {number[]} */
    const fds = [];
    try {
      dev.ftruncate(memfd, BigInt(PAGE));
      dev.addSeals(memfd, F_SEAL.SHRINK);
      const buf = dev.udmabufCreate(ctl, { memfd, offset: 0n, size: BigInt(PAGE) });
      fds.push(buf);
      let h1 = -1;
      let h2 = -2;
      return table(
        [
          ['TIMESTAMP_MONOTONIC is 1', 'ok', () => dev.drmGetCap(drm, 6n) === 1n || dev.close(-1)],
          ['PRIME is 3', 'ok', () => dev.drmGetCap(drm, 5n) === 3n || dev.close(-1)],
          ['SYNCOBJ is 0', 'ok', () => dev.drmGetCap(drm, 0x13n) === 0n || dev.close(-1)],
          ['SYNCOBJ_TIMELINE is 0', 'ok', () => dev.drmGetCap(drm, 0x14n) === 0n || dev.close(-1)],
          ['DUMB_BUFFER', 'EOPNOTSUPP', () => dev.drmGetCap(drm, 1n)],
          ['capability 0x99', 'EOPNOTSUPP', () => dev.drmGetCap(drm, 0x99n)],
          ['SYNCOBJ_CREATE', 'EOPNOTSUPP', () => dev.drmSyncobjCreate(drm, 0)],
          ['import', 'ok', () => (h1 = dev.drmPrimeFdToHandle(drm, buf))],
          ['import again: same handle', 'ok', () => (h2 = dev.drmPrimeFdToHandle(drm, buf)) === h1 || dev.close(-1)],
          ['import /dev/null', 'EINVAL', () => dev.drmPrimeFdToHandle(drm, nul)],
          ['import a closed fd', 'EBADF', () => dev.drmPrimeFdToHandle(drm, 4002)],
          ['export flags 0x1', 'EINVAL', () => fds.push(dev.drmPrimeHandleToFd(drm, h1, 0x1))],
          ['export an unknown handle', 'ENOENT', () => fds.push(dev.drmPrimeHandleToFd(drm, h1 + 100, O.CLOEXEC))],
          ['export the import', 'ok', () => fds.push(dev.drmPrimeHandleToFd(drm, h1, O.CLOEXEC))],
          ['GEM_CLOSE', 'ok', () => dev.drmGemClose(drm, h2)],
          ['GEM_CLOSE again', 'EINVAL', () => dev.drmGemClose(drm, h1)],
        ],
        () => {
          for (const fd of fds) dev.close(fd);
        },
      );
    } finally {
      for (const fd of [nul, memfd, ctl, drm]) dev.close(fd);
    }
  },
);

// ------------------------------------------------------------ udmabuf and the dma-buf core

rule(
  'udmabuf.errors',
  'UDMABUF_CREATE refuses what udmabuf_create refuses',
  'udmabuf_create: offset or size not page aligned, size 0 or above size_limit_mb (64) is EINVAL, checked first; a closed fd or a file that is not shmem is EBADFD; without F_SEAL_SHRINK, or with F_SEAL_WRITE, EINVAL (check_memfd_seals); unknown flag bits are ignored',
  (ctx) => {
    const { MFD, F_SEAL, O } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    if (!ctx.backend.fs.exists('/dev/udmabuf')) return skip('no /dev/udmabuf');
    const ctl = dev.open('/dev/udmabuf', O.RDWR);
    const sealed = dev.memfdCreate('iovh-rules', MFD.ALLOW_SEALING);
    const open = dev.memfdCreate('iovh-rules-open', MFD.ALLOW_SEALING);
    const wr = dev.memfdCreate('iovh-rules-wr', MFD.ALLOW_SEALING);
    const nul = dev.open('/dev/null', O.RDWR);
    /** @type {number[]} */
    const made = [];
    const mk = (/** @type {number} */ memfd, /** @type {bigint} */ offset, /** @type {bigint} */ size, flags = 0) => {
      const fd = dev.udmabufCreate(ctl, { memfd, offset, size, flags });
      made.push(fd);
      return fd;
    };
    try {
      for (const m of [sealed, open, wr]) dev.ftruncate(m, 16n * BigInt(PAGE));
      dev.addSeals(sealed, F_SEAL.SHRINK);
      dev.addSeals(wr, F_SEAL.SHRINK | F_SEAL.WRITE);
      const P = BigInt(PAGE);
      return table(
        [
          ['unaligned size', 'EINVAL', () => mk(sealed, 0n, 100n)],
          ['unaligned offset', 'EINVAL', () => mk(sealed, 100n, P)],
          ['size 0', 'EINVAL', () => mk(sealed, 0n, 0n)],
          ['65 MiB', 'EINVAL', () => mk(sealed, 0n, 65n << 20n)],
          ['closed fd', 'EBADFD', () => mk(4000, 0n, P)],
          ['/dev/null', 'EBADFD', () => mk(nul, 0n, P)],
          ['no seal', 'EINVAL', () => mk(open, 0n, P)],
          ['write seal', 'EINVAL', () => mk(wr, 0n, P)],
          ['ok', 'ok', () => mk(sealed, 0n, P)],
          ['flag 0x2 ignored', 'ok', () => mk(sealed, P, P, 0x2)],
        ],
        () => {
          for (const fd of made) dev.close(fd);
          for (const fd of [nul, wr, open, sealed, ctl]) dev.close(fd);
        },
      );
    } catch (e) {
      if (!sysErr(e)) throw e;
      return fail(`${e.code}: ${e.message}`, { errno: e.code });
    }
  },
);

rule(
  'udmabuf.data',
  'a udmabuf maps the memfd pages: data written through one mmap reads through the other',
  "udmabuf exports the memfd's own pages (mmap_udmabuf), so a write through the memfd mapping is seen through the dma-buf mapping; DMA_BUF_IOCTL_SYNC brackets the CPU access",
  (ctx) => {
    const { MFD, F_SEAL, O, PROT, DMA_BUF } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    if (!ctx.backend.fs.exists('/dev/udmabuf')) return skip('no /dev/udmabuf');
    const ctl = dev.open('/dev/udmabuf', O.RDWR);
    const memfd = dev.memfdCreate('iovh-rules-data', MFD.ALLOW_SEALING);
    /** @type {number | null} */
    let buf = null;
    try {
      dev.ftruncate(memfd, 2n * BigInt(PAGE));
      dev.addSeals(memfd, F_SEAL.SHRINK);
      buf = dev.udmabufCreate(ctl, { memfd, offset: BigInt(PAGE), size: BigInt(PAGE) });
      const m = dev.mmap(memfd, 0n, 2 * PAGE, PROT.READ | PROT.WRITE);
      const b = dev.mmap(buf, 0n, PAGE, PROT.READ | PROT.WRITE);
      try {
        m.write(PAGE + 8, Uint8Array.of(0x11, 0x22, 0x33, 0x44));
        dev.dmaBufSync(buf, DMA_BUF.SYNC_START | DMA_BUF.SYNC_READ);
        const seen = Buffer.from(b.read(8, 4)).toString('hex');
        dev.dmaBufSync(buf, DMA_BUF.SYNC_END | DMA_BUF.SYNC_READ);
        b.write(16, Uint8Array.of(0xaa));
        const back = Buffer.from(m.read(PAGE + 16, 1)).toString('hex');
        const observed = `dmabuf reads ${seen}, memfd reads ${back}`;
        return seen === '11223344' && back === 'aa' ? pass(observed, { observed }) : fail(observed, { observed });
      } finally {
        b.unmap();
        m.unmap();
      }
    } finally {
      if (buf !== null) dev.close(buf);
      dev.close(memfd);
      dev.close(ctl);
    }
  },
);

rule(
  'udmabuf.mmap',
  'mmap of a udmabuf within its size only',
  'dma_buf_mmap_internal: vm_pgoff + the pages mapped beyond the dma-buf size is EINVAL; do_mmap: an offset not page aligned EINVAL',
  (ctx) => {
    const { MFD, F_SEAL, O, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    if (!ctx.backend.fs.exists('/dev/udmabuf')) return skip('no /dev/udmabuf');
    const ctl = dev.open('/dev/udmabuf', O.RDWR);
    const memfd = dev.memfdCreate('iovh-rules-mmap', MFD.ALLOW_SEALING);
    /** @type {number | null} */
    let buf = null;
    try {
      dev.ftruncate(memfd, 4n * BigInt(PAGE));
      dev.addSeals(memfd, F_SEAL.SHRINK);
      const b = dev.udmabufCreate(ctl, { memfd, offset: 0n, size: 2n * BigInt(PAGE) });
      buf = b;
      const map = (/** @type {bigint} */ off, /** @type {number} */ len) => dev.mmap(b, off, len, PROT.READ).unmap();
      return table([
        ['2 pages', 'ok', () => map(0n, 2 * PAGE)],
        ['the second page', 'ok', () => map(BigInt(PAGE), PAGE)],
        ['3 pages', 'EINVAL', () => map(0n, 3 * PAGE)],
        ['2 pages from the second', 'EINVAL', () => map(BigInt(PAGE), 2 * PAGE)],
        ['offset 100', 'EINVAL', () => map(100n, PAGE)],
      ]);
    } finally {
      if (buf !== null) dev.close(buf);
      dev.close(memfd);
      dev.close(ctl);
    }
  },
);

rule(
  'fd.wrong-kind',
  'ioctls on the wrong kind of file',
  'an ioctl a file does not implement is ENOTTY (vfs_ioctl: -ENOIOCTLCMD); mmap of a file without mmap is ENODEV; a closed fd is EBADF',
  (ctx) => {
    const { O, PROT } = ctx.lib.uapi;
    const dev = ctx.backend.dev;
    const nul = dev.open('/dev/null', O.RDWR);
    const iommufd = ctx.backend.fs.exists('/dev/iommu') ? dev.open('/dev/iommu', O.RDWR) : null;
    try {
      return table([
        ['VFIO_GET_API_VERSION on /dev/null', 'ENOTTY', () => dev.vfioGetApiVersion(nul)],
        ['DMA_BUF_SET_NAME on /dev/null', 'ENOTTY', () => dev.dmaBufSetName(nul, 'x')],
        ['DMA_BUF_IOCTL_SYNC on a closed fd', 'EBADF', () => dev.dmaBufSync(4001, 1n)],
        [
          'mmap of the container',
          'ENODEV',
          () => {
            const c = dev.open('/dev/vfio/vfio', O.RDWR);
            try {
              dev.mmap(c, 0n, PAGE, PROT.READ).unmap();
            } finally {
              dev.close(c);
            }
          },
        ],
        // iommufd answers the VFIO container ioctls it emulates (vfio_compat.c iommufd_vfio_ioctl).
        ...(iommufd === null
          ? []
          : /** @type {Array<[string, string, () => unknown]>} */ ([
              ['VFIO_GET_API_VERSION on /dev/iommu', 'ok', () => dev.vfioGetApiVersion(iommufd) === 0 || dev.close(-1)],
              [
                'CHECK_EXTENSION(TYPE1v2) on /dev/iommu',
                'ok',
                () => dev.vfioCheckExtension(iommufd, 3) === 1 || dev.close(-1),
              ],
              ['CHECK_EXTENSION(DMA_CC) on /dev/iommu', 'ENODEV', () => dev.vfioCheckExtension(iommufd, 4)],
            ])),
      ]);
    } finally {
      if (iommufd !== null) dev.close(iommufd);
      dev.close(nul);
    }
  },
);

// ------------------------------------------------------------ kmemleak, /dev/kmsg

rule(
  'kmemleak.control',
  'the kmemleak control file takes scan and clear, refuses other words',
  'kmemleak_write: "clear", "stack=on|off" and "scan=on|off" are accepted, "scan=<secs>" needs a number (EINVAL), "dump=<addr>" needs a number and a known object (EINVAL), anything else EINVAL',
  (ctx) => {
    if (!ctx.backend.fs.exists(KMEMLEAK)) return skip('no kmemleak (CONFIG_DEBUG_KMEMLEAK, debugfs)');
    const w = (/** @type {string} */ s) => ctx.backend.fs.writeFile(KMEMLEAK, s);
    // Every command takes scan_mutex (kmemleak_write): a `scan=off` before `scan=on` made every later command
    // wait for the scan the restarted thread begins at once (53 s on a KASAN guest under TCG), so `scan=on` is
    // last. The guest's /init stopped the thread (scripts/qemu-ci/init.sh); `scan=on` starts it again.
    return table([
      ['bogus', 'EINVAL', () => w('bogus')],
      ['scan=abc', 'EINVAL', () => w('scan=abc')],
      ['dump=0x1', 'EINVAL', () => w('dump=0x1')],
      ['dump=abc', 'EINVAL', () => w('dump=abc')],
      ['clear', 'ok', () => w('clear')],
      ['stack=off', 'ok', () => w('stack=off')],
      ['stack=on', 'ok', () => w('stack=on')],
      ['scan=on', 'ok', () => w('scan=on')],
    ]);
  },
);

rule(
  'kmsg.write',
  'a record written to /dev/kmsg reads back with its level',
  'devkmsg_write: "<N>text" is stored at level N, facility LOG_USER (prefix value 8+N), and read back as a record',
  (ctx) => {
    const marker = `iovh-rules-${process.pid}-${Date.now()}`;
    ctx.backend.fs.writeFile('/dev/kmsg', `<5>${marker}\n`);
    const rec = ctx.backend.fs.readRecords('/dev/kmsg').find((r) => r.includes(marker));
    if (!rec) return fail('the record is not in /dev/kmsg');
    const prio = Number(rec.split(',')[0]);
    const observed = `prio=${prio}`;
    return prio === 13
      ? pass(observed, { observed })
      : fail(`${observed}, expected 13 (LOG_USER, level 5)`, { observed });
  },
);

/** Every rule, in the order the guest runs them: this file's, then rules-more.mjs's. @type {Rule[]} */
export const RULE_SCENARIOS = [...OWN_RULES, ...MORE_RULES];

/**
 * Run them, each id prefixed `rules.`.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, pf: string, vf: string, standIn?: boolean, onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export async function runRuleScenarios(o) {
  /** @type {Ctx} */
  const ctx = { backend: o.backend, lib: o.lib, pf: o.pf, vf: o.vf, standIn: o.standIn ?? false };
  /** @type {Result[]} */
  const results = [];
  for (const s of RULE_SCENARIOS) {
    const t0 = performance.now();
    /** @type {Outcome} */
    let out;
    try {
      out = await s.run(ctx);
    } catch (e) {
      const err = /** @type {Error & { code?: string }} */ (e);
      out = fail(`${err.name ?? 'Error'}: ${err.message}`, { errno: sysErr(e) ? err.code : null });
    }
    const r = { id: `rules.${s.id}`, title: s.title, ...out, ms: Math.round((performance.now() - t0) * 10) / 10 };
    results.push(r);
    o.onResult?.(r);
  }
  return results;
}

/** The kernel rule of each scenario id (conformance names it on a disagreement). @type {Record<string, string>} */
export const RULE_RULES = Object.fromEntries(RULE_SCENARIOS.map((s) => [`rules.${s.id}`, s.rule]));
