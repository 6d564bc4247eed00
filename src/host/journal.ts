// The bring-up journal: what each write replaced, written durably before the
// write is made, so that `iovh restore` can put the machine back after a
// normal run, after Ctrl-C, and after the process was killed (anchors §(d).4;
// the kernel's VFIO selftests keep the same records in
// tools/testing/selftests/vfio/scripts/setup.sh).
//
// One JSON-lines file per target machine, in the state directory:
//   $IOVH_STATE_DIR, else /var/lib/iovh as root, else $XDG_STATE_HOME/iovh
//   (default ~/.local/state/iovh).
// The target is the backend and where it acts: `native` and its root
// directory, or `mock` and its --mock-state file. The file name is derived
// from it and its first line repeats it, so that a journal of a mock run is
// never replayed onto a real machine, nor the other way round.
//
// Records (one JSON object a line):
//   {"t":"journal","schema":"iovh-journal/1","target":{...}}
//   {"t":"begin","session":S,"pid":P,"boot":B,"command":"vfs enable ..."}
//   {"t":"write","session":S,"seq":N,"step":{...},"before":"<what it replaced>"}
//   {"t":"undone","seq":N}
//   {"t":"end","session":S,"status":"ok"|"failed"|"rolled-back"|"interrupted"}
// A session with a begin and no end belongs to a running iovh, or to one that
// died (stale); an end is written by every exit but a kill.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { MachineLocation } from '../backend/types.js';
import { BringupError } from './errors.js';
import type { Step } from './plan.js';
import { escapeControls } from './quote.js';

/** The machine a journal belongs to (Backend.traits.location). */
export type JournalTarget = MachineLocation;

export type SessionStatus = 'ok' | 'failed' | 'rolled-back' | 'interrupted';

export type JournalRecord =
  | { t: 'journal'; schema: 'iovh-journal/1'; target: JournalTarget }
  | { t: 'begin'; session: number; pid: number; boot: string | null; command: string }
  | { t: 'write'; session: number; seq: number; step: Step; before: string }
  | { t: 'undone'; seq: number }
  | { t: 'end'; session: number; status: SessionStatus };

export type WriteRecord = Extract<JournalRecord, { t: 'write' }>;
export type BeginRecord = Extract<JournalRecord, { t: 'begin' }>;

const SCHEMA = 'iovh-journal/1';

/** Where journals live (see the header of this file). */
export function stateDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | null = process.getuid ? process.getuid() : null,
): string {
  if (env.IOVH_STATE_DIR) return resolve(env.IOVH_STATE_DIR);
  if (uid === 0) return '/var/lib/iovh';
  const base = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'iovh');
}

export function targetLabel(t: JournalTarget): string {
  const where = escapeControls(t.where);
  return t.backend === 'native' ? (t.where === '/' ? 'this machine' : `native root ${where}`) : `mock state ${where}`;
}

export function journalFile(dir: string, t: JournalTarget): string {
  const h = createHash('sha256').update(`${t.backend}\0${t.where}`).digest('hex').slice(0, 16);
  return join(dir, `journal-${t.backend}-${h}.jsonl`);
}

/** This machine's boot id, so a pid from before a reboot is known dead. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null; // not Linux, or /proc not mounted: liveness falls back to the pid alone
  }
}

export function processAlive(pid: number, boot: string | null): boolean {
  const now = bootId();
  if (boot !== null && now !== null && boot !== now) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function isStep(v: unknown): v is Step {
  if (!isObj(v) || !isStr(v.why)) return false;
  if (v.op === 'set')
    return (
      isStr(v.path) &&
      ['bool', 'count', 'override', 'u64'].includes(v.kind as string) &&
      isStr(v.value) &&
      (v.before === null || isStr(v.before))
    );
  return ['unbind', 'probe', 'bind'].includes(v.op as string) && isStr(v.bdf) && isStr(v.driver);
}

/** A line that parses but is not one of our records (edited by hand, written by another tool) is damage too. */
function isRecord(v: unknown): v is JournalRecord {
  if (!isObj(v)) return false;
  switch (v.t) {
    case 'journal':
      return (
        isStr(v.schema) &&
        isObj(v.target) &&
        (v.target.backend === 'native' || v.target.backend === 'mock') &&
        isStr(v.target.where)
      );
    case 'begin':
      return isInt(v.session) && isInt(v.pid) && (v.boot === null || isStr(v.boot)) && isStr(v.command);
    case 'write':
      return isInt(v.session) && isInt(v.seq) && isStep(v.step) && isStr(v.before);
    case 'undone':
      return isInt(v.seq);
    case 'end':
      return isInt(v.session) && ['ok', 'failed', 'rolled-back', 'interrupted'].includes(v.status as string);
    default:
      return false;
  }
}

