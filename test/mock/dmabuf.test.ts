// The dma-buf core: the RFC negotiation per profile, the exporter's attach
// rules, map_interconnect's checks, bufinfo/fdinfo layouts, udmabuf and vgem
// (docs/profiles.md, rfc-v1 "Attach"; docs/kernel.md §3.4, §10, §11.2).
import { describe, expect, it } from 'vitest';
import type { ImporterOps, InterconnectOffer } from '../../src/mock/contracts.js';
import { DMA_BUF, F_SEAL, MFD, O, PROT, VFIO } from '../../src/uapi/constants.js';
import { enableVfs, errOf, expectErrno, exportBar2, MiB, mock, openVfio, PF, VF0, VF1 } from './helpers.js';

type Profile = 'upstream-7.1' | 'rfc-v1' | 'fixed';

function exported(profile: Profile, region = 2) {
  const b = mock({ profile });
  enableVfs(b, 2, [0, 1]);
  const v = openVfio(b);
  const fd =
    region === 2
      ? exportBar2(b, v.device)
      : b.dev.vfioDmaBufGet(v.device, {
          regionIndex: region,
          openFlags: O.RDWR,
          ranges: BigUint64Array.from([0n, 4096n]),
        });
  const k = b.kernel.platform;
  return { b, v, fd, k, buf: k.dmabuf.get(fd) };
}

/** xe's importer ops as RFC 5/8 shapes them: P2P, revocable, offering IOV (the PF, LMEM_BAR). */
function xeLike(k: ReturnType<typeof exported>['k'], bdf = PF, bar = 2): ImporterOps & { asked: number } {
  const dev = k.pci.device(bdf)!;
  const ops = {
    asked: 0,
    allowPeer2peer: true,
    invalidateMappings: () => undefined,
    interconnects: [{ type: 'iov', dev, bar } as InterconnectOffer],
    supportsInterconnects: () => {
      ops.asked++;
    },
  };
  return ops;
}

