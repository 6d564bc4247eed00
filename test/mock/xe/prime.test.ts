// PRIME: export through the dma-buf core as "xe", import of foreign dma-bufs
// as attachments with xe's importer ops, self-import, the per-file cache,
// and the dma-buf references each piece holds (drm_prime.c).
import { describe, expect, it } from 'vitest';
import { DRM, O, VFIO } from '../../../src/uapi/constants.js';
import type { MockBackend } from '../../../src/mock/backend.js';
import { enableVfs, exportBar2, openVfio, type VfioOpen } from '../helpers.js';
import { expectErrno, kprobe, PF, rig, RENDER, SYS, VRAM, WB, WC } from './setup.js';

/** A real vfio-pci DMA_BUF export of the first 2 MiB of VF 0's BAR 2. */
function exportVf0(b: MockBackend): { fd: number; vfio: VfioOpen } {
  enableVfs(b, 1);
  const vfio = openVfio(b);
  return { fd: exportBar2(b, vfio.device), vfio };
}

/** What /proc/self/fdinfo says of an fd, as field -> value. */
function fdinfo(b: MockBackend, fd: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of b.fs.readText(`/proc/self/fdinfo/${fd}`).split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out.set(l.slice(0, i), l.slice(i + 1).trim());
  }
  return out;
}

describe('DRM_IOCTL_PRIME_HANDLE_TO_FD', () => {
  it('exports through the dma-buf core with exp_name xe and the BO size', () => {
    const { b, xe } = rig();
    const bo = xe.gemCreate({ size: 0x30000n, placement: VRAM, cpuCaching: WC });
    const fd = b.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.CLOEXEC | DRM.RDWR);
    const info = fdinfo(b, fd);
    expect(info.get('exp_name')).toBe('xe');
    expect(info.get('size')).toBe(String(0x30000));
    // a second export is the same dma-buf (same inode) through a new fd
    const fd2 = b.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.CLOEXEC);
    expect(fd2).not.toBe(fd);
    expect(fdinfo(b, fd2).get('ino')).toBe(info.get('ino'));
    expect(b.kernel.live().dmabufs).toBe(1);
  });

  it('validates flags (EINVAL), the handle (ENOENT), and refuses VM-private BOs (EPERM)', () => {
    const { b, xe } = rig();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    expectErrno(() => b.dev.drmPrimeHandleToFd(xe.fd, bo.handle, 0x4), 'EINVAL');
    expectErrno(() => b.dev.drmPrimeHandleToFd(xe.fd, 77, 0), 'ENOENT');
    const vm = xe.vmCreate();
    const priv = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB, vmId: vm.id });
    expectErrno(() => b.dev.drmPrimeHandleToFd(xe.fd, priv.handle, 0), 'EPERM');
  });

  it('keeps the exported BO alive for the dma-buf after GEM_CLOSE, and frees it with the last reference', () => {
    const { b, xe } = rig();
    const bo = xe.gemCreate({ size: 0x20000n, placement: VRAM, cpuCaching: WC });
    const mine = bo.mmap();
    mine.write(0, new Uint8Array([5, 6]));
    const fd = b.dev.drmPrimeHandleToFd(xe.fd, bo.handle, DRM.RDWR);
    bo.close();
    expect(b.kernel.live().bos).toBe(1);
    // another file imports it back: the same GEM object, same bytes
    const other = b.dev.open(RENDER, O.RDWR);
    const h = b.dev.drmPrimeFdToHandle(other, fd);
    const off = b.dev.xeGemMmapOffset(other, h);
    const m = b.dev.mmap(other, off, 2, 1);
    expect([...m.read(0, 2)]).toEqual([5, 6]);
    b.dev.close(fd);
    b.dev.close(other);
    expect(b.kernel.live().bos).toBe(1); // the mappings hold it
    mine.unmap();
    expect(b.kernel.live().bos).toBe(1);
    m.unmap();
    expect(b.kernel.live().bos).toBe(0);
  });
});

