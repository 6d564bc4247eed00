// How every bring-up command runs, from the CLI's parsed options to its exit
// status: open the backend, read the machine, build a plan (input checked
// before anything is written), print it (--dry-run stops there), journal and
// apply it, close the backend on every path (the mock saves its state there).
import { resolve } from 'node:path';
import type { Backend } from '../backend/types.js';
import { openBackend } from '../backend/select.js';
import { CliError } from './errors.js';
import { BringupError } from '../host/errors.js';
import type { GlobalOptions } from './global.js';
import { trapSignals } from './signals.js';
import { ApplyFailed, Interrupted, applyPlan } from '../host/apply.js';
import { Journal, findStale, processAlive, stateDir, targetLabel, type JournalTarget } from '../host/journal.js';
import { formatStep, stepWrite, type Plan } from '../host/plan.js';
import { NotAvailable, type PlanContext } from '../host/planner.js';
import { planRestore, restoreRecords } from '../host/restore.js';
import { escapeControls, shellWord } from '../host/quote.js';
import { PlanState } from '../host/state.js';
import { SysReader } from '../machine/sysfs.js';
import { discover } from '../machine/topology.js';
import { readVramBudget } from '../machine/vram.js';
import type { ApplyHooks } from '../host/writes.js';
import { EXIT, signalExit } from '../report/exit.js';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: CommandIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/**
 * Opens the backend the global options ask for, runs `fn`, and closes the
 * backend whatever happens. `access`: `write` for a command that may change
 * the machine (the mock's state file is locked before it is loaded and saved
 * at close), `read` for one that only looks (no lock, no save).
 */
export async function withBackend<T>(
  opts: GlobalOptions,
  access: 'read' | 'write',
  fn: (backend: Backend) => Promise<T> | T,
): Promise<T> {
  const backend = await openBackend({
    backend: opts.backend,
    mockState: opts.mockState,
    topology: opts.topology,
    profile: opts.profile,
    root: opts.root,
    purpose: 'host',
    stateAccess: access,
  });
  try {
    return await fn(backend);
  } finally {
    backend.close();
  }
}

/** The journal of the machine a backend acts on; in memory for a machine that ends with the backend. */
export function openJournal(backend: Backend): Journal {
  const target = backend.traits.location;
  return target
    ? Journal.open(stateDir(), target)
    : Journal.memory({ backend: backend.traits.name, where: '(kept in memory: the machine ends with this process)' });
}

/** The restore command line for a journal's target (auto could pick the mock on a machine without VFs). */
export function restoreCommand(t: JournalTarget): string {
  if (t.backend === 'mock') return `iovh restore --backend mock --mock-state ${shellWord(t.where)}`;
  return t.where === '/'
    ? 'iovh restore --backend native'
    : `iovh restore --backend native --root ${shellWord(t.where)}`;
}

/** The line every command prints on stderr for each journal left by a process that died mid-change. */
export function staleNotices(dir = stateDir()): string[] {
  return findStale(dir).map(
    (s) =>
      `iovh: note: \`iovh ${escapeControls(s.begin.command)}\` (pid ${s.begin.pid}) died after ${s.writes} journaled write${s.writes === 1 ? '' : 's'} to ${targetLabel(s.target)}; run \`${restoreCommand(s.target)}\` to undo them`,
  );
}

/**
 * Test hooks (docs/bringup.md "Testing the journal"): IOVH_TEST_KILL_AFTER=n
 * kills the process with SIGKILL right after its n-th sysfs write,
 * IOVH_TEST_KILL_BEFORE=n right after the n-th journal entry (before the
 * write); IOVH_TEST_SIGINT_AFTER=n sends it SIGINT after the n-th write. The
 * backend is closed first, as the kernel outlives a killed process: the mock
 * saves its state there, like the real sysfs keeps the writes.
 */
export function testHooks(backend: Backend, env: NodeJS.ProcessEnv = process.env): ApplyHooks | undefined {
  const at = (name: string): number | null => {
    const v = env[name];
    return v && /^\d+$/.test(v) ? Number(v) : null;
  };
  const killAfter = at('IOVH_TEST_KILL_AFTER');
  const killBefore = at('IOVH_TEST_KILL_BEFORE');
  const sigintAfter = at('IOVH_TEST_SIGINT_AFTER');
  if (killAfter === null && killBefore === null && sigintAfter === null) return undefined;
  const die = () => {
    backend.close();
    process.kill(process.pid, 'SIGKILL');
  };
  return {
    beforeWrite: (n) => {
      if (n === killBefore) die();
    },
    afterWrite: (n) => {
      if (n === killAfter) die();
      if (n === sigintAfter) process.kill(process.pid, 'SIGINT');
    },
  };
}

