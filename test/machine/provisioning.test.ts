// The provisioning interface is part of the capabilities a scenario process
// receives by structured clone: it must survive it (its data; the methods come
// back with reviveProvisioning), or no scenario can start on a PF that has one.
import { describe, expect, it } from 'vitest';
import type { FileOps } from '../../src/backend/types.js';
import { probeProvisioning, reviveProvisioning } from '../../src/machine/provisioning.js';
import { SysReader } from '../../src/machine/sysfs.js';

function fsWith(files: string[]): FileOps {
  const set = new Set(files);
  const err = (code: string) => Object.assign(new Error(code), { code });
  return {
    exists: (p: string) => set.has(p) || files.some((f) => f.startsWith(`${p}/`)),
    readText: (p: string) => {
      if (!set.has(p)) throw err('ENOENT');
      return '0\n';
    },
    readdir: (p: string) => {
      const names = new Set(
        files.filter((f) => f.startsWith(`${p}/`)).map((f) => f.slice(p.length + 1).split('/')[0]!),
      );
      if (names.size === 0) throw err('ENOENT');
      return [...names];
    },
    readlink: () => {
      throw err('ENOENT');
    },
  } as unknown as FileOps;
}

describe('provisioning interface', () => {
  const pf = '0000:01:00.0';
  const admin = (vf: number) => `/sys/bus/pci/devices/${pf}/sriov_admin/vf${vf}/profile/vram_quota`;

  it("is xe's sriov_admin on xe and on iovh's mock GPU PF driver, nothing on another driver", () => {
    const r = new SysReader(fsWith([admin(1), admin(2)]));
    for (const driver of ['xe', 'iovh_mock_gpu']) {
      const p = probeProvisioning(r, pf, driver);
      expect(p.iface?.kind).toBe('sriov_admin');
      expect(p.iface?.quotaPaths(2)).toEqual([admin(2)]);
    }
    expect(probeProvisioning(r, pf, 'igb').iface).toBeNull();
  });

  it('survives a structured clone and comes back whole', () => {
    const r = new SysReader(fsWith([admin(1)]));
    const iface = probeProvisioning(r, pf, 'xe').iface!;
    const cloned = structuredClone({ pf: { provisioning: iface } });
    const back = reviveProvisioning(cloned.pf.provisioning)!;
    expect(back.kind).toBe('sriov_admin');
    expect(back.tiles).toBe(1);
    expect(back.quotaPaths(3)).toEqual([admin(3)]);
    expect(back.tilePaths(3)).toEqual([]);
    expect(reviveProvisioning(null)).toBeNull();
  });
});
