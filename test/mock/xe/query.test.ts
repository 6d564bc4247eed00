// DRM core identity and the Xe device queries: the bytes must parse with the
// harness's own parsers (src/uapi/xe-query.ts) and say what a BMG PF says.
import { describe, expect, it } from 'vitest';
import { DRM, XE } from '../../../src/uapi/constants.js';
import { parseEngines, parseGtList, parseMemRegions } from '../../../src/uapi/xe-query.js';
import { expectErrno, rig, RENDER } from './setup.js';

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
    const { p, xe } = rig();
    expect([...p.chardevs.keys()].sort()).toEqual(['/dev/dri/card0', RENDER]);
    const card = p.dev.open('/dev/dri/card0', 2);
    expect(p.dev.drmVersion(card).name).toBe('xe');
    p.xe.unbind();
    expect(p.chardevs.size).toBe(0);
    expectErrno(() => p.dev.drmVersion(xe.fd), 'ENODEV');
    expectErrno(() => p.dev.open(RENDER, 2), 'ENOENT');
    p.xe.bind();
    expect(p.dev.drmVersion(p.dev.open(RENDER, 2)).name).toBe('xe');
  });

  it('fails ioctls it does not implement with ENOTTY and names itself in fdinfo', () => {
    const { p, xe } = rig();
    expectErrno(() => p.dev.dmaBufSetName(xe.fd, 'x'), 'ENOTTY');
    expect(p.fds.get(xe.fd).fdinfo()).toEqual([
      'drm-driver:\txe',
      expect.stringMatching(/^drm-client-id:\t\d+$/),
      'drm-pdev:\t0000:03:00.0',
    ]);
  });
});

describe('DRM_IOCTL_XE_DEVICE_QUERY', () => {
  it('returns the size first, then exactly that many bytes; another size is EINVAL', () => {
    const { p, xe } = rig();
    for (const q of [XE.QUERY_ENGINES, XE.QUERY_MEM_REGIONS, XE.QUERY_CONFIG, XE.QUERY_GT_LIST]) {
      const size = p.dev.xeDeviceQuerySize(xe.fd, q);
      expect(p.dev.xeDeviceQuery(xe.fd, q, size).length).toBe(size);
      expectErrno(() => p.dev.xeDeviceQuery(xe.fd, q, size + 8), 'EINVAL');
      expectErrno(() => p.dev.xeDeviceQuery(xe.fd, q, size - 8), 'EINVAL');
    }
    expectErrno(() => p.dev.xeDeviceQuerySize(xe.fd, 11), 'EINVAL');
    expectErrno(() => p.dev.xeDeviceQuerySize(xe.fd, XE.QUERY_CONFIG + 2), 'ENODEV');
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
    const { p, xe } = rig();
    const r = parseMemRegions(xe.query(XE.QUERY_MEM_REGIONS));
    expect(r.map((m) => [m.memClass, m.instance, m.minPageSize])).toEqual([
      [XE.MEM_REGION_CLASS_SYSMEM, 0, 4096],
      [XE.MEM_REGION_CLASS_VRAM, 1, 0x10000],
    ]);
    expect(r[1]!.totalSize).toBe(p.vram.size);
    expect(r[0]!.totalSize).toBe(p.ram.size);
    // the VF LMEM objects count as used VRAM (4 VFs x 256 MiB)
    expect(r[1]!.used).toBe(4n * 256n * 1024n * 1024n);
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