function parseRecords(file: string, text: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      // A kill can only cut the last line short (each record is one write(2)
      // followed by fsync); anything else is damage we must not guess about.
      if (i < lines.length - 2 || lines.slice(i + 1).some((l) => l.trim() !== '')) {
        throw new BringupError(`journal ${file} is damaged at line ${i + 1}; inspect it, then remove it to start over`);
      }
      return;
    }
    if (!isRecord(record))
      throw new BringupError(
        `journal ${file} is damaged at line ${i + 1} (not an iovh journal record); inspect it, then remove it to start over`,
      );
    out.push(record);
  });
  return out;
}

/** A journal in memory only: the mock without --mock-state forgets its kernel at exit, so there is nothing to restore later. */
export class Journal {
  private records: JournalRecord[];
  private session = 0;

  private constructor(
    readonly target: JournalTarget,
    /** null: kept in memory only */
    readonly file: string | null,
    records: JournalRecord[],
  ) {
    this.records = records;
  }

  static memory(target: JournalTarget): Journal {
    return new Journal(target, null, [{ t: 'journal', schema: SCHEMA, target }]);
  }

  /** Opens (without creating) the journal of `target` in `dir`. */
  static open(dir: string, target: JournalTarget): Journal {
    const file = journalFile(dir, target);
    if (!existsSync(file)) return new Journal(target, file, []);
    const records = parseRecords(file, readFileSync(file, 'utf8'));
    const head = records[0];
    if (head?.t !== 'journal' || head.schema !== SCHEMA) {
      throw new BringupError(`${file} is not an iovh journal (${SCHEMA}); remove it if you know it is not needed`);
    }
    if (head.target.backend !== target.backend || head.target.where !== target.where) {
      throw new BringupError(
        `journal ${file} belongs to ${targetLabel(head.target)}, not ${targetLabel(target)}; refusing to use it`,
      );
    }
    return new Journal(target, file, records);
  }

  all(): readonly JournalRecord[] {
    return this.records;
  }

  /** Writes that no restore has undone yet, oldest first. */
  pending(): WriteRecord[] {
    const undone = new Set<number>();
    for (const r of this.records) if (r.t === 'undone') undone.add(r.seq);
    return this.records.filter((r): r is WriteRecord => r.t === 'write' && !undone.has(r.seq));
  }

  /** Writes of the session this process has open, not undone, oldest first. */
  sessionPending(): WriteRecord[] {
    return this.pending().filter((r) => r.session === this.session && this.session !== 0);
  }

  /** Sessions that began and never ended, with their writes. */
  openSessions(): { begin: BeginRecord; writes: number }[] {
    const ended = new Set<number>();
    for (const r of this.records) if (r.t === 'end') ended.add(r.session);
    return this.records
      .filter((r): r is BeginRecord => r.t === 'begin' && !ended.has(r.session))
      .map((begin) => ({
        begin,
        writes: this.records.filter((r) => r.t === 'write' && r.session === begin.session).length,
      }));
  }

  /** Open sessions whose process is gone: interrupted by a kill. */
  staleSessions(): { begin: BeginRecord; writes: number }[] {
    return this.openSessions().filter((s) => !processAlive(s.begin.pid, s.begin.boot));
  }

  private nextSeq(): number {
    let max = 0;
    for (const r of this.records) if (r.t === 'write' && r.seq > max) max = r.seq;
    return max + 1;
  }

  /**
   * Starts a session. Refuses while another live iovh has one open on the
   * same target; a stale one (its process died) is closed as interrupted.
   */
  begin(command: string): number {
    if (this.file) {
      this.lock(command);
      // Another process may have appended since this journal was opened.
      if (existsSync(this.file)) this.records = parseRecords(this.file, readFileSync(this.file, 'utf8'));
    }
    try {
      return this.beginLocked(command);
    } catch (e) {
      this.unlock();
      throw e;
    }
  }

  private beginLocked(command: string): number {
    for (const s of this.openSessions()) {
      if (s.begin.pid !== process.pid && processAlive(s.begin.pid, s.begin.boot)) {
        throw new BringupError(
          `another iovh (pid ${s.begin.pid}, \`iovh ${s.begin.command}\`) is changing ${targetLabel(this.target)}; wait for it to finish`,
        );
      }
      this.append({ t: 'end', session: s.begin.session, status: 'interrupted' });
    }
    let max = 0;
    for (const r of this.records) if (r.t === 'begin' && r.session > max) max = r.session;
    this.session = max + 1;
    if (this.records.length === 0) this.append({ t: 'journal', schema: SCHEMA, target: this.target });
    this.append({ t: 'begin', session: this.session, pid: process.pid, boot: bootId(), command });
    return this.session;
  }

