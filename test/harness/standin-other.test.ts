// rfc/refuse-device's "another device" follows the machine (src/harness/standin.ts): a function unrelated to the
// exporter where the machine has one (on a QEMU guest the host bridge), else a sibling VF of the same PF.
import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/mock/backend.js';
import { discover } from '../../src/machine/topology.js';
import { findStandInTarget } from '../../src/harness/standin.js';
import { enableVfs, VF0 } from '../mock/helpers.js';

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
