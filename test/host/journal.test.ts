import { existsSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BringupError } from '../../src/host/errors.js';
import { Journal, findStale, journalFile, stateDir } from '../../src/host/journal.js';
import type { Step } from '../../src/host/plan.js';
import { tempDir } from './helpers.js';

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
const mockTarget = { backend: 'mock' as const, where: '/tmp/state.json' };
const step: Step = {
  op: 'set',
  path: '/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs',
  kind: 'count',
  value: '2',
  before: '0',
  why: 'test',
};

function dir(): string {
  const d = tempDir('iovh-journal-');
  dirs.push(d);
  return d.path;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('journal', () => {
  it('lives in IOVH_STATE_DIR, else /var/lib/iovh as root, else $XDG_STATE_HOME/iovh', () => {
    expect(stateDir({ IOVH_STATE_DIR: '/x/y' }, 1000)).toBe('/x/y');
    expect(stateDir({}, 0)).toBe('/var/lib/iovh');
    expect(stateDir({ XDG_STATE_HOME: '/home/u/.state' }, 1000)).toBe('/home/u/.state/iovh');
    expect(stateDir({ XDG_STATE_HOME: 'relative' }, 1000)).toMatch(/\/\.local\/state\/iovh$/);
  });

  it('keys files by target, so a mock journal is never used for the real machine', () => {
    const d = dir();
    const a = journalFile(d, mockTarget);
    const b = journalFile(d, { backend: 'native', where: '/' });
    expect(a).not.toBe(b);
    expect(a).toMatch(/journal-mock-[0-9a-f]{16}\.jsonl$/);
    const j = Journal.open(d, mockTarget);
    j.begin('vfs enable');
    j.recordWrite(step, '0');
    j.end('ok');
    // Same file name, another target in its header: refused.
    writeFileSync(b, readFileSync(a));
    expect(() => Journal.open(d, { backend: 'native', where: '/' })).toThrow(
      /belongs to mock state \/tmp\/state.json, not this machine; refusing/,
    );
  });

  it('writes each record durably as it goes, and survives a cut last line', () => {
    const d = dir();
    const j = Journal.open(d, mockTarget);
    expect(existsSync(j.file!)).toBe(false);
    j.begin('vfs enable 0000:03:00.0 2');
    const seq = j.recordWrite(step, '0');
    expect(readFileSync(j.file!, 'utf8').trim().split('\n')).toHaveLength(3);
    appendFileSync(j.file!, '{"t":"write","sess');
    const again = Journal.open(d, mockTarget);
    expect(again.pending().map((r) => r.seq)).toEqual([seq]);
    appendFileSync(j.file!, '\n{"t":"end","session":1,"status":"ok"}\n');
    expect(() => Journal.open(d, mockTarget)).toThrow(BringupError);
    expect(() => Journal.open(d, mockTarget)).toThrow(/damaged at line 4/);
  });

  it('tracks what is pending across sessions and forgets it once undone', () => {
    const d = dir();
    const j = Journal.open(d, mockTarget);
    j.begin('a');
    const s1 = j.recordWrite(step, '0');
    j.end('ok');
    j.begin('b');
    const s2 = j.recordWrite({ ...step, value: '0', before: '2' }, '2');
    j.end('ok');
    expect(j.pending().map((r) => r.seq)).toEqual([s1, s2]);
    j.begin('restore');
    j.recordUndone(s2);
    j.recordUndone(s1);
    j.end('ok');
    expect(j.pending()).toEqual([]);
    expect(j.dropIfSettled()).toBe(true);
    expect(existsSync(j.file!)).toBe(false);
  });

  it('knows a session of a dead process is stale, and refuses to run beside a live one', () => {
    const d = dir();
    const j = Journal.open(d, mockTarget);
    j.begin('vfs enable 0000:03:00.0 2');
    j.recordWrite(step, '0');
    // Rewrite the begin record as if another process had written it.
    const dead = deadPid();
    const text = readFileSync(j.file!, 'utf8').replace(`"pid":${process.pid}`, `"pid":${dead}`);
    writeFileSync(j.file!, text);
    const stale = findStale(d);
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ target: mockTarget, writes: 1 });
    expect(stale[0]!.begin.command).toBe('vfs enable 0000:03:00.0 2');
    // The next session closes the stale one as interrupted; its writes stay pending.
    const k = Journal.open(d, mockTarget);
    k.begin('restore');
    expect(findStale(d)).toEqual([]);
    expect(k.pending()).toHaveLength(1);
    k.end('ok');
    // A live process (this test's parent) holding a session blocks others.
    const live =
      readFileSync(j.file!, 'utf8') +
      `${JSON.stringify({ t: 'begin', session: 9, pid: process.ppid, boot: null, command: 'setup x' })}\n`;
    writeFileSync(j.file!, live);
    expect(() => Journal.open(d, mockTarget).begin('vfs disable')).toThrow(
      /another iovh \(pid \d+, `iovh setup x`\) is changing mock state/,
    );
  });

  it('locks the target while a session is open; a lock left by a dead process is taken over', () => {
    const d = dir();
    const a = Journal.open(d, mockTarget);
    a.begin('vfs enable 0000:03:00.0 2');
    expect(existsSync(`${a.file!}.lock`)).toBe(true);
    a.end('ok');
    expect(existsSync(`${a.file!}.lock`)).toBe(false);
    // A live owner (this test's parent process) blocks; a dead one does not.
    writeFileSync(`${a.file!}.lock`, JSON.stringify({ pid: process.ppid, boot: null, command: 'setup lab.json' }));
    expect(() => Journal.open(d, mockTarget).begin('restore')).toThrow(
      /another iovh \(pid \d+, `iovh setup lab.json`\) is changing mock state/,
    );
    writeFileSync(`${a.file!}.lock`, JSON.stringify({ pid: deadPid(), boot: null, command: 'setup lab.json' }));
    const b = Journal.open(d, mockTarget);
    expect(b.begin('restore')).toBe(2);
    b.end('ok');
    // Locks are created whole (link(2) of a written file), so an empty one is no iovh's: it is not guessed
    // stale (before, it was, while another iovh may have been writing it), the message says how to clear it.
    writeFileSync(`${a.file!}.lock`, '');
    expect(() => Journal.open(d, mockTarget).begin('restore')).toThrow(
      `mock state /tmp/state.json is locked by ${a.file!}.lock, which is not an iovh lock (""); remove it if no iovh is running`,
    );
  });

  it('says where it could not keep the journal and how to fix it', () => {
    const j = Journal.open('/proc/iovh-cannot-exist', mockTarget);
    expect(() => j.begin('x')).toThrow(
      /cannot keep the bring-up journal in \/proc\/iovh-cannot-exist \(E[A-Z]+\); set IOVH_STATE_DIR/,
    );
  });
});
