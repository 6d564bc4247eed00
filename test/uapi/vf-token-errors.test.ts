// openVfioDevice's VF-token diagnoses (src/uapi/vfio.ts) name the token only
// when the kernel refused the token: an EACCES from VFIO_GROUP_GET_DEVICE_FD
// or VFIO_DEVICE_BIND_IOMMUFD (drivers/vfio/pci/vfio_pci_core.c
// vfio_pci_core_match_token_uuid). An EACCES from opening /dev/vfio/vfio or a
// group node (a user without access to it) is a permission, said as such.
import { describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { openVfioDevice } from '../../src/uapi/vfio.js';
import { PF, pfOnVfio, switchTopology, VF0 } from '../support/switch-machine.js';

/** The igb switch machine, ACS on the switch's downstream port (PF and VFs each in a group), PF on vfio-pci with 2 VFs. */
function machine(): MockBackend {
  const b = createMockBackend({
    topology: switchTopology({ enableSriov: true, ownGroups: true }),
    profile: 'upstream-7.1',
  });
  pfOnVfio(b, 2);
  return b;
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error, got none');
}

describe('VF token diagnoses', () => {
  it("the PF's group node refused (EACCES at open): a permission, not 'VFs open with another token'", () => {
    const b = machine();
    try {
      // openGroup(PF): /dev/vfio/vfio is the first open, the PF's group node the second.
      b.kernel.injectFault({ kind: 'open', nth: 2, errno: 'EACCES' });
      const m = messageOf(() => openVfioDevice(b, VF0, { access: 'group' }));
      expect(m).toMatch(/cannot set the VF token of PF 0000:03:00\.0/);
      expect(m).toMatch(/EACCES/);
      expect(m).not.toMatch(/another token/);
    } finally {
      b.close();
    }
  });

  it("the VF's container refused (EACCES at open) after the token was set: not 'its PF's token changed'", () => {
    const b = machine();
    try {
      openVfioDevice(b, VF0, { access: 'group' }).close();
      b.kernel.injectFault({ kind: 'open', nth: 1, errno: 'EACCES' });
      const m = messageOf(() => openVfioDevice(b, VF0, { access: 'group' }));
      expect(m).toMatch(/EACCES/);
      expect(m).not.toMatch(/token/);
    } finally {
      b.close();
    }
  });

  it("a token the kernel refuses is still named: the PF's token changed behind iovh's back", () => {
    const b = machine();
    try {
      openVfioDevice(b, VF0, { access: 'group' }).close();
      // Someone else opens the PF with their own token while no VF is open: the PF takes it.
      openVfioDevice(b, PF, { access: 'group', vfToken: 'bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3' }).close();
      const m = messageOf(() => openVfioDevice(b, VF0, { access: 'group' }));
      expect(m).toMatch(/refused its VF token \(EACCES\): its PF's token changed/);
    } finally {
      b.close();
    }
  });
});

describe('opening the PF itself leaves its VF token alone unless this run set it', () => {
  const theirs = 'bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3';

  it("a VM manager's token survives iovh opening the PF (no VF of it opened by iovh)", () => {
    const b = machine();
    try {
      // The VM manager's token, set on the PF while none of its VFs is open.
      openVfioDevice(b, PF, { access: 'group', vfToken: theirs }).close();
      openVfioDevice(b, PF, { access: 'group' }).close();
      // Still theirs: their VF open with it succeeds.
      openVfioDevice(b, VF0, { access: 'group', vfToken: theirs }).close();
    } finally {
      b.close();
    }
  });

  it("after iovh opened a VF with the run's token, the PF opens with that token while the VF is open", () => {
    const b = machine();
    try {
      const vf = openVfioDevice(b, VF0, { access: 'group' });
      openVfioDevice(b, PF, { access: 'group' }).close();
      vf.close();
    } finally {
      b.close();
    }
  });
});
