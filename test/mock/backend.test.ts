// createMockBackend: options, fault injection, operation counts, process
// exit, the state file across invocations, and the sysfs snapshot.
import { readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMockBackend, MockConfigError } from '../../src/mock/backend.js';
import { O } from '../../src/uapi/constants.js';
import { enableVfs, expectErrno, exportBar2, GiB, kmsg, mock, openVfio, PF, PF_DIR, topology, VF0 } from './helpers.js';
import { scratchDir } from '../support/scratch.js';

const dir = scratchDir('iovh-mock-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fault injection', () => {
  it('fails the nth operation with the chosen errno, without its effect; counts every DeviceOps and FileOps call', () => {
    const b = mock();
    const n0 = b.kernel.operations();
    b.fs.readText(`${PF_DIR}/vendor`);
    b.dev.open('/dev/vfio/vfio', O.RDWR);
    expect(b.kernel.operations() - n0).toBe(2);
    expect(b.kernel.operations('open')).toBe(1);
    b.kernel.injectFault({ nth: 2, errno: 'EIO' });
    b.fs.readText(`${PF_DIR}/vendor`);
    const e = expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2'), 'EIO');
    expect(e.message).toContain('injected fault');
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('0\n'); // no effect
    expect(b.kernel.pendingFaults()).toBe(0);
  });

  it('the nth of one kind: other operations do not count; exists() reports false like fs.existsSync', () => {
    const b = mock();
    b.kernel.injectFault({ nth: 2, kind: 'open', errno: 'EMFILE' });
    b.fs.readText(`${PF_DIR}/vendor`);
    const c = b.dev.open('/dev/vfio/vfio', O.RDWR);
    b.fs.readdir('/dev');
    const e = expectErrno(() => b.dev.open('/dev/vfio/vfio', O.RDWR), 'EMFILE');
    expect(e.syscall).toBe('open');
    expect(e.path).toBe('/dev/vfio/vfio');
    b.kernel.injectFault({ nth: 1, kind: 'exists', errno: 'EACCES' });
    expect(b.fs.exists('/dev/vfio/vfio')).toBe(false);
    expect(b.fs.exists('/dev/vfio/vfio')).toBe(true);
    // close(2) reports the error but the fd is gone anyway
    b.kernel.injectFault({ nth: 1, kind: 'close', errno: 'EINTR' });
    expectErrno(() => b.dev.close(c), 'EINTR');
    expectErrno(() => b.dev.close(c), 'EBADF');
    expect(() => b.kernel.injectFault({ nth: 0, errno: 'EIO' })).toThrow(RangeError);
  });

  it('an injected ioctl error names the request; async operations reject', async () => {
    const b = mock();
    enableVfs(b, 1);
    const v = openVfio(b);
    b.kernel.injectFault({ nth: 1, kind: 'vfioDmaBufGet', errno: 'ENOMEM' });
    const e = expectErrno(() => exportBar2(b, v.device), 'ENOMEM');
    expect(e.request).toBe('VFIO_DEVICE_FEATURE');
    expect(b.kernel.live().dmabufs).toBe(0);
    b.kernel.injectFault({ nth: 1, errno: 'EIO' });
    await expect(b.dev.vfioDeviceReset(v.device)).rejects.toMatchObject({ code: 'EIO', request: 'VFIO_DEVICE_RESET' });
  });
});

