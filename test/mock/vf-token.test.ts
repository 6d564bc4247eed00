// The VF token of a PF on vfio-pci (drivers/vfio/pci/vfio_pci_core.c
// vfio_pci_core_match_token_uuid, vfio_pci_core_match, vfio_pci_core_feature_token,
// vfio_pci_vf_init, vfio_pci_core_sriov_configure; drivers/vfio/pci/vfio_pci.c
// enable_sriov; drivers/vfio/device_cdev.c vfio_df_check_token), on the igb
// machine behind a switch (test/qemu/fixtures/topology-igb-switch.json: PF and VFs in
// one IOMMU group) and with the PF and its VFs each in a group of their own.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createMockBackend } from '../../src/mock/backend.js';
import { scratchDir } from '../support/scratch.js';
import { describe, expect, it } from 'vitest';
import type { MockBackend } from '../../src/mock/backend.js';
import { O, VFIO } from '../../src/uapi/constants.js';
import { cmdlineEnableSriov } from '../../src/mock/vfio.js';
import { uuidBytes } from '../../src/uapi/vfio.js';
import { PF, pfOnVfio, SYS, switchTopology, VF0, VF1 } from '../support/switch-machine.js';
import { errOf, expectErrno, mock } from './helpers.js';

const PARAM = '/sys/module/vfio_pci/parameters/enable_sriov';
const TOKEN = '2ab74924-c335-45f4-9b16-8569e5b08258';
const OTHER = 'bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3';

