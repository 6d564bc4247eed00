// PRIME: export through the dma-buf core as "xe", import of foreign dma-bufs
// as attachments with xe's importer ops, self-import, the per-file cache,
// and the dma-buf references each piece holds (drm_prime.c).
import { describe, expect, it } from 'vitest';
import { DRM } from '../../../src/uapi/constants.js';
import { MiB } from './fake-platform.js';
import { expectErrno, fakeRig as rig, SYS, VRAM, WB, WC } from './setup.js';

describe('DRM_IOCTL_PRIME_HANDLE_TO_FD', () => {
  it('exports through the dma-buf core with exp_name xe and the BO size', () => {
    const { p, xe } = rig();
    const bo = xe.gemCreate({ size: 0x30000n, placement: VRAM, cpuCaching: WC });
    const fd = p.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.CLOEXEC | DRM.RDWR);
    const buf = p.dmabuf.get(fd);
    expect(buf.expName).toBe('xe');
    expect(buf.size).toBe(0x30000n);
    // a second export is the same dma-buf through a new fd
    const fd2 = p.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.CLOEXEC);
    expect(fd2).not.toBe(fd);
    expect(p.dmabuf.get(fd2)).toBe(buf);
  });

  it('validates flags (EINVAL), the handle (ENOENT), and refuses VM-private BOs (EPERM)', () => {
    const { p, xe } = rig();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    expectErrno(() => p.dev.drmPrimeHandleToFd(xe.fd, bo.handle, 0x4), 'EINVAL');
    expectErrno(() => p.dev.drmPrimeHandleToFd(xe.fd, 77, 0), 'ENOENT');
    const vm = xe.vmCreate();
    const priv = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB, vmId: vm.id });
    expectErrno(() => p.dev.drmPrimeHandleToFd(xe.fd, priv.handle, 0), 'EPERM');
  });

  it('keeps the exported BO alive for the dma-buf after GEM_CLOSE, and frees it with the last fd', () => {
    const { p, xe } = rig();
    const bo = xe.gemCreate({ size: 0x20000n, placement: VRAM, cpuCaching: WC });
    bo.mmap().write(0, new Uint8Array([5, 6]));
    const fd = p.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.RDWR);
    bo.close();
    expect(p.xe.liveObjects().bos).toBe(1);
    // another file imports it back: the same GEM object, same bytes
    const other = p.dev.open('/dev/dri/renderD128', 2);
    const h = p.dev.drmPrimeFdToHandle(other, fd);
    const off = p.dev.xeGemMmapOffset(other, h);
    expect([...p.dev.mmap(other, off, 2, 1).read(0, 2)]).toEqual([5, 6]);
    p.dev.close(fd);
    p.dev.close(other);
    p.xe.processExit(p.kernel.pid);
    expect(p.xe.liveObjects().bos).toBe(0);
  });
});

describe('DRM_IOCTL_PRIME_FD_TO_HANDLE', () => {
  it('imports a foreign dma-buf as a dynamic, peer2peer attachment of the PF', () => {
    const { p, xe } = rig();
    const v = p.exportVf(0, [[0n, 2n * MiB]]);
    const h = xe.primeImport(v.fd);
    expect(h.handle).toBe(1);
    const att = v.dmabuf.attachments[0]!;
    expect(att.devName).toBe('0000:03:00.0');
    expect(att.dev).toBe(p.pf);
    expect(att.dynamic).toBe(true);
    expect(att.importer.allowPeer2peer).toBe(true);
    // nothing is mapped at import: the mapping is made at first validation
    expect(v.maps + v.interconnectMaps).toBe(0);
    expect(p.kernel.hits('xe_bo_move').length).toBe(0);
    expect(p.kernel.hits('xe_gem_prime_import', 'return')[0]!.values.retval).toBeGreaterThan(0xffff000000000000n);
    expect(p.xe.liveObjects()).toMatchObject({ bos: 1, imports: 1 });
  });

  it('returns the same handle for the same dma-buf, through any fd of it', () => {
    const { p, xe } = rig();
    const v = p.exportVf(0, [[0n, 2n * MiB]]);
    const a = p.dev.drmPrimeFdToHandle(xe.fd, v.fd);
    const dup = p.dmabuf.fd(v.dmabuf, 2);
    expect(p.dev.drmPrimeFdToHandle(xe.fd, dup)).toBe(a);
    expect(v.dmabuf.attachments.length).toBe(1);
  });

  it('gives an xe export back as its own GEM object in the exporting file (no attachment)', () => {
    const { p, xe } = rig();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const fd = p.dev.drmPrimeHandleToFd(xe.fd, bo.handle, 0);
    expect(p.dev.drmPrimeFdToHandle(xe.fd, fd)).toBe(bo.handle);
    expect(p.dmabuf.get(fd).attachments.length).toBe(0);
  });

  it('EBADF for a closed fd, EINVAL for an fd that is not a dma-buf', () => {
    const { p, xe } = rig();
    expectErrno(() => p.dev.drmPrimeFdToHandle(xe.fd, 99), 'EBADF');
    expectErrno(() => p.dev.drmPrimeFdToHandle(xe.fd, xe.fd), 'EINVAL');
  });

  it('fails the import with the exporter attach errno (a revoked vfio buffer: ENODEV)', () => {
    const { p, xe } = rig('upstream-7.1');
    const v = p.exportVf(0, [[0n, 2n * MiB]]);
    v.revoked = true;
    expectErrno(() => p.dev.drmPrimeFdToHandle(xe.fd, v.fd), 'ENODEV');
    expect(p.xe.liveObjects().bos).toBe(0);
    // what kretprobes on the import path fetch: an ERR_PTR and -ENODEV
    expect(p.kernel.hits('xe_gem_prime_import', 'return')[0]!.values.retval).toBe(BigInt.asUintN(64, -19n));
    expect(p.kernel.hits('drm_gem_prime_fd_to_handle', 'return')[0]!.values.retval).toBe(-19);
  });

  it('holds dma-buf references as the kernel does and drops them all on close', () => {
    const { p, xe } = rig();
    const v = p.exportVf(0, [[0n, 2n * MiB]]);
    expect(p.dmabuf.refsOf(v.dmabuf)).toBe(1);
    const h = p.dev.drmPrimeFdToHandle(xe.fd, v.fd);
    // fd + import_attach + obj->dma_buf + this file's PRIME cache entry
    expect(p.dmabuf.refsOf(v.dmabuf)).toBe(4);
    p.dev.drmGemClose(xe.fd, h);
    expect(p.dmabuf.refsOf(v.dmabuf)).toBe(1);
    expect(v.dmabuf.attachments.length).toBe(0);
    expect(p.xe.liveObjects().bos).toBe(0);
  });
});
