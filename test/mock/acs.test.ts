// One fact, the ACS of the ports above the devices, decides both a VF's IOMMU
// group (drivers/iommu/iommu.c pci_device_group) and the route of a P2P map
// between two functions (drivers/pci/p2pdma.c calc_map_type_and_dist), per
// pair of devices (src/mock/pcie.ts). A machine with the default GPU behind its
// card's switch, plus a device on the root bus, one on another port of the
// card's switch and one behind another switch; with and without ACS on the
// root and downstream ports, and with a whitelisted (Xeon, 8086:09a2) or a
// non-whitelisted (q35, 8086:29c0) host bridge. What the kernel gives, worked
// out from those functions:
//
//                         ACS, whitelisted  ACS, not whitelisted  no ACS (either host bridge)
//   VF -> itself          bus address       bus address           bus address
//   VF -> VF, VF -> PF    host bridge       not supported         bus address (meet at the downstream port)
//   VF -> same switch     host bridge       not supported         bus address (meet at the upstream port)
//   VF -> root bus        host bridge       not supported         host bridge / not supported (no common bridge)
//   VF -> other switch    host bridge       not supported         host bridge / not supported (no common bridge)
//   VF IOMMU groups       their own         their own             the PF's
import { describe, expect, it } from 'vitest';
import { IOVH_IC, StandInImporter } from '../../src/uapi/iovh-ic.js';
import type { Topology, TopologyDeviceJson } from '../../src/mock/topology.js';
import type { MockBackend } from '../../src/mock/backend.js';
import {
  closeVfio,
  errOf,
  exportBar2,
  groupOf,
  kmsg,
  mock,
  openVfio,
  PF,
  PF_DIR,
  topology,
  VF0,
  VF1,
} from './helpers.js';

const T = '/sys/kernel/tracing';
const ROOT_BUS = '0000:00:02.0';
const SAME_SWITCH = '0000:04:00.0';
const OTHER_SWITCH = '0000:07:00.0';

const endpoint = (bdf: string, parent: string, iommuGroup: number): TopologyDeviceJson => ({
  bdf,
  vendor: '0x144d',
  device: '0xa808',
  class: '0x010802',
  driver: 'nvme',
  iommuGroup,
  parent,
  bars: [],
});

function machine(acs: boolean, hostDevice: '0x09a2' | '0x29c0'): Topology {
  const port = acs ? '0x1f' : null;
  return topology((t) => {
    t.bridges = [
      { bdf: '0000:00:00.0', vendor: '0x8086', device: hostDevice },
      { bdf: '0000:00:01.0', acs: port },
      { bdf: '0000:01:00.0', acs: null },
      { bdf: '0000:02:01.0', acs: port },
      { bdf: '0000:02:02.0', acs: port },
      { bdf: '0000:00:1c.0', acs: port },
      { bdf: '0000:05:00.0', acs: null },
      { bdf: '0000:06:00.0', acs: port },
    ];
    t.devices.push(
      endpoint(ROOT_BUS, 'pci0000:00', 20),
      endpoint(SAME_SWITCH, 'pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:02.0', 21),
      endpoint(OTHER_SWITCH, 'pci0000:00/0000:00:1c.0/0000:05:00.0/0000:06:00.0', 22),
    );
  });
}

function withVfs(t: Topology): MockBackend {
  const b = mock({ topology: t });
  b.fs.writeFile(`${PF_DIR}/sriov_drivers_autoprobe`, '0');
  b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
  return b;
}

/** pci_p2pdma_map_type's answer for VF 0 as provider and `client`, as the fabric gives it to the map. */
function routeOf(b: MockBackend, client: string): number {
  const pci = b.kernel.platform.pci;
  return pci.fabric.route(pci.device(VF0)!, pci.device(client)!).type;
}

const CLIENTS = [VF0, VF1, PF, SAME_SWITCH, ROOT_BUS, OTHER_SWITCH] as const;
const BUS = 3;
const HOST = 4;
const NONE = 2;

