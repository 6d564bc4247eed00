// data/*: bytes through both paths (docs/internals.md "Principles": data). These hold
// on any kernel that imports the VF's LMEM at all: through the IOV path or
// through ordinary P2P the PF's GPU must see the VF's bytes at the right
// offsets. The path is recorded (when tracefs can tell) but not required:
// the import/* scenarios require iov.

import type { Scenario, ScenarioContext } from '../scenario.js';
import { barAccess, cpuWriteGpuRead, describeMismatch, gpuWriteCpuRead, rangePages, type DataCheck } from '../data.js';
import { Gpu, type Bound } from '../gpu.js';
import { importAndBind, requireImport } from '../imports.js';
import { exportDmaBuf, openVf, PAGE, rangesJson, startTrace, totalLength } from '../steps.js';
import { lmemSpan } from './import.js';
import type { BarAccess } from '../data.js';

/** Two ranges of power-of-two pages (quirk 7 is edge/npot-ranges' business), far apart in BAR 2. */
const RANGES = [
  { offset: 0n, length: 8n * PAGE },
  { offset: 64n * PAGE, length: 4n * PAGE },
];

async function withImport(
  ctx: ScenarioContext,
  direction: (gpu: Gpu, bar: BarAccess, bound: Bound) => Promise<DataCheck>,
): Promise<void> {
  requireImport(ctx);
  const vf = ctx.target!.vf;
  if (lmemSpan(vf) < 68n * PAGE)
    ctx.skip(
      'provisioning',
      `VF ${vf.bdf} has ${lmemSpan(vf)} bytes of LMEM, 68 pages needed`,
      `iovh provision <PF> --vf ${vf.id} --vram 64M`,
    );
  const gpu = Gpu.open(ctx);
  const trace = startTrace(ctx);
  const device = openVf(ctx, vf.bdf);
  const buf = exportDmaBuf(ctx, device, { region: 2, ranges: RANGES });
  ctx.record('ranges', rangesJson(RANGES));
  const imp = importAndBind(ctx, gpu, trace, buf, totalLength(RANGES), `VF ${vf.bdf}`);
  ctx.setPath(imp.verdict.path);
  if (!imp.bound) {
    ctx.fail(`the import was refused (${imp.verdict.why}): no data path to check`);
    return;
  }
  const check = await direction(gpu, barAccess(ctx, device, 2), imp.bound);
  if (ctx.check(check.ok, describeMismatch(check)))
    ctx.note(`${check.pages.length} pages verified (${check.method}), path ${imp.verdict.path}`);
}

export const dataGpuWriteCpuRead: Scenario = {
  id: 'data/gpu-write-cpu-read',
  title: 'GPU writes, CPU reads',
  description:
    "Imports two ranges of the VF's LMEM into the PF's xe, has the GPU write the seeded, address-dependent pattern with " +
    'MI_STORE_DATA_IMM into the first and last page of each range through the import, and reads them back with the CPU through ' +
    "the VF's BAR 2 via VFIO. Each word must be the one for its VF LMEM offset: bytes at the wrong offset, in another VF, or left " +
    'over from an earlier run do not verify.',
  expectedPath: null,
  run: (ctx) => withImport(ctx, (gpu, bar, bound) => gpuWriteCpuRead(ctx, gpu, bar, bound, rangePages(RANGES))),
};

export const dataCpuWriteGpuRead: Scenario = {
  id: 'data/cpu-write-gpu-read',
  title: 'CPU writes, GPU reads',
  description:
    "The other direction: the CPU writes the pattern through the VF's BAR 2 (VFIO), the GPU copies the first and last page of each " +
    'imported range with MI_COPY_MEM_MEM into a PF system-memory buffer, and the CPU verifies that buffer against the pattern of ' +
    'the LMEM offsets the pages came from.',
  expectedPath: null,
  run: (ctx) => withImport(ctx, (gpu, bar, bound) => cpuWriteGpuRead(ctx, gpu, bar, bound, rangePages(RANGES))),
};

export const dataScenarios: Scenario[] = [dataGpuWriteCpuRead, dataCpuWriteGpuRead];
