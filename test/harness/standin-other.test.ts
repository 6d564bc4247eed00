// rfc/refuse-device's "another device" follows the machine (src/harness/standin.ts): a function unrelated to the
// exporter where the machine has one (on a QEMU guest the host bridge), else a sibling VF of the same PF.
import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/mock/backend.js';
import { discover } from '../../src/machine/topology.js';
import { findStandInTarget } from '../../src/harness/standin.js';
import { enableVfs, VF0 } from '../mock/helpers.js';
import type { Backend } from '../../src/backend/types.js';

function target(topology?: string) {
  const b = createMockBackend(topology ? { topology } : {});
  enableVfs(b, 2, [0]);
  const vf = discover(b.fs).pfs[0]!.vfs.find((v) => v.bdf === VF0)!;
  const t = findStandInTarget(b, vf)!;
  b.close();
  return t;
}

describe('the stand-in importer\'s "another device"', () => {
  it('a machine with only the GPU: a sibling VF', () => {
    expect(target()).toMatchObject({
      exporter: VF0,
      importer: '0000:03:00.0',
      other: '0000:03:00.2',
      otherKind: 'sibling VF',
    });
  });

  it('a machine with another device: that one, not a sibling VF', () => {
    expect(target('topologies/two-gpus.json')).toMatchObject({
      exporter: VF0,
      other: '0000:13:00.0',
      otherKind: 'unrelated',
    });
  });
});

describe("the stand-in importer's exporter", () => {
  /** A QEMU guest's sysfs: the host bridge, and ivshmem-plain (BAR 2: 1 MiB of shared memory) on `driver`. */
  function guest(driver: string): Backend {
    const dev = '/sys/bus/pci/devices';
    const files: Record<string, string> = {
      [`${dev}/0000:00:04.0/vendor`]: '0x1af4\n',
      [`${dev}/0000:00:04.0/device`]: '0x1110\n',
      [`${dev}/0000:00:04.0/resource`]: [
        '0x00000000fea00000 0x00000000fea000ff 0x0000000000040200',
        '0x0000000000000000 0x0000000000000000 0x0000000000000000',
        '0x0000000800000000 0x00000008000fffff 0x000000000014220c',
        ...Array(10).fill('0x0000000000000000 0x0000000000000000 0x0000000000000000'),
      ].join('\n'),
      [`${dev}/0000:00:00.0/vendor`]: '0x8086\n',
      [`${dev}/0000:00:00.0/device`]: '0x29c0\n',
    };
    const links: Record<string, string> = {
      [`${dev}/0000:00:04.0/driver`]: `../../../bus/pci/drivers/${driver}`,
    };
    const enoent = (p: string) => Object.assign(new Error(p), { code: 'ENOENT' });
    const fs = {
      readText: (p: string) => {
        if (!(p in files)) throw enoent(p);
        return files[p]!;
      },
      readdir: (p: string) => {
        if (p === dev) return ['0000:00:04.0', '0000:00:00.0'];
        throw enoent(p);
      },
      readlink: (p: string) => {
        if (!(p in links)) throw enoent(p);
        return links[p]!;
      },
      exists: (p: string) => p in files || p in links || p === dev,
    };
    return { fs } as unknown as Backend;
  }

  it('ivshmem-plain on vfio-pci: its BAR 2 (memory), itself the importer, the host bridge the other device', () => {
    expect(findStandInTarget(guest('vfio-pci'), null)).toMatchObject({
      exporter: '0000:00:04.0',
      importer: '0000:00:04.0',
      bar: { index: 2, start: 0x800000000n, size: 0x100000n, kind: 'mem64', prefetchable: true },
      memory: "QEMU ivshmem-plain's shared memory",
      other: '0000:00:00.0',
      otherKind: 'unrelated',
    });
  });

  it('ivshmem-plain on another driver, and no VF: nothing to export', () => {
    expect(findStandInTarget(guest('ivshmem'), null)).toBeNull();
  });
});