describe('attach negotiation', () => {
  it('rfc-v1 and fixed: the VF BAR2 export imported by its own PF negotiates IOV', () => {
    for (const p of ['rfc-v1', 'fixed'] as const) {
      const { k, buf } = exported(p);
      const imp = xeLike(k);
      const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, imp);
      expect(imp.asked).toBe(1);
      expect(att.interconnect).toMatchObject({ type: 'iov', bar: 2 });
      expect(att.interconnect!.dev.bdf).toBe(VF0);
      const r = k.dmabuf.mapInterconnect(att);
      expect(r.ranges).toHaveLength(1);
      const bar2 = k.pci.device(VF0)!.bar(2)!.start;
      expect(r.ranges[0]).toEqual({ start: bar2, end: bar2 + 2n * MiB - 1n });
      expect(r.packed).toEqual(BigUint64Array.from([bar2, bar2 + 2n * MiB - 1n]));
    }
  });

  it('upstream: no negotiation at all; the importer goes the P2P way and map_interconnect is EOPNOTSUPP', () => {
    const { k, buf } = exported('upstream-7.1');
    const imp = xeLike(k);
    const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, imp);
    expect(imp.asked).toBe(0);
    expect(att.interconnect).toBeNull();
    expect(() => k.dmabuf.mapInterconnect(att)).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP' }));
    const sgt = k.dmabuf.mapAttachment(att);
    const bar2 = k.pci.device(VF0)!.bar(2)!.start;
    expect(sgt.entries).toEqual([{ address: bar2, length: 2n * MiB }]);
  });

  it('no match when the importer is another device or offers another BAR; then the 7.2 rules apply', () => {
    const { k, buf } = exported('rfc-v1');
    const other = k.dmabuf.attach(buf, VF1, k.pci.device(VF1)!, xeLike(k, VF1));
    expect(other.interconnect).toBeNull();
    expect(() => k.dmabuf.mapInterconnect(other)).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP' }));
    const bar0 = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k, PF, 0));
    expect(bar0.interconnect).toBeNull();
    // a non-P2P importer is refused, a P2P one that cannot handle revoke too
    expect(errOf(() => k.dmabuf.attach(buf, 'vgem', null, { allowPeer2peer: false })).code).toBe('EOPNOTSUPP');
    expect(errOf(() => k.dmabuf.attach(buf, PF, k.pci.device(PF)!, { allowPeer2peer: true })).code).toBe('EOPNOTSUPP');
  });

  it('an export of BAR0 never negotiates IOV with the PF (bar 0 != LMEM_BAR)', () => {
    const { k, buf } = exported('fixed', 0);
    const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k));
    expect(att.interconnect).toBeNull();
  });

  it('revoked buffers: rfc-v1 attaches and maps through IOV anyway (docs/kernel.md §11.2), fixed refuses ENODEV', () => {
    for (const p of ['rfc-v1', 'fixed'] as const) {
      const { b, v, k, buf } = exported(p);
      b.dev.vfioDeviceFeature(v.device, VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_LOW_POWER_ENTRY);
      if (p === 'rfc-v1') {
        const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k));
        expect(att.interconnect).not.toBeNull();
        expect(k.dmabuf.mapInterconnect(att).ranges).toHaveLength(1);
      } else {
        expect(errOf(() => k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k))).code).toBe('ENODEV');
      }
    }
  });

  it('map_interconnect refuses a non-dynamic attachment with EINVAL (RFC 1/8)', () => {
    const { k, buf } = exported('fixed');
    // A non-dynamic importer offering interconnects (no invalidate_mappings): attach negotiates, map refuses.
    const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, {
      allowPeer2peer: true,
      interconnects: xeLike(k).interconnects,
    });
    expect(att.interconnect).not.toBeNull();
    expect(() => k.dmabuf.mapInterconnect(att)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('with the fixed series a revoke waits for interconnect maps too; rfc-v1 does not count them', async () => {
    for (const p of ['rfc-v1', 'fixed'] as const) {
      const { b, v, k, buf } = exported(p);
      const att = k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k));
      const r = k.dmabuf.mapInterconnect(att);
      let done = false;
      const reset = b.dev.vfioDeviceReset(v.device).then(() => (done = true));
      await Promise.resolve();
      await Promise.resolve();
      expect(done).toBe(p === 'rfc-v1');
      k.dmabuf.unmapInterconnect(att, r);
      await reset;
    }
  });
});

describe('import after the VFIO device was closed (finding 6)', () => {
  /** A child exports VF0's BAR 2, closes its VFIO device (the permanent revoke), then imports the buffer. */
  function closedThenImported(profile: Profile, node: string) {
    const parent = mock({ profile });
    enableVfs(parent, 2, [0, 1]);
    const child = parent.kernel.spawnProcess('scenario');
    const v = openVfio(child);
    const fd = exportBar2(child, v.device);
    child.dev.close(v.device);
    const importer = child.dev.open(node, O.RDWR);
    return { parent, child, fd, importer };
  }

  it('rfc-v1: vfio_pci_match_interconnects reads the NULL priv->vdev: an oops that kills the importing task, whatever the importer', () => {
    for (const node of ['/dev/dri/renderD128', '/dev/dri/renderD129']) {
      const { parent, child, fd, importer } = closedThenImported('rfc-v1', node);
      expect(() => child.dev.drmPrimeFdToHandle(importer, fd)).toThrow(
        expect.objectContaining({ name: 'TaskKilledError', reason: 'oops: BUG: kernel NULL pointer dereference' }),
      );
      const log = parent.fs.readRecords('/dev/kmsg').join('');
      expect(log).toContain('RIP: 0010:vfio_pci_dma_buf_attach+0x12/0x70 [vfio_pci_core]');
      expect(parent.kernel.taint & (1 << 7)).not.toBe(0);
      // only the thread died: the process keeps the buffer and its importer file until it is killed
      expect(parent.kernel.live()).toMatchObject({ processes: 2, dmabufs: 1, attachments: 0 });
      child.close();
      expect(parent.kernel.live()).toMatchObject({ processes: 1, dmabufs: 0, attachments: 0, drmFiles: 0 });
    }
  });

  it('fixed and upstream refuse the import with ENODEV and the task goes on', () => {
    for (const p of ['fixed', 'upstream-7.1'] as const) {
      const { parent, child, fd, importer } = closedThenImported(p, '/dev/dri/renderD128');
      expectErrno(() => child.dev.drmPrimeFdToHandle(importer, fd), 'ENODEV');
      expect(parent.kernel.taint).toBe(0);
      expect(child.dev.open('/dev/null', O.RDWR)).toBeGreaterThan(2);
    }
  });
});

