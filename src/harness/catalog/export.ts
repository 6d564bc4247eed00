// export/*: the exporter side alone, VFIO_DEVICE_FEATURE DMA_BUF on the VF
// (docs/kernel.md §3). These need no xe: they run on any VF bound to vfio-pci,
// an xe VF's LMEM BAR 2 or an emulated igb/nvme VF's BAR 0 in QEMU.

import { parseDmaBufFdinfo } from '../../uapi/fdinfo.js';
import { DMA_BUF, O, PROT } from '../../uapi/constants.js';
import { BAD_EXPORTS, sendBadExport } from '../../uapi/bad-exports.js';
import type { DmaRange, VfioDevice } from '../../uapi/vfio.js';
import { hex, type Json } from '../../report/model.js';
import { readBufinfo } from '../monitors.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  errnoOf,
  exportDmaBuf,
  openVf,
  PAGE,
  rangesJson,
  requireCaps,
  requireExportBar,
  requireTarget,
  totalLength,
} from '../steps.js';
import type { Bar } from '../../machine/topology.js';

interface Setup {
  device: VfioDevice;
  bar: Bar;
}

function setup(ctx: ScenarioContext): Setup {
  const target = requireTarget(ctx);
  requireCaps(ctx, 'dmaBufExport');
  const bar = requireExportBar(ctx, target.vf);
  const device = openVf(ctx, target.vf.bdf);
  ctx.record('vf', target.vf.bdf);
  ctx.record('region', bar.index);
  ctx.record('barSize', hex(bar.size));
  return { device, bar };
}

/**
 * Export `ranges` and check what every exporter promises: a positive fd whose
 * fdinfo says `exp_name: vfio_pci_core` and `size` = the sum of the lengths
 * (docs/kernel.md §3.3, §10), and a bufinfo entry with the same inode while it
 * is open that disappears when it is closed (when debugfs is there).
 */
function exportAndCheck(ctx: ScenarioContext, s: Setup, ranges: DmaRange[]): void {
  const buf = exportDmaBuf(ctx, s.device, { region: s.bar.index, ranges });
  const size = totalLength(ranges);
  const info = buf.fdinfo();
  ctx.record('export', {
    fd: buf.fd,
    ranges: rangesJson(ranges),
    fdinfo: { size: info.size.toString(), exp_name: info.expName, count: info.count, ino: info.ino },
  });
  ctx.check(buf.fd >= 0, `the export returned fd ${buf.fd}`);
  ctx.check(
    info.expName === 'vfio_pci_core',
    `fdinfo exp_name is '${info.expName}', expected 'vfio_pci_core' (docs/kernel.md §3.3)`,
  );
  ctx.check(info.size === size, `fdinfo size is ${info.size}, expected ${size} (the sum of the range lengths)`);
  const before = readBufinfo(ctx.backend.fs);
  if (before) {
    const entry = before.get(info.ino);
    if (ctx.check(entry !== undefined, `no bufinfo entry for inode ${info.ino}`) && entry) {
      ctx.check(
        entry.size === size && entry.expName === 'vfio_pci_core',
        `bufinfo says ${entry.expName}, ${entry.size} bytes; expected vfio_pci_core, ${size}`,
      );
    }
  }
  buf.close();
  const after = readBufinfo(ctx.backend.fs);
  if (after)
    ctx.check(!after.has(info.ino), `the bufinfo entry of inode ${info.ino} outlived the last close of its fd`);
  ctx.note(
    `exported ${ranges.length} range${ranges.length > 1 ? 's' : ''} of BAR ${s.bar.index} (${size} bytes): fd, fdinfo${before ? ' and bufinfo' : ''} agree`,
  );
}

export const exportSingleRange: Scenario = {
  id: 'export/single-range',
  title: 'export one range',
  description:
    "Exports one page at the start of the VF's LMEM BAR (BAR 2; on a VF without LMEM, its first memory BAR) with " +
    'VFIO_DEVICE_FEATURE GET|DMA_BUF and checks the new fd: fdinfo names the exporter vfio_pci_core and gives the size, ' +
    'debugfs dma_buf/bufinfo lists the object under the same inode while the fd is open, and the object is gone once the fd is closed.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    exportAndCheck(ctx, s, [{ offset: 0n, length: PAGE }]);
  },
};