export function renderPlan(plan: Plan): string {
  const n = plan.steps.length;
  const lines = [`plan: ${plan.title} (${n} write${n === 1 ? '' : 's'})`];
  plan.steps.forEach((s, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${formatStep(s)}    # ${s.why}`));
  for (const note of plan.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

export function planJson(plan: Plan): object {
  return {
    title: plan.title,
    writes: plan.steps.map((s) => ({ ...stepWrite(s), why: s.why })),
    notes: plan.notes,
  };
}

/**
 * A command that writes sysfs stops between two writes at the first signal
 * (it then says what it made and how to undo it) and exits at the second: the
 * journal is written before every write, so restore undoes either.
 */
const WRITE_SIGNALS = {
  first: () => null,
  again: (sig: string) =>
    `\niovh: ${sig} again: exiting now; the journal holds every write made (\`iovh restore\` undoes them)\n`,
};

export interface StateChangeOptions extends GlobalOptions {
  dryRun?: boolean;
}

/**
 * Runs one state-changing command. `build` computes the plan from the
 * machine as it is (and validates the input before any step exists).
 * Returns the exit status.
 */
export async function runStateChange(
  command: string,
  opts: StateChangeOptions,
  build: (ctx: PlanContext) => Plan,
  io: CommandIo = stdio,
): Promise<number> {
  return withBackend(opts, opts.dryRun ? 'read' : 'write', async (backend) => {
    const reader = new SysReader(backend.fs);
    let plan: Plan;
    try {
      plan = build({
        state: PlanState.from(discover(backend.fs)),
        reader,
        vram: (pf) => readVramBudget(backend, reader, pf),
      });
    } catch (e) {
      if (e instanceof NotAvailable) {
        io.err(`iovh: ${command.split(' ')[0]}: ${e.message}\n`);
        return EXIT.SKIPPED;
      }
      throw e;
    }
    // After the input was checked (bad input gets its one line alone), before anything is printed or written.
    targetNote(command.split(' ')[0]!, backend, opts, io);
    const json = opts.json === true;
    if (opts.dryRun) {
      io.out(
        json
          ? `${JSON.stringify({ ...planJson(plan), dryRun: true }, null, 2)}\n`
          : `${renderPlan(plan)}dry run: nothing was written\n`,
      );
      return EXIT.OK;
    }
    if (plan.steps.length === 0) {
      io.out(
        json
          ? `${JSON.stringify({ ...planJson(plan), applied: 0 }, null, 2)}\n`
          : `nothing to do: ${plan.title} already holds\n`,
      );
      return EXIT.OK;
    }
    preflight(backend, plan);
    const journal = openJournal(backend);
    journal.begin(command);
    if (!json) io.out(renderPlan(plan));
    let status: 'ok' | 'failed' | 'rolled-back' | 'interrupted' = 'failed';
    const signals = trapSignals((line) => io.err(line), WRITE_SIGNALS);
    try {
      const applied = await applyPlan(backend.fs, plan, journal, {
        hooks: testHooks(backend),
        out: { step: (line) => (json ? undefined : io.out(`${line}\n`)) },
        rollbackNote: (line) => (json ? undefined : io.out(`rollback: ${line}\n`)),
        interrupt: signals.signal,
        ...(journal.file ? { restoreCommand: restoreCommand(journal.target) } : {}),
      });
      status = 'ok';
      const where = journal.file
        ? `journaled in ${journal.file}; \`${restoreCommand(journal.target)}\` undoes them`
        : 'not journaled: the mock without --mock-state forgets them at exit';
      io.out(
        json
          ? `${JSON.stringify({ ...planJson(plan), applied, journal: journal.file }, null, 2)}\n`
          : `done: ${applied} write${applied === 1 ? '' : 's'}, ${where}\n`,
      );
      return EXIT.OK;
    } catch (e) {
      if (e instanceof Interrupted) {
        status = 'interrupted';
        io.err(
          `iovh: ${command.split(' ')[0]}: ${e.message}; \`${journal.file ? restoreCommand(journal.target) : 'iovh restore'}\` undoes the ${e.done} made\n`,
        );
        return signalExit(e.signal);
      }
      if (e instanceof ApplyFailed) status = e.rolledBack ? 'rolled-back' : 'failed';
      throw e;
    } finally {
      signals.release();
      journal.end(status);
      if (status === 'rolled-back') journal.dropIfSettled();
    }
  });
}

/**
 * Every state-changing command says which backend it uses and which machine
 * it acts on (a real root, or a mock state file), once its input is checked
 * (bad input gets its one line alone) and before anything is written, as
 * `iovh run` does: a flag lost to an environment variable, or `auto` picking
 * the mock on a machine without enabled VFs (exactly a machine someone is
 * about to bring up, src/backend/select.ts), must show before the machine
 * changed.
 */
export function targetNote(command: string, backend: Backend, opts: GlobalOptions, io: CommandIo): void {
  const target = backend.traits.location;
  const where = target ? targetLabel(target) : 'the mock kernel without --mock-state (forgotten at exit)';
  const hint =
    (opts.backend ?? 'auto') === 'auto' && !backend.traits.shared
      ? '; use --backend native to change this machine'
      : '';
  const kernel =
    backend.traits.profile !== null
      ? `, profile ${backend.traits.profile}${opts.topology === undefined ? '' : `, topology ${escapeControls(resolve(opts.topology))}`}`
      : '';
  io.err(
    `iovh: ${command}: acting on ${where} (backend ${backend.traits.name}${kernel}: ${escapeControls(backend.reason)})${hint}\n`,
  );
}

/** `iovh restore`: undo every pending journaled write of this backend's machine, newest first. */
export async function runRestore(opts: StateChangeOptions, io: CommandIo = stdio): Promise<number> {
  return withBackend(opts, opts.dryRun ? 'read' : 'write', async (backend) => {
    const target = backend.traits.location;
    // --json answers in the shape of a restore that undid something (or of its --dry-run), with a message.
    const nothing = (message: string, label: string): number => {
      const title = `undo 0 journaled writes on ${label}`; // planRestore's title
      if (opts.json !== true) io.out(`${message}\n`);
      else if (opts.dryRun)
        io.out(`${JSON.stringify({ title, writes: [], notes: [], dryRun: true, message }, null, 2)}\n`);
      else io.out(`${JSON.stringify({ restored: 0, writes: 0, target, message }, null, 2)}\n`);
      return EXIT.OK;
    };
    if (!target)
      return nothing(
        'nothing to restore: the mock without --mock-state keeps no state between commands',
        'the mock without --mock-state',
      );
    const journal = Journal.open(stateDir(), target);
    const pending = journal.pending();
    const label = targetLabel(target);
    if (pending.length === 0) {
      if (journal.openSessions().every((s) => !processAlive(s.begin.pid, s.begin.boot))) {
        if (!opts.dryRun && journal.file && journal.all().length > 0) {
          journal.begin('restore');
          journal.end('ok');
          journal.dropIfSettled();
        }
      }
      return nothing(`nothing to restore on ${label}`, label);
    }
    // One stop line whether planning or undoing stopped, naming the restore command for this target.
    const stopped = (e: unknown): CliError => {
      const why = e instanceof Error ? e.message : String(e);
      const left = journal.pending().length;
      return new CliError(
        `restore stopped: ${why}; ${left} journaled write${left === 1 ? '' : 's'} still to undo (fix the cause and run \`${restoreCommand(target)}\` again)`,
        1,
      );
    };
    let plan: ReturnType<typeof planRestore>;
    try {
      plan = planRestore(backend.fs, pending, label);
    } catch (e) {
      if (e instanceof BringupError) throw stopped(e);
      throw e;
    }
    targetNote('restore', backend, opts, io);
    if (opts.dryRun) {
      io.out(
        opts.json
          ? `${JSON.stringify({ ...planJson(plan), dryRun: true }, null, 2)}\n`
          : `${renderPlan(plan)}dry run: nothing was written\n`,
      );
      return EXIT.OK;
    }
    preflight(backend, plan);
    journal.begin('restore');
    let status: 'ok' | 'failed' | 'interrupted' = 'failed';
    const signals = trapSignals((line) => io.err(line), WRITE_SIGNALS);
    try {
      if (!opts.json)
        io.out(`restore: ${label}, ${pending.length} journaled write${pending.length === 1 ? '' : 's'} to undo\n`);
      const writes = await restoreRecords(
        new SysReader(backend.fs),
        journal,
        pending,
        testHooks(backend),
        (line) => (opts.json ? undefined : io.out(`${line}\n`)),
        signals.signal,
      );
      status = 'ok';
      io.out(
        opts.json
          ? `${JSON.stringify({ restored: pending.length, writes, target }, null, 2)}\n`
          : `restored: ${pending.length} journaled write${pending.length === 1 ? '' : 's'} undone with ${writes} write${writes === 1 ? '' : 's'}\n`,
      );
      return EXIT.OK;
    } catch (e) {
      const left = journal.pending().length;
      if (e instanceof Interrupted) {
        status = 'interrupted';
        io.err(`iovh: restore: ${e.message}; run \`${restoreCommand(target)}\` again to undo the ${left} left\n`);
        return signalExit(e.signal);
      }
      throw stopped(e);
    } finally {
      signals.release();
      journal.end(status);
      if (status === 'ok') journal.dropIfSettled();
    }
  });
}

/**
 * Permission checks before the first write: the native backend writes the
 * real sysfs, which only root may; and no planned target may be read-only.
 */
function preflight(backend: Backend, plan: Plan): void {
  if (backend.traits.credentials.uid !== 0) {
    throw new CliError(
      'permission denied: changing sysfs needs root; run as root (sudo); nothing was written',
      EXIT.FAILED,
    );
  }
  for (const s of plan.steps) {
    const { path } = stepWrite(s);
    if (!backend.fs.exists(path)) continue; // a VF the plan creates
    const mode = backend.fs.stat(path).mode;
    if ((mode & 0o222) === 0)
      throw new CliError(
        `cannot write ${path}: it is read-only (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); nothing was written`,
        1,
      );
  }
}