describe('observability', () => {
  it('bufinfo lists objects, attached devices and totals in the debugfs layout', () => {
    const { b, k, buf, fd } = exported('fixed');
    b.dev.dmaBufSetName(fd, 'iovh-test');
    k.dmabuf.attach(buf, PF, k.pci.device(PF)!, xeLike(k));
    const text = b.fs.readText('/sys/kernel/debug/dma_buf/bufinfo');
    expect(text).toBe(
      '\nDma-buf Objects:\n' +
        'size    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n' +
        `02097152\t00000002\t00080003\t00000001\tvfio_pci_core\t${String(buf.ino).padStart(8, '0')}\tiovh-test\n` +
        '\tAttached Devices:\n' +
        `\t${PF}\n` +
        'Total 1 devices attached\n\n' +
        '\nTotal 1 objects, 2097152 bytes\n',
    );
  });

  it('fdinfo of a dma-buf and of a vfio device fd; /proc/self/fd links', () => {
    const { b, v, fd, buf } = exported('fixed');
    expect(b.fs.readText(`/proc/self/fdinfo/${fd}`)).toBe(
      `pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t${buf.ino}\nsize:\t2097152\ncount:\t1\nexp_name:\tvfio_pci_core\n`,
    );
    b.dev.dmaBufSetName(fd, 'x');
    expect(b.fs.readText(`/proc/self/fdinfo/${fd}`)).toMatch(/\nname:\tx\n$/);
    expect(b.fs.readText(`/proc/self/fdinfo/${v.device}`)).toMatch(
      /\nvfio-device-syspath: \/sys\/devices\/pci0000:00\/.*\/0000:03:00\.1\n$/,
    );
    expect(b.fs.readlink(`/proc/self/fd/${fd}`)).toBe('/dmabuf:x');
    expect(b.fs.readlink(`/proc/self/fd/${v.device}`)).toBe('anon_inode:[vfio-device]');
    expect(b.fs.readlink(`/proc/self/fd/${v.group}`)).toBe('/dev/vfio/14');
    expect(b.fs.readdir('/proc/self/fd')).toEqual(
      ['0', '1', '2', ...[v.container, v.group, v.device, fd].map(String)].sort(),
    );
  });

  it('dma-buf ioctls: SET_NAME up to 31 bytes, SYNC flags checked, no mmap for vfio_pci_core', () => {
    const { b, fd } = exported('fixed');
    expectErrno(() => b.dev.dmaBufSetName(fd, 'n'.repeat(32)), 'EINVAL');
    b.dev.dmaBufSetName(fd, 'n'.repeat(31));
    b.dev.dmaBufSync(fd, DMA_BUF.SYNC_START | DMA_BUF.SYNC_RW);
    expectErrno(() => b.dev.dmaBufSync(fd, 0n), 'EINVAL');
    expectErrno(() => b.dev.dmaBufSync(fd, 8n | DMA_BUF.SYNC_READ), 'EINVAL');
    expectErrno(() => b.dev.mmap(fd, 0n, 4096, PROT.READ), 'EINVAL');
  });
});

