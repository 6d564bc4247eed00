import { describe, expect, it } from 'vitest';
import type { DrmVersion } from '../../src/backend/types.js';
import { DrmDevice, findRenderNodes, listDrmNodes, monotonicDeadline } from '../../src/uapi/drm.js';
import { DmaBuf } from '../../src/uapi/dmabuf.js';
import { DRM } from '../../src/uapi/constants.js';
import { FakeBackend, type FakeTree } from './fake-backend.js';

const version = (name: string): DrmVersion => ({ major: 1, minor: 1, patchlevel: 0, name, date: '0', desc: name });

const tree: FakeTree = {
  files: { '/dev/dri/card0': '', '/dev/dri/renderD128': '', '/dev/dri/renderD129': '', '/dev/dri/by-path': '' },
  // renderD128 as the kernel links it; card0 with only a device link; renderD129 a platform device.
  links: {
    '/sys/class/drm/renderD128': '../../devices/pci0000:00/0000:00:01.0/0000:03:00.0/drm/renderD128',
    '/sys/class/drm/card0/device': '../../../0000:03:00.0',
    '/sys/class/drm/renderD129': '../../devices/platform/vgem/drm/renderD129',
  },
  dirs: [
    '/sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0/drm/renderD128',
    '/sys/devices/platform/vgem/drm/renderD129',
  ],
};

describe('DRM node discovery', () => {
  it('lists card and render nodes with the PCI device behind each (none for platform devices)', () => {
    expect(listDrmNodes(new FakeBackend({}, tree))).toEqual([
      { path: '/dev/dri/card0', kind: 'card', minor: 0, bdf: '0000:03:00.0' },
      { path: '/dev/dri/renderD128', kind: 'render', minor: 128, bdf: '0000:03:00.0' },
      { path: '/dev/dri/renderD129', kind: 'render', minor: 129, bdf: null },
    ]);
    expect(listDrmNodes(new FakeBackend({}, {}))).toEqual([]);
  });

  it('finds render nodes by the driver name DRM_IOCTL_VERSION gives, closing what it opened', () => {
    const b = new FakeBackend({}, tree);
    const byFd = new Map<number, string>();
    const handlers = new FakeBackend(
      {
        open: (path) => {
          const fd = b.newFd(path);
          byFd.set(fd, path);
          return fd;
        },
        close: (fd) => {
          b.open.delete(fd);
        },
        drmVersion: (fd) => version(byFd.get(fd) === '/dev/dri/renderD128' ? 'xe' : 'vgem'),
      },
      tree,
    );
    expect(findRenderNodes(handlers, 'xe').map((n) => [n.path, n.driver, n.bdf])).toEqual([
      ['/dev/dri/renderD128', 'xe', '0000:03:00.0'],
    ]);
    expect(findRenderNodes(handlers, 'vgem').map((n) => n.path)).toEqual(['/dev/dri/renderD129']);
    expect(findRenderNodes(handlers).map((n) => n.driver)).toEqual(['xe', 'vgem']);
    expect(b.open.size).toBe(0);
  });
});

describe('DrmDevice', () => {
  function drm(extra: ConstructorParameters<typeof FakeBackend>[0] = {}): { b: FakeBackend; d: DrmDevice } {
    const b = new FakeBackend(extra, tree);
    const d = DrmDevice.open(b, '/dev/dri/renderD128');
    b.calls.length = 0;
    return { b, d };
  }

  it('asks the version once', () => {
    const { b, d } = drm({ drmVersion: () => version('xe') });
    expect(d.version().name).toBe('xe');
    expect(d.version().name).toBe('xe');
    expect(b.ops()).toEqual(['drmVersion']);
  });

  it('decodes the PRIME capability bits', () => {
    expect(drm({ drmGetCap: () => DRM.PRIME_CAP_IMPORT | DRM.PRIME_CAP_EXPORT }).d.primeCaps()).toEqual({
      import: true,
      export: true,
    });
    expect(drm({ drmGetCap: () => DRM.PRIME_CAP_EXPORT }).d.primeCaps()).toEqual({ import: false, export: true });
  });

  it('imports a dma-buf into a GEM handle that closes once, without closing the dma-buf', () => {
    const { b, d } = drm({ drmPrimeFdToHandle: () => 5, drmGemClose: () => undefined });
    const buf = new DmaBuf(b, b.newFd('dmabuf'), 'test');
    const h = d.primeImport(buf);
    expect(h.handle).toBe(5);
    expect(h.dmabuf).toBe(buf);
    h.close();
    h.close();
    expect(b.calls.map((c) => [c.op, ...c.args])).toEqual([
      ['drmPrimeFdToHandle', d.fd, buf.fd],
      ['drmGemClose', d.fd, 5],
    ]);
    expect(buf.closed).toBe(false);
  });

  it('exports a handle as a dma-buf with CLOEXEC|RDWR by default', () => {
    const { b, d } = drm({ drmPrimeHandleToFd: () => b.newFd('exported') });
    const buf = d.primeExport(7);
    expect(b.calls[0]!.args).toEqual([d.fd, 7, DRM.CLOEXEC | DRM.RDWR]);
    expect(buf.source).toBe('/dev/dri/renderD128 handle 7');
  });

  it('creates, waits on and destroys syncobjs', async () => {
    const { b, d } = drm({
      drmSyncobjCreate: () => 3,
      drmSyncobjWait: () => Promise.resolve(0),
      drmSyncobjDestroy: () => undefined,
    });
    const s = d.syncobjCreate(DRM.SYNCOBJ_CREATE_SIGNALED);
    const deadline = monotonicDeadline(100);
    await expect(s.wait(deadline)).resolves.toBe(0);
    s.close();
    s.close();
    expect(b.calls.map((c) => c.op)).toEqual(['drmSyncobjCreate', 'drmSyncobjWait', 'drmSyncobjDestroy']);
    expect(b.calls[1]!.args).toEqual([d.fd, [3], deadline, 0]);
  });

  it('closes its fd once', () => {
    const { b, d } = drm();
    d.close();
    d.close();
    expect(b.ops()).toEqual(['close']);
    expect(d.closed).toBe(true);
  });
});

describe('monotonicDeadline', () => {
  it('is CLOCK_MONOTONIC now plus the delay, in ns', () => {
    const before = process.hrtime.bigint();
    const d = monotonicDeadline(1500);
    expect(d - before >= 1_500_000_000n).toBe(true);
    expect(d - process.hrtime.bigint() <= 1_500_000_000n).toBe(true);
  });
});