describe('ACS on the ports decides VF IOMMU groups (pci_device_group)', () => {
  it('with ACS on the root and downstream ports each VF gets a group of its own', () => {
    const b = withVfs(machine(true, '0x09a2'));
    const pf = groupOf(b, PF);
    expect(groupOf(b, VF0)).not.toBe(pf);
    expect(groupOf(b, VF1)).not.toBe(pf);
    expect(groupOf(b, VF1)).not.toBe(groupOf(b, VF0));
  });

  it("without ACS on the card's downstream port the VFs join their PF's group", () => {
    const b = withVfs(machine(false, '0x09a2'));
    expect([groupOf(b, VF0), groupOf(b, VF1)]).toEqual([groupOf(b, PF), groupOf(b, PF)]);
  });

  it('ACS on the downstream port alone is not enough: the whole path up to the root bus must isolate', () => {
    const t = machine(true, '0x09a2');
    t.bridges!.find((x) => x.bdf === '0000:00:01.0')!.acs = null;
    const b = withVfs(t);
    expect(groupOf(b, VF0)).toBe(groupOf(b, PF));
  });
});

describe('the P2P route is derived per pair of devices (calc_map_type_and_dist)', () => {
  const cases: [string, boolean, '0x09a2' | '0x29c0', number[]][] = [
    ['ACS, whitelisted host bridge', true, '0x09a2', [BUS, HOST, HOST, HOST, HOST, HOST]],
    ['ACS, host bridge not whitelisted', true, '0x29c0', [BUS, NONE, NONE, NONE, NONE, NONE]],
    ['no ACS, whitelisted host bridge', false, '0x09a2', [BUS, BUS, BUS, BUS, HOST, HOST]],
    ['no ACS, host bridge not whitelisted', false, '0x29c0', [BUS, BUS, BUS, BUS, NONE, NONE]],
  ];
  it.each(cases)(
    '%s: VF 0 to itself, VF 1, its PF, the same switch, the root bus, another switch',
    (_n, acs, host, want) => {
      const b = withVfs(machine(acs, host));
      expect(CLIENTS.map((c) => [c, routeOf(b, c)])).toEqual(CLIENTS.map((c, i) => [c, want[i]]));
    },
  );

  it('a P2P map follows the route: the return probe sees it, a route not supported fails EINVAL with the ACS hint', () => {
    for (const [host, mapped] of [
      ['0x09a2', true],
      ['0x29c0', false],
    ] as const) {
      const b = withVfs(machine(true, host));
      b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
      b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
      const fd = exportBar2(b, openVfio(b).device);
      b.fs.writeFile(`${T}/kprobe_events`, 'r:acs/route pci_p2pdma_map_type ret=$retval:u32\n');
      b.fs.writeFile(`${T}/events/acs/route/enable`, '1');
      const ic = StandInImporter.open(b);
      const got: [string, string, string][] = [];
      for (const c of CLIENTS) {
        b.fs.writeFile(`${T}/trace`, '');
        const imp = ic.import(fd, { importer: c, flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE });
        let code = 'ok';
        try {
          imp.map();
        } catch {
          code = errOf(() => imp.map()).code ?? '?';
        }
        imp.release();
        const ret = /ret=(\d+)/.exec(b.fs.readText(`${T}/trace`))?.[1] ?? 'none';
        got.push([c, ret, code]);
      }
      const far = mapped ? ['4', 'ok'] : ['2', 'EINVAL'];
      expect(got, host).toEqual(CLIENTS.map((c) => [c, ...(c === VF0 ? ['3', 'ok'] : far)]));
      const log = kmsg(b);
      // Between VF 0 and its PF the card's downstream port redirects; the hint names it.
      expect(log).toContain(`ACS redirect is set between the client and provider (${VF0})`);
      expect(log).toContain('pci=disable_acs_redir=0000:02:01.0');
      if (!mapped) {
        expect(log).toContain('Host bridge not in P2PDMA whitelist: 8086:29c0');
        expect(log).toContain(`cannot be used for peer-to-peer DMA as the client and provider (${VF0})`);
      }
    }
  });
});

