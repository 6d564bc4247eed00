// The O_PATH stale dma-buf file (docs/bugs.md `opath-stale-file`): a dma-buf's
// lifetime is its dentry's (drivers/dma-buf/dma-buf.c dma_buf_release is the
// d_release), an O_PATH open of its /proc/self/fd link holds the dentry only
// (fs/open.c do_dentry_open), and vfio's revoke calls get_file_active on the
// file the close freed (drivers/vfio/pci/vfio_pci_dmabuf.c). KASAN sees it
// only with SLUB_RCU_DEBUG and after an RCU grace period.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kasanExcerpt } from '../../src/harness/bugs.js';
import { O } from '../../src/uapi/constants.js';
import type { MockBackend } from '../../src/mock/backend.js';
import type { KernelConfig } from '../../src/mock/kconfig.js';
import { enableVfs, kmsg, mock, openVfio, VF0 } from './helpers.js';

const KASAN: KernelConfig = { KASAN: 'y', SLUB_RCU_DEBUG: 'y' };
/** kconfig/iovh-guest.config's build: the sanitizers, lock debugging, no LSMs (the default topology's kernel). */
const GUEST: KernelConfig = { ...KASAN, PROVE_LOCKING: 'y', SECURITY: 'n' };
const REPORT = /BUG: KASAN: slab-use-after-free in get_file_active\+0x7f\/0x1e0/g;

/** The texts of /dev/kmsg records (the message after `;`, continuation lines dropped). */
function texts(b: MockBackend): string[] {
  return b.fs
    .readRecords('/dev/kmsg')
    .map((r) => r.split('\n')[0]!)
    .map((r) => r.slice(r.indexOf(';') + 1));
}

/** A report's call trace without the `?` (unreliable) frames and the user registers. */
function frames(report: readonly string[]): string[] {
  const from = report.findIndex((l) => l.trim() === '<TASK>');
  const to = report.findIndex((l) => l.trim() === '</TASK>');
  return report
    .slice(from + 1, to)
    .map((l) => l.trim())
    .filter((l) => !l.startsWith('?') && !/^(RIP|RSP|RAX|RDX|RBP|R10|R13|Code):/.test(l));
}

async function run(
  b: MockBackend,
  o: { holder: boolean; sleepMs: number; reset?: boolean },
): Promise<{ reports: number; holder: number | null }> {
  enableVfs(b, 2, [0]);
  const v = openVfio(b, VF0);
  const buf = b.dev.vfioDmaBufGet(v.device, {
    regionIndex: 2,
    openFlags: O.RDWR,
    ranges: BigUint64Array.of(0n, 4096n),
  });
  const holder = o.holder ? b.dev.open(`/proc/self/fd/${buf}`, O.PATH | O.CLOEXEC) : null;
  if (holder !== null) expect(b.fs.readlink(`/proc/self/fd/${holder}`)).toBe('/dmabuf:');
  b.dev.close(buf);
  await b.sleep!(o.sleepMs);
  if (o.reset) await b.dev.vfioDeviceReset(v.device);
  b.dev.close(v.device);
  return { reports: (kmsg(b).match(REPORT) ?? []).length, holder };
}

