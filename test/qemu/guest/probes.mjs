// @ts-check
// What the guest's tracefs rules (rules.mjs, rules-more.mjs) each set up the
// same way: a kprobe group of the rule's own on kprobe_events
// (kernel/trace/trace_kprobe.c), an instance of the same name
// (kernel/trace/trace.c instance_mkdir), and the dma-buf exports that fire a
// probe on dma_buf_export (drivers/vfio/pci/vfio_pci_dmabuf.c).

const PAGE = 4096;
const T = '/sys/kernel/tracing';

/** @typedef {import('./rule-table.mjs').Ctx} Ctx */

/** Why the tracefs rules skip on this kernel (no kprobe_events), or null. @param {Ctx} ctx */
export function kprobesMissing(ctx) {
  return ctx.backend.fs.exists(`${T}/kprobe_events`) ? null : 'no kprobe_events (tracefs)';
}

/**
 * The rule's kprobe group `iovh_<name>_<pid>` (its own, so that a rule's
 * leftovers never meet another's), `def` appending one line to kprobe_events
 * (a definition, or `-:GROUP/EVENT` to remove one), and `inst`, the path of
 * the instance of the group's name (made and removed by the rule).
 * @param {Ctx} ctx @param {string} name
 */
export function kprobeGroup(ctx, name) {
  const g = `iovh_${name}_${process.pid}`;
  return {
    g,
    def: (/** @type {string} */ s) => ctx.backend.fs.writeFile(`${T}/kprobe_events`, s, { append: true }),
    inst: `${T}/instances/${g}`,
  };
}

/**
 * `times` calls of dma_buf_export: exports of the first page of the VF's
 * first BAR of a page or more, each closed at once, on a VFIO device opened
 * for them and closed after.
 * @param {Ctx} ctx @param {number} [times]
 */
export function fireExports(ctx, times = 1) {
  const device = ctx.lib.vfio.openVfioDevice(ctx.backend, ctx.vf, { access: 'group' });
  try {
    const bar = [0, 1, 2, 3, 4, 5].find((i) => device.regionInfo(i).size >= BigInt(PAGE));
    for (let i = 0; i < times; i++)
      device.exportDmaBuf({ region: /** @type {number} */ (bar), ranges: [{ offset: 0, length: PAGE }] }).close();
  } finally {
    device.close();
  }
}
