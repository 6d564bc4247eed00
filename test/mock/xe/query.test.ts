// DRM core identity and the Xe device queries: the bytes must parse with the
// harness's own parsers (src/uapi/xe-query.ts) and say what a BMG PF says.
import { describe, expect, it } from 'vitest';
import { DRM, XE } from '../../../src/uapi/constants.js';
import { parseEngines, parseGtList, parseMemRegions } from '../../../src/uapi/xe-query.js';
import { defaultTopology } from '../../../src/mock/topology.js';
import { expectErrno, PF, rig, RENDER } from './setup.js';

describe('xe DRM identity', () => {
  it('answers DRM_IOCTL_VERSION as xe and GET_CAP PRIME with import and export', () => {
    const { xe } = rig();
    const v = xe.version();
    expect(v.name).toBe('xe');
    expect(v.desc).toBe('Intel Xe2 Graphics');
    expect(xe.backend.dev.drmGetCap(xe.fd, DRM.CAP_PRIME)).toBe(DRM.PRIME_CAP_IMPORT | DRM.PRIME_CAP_EXPORT);
    expectErrno(() => xe.backend.dev.drmGetCap(xe.fd, 0x9999n), 'EINVAL');
  });

  it('registers card0 and renderD128 while bound, and answers ENODEV after unbind', () => {
    const { b: mk, xe } = rig();
    expect(mk.fs.readdir('/dev/dri')).toEqual(expect.arrayContaining(['card0', 'renderD128']));
    const card = mk.dev.open('/dev/dri/card0', 2);
    expect(mk.dev.drmVersion(card).name).toBe('xe');
    // the driver core's unbind of the PF (drivers/base/bus.c unbind_store)
    mk.fs.writeFile('/sys/bus/pci/drivers/xe/unbind', PF);
    expect(mk.fs.readdir('/dev/dri')).not.toContain('card0');
    expect(mk.fs.readdir('/dev/dri')).not.toContain('renderD128');
    expectErrno(() => mk.dev.drmVersion(xe.fd), 'ENODEV');
    expectErrno(() => mk.dev.open(RENDER, 2), 'ENOENT');
    mk.fs.writeFile('/sys/bus/pci/drivers/xe/bind', PF);
    expect(mk.dev.drmVersion(mk.dev.open(RENDER, 2)).name).toBe('xe');
  });

  it('fails ioctls it does not implement with ENOTTY and names itself in fdinfo', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    expectErrno(() => mk.dev.dmaBufSetName(xe.fd, 'x'), 'ENOTTY');
    const fdinfo = mk.fs.readText(`/proc/self/fdinfo/${xe.fd}`).split('\n');
    expect(fdinfo.filter((l) => l.startsWith('drm-'))).toEqual([
      'drm-driver:\txe',
      expect.stringMatching(/^drm-client-id:\t\d+$/),
      'drm-pdev:\t0000:03:00.0',
    ]);
  });
});

describe('DRM_IOCTL_XE_DEVICE_QUERY', () => {
  it('returns the size first, then exactly that many bytes; another size is EINVAL', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    for (const q of [XE.QUERY_ENGINES, XE.QUERY_MEM_REGIONS, XE.QUERY_CONFIG, XE.QUERY_GT_LIST]) {
      const size = mk.dev.xeDeviceQuerySize(xe.fd, q);
      expect(mk.dev.xeDeviceQuery(xe.fd, q, size).length).toBe(size);
      expectErrno(() => mk.dev.xeDeviceQuery(xe.fd, q, size + 8), 'EINVAL');
      expectErrno(() => mk.dev.xeDeviceQuery(xe.fd, q, size - 8), 'EINVAL');
    }
    expectErrno(() => mk.dev.xeDeviceQuerySize(xe.fd, 11), 'EINVAL');
    expectErrno(() => mk.dev.xeDeviceQuerySize(xe.fd, XE.QUERY_CONFIG + 2), 'ENODEV');
  });

  it('config: BMG device id, HAS_VRAM, 64K minimum alignment, 48 VA bits', () => {
    const { xe } = rig();
    const c = xe.config();
    expect(c.deviceId).toBe(0xe20b);
    expect(c.hasVram).toBe(true);
    expect(c.minAlignment).toBe(0x10000n);
    expect(c.vaBits).toBe(48);
    expect(c.maxExecQueuePriority).toBe(2);
  });

  it('mem regions: system memory instance 0 and VRAM instance 1 with the PF VRAM size', () => {
    const rg = rig();
    const { b: mk, xe } = rg;
    const r = parseMemRegions(xe.query(XE.QUERY_MEM_REGIONS));
    expect(r.map((m) => [m.memClass, m.instance, m.minPageSize])).toEqual([
      [XE.MEM_REGION_CLASS_SYSMEM, 0, 4096],
      [XE.MEM_REGION_CLASS_VRAM, 1, 0x10000],
    ]);
    const t = defaultTopology();
    expect(r[1]!.totalSize).toBe(BigInt(t.devices[0]!.xe!.vram));
    expect(r[0]!.totalSize).toBe(t.ram!.reduce((sum, range) => sum + BigInt(range.size), 0n));
    // the VF LMEM objects count as used VRAM (4 VFs x 256 MiB, provisioned through sriov_admin)
    for (let vf = 1; vf <= 4; vf++)
      mk.fs.writeFile(`/sys/bus/pci/devices/${PF}/sriov_admin/vf${vf}/profile/vram_quota`, String(256n << 20n));
    expect(parseMemRegions(xe.query(XE.QUERY_MEM_REGIONS))[1]!.used).toBe(r[1]!.used + 4n * (256n << 20n));
    expect(xe.placement(XE.MEM_REGION_CLASS_VRAM)).toBe(2);
  });

  it('engines and GTs: render and copy on the primary GT, video on the media GT', () => {
    const { xe } = rig();
    const e = parseEngines(xe.query(XE.QUERY_ENGINES));
    expect(e).toContainEqual({ engineClass: XE.ENGINE_CLASS_RENDER, engineInstance: 0, gtId: 0 });
    expect(e).toContainEqual({ engineClass: XE.ENGINE_CLASS_COPY, engineInstance: 0, gtId: 0 });
    expect(
      e
        .filter((x) => x.gtId === 1)
        .every(
          (x) => x.engineClass === XE.ENGINE_CLASS_VIDEO_DECODE || x.engineClass === XE.ENGINE_CLASS_VIDEO_ENHANCE,
        ),
    ).toBe(true);
    const g = parseGtList(xe.query(XE.QUERY_GT_LIST));
    expect(g.map((x) => [x.gtId, x.type, x.ipVerMajor, x.nearMemRegions, x.farMemRegions])).toEqual([
      [0, 0, 20, 2n, 1n],
      [1, 1, 13, 2n, 1n],
    ]);
  });
});
