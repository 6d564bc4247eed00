// The backends the contract suite runs against (serialport's testBinding
// pattern, ../shared/STYLE.md): the mock always; native when IOVH_PF names an
// SR-IOV PF of this machine (and IOVH_VF a VF of it bound to vfio-pci, for the
// export cases). On native the suite only makes writes the kernel refuses,
// and removes the tracefs instance and probes it adds.

import type { Backend } from '../../src/backend/types.js';
import { createNativeBackend } from '../../src/backend/native.js';
import { createMockBackend } from '../../src/mock/backend.js';

export interface Target {
  readonly name: string;
  /** A fresh backend for one test (the mock: a fresh kernel). */
  open(): Backend;
  /** The PF's BDF. */
  readonly pf: string;
  /** A VF of it bound to vfio-pci, or null (export cases skip). */
  readonly vf: string | null;
  /** Only the mock can check what would be unsafe or unpredictable on hardware. */
  readonly mock: boolean;
  /** Prepare a fresh backend: on the mock, enable two VFs and bind VF 0 to vfio-pci. */
  prepare(b: Backend): void;
}

const MOCK_PF = '0000:03:00.0';
const MOCK_VF = '0000:03:00.1';

export const mockTarget: Target = {
  name: 'mock',
  open: () => createMockBackend({ profile: 'rfc-v1' }),
  pf: MOCK_PF,
  vf: MOCK_VF,
  mock: true,
  prepare(b) {
    const pf = `/sys/bus/pci/devices/${MOCK_PF}`;
    b.fs.writeFile(`${pf}/sriov_drivers_autoprobe`, '0');
    b.fs.writeFile(`${pf}/sriov_numvfs`, '2');
    b.fs.writeFile(`/sys/bus/pci/devices/${MOCK_VF}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', MOCK_VF);
  },
};

const pfEnv = process.env.IOVH_PF;
const vfEnv = process.env.IOVH_VF;

export const nativeTarget: Target | null = pfEnv
  ? {
      name: `native (${pfEnv}${vfEnv ? `, VF ${vfEnv}` : ''})`,
      open: () => createNativeBackend({ reason: 'contract suite' }),
      pf: pfEnv,
      vf: vfEnv ?? null,
      mock: false,
      prepare: () => undefined,
    }
  : null;

export const NATIVE_SKIP =
  'native: skipped, no hardware named — set IOVH_PF=<PF BDF> (and IOVH_VF=<VF BDF on vfio-pci> for the export cases) on a machine with an SR-IOV GPU';
