// Revoke triggers from another process (src/harness/catalog/revoke.ts): the
// trigger process and what /proc says of it on the mock, the stuck-task
// readers, and the verdicts per profile: upstream-7.1 waits for the stand-in's
// deferred unmap (bug deferred-unmap-hang, the trigger found in D state in
// vfio_pci_dma_buf_move, completed once the import is released), 7.0 does
// not wait, and iommufd as the importer completes on every profile.
import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/mock/backend.js';
import { O } from '../../src/uapi/constants.js';
import { hungTaskReports, parseStat, readTask } from '../../src/harness/stuck.js';
import { runOn } from './evidence-helpers.js';
import { declareTopology } from './declared.js';
import { defaultTopology } from '../../src/mock/topology.js';

/** The default mock machine with its VFs enabled and bound to vfio-pci at boot. */
const machine = (profile: 'upstream-7.0' | 'upstream-7.1') =>
  createMockBackend({ profile, topology: declareTopology(defaultTopology())!.topology });

/** /proc of process 151 as `files` (path -> text) and its threads `tids`; each read path is pushed to `reads`. */
function procFs(files: Record<string, string>, tids: string[], reads: string[] = []): Parameters<typeof readTask>[0] {
  return {
    readText: (p: string) => {
      reads.push(p);
      if (!(p in files)) throw Object.assign(new Error(p), { code: 'ENOENT' });
      return files[p]!;
    },
    readdir: (p: string) => (p === '/proc/151/task' ? tids : []),
  } as unknown as Parameters<typeof readTask>[0];
}

describe('the stuck-task readers', () => {
  it('reads the state after the last parenthesis of /proc/<pid>/stat (a comm may hold both)', () => {
    expect(parseStat('4245 (iovh-trigger) D 1 4245 4245 0 -1')).toEqual({ comm: 'iovh-trigger', state: 'D' });
    expect(parseStat('7 (a) b) (c) S 1')).toEqual({ comm: 'a) b) (c', state: 'S' });
    expect(parseStat('garbage')).toBeNull();
  });

  it('reports the thread asleep in the kernel when it is not the main one (a libuv worker running VFIO_DEVICE_RESET)', () => {
    const files: Record<string, string> = {
      '/proc/151/stat': '151 (node) Z 1 151 151 0 -1',
      '/proc/151/task/151/stat': '151 (node) Z 1 151 151 0 -1',
      '/proc/151/task/155/stat': '155 (libuv-worker) D 1 151 151 0 -1',
      '/proc/151/task/155/wchan': 'vfio_pci_dma_buf_move',
      '/proc/151/task/155/stack': '[<0>] vfio_pci_dma_buf_move+0x1c2/0x610\n[<0>] vfio_pci_core_ioctl+0xc48/0x1500\n',
    };
    expect(readTask(procFs(files, ['151', '155']), 151)).toEqual({
      pid: 151,
      comm: 'libuv-worker',
      state: 'D',
      wchan: 'vfio_pci_dma_buf_move',
      stack: ['vfio_pci_dma_buf_move+0x1c2/0x610', 'vfio_pci_core_ioctl+0xc48/0x1500'],
    });
  });

  it('reads wchan and stack of the reported task only, not of the threads that run (it is polled)', () => {
    const files: Record<string, string> = {
      '/proc/151/stat': '151 (node) S 1 151 151 0 -1',
      '/proc/151/wchan': 'do_epoll_wait',
      '/proc/151/stack': '[<0>] do_epoll_wait+0x4c0/0x5a0\n',
    };
    const tids = ['151'];
    for (let t = 152; t < 164; t++) {
      tids.push(String(t));
      files[`/proc/151/task/${t}/stat`] = `${t} (node) S 1 151 151 0 -1`;
      files[`/proc/151/task/${t}/wchan`] = 'futex_wait_queue';
      files[`/proc/151/task/${t}/stack`] = '[<0>] futex_wait_queue+0x60/0x90\n';
    }
    const reads: string[] = [];
    expect(readTask(procFs(files, tids, reads), 151)).toEqual({
      pid: 151,
      comm: 'node',
      state: 'S',
      wchan: 'do_epoll_wait',
      stack: ['do_epoll_wait+0x4c0/0x5a0'],
    });
    expect(reads.filter((p) => /\/(wchan|stack)$/.test(p))).toEqual(['/proc/151/wchan', '/proc/151/stack']);
  });

  it("finds the hung-task detector's report of one pid only", () => {
    const log = [
      'INFO: task iovh-trigger:4245 blocked for more than 30 seconds.',
      'INFO: task node:42 blocked for more than 30 seconds.',
      'INFO: task iovh-trigger:42450 blocked for more than 30 seconds.',
    ];
    expect(hungTaskReports(log, 4245)).toEqual([log[0]]);
  });
});