describe('DRM_IOCTL_PRIME_FD_TO_HANDLE', () => {
  it('imports a foreign dma-buf as a dynamic, peer2peer attachment of the PF', () => {
    const { b, xe } = rig();
    const v = exportVf0(b);
    const move = kprobe(b, 'p', 'xe_bo_move');
    const imported = kprobe(b, 'r', 'xe_gem_prime_import', 'ret=$retval');
    const h = xe.primeImport(v.fd);
    expect(h.handle).toBe(1);
    const k = b.kernel.platform;
    const att = k.dmabuf.get(v.fd).attachments[0]!;
    expect(att.devName).toBe(PF);
    expect(att.dev).toBe(k.pci.device(PF));
    expect(att.dynamic).toBe(true);
    expect(att.importer.allowPeer2peer).toBe(true);
    // nothing is mapped at import: the mapping is made at first validation
    expect(b.kernel.live()).toMatchObject({ sgMaps: 0, interconnectMaps: 0 });
    expect(move.hits()).toEqual([]);
    expect(BigInt(imported.hits()[0]!.ret!)).toBeGreaterThan(0xffff000000000000n);
    expect(b.kernel.live()).toMatchObject({ bos: 1, imports: 1 });
  });

  it('returns the same handle for the same dma-buf, through any fd of it', () => {
    const { b, xe } = rig();
    const v = exportVf0(b);
    const a = b.dev.drmPrimeFdToHandle(xe.fd, v.fd);
    const k = b.kernel.platform;
    // dma_buf_fd of the same dma-buf: another fd in this process
    const dup = k.dmabuf.fd(k.dmabuf.get(v.fd), O.RDWR);
    expect(b.dev.drmPrimeFdToHandle(xe.fd, dup)).toBe(a);
    expect(b.kernel.live().attachments).toBe(1);
  });

  it('gives an xe export back as its own GEM object in the exporting file (no attachment)', () => {
    const { b, xe } = rig();
    const bo = xe.gemCreate({ size: 0x10000n, placement: SYS, cpuCaching: WB });
    const fd = b.dev.drmPrimeHandleToFd(xe.fd, bo.handle, 0);
    expect(b.dev.drmPrimeFdToHandle(xe.fd, fd)).toBe(bo.handle);
    expect(b.kernel.live().attachments).toBe(0);
  });

  it('EBADF for a closed fd, EINVAL for an fd that is not a dma-buf', () => {
    const { b, xe } = rig();
    expectErrno(() => b.dev.drmPrimeFdToHandle(xe.fd, 99), 'EBADF');
    expectErrno(() => b.dev.drmPrimeFdToHandle(xe.fd, xe.fd), 'EINVAL');
  });

  it('fails the import with the exporter attach errno (a revoked vfio buffer: ENODEV)', () => {
    const { b, xe } = rig('upstream-7.1');
    const v = exportVf0(b);
    // VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY revokes the VF's dma-bufs until LOW_POWER_EXIT
    b.dev.vfioDeviceFeature(v.vfio.device, VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY);
    const imported = kprobe(b, 'r', 'xe_gem_prime_import', 'ret=$retval');
    const fdToHandle = kprobe(b, 'r', 'drm_gem_prime_fd_to_handle', 'ret=$retval:s32');
    expectErrno(() => b.dev.drmPrimeFdToHandle(xe.fd, v.fd), 'ENODEV');
    expect(b.kernel.live().bos).toBe(0);
    // what kretprobes on the import path fetch: an ERR_PTR and -ENODEV
    expect(BigInt(imported.hits()[0]!.ret!)).toBe(BigInt.asUintN(64, -19n));
    expect(fdToHandle.hits()[0]!.ret).toBe('-19');
  });

  it('holds dma-buf references as the kernel does and drops them all on close', () => {
    const { b, xe } = rig();
    const v = exportVf0(b);
    const k = b.kernel.platform;
    const buf = k.dmabuf.get(v.fd);
    expect(k.dmabuf.fileCount(buf)).toBe(1);
    const h = b.dev.drmPrimeFdToHandle(xe.fd, v.fd);
    // fd + import_attach + obj->dma_buf + this file's PRIME cache entry
    expect(k.dmabuf.fileCount(buf)).toBe(4);
    b.dev.drmGemClose(xe.fd, h);
    expect(k.dmabuf.fileCount(buf)).toBe(1);
    expect(b.kernel.live()).toMatchObject({ attachments: 0, bos: 0 });
  });
});
