// What the rfc/* scenarios run on: iovh's stand-in importer module
// (/dev/iovh-ic, kernel/iovh-ic-importer) in the role of xe, and a PCI
// function bound to vfio-pci as the exporter. The series' IOV match holds
// when the importer device is the exporter's physical function and both name
// the same BAR (RFC 4/8 vfio_pci_match_iov_interconnect: imp->pdev ==
// pci_physfn(exp->pdev), same bar), so the importer device is the exporter's
// PF for an SR-IOV VF and the function itself otherwise (pci_physfn() of a
// function that is no VF is the function).
//
// The data checks write and read the exported BAR, so they run only where
// that BAR is memory: QEMU's ivshmem-plain BAR 2 (RAM shared with the host;
// docs/rfc-kernel.md) and an xe VF's LMEM BAR 2. Any other BAR (an igb VF's
// registers) is used for negotiation only.

import type { Backend, FileOps } from '../backend/types.js';
import { SystemError } from '../uapi/errors.js';
import { IcAbiMismatch, IOVH_IC, StandInImporter } from '../uapi/iovh-ic.js';
import type { ScenarioContext } from './scenario.js';
import { exportBar, PAGE, requireCaps } from './steps.js';
import { devicePath, PCI_DEVICES, SysReader } from '../machine/sysfs.js';
import { barsOf, lmemBar, type Bar, type VfInfo } from '../machine/topology.js';

/** PCI functions whose BAR is plain memory behind the device (vendor, device, BAR, what it is). */
export const MEMORY_BARS: readonly { vendor: number; device: number; bar: number; what: string }[] = [
  // hw/misc/ivshmem.c: BAR 0 registers, BAR 2 the shared memory backend (IVSHMEM_PLAIN: no doorbell).
  { vendor: 0x1af4, device: 0x1110, bar: 2, what: "QEMU ivshmem-plain's shared memory" },
];

export interface StandInTarget {
  /** The function bound to vfio-pci whose BAR is exported. */
  exporter: string;
  /** pci_physfn(exporter): its PF, or the function itself. */
  importer: string;
  bar: Bar;
  /** The BAR is memory, so data written through one path can be read through the other. */
  memory: string | null;
  /**
   * Another PCI function, neither the exporter nor the importer: the wrong
   * importer device. A function unrelated to the exporter (not its PF, not a
   * VF of that PF: on a QEMU guest the host bridge 0000:00:00.0) when the
   * machine has one; else a sibling VF (the mock's machine lists only the
   * GPU's PF and VFs). The series' match must refuse either.
   */
  other: string | null;
  /** What `other` is to the exporter. */
  otherKind: 'unrelated' | 'sibling VF' | null;
  /** How this exporter was picked. */
  how: string;
}

/** pci_physfn(): the PF of a VF (its `physfn` link), else the function itself. */
export function physfnOf(fs: FileOps, bdf: string): string {
  return new SysReader(fs).linkName(devicePath(bdf, 'physfn')) ?? bdf;
}

/** Find the stand-in's exporter: a memory-BAR function on vfio-pci first, else the run's VF. */
export function findStandInTarget(backend: Backend, vf: VfInfo | null): StandInTarget | null {
  const fs = backend.fs;
  const r = new SysReader(fs);
  const devices = r.list(PCI_DEVICES).sort();
  const onVfio = devices.filter((d) => r.driverOf(d) === 'vfio-pci');
  /** The first function by address that is not the exporter nor its PF, preferring one outside that PF's SR-IOV family. */
  const other = (exporter: string, importer: string): Pick<StandInTarget, 'other' | 'otherKind'> => {
    const rest = devices.filter((d) => d !== exporter && d !== importer);
    const unrelated = rest.find((d) => physfnOf(fs, d) !== importer);
    if (unrelated) return { other: unrelated, otherKind: 'unrelated' };
    const sibling = rest[0];
    return sibling ? { other: sibling, otherKind: 'sibling VF' } : { other: null, otherKind: null };
  };
  for (const bdf of onVfio) {
    const vendor = Number(r.maybe(devicePath(bdf, 'vendor')));
    const device = Number(r.maybe(devicePath(bdf, 'device')));
    const known = MEMORY_BARS.find((m) => m.vendor === vendor && m.device === device);
    if (!known) continue;
    const bar = barsOf(r, bdf).std.find((b) => b.index === known.bar);
    if (!bar || bar.size < 4n * PAGE || (bar.kind !== 'mem32' && bar.kind !== 'mem64')) continue;
    const importer = physfnOf(fs, bdf);
    return {
      exporter: bdf,
      importer,
      bar,
      memory: known.what,
      ...other(bdf, importer),
      how: `${bdf} (${known.what}, BAR ${known.bar}) on vfio-pci`,
    };
  }
  if (vf && onVfio.includes(vf.bdf)) {
    const bar = exportBar(vf);
    if (!bar) return null;
    const importer = physfnOf(fs, vf.bdf);
    const lmem = lmemBar(vf);
    return {
      exporter: vf.bdf,
      importer,
      bar,
      memory: lmem && lmem.index === bar.index ? "the VF's LMEM BAR" : null,
      ...other(vf.bdf, importer),
      how: `the run's VF ${vf.bdf}, BAR ${bar.index}`,
    };
  }
  return null;
}