describe('a process of the mock kernel that inherits fds', () => {
  it('gets the same open files at 3, 4, ... and /proc shows it running, its stat, wchan and stack', () => {
    const b = createMockBackend({ profile: 'upstream-7.1' });
    try {
      const fd = b.dev.open('/dev/null', O.RDWR | O.CLOEXEC);
      const child = b.spawnProcess('iovh-trigger', [fd]);
      expect(b.fs.readlink(`/proc/${child.pid}/fd/3`)).toBe('/dev/null');
      expect(readTask(b.fs, child.pid)).toMatchObject({ comm: 'iovh-trigger', state: 'R', wchan: null, stack: [] });
      // The file stays open while one of the two holds it.
      b.dev.close(fd);
      expect(b.fs.readlink(`/proc/${child.pid}/fd/3`)).toBe('/dev/null');
      expect(() => b.spawnProcess('x', [fd])).toThrow(/to inherit is not open/);
      child.close();
      expect(readTask(b.fs, child.pid)).toBeNull();
    } finally {
      b.close();
    }
  });
});

describe('revoke triggers from another process', () => {
  const triggers = ['reset', 'flr', 'memory', 'close'];

  it('upstream-7.1: each waits for the deferred unmap, found in D state in vfio_pci_dma_buf_move, a failure naming the bug', async () => {
    const run = await runOn(
      machine('upstream-7.1'),
      triggers.map((t) => `bugs/revoke-hang-${t}`),
    );
    for (const r of run.scenarios.slice(1)) {
      expect(r.status, `${r.id}: ${r.reason}`).toBe('fail');
      expect(r.bugs.map((b) => b.id)).toEqual(['deferred-unmap-hang']);
      expect(r.reason).toMatch(/^revoke never completed: vfio waits for xe's unmap/);
      expect(r.reason).not.toMatch(/timeout|timed out/);
      expect(r.evidence.stuck).toMatchObject({ state: 'D', wchan: 'vfio_pci_dma_buf_move' });
      expect(r.bugs[0]!.evidence).toMatch(/task iovh-trigger:\d+ is in state D in vfio_pci_dma_buf_move/);
      // Released, the import lets the revoke finish: nothing is left stuck, so no reboot is needed.
      expect(r.evidence.afterRelease).toMatchObject({ code: 'ok' });
      expect(r.evidence.rebootNeeded).toBeUndefined();
    }
    // A synchronous system call that sleeps is what the hung-task detector reports (the mock's clock jumps).
    expect(run.scenarios.find((r) => r.id === 'bugs/revoke-hang-close')!.evidence.hungTask).toMatch(
      /^INFO: task iovh-trigger:\d+ blocked for more than/,
    );
  });

  it('upstream-7.0: the revoke does not wait, every trigger completes', async () => {
    const run = await runOn(
      machine('upstream-7.0'),
      triggers.map((t) => `bugs/revoke-hang-${t}`),
    );
    for (const r of run.scenarios.slice(1)) expect(r.status, `${r.id}: ${r.reason}`).toBe('pass');
  });

  it('iommufd importing (the positive control): every trigger completes on upstream-7.1', async () => {
    const run = await runOn(
      machine('upstream-7.1'),
      triggers.map((t) => `iommufd/revoke-trigger-${t}`),
    );
    for (const r of run.scenarios.slice(1)) {
      expect(r.status, `${r.id}: ${r.reason}`).toBe('pass');
      expect(r.evidence.triggerResult).toMatchObject({ code: 'ok' });
    }
  });

  it('D3hot skips where the VF has no PM capability, naming the shape', async () => {
    const run = await runOn(machine('upstream-7.1'), ['bugs/revoke-hang-d3hot']);
    const r = run.scenarios[1]!;
    expect(r.status).toBe('skip');
    expect(r.skip?.capability).toBe('shape');
    expect(r.reason).toMatch(/no PM capability/);
  });
});
