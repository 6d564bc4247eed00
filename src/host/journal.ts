// The bring-up journal: what each write replaced, written durably before the
// write is made, so that `iovh restore` can put the machine back after a
// normal run, after Ctrl-C, and after the process was killed (docs/bringup.md "The journal";
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
//
// A journal tells restore what to write as root, so nothing in it is trusted
// (docs/safety.md): every write record must name one of the attributes
// iovh itself journals (JOURNALED below: a device's sriov_numvfs,
// sriov_drivers_autoprobe, driver_override, an xe VF's VRAM quota in sysfs or
// debugfs, a PCI driver's bind/unbind and drivers_probe), with canonical
// BDFs, driver names and values of that attribute's kind; one record that is
// not is damage, and the whole journal is refused naming its line. The
// journal must be a regular file (never a symlink) and the state directory
// must belong to this user and be writable by nobody else (as ssh wants of
// ~/.ssh): another user who could plant a journal there could make root's
// restore write what they chose.
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { MachineLocation } from '../backend/types.js';
import { acquireLock, bootId, LockError, ownerAlive, startTime, type Lock } from '../lockfile.js';
import { formatBdf, parseBdf } from '../uapi/bdf.js';
import { BringupError } from './errors.js';
import type { AttrKind, Step } from './plan.js';
import { clip, escapeControls } from './quote.js';
import { isDriverName } from '../machine/sysfs.js';

/** The machine a journal belongs to (Backend.traits.location). */
export type JournalTarget = MachineLocation;

export type SessionStatus = 'ok' | 'failed' | 'rolled-back' | 'interrupted';

export type JournalRecord =
  | { t: 'journal'; schema: 'iovh-journal/1'; target: JournalTarget }
  | { t: 'begin'; session: number; pid: number; boot: string | null; start?: string | null; command: string }
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

/**
 * Is the process that began a session still running? Another boot: no; the
 * pid now names a process that started at another time (`start`, when the
 * record has it): no, it was reused after a kill.
 */
