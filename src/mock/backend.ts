// The mock backend: the simulated kernel behind the same Backend as the
// native one (docs/internals.md "Principles": one seam). `kernel` is the
// control surface tests and the harness's fault sweep use; nothing on the
// product path needs it.

import type { BackendTraits, DeviceOps, FileOps, ProcessBackend } from '../backend/types.js';
import { TaskKilledError, type ErrnoName } from '../uapi/errors.js';
import type { Profile, ProfileName, QuirkId } from './contracts.js';
import { MockKernel, type LiveCounts } from './platform.js';
import {
  DEFAULT_PROFILE,
  getProfile,
  isProfileName,
  PROFILE_ALIASES,
  PROFILE_NAMES,
  PROFILES,
  profileChoices,
  resolveProfileName,
  type ProfileDef,
  type ProfileImpl,
} from './profiles.js';
import { configureProfile, type KernelConfig } from './kconfig.js';
import { checkStateWritable, loadState, saveState, stateFilePath, topologyKey, type MockState } from './state.js';
import { acquireLock, lockWaitMs, type Lock } from '../lockfile.js';
import { OpCounter, Syscalls, type OpKind } from './syscalls.js';
import type { MockProcess } from './process.js';
import type { StoreFault } from './files.js';
import { defaultTopology, MockConfigError, parseTopology, readTopologyFile, type Topology } from './topology.js';

export {
  DEFAULT_PROFILE,
  isProfileName,
  PROFILE_ALIASES,
  PROFILE_NAMES,
  PROFILES,
  profileChoices,
  resolveProfileName,
  MockConfigError,
};
export type { ProfileDef };
export type { LiveCounts, OpKind, StoreFault, Topology };

export interface MockOptions {
  /** Kernel profile (default `rfc-v1`, or the state file's). */
  profile?: ProfileName;
  /** Topology JSON file, or the topology itself (default: one BMG-like PF, src/mock/topology.ts). */
  topology?: string | Topology;
  /** State file kept across invocations (--mock-state / IOVH_MOCK_STATE). */
  statePath?: string;
  /**
   * `write` (default): lock the state file before loading it (waiting for
   * another iovh that holds it, src/lockfile.ts) and save it at close.
   * `read`: no lock, no save; what this backend changes is forgotten.
   */
  stateAccess?: 'read' | 'write';
  /** Told once when the state file is locked by another iovh and this one waits (default: a line on stderr). */
  onLockWait?: (line: string) => void;
  /** Why the mock was chosen (Backend.reason). */
  reason?: string;
  /**
   * Build options of the kernel the mock stands for, over the topology's
   * `kernel.config` (src/mock/kconfig.ts): e.g. `{ IOMMUFD: 'y', VFIO_DEVICE_CDEV: 'y' }`
   * for a kernel built with the QEMU guest fragment.
   */
  kernelConfig?: KernelConfig;
  /**
   * The defects this kernel carries (docs/profiles.md), replacing the
   * profile's: the driver misbehaviour option, for a kernel with only some of
   * a series' defects or with one of them fixed (e.g. `fixed` without xe's
   * deferred unmap). Not kept in the state file.
   */
  quirks?: readonly QuirkId[];
}

/** A system call that fails before it reaches the kernel object (the fault sweep's kind of fault). */
export interface SyscallFault {
  /** Fail the nth matching operation from now (1 = the next one). */
  nth: number;
  /** Count only operations of this kind: a DeviceOps or FileOps method name. */
  kind?: OpKind;
  /** The errno it fails with (name or number). */
  errno: ErrnoName | number;
}

/**
 * What `injectFault` arms: a failing system call (`SyscallFault`), or a sysfs
 * attribute whose store fails, clamps or ignores a write (`StoreFault`,
 * src/mock/files.ts: `{ nth, store: path, errno | takes | ignores }`).
 */
export type FaultSpec = SyscallFault | StoreFault;