describe('opath-stale-file', () => {
  it('upstream: closing the device after the dma-buf fd, under an O_PATH holder, is a KASAN use-after-free from vfio', async () => {
    const b = mock({ profile: 'upstream-7.1', kernelConfig: KASAN });
    const r = await run(b, { holder: true, sleepMs: 100 });
    // Three walks of the stale entry: move(true) from the cleanup, the cleanup's own loop, move(false) at disable.
    expect(r.reports).toBe(3);
    const log = kmsg(b);
    expect(log).toMatch(/Write of size 8 at addr [0-9a-f]+ by task/);
    expect(log).toMatch(/vfio_pci_dma_buf_move\+0x29a\/0x610[^\n]*\n[^\n]*vfio_pci_dma_buf_cleanup\+0x41/);
    // The default topology's kernel is iovh's sanitizer build (lock debugging, no LSMs): struct file is 344 bytes.
    expect(log).toMatch(/which belongs to the cache filp of size 344$/m);
    // The buffer stays listed until the holder goes: its close is the dentry's release, with no further report.
    b.dev.close(r.holder!);
    expect((kmsg(b).match(REPORT) ?? []).length).toBe(3);
    b.close();
  });

  it("the filp's size follows the kernel configuration (include/linux/fs.h struct file)", async () => {
    for (const [config, size] of [
      [{ ...KASAN, PROVE_LOCKING: 'n', SECURITY: 'y' }, 176], // Debian's 7.2 configuration with KASAN added
      [{ ...KASAN, PROVE_LOCKING: 'n', SECURITY: 'n' }, 168],
      [{ ...KASAN, PROVE_LOCKING: 'y', SECURITY: 'y' }, 352],
      [GUEST, 344], // measured: sizeof(struct file) compiled against the guest build's objtree, and its KASAN report
    ] as const) {
      const b = mock({ profile: 'upstream-7.1', kernelConfig: config });
      await run(b, { holder: true, sleepMs: 100 });
      expect(kmsg(b), JSON.stringify(config)).toMatch(
        new RegExp(
          `cache filp of size ${size}\\n[\\s\\S]*located ${size - 8} bytes inside of\\\\x0a freed ${size}-byte`,
        ),
      );
      b.close();
    }
  });

  it('a reset before the close walks it twice more (move true and false from the ioctl)', async () => {
    const b = mock({ profile: 'upstream-7.1', kernelConfig: KASAN });
    expect((await run(b, { holder: true, sleepMs: 100, reset: true })).reports).toBe(5);
    b.close();
  });

  it('no report without the holder, before the grace period, without SLUB_RCU_DEBUG, or with the fix', async () => {
    for (const [profile, config, o] of [
      ['upstream-7.1', KASAN, { holder: false, sleepMs: 100 }],
      ['upstream-7.1', KASAN, { holder: true, sleepMs: 0 }],
      ['upstream-7.1', { KASAN: 'y', SLUB_RCU_DEBUG: 'n' }, { holder: true, sleepMs: 100 }],
      ['fixed', KASAN, { holder: true, sleepMs: 100 }],
    ] as const) {
      const b = mock({ profile, kernelConfig: config });
      expect((await run(b, o)).reports, `${profile} ${JSON.stringify(config)} ${JSON.stringify(o)}`).toBe(0);
      b.close();
    }
  });

  it('every line with the vfio export has it: 6.19 and 7.0 too', async () => {
    for (const profile of ['upstream-6.19', 'upstream-7.0', 'rfc-v2', 'maptype-rfc'] as const) {
      const b = mock({ profile, kernelConfig: KASAN });
      expect((await run(b, { holder: true, sleepMs: 100 })).reports, profile).toBeGreaterThan(0);
      b.close();
    }
  });

  it("the report is the real 7.2.13 guest's: its frames, the filp of the lock-debugging build, the whole report", async () => {
    const real = JSON.parse(
      readFileSync(new URL('../harness/fixtures/kasan-opath-7.2.13.json', import.meta.url), 'utf8'),
    ) as { log: string[] };
    const realTexts = real.log.map((l) => l.replace(/^\[\s*[0-9.]+\] /, ''));
    // The fixture's log starts inside a report: its first whole one is the cleanup loop's walk (the second of a close).
    const realReport = kasanExcerpt(realTexts);
    const b = mock({ profile: 'upstream-7.1', kernelConfig: GUEST });
    await run(b, { holder: true, sleepMs: 100 });
    const all = texts(b);
    const heads = all.flatMap((l, i) => (/^BUG: KASAN:/.test(l) ? [i] : []));
    expect(heads).toHaveLength(3);
    const second = kasanExcerpt(all.slice(heads[1]!));
    expect(frames(second)).toEqual(frames(realReport));
    // Every section the real report has, in its order, to the closing rule.
    const sections = (r: readonly string[]) =>
      r
        .map(
          (l) =>
            /^(Call Trace:|Allocated by task|Freed by task|Last potentially related work creation:|The buggy address belongs to the (object|physical page)|Memory state around|=+$)/.exec(
              l,
            )?.[1],
        )
        .filter((x) => x !== undefined);
    expect(sections(second)).toEqual(sections(realReport));
    expect(second.join('\n')).toMatch(
      /belongs to the object at [0-9a-f]+\\x0a which belongs to the cache filp of size 344$/m,
    );
    expect(second.join('\n')).toMatch(/located 336 bytes inside of\\x0a freed 344-byte region/);
    expect(second.length).toBeGreaterThan(80);
    // The first report turns lockdep off, as the real guest said.
    expect(all.filter((l) => l === 'Disabling lock debugging due to kernel taint')).toHaveLength(1);
    b.close();
  });

  it('the frames follow the trigger: a config-space write shows the config-write path, a reset the ioctl', async () => {
    const trigger = async (how: 'memory-off' | 'flr' | 'reset') => {
      const b = mock({ profile: 'upstream-7.1', kernelConfig: GUEST });
      enableVfs(b, 2, [0]);
      const v = openVfio(b, VF0);
      const buf = b.dev.vfioDmaBufGet(v.device, {
        regionIndex: 2,
        openFlags: O.RDWR,
        ranges: BigUint64Array.of(0n, 4096n),
      });
      const holder = b.dev.open(`/proc/self/fd/${buf}`, O.PATH | O.CLOEXEC);
      b.dev.close(buf);
      await b.sleep!(100);
      const cfg = 7n << 40n;
      if (how === 'memory-off') b.dev.vfioRegionWrite(v.device, cfg + 4n, Uint8Array.of(0, 0));
      else if (how === 'flr') b.dev.vfioRegionWrite(v.device, cfg + 0x68n, Uint8Array.of(0, 0x80));
      else await b.dev.vfioDeviceReset(v.device);
      const first = frames(kasanExcerpt(texts(b)));
      b.dev.close(holder);
      b.close();
      return first;
    };
    const configTail = [
      'vfio_pci_config_rw_single+0x384/0x810',
      'vfio_pci_config_rw+0xcf/0x160',
      'vfio_pci_rw+0x15d/0x270',
      'vfs_write+0x1cd/0xeb0',
      '__x64_sys_pwrite64+0x168/0x1c0',
    ];
    const off = await trigger('memory-off');
    expect(off.slice(off.indexOf('get_file_active+0x7f/0x1e0') + 1, -2)).toEqual([
      'vfio_pci_dma_buf_move+0x29a/0x610',
      'vfio_basic_config_write+0x214/0xa40',
      ...configTail,
    ]);
    expect(off.join('\n')).not.toMatch(/ioctl/);
    const flr = await trigger('flr');
    expect(flr).toContain('vfio_exp_config_write+0x2bb/0x530');
    expect(flr).toContain('__x64_sys_pwrite64+0x168/0x1c0');
    const reset = await trigger('reset');
    expect(reset).toEqual(expect.arrayContaining(['vfio_pci_core_ioctl+0xc48/0x1500', '__x64_sys_ioctl+0x714/0x12c0']));
    expect(reset.join('\n')).not.toMatch(/config/);
  });
});

describe('an O_PATH fd', () => {
  it('takes no file operation: ioctl, mmap and pread are EBADF (fdget/fget skip FMODE_PATH, fs/file.c)', async () => {
    const { PROT } = await import('../../src/uapi/constants.js');
    const { expectErrno } = await import('./helpers.js');
    const b = mock({ profile: 'upstream-7.1' });
    const fd = b.dev.open('/dev/vfio/vfio', O.PATH | O.CLOEXEC);
    expectErrno(() => b.dev.vfioGetApiVersion(fd), 'EBADF');
    expectErrno(() => b.dev.mmap(fd, 0n, 4096, PROT.READ), 'EBADF');
    b.dev.close(fd);
    b.close();
  });
});
