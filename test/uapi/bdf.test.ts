// The BDF grammar (src/uapi/bdf.ts): the kernel's "%04x:%02x:%02x.%d"
// names, domains past 0xffff included, what users may type, and the
// patterns sysfs link targets are read with.
import { describe, expect, it } from 'vitest';
import {
  BDF_PATTERN,
  formatBdf,
  isBdf,
  normalizeBdf,
  parseBdf,
  parseSysfsBdf,
  ROOT_BUS_PATTERN,
} from '../../src/uapi/bdf.js';
import { listDrmNodes } from '../../src/uapi/drm.js';
import { createMockBackend } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';

describe('PCI addresses', () => {
  it('names a device as the kernel does: four domain digits, more past 0xffff, never a leading zero beyond four', () => {
    expect(formatBdf({ domain: 0, bus: 3, slot: 0, fn: 1 })).toBe('0000:03:00.1');
    expect(formatBdf({ domain: 0x10000, bus: 0xe1, slot: 0x1f, fn: 7 })).toBe('10000:e1:1f.7');
    expect(formatBdf({ domain: 0xffffffff, bus: 0, slot: 0, fn: 0 })).toBe('ffffffff:00:00.0');
  });

  it('reads what users type: short form, any case, blanks, extra domain zeros; not a slot past 0x1f or a ninth domain digit', () => {
    expect(normalizeBdf('03:00.1')).toBe('0000:03:00.1');
    expect(normalizeBdf(' 10000:E1:00.0\n')).toBe('10000:e1:00.0');
    expect(normalizeBdf('00010000:e1:00.0')).toBe('10000:e1:00.0');
    for (const bad of [
      '',
      '3:00.0',
      '000:03:00.0',
      '0000:03:20.0',
      '0000:03:00.8',
      '100000000:03:00.0',
      '0000:03:00.0.1',
      'pci0000:00',
    ]) {
      expect(parseBdf(bad), bad).toBeNull();
    }
  });

  it('isBdf and parseSysfsBdf take only the kernel spelling', () => {
    for (const good of ['0000:03:00.1', '10000:e1:00.0', 'ffffffff:ff:1f.7']) {
      expect(isBdf(good), good).toBe(true);
      expect(parseSysfsBdf(good)).toEqual(parseBdf(good));
    }
    for (const bad of ['03:00.1', '0000:AF:00.0', '00010000:e1:00.0', ' 0000:03:00.1', '010000:e1:00.0']) {
      expect(isBdf(bad), bad).toBe(false);
      expect(parseSysfsBdf(bad)).toBeNull();
    }
  });

  it('the patterns find names inside link targets, whole path components only', () => {
    const link = new RegExp(`(?:^|/)(${BDF_PATTERN})/drm/[^/]+$`);
    expect(link.exec('../../devices/pci10000:e0/10000:e0:00.0/10000:e1:00.0/drm/card0')?.[1]).toBe('10000:e1:00.0');
    expect(link.exec('../../devices/pci0000:00/0000:00:01.0/0000:03:00.0/drm/renderD128')?.[1]).toBe('0000:03:00.0');
    expect(link.exec('../../devices/pci0000:00/x0000:03:00.0/drm/card0')).toBeNull();
    expect(new RegExp(`^${ROOT_BUS_PATTERN}$`).test('pci10000:e0')).toBe(true);
    expect(new RegExp(`^${ROOT_BUS_PATTERN}$`).test('pci010000:e0')).toBe(false);
  });

  it('DRM nodes of a GPU behind VMD name their PCI device (sysfs class links)', () => {
    const t = defaultTopology();
    t.devices[0]!.bdf = '10000:e1:00.0';
    t.devices[0]!.parent = 'pci10000:e0/10000:e0:00.0';
    t.bridges = [{ bdf: '10000:e0:00.0', acs: '0x1f' }]; // VMD's root port; the default's bridges are on no path now
    const b = createMockBackend({ topology: t });
    try {
      // The xe PF's card and render node; vgem's are platform devices (no PCI parent).
      const named = Object.fromEntries(listDrmNodes(b).map((n) => [n.path, n.bdf]));
      expect(named).toMatchObject({
        '/dev/dri/card0': '10000:e1:00.0',
        '/dev/dri/renderD128': '10000:e1:00.0',
        '/dev/dri/card1': null,
      });
    } finally {
      b.close();
    }
  });
});
