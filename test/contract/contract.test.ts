// One contract suite for both backends: what the kernel answers must be the
// same on the mock and on a real 7.2 kernel. It pins the errno of every
// invalid VFIO dma-buf export (docs/kernel.md §3.3, in the kernel's order), the
// sysfs write semantics of SR-IOV attributes (docs/kernel.md §9), and the formats
// of fdinfo, bufinfo, /dev/kmsg and kprobe trace lines (docs/kernel.md §10,
// Documentation/ABI/testing/dev-kmsg, Documentation/trace/kprobetrace.rst).
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/types.js';
import { expectingErrno, type SystemError } from '../../src/uapi/errors.js';
import { O, PROT, VFIO, vfioRegionOffset } from '../../src/uapi/constants.js';
import { mockTarget, NATIVE_SKIP, nativeTarget, type Target } from './targets.js';

const KMSG_RECORD = /^\d+,\d+,\d+,[-c+][^;]*;[^\n]*\n( [^\n]+\n)*$/;
const FDINFO_DMABUF =
  /^pos:\t\d+\nflags:\t0[0-7]+\nmnt_id:\t\d+\nino:\t\d+\nsize:\t(\d+)\ncount:\t\d+\nexp_name:\t(\S+)\n(name:\t[^\n]*\n)?/;
const BUFINFO_HEAD = '\nDma-buf Objects:\nsize    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n';
const BUFINFO_LINE = /^\d{8,}\t[0-9a-f]{8}\t[0-9a-f]{8}\t\d{8,}\t\S+\t\d{8,}\t[^\n]*$/;
// An entry probe on `sym` prints `sym+0x0`, or `sym+0x4` on a kernel with
// CONFIG_X86_KERNEL_IBT, where the function starts with ENDBR64 and
// arch_adjust_kprobe_addr (arch/x86/kernel/kprobes/core.c) puts the probe after
// it (Debian's amd64 kernels enable IBT).
const TRACE_LINE =
  /^ *\S+-\d+ +\[\d{3}\] [.a-zA-Z0-9]{4,5} +\d+\.\d{6}: [a-z_0-9]+: \(([a-z_0-9.]+)\+0x([04])\/0x[0-9a-f]+( \[\w+\])?\)( \w+=\S+)*$/;

/** CONFIG_X86_KERNEL_IBT of the running kernel, from /proc/config.gz or /boot/config-<release>; null when neither is readable. */
function kernelIbt(b: Backend): boolean | null {
  const release = b.fs.readText('/proc/sys/kernel/osrelease').trim();
  let text: string | null = null;
  try {
    text = gunzipSync(b.fs.readFile('/proc/config.gz')).toString('utf8');
  } catch {
    try {
      text = b.fs.readText(`/boot/config-${release}`);
    } catch {
      return null;
    }
  }
  return /^CONFIG_X86_KERNEL_IBT=y$/m.test(text);
}

// An expected refusal (expectingErrno): the native backend returns errno from the addon, no stack traces.
function errnoOf(fn: () => unknown): string {
  try {
    expectingErrno(fn);
  } catch (e) {
    const err = e as SystemError;
    if (typeof err.code !== 'string') throw e;
    return err.code;
  }
  return 'OK';
}

