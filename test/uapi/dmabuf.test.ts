import { describe, expect, it } from 'vitest';
import { DmaBuf } from '../../src/uapi/dmabuf.js';
import { DMA_BUF, MFD, PROT } from '../../src/uapi/constants.js';
import { createNativeBackend } from '../../src/backend/native.js';
import { FakeBackend } from './fake-backend.js';
import { itNative } from '../core/support.js';

describe('DmaBuf', () => {
  it('names, syncs and maps through the backend and closes once', () => {
    const b = new FakeBackend({
      dmaBufSetName: () => undefined,
      dmaBufSync: () => undefined,
      mmap: () => ({}) as never,
    });
    const buf = new DmaBuf(b, b.newFd('dmabuf'), 'vfio 0000:03:00.1 region 2');
    buf.setName('iovh-r0');
    buf.beginCpuAccess();
    buf.endCpuAccess(DMA_BUF.SYNC_READ);
    buf.mmap(4096);
    buf.close();
    buf.close();
    expect(b.calls.map((c) => [c.op, ...c.args.slice(1)])).toEqual([
      ['dmaBufSetName', 'iovh-r0'],
      ['dmaBufSync', DMA_BUF.SYNC_START | DMA_BUF.SYNC_RW],
      ['dmaBufSync', DMA_BUF.SYNC_END | DMA_BUF.SYNC_READ],
      ['mmap', 0n, 4096, PROT.READ | PROT.WRITE],
      ['close'],
    ]);
    expect(buf.closed).toBe(true);
  });

  it('reads its fdinfo from /proc/self/fdinfo/<fd>', () => {
    const b = new FakeBackend({});
    const fd = b.newFd('dmabuf');
    b.fs.addFile(
      `/proc/self/fdinfo/${fd}`,
      'pos:\t0\nflags:\t02\nmnt_id:\t9\nino:\t44\nsize:\t8192\ncount:\t1\nexp_name:\tvfio_pci_core\n',
    );
    expect(new DmaBuf(b, fd, 'x').fdinfo()).toMatchObject({
      size: 8192n,
      expName: 'vfio_pci_core',
      name: null,
      ino: 44,
    });
  });

  itNative('on a real fd that is not a dma-buf, the kernel answers ENOTTY and fdinfo() says it is not one', () => {
    const b = createNativeBackend();
    try {
      const buf = new DmaBuf(b, b.dev.memfdCreate('iovh-notdmabuf', MFD.CLOEXEC), 'memfd');
      expect(() => buf.setName('x')).toThrow(
        expect.objectContaining({ code: 'ENOTTY', request: 'DMA_BUF_SET_NAME_B' }),
      );
      expect(() => buf.sync(DMA_BUF.SYNC_START | DMA_BUF.SYNC_RW)).toThrow(
        expect.objectContaining({ code: 'ENOTTY', request: 'DMA_BUF_IOCTL_SYNC' }),
      );
      expect(() => buf.fdinfo()).toThrow(/no 'size' line/);
      buf.close();
      buf.close();
    } finally {
      b.close();
    }
  });
});
