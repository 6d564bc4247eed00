// The native backend's FileOps against a fixture tree under a temporary root
// (files, directories, relative symlinks as sysfs has them), and its device
// bookkeeping. Nothing here touches the machine's /sys or /dev.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backend/native.js';
import type { Backend } from '../../src/backend/types.js';
import { SystemError } from '../../src/uapi/errors.js';
import { O } from '../../src/uapi/constants.js';
import { itNative } from '../core/support.js';
import { scratchDir } from '../support/scratch.js';

let root: string;
let backend: Backend;

beforeAll(() => {
  root = scratchDir('iovh-root-');
  const dev = join(root, 'sys/devices/pci0000:00/0000:00:01.0/0000:03:00.0');
  mkdirSync(join(dev, 'virtfn0-dir'), { recursive: true });
  mkdirSync(join(root, 'sys/bus/pci/devices'), { recursive: true });
  mkdirSync(join(root, 'sys/kernel/iommu_groups/12'), { recursive: true });
  writeFileSync(join(dev, 'sriov_numvfs'), '2\n');
  writeFileSync(join(dev, 'vendor'), '0x8086\n');
  // Relative links, like the kernel's: devices/<bdf> -> ../../../devices/..., iommu_group -> ../../kernel/iommu_groups/N
  symlinkSync('../../../devices/pci0000:00/0000:00:01.0/0000:03:00.0', join(root, 'sys/bus/pci/devices/0000:03:00.0'));
  symlinkSync('../../../../kernel/iommu_groups/12', join(dev, 'iommu_group'));
  symlinkSync('does-not-exist', join(dev, 'dangling'));
  mkdirSync(join(root, 'sys/kernel/tracing'), { recursive: true });
  writeFileSync(join(root, 'sys/kernel/tracing/kprobe_events'), 'p:old foo\n');
  writeFileSync(join(root, 'secret'), 'x');
  chmodSync(join(root, 'secret'), 0o000);
  mkdirSync(join(root, 'dev'));
  backend = createNativeBackend({ root, reason: 'fixture' });
});

afterAll(() => {
  backend.close();
  rmSync(root, { recursive: true, force: true });
});