function suite(t: Target): void {
  const opened: Backend[] = [];
  const open = (): Backend => {
    const b = t.open();
    opened.push(b);
    t.prepare(b);
    return b;
  };
  afterEach(() => {
    for (const b of opened.splice(0)) b.close();
  });
  const pfDir = `/sys/bus/pci/devices/${t.pf}`;

  describe('sysfs write semantics (only writes the kernel refuses)', () => {
    it('a read-only attribute refuses the open for write: EACCES', () => {
      const b = open();
      const e = (() => {
        try {
          b.fs.writeFile(`${pfDir}/sriov_totalvfs`, '1');
        } catch (x) {
          return x as SystemError;
        }
        return null;
      })();
      expect(e?.code).toBe('EACCES');
      expect(e?.syscall).toBe('open');
    });

    it('sriov_numvfs: EINVAL for text, ERANGE above totalvfs', () => {
      const b = open();
      const total = Number(b.fs.readText(`${pfDir}/sriov_totalvfs`).trim());
      const now = Number(b.fs.readText(`${pfDir}/sriov_numvfs`).trim());
      expect(errnoOf(() => b.fs.writeFile(`${pfDir}/sriov_numvfs`, 'abc'))).toBe('EINVAL');
      expect(errnoOf(() => b.fs.writeFile(`${pfDir}/sriov_numvfs`, String(total + 1)))).toBe('ERANGE');
      expect(b.fs.readText(`${pfDir}/sriov_numvfs`)).toBe(`${now}\n`);
    });

    it('sriov_numvfs: EBUSY for another count while enabled', (ctx) => {
      const b = open();
      const total = Number(b.fs.readText(`${pfDir}/sriov_totalvfs`).trim());
      const now = Number(b.fs.readText(`${pfDir}/sriov_numvfs`).trim());
      if (!(now > 0 && now < total))
        ctx.skip(
          `needs VFs enabled below sriov_totalvfs on ${t.pf} (it has ${now} of ${total}): iovh vfs enable ${t.pf} 1`,
        );
      expect(errnoOf(() => b.fs.writeFile(`${pfDir}/sriov_numvfs`, String(now + 1)))).toBe('EBUSY');
      expect(b.fs.readText(`${pfDir}/sriov_numvfs`)).toBe(`${now}\n`);
    });

    it('attribute formats: numbers with a newline, driver_override "(null)" or the name, relative links', () => {
      const b = open();
      expect(b.fs.readText(`${pfDir}/sriov_totalvfs`)).toMatch(/^\d+\n$/);
      expect(b.fs.readText(`${pfDir}/sriov_drivers_autoprobe`)).toMatch(/^[01]\n$/);
      expect(b.fs.readText(`${pfDir}/sriov_vf_device`)).toMatch(/^[0-9a-f]{1,4}\n$/);
      expect(b.fs.readText(`${pfDir}/vendor`)).toMatch(/^0x[0-9a-f]{4}\n$/);
      expect(b.fs.readText(`${pfDir}/driver_override`)).toMatch(/^(\(null\)|[\w.-]+)\n$/);
      expect(b.fs.readlink(`${pfDir}/iommu_group`)).toMatch(/^(\.\.\/)+kernel\/iommu_groups\/\d+$/);
      expect(b.fs.readlink(`/sys/bus/pci/devices/${t.pf}`)).toMatch(
        new RegExp(`^\\.\\./\\.\\./\\.\\./devices/pci[0-9a-f:]+/.*${t.pf.replace(/\./g, '\\.')}$`),
      );
      if (Number(b.fs.readText(`${pfDir}/sriov_numvfs`).trim()) > 0) {
        expect(b.fs.readlink(`${pfDir}/virtfn0`)).toMatch(/^\.\.\/[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      }
      expect(errnoOf(() => b.fs.readText(`${pfDir}/no_such_attribute`))).toBe('ENOENT');
    });
  });

  describe('/dev/kmsg', () => {
    it('every record is prio,seq,usec,flag;text with optional dictionary lines', () => {
      const b = open();
      const recs = b.fs.readRecords('/dev/kmsg');
      expect(recs.length).toBeGreaterThan(0);
      for (const r of recs) expect(r).toMatch(KMSG_RECORD);
    });
  });

  const vfDesc = t.vf ? describe : describe.skip;
  vfDesc(
    t.vf
      ? 'VFIO dma-buf export (docs/kernel.md §3.3)'
      : `VFIO dma-buf export: skipped, set IOVH_VF=<VF BDF on vfio-pci>`,
    () => {
      const vf = t.vf ?? '';
      function device(b: Backend): number {
        const group = Number(b.fs.readlink(`/sys/bus/pci/devices/${vf}/iommu_group`).split('/').pop());
        const c = b.dev.open('/dev/vfio/vfio', O.RDWR | O.CLOEXEC);
        const g = b.dev.open(`/dev/vfio/${group}`, O.RDWR | O.CLOEXEC);
        b.dev.vfioGroupSetContainer(g, c);
        b.dev.vfioSetIommu(c, VFIO.TYPE1v2_IOMMU);
        return b.dev.vfioGroupGetDeviceFd(g, vf);
      }
      /** The first memory BAR of at least 8 KiB, and a BAR index with size 0 (if any). */
      function bars(b: Backend, dev: number): { bar: number; size: bigint; empty: number | null } {
        let bar = -1;
        let size = 0n;
        let empty: number | null = null;
        for (let i = 0; i < 6; i++) {
          const info = b.dev.vfioDeviceGetRegionInfo(dev, i);
          if (info.size === 0n && empty === null) empty = i;
          if (bar < 0 && info.size >= 8192n && info.flags & VFIO.REGION_INFO_FLAG_MMAP) {
            bar = i;
            size = info.size;
          }
        }
        if (bar < 0) throw new Error(`${vf} has no mappable BAR of 8 KiB or more`);
        return { bar, size, empty };
      }
      const req = (
        bar: number,
        pairs: bigint[],
        extra: Partial<Parameters<Backend['dev']['vfioDmaBufGet']>[1]> = {},
      ) => ({
        regionIndex: bar,
        openFlags: O.RDWR | O.CLOEXEC,
        ranges: BigUint64Array.from(pairs),
        ...extra,
      });

      it('rejects each invalid request with the errno of the first failing check', () => {
        const b = open();
        const dev = device(b);
        const { bar, size, empty } = bars(b, dev);
        const get = (r: ReturnType<typeof req>) => errnoOf(() => b.dev.vfioDmaBufGet(dev, r));
        const one = [0n, 4096n];
        expect(get(req(bar, one, { featureFlags: VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_DMA_BUF }))).toBe('EINVAL');
        expect(get(req(bar, one, { argsz: 8 + 8 }))).toBe('EINVAL'); // payload < 16
        expect(get(req(bar, one, { nrRanges: 0 }))).toBe('EINVAL');
        expect(get(req(bar, one, { flags: 1 }))).toBe('EINVAL');
        expect(get(req(6, one))).toBe('ENODEV'); // ROM
        expect(get(req(7, one))).toBe('ENODEV'); // config
        expect(get(req(8, one))).toBe('ENODEV'); // VGA
        if (empty !== null) expect(get(req(empty, one))).toBe('ENODEV'); // BAR not implemented
        expect(get(req(bar, one, { nrRanges: 262145 }))).toBe('ENOMEM'); // beyond kmalloc's 4 MiB
        expect(get(req(bar, [0n, 0n]))).toBe('EINVAL'); // empty range
        expect(get(req(bar, [100n, 4096n]))).toBe('EINVAL'); // unaligned offset
        expect(get(req(bar, [0n, 100n]))).toBe('EINVAL'); // unaligned length
        expect(get(req(bar, [0n, 1n << 63n]))).toBe('EINVAL'); // DMA_IOVA_USE_SWIOTLB bit
        expect(get(req(bar, [0n, 0xfffffffffffff000n, 0n, 0x2000n]))).toBe('EINVAL'); // sum overflows
        expect(get(req(bar, [0xfffffffffffff000n, 4096n]))).toBe('EOVERFLOW');
        expect(get(req(bar, [size - 4096n, 8192n]))).toBe('EINVAL'); // past the end of the BAR
        expect(
          b.dev.vfioDeviceFeature(dev, VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF),
        ).toBe(0);
        // nr_ranges beyond the ranges given: the kernel's copy of the array runs
        // off the user buffer. The native backend ends the request at a PROT_NONE
        // page (core/binding.cc), so on hardware it faults too.
        expect(get(req(bar, one, { nrRanges: 2 }))).toBe('EFAULT');
      });

      it('a valid export: fdinfo, bufinfo, /proc/self/fd and mmap in the kernel formats', () => {
        const b = open();
        const dev = device(b);
        const { bar } = bars(b, dev);
        const fd = b.dev.vfioDmaBufGet(dev, req(bar, [0n, 4096n, 4096n, 4096n]));
        expect(fd).toBeGreaterThan(2);
        const info = b.fs.readText(`/proc/self/fdinfo/${fd}`);
        const m = FDINFO_DMABUF.exec(info);
        expect(m, info).not.toBeNull();
        expect(m![1]).toBe('8192');
        expect(m![2]).toBe('vfio_pci_core');
        expect(info).toMatch(/^flags:\t0[0-7]*2000002$/m); // O_RDWR with close-on-exec
        expect(b.fs.readlink(`/proc/self/fd/${fd}`)).toMatch(/^\/dmabuf:/);
        expect(b.fs.readText(`/proc/self/fdinfo/${dev}`)).toMatch(
          /^vfio-device-syspath: \/sys\/devices\/.*\/[0-9a-f:.]+$/m,
        );
        b.dev.dmaBufSetName(fd, 'iovh-contract');
        const bufinfo = b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo');
        expect(bufinfo.startsWith(BUFINFO_HEAD)).toBe(true);
        const line = bufinfo.split('\n').find((l) => l.endsWith('\tiovh-contract'));
        expect(line).toMatch(BUFINFO_LINE);
        expect(line!.split('\t')[4]).toBe('vfio_pci_core');
        expect(line!.split('\t')[0]).toBe('00008192');
        expect(bufinfo).toMatch(/\nTotal \d+ objects, \d+ bytes\n$/);
        expect(errnoOf(() => b.dev.mmap(fd, 0n, 4096, PROT.READ))).toBe('EINVAL'); // no .mmap op
        expect(errnoOf(() => b.dev.dmaBufSetName(fd, 'x'.repeat(40)))).toBe('EINVAL');
        b.dev.close(fd);
        void vfioRegionOffset;
      });

      it('kprobe hit lines in ftrace format (an instance, removed afterwards)', () => {
        const b = open();
        const T = '/sys/kernel/tracing';
        const inst = `${T}/instances/iovh_contract`;
        b.fs.writeFile(`${T}/kprobe_events`, 'p:iovh_contract/export dma_buf_export', { append: true });
        try {
          b.fs.mkdir(inst);
          try {
            b.fs.writeFile(`${inst}/events/iovh_contract/export/enable`, '1');
            const dev = device(b);
            const { bar } = bars(b, dev);
            b.dev.close(b.dev.vfioDmaBufGet(dev, req(bar, [0n, 4096n])));
            b.fs.writeFile(`${inst}/events/iovh_contract/export/enable`, '0');
            const text = b.fs.readText(`${inst}/trace`);
            expect(text.split('\n')[0]).toBe('# tracer: nop');
            const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
            expect(lines.length).toBeGreaterThan(0);
            for (const l of lines) expect(l).toMatch(TRACE_LINE);
            const hit = TRACE_LINE.exec(lines[0]!)!;
            expect(hit[1]).toBe('dma_buf_export');
            // The offset is the one the kernel's config implies, when the config can be read.
            const ibt = kernelIbt(b);
            if (ibt !== null) expect(hit[2], `CONFIG_X86_KERNEL_IBT=${ibt ? 'y' : 'n'}`).toBe(ibt ? '4' : '0');
          } finally {
            b.fs.rmdir(inst);
          }
        } finally {
          b.fs.writeFile(`${T}/kprobe_events`, '-:iovh_contract/export', { append: true });
        }
      });
    },
  );
}

describe(`contract: ${mockTarget.name}`, () => suite(mockTarget));

if (nativeTarget) {
  const target = nativeTarget;
  describe(`contract: ${target.name}`, () => suite(target));
} else {
  describe.skip(NATIVE_SKIP, () => {
    it('runs the same cases against the kernel of this machine', () => undefined);
  });
}
