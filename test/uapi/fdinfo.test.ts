import { closeSync, fstatSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FdinfoParseError, parseDmaBufFdinfo, parseFdinfo } from '../../src/uapi/fdinfo.js';
import { createNativeBackend } from '../../src/backend/native.js';
import { itNative } from '../core/support.js';

// As dma_buf_show_fdinfo prints it after fs/proc/fd.c's header (docs/kernel.md §10).
const DMABUF =
  'pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t31337\nsize:\t2097152\ncount:\t2\nexp_name:\tvfio_pci_core\nname:\tiovh-r0\n';

describe('parseFdinfo', () => {
  it('reads the common header: octal flags, decimal numbers', () => {
    const f = parseFdinfo(DMABUF);
    expect(f.pos).toBe(0n);
    expect(f.flags).toBe(0o2000002);
    expect(f.mntId).toBe(16);
    expect(f.ino).toBe(31337);
    expect(f.fields.get('exp_name')).toBe('vfio_pci_core');
  });

  it('keeps keys with dashes and values with spaces (vfio device fds)', () => {
    const f = parseFdinfo(
      'pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1\nvfio-device-syspath: /sys/devices/pci0000:00/0000:00:02.0/0000:03:00.1\n',
    );
    expect(f.fields.get('vfio-device-syspath')).toBe('/sys/devices/pci0000:00/0000:00:02.0/0000:03:00.1');
  });

  it('rejects text that is not fdinfo', () => {
    expect(() => parseFdinfo('')).toThrow(FdinfoParseError);
    expect(() => parseFdinfo('pos:\t0\nflags:\t09\nmnt_id:\t1\nino:\t1\n')).toThrow(/base-8/);
    expect(() => parseFdinfo('pos:\tx\nflags:\t0\nmnt_id:\t1\nino:\t1\n')).toThrow(/pos/);
  });
});

describe('parseDmaBufFdinfo', () => {
  it('reads size, count, exporter and name', () => {
    const d = parseDmaBufFdinfo(DMABUF);
    expect(d).toMatchObject({ size: 2097152n, count: 2, expName: 'vfio_pci_core', name: 'iovh-r0', ino: 31337 });
  });

  it('has a null name when none was set', () => {
    expect(parseDmaBufFdinfo(DMABUF.replace('name:\tiovh-r0\n', '')).name).toBeNull();
  });

  it('refuses the fdinfo of a file that is not a dma-buf', () => {
    expect(() => parseDmaBufFdinfo('pos:\t0\nflags:\t02\nmnt_id:\t1\nino:\t5\n')).toThrow(/no 'size' line/);
  });

  itNative("parses this process's real fdinfo of a memfd (inode agrees with fstat)", () => {
    const b = createNativeBackend();
    const fd = b.dev.memfdCreate('iovh-fdinfo', 0);
    try {
      const f = parseFdinfo(b.fs.readText(`/proc/self/fdinfo/${fd}`));
      expect(f.ino).toBe(fstatSync(fd).ino);
      expect(f.flags & 3).toBe(2); // memfds are O_RDWR
      expect(() => parseDmaBufFdinfo(b.fs.readText(`/proc/self/fdinfo/${fd}`))).toThrow(FdinfoParseError);
    } finally {
      b.close();
    }
    expect(() => closeSync(fd)).toThrow();
  });
});
