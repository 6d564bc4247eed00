// leak/*: what repeated use leaves behind, in the kernel (kmemleak) and in
// our own process (fds, dma-buf objects).

import type { Json } from '../../report/model.js';
import { openVfioDevice, VfioSetupError, type VfioDevice } from '../../uapi/vfio.js';
import { Gpu } from '../gpu.js';
import { importAndBind, requireImport } from '../imports.js';
import { describeBuffer, KmemleakMonitor, kmemleakFailure, openKernelFds, readBufinfo } from '../monitors.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { exportDmaBuf, openVf, PAGE, requireCaps, requireExportBar, requireTarget, startTrace } from '../steps.js';
import { lmemSpan } from './import.js';

const ROUNDS = 8;

export const leakMapRanges: Scenario = {
  id: 'leak/map-ranges',
  title: 'kmemleak over repeated import and bind',
  description:
    `Imports, binds and releases a VF dma-buf ${ROUNDS} times and asks kmemleak (two scans after its minimum object age: a new ` +
    'object is gray until the scan after the one that first sees it, mm/kmemleak.c) what is ' +
    'left unreferenced. Nothing may leak. RFC v1 keeps only the translated array after a successful IOV map and never unmaps ' +
    "the core's range container (rfc-model quirk 6): one leaked object per map, and dma_buf_unmap_interconnect never reached, " +
    'which the trace shows when tracefs is there.',
  expectedPath: null,
  kmemleak: true,
  async run(ctx: ScenarioContext) {
    requireImport(ctx);
    requireCaps(ctx, 'kmemleak');
    const vf = ctx.target!.vf;
    if (lmemSpan(vf) < PAGE)
      ctx.skip(
        'provisioning',
        `VF ${vf.bdf} has no LMEM provisioned`,
        `iovh provision <PF> --vf ${vf.index + 1} --vram 64M`,
      );
    const gpu = Gpu.open(ctx);
    const trace = startTrace(ctx);
    const device = openVf(ctx, vf.bdf);
    const kmemleak = KmemleakMonitor.open(ctx.backend.fs);
    try {
      kmemleak.begin();
    } catch (e) {
      const failure = kmemleakFailure(e);
      if (failure.disabled)
        ctx.skip(
          'kmemleak',
          failure.why,
          'boot with kmemleak=on (CONFIG_DEBUG_KMEMLEAK=y); a kmemleak that turned itself off comes back only with a reboot',
        );
      throw e;
    }
    let maps = 0;
    let unmaps = 0;
    const paths: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ctx.abortIfStopped();
      const buf = exportDmaBuf(ctx, device, { region: 2, ranges: [{ offset: 0n, length: PAGE }] });
      const imp = importAndBind(ctx, gpu, trace, buf, PAGE, `round ${i + 1}`);
      paths.push(imp.verdict.path);
      ctx.setPath(imp.verdict.path);
      maps += imp.hits.filter((h) => h.key === 'mapInterconnect').length;
      imp.bound?.release();
      imp.handle?.close();
      buf.close();
      if (trace) unmaps += trace.hits().filter((h) => h.key === 'unmapInterconnect').length;
    }
    await ctx.sleep(ctx.timing.kmemleakAgeMs);
    const leaked = kmemleak.end();
    ctx.record('rounds', ROUNDS);
    ctx.record('interconnectMaps', trace ? maps : null);
    ctx.record('interconnectUnmaps', trace ? unmaps : null);
    ctx.record('kmemleak', { newObjects: leaked.length, excerpt: leaked.slice(0, 4).map((b) => b.join(' | ')) });
    if (leaked.length === 0) {
      ctx.check(
        !trace || unmaps === maps,
        `${maps} interconnect maps but ${unmaps} unmaps, although kmemleak saw nothing`,
      );
      ctx.note(
        `${ROUNDS} rounds (${[...new Set(paths)].join(', ')}), nothing left unreferenced${trace && maps > 0 ? `, ${maps} interconnect maps and as many unmaps` : ''}`,
      );
      return;
    }
    if (maps > 0 && unmaps === 0) {
      ctx.quirk(
        'ranges-leak',
        `${ROUNDS} rounds made ${maps} interconnect maps; dma_buf_unmap_interconnect was never reached and kmemleak reports ${leaked.length} new unreferenced objects (first: ${leaked[0]![0]})`,
      );
    } else {
      ctx.fail(
        `kmemleak reports ${leaked.length} new unreferenced objects after ${ROUNDS} rounds (first: ${leaked[0]![0]})`,
      );
    }
  },
};

export const leakFdsAndBuffers: Scenario = {
  id: 'leak/fds-and-buffers',
  title: 'fds and dma-buf objects over repeated cycles',
  description:
    `Runs the whole cycle ${ROUNDS} times: open the VF through VFIO, export, import and bind into xe (when there is one), ` +
    'release, close. After each round our open fds on kernel objects (/proc/self/fd: VFIO, DRM, dma-buf) and the dma-buf objects ' +
    'in debugfs bufinfo must be back to what they were before the first. Anything left is listed by fd target and by buffer.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport');
    const bar = requireExportBar(ctx, target.vf);
    const gpu = ctx.caps.caps.xe.ok && bar.index === 2 ? Gpu.open(ctx) : null;
    const fs = ctx.backend.fs;
    const fds0 = openKernelFds(fs);
    const bufs0 = readBufinfo(fs);
    const rounds: Json[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ctx.abortIfStopped();
      let device: VfioDevice;
      try {
        device = openVfioDevice(ctx.backend, target.vf.bdf);
      } catch (e) {
        if (e instanceof VfioSetupError)
          ctx.skip(
            'target',
            `round ${i + 1}: cannot open ${target.vf.bdf} through VFIO: ${e.message}`,
            'free the VF and bind it to vfio-pci',
          );
        throw e;
      }
      ctx.defer(`close VFIO device (round ${i + 1})`, () => device.close());
      const buf = device.exportDmaBuf({ region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
      ctx.defer(`close dma-buf (round ${i + 1})`, () => buf.close());
      if (gpu) {
        const imp = importAndBind(ctx, gpu, null, buf, PAGE, `round ${i + 1}`);
        imp.bound?.release();
        imp.handle?.close();
      }
      buf.close();
      device.close();
      const fds = openKernelFds(fs);
      const bufs = readBufinfo(fs);
      const extraFds = [...fds].filter(([fd, t]) => fds0.get(fd) !== t).map(([fd, t]) => `fd ${fd} -> ${t}`);
      const extraBufs = bufs && bufs0 ? [...bufs.values()].filter((o) => !bufs0.has(o.ino)).map(describeBuffer) : [];
      rounds.push({ round: i + 1, fds: fds.size, dmabufs: bufs ? bufs.size : null });
      if (extraFds.length > 0 || extraBufs.length > 0) {
        ctx.fail(`after round ${i + 1}: ${[...extraFds, ...extraBufs].join('; ')} left behind`);
        break;
      }
    }
    ctx.record('rounds', rounds);
    ctx.record('bufinfo', bufs0 ? 'checked' : 'unavailable (no debugfs): fds only');
    if (ctx.failures.length === 0)
      ctx.note(
        `${ROUNDS} rounds${gpu ? ' with xe imports' : ''}: fds${bufs0 ? ' and dma-buf objects' : ''} back to where they started each time`,
      );
  },
};

export const leakScenarios: Scenario[] = [leakMapRanges, leakFdsAndBuffers];