export function processAlive(pid: number, boot: string | null, start: string | null = null): boolean {
  return ownerAlive({ pid, boot, start });
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

/** A BDF exactly as sysfs names the device (what iovh journals): DDDD:BB:DD.F, lower case. */
function isSysfsBdf(text: string): boolean {
  const a = parseBdf(text);
  return a !== null && formatBdf(a) === text;
}

const BDF = '([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7])';

/**
 * The attributes iovh writes and journals, with the kind of value each holds
 * (src/host/planner.ts, src/machine/provisioning.ts, src/harness/sriov.ts). The
 * captured BDFs must be canonical too (isSysfsBdf).
 */
const JOURNALED: { re: RegExp; kind: AttrKind }[] = [
  { re: new RegExp(`^/sys/bus/pci/devices/${BDF}/sriov_numvfs$`), kind: 'count' },
  { re: new RegExp(`^/sys/bus/pci/devices/${BDF}/sriov_drivers_autoprobe$`), kind: 'bool' },
  { re: new RegExp(`^/sys/bus/pci/devices/${BDF}/driver_override$`), kind: 'override' },
  { re: new RegExp(`^/sys/bus/pci/devices/${BDF}/sriov_admin/vf[1-9][0-9]{0,4}/profile/vram_quota$`), kind: 'u64' },
  { re: new RegExp(`^/sys/kernel/debug/dri/${BDF}/sriov/vf[1-9][0-9]{0,4}/tile[0-9]{1,2}/vram_quota$`), kind: 'u64' },
  // Legacy lmem_quota: debugfs dri/<BDF or DRM minor>/gtN/vfK.
  { re: new RegExp(`^/sys/kernel/debug/dri/(?:${BDF}|[0-9]{1,4})/gt[0-9]/vf[1-9][0-9]{0,4}/lmem_quota$`), kind: 'u64' },
];

/** Is `text` a value restore may write to an attribute of `kind` ('' for an override: none)? */
function isValue(kind: AttrKind, text: string): boolean {
  switch (kind) {
    case 'bool':
      return text === '0' || text === '1';
    case 'count':
    case 'u64':
      return /^(0|[1-9][0-9]{0,19})$/.test(text);
    case 'override':
      return text === '' || isDriverName(text);
  }
}

/**
 * Why a write record is not one iovh could have made, or null. Restore writes
 * `before` to the step's attribute (set) or binds the device to the driver
 * `before` names (unbind/bind/probe), so both the target and that value are
 * checked.
 */
export function writeRecordProblem(step: Step, before: string): string | null {
  if (step.op === 'set') {
    const shape = JOURNALED.find((j) => j.re.test(step.path));
    if (!shape) return `${JSON.stringify(step.path)} is not an attribute iovh journals`;
    const bdfs = step.path.match(/[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]/g) ?? [];
    if (!bdfs.every(isSysfsBdf)) return `${JSON.stringify(step.path)} does not name a device by its sysfs address`;
    if (step.kind !== shape.kind) return `${step.path} holds a ${shape.kind}, not a ${step.kind}`;
    for (const [what, v] of [
      ['value', step.value],
      ['before', step.before],
      ['replaced value', before],
    ] as const) {
      if (v !== null && !isValue(shape.kind, v))
        return `${what} ${JSON.stringify(v)} is not a ${shape.kind} for ${step.path}`;
    }
    return null;
  }
  if (!isSysfsBdf(step.bdf)) return `${JSON.stringify(step.bdf)} is not a PCI address as sysfs names it`;
  if (!isDriverName(step.driver)) return `${JSON.stringify(step.driver)} is not a driver name`;
  if (before !== '' && !isDriverName(before)) return `replaced driver ${JSON.stringify(before)} is not a driver name`;
  return null;
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
      return (
        isInt(v.session) &&
        isInt(v.pid) &&
        (v.boot === null || isStr(v.boot)) &&
        (v.start === undefined || v.start === null || isStr(v.start)) &&
        isStr(v.command)
      );
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
    if (record.t === 'write') {
      const problem = writeRecordProblem(record.step, record.before);
      if (problem)
        throw new BringupError(
          `journal ${file}: refusing it all: line ${i + 1} (write #${record.seq}) is no write iovh makes: ${escapeControls(clip(problem))}; inspect it, then remove it`,
        );
    }
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
    checkStateDir(dir);
    const file = journalFile(dir, target);
    const text = readJournal(file);
    if (text === null) return new Journal(target, file, []);
    const records = parseRecords(file, text);
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
    return this.openSessions().filter((s) => !processAlive(s.begin.pid, s.begin.boot, s.begin.start ?? null));
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
      const text = readJournal(this.file);
      if (text !== null) this.records = parseRecords(this.file, text);
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
      if (s.begin.pid !== process.pid && processAlive(s.begin.pid, s.begin.boot, s.begin.start ?? null)) {
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
    this.append({
      t: 'begin',
      session: this.session,
      pid: process.pid,
      boot: bootId(),
      start: startTime(process.pid),
      command,
    });
    return this.session;
  }

  /** The journal entry for a write, made durable before the write happens. Returns its seq. */
  recordWrite(step: Step, before: string): number {
    // What restore would refuse to read back is never written: the write it would record does not happen either.
    const problem = writeRecordProblem(step, before);
    if (problem)
      throw new BringupError(`refusing to make a write restore could not undo: ${escapeControls(clip(problem))}`);
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

  private held: Lock | null = null;

  /**
   * One bring-up at a time per target: the journal's lock file
   * (src/lockfile.ts: created whole, its owner's pid, boot and start time; an
   * owner that died is taken over). Not waited for: a second command on the
   * same machine is told who is changing it.
   */
  private lock(command: string): void {
    const path = `${this.file!}.lock`;
    mkdirs(dirname(path));
    try {
      this.held = acquireLock(path, { what: targetLabel(this.target), command, waitMs: 0 });
    } catch (e) {
      if (e instanceof LockError && e.owner)
        throw new BringupError(
          `another iovh (pid ${e.owner.pid}, \`iovh ${e.owner.command}\`) is changing ${targetLabel(this.target)}; wait for it to finish, or, if pid ${e.owner.pid} is no iovh, remove ${path}`,
        );
      if (e instanceof LockError) throw new BringupError(e.message);
      throw journalError(dirname(path), e);
    }
  }

  private unlock(): void {
    this.held?.release();
    this.held = null;
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
      // O_NOFOLLOW: a link planted at the journal's name is refused, not written through.
      fd = openSync(
        this.file,
        constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
        0o600,
      );
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
    // A directory anyone could write is not read for notices either (the command that needs it refuses it).
    if (stateDirProblem(dir) !== null) return [];
    names = readdirSync(dir);
  } catch {
    return []; // no state directory yet: nothing was ever journaled here
  }
  const out: { target: JournalTarget; file: string; begin: BeginRecord; writes: number }[] = [];
  for (const name of names.filter((n) => /^journal-.*\.jsonl$/.test(n)).sort()) {
    const file = join(dir, name);
    let records: JournalRecord[];
    try {
      const text = readJournal(file);
      if (text === null) continue;
      records = parseRecords(file, text);
    } catch {
      continue; // damaged, unreadable or not a regular file: `iovh restore` on that target says so
    }
    const head = records[0];
    if (head?.t !== 'journal') continue;
    const ended = new Set<number>();
    for (const r of records) if (r.t === 'end') ended.add(r.session);
    for (const r of records) {
      if (r.t !== 'begin' || ended.has(r.session) || processAlive(r.pid, r.boot, r.start ?? null)) continue;
      const writes = records.filter((w) => w.t === 'write' && w.session === r.session).length;
      out.push({ target: head.target, file, begin: r, writes });
    }
  }
  return out;
}

/** The journal's text; null when there is none. Refuses anything but a regular file iovh could have made. */
function readJournal(file: string): string | null {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw journalError(dirname(file), e);
  }
  const kind = st.isSymbolicLink()
    ? 'a symbolic link'
    : st.isDirectory()
      ? 'a directory'
      : st.isFile()
        ? null
        : 'not a regular file';
  if (kind) throw new BringupError(`journal ${file} is ${kind}, which iovh never makes; inspect it, then remove it`);
  const me = process.geteuid?.();
  if (me !== undefined && st.uid !== me)
    throw new BringupError(`journal ${file} belongs to uid ${st.uid}, not to you (uid ${me}); refusing to use it`);
  if ((st.mode & 0o022) !== 0)
    throw new BringupError(
      `journal ${file} is writable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it`,
    );
  // O_NOFOLLOW: it may not become a link between the check and the read.
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isFile())
      throw new BringupError(`journal ${file} is not a regular file; inspect it, then remove it`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Why the state directory must not be used, or null (also null when it does
 * not exist yet: it is made 0700). It must be a directory of this user that
 * neither group nor others may write.
 */
export function stateDirProblem(dir: string): string | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `cannot be examined (${(e as NodeJS.ErrnoException).code ?? String(e)})`;
  }
  if (!st.isDirectory()) return 'is not a directory';
  const me = process.geteuid?.();
  if (me !== undefined && st.uid !== me) return `belongs to uid ${st.uid}, not to you (uid ${me})`;
  if ((st.mode & 0o022) !== 0)
    return `is writable by ${(st.mode & 0o020) !== 0 ? 'its group' : 'others'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return null;
}

function checkStateDir(dir: string): void {
  const problem = stateDirProblem(dir);
  if (problem)
    throw new BringupError(
      `state directory ${dir} ${problem}: another user could plant a journal that restore would replay as you; use a directory only you can write (chmod go-w, or set IOVH_STATE_DIR)`,
    );
}