function machine(o: { enableSriov: boolean; ownGroups?: boolean; cdev?: boolean }): MockBackend {
  return mock({
    profile: 'upstream-7.1',
    topology: switchTopology(o),
    ...(o.cdev ? { kernelConfig: { IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' } } : {}),
  });
}

function write(b: MockBackend, path: string, text: string): void {
  b.fs.writeFile(path, text);
}

function groupOf(b: MockBackend, bdf: string): number {
  return Number(b.fs.readlink(`${SYS}/${bdf}/iommu_group`).split('/').pop());
}

/** A group opened with a type1 container, ready for GET_DEVICE_FD. */
function group(b: MockBackend, bdf: string): { group: number; container: number } {
  const container = b.dev.open('/dev/vfio/vfio', O.RDWR);
  const g = b.dev.open(`/dev/vfio/${groupOf(b, bdf)}`, O.RDWR);
  b.dev.vfioGroupSetContainer(g, container);
  b.dev.vfioSetIommu(container, VFIO.TYPE1v2_IOMMU);
  return { group: g, container };
}

function kmsg(b: MockBackend): string {
  return b.fs.readText('/dev/kmsg');
}

describe('vfio_pci.enable_sriov', () => {
  it('from the command line as kernel/params.c parses it: no value is true, an empty or bad value keeps the default', () => {
    expect(cmdlineEnableSriov('root=/dev/vda vfio_pci.enable_sriov')).toBe(true);
    expect(cmdlineEnableSriov('vfio-pci.enable-sriov=enable')).toBe(true);
    // next_arg gives "" (not NULL) for "name=": param_set_bool's kstrtobool("") is EINVAL, the default stays.
    expect(cmdlineEnableSriov('vfio_pci.enable_sriov=')).toBe(false);
    expect(cmdlineEnableSriov('vfio_pci.enable_sriov=1 vfio_pci.enable_sriov=x')).toBe(true);
    expect(cmdlineEnableSriov('vfio_pci.enable_sriov=1 vfio_pci.enable_sriov=disable')).toBe(false);
  });

  it('off: the PF on vfio-pci refuses sriov_numvfs with ENOENT; the parameter is writable (0644) and on enables VFs', () => {
    const b = machine({ enableSriov: false });
    expect(b.fs.readText(PARAM)).toBe('N\n');
    write(b, `${SYS}/${PF}/driver/unbind`, PF);
    write(b, `${SYS}/${PF}/driver_override`, 'vfio-pci');
    write(b, '/sys/bus/pci/drivers_probe', PF);
    expectErrno(() => write(b, `${SYS}/${PF}/sriov_numvfs`, '2'), 'ENOENT');
    expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`)).toBe('0\n');
    expectErrno(() => write(b, PARAM, 'maybe'), 'EINVAL');
    write(b, PARAM, '1');
    expect(b.fs.readText(PARAM)).toBe('Y\n');
    write(b, `${SYS}/${PF}/sriov_numvfs`, '2');
    expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`)).toBe('2\n');
  });

  it('on the command line: the VFs get driver_override vfio-pci from the PF (bus notifier) and bind to it', () => {
    const b = machine({ enableSriov: true });
    expect(b.fs.readText(PARAM)).toBe('Y\n');
    pfOnVfio(b, 2);
    for (const vf of [VF0, VF1]) {
      expect(b.fs.readText(`${SYS}/${vf}/driver_override`)).toBe('vfio-pci\n');
      expect(b.fs.readlink(`${SYS}/${vf}/driver`)).toMatch(/vfio-pci$/);
    }
    expect(kmsg(b)).toContain(`vfio-pci ${PF}: Captured SR-IOV VF ${VF0} driver_override`);
  });
});

describe('vfio_pci_core_match_token_uuid through VFIO_GROUP_GET_DEVICE_FD', () => {
  it('a VF of a PF on vfio-pci: no token or a wrong one EACCES, the PF token opens it', () => {
    const b = machine({ enableSriov: true });
    pfOnVfio(b, 2);
    const { group: g } = group(b, VF0);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, VF0), 'EACCES');
    expect(kmsg(b)).toContain(`vfio-pci ${VF0}: VF token required to access device`);
    // The PF's token is random (uuid_gen at registration): nobody knows it until it is set.
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`), 'EACCES');
    expect(kmsg(b)).toContain(`vfio-pci ${VF0}: Incorrect VF token provided for device`);
    // The PF opened with a token, no VF in use: that token becomes the PF's.
    const pf = b.dev.vfioGroupGetDeviceFd(g, `${PF} vf_token=${TOKEN}`);
    b.dev.close(pf);
    const vf = b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN.toUpperCase()}`); // uuid_parse: either case
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF1} vf_token=${OTHER}`), 'EACCES');
    b.dev.close(vf);
  });

  it('the name: a short or malformed UUID, another option or a second token is EINVAL; a longer BDF is no match', () => {
    const b = machine({ enableSriov: true });
    pfOnVfio(b, 2);
    const { group: g } = group(b, VF0);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN.slice(0, 35)}`), 'EINVAL');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN.replace(/-/g, 'x')}`), 'EINVAL');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN} vf_token=${TOKEN}`), 'EINVAL');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} foo=1`), 'EINVAL');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0}0`), 'ENODEV');
    // Spaces around the option are skipped (vfio_pci_core_match's loop).
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${PF}   vf_token=${TOKEN}  `));
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`));
  });

  it('a PF with VFs in use needs the current token; without VFs in use a PF token resets it; users count opens', () => {
    const b = machine({ enableSriov: true });
    pfOnVfio(b, 2);
    const { group: g } = group(b, VF0);
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${PF} vf_token=${TOKEN}`));
    const vf = b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`);
    // A second fd of the open VF is no second user; the PF still needs the token while the VF is open.
    const again = b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, PF), 'EACCES');
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${PF} vf_token=${OTHER}`), 'EACCES');
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${PF} vf_token=${TOKEN}`));
    b.dev.close(vf);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, PF), 'EACCES'); // `again` keeps the VF open
    b.dev.close(again);
    // No VF in use: the PF opens without a token, and a token given sets a new one.
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, PF));
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${PF} vf_token=${OTHER}`));
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`), 'EACCES');
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${OTHER}`));
  });

  it('a token where none applies: VF of a PF not on vfio-pci, or a function that is neither PF nor VF, is EINVAL', () => {
    const b = machine({ enableSriov: true, ownGroups: true });
    write(b, `${SYS}/${PF}/sriov_numvfs`, '1'); // igb creates them
    write(b, `${SYS}/${VF0}/driver_override`, 'vfio-pci');
    if (b.fs.exists(`${SYS}/${VF0}/driver`)) write(b, `${SYS}/${VF0}/driver/unbind`, VF0);
    write(b, '/sys/bus/pci/drivers_probe', VF0);
    const { group: g } = group(b, VF0);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`), 'EINVAL');
    expect(kmsg(b)).toContain(`vfio-pci ${VF0}: VF token incorrectly provided, PF not bound to vfio-pci`);
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, VF0));
  });
});

