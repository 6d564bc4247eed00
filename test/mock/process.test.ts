// Processes on one mock kernel (src/mock/process.ts, MockControl.spawnProcess):
// each has its own pid, fd table and /proc/<pid>; devices, sysfs and the log
// are shared; close() is that process's exit; an oops in a process's system
// call kills that process (TaskKilledError) and no other.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskKilledError } from '../../src/uapi/errors.js';
import { O, PROT, XE, vfioRegionOffset } from '../../src/uapi/constants.js';
import { XeDevice } from '../../src/uapi/xe.js';
import type { MockBackend } from '../../src/mock/backend.js';
import { enableVfs, expectErrno, exportBar2, GiB, groupOf, MiB, mock, openVfio, PF_DIR, VF0 } from './helpers.js';
import { scratchDir } from '../support/scratch.js';

const KILLED = { name: 'TaskKilledError', signal: 'SIGKILL', reason: 'oops: BUG: kernel NULL pointer dereference' };

/** rfc-v1 with VF1 unprovisioned (RFC quirk 4): the child's bind of its import oopses. */
function doomed(): {
  parent: MockBackend;
  child: MockBackend;
  bind: () => void;
  bar: ReturnType<MockBackend['dev']['mmap']>;
  device: number;
} {
  const parent = mock({ profile: 'rfc-v1' });
  parent.fs.writeFile(`${PF_DIR}/sriov_admin/vf2/profile/vram_quota`, String(GiB));
  enableVfs(parent, 2);
  const child = parent.kernel.spawnProcess('scenario');
  const v = openVfio(child);
  const fd = exportBar2(child, v.device);
  const bar = child.dev.mmap(v.device, vfioRegionOffset(2), 4096, PROT.READ | PROT.WRITE);
  const xe = XeDevice.open(child, '/dev/dri/renderD128');
  const imp = xe.primeImport(fd);
  const vm = xe.vmCreate(0);
  return {
    parent,
    child,
    bar,
    device: v.device,
    bind: () => vm.map(imp.handle, 0x1_0000_0000n, 2n * MiB, { patIndex: XE.PAT_INDEX_WB_2WAY_XE2 }),
  };
}

describe('spawnProcess', () => {
  it('a child has its own pid, /proc/self and fd table; devices and sysfs are shared', () => {
    const parent = mock();
    const child = parent.kernel.spawnProcess('worker');
    expect(child.kernel.pid).toBe(parent.kernel.pid + 1);
    expect(parent.fs.readlink('/proc/self')).toBe(String(parent.kernel.pid));
    expect(child.fs.readlink('/proc/self')).toBe(String(child.kernel.pid));
    expect(child.fs.readText('/proc/self/comm')).toBe('worker\n');
    expect(parent.fs.readText('/proc/self/comm')).toBe('node\n');
    const a = parent.dev.open('/dev/null', O.RDWR);
    const b = child.dev.open('/dev/vfio/vfio', O.RDWR);
    expect([a, b]).toEqual([3, 3]);
    expect(parent.fs.readlink('/proc/self/fd/3')).toBe('/dev/null');
    // the parent reads the child's fds through /proc/<pid> (what a runner's fd monitor needs)
    expect(parent.fs.readlink(`/proc/${child.kernel.pid}/fd/3`)).toBe('/dev/vfio/vfio');
    expect(parent.fs.readdir(`/proc/${child.kernel.pid}/fd`)).toEqual(['0', '1', '2', '3']);
    expect(child.fs.readText('/proc/self/fdinfo/3')).toMatch(/^pos:\t0\nflags:\t/);
    // sysfs writes of one are seen by the other
    enableVfs(child, 1);
    expect(parent.fs.readText(`${PF_DIR}/sriov_numvfs`)).toBe('1\n');
    expect(parent.kernel.live()).toMatchObject({ processes: 2, fds: 2 });
  });

  it("close() is the child's exit: its files are released with their effects, /proc/<pid> goes, the parent goes on", () => {
    const parent = mock();
    enableVfs(parent, 1);
    const child = parent.kernel.spawnProcess();
    const v = openVfio(child);
    exportBar2(child, v.device);
    // vfio allows one opener of a group: the parent waits for the child
    const group = `/dev/vfio/${groupOf(parent, VF0)}`;
    expectErrno(() => parent.dev.open(group, O.RDWR), 'EBUSY');
    const pid = child.kernel.pid;
    child.close();
    child.close();
    expect(parent.kernel.live()).toMatchObject({
      processes: 1,
      fds: 0,
      dmabufs: 0,
      vfioDevicesOpen: 0,
      vfioGroupsOpen: 0,
    });
    expect(parent.fs.exists(`/proc/${pid}`)).toBe(false);
    expect(openVfio(parent).device).toBeGreaterThan(2);
    expect(() => child.fs.readText('/proc/self/comm')).toThrow(/closed/);
  });

  it('operations and armed faults count over every process', () => {
    const parent = mock();
    const child = parent.kernel.spawnProcess();
    const before = parent.kernel.operations('open');
    parent.kernel.injectFault({ nth: 1, kind: 'open', errno: 'EIO' });
    expectErrno(() => child.dev.open('/dev/null', O.RDWR), 'EIO');
    expect(parent.kernel.operations('open')).toBe(before + 1);
    expect(child.kernel.operations('open')).toBe(before + 1);
  });

  it('only the backend createMockBackend made saves the state file; its close ends the children first', () => {
    const dir = scratchDir('iovh-proc-');
    const statePath = join(dir, 'state.json');
    const parent = mock({ statePath });
    enableVfs(parent, 1);
    const child = parent.kernel.spawnProcess();
    openVfio(child);
    const grandchild = child.kernel.spawnProcess();
    grandchild.dev.open('/dev/null', O.RDWR);
    child.close();
    expect(existsSync(statePath)).toBe(false);
    expect(parent.kernel.live()).toMatchObject({ processes: 2, vfioDevicesOpen: 0 });
    parent.close();
    expect(existsSync(statePath)).toBe(true);
    expect(parent.kernel.live()).toMatchObject({ processes: 0, fds: 0 });
    // pids do not repeat in the next invocation
    const next = mock({ statePath });
    expect(next.kernel.pid).toBe(grandchild.kernel.pid + 1);
  });
});

