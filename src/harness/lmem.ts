// Where a VF's LMEM lies in VRAM, seen from the PF: the layout of the VF's
// LMEM object over a span of its BAR 2, so that a scenario knows whether a
// range crosses a block boundary of the object before it judges a
// translation that assumes there is none (RFC quirk 8, see
// docs/internals.md "edge/lmem-discontiguous").
//
// VF BAR 2 offset X is the VF's LMEM offset X, which the LMTT maps to the
// VRAM address (DPA) of the object's page there (docs/kernel.md §9); the PF's own
// BAR 2 is a window onto VRAM, offset D being DPA D. So a word the CPU writes
// through the VF's BAR at X can be found through the PF's BAR at DPA(X). The
// object is made of 2 MiB-aligned blocks (xe allocates a VF's LMEM with
// XE_BO_FLAG_NEEDS_2M, drivers/gpu/drm/xe/xe_gt_sriov_pf_config.c), so DPA(X)
// and X agree modulo 2 MiB and the search for X needs one read per 2 MiB of
// the window. The PF's BAR is mapped read-only through its sysfs resource2
// file (drivers/pci/pci-sysfs.c pci_mmap_resource: root, and refused under
// kernel lockdown). Nothing is written but the VF's own LMEM.

import type { Mapping } from '../backend/types.js';
import { O, PROT } from '../uapi/constants.js';
import { patternWord } from '../uapi/pattern.js';
import type { BarAccess } from './data.js';
import { devicePath } from '../machine/sysfs.js';
import type { PfInfo } from '../machine/topology.js';
import type { ScenarioContext } from './scenario.js';
import { codeOf } from './monitors.js';

const BLOCK = 2n << 20n;

export interface LmemLayout {
  /** The VRAM address of the span's first byte. */
  dpa: bigint;
  /** The probed VF offsets whose VRAM address is not the first's + the distance: past a block boundary of the object. */
  breaks: bigint[];
  /** Reads of the PF's window the search took. */
  reads: number;
}

function readWord(map: Mapping, at: bigint): bigint {
  const b = map.read(Number(at), 8);
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/**
 * The layout of the VF's LMEM over `offsets` (VF BAR 2 offsets, the first is
 * the span's start), or why it cannot be seen. Each offset's first 8 bytes
 * are overwritten with a word of the pattern of `seed`; callers write their
 * own data afterwards.
 */
export function probeLmemLayout(
  ctx: ScenarioContext,
  pf: PfInfo,
  vfBar: BarAccess,
  offsets: readonly bigint[],
  seed: bigint,
): { layout: LmemLayout } | { why: string } {
  const window = pf.bars.find((b) => b.index === 2 && (b.kind === 'mem64' || b.kind === 'mem32'));
  if (!window) return { why: `PF ${pf.bdf} has no memory BAR 2 (no VRAM window)` };
  const path = devicePath(pf.bdf, 'resource2');
  let fd: number;
  try {
    fd = ctx.backend.dev.open(path, O.RDONLY | O.CLOEXEC);
  } catch (e) {
    return { why: `cannot open ${path} (${codeOf(e)})` };
  }
  ctx.defer(`close ${path}`, () => ctx.backend.dev.close(fd));
  let map: Mapping;
  try {
    map = ctx.backend.dev.mmap(fd, 0n, Number(window.size), PROT.READ);
  } catch (e) {
    return { why: `cannot map ${path} (${codeOf(e)}: root, and no kernel lockdown, are needed)` };
  }
  ctx.defer(`munmap ${path}`, () => map.unmap());
  for (const x of offsets) vfBar.fill(x, 8, seed, x);
  const start = offsets[0]!;
  const first = patternWord(seed, start);
  let reads = 0;
  let dpa: bigint | null = null;
  for (let d = start % BLOCK; d + 8n <= window.size; d += BLOCK) {
    reads++;
    if (readWord(map, d) === first) {
      dpa = d;
      break;
    }
  }
  if (dpa === null)
    return {
      why: `the word written at VF BAR 2 offset 0x${start.toString(16)} is nowhere in PF ${pf.bdf}'s BAR 2 window (${window.size} bytes: smaller than VRAM, or the VF's LMEM is not where the LMTT should put it)`,
    };
  const breaks: bigint[] = [];
  for (const x of offsets.slice(1)) {
    const at = dpa + (x - start);
    reads++;
    if (at + 8n > window.size || readWord(map, at) !== patternWord(seed, x)) breaks.push(x);
  }
  return { layout: { dpa, breaks, reads } };
}