describe('udmabuf and vgem (research/qemu-ci.md)', () => {
  function udmabuf(b: ReturnType<typeof mock>, size = 1n << 20n) {
    const memfd = b.dev.memfdCreate('iovh', MFD.ALLOW_SEALING | MFD.CLOEXEC);
    b.dev.ftruncate(memfd, size);
    b.dev.addSeals(memfd, F_SEAL.SHRINK);
    const dev = b.dev.open('/dev/udmabuf', O.RDWR);
    return { memfd, dev, buf: b.dev.udmabufCreate(dev, { memfd, offset: 0n, size }) };
  }

  it('a sealed memfd exports as udmabuf; vgem imports it and gets the same handle twice', () => {
    const b = mock();
    const { buf } = udmabuf(b);
    expect(b.fs.readText(`/proc/self/fdinfo/${buf}`)).toContain('exp_name:\tudmabuf');
    const vgem = b.dev.open('/dev/dri/renderD129', O.RDWR);
    expect(b.dev.drmVersion(vgem).name).toBe('vgem');
    const h = b.dev.drmPrimeFdToHandle(vgem, buf);
    expect(b.dev.drmPrimeFdToHandle(vgem, buf)).toBe(h);
    const again = b.dev.drmPrimeHandleToFd(vgem, h, 0);
    expect(b.fs.readText(`/proc/self/fdinfo/${again}`)).toContain('exp_name:\tudmabuf');
    b.dev.drmGemClose(vgem, h);
    expectErrno(() => b.dev.drmGemClose(vgem, h), 'EINVAL');
    expectErrno(() => b.dev.drmSyncobjCreate(vgem, 0), 'EOPNOTSUPP');
    expectErrno(() => b.dev.xeVmCreate(vgem, 0), 'EINVAL');
  });

  it('udmabuf rules: F_SEAL_SHRINK required, page alignment, within the memfd; memfd seals and truncation', () => {
    const b = mock();
    const dev = b.dev.open('/dev/udmabuf', O.RDWR);
    const memfd = b.dev.memfdCreate('m', MFD.ALLOW_SEALING);
    b.dev.ftruncate(memfd, 8192n);
    expectErrno(() => b.dev.udmabufCreate(dev, { memfd, offset: 0n, size: 4096n }), 'EINVAL'); // not sealed
    b.dev.addSeals(memfd, F_SEAL.SHRINK);
    expectErrno(() => b.dev.udmabufCreate(dev, { memfd, offset: 0n, size: 100n }), 'EINVAL');
    expectErrno(() => b.dev.udmabufCreate(dev, { memfd, offset: 4096n, size: 8192n }), 'EINVAL');
    // udmabuf_create ignores flag bits beyond CLOEXEC, and a file that is not shmem is EBADFD (check_memfd_seals).
    b.dev.close(b.dev.udmabufCreate(dev, { memfd, offset: 0n, size: 4096n, flags: 2 }));
    expectErrno(() => b.dev.udmabufCreate(dev, { memfd: dev, offset: 0n, size: 4096n }), 'EBADFD');
    expectErrno(() => b.dev.udmabufCreate(dev, { memfd: 999, offset: 0n, size: 4096n }), 'EBADFD');
    expectErrno(() => b.dev.ftruncate(memfd, 4096n), 'EPERM');
    b.dev.addSeals(memfd, F_SEAL.SEAL);
    expectErrno(() => b.dev.addSeals(memfd, F_SEAL.GROW), 'EPERM');
    const plain = b.dev.memfdCreate('p', 0);
    expectErrno(() => b.dev.addSeals(plain, F_SEAL.SHRINK), 'EPERM'); // no MFD_ALLOW_SEALING: F_SEAL_SEAL
    expectErrno(() => b.dev.ftruncate(dev, 0n), 'EINVAL');
    expectErrno(() => b.dev.memfdCreate('x', 0x100), 'EINVAL');
    expect(b.fs.readlink(`/proc/self/fd/${memfd}`)).toBe('/memfd:m (deleted)');
  });

  it('memfd: MFD_NOEXEC_SEAL allows sealing, F_SEAL_EXEC on an executable memfd adds the write seals; vgem caps', () => {
    const b = mock();
    // memfd_alloc_file: NOEXEC_SEAL clears F_SEAL_SEAL even without ALLOW_SEALING.
    const noexec = b.dev.memfdCreate('n', 0x8);
    b.dev.addSeals(noexec, F_SEAL.SHRINK);
    expectErrno(() => b.dev.addSeals(b.dev.memfdCreate('p', 0), F_SEAL.SHRINK), 'EPERM');
    // memfd_add_seals: F_SEAL_EXEC (0x20) on a mode 0777 memfd implies SHRINK|GROW|WRITE|FUTURE_WRITE.
    const x = b.dev.memfdCreate('x', MFD.ALLOW_SEALING | 0x10);
    b.dev.ftruncate(x, 8192n);
    b.dev.addSeals(x, 0x20);
    expectErrno(() => b.dev.ftruncate(x, 4096n), 'EPERM');
    expectErrno(() => b.dev.ftruncate(x, 16384n), 'EPERM');
    // ... but not on a NOEXEC_SEAL one (already 0666).
    b.dev.ftruncate(noexec, 16384n);
    b.dev.addSeals(noexec, 0x20);
    b.dev.ftruncate(noexec, 32768n);
    // drm_getcap: vgem has no DRIVER_MODESET, so any capability but the four common ones is EOPNOTSUPP.
    const vgem = b.dev.open('/dev/dri/renderD129', O.RDWR);
    expect(b.dev.drmGetCap(vgem, 6n)).toBe(1n);
    expectErrno(() => b.dev.drmGetCap(vgem, 1n), 'EOPNOTSUPP');
    expectErrno(() => b.dev.drmGetCap(vgem, 0x99n), 'EOPNOTSUPP');
  });

  it('bytes written through the memfd mapping are the udmabuf pages the importer maps', () => {
    const b = mock();
    const { memfd, buf } = udmabuf(b, 8192n);
    const m = b.dev.mmap(memfd, 0n, 8192, PROT.READ | PROT.WRITE);
    m.write(4096, Uint8Array.from([5, 6, 7, 8]));
    const k = b.kernel.platform;
    const att = k.dmabuf.attach(k.dmabuf.get(buf), 'vgem', null, { allowPeer2peer: false });
    const sgt = k.dmabuf.mapAttachment(att);
    const addr = sgt.entries[0]!.address;
    expect(k.bus.classify(addr)).toBe('ram');
    let off = 4096n;
    let at = addr;
    for (const e of sgt.entries) {
      if (off < e.length) {
        at = e.address + off;
        break;
      }
      off -= e.length;
    }
    expect(k.bus.read(at, 4)).toEqual(Uint8Array.from([5, 6, 7, 8]));
    const dm = b.dev.mmap(buf, 0n, 8192, PROT.READ);
    expect(dm.read(4096, 4)).toEqual(Uint8Array.from([5, 6, 7, 8]));
  });

  it('vgem refuses the vfio dma-buf with EOPNOTSUPP at PRIME import', () => {
    const { b, fd } = exported('rfc-v1');
    const vgem = b.dev.open('/dev/dri/card1', O.RDWR);
    const e = expectErrno(() => b.dev.drmPrimeFdToHandle(vgem, fd), 'EOPNOTSUPP');
    expect(e.request).toBe('DRM_IOCTL_PRIME_FD_TO_HANDLE');
    expect(b.kernel.live().attachments).toBe(0);
    expectErrno(() => b.dev.drmPrimeFdToHandle(vgem, 999), 'EBADF');
    expectErrno(() => b.dev.drmPrimeFdToHandle(vgem, vgem), 'EINVAL');
    void VF0;
  });
});