export const exportMultiRange: Scenario = {
  id: 'export/multi-range',
  title: 'export several ranges',
  description:
    'Exports three ranges of the same BAR in one request, out of address order and with an overlap (the kernel checks neither, ' +
    'docs/kernel.md §3.3), and checks that the dma-buf is as large as the sum of the lengths in fdinfo and bufinfo.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const n = s.bar.size / PAGE;
    if (n < 3n)
      ctx.skip('target', `BAR ${s.bar.index} has ${n} pages; three ranges need three`, 'use a VF with a larger BAR');
    // Last page, first page, then the first page again with the second: out of order and overlapping.
    const ranges = [
      { offset: (n - 1n) * PAGE, length: PAGE },
      { offset: 0n, length: PAGE },
      { offset: 0n, length: 2n * PAGE },
    ];
    exportAndCheck(ctx, s, ranges);
  },
};

export const exportWholeBar: Scenario = {
  id: 'export/whole-bar',
  title: 'export the whole BAR',
  description:
    "Exports the whole BAR in one range (on an xe VF, all of BAR 2, which may be larger than the VF's LMEM quota: vfio bounds the " +
    'request by the BAR, docs/kernel.md §3.3) and checks fd, fdinfo size and bufinfo as for one range.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    exportAndCheck(ctx, s, [{ offset: 0n, length: s.bar.size }]);
  },
};

export const exportInvalidArgs: Scenario = {
  id: 'export/invalid-args',
  title: 'invalid export requests',
  description:
    'Sends every request of the bad-export table (src/uapi/bad-exports.ts: the feature header errors of docs/kernel.md §3.1 and ' +
    "the DMA_BUF checks of §3.3, in the kernel's order) and checks that each gets the errno the kernel defines: a short argsz " +
    'or payload, unknown flag bits, GET with SET, SET, PROBE|SET, no access bit, an unknown feature, no ranges, non-zero flags, ' +
    'ROM/config/unimplemented regions, a ranges array kmalloc refuses, empty or unaligned ranges, lengths whose sum overflows or ' +
    'sets bit 63, an offset that overflows, a range past the end of the BAR. A request that succeeds is closed and reported as ' +
    'a failure.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    // An unimplemented BAR (size 0 in REGION_INFO), for the table's requests aimed at one.
    const empty = [0, 1, 2, 3, 4, 5].find((i) => s.device.regionInfo(i).size === 0n);
    const results: Json[] = [];
    let sent = 0;
    for (const c of BAD_EXPORTS) {
      if (c.needs === 'emptyBar' && empty === undefined) {
        results.push({ case: c.title, rule: c.rule, expected: c.errno, actual: 'not sent: every BAR is implemented' });
        continue;
      }
      const bar = c.needs === 'emptyBar' ? { index: empty!, size: 0n } : { index: s.bar.index, size: s.bar.size };
      const got = errnoOf(() => sendBadExport(s.device, c.request(bar)));
      if (got.value && typeof got.value === 'object' && 'close' in got.value) (got.value as { close(): void }).close();
      const actual = got.code ?? 'success';
      results.push({ case: c.title, rule: c.rule, expected: c.errno, actual });
      ctx.check(actual === c.errno, `${c.title}: expected ${c.errno} (${c.rule}), got ${actual}`);
      sent += 1;
    }
    ctx.record('cases', results);
    ctx.note(`${sent} invalid requests, each refused with the kernel's errno`);
  },
};