describe('an oops in process context ends the calling thread', () => {
  it('the call that oopsed and every later call of that process throw TaskKilledError; its files stay until it is killed', async () => {
    const { parent, child, bind, bar, device } = doomed();
    let thrown: unknown;
    try {
      bind();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(TaskKilledError);
    expect(thrown).toMatchObject(KILLED);
    expect(() => child.dev.open('/dev/null', O.RDWR)).toThrow(expect.objectContaining(KILLED));
    expect(() => child.fs.exists('/proc/self')).toThrow(expect.objectContaining(KILLED));
    // memory is gone with the task: a mapping it made cannot be touched, nor unmapped
    expect(() => bar.read(0, 8)).toThrow(expect.objectContaining(KILLED));
    expect(() => bar.unmap()).toThrow(expect.objectContaining(KILLED));
    // an async call answers through its promise
    await expect(child.dev.vfioDeviceReset(device)).rejects.toMatchObject(KILLED);
    // make_task_dead ends the thread only (kernel/exit.c do_exit): the process, its fds and its VFIO device live on.
    expect(parent.kernel.live()).toMatchObject({ processes: 2, vfioDevicesOpen: 1 });
    expect(parent.kernel.live().fds).toBeGreaterThan(0);
    expect(parent.fs.exists(`/proc/${child.kernel.pid}`)).toBe(true);
    expect(parent.fs.readText('/sys/kernel/oops_count')).toBe('1\n');
    // Killed (its close): the other threads die, exit_files releases everything.
    child.close();
    expect(parent.kernel.live()).toMatchObject({
      processes: 1,
      fds: 0,
      mappings: 0,
      vfioDevicesOpen: 0,
      drmFiles: 0,
      imports: 0,
    });
    expect(parent.fs.exists(`/proc/${child.kernel.pid}`)).toBe(false);
    expect(parent.fs.readText('/proc/sys/kernel/tainted')).toBe('128\n');
  });

  it('other processes go on: a sibling keeps its files and its calls work', () => {
    const { parent, bind } = doomed();
    const sibling = parent.kernel.spawnProcess();
    const fd = sibling.dev.open('/dev/null', O.RDWR);
    expect(() => bind()).toThrow(TaskKilledError);
    expect(sibling.fs.readlink(`/proc/self/fd/${fd}`)).toBe('/dev/null');
    expect(parent.fs.readRecords('/dev/kmsg').join('')).toMatch(/Oops: Oops: 0000 \[#1\]/);
    // The doomed process lives on, holding its files (VF0's device among them), until it is killed.
    expect(parent.kernel.live().processes).toBe(3);
    sibling.close();
    expect(() => openVfio(parent, VF0)).toThrow(expect.objectContaining({ code: 'EBUSY' }));
  });

  it('an oops outside any system call (no process context) kills nobody', () => {
    const b = mock();
    b.kernel.platform.kernel.oops('NULL pointer dereference', 'xe_bo_move+0x51e/0x9a0 [xe]');
    expect(b.fs.readText('/proc/sys/kernel/tainted')).toBe('128\n');
    expect(b.dev.open('/dev/null', O.RDWR)).toBe(3);
  });
});
