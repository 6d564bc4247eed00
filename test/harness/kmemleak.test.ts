// kmemleak as the kernel reports (mm/kmemleak.c kmemleak_scan): an object
// whose checksum changed since the previous scan (every new object) is gray
// until the next scan, so a leak is reported by the second scan after it was
// last written, never by the first; a disabled kmemleak refuses commands
// (review finding 4).
import { describe, expect, it } from 'vitest';
import type { FileOps } from '../../src/backend/types.js';
import { SystemError } from '../../src/uapi/errors.js';
import { KMEMLEAK, KmemleakMonitor, kmemleakFailure } from '../../src/harness/monitors.js';

/** The debugfs file over objects that follow the kernel's colouring rule. */
class KernelRuleKmemleak {
  objects: { address: number; scans: number; reported: boolean; cleared: boolean }[] = [];
  enabled = true;
  private next = 0x1000;

  leak(): void {
    this.objects.push({ address: (this.next += 0x40), scans: 0, reported: false, cleared: false });
  }

  fs(): FileOps {
    const fail = (errno: number): never => {
      throw new SystemError({ errno, syscall: 'write', path: KMEMLEAK });
    };
    return {
      exists: (p: string) => p === KMEMLEAK,
      writeFile: (p: string, d: string) => {
        if (p !== KMEMLEAK) fail(2);
        if (!this.enabled) fail(1);
        if (d === 'scan') {
          for (const o of this.objects) {
            o.scans += 1;
            // First scan after creation: checksum changed, gray until the next scan.
            if (o.scans >= 2 && !o.cleared) o.reported = true;
          }
        } else if (d === 'clear') {
          for (const o of this.objects) if (o.reported) o.cleared = true;
        } else fail(22);
      },
      readText: (p: string) => {
        if (p !== KMEMLEAK) fail(2);
        return this.objects
          .filter((o) => o.reported && !o.cleared)
          .map(
            (o) =>
              `unreferenced object 0x${o.address.toString(16)} (size 64):\n  comm "node", pid 1, jiffies 1\n  backtrace:\n    vfio_pci_map_interconnect+0x5c/0x120\n`,
          )
          .join('');
      },
    } as unknown as FileOps;
  }
}

describe('kmemleak windows', () => {
  it('a leak in the window is found although the first scan after it reports nothing', () => {
    const k = new KernelRuleKmemleak();
    const m = KmemleakMonitor.open(k.fs());
    m.begin();
    k.leak();
    const blocks = m.end();
    expect(blocks).toHaveLength(1);
    expect(blocks[0]![0]).toMatch(/^unreferenced object 0x1040 \(size 64\):$/);
  });

  it('a leak from before the window is not counted against it', () => {
    const k = new KernelRuleKmemleak();
    k.leak();
    const m = KmemleakMonitor.open(k.fs());
    m.begin();
    expect(m.end()).toEqual([]);
  });

  it('a disabled kmemleak (EPERM, or EBUSY on kernels that check at open) is said to be disabled', () => {
    const k = new KernelRuleKmemleak();
    k.enabled = false;
    let error: unknown = null;
    try {
      KmemleakMonitor.open(k.fs()).begin();
    } catch (e) {
      error = e;
    }
    expect(kmemleakFailure(error)).toEqual({
      disabled: true,
      why: expect.stringMatching(
        /^kmemleak is disabled \(EPERM from \/sys\/kernel\/debug\/kmemleak: booted with kmemleak=off/,
      ),
    });
    expect(kmemleakFailure(new SystemError({ errno: 16, syscall: 'open', path: KMEMLEAK })).disabled).toBe(true);
    expect(kmemleakFailure(new SystemError({ errno: 5, syscall: 'write', path: KMEMLEAK }))).toEqual({
      disabled: false,
      why: 'kmemleak scan failed (EIO)',
    });
  });
});