describe('VFIO_DEVICE_FEATURE_PCI_VF_TOKEN', () => {
  it('SET on the PF (16 bytes; PROBE answers 0; GET EINVAL) replaces the token, VFs in use or not; ENOTTY on a VF', () => {
    const b = machine({ enableSriov: true });
    pfOnVfio(b, 2);
    const { group: g } = group(b, VF0);
    const pf = b.dev.vfioGroupGetDeviceFd(g, PF);
    const SET = VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_PCI_VF_TOKEN;
    expect(b.dev.vfioDeviceFeature(pf, VFIO.DEVICE_FEATURE_PROBE | SET)).toBe(0);
    expectErrno(
      () => b.dev.vfioDeviceFeature(pf, VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_PCI_VF_TOKEN, new Uint8Array(16)),
      'EINVAL',
    );
    expectErrno(() => b.dev.vfioDeviceFeature(pf, SET, new Uint8Array(8)), 'EINVAL'); // argsz below a uuid_t
    expect(b.dev.vfioDeviceFeature(pf, SET, uuidBytes(TOKEN))).toBe(0);
    const vf = b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`);
    expectErrno(() => b.dev.vfioDeviceFeature(vf, SET, uuidBytes(TOKEN)), 'ENOTTY');
    // The feature does not look at users: a VF in use keeps its fd, a new open needs the new token.
    expect(b.dev.vfioDeviceFeature(pf, SET, uuidBytes(OTHER))).toBe(0);
    expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, `${VF1} vf_token=${TOKEN}`), 'EACCES');
    b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${VF1} vf_token=${OTHER}`));
    b.dev.close(vf);
    b.dev.close(pf);
  });
});

describe('the cdev: VFIO_DEVICE_BIND_IOMMUFD with VFIO_DEVICE_BIND_FLAG_TOKEN', () => {
  it('checks the token before the iommufd; a null token_uuid_ptr is EFAULT', () => {
    const b = machine({ enableSriov: true, ownGroups: true, cdev: true });
    pfOnVfio(b, 2);
    const cdevOf = (bdf: string) => `/dev/vfio/devices/${b.fs.readdir(`${SYS}/${bdf}/vfio-dev`)[0]}`;
    const iommufd = b.dev.open('/dev/iommu', O.RDWR);
    const T = VFIO.DEVICE_BIND_FLAG_TOKEN;
    const pf = b.dev.open(cdevOf(PF), O.RDWR);
    b.dev.vfioDeviceBindIommufd(pf, iommufd, T, uuidBytes(TOKEN)); // sets the PF's token
    b.dev.close(pf);
    const vf = b.dev.open(cdevOf(VF0), O.RDWR);
    expectErrno(() => b.dev.vfioDeviceBindIommufd(vf, iommufd), 'EACCES');
    expectErrno(() => b.dev.vfioDeviceBindIommufd(vf, iommufd, T), 'EFAULT');
    expectErrno(() => b.dev.vfioDeviceBindIommufd(vf, iommufd, T, uuidBytes(OTHER)), 'EACCES');
    // The token is checked first: a wrong one is EACCES even with a bad iommufd.
    expect(errOf(() => b.dev.vfioDeviceBindIommufd(vf, 999, T, uuidBytes(OTHER))).code).toBe('EACCES');
    expect(b.dev.vfioDeviceBindIommufd(vf, iommufd, T, uuidBytes(TOKEN))).toBeGreaterThan(0);
    // A VF bound: the PF needs the token now.
    const pf2 = b.dev.open(cdevOf(PF), O.RDWR);
    expectErrno(() => b.dev.vfioDeviceBindIommufd(pf2, iommufd), 'EACCES');
    b.dev.close(vf);
    b.dev.vfioDeviceBindIommufd(pf2, iommufd);
    b.dev.close(pf2);
    b.dev.close(iommufd);
  });
});

