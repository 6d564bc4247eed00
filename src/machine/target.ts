// The devices under test: which PF and VF a run validates, chosen from the
// machine model (topology.ts), and what is wrong with a --pf/--vf the user
// typed. Reads nothing itself.

import { devicePath } from './sysfs.js';
import type { HostTopology, PfInfo, VfInfo } from './topology.js';
import type { FileOps } from '../backend/types.js';

export interface Target {
  pf: PfInfo;
  /** The VF the single-VF scenarios use: bound to vfio-pci. */
  vf: VfInfo;
  /** Every VF of the PF bound to vfio-pci (import/iov-every-vf, stress/many-buffers). */
  vfioVfs: VfInfo[];
  /** How the target was chosen. */
  why: string;
}

export class TargetError extends Error {
  constructor(
    message: string,
    readonly enable: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

/**
 * What is wrong with --pf/--vf on this machine, in one line, or null: the
 * address must name an SR-IOV PF (--pf) or one of its VFs (--vf), and a
 * --vf must belong to the --pf given with it. Whether the VF is bound to
 * vfio-pci is not checked here: that is the machine's state, a capability
 * every scenario then skips on with how to fix it (chooseTarget).
 */
export function wantedProblem(
  fs: FileOps,
  machine: HostTopology,
  want: { pf?: string | null; vf?: string | null },
): string | null {
  const pfs = machine.pfs;
  const vfOf = (bdf: string): PfInfo | undefined => pfs.find((p) => p.vfs.some((v) => v.bdf === bdf));
  const present = (bdf: string): boolean => fs.exists(devicePath(bdf));
  if (want.pf) {
    const pf = pfs.find((p) => p.bdf === want.pf);
    if (!pf) {
      const parent = vfOf(want.pf);
      if (parent) return `--pf ${want.pf} is a VF (of PF ${parent.bdf}), not a PF`;
      return present(want.pf)
        ? `--pf ${want.pf} is not an SR-IOV PF (no sriov_totalvfs); see \`iovh topology\``
        : `--pf ${want.pf}: no PCI device at that address; see \`iovh topology\``;
    }
  }
  if (want.vf) {
    const pf = vfOf(want.vf);
    if (!pf) {
      if (pfs.some((p) => p.bdf === want.vf)) return `--vf ${want.vf} is a PF, not a VF (use --pf)`;
      return present(want.vf)
        ? `--vf ${want.vf} is not a VF of any SR-IOV PF on this machine; see \`iovh topology\``
        : `--vf ${want.vf}: no PCI device at that address; see \`iovh topology\``;
    }
    if (want.pf && want.pf !== pf.bdf) return `--vf ${want.vf} belongs to PF ${pf.bdf}, not to --pf ${want.pf}`;
  }
  return null;
}

function bindHow(pf: PfInfo): string {
  return pf.numvfs === 0
    ? `iovh vfs enable ${pf.bdf} 2 && iovh bind <VF> vfio-pci`
    : `iovh bind ${pf.vfs[0]?.bdf ?? '<VF>'} vfio-pci`;
}

/**
 * Pick the PF and VF under test. With --vf, that VF (its PF follows); with
 * --pf, that PF's first VF on vfio-pci; otherwise the first PF driven by xe
 * with a VF on vfio-pci, then any PF with one (QEMU's igb/nvme: export
 * scenarios still run). A provisioned VF is preferred over an unprovisioned one.
 */
export function chooseTarget(machine: HostTopology, want: { pf?: string | null; vf?: string | null }): Target {
  const pfs = machine.pfs;
  const vfio = (pf: PfInfo): VfInfo[] => pf.vfs.filter((v) => v.driver === 'vfio-pci');
  const preferProvisioned = (vfs: VfInfo[]): VfInfo =>
    vfs.find((v) => v.vramQuota === null || v.vramQuota > 0n) ?? vfs[0]!;
  if (want.vf) {
    const pf = pfs.find((p) => p.vfs.some((v) => v.bdf === want.vf));
    if (!pf)
      throw new TargetError(
        `--vf ${want.vf}: not a VF of any SR-IOV PF on this machine`,
        'list the VFs with `iovh topology`',
      );
    if (want.pf && want.pf !== pf.bdf)
      throw new TargetError(
        `--vf ${want.vf} belongs to PF ${pf.bdf}, not --pf ${want.pf}`,
        'drop --pf or pick a VF of that PF',
      );
    const vf = pf.vfs.find((v) => v.bdf === want.vf)!;
    if (vf.driver !== 'vfio-pci') {
      throw new TargetError(
        `--vf ${vf.bdf} is bound to ${vf.driver ?? 'no driver'}, not vfio-pci`,
        `iovh bind ${vf.bdf} vfio-pci`,
      );
    }
    return { pf, vf, vfioVfs: vfio(pf), why: `--vf ${vf.bdf}` };
  }
  if (want.pf) {
    const pf = pfs.find((p) => p.bdf === want.pf);
    if (!pf)
      throw new TargetError(`--pf ${want.pf}: no SR-IOV PF at that address`, 'list the PFs with `iovh topology`');
    const vfs = vfio(pf);
    if (vfs.length === 0)
      throw new TargetError(`--pf ${pf.bdf} has ${pf.numvfs} VFs and none is bound to vfio-pci`, bindHow(pf));
    return { pf, vf: preferProvisioned(vfs), vfioVfs: vfs, why: `--pf ${pf.bdf}` };
  }
  const candidates = [...pfs.filter((p) => p.driver === 'xe'), ...pfs.filter((p) => p.driver !== 'xe')];
  for (const pf of candidates) {
    const vfs = vfio(pf);
    if (vfs.length > 0) {
      const vf = preferProvisioned(vfs);
      return { pf, vf, vfioVfs: vfs, why: `first ${pf.driver === 'xe' ? 'xe ' : ''}PF with a VF on vfio-pci` };
    }
  }
  if (pfs.length === 0) {
    throw new TargetError(
      'no SR-IOV PF on this machine',
      'run on a machine with an SR-IOV GPU, or with --backend mock',
    );
  }
  const pf = candidates[0]!;
  throw new TargetError(`no VF bound to vfio-pci (PF ${pf.bdf} has ${pf.numvfs} VFs enabled)`, bindHow(pf));
}