/** How to get the stand-in importer loaded, for a skip that lacks it. */
const LOAD_STAND_IN =
  'build kernel/iovh-ic-importer against this kernel and insmod it (kernel/iovh-ic-importer/README.md); `iovh qemu` does both';

/** How to replace a stand-in importer built from another iovh. */
const RELOAD_STAND_IN =
  "rmmod iovh_ic_importer, build this iovh's kernel/iovh-ic-importer against this kernel and insmod it (kernel/iovh-ic-importer/README.md); `iovh qemu` builds the module from this iovh and loads it";

/**
 * Open the stand-in importer (/dev/iovh-ic) for a scenario, closed by its
 * cleanup stack, or skip when the module is not loaded (ENOENT, ENODEV,
 * ENXIO): `why` says so given the errno (or `role`, what the scenario needs
 * it for, follows the usual reason), `enable` how to load it. Also skip
 * when the loaded module was built from another iovh (another ABI version
 * of core/uapi/iovh_ic.h): a stale module is a capability this machine
 * lacks until it is rebuilt, not a wrong answer of the kernel. With
 * `series`, also skip when it was built without the IOV interconnect series
 * on a kernel that has it (its IOV ioctls would not be there).
 */
export function openStandIn(
  ctx: ScenarioContext,
  o: { why?: (code: string) => string; role?: string; enable?: string; series?: boolean } = {},
): StandInImporter {
  let ic: StandInImporter;
  try {
    ic = StandInImporter.open(ctx.backend);
  } catch (e) {
    if (e instanceof SystemError && (e.code === 'ENOENT' || e.code === 'ENODEV' || e.code === 'ENXIO'))
      ctx.skip(
        'standIn',
        o.why?.(e.code) ??
          `the stand-in importer module is not loaded (${e.code} opening ${IOVH_IC.DEVICE})${o.role ? `: ${o.role}` : ''}`,
        o.enable ?? LOAD_STAND_IN,
      );
    if (e instanceof IcAbiMismatch)
      ctx.skip(
        'standIn',
        `the stand-in importer module was built from another iovh: its ${IOVH_IC.DEVICE} speaks ABI ${e.moduleAbi} of core/uapi/iovh_ic.h, this iovh ABI ${IOVH_IC.ABI_VERSION}`,
        RELOAD_STAND_IN,
      );
    throw e;
  }
  ctx.defer(`close ${IOVH_IC.DEVICE}`, () => ic.close());
  if (o.series && ic.api === 'none')
    ctx.skip(
      'standIn',
      `the stand-in importer was built without the series, but this kernel has it (${ctx.caps.shape.summary})`,
      'rebuild kernel/iovh-ic-importer against this kernel and load it again',
    );
  return ic;
}

/**
 * Open the stand-in importer for a scenario (closed by the cleanup stack), or
 * skip: the module not loaded, or built without the series (the kernel's
 * shape named), or nothing on vfio-pci to export from.
 */
export function requireStandIn(ctx: ScenarioContext): { ic: StandInImporter; target: StandInTarget } {
  // The kernel's shape first: on a kernel without the series this names it, as every IOV scenario's skip does.
  requireCaps(ctx, 'interconnect');
  const ic = openStandIn(ctx, { series: true });
  const target = findStandInTarget(ctx.backend, ctx.target?.vf ?? null);
  if (!target)
    ctx.skip(
      'target',
      'no PCI function is bound to vfio-pci with a memory BAR of at least 4 pages to export',
      "bind QEMU's ivshmem-plain (or an SR-IOV VF) to vfio-pci",
    );
  ctx.record('standIn', {
    api: ic.api,
    keep: ic.version.keep === 0 ? 'leak (rfc-v1 xe)' : 'unmap',
    exporter: target.exporter,
    importer: target.importer,
    bar: target.bar.index,
    memory: target.memory,
  });
  return { ic, target };
}
