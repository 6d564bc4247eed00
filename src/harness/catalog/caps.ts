// caps/kernel: the capability probe, run first. The runner probes (so that
// every scenario has the answers, even under --filter); this scenario
// reports what was found and fails only when the probe itself broke.

import type { Scenario, ScenarioContext } from '../scenario.js';
import type { CapabilityName } from '../caps.js';

export const capsKernel: Scenario = {
  id: 'caps/kernel',
  title: 'capability probe',
  description:
    'Probes what this kernel and machine offer before anything else runs: the kernel release, the PF and VF under test (a VF bound ' +
    'to vfio-pci), the VFIO_DEVICE_FEATURE DMA_BUF PROBE on that VF, the interconnect symbols in /proc/kallsyms (one row per RFC ' +
    'revision), the scatter-gather probe symbols, the VRAM provisioning interface (sysfs sriov_admin, debugfs tile, or legacy ' +
    'lmem_quota), the IOMMU mode, tracefs and whether the kernel takes a kprobe from us (one is defined on a function of the probe table and removed: lockdown refuses it), kmemleak, /dev/kmsg, dma-buf bufinfo, the xe PF render node, vgem and udmabuf. ' +
    'Every later skip cites one of these capabilities and says how to get it. It opens the VF only for the PROBE and closes it again.',
  expectedPath: null,
  async run(ctx: ScenarioContext) {
    const left = ctx.caps.left ?? [];
    if (left.length > 0) {
      ctx.record('notRestored', left);
      ctx.fail(`the capability probe could not be restored: ${left.join('; ')}`);
    }
    const missing = (Object.entries(ctx.caps.caps) as [CapabilityName, { ok: boolean }][])
      .filter(([, c]) => !c.ok)
      .map(([n]) => n);
    const present = Object.keys(ctx.caps.caps).length - missing.length;
    ctx.note(
      `kernel ${ctx.caps.release ?? 'unknown'}; ${present} capabilities present${missing.length > 0 ? `, missing: ${missing.join(', ')}` : ''}` +
        `; interconnect ${ctx.caps.symbols.revision?.name ?? 'absent'}`,
    );
  },
};