  /** The journal entry for a write, made durable before the write happens. Returns its seq. */
  recordWrite(step: Step, before: string): number {
    const seq = this.nextSeq();
    this.append({ t: 'write', session: this.session, seq, step, before });
    return seq;
  }

  recordUndone(seq: number): void {
    this.append({ t: 'undone', seq });
  }

  end(status: SessionStatus): void {
    if (this.session === 0) return;
    this.append({ t: 'end', session: this.session, status });
    this.session = 0;
    this.unlock();
  }

  private get lockFile(): string | null {
    return this.file ? `${this.file}.lock` : null;
  }

  /**
   * One bring-up at a time per target: the lock file is created with O_EXCL
   * and names its owner; a lock whose owner died (a kill) is taken over.
   */
  private lock(command: string): void {
    const path = this.lockFile!;
    mkdirs(dirname(path));
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw journalError(dirname(path), e);
        let owner: { pid?: number; boot?: string | null; command?: string } = {};
        try {
          owner = JSON.parse(readFileSync(path, 'utf8')) as typeof owner;
        } catch {
          // Empty or cut short: its writer died between create and write, so the lock is stale.
        }
        if (typeof owner.pid === 'number' && owner.pid !== process.pid && processAlive(owner.pid, owner.boot ?? null)) {
          throw new BringupError(
            `another iovh (pid ${owner.pid}, \`iovh ${owner.command ?? '?'}\`) is changing ${targetLabel(this.target)}; wait for it to finish`,
          );
        }
        unlinkSync(path);
        continue;
      }
      try {
        writeSync(fd, JSON.stringify({ pid: process.pid, boot: bootId(), command }));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return;
    }
    throw new BringupError(`cannot take the journal lock ${path}; remove it if no iovh is running`);
  }

  private unlock(): void {
    const path = this.lockFile;
    if (path && existsSync(path)) unlinkSync(path);
  }

  /** Removes the file once nothing is left to undo and no session is open. */
  dropIfSettled(): boolean {
    if (this.pending().length > 0 || this.openSessions().length > 0) return false;
    if (this.file && existsSync(this.file)) {
      unlinkSync(this.file);
      fsyncDir(dirname(this.file));
    }
    this.records = [];
    return true;
  }

  private append(record: JournalRecord): void {
    this.records.push(record);
    if (!this.file) return;
    const dir = dirname(this.file);
    const created = !existsSync(this.file);
    if (created) {
      mkdirs(dir);
    }
    let fd: number;
    try {
      fd = openSync(this.file, 'a', 0o600);
    } catch (e) {
      throw journalError(dir, e);
    }
    try {
      // One write(2) per record, then fsync: a kill leaves at most a cut last line.
      writeSync(fd, `${JSON.stringify(record, bigintJson)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) fsyncDir(dir);
  }
}

/**
 * mkdir -p, one component at a time: Node's recursive mkdir loops forever
 * where mkdir(2) keeps answering ENOENT under an existing parent (procfs).
 */
function mkdirs(dir: string): void {
  const parts = resolve(dir)
    .split('/')
    .filter((p) => p.length > 0);
  let at = '';
  for (const part of parts) {
    at += `/${part}`;
    try {
      mkdirSync(at, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw journalError(dir, e);
    }
  }
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (e) {
    throw journalError(dir, e);
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function journalError(dir: string, e: unknown): BringupError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  return new BringupError(
    `cannot keep the bring-up journal in ${dir} (${code}); set IOVH_STATE_DIR to a writable directory`,
  );
}

/** Every journal in `dir` with a stale session, for the one-line notice every command prints. */
export function findStale(dir: string): { target: JournalTarget; file: string; begin: BeginRecord; writes: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no state directory yet: nothing was ever journaled here
  }
  const out: { target: JournalTarget; file: string; begin: BeginRecord; writes: number }[] = [];
  for (const name of names.filter((n) => /^journal-.*\.jsonl$/.test(n)).sort()) {
    const file = join(dir, name);
    let records: JournalRecord[];
    try {
      records = parseRecords(file, readFileSync(file, 'utf8'));
    } catch {
      continue; // damaged or unreadable: `iovh restore` on that target says so
    }
    const head = records[0];
    if (head?.t !== 'journal') continue;
    const ended = new Set<number>();
    for (const r of records) if (r.t === 'end') ended.add(r.session);
    for (const r of records) {
      if (r.t !== 'begin' || ended.has(r.session) || processAlive(r.pid, r.boot)) continue;
      const writes = records.filter((w) => w.t === 'write' && w.session === r.session).length;
      out.push({ target: head.target, file, begin: r, writes });
    }
  }
  return out;
}