describe('the PF leaves vfio-pci', () => {
  it('unbinding the PF from vfio-pci disables its VFs first (vfio_pci_core_unregister_device)', () => {
    const b = machine({ enableSriov: true });
    pfOnVfio(b, 2);
    write(b, `${SYS}/${PF}/driver/unbind`, PF);
    expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`)).toBe('0\n');
    expect(b.fs.exists(`${SYS}/${VF0}`)).toBe(false);
  });

  it('vfio-pci does not take a PF whose VFs are enabled (vfio_pci_core_register_device: EBUSY)', () => {
    const b = machine({ enableSriov: true });
    write(b, `${SYS}/${PF}/sriov_numvfs`, '2'); // by igb
    write(b, `${SYS}/${PF}/driver/unbind`, PF);
    expect(b.fs.readText(`${SYS}/${PF}/sriov_numvfs`)).toBe('2\n'); // igb's remove leaves them (the mock's igb)
    write(b, `${SYS}/${PF}/driver_override`, 'vfio-pci');
    write(b, '/sys/bus/pci/drivers_probe', PF);
    expect(b.fs.exists(`${SYS}/${PF}/driver`)).toBe(false);
    expect(kmsg(b)).toContain(`vfio-pci ${PF}: Cannot bind to PF with SR-IOV enabled`);
    expect(kmsg(b)).toContain(`vfio-pci ${PF}: probe with driver vfio-pci failed with error -16`);
  });
});

describe('the state file', () => {
  /** `before` on a backend with a state file, closed (saved); then `after` on a new backend loading it. */
  function reloaded(enableSriov: boolean, before: (a: MockBackend) => void, after: (b: MockBackend) => void): void {
    const dir = scratchDir('iovh-vf-token-');
    try {
      const statePath = join(dir, 'state.json');
      const topology = switchTopology({ enableSriov });
      const a = createMockBackend({ topology, profile: 'upstream-7.1', statePath });
      before(a);
      a.close();
      const b = createMockBackend({ topology, statePath });
      try {
        after(b);
      } finally {
        b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("keeps a PF's token set while it had no VFs (the token lives as long as the PF stays on vfio-pci)", () => {
    reloaded(
      true,
      (a) => {
        pfOnVfio(a, 0);
        a.dev.close(a.dev.vfioGroupGetDeviceFd(group(a, PF).group, `${PF} vf_token=${TOKEN}`));
      },
      (b) => {
        write(b, `${SYS}/${PF}/sriov_numvfs`, '2');
        b.dev.close(b.dev.vfioGroupGetDeviceFd(group(b, VF0).group, `${VF0} vf_token=${TOKEN}`));
        write(b, `${SYS}/${PF}/sriov_numvfs`, '0');
      },
    );
  });

  it('keeps enable_sriov written at run time, the PF token, and the VFs needing it', () => {
    reloaded(
      false,
      (a) => {
        write(a, PARAM, 'Y');
        pfOnVfio(a, 2);
        a.dev.close(a.dev.vfioGroupGetDeviceFd(group(a, VF0).group, `${PF} vf_token=${TOKEN}`));
      },
      (b) => {
        expect(b.fs.readText(PARAM)).toBe('Y\n');
        const { group: g } = group(b, VF0);
        expectErrno(() => b.dev.vfioGroupGetDeviceFd(g, VF0), 'EACCES');
        b.dev.close(b.dev.vfioGroupGetDeviceFd(g, `${VF0} vf_token=${TOKEN}`));
        // vfio-pci disables them again (its sriov_configure, enable_sriov on).
        write(b, `${SYS}/${PF}/sriov_numvfs`, '0');
      },
    );
  });
});