/** The mock kernel's control surface: fault injection, counts, snapshots, processes. */
export interface MockControl {
  readonly profile: Profile;
  /** pid of this backend's process (/proc/self). */
  readonly pid: number;
  /**
   * A new process on the same simulated kernel: its own pid and fd table; the
   * same devices, sysfs, tracefs and log. Its backend's close() is that
   * process's exit (its files released with the kernel's release effects) and
   * saves no state file. An oops in its context kills it: the call throws
   * TaskKilledError, as does every later call through its backend, and other
   * processes go on.
   */
  spawnProcess(comm?: string, inherit?: readonly number[]): MockBackend;
  /** Kernel operations so far (every DeviceOps and FileOps call of every process), or those of one kind. */
  operations(kind?: OpKind): number;
  /** Arm a fault (counted over every process's operations, or every write to the attribute); several may be armed at once. */
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Armed faults that have not fired yet. */
  pendingFaults(): number;
  /** Live kernel objects. */
  live(): LiveCounts;
  /** Every file under `root` (default /sys without debugfs, tracefs and oops_count) as path -> content, links as `-> target`. */
  snapshotSysfs(root?: string): Map<string, string>;
  /** /proc/sys/kernel/tainted */
  readonly taint: number;
  /** Bytes of simulated memory actually held (VRAM, RAM, BAR scratch). */
  residentBytes(): number;
  /** The platform object, for model tests (src/mock/platform.ts). */
  readonly platform: MockKernel;
}

export interface MockBackend extends ProcessBackend {
  readonly kernel: MockControl;
  spawnProcess(comm?: string, inherit?: readonly number[]): MockBackend;
}

const FIRST_PID = 4242;

function resolveTopology(t: string | Topology | undefined): { json: Topology; source: string } | null {
  if (t === undefined) return null;
  if (typeof t === 'string') {
    // Validated; the JSON form is kept for the state file.
    return { json: readTopologyFile(t).json, source: `topology ${t}` };
  }
  return { json: t, source: 'topology' };
}

export function createMockBackend(options: MockOptions = {}): MockBackend {
  if (options.profile !== undefined && !isProfileName(options.profile)) {
    throw new MockConfigError(
      `profile: unknown profile '${String(options.profile)}' (choose one of ${profileChoices()})`,
    );
  }
  // The file the path names (a symlink followed), so that two names of one file are one state and one lock.
  const statePath = options.statePath ? stateFilePath(options.statePath) : undefined;
  let lock: Lock | null = null;
  if (statePath && options.stateAccess !== 'read') {
    checkStateWritable(statePath);
    const tell = options.onLockWait ?? ((line: string) => void process.stderr.write(`${line}\n`));
    // LockError (held past the wait) goes up as it is: an operational failure, not bad input.
    lock = acquireLock(`${statePath}.lock`, {
      what: `mock state ${statePath}`,
      command: process.argv.slice(2).join(' ') || 'library',
      waitMs: lockWaitMs(),
      onWait: (owner) =>
        tell(`iovh: waiting for pid ${owner.pid} (\`iovh ${owner.command}\`) to finish with mock state ${statePath}`),
    });
  }
  try {
    return openMock(options, statePath, lock);
  } catch (e) {
    lock?.release();
    throw e;
  }
}

