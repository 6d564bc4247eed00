// import/p2p-route: which route the P2P map of a VFIO dma-buf takes, per
// importer device, with the PCI path between the two (docs/bugs.md is not
// involved: this is the p2pdma decision every P2P import goes through).
//
// vfio_pci_dma_buf_map -> dma_buf_phys_vec_to_sgt asks pci_p2pdma_map_type
// (drivers/pci/p2pdma.c) how the provider (the exporting function) reaches
// the importer's device; calc_map_type_and_dist walks both upstream: a common
// upstream bridge with no ACS redirection on the way is PCI_P2PDMA_MAP_BUS_ADDR
// (the same function is distance 0; two devices below one PCIe switch meet at
// its upstream port), anything else goes through the host bridge, allowed only
// on a whitelisted host bridge or an AMD Zen CPU (PCI_P2PDMA_MAP_THRU_HOST_BRIDGE),
// else PCI_P2PDMA_MAP_NOT_SUPPORTED and the map fails with EINVAL. The answer is
// read with a return probe on pci_p2pdma_map_type (P2P_ROUTE_PROBE), so no GPU
// is needed: iovh's stand-in importer maps the dma-buf for each device asked.
// The same ACS that routes a VF's P2P with its PF through the host bridge gives
// the VF an IOMMU group of its own (docs/topology.md "Bridges and ACS"): behind
// QEMU's xio3130 switch (no ACS) the PF and its other VF are reached by bus
// address, but the VFs share the PF's group, so the PF must be on vfio-pci for
// VFIO to open a VF, and then the VF opens only with the PF's VF token
// (openVfioDevice passes the run's; docs/kernels.md "The switch machine").

import { basename } from 'node:path';
import { SystemError } from '../../uapi/errors.js';
import { IOVH_IC } from '../../uapi/iovh-ic.js';
import { PCI_DEVICES } from '../../machine/sysfs.js';
import { classifyPath } from '../path.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import {
  armedKeys,
  exportDmaBuf,
  openVf,
  PAGE,
  requireCaps,
  requireExportBar,
  requirePathTrace,
  requireTarget,
} from '../steps.js';
import { openStandIn, physfnOf } from '../standin.js';
import { vfioPfOf } from '../../uapi/vfio.js';

/** The chain of PCI functions from the root bus down to `bdf` (its sysfs device path), `bdf` last. */
function pciChain(ctx: ScenarioContext, bdf: string): string[] {
  try {
    const target = ctx.backend.fs.readlink(`${PCI_DEVICES}/${bdf}`);
    return target.split('/').filter((p) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(p));
  } catch {
    return [bdf];
  }
}

/** provider -> ... -> common ancestor -> ... -> client, as calc_map_type_and_dist walks it. */
function pathBetween(ctx: ScenarioContext, provider: string, client: string): string {
  if (provider === client) return `${provider} (the same function)`;
  const a = pciChain(ctx, provider);
  const b = pciChain(ctx, client);
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  const up = a.slice(common).reverse();
  const down = b.slice(common);
  const meet = common > 0 ? a[common - 1]! : 'the host bridge';
  return [...up, meet, ...down].join(' -> ');
}

/** Another VF of the PF (its first virtfnN that is not `vf`), or null. */
function siblingVf(ctx: ScenarioContext, pf: string, vf: string): string | null {
  let names: string[];
  try {
    names = ctx.backend.fs.readdir(`${PCI_DEVICES}/${pf}`).filter((n) => /^virtfn\d+$/.test(n));
  } catch {
    return null;
  }
  names.sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
  for (const n of names) {
    try {
      const bdf = basename(ctx.backend.fs.readlink(`${PCI_DEVICES}/${pf}/${n}`));
      if (bdf !== vf) return bdf;
    } catch {
      // a VF going away: the next
    }
  }
  return null;
}

/** A device on the root bus that is neither on the provider's chain nor a bridge: the far importer. */
function farDevice(ctx: ScenarioContext, provider: string): string | null {
  const chain = new Set(pciChain(ctx, provider));
  let all: string[];
  try {
    all = ctx.backend.fs.readdir(PCI_DEVICES).sort();
  } catch {
    return null;
  }
  for (const d of all) {
    if (chain.has(d)) continue;
    const parent = pciChain(ctx, d);
    if (parent.length !== 1) continue; // on the root bus
    let klass = '';
    try {
      klass = ctx.backend.fs.readText(`${PCI_DEVICES}/${d}/class`).trim();
    } catch {
      continue;
    }
    // 0x0600xx host bridge, 0x0604xx PCI bridge: not a DMA client; the rest will do.
    if (/^0x06/.test(klass)) continue;
    return d;
  }
  return null;
}

