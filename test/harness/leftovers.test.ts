// Kprobes and trace instances named after an iovh process (iovh_<pid>_<n>)
// that is no longer alive are removed: disabled, instance removed, probes
// deleted (a kprobe enabled anywhere cannot be deleted: EBUSY), and said in
// one line. Those of live processes, and this process's own, stay.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { describeRemoval, findLeftovers, leftoversCheck, removeStaleLeftovers } from '../../src/harness/leftovers.js';
import { iovh } from '../cli/run-cli.js';
import { scratchDir } from '../support/scratch.js';

const T = '/sys/kernel/tracing';

/** What a scenario process killed mid-scenario leaves: a probe defined, enabled in its own instance. */
function leaveProbes(p: MockBackend, session = 1): string {
  const name = `iovh_${p.kernel.pid}_${session}`;
  p.fs.writeFile(
    `${T}/kprobe_events`,
    `p:${name}/sgMap_e dma_buf_map_attachment\nr:${name}/match_r dma_buf_map_attachment ret=$retval\n`,
    { append: true },
  );
  p.fs.mkdir(`${T}/instances/${name}`);
  p.fs.writeFile(`${T}/instances/${name}/events/${name}/sgMap_e/enable`, '1');
  p.fs.writeFile(`${T}/instances/${name}/events/${name}/match_r/enable`, '1');
  return name;
}

describe('tracefs leftovers of dead iovh processes', () => {
  it('are removed, enabled or not; a live process keeps its own, and so does the caller', () => {
    const b = createMockBackend({ profile: 'fixed' });
    try {
      const dead = b.kernel.spawnProcess();
      const deadName = leaveProbes(dead);
      const deadPid = dead.kernel.pid;
      dead.close();
      const live = b.kernel.spawnProcess();
      const liveName = leaveProbes(live);
      const ownName = leaveProbes(b, 7);
      // A user's own probes in another group are none of iovh's business.
      b.fs.writeFile(`${T}/kprobe_events`, 'p:mine/sg dma_buf_map_attachment\n', { append: true });
      const r = removeStaleLeftovers(b.fs, b.kernel.pid)!;
      expect(r.failed).toEqual([]);
      expect(r.pids).toEqual([deadPid]);
      expect(r.removed).toEqual([`instance ${deadName}`, `kprobe group ${deadName} (2 probes)`]);
      expect(describeRemoval(r)).toBe(
        `removed tracefs leftovers of dead iovh process ${deadPid}: instance ${deadName}, kprobe group ${deadName} (2 probes)`,
      );
      const after = findLeftovers(b.fs, T);
      expect(after.instances.map((i) => i.name).sort()).toEqual([liveName, ownName].sort());
      expect(b.fs.readText(`${T}/kprobe_events`)).toMatch(/^p:mine\/sg /m);
      expect(b.fs.readText(`${T}/kprobe_events`)).not.toMatch(new RegExp(deadName));
      // Nothing left to do the second time.
      expect(describeRemoval(removeStaleLeftovers(b.fs, b.kernel.pid)!)).toBeNull();
      live.close();
    } finally {
      b.close();
    }
  });

  it('doctor: a warning saying what an earlier run left, then a pass', () => {
    const b = createMockBackend({ profile: 'fixed' });
    try {
      const dead = b.kernel.spawnProcess();
      const name = leaveProbes(dead);
      dead.close();
      expect(leftoversCheck(b.fs, b.kernel.pid)).toMatchObject({
        id: 'tracefs.leftovers',
        status: 'warn',
        detail: expect.stringContaining(`instance ${name}`),
      });
      expect(leftoversCheck(b.fs, b.kernel.pid)).toMatchObject({ status: 'pass' });
    } finally {
      b.close();
    }
  });

  it('iovh run removes what a dead run left on the same mock kernel, saying so in one line, before it starts', async () => {
    const state = join(scratchDir('iovh-leftovers-'), 'state.json');
    const first = createMockBackend({ profile: 'fixed', statePath: state });
    const dead = first.kernel.spawnProcess();
    const name = leaveProbes(dead);
    first.close();
    const r = await iovh(
      'run',
      '--backend',
      'mock',
      '--mock-state',
      state,
      '--filter',
      'export/single-range',
      '--allow-skips',
    );
    const lines = r.stdout.split('\n').filter((l) => /tracefs leftovers/.test(l));
    expect(lines).toEqual([
      `iovh: removed tracefs leftovers of dead iovh process ${name.split('_')[1]}: instance ${name}, kprobe group ${name} (2 probes)`,
    ]);
    const again = createMockBackend({ statePath: state });
    try {
      expect(findLeftovers(again.fs, T)).toMatchObject({ instances: [], probes: [] });
    } finally {
      again.close();
    }
  });
});