function openMock(options: MockOptions, statePath: string | undefined, lock: Lock | null): MockBackend {
  const state: MockState | null = statePath ? loadState(statePath) : null;
  const given = resolveTopology(options.topology);
  if (state && given && topologyKey(given.json) !== topologyKey(state.topology)) {
    throw new MockConfigError(
      `state file ${statePath}: topology: it was made with another topology; pass the same --topology or remove the state file`,
    );
  }
  if (state && options.profile !== undefined && options.profile !== state.profile) {
    throw new MockConfigError(
      `state file ${statePath}: profile: it was made with profile '${state.profile}', not '${options.profile}'; remove the state file to change profile`,
    );
  }
  let topoJson = given?.json ?? state?.topology ?? defaultTopology();
  if (options.kernelConfig && Object.keys(options.kernelConfig).length > 0) {
    // The options become the topology's kernel.config, so a state file carries them like the rest of the machine.
    const kernel = topoJson.kernel ?? {};
    topoJson = { ...topoJson, kernel: { ...kernel, config: { ...kernel.config, ...options.kernelConfig } } };
  }
  const parsed = parseTopology(
    topoJson,
    given?.source ?? (state ? `state file ${statePath}: topology` : 'default topology'),
  );
  const profileName = state?.profile ?? options.profile ?? DEFAULT_PROFILE;
  const configured = configureProfile(getProfile(profileName, parsed.release ?? undefined), parsed.config);
  const quirks = options.quirks ? new Set<QuirkId>(options.quirks) : null;
  const profile: ProfileImpl = quirks ? { ...configured, quirks, has: (q) => quirks.has(q) } : configured;
  const pid = state?.nextPid ?? FIRST_PID;

  const k = new MockKernel(profile, parsed, pid);
  if (state) {
    try {
      k.pci.load(state.pci);
      if (state.pci.vfioEnableSriov !== undefined) k.vfio.enableSriov = state.pci.vfioEnableSriov;
      k.boot(state.devices, state.pci.autoprobe);
      k.kernel.load(state.kernel);
    } catch (e) {
      if (e instanceof MockConfigError) throw e;
      throw new MockConfigError(
        `state file ${statePath}: devices: cannot be restored on this topology (${(e as Error).message})`,
      );
    }
  } else {
    try {
      k.boot(null, true);
    } catch (e) {
      // A topology that validates but cannot boot (VFs on a PF without a driver to enable them, ...) is the
      // file's problem: say so in one line, as for a state file.
      if (e instanceof MockConfigError) throw e;
      throw new MockConfigError(
        `${given?.source ?? 'default topology'}: cannot boot this machine (${(e as Error).message})`,
      );
    }
  }

  const counter = new OpCounter();
  // A machine of iovh's own, on a simulated clock, whose processes are root; it persists only in a state file.
  const traits: BackendTraits = {
    name: 'mock',
    clock: 'simulated',
    shared: false,
    location: statePath ? { backend: 'mock', where: statePath } : null,
    profile: profile.name,
    credentials: { uid: 0, gid: 0, groups: [] },
  };
  const save = (): void => {
    if (!statePath || !lock) return;
    saveState(statePath, {
      schema: 'iovh-mock-state/1',
      profile: profile.name,
      topology: topoJson,
      nextPid: k.nextPid,
      pci: { ...k.pci.save(), vfioEnableSriov: k.vfio.enableSriov },
      devices: k.deviceStates(),
      kernel: k.kernel.save(),
    });
  };

  /** The backend of one process; `initial` is the one createMockBackend returns. */
  const backendOf = (proc: MockProcess, initial: boolean): MockBackend => {
    const ctx = {
      process: proc,
      enter: () => k.enterCall(proc),
      leave: () => k.leaveCall(),
      reap: () => k.exitProcess(proc),
    };
    const sys = new Syscalls(k.kernel, k.fds, k.vfs, k.files, () => k.kernel.poll(), ctx, counter);
    const dev: DeviceOps = sys.deviceOps((name, flags) => k.sysmem.memfdCreate(name, flags));
    const fs: FileOps = sys.fileOps();
    let closed = false;

    const control: MockControl = {
      profile,
      pid: proc.pid,
      spawnProcess: (comm, inherit) => backendOf(k.spawn(comm ?? 'node', inherit ?? [], proc), false),
      operations: (kind) => sys.operations(kind),
      injectFault: (f) => ('store' in f ? k.files.injectStore(f) : sys.inject(f)),
      clearFaults: () => {
        sys.clearFaults();
        k.files.clearStoreFaults();
      },
      pendingFaults: () => sys.pendingFaults() + k.files.pendingStoreFaults(),
      live: () => k.live(),
      snapshotSysfs: (root) => k.files.snapshot(root ?? '/sys'),
      get taint() {
        return k.kernel.taint;
      },
      residentBytes: () => k.residentBytes(),
      platform: k,
    };

    return {
      reason: options.reason ?? `mock kernel, profile ${profile.name}`,
      dev,
      fs,
      traits,
      pid: proc.pid,
      kernel: control,
      spawnProcess: control.spawnProcess,
      sleep(ms: number): Promise<void> {
        if (proc.killedBy !== null) return Promise.reject(new TaskKilledError(proc.killedBy));
        if (closed) return Promise.reject(new Error('mock backend is closed (sleep after close())'));
        try {
          k.kernel.pass(ms);
        } catch (e) {
          return Promise.reject(e);
        }
        return new Promise((resolve) => setImmediate(resolve));
      },
      close(): void {
        if (closed) return;
        closed = true;
        sys.closed = true;
        if (initial) {
          // The invocation ends: processes it spawned and did not close exit first.
          for (const p of k.processes()) if (p !== proc) k.exitProcess(p);
        }
        k.exitProcess(proc);
        if (initial) {
          try {
            save();
          } finally {
            lock?.release();
          }
        }
      },
    };
  };

  return backendOf(k.initial, true);
}