export const importP2pRoute: Scenario = {
  id: 'import/p2p-route',
  title: "the P2P map's route to each importer device, with the PCI path",
  description:
    "Exports a page of the VF's BAR and maps it with iovh's stand-in importer (plain P2P: IOVH_IC_IMPORT_P2P | REVOCABLE) for " +
    'each importer device in turn: the VF itself, its PF, another VF of that PF, and a device on the root bus outside its ' +
    "hierarchy (those the machine has). With the PF on vfio-pci the VF is opened with the run's VF token. For each, a return " +
    "probe on pci_p2pdma_map_type (drivers/pci/p2pdma.c) gives the route the kernel chose: 'bus address' (a common upstream " +
    "bridge with no ACS redirection: the same function, or two functions below one PCIe switch), 'host bridge' (a whitelisted " +
    "host bridge or an AMD Zen CPU) or 'not supported', reported with the PCI path between the two. The map must agree with the " +
    'route: mapped for a bus address or the host bridge, EINVAL when not supported. Needs the stand-in module, tracefs and kprobes.',
  expectedPath: 'p2p',
  async run(ctx: ScenarioContext) {
    const target = requireTarget(ctx);
    requireCaps(ctx, 'dmaBufExport');
    const vf = target.vf;
    const bar = requireExportBar(ctx, vf);
    const ic = openStandIn(ctx, { role: 'it maps for any importer device' });
    const trace = requirePathTrace(ctx);
    if (!armedKeys(trace).has('p2pRoute'))
      ctx.skip(
        'kprobes',
        `the return probe on pci_p2pdma_map_type could not be armed (${trace.unavailable.find((u) => u.point.key === 'p2pRoute')?.why ?? 'unknown'})`,
        'a kernel with CONFIG_KPROBES and pci_p2pdma_map_type in /proc/kallsyms',
      );
    const device = openVf(ctx, vf.bdf);
    const buf = exportDmaBuf(ctx, device, { region: bar.index, ranges: [{ offset: 0n, length: PAGE }] });
    const pf = physfnOf(ctx.backend.fs, vf.bdf);
    const far = farDevice(ctx, vf.bdf);
    const sibling = pf !== vf.bdf ? siblingVf(ctx, pf, vf.bdf) : null;
    const clients: { role: string; bdf: string }[] = [
      { role: 'the VF itself', bdf: vf.bdf },
      ...(pf !== vf.bdf ? [{ role: 'its PF', bdf: pf }] : []),
      ...(sibling ? [{ role: 'another VF of its PF', bdf: sibling }] : []),
      ...(far ? [{ role: 'a device on the root bus', bdf: far }] : []),
    ];
    const tokenPf = vfioPfOf(ctx.backend, vf.bdf);
    if (tokenPf) ctx.evidence.vfToken = `PF ${tokenPf} is on vfio-pci: the VF was opened with the run's VF token`;
    const lines: string[] = [];
    for (const c of clients) {
      trace.clear();
      const imp = ic.import(buf.fd, {
        importer: c.bdf,
        bar: bar.index,
        flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE,
      });
      let code: string | null = null;
      try {
        imp.map();
      } catch (e) {
        if (!(e instanceof SystemError)) throw e;
        code = e.code;
      } finally {
        imp.release();
      }
      const read = trace.read();
      const verdict = classifyPath({
        refused: code ? { step: 'map', code } : null,
        hits: read.hits,
        armed: armedKeys(trace),
        lost: read.lost,
      });
      const path = pathBetween(ctx, vf.bdf, c.bdf);
      const route = verdict.route;
      ctx.append('routes', { importer: c.bdf, role: c.role, route, map: code ?? 'mapped', path });
      const said = route === null ? 'no decision seen' : `p2p (${route})`;
      lines.push(`${c.role} ${basename(c.bdf)}: ${said}, map ${code ?? 'ok'}; path ${path}`);
      if (route === null) {
        ctx.check(
          read.lost > 0,
          `no pci_p2pdma_map_type decision was traced for importer ${c.bdf} (map ${code ?? 'ok'})`,
        );
        continue;
      }
      const mapped = route === 'bus address' || route === 'host bridge';
      ctx.check(
        mapped ? code === null : code === 'EINVAL',
        `importer ${c.bdf}: route ${route} but the map ${code === null ? 'succeeded' : `failed with ${code}`} (expected ${mapped ? 'a mapping' : 'EINVAL'})`,
      );
    }
    const routes = (ctx.evidence.routes as { map: string }[] | undefined) ?? [];
    ctx.setPath(routes.some((r) => r.map === 'mapped') ? 'p2p' : 'refused');
    ctx.note(
      `${lines.join('; ')}${tokenPf ? `; VF opened with the VF token of PF ${basename(tokenPf)} (on vfio-pci)` : ''}`,
    );
  },
};
