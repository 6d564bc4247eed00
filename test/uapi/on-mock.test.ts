// The kernel wrappers against the mock backend: the same code that drives a
// real kernel, on the simulated one (DESIGN.md, "the one principle"). What is
// asserted here is the wrappers' side of the contract (sequence, parsing,
// ownership); the mock's fidelity is tested in test/mock/.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { parseBufinfo } from '../../src/uapi/bufinfo.js';
import { findRenderNodes } from '../../src/uapi/drm.js';
import { VFIO, XE } from '../../src/uapi/constants.js';
import { openVfioDevice, type VfioDevice } from '../../src/uapi/vfio.js';
import { XeDevice } from '../../src/uapi/xe.js';

const PF = '0000:03:00.0';

let b: MockBackend;
let vf: string;

/** Enable two VFs and bind the first to vfio-pci, as `iovh setup` would (docs/kernel.md §4, §9). */
function bringUp(backend: MockBackend): string {
  const fs = backend.fs;
  fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_drivers_autoprobe`, '0');
  fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_numvfs`, '2');
  const bdf = fs.readlink(`/sys/bus/pci/devices/${PF}/virtfn0`).split('/').pop()!;
  fs.writeFile(`/sys/bus/pci/devices/${bdf}/driver_override`, 'vfio-pci');
  fs.writeFile('/sys/bus/pci/drivers_probe', bdf);
  return bdf;
}

beforeEach(() => {
  b = createMockBackend({ profile: 'fixed', reason: 'test' });
  vf = bringUp(b);
});
afterEach(() => b.close());

describe('VFIO wrappers on the mock', () => {
  it('open the VF through its group and close every fd they opened', () => {
    const before = b.kernel.live();
    const dev: VfioDevice = openVfioDevice(b, vf);
    expect(dev.access).toBe('group');
    expect(dev.group?.path).toMatch(/^\/dev\/vfio\/\d+$/);
    expect(dev.info().flags & VFIO.DEVICE_FLAGS_PCI).toBeTruthy();
    const regions = dev.regionInfos();
    const bar2 = regions.find((r) => r.index === VFIO.PCI_BAR2_REGION_INDEX)!;
    expect(bar2.size > 0n).toBe(true);
    expect(bar2.offset).toBe(2n << 40n);
    expect(regions.some((r) => r.index === VFIO.PCI_VGA_REGION_INDEX)).toBe(false);
    dev.close();
    dev.close();
    expect(b.kernel.live()).toEqual(before);
  });

  it('export BAR 2 as a dma-buf whose fdinfo and bufinfo say so', () => {
    const dev = openVfioDevice(b, vf);
    expect(dev.probeFeature(VFIO.FEATURE_DMA_BUF)).toEqual({ supported: true });
    const buf = dev.exportDmaBuf({
      region: 2,
      ranges: [
        { offset: 0, length: 0x200000 },
        { offset: 0x400000, length: 0x1000 },
      ],
    });
    buf.setName('iovh-on-mock');
    expect(buf.fdinfo()).toMatchObject({ size: 0x201000n, expName: 'vfio_pci_core', name: 'iovh-on-mock' });
    const info = parseBufinfo(b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo'));
    expect(info.objects.find((o) => o.name === 'iovh-on-mock')).toMatchObject({
      size: 0x201000n,
      expName: 'vfio_pci_core',
    });
    buf.close();
    dev.close();
  });

  it('refuse a region that cannot be exported with the errno of docs/kernel.md §3.3', () => {
    const dev = openVfioDevice(b, vf);
    expect(() =>
      dev.exportDmaBuf({ region: VFIO.PCI_CONFIG_REGION_INDEX, ranges: [{ offset: 0, length: 4096 }] }),
    ).toThrow(expect.objectContaining({ code: 'ENODEV', request: 'VFIO_DEVICE_FEATURE' }));
    expect(() => dev.exportDmaBuf({ region: 2, ranges: [{ offset: 0, length: 100 }] })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    dev.close();
  });
});

describe('DRM and Xe wrappers on the mock', () => {
  it('find the PF render node by driver name and import the VF export', () => {
    const [node] = findRenderNodes(b, 'xe');
    expect(node).toMatchObject({ driver: 'xe', kind: 'render', bdf: PF });
    const xe = XeDevice.open(b, node!.path);
    expect(xe.config().hasVram).toBe(true);
    expect(xe.engineOfClass(XE.ENGINE_CLASS_COPY)).not.toBeNull();
    expect(xe.placement(XE.MEM_REGION_CLASS_VRAM)).not.toBe(0);
    expect(xe.gtList().length).toBeGreaterThan(0);

    const dev = openVfioDevice(b, vf);
    const buf = dev.exportDmaBuf({ region: 2, ranges: [{ offset: 0, length: 0x200000 }] });
    const handle = xe.primeImport(buf);
    expect(handle.handle).toBeGreaterThan(0);
    const attached = parseBufinfo(b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo')).objects.find(
      (o) => o.expName === 'vfio_pci_core',
    );
    expect(attached?.attached).toEqual([PF]);
    handle.close();
    handle.close();
    buf.close();
    dev.close();
    xe.close();
  });
});