describe("the provider's p2pdma caches each client's route (pci_p2pdma_map_type: map_types)", () => {
  it('only the first map for a client computes the route and warns; the provider leaving vfio-pci forgets it', () => {
    const b = withVfs(machine(true, '0x29c0'));
    b.fs.writeFile(`/sys/bus/pci/devices/${VF0}/driver_override`, 'vfio-pci');
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    const hint = `ACS redirect is set between the client and provider (${VF0})`;
    const count = () => kmsg(b).split(hint).length - 1;
    const mapTwice = () => {
      const v = openVfio(b);
      const fd = exportBar2(b, v.device);
      const ic = StandInImporter.open(b);
      for (let i = 0; i < 2; i++) {
        const imp = ic.import(fd, { importer: PF, flags: IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE });
        expect(errOf(() => imp.map()).code).toBe('EINVAL');
        imp.release();
      }
      ic.close();
      b.dev.close(fd);
      closeVfio(b, v);
    };
    mapTwice();
    expect(count()).toBe(1);
    mapTwice();
    expect(count()).toBe(1);
    // pcim_p2pdma_init's devres goes with the driver (pci_p2pdma_release: xa_destroy of map_types).
    b.fs.writeFile(`/sys/bus/pci/drivers/vfio-pci/unbind`, VF0);
    b.fs.writeFile('/sys/bus/pci/drivers_probe', VF0);
    mapTwice();
    expect(count()).toBe(2);
  });
});

describe('pci=disable_acs_redir= (the hint the kernel prints) clears the redirect, and with it the isolation', () => {
  const booted = (param: string) => {
    const t = machine(true, '0x09a2');
    t.kernel = {
      ...t.kernel,
      cmdline: `BOOT_IMAGE=/vmlinuz root=/dev/vda intel_iommu=on pci=noaer,disable_acs_redir=${param}`,
    };
    return withVfs(t);
  };

  it("naming the card's downstream port: PF<->VF by bus address, and the VFs in the PF's group", () => {
    const b = booted('02:01.0');
    expect(CLIENTS.map((c) => [c, routeOf(b, c)])).toEqual(
      CLIENTS.map((c, i) => [c, [BUS, BUS, BUS, HOST, HOST, HOST][i]]),
    );
    expect([groupOf(b, VF0), groupOf(b, VF1)]).toEqual([groupOf(b, PF), groupOf(b, PF)]);
    expect(kmsg(b)).toContain('pci 0000:02:01.0: Configured ACS to 0x0000');
  });

  it('by IDs (pci:<vendor>:<device>), or a device it does not name: only the ports it matches', () => {
    const t = machine(true, '0x09a2');
    t.bridges!.find((x) => x.bdf === '0000:02:02.0')!.vendor = '0x8086';
    t.bridges!.find((x) => x.bdf === '0000:02:02.0')!.device = '0xe2f1';
    t.kernel = { ...t.kernel, cmdline: 'intel_iommu=on pci=disable_acs_redir=pci:8086:e2f1;0000:09:00.0' };
    const b = withVfs(t);
    // VF 0 -> the same switch's other port: the redirect on VF 0's downstream port (02:01.0) remains.
    expect(routeOf(b, SAME_SWITCH)).toBe(HOST);
    expect(kmsg(b)).toContain('pci 0000:02:02.0: Configured ACS to 0x0000');
    expect(kmsg(b)).not.toContain('pci 0000:02:01.0: Configured ACS');
    expect(groupOf(b, VF0)).not.toBe(groupOf(b, PF));
  });

  it('an entry it cannot parse ends the list: the entries after it are not applied, and the kernel says so', () => {
    const cant = "PCI: Can't parse ACS command line parameter";
    const after = booted('bogus;0000:02:01.0');
    expect(kmsg(after)).toContain(cant);
    expect(kmsg(after)).not.toContain('Configured ACS');
    expect(groupOf(after, VF0)).not.toBe(groupOf(after, PF));
    // Before it: applied (__pci_config_acs stops at the first match, then at the entry it cannot parse).
    const before = booted('0000:02:01.0;bogus');
    expect(kmsg(before)).toContain('pci 0000:02:01.0: Configured ACS to 0x0000');
    expect(kmsg(before)).toContain(cant);
    expect(groupOf(before, VF0)).toBe(groupOf(before, PF));
  });
});