export const exportFdProperties: Scenario = {
  id: 'export/fd-properties',
  title: 'dma-buf fd properties',
  description:
    'Checks the properties of an exported dma-buf fd: fdinfo (size, a file count of at least one, exp_name vfio_pci_core, the ' +
    'name once DMA_BUF_SET_NAME set one), mmap refused with EINVAL (vfio-pci has no mmap op, docs/kernel.md §3.3), DMA_BUF_IOCTL_SYNC ' +
    'accepted, the bufinfo entry (size, O_RDWR flags, exporter, name, no attachment), and that the fd stays valid after the VFIO ' +
    'device is closed (docs/kernel.md §3.5: the buffer is revoked, not destroyed).',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const s = setup(ctx);
    const length = s.bar.size >= 4n * PAGE ? 4n * PAGE : PAGE;
    const buf = exportDmaBuf(ctx, s.device, {
      region: s.bar.index,
      ranges: [{ offset: 0n, length }],
      openFlags: O.RDWR | O.CLOEXEC,
    });
    const name = `iovh-${buf.fd}`;
    buf.setName(name);
    const info = buf.fdinfo();
    ctx.record('fdinfo', Object.fromEntries(info.fields) as Json);
    ctx.check(info.size === length, `fdinfo size ${info.size}, expected ${length}`);
    ctx.check(info.count >= 1, `fdinfo count ${info.count}, expected at least 1`);
    ctx.check(info.expName === 'vfio_pci_core', `fdinfo exp_name '${info.expName}', expected 'vfio_pci_core'`);
    ctx.check(info.name === name, `fdinfo name '${info.name}', expected '${name}' after DMA_BUF_SET_NAME`);
    const mmap = errnoOf(() => buf.mmap(Number(PAGE), PROT.READ));
    if (mmap.value && typeof mmap.value === 'object' && 'unmap' in mmap.value)
      (mmap.value as { unmap(): void }).unmap();
    ctx.record('mmap', mmap.code ?? 'success');
    ctx.check(
      mmap.code === 'EINVAL',
      `mmap of the dma-buf: expected EINVAL (no mmap op), got ${mmap.code ?? 'success'}`,
    );
    const sync = errnoOf(() => {
      buf.beginCpuAccess(DMA_BUF.SYNC_READ);
      buf.endCpuAccess(DMA_BUF.SYNC_READ);
    });
    ctx.record('sync', sync.code ?? 'ok');
    ctx.check(sync.code === null, `DMA_BUF_IOCTL_SYNC failed with ${sync.code}`);
    const bufinfo = readBufinfo(ctx.backend.fs);
    if (bufinfo) {
      const o = bufinfo.get(info.ino);
      if (ctx.check(o !== undefined, `no bufinfo entry for inode ${info.ino}`) && o) {
        ctx.record('bufinfo', {
          size: o.size.toString(),
          flags: hex(o.flags),
          count: o.count,
          exp_name: o.expName,
          name: o.name,
          attached: o.attached,
        });
        ctx.check(o.size === length, `bufinfo size ${o.size}, expected ${length}`);
        ctx.check((o.flags & 3) === O.RDWR, `bufinfo flags ${hex(o.flags)}: expected O_RDWR (docs/kernel.md §10)`);
        ctx.check(o.name === name, `bufinfo name '${o.name}', expected '${name}'`);
        ctx.check(
          o.attached.length === 0,
          `bufinfo lists attachments (${o.attached.join(', ')}) on a buffer nobody imported`,
        );
      }
    } else {
      ctx.record('bufinfo', 'unavailable (no debugfs)');
    }
    // The dma-buf outlives the VFIO device: closing the device revokes it, the fd stays (docs/kernel.md §3.5).
    s.device.close();
    const after = errnoOf(() => parseDmaBufFdinfo(ctx.backend.fs.readText(`/proc/self/fdinfo/${buf.fd}`)));
    ctx.check(after.code === null, `the dma-buf fd became unusable (${after.code}) when the VFIO device was closed`);
    ctx.note(
      `fdinfo, name, mmap EINVAL, SYNC, ${bufinfo ? 'bufinfo, ' : ''}and the fd outliving the VFIO device all as the kernel defines`,
    );
  },
};

export const exportScenarios: Scenario[] = [
  exportSingleRange,
  exportMultiRange,
  exportWholeBar,
  exportInvalidArgs,
  exportFdProperties,
];