function caught(f: () => unknown): SystemError {
  try {
    f();
  } catch (e) {
    if (e instanceof SystemError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('native FileOps under a root', () => {
  it('names itself and keeps the reason', () => {
    expect(backend.traits.name).toBe('native');
    expect(backend.reason).toBe('fixture');
  });

  it('reads files through relative symlinks, as text and as bytes', () => {
    expect(backend.fs.readText('/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs')).toBe('2\n');
    expect([...backend.fs.readFile('/sys/bus/pci/devices/0000:03:00.0/vendor')]).toEqual([...Buffer.from('0x8086\n')]);
  });

  it('returns link text as stored, lists directories, stats with and without following links', () => {
    expect(backend.fs.readlink('/sys/bus/pci/devices/0000:03:00.0/iommu_group')).toBe(
      '../../../../kernel/iommu_groups/12',
    );
    expect(backend.fs.readdir('/sys/bus/pci/devices')).toEqual(['0000:03:00.0']);
    expect(backend.fs.lstat('/sys/bus/pci/devices/0000:03:00.0').kind).toBe('link');
    expect(backend.fs.stat('/sys/bus/pci/devices/0000:03:00.0').kind).toBe('dir');
    const f = backend.fs.stat('/sys/bus/pci/devices/0000:03:00.0/vendor');
    expect(f).toMatchObject({ kind: 'file', size: 7 });
    expect(f.mode & 0o777).toBe(0o644);
    expect(backend.fs.exists('/sys/bus/pci/devices/0000:03:00.0/iommu_group')).toBe(true);
    expect(backend.fs.exists('/sys/bus/pci/devices/0000:03:00.0/dangling')).toBe(false);
    expect(backend.fs.lstat('/sys/bus/pci/devices/0000:03:00.0/dangling').kind).toBe('link');
  });

  it('reports character devices with their major and minor', () => {
    // Not every container may mknod; /dev/null outside the root is the reference instead.
    const outside = createNativeBackend({ root: '/' });
    expect(outside.fs.stat('/dev/null')).toMatchObject({ kind: 'chardev', major: 1, minor: 3 });
    outside.close();
  });

  it('writes with one write(2): truncating by default, appending on request, never creating', () => {
    backend.fs.writeFile('/sys/kernel/tracing/kprobe_events', 'p:a bar\n', { append: true });
    expect(backend.fs.readText('/sys/kernel/tracing/kprobe_events')).toBe('p:old foo\np:a bar\n');
    backend.fs.writeFile('/sys/kernel/tracing/kprobe_events', '');
    expect(backend.fs.readText('/sys/kernel/tracing/kprobe_events')).toBe('');
    const e = caught(() => backend.fs.writeFile('/sys/bus/pci/devices/0000:03:00.0/no_such_attr', '1'));
    expect(e).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      syscall: 'open',
      path: '/sys/bus/pci/devices/0000:03:00.0/no_such_attr',
    });
    expect(backend.fs.exists('/sys/bus/pci/devices/0000:03:00.0/no_such_attr')).toBe(false);
  });

  it('makes and removes directories (tracefs instances, configfs)', () => {
    backend.fs.mkdir('/sys/kernel/tracing/instances-iovh');
    expect(backend.fs.stat('/sys/kernel/tracing/instances-iovh').kind).toBe('dir');
    expect(caught(() => backend.fs.mkdir('/sys/kernel/tracing/instances-iovh'))).toMatchObject({
      code: 'EEXIST',
      syscall: 'mkdir',
    });
    backend.fs.rmdir('/sys/kernel/tracing/instances-iovh');
    expect(caught(() => backend.fs.rmdir('/sys/kernel/tracing/instances-iovh'))).toMatchObject({
      code: 'ENOENT',
      syscall: 'rmdir',
    });
  });

  it('gives the kernel errno with the path as the caller named it (not the rooted one)', () => {
    expect(caught(() => backend.fs.readText('/sys/nope'))).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      path: '/sys/nope',
    });
    expect(caught(() => backend.fs.readdir('/sys/bus/pci/devices/0000:03:00.0/vendor'))).toMatchObject({
      code: 'ENOTDIR',
      path: '/sys/bus/pci/devices/0000:03:00.0/vendor',
    });
    expect(caught(() => backend.fs.readlink('/sys/bus/pci/devices/0000:03:00.0/vendor'))).toMatchObject({
      code: 'EINVAL',
      syscall: 'readlink',
    });
    expect(caught(() => backend.fs.readFile('/sys/bus/pci/devices'))).toMatchObject({ code: 'EISDIR' });
    expect(caught(() => backend.fs.readText('/sys/bus/pci/devices/0000:03:00.0/dangling'))).toMatchObject({
      code: 'ENOENT',
    });
    const e = caught(() => backend.fs.stat('/sys/nope'));
    expect(e.message).not.toContain(root);
  });

  it('is EACCES for an unreadable file when not root', (ctx) => {
    if (process.getuid?.() === 0)
      ctx.skip('running as root: permission bits do not apply (run the suite as a normal user to cover EACCES)');
    expect(caught(() => backend.fs.readText('/secret'))).toMatchObject({ code: 'EACCES', path: '/secret' });
  });

  it('refuses relative paths with a TypeError', () => {
    expect(() => backend.fs.readText('sys/bus')).toThrow(TypeError);
    expect(() => backend.dev.open('dev/null', O.RDWR)).toThrow(TypeError);
  });

  it('reads a whole file bigger than one read(2)', () => {
    const big = 'x'.repeat(200_000);
    writeFileSync(join(root, 'big'), big);
    expect(backend.fs.readText('/big')).toBe(big);
  });

  it('reads records one read(2) at a time until EAGAIN (the /dev/kmsg contract)', () => {
    // A FIFO we hold open for writing: reads return what was written, then EAGAIN.
    execFileSync('mkfifo', [join(root, 'dev/kmsg')]);
    const writer = openSync(join(root, 'dev/kmsg'), constants.O_RDWR | constants.O_NONBLOCK);
    try {
      writeSync(writer, '6,1,100,-;first\n');
      expect(backend.fs.readRecords('/dev/kmsg')).toEqual(['6,1,100,-;first\n']);
      expect(backend.fs.readRecords('/dev/kmsg')).toEqual([]);
    } finally {
      closeSync(writer);
    }
    expect(caught(() => backend.fs.readRecords('/dev/no-kmsg'))).toMatchObject({
      code: 'ENOENT',
      path: '/dev/no-kmsg',
    });
  });
});

describe('native devices under a root', () => {
  itNative('opens device nodes under the root and reports them by their unrooted path', () => {
    writeFileSync(join(root, 'dev/fake-node'), '');
    const fd = backend.dev.open('/dev/fake-node', O.RDWR);
    const e = caught(() => backend.dev.vfioGetApiVersion(fd));
    expect(e).toMatchObject({ code: 'ENOTTY', path: '/dev/fake-node', request: 'VFIO_GET_API_VERSION' });
    backend.dev.close(fd);
  });

  itNative('close() of the backend closes every fd still open, once', () => {
    const b = createNativeBackend({ root });
    const fds = [b.dev.open('/dev/fake-node', O.RDWR), b.dev.memfdCreate('iovh-close', 0)];
    for (const fd of fds) expect(() => fstatSync(fd)).not.toThrow();
    b.close();
    for (const fd of fds) expect(() => fstatSync(fd)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    b.close();
    // The numbers may belong to someone else now: an owner's late close() does nothing, other calls refuse.
    const reused = openSync('/dev/null', 'r');
    try {
      b.dev.close(reused);
      expect(() => fstatSync(reused)).not.toThrow();
      expect(() => b.dev.vfioGetApiVersion(reused)).toThrow(/native backend was closed/);
    } finally {
      closeSync(reused);
    }
  });
});