describe('store faults: a sysfs attribute whose store fails, clamps or ignores a write', () => {
  const VF0_DIR = `/sys/bus/pci/devices/${VF0}`;

  it('errno: the nth write reaching the store fails with it and changes nothing; refused opens do not count', () => {
    const b = mock();
    // by the real path under /sys/devices: the write through the /sys/bus/pci/devices link is the same attribute
    const real = `/sys/devices/${b.fs.readlink(PF_DIR).replace(/^(\.\.\/)+devices\//, '')}/sriov_numvfs`;
    b.kernel.injectFault({ nth: 2, store: real, errno: 'ENOMEM' });
    expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_totalvfs`, '3'), 'EACCES'); // no store: refused at open
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0'); // the first write to it
    expect(b.kernel.pendingFaults()).toBe(1);
    const e = expectErrno(() => b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2'), 'ENOMEM');
    expect(e.syscall).toBe('write');
    expect(e.message).toContain('injected store fault');
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('0\n');
    expect(b.fs.exists(`${PF_DIR}/virtfn0`)).toBe(false);
    expect(b.kernel.pendingFaults()).toBe(0);
    b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('2\n');
  });

  it('takes: the store runs on another value; ignores: it returns success having done nothing', () => {
    const b = mock();
    const quota = `${PF_DIR}/sriov_admin/vf1/profile/vram_quota`;
    b.kernel.injectFault({ nth: 1, store: quota, takes: String(512n << 20n) });
    b.fs.writeFile(quota, String(2n * GiB));
    expect(b.fs.readText(quota)).toBe(`${512n << 20n}\n`);
    enableVfs(b, 1, []);
    // armed before the VF's attribute exists: it is resolved at the write
    b.kernel.injectFault({ nth: 1, store: `${VF0_DIR}/driver_override`, ignores: true });
    b.fs.writeFile(`${VF0_DIR}/driver_override`, 'vfio-pci');
    expect(b.fs.readText(`${VF0_DIR}/driver_override`)).toBe('(null)\n');
    b.fs.writeFile(`${VF0_DIR}/driver_override`, 'vfio-pci');
    expect(b.fs.readText(`${VF0_DIR}/driver_override`)).toBe('vfio-pci\n');
  });

  it('refuses a fault that says neither or two of errno, takes, ignores; clearFaults drops store faults too', () => {
    const b = mock();
    const attr = `${PF_DIR}/sriov_numvfs`;
    expect(() => b.kernel.injectFault({ nth: 1, store: attr })).toThrow(RangeError);
    expect(() => b.kernel.injectFault({ nth: 1, store: attr, errno: 'EIO', ignores: true })).toThrow(RangeError);
    expect(() => b.kernel.injectFault({ nth: 0, store: attr, errno: 'EIO' })).toThrow(RangeError);
    b.kernel.injectFault({ nth: 1, store: attr, errno: 'EIO' });
    b.kernel.clearFaults();
    expect(b.kernel.pendingFaults()).toBe(0);
    b.fs.writeFile(attr, '1');
  });
});

describe("quirks: the defects the kernel carries, replacing the profile's", () => {
  it('a profile without one of its defects, or with only some', () => {
    expect(mock({ profile: 'upstream-7.1' }).kernel.profile.has('deferred-unmap-hang')).toBe(true);
    const fixed = mock({ profile: 'upstream-7.1', quirks: [] }).kernel.profile;
    expect(fixed.has('deferred-unmap-hang')).toBe(false);
    const some = mock({ profile: 'fixed', quirks: ['contiguity'] }).kernel.profile;
    expect(some.has('contiguity')).toBe(true);
    expect(some.has('deferred-unmap-hang')).toBe(false);
    expect(some.name).toBe('fixed');
  });
});

describe('process exit and live counts', () => {
  it('close() releases every fd and mapping and leaves nothing live; further calls fail', () => {
    const b = mock();
    enableVfs(b, 1);
    const v = openVfio(b);
    const fd = exportBar2(b, v.device);
    const r = b.dev.open('/dev/dri/renderD128', O.RDWR);
    b.dev.drmPrimeFdToHandle(r, fd);
    b.dev.mmap(v.device, 2n << 40n, 4096, 3);
    const live = b.kernel.live();
    expect(live).toMatchObject({ fds: 5, dmabufs: 1, attachments: 1, vfioDevicesOpen: 1, mappings: 1, imports: 1 });
    b.close();
    expect(b.kernel.live()).toMatchObject({
      fds: 0,
      openFiles: 0,
      dmabufs: 0,
      attachments: 0,
      vfioDevicesOpen: 0,
      vfioGroupsOpen: 0,
      mappings: 0,
      bos: 0,
      pendingWaits: 0,
    });
    b.close();
    expect(() => b.fs.readText('/proc/version')).toThrow(/closed/);
  });

  it('a topology of 24 VFs and 16 GiB of VRAM holds only what was written', () => {
    const b = mock();
    enableVfs(b, 24, [0, 23]);
    const v = openVfio(b);
    const m = b.dev.mmap(v.device, 2n << 40n, 1 << 20, 3);
    m.fill(0, 1 << 20, 1n, 0n);
    expect(b.kernel.residentBytes()).toBeLessThanOrEqual(2 << 20);
    expect(b.fs.readText(`${PF_DIR}/sriov_admin/vf24/profile/vram_quota`).trim()).not.toBe('0');
  });
});

describe('Backend.sleep', () => {
  it('lets simulated time pass: the kernel clock jumps by the sleep, at once, and only on this kernel', async () => {
    const b = mock();
    const other = mock();
    const uptime = (x: typeof b) => Number(x.fs.readText('/proc/uptime').split(' ')[0]);
    const t0 = uptime(b);
    const o0 = uptime(other);
    await b.sleep!(6000);
    expect(uptime(b) - t0).toBeGreaterThanOrEqual(6);
    expect(uptime(b) - t0).toBeLessThan(6.1);
    expect(uptime(other) - o0).toBeLessThan(0.1);
    // a spawned process shares the clock
    const child = b.kernel.spawnProcess();
    await child.sleep!(1000);
    expect(uptime(b) - t0).toBeGreaterThanOrEqual(7);
    await expect(b.sleep!(-1)).rejects.toThrow(RangeError);
  });
});

describe('state file', () => {
  it('carries numvfs, overrides, bindings, quotas, taint, the log and tracefs probes across invocations', () => {
    const path = join(dir, 'state1.json');
    const a = createMockBackend({ statePath: path, profile: 'fixed' });
    a.fs.writeFile(`${PF_DIR}/sriov_admin/vf1/profile/vram_quota`, String(GiB));
    enableVfs(a, 2);
    a.fs.writeFile('/sys/kernel/tracing/kprobe_events', 'p:iovh/m dma_buf_map_interconnect');
    a.fs.writeFile('/dev/kmsg', 'iovh: marker one');
    a.kernel.platform.kernel.warn('x+0x0/0x10', '');
    const snap = a.kernel.snapshotSysfs();
    const open = openVfio(a);
    void open;
    a.close();
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, 'utf8')).toContain('"schema": "iovh-mock-state/1"');

    const b = createMockBackend({ statePath: path });
    expect(b.kernel.profile.name).toBe('fixed');
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('2\n');
    expect(b.fs.readlink(`/sys/bus/pci/devices/${VF0}/driver`)).toMatch(/vfio-pci$/);
    expect(b.fs.readText(`${PF_DIR}/sriov_admin/vf1/profile/vram_quota`)).toBe(`${GiB}\n`);
    expect(b.fs.readText('/sys/kernel/tracing/kprobe_events')).toBe('p:iovh/m dma_buf_map_interconnect\n');
    expect(kmsg(b)).toContain('iovh: marker one');
    expect(b.kernel.taint).toBe(512);
    // a new process: another pid, no fds, the same sysfs (the device was reset at close)
    expect(b.fs.readlink('/proc/self')).toBe('4243');
    expect(b.kernel.live().fds).toBe(0);
    const now = b.kernel.snapshotSysfs();
    expect([...now.entries()].filter(([k, v]) => snap.get(k) !== v)).toEqual([]);
    expect(now.size).toBe(snap.size);
    // the xe provisioning kept its blocks
    const k = b.kernel.platform;
    expect(k.xePf(k.pci.device(PF)!)!.lmemObj(1)!.size).toBe(GiB);
    b.close();
  });

  it('refuses a state made with another topology or profile, and a corrupt file, naming the field', () => {
    const path = join(dir, 'state2.json');
    createMockBackend({ statePath: path }).close();
    expect(() => createMockBackend({ statePath: path, profile: 'upstream-7.1' })).toThrow(
      /state file .*: profile: it was made with profile 'rfc-v1'/,
    );
    const other = topology((t) => (t.devices[0]!.sriov!.totalvfs = 8));
    expect(() => createMockBackend({ statePath: path, topology: other })).toThrow(
      /: topology: it was made with another topology/,
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"schema": "iovh-mock-state/1", "profile": "fixed"}');
    expect(() => createMockBackend({ statePath: bad })).toThrow(MockConfigError);
    expect(() => createMockBackend({ statePath: bad })).toThrow(/state file .*bad\.json: topology: expected an object/);
    writeFileSync(bad, 'not json');
    expect(() => createMockBackend({ statePath: bad })).toThrow(/bad\.json: \(file\): not valid JSON/);
  });

  it('a state file that could not be saved is refused when the backend opens, in one line, before anything runs (finding 11)', async () => {
    const missing = join(dir, 'no-such-dir', 'state.json');
    expect(() => createMockBackend({ statePath: missing })).toThrow(MockConfigError);
    expect(() => createMockBackend({ statePath: missing })).toThrow(
      `state file ${missing}: cannot be saved: its directory ${join(dir, 'no-such-dir')} does not exist`,
    );
    expect(() => createMockBackend({ statePath: dir })).toThrow(/^state file .*: it is a directory$/);
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expect(() => createMockBackend({ statePath: join(file, 'state.json') })).toThrow(
      `cannot be saved: ${file} is not a directory`,
    );
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    // what the CLI sees: a usage error (exit 2), not an internal error
    const { openBackend } = await import('../../src/backend/select.js');
    await expect(openBackend({ backend: 'mock', mockState: missing })).rejects.toMatchObject({
      name: 'BackendChoiceError',
      kind: 'input',
    });
  });

  it("a corrupt state file's error is one line, the JSON text around the error escaped", () => {
    const bad = join(dir, 'multiline.json');
    writeFileSync(bad, '{\n  "schema": x\n}\n');
    let message = '';
    try {
      createMockBackend({ statePath: bad });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/multiline\.json: \(file\): not valid JSON \(/);
    expect(message).toContain('\\n');
    expect(message).not.toMatch(/[\n\r]/);
  });

  it('restores provisioning made after re-enabling VFs and re-provisioning in one process', () => {
    const path = join(dir, 'state3.json');
    const step = (fn: (b: ReturnType<typeof createMockBackend>) => void) => {
      const b = createMockBackend({ statePath: path });
      fn(b);
      b.close();
    };
    step((b) => enableVfs(b, 4, []));
    step((b) => {
      b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
      b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '2');
      b.fs.writeFile(`${PF_DIR}/sriov_admin/vf1/profile/vram_quota`, String(2n * GiB));
    });
    step((b) => {
      expect(b.fs.readText(`${PF_DIR}/sriov_admin/vf1/profile/vram_quota`)).toBe(`${2n * GiB}\n`);
      b.fs.writeFile(`${PF_DIR}/sriov_numvfs`, '0');
    });
    step((b) => expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('0\n'));
  });

  it('writes atomically and loads a missing file as a fresh kernel', () => {
    const path = join(dir, 'fresh.json');
    const b = createMockBackend({ statePath: path });
    expect(b.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('0\n');
    b.close();
    expect(existsSync(`${path}.tmp-${process.pid}`)).toBe(false);
    JSON.parse(readFileSync(path, 'utf8'));
  });
});

describe('options', () => {
  it('an unknown profile or an invalid topology is a MockConfigError with a one-line message', () => {
    expect(() => createMockBackend({ profile: 'nope' as 'fixed' })).toThrow(MockConfigError);
    const t = topology((t) => (t.devices[0]!.bdf = '0000:3:00.0'));
    const e = (() => {
      try {
        createMockBackend({ topology: t });
      } catch (x) {
        return x as Error;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(MockConfigError);
    expect(e.message).toBe(
      'topology: devices[0].bdf: expected a BDF as the kernel names it, like "0000:03:00.0" or "10000:e0:00.0" (lowercase), got "0000:3:00.0"',
    );
    expect(e.message).not.toContain('\n');
  });

  it('loads a topology file; reason defaults to the profile', () => {
    const path = join(dir, 'topo.json');
    writeFileSync(path, JSON.stringify(topology((t) => (t.devices[0]!.sriov!.totalvfs = 4))));
    const b = createMockBackend({ topology: path, reason: 'because' });
    expect(b.reason).toBe('because');
    expect(b.traits.name).toBe('mock');
    expect(b.fs.readText(`${PF_DIR}/sriov_totalvfs`)).toBe('4\n');
    expect(createMockBackend().reason).toBe('mock kernel, profile rfc-v1');
    expect(() => createMockBackend({ topology: join(dir, 'missing.json') })).toThrow(
      /topology .*missing\.json: cannot read it \(ENOENT\)/,
    );
    void PF;
  });
});
