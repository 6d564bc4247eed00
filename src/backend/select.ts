// Backend selection: `auto` picks native when this machine has what iovh
// validates (an SR-IOV PF with VFs enabled, /dev/vfio, and the addon), else the
// mock; it always says which and why. It sits above the machine model, whose
// reader it uses on this machine's files, and below everything that opens a
// backend.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, BackendChoice } from './types.js';
import { loadAddon } from '../core/addon.js';
import { createNativeBackend } from './native.js';
import { discover, type PfInfo } from '../machine/topology.js';
import {
  createMockBackend,
  profileChoices,
  resolveProfileName,
  MockConfigError,
  type MockOptions,
} from '../mock/backend.js';

// The mock's kernel profiles are a choice made when a backend is opened (--profile): `iovh profiles` lists them
// from here, so that nothing above selection imports the mock.
export { DEFAULT_PROFILE, PROFILE_ALIASES, PROFILES, type ProfileDef } from '../mock/backend.js';

export interface SelectOptions {
  backend?: BackendChoice;
  /** mock: state file kept across invocations */
  mockState?: string;
  /** mock: topology JSON */
  topology?: string;
  /** mock: kernel profile */
  profile?: string;
  /** native: read /sys, /proc and /dev under this directory */
  root?: string;
  /**
   * `run` (default) validates: native needs VFs, /dev/vfio and the addon.
   * `host` inspects or changes the machine (doctor, topology, bring-up): native
   * as soon as the machine has an SR-IOV PF, VFs or not, and without the addon
   * (file access only) — acting on the mock while a real PF sits there would
   * be a trap for the very user who is bringing that PF up.
   */
  purpose?: 'run' | 'host';
  /**
   * mock: `write` (default) takes the state file's lock before loading it and
   * saves it at close; `read` (topology, capture, --dry-run) neither locks nor
   * saves (docs/safety.md).
   */
  stateAccess?: 'read' | 'write';
}

/**
 * The backend options cannot be honoured: `input`, the user asked for
 * something that contradicts itself or names what does not exist (a usage
 * error); `install`, this installation lacks what the choice needs (the
 * native addon). The CLI turns them into its exit statuses.
 */
export class BackendChoiceError extends Error {
  constructor(
    message: string,
    readonly kind: 'input' | 'install',
  ) {
    super(message);
    this.name = 'BackendChoiceError';
  }
}

export interface NativeFitness {
  ok: boolean;
  reason: string;
}

/**
 * The SR-IOV PFs under `root`, read by the machine model (src/machine/) over
 * the native backend's files, which need no addon. Reads only.
 */
function pfsUnder(root: string): PfInfo[] {
  const files = createNativeBackend({ root, reason: 'backend selection' });
  try {
    return discover(files.fs).pfs;
  } finally {
    files.close();
  }
}

/** Does this machine look like one the native backend should run on? Reads only. */
export function nativeFitness(root = '/'): NativeFitness {
  const addon = loadAddon();
  if (!addon.addon) return { ok: false, reason: `native addon unavailable (${addon.error}); run \`npm rebuild iovh\`` };
  if (!existsSync(join(root, 'dev/vfio/vfio')))
    return { ok: false, reason: 'no /dev/vfio/vfio (vfio not loaded, or no IOMMU)' };
  const pf = pfsUnder(root).find((p) => p.numvfs > 0);
  if (pf) return { ok: true, reason: `SR-IOV PF ${pf.bdf} has ${pf.numvfs} VFs enabled and /dev/vfio exists` };
  return { ok: false, reason: 'no SR-IOV PF with VFs enabled (see `iovh vfs enable`)' };
}

/** Does this machine have an SR-IOV capable PF (VFs enabled or not)? Reads only. */
export function hostFitness(root = '/'): NativeFitness {
  const pf = pfsUnder(root).find((p) => p.totalvfs > 0);
  if (pf) return { ok: true, reason: `SR-IOV PF ${pf.bdf} (up to ${pf.totalvfs} VFs)` };
  return { ok: false, reason: 'no SR-IOV capable PF on this machine' };
}

export async function openBackend(options: SelectOptions = {}): Promise<Backend> {
  const choice = options.backend ?? 'auto';
  const profile = checkedProfile(options.profile);
  const mockOnly = mockOnlyOptions(options);
  const mockOptions = {
    profile,
    topology: options.topology,
    statePath: options.mockState,
    stateAccess: options.stateAccess,
  };
  if (choice === 'mock') return mock({ ...mockOptions, reason: '--backend mock' });
  // Options that only the mock understands say which kernel the user means: a
  // topology or a state file ignored on a lab machine would run the real
  // hardware while the user believes the mock does.
  if (mockOnly.length > 0) {
    if (choice === 'native')
      throw new BackendChoiceError(
        `${mockOnly.join(', ')} appl${mockOnly.length === 1 ? 'ies' : 'y'} to the mock backend only, not to --backend native`,
        'input',
      );
    return mock({
      ...mockOptions,
      reason: `auto: mock, because ${mockOnly.join(', ')} ${mockOnly.length === 1 ? 'was' : 'were'} given`,
    });
  }
  if (options.purpose === 'host') {
    const fit = hostFitness(options.root);
    if (choice === 'native')
      return createNativeBackend({ root: options.root, reason: `--backend native${fit.ok ? `: ${fit.reason}` : ''}` });
    if (fit.ok) return createNativeBackend({ root: options.root, reason: `auto: ${fit.reason}` });
    return mock({ ...mockOptions, reason: `auto: mock, because ${fit.reason}` });
  }
  const fit = nativeFitness(options.root);
  if (choice === 'native') {
    const addon = loadAddon();
    if (!addon.addon)
      throw new BackendChoiceError(
        `--backend native: the native addon is unavailable (${addon.error}); run \`npm rebuild iovh\``,
        'install',
      );
    return createNativeBackend({
      root: options.root,
      reason: fit.ok ? `--backend native: ${fit.reason}` : '--backend native',
    });
  }
  if (fit.ok) return createNativeBackend({ root: options.root, reason: `auto: ${fit.reason}` });
  return mock({ ...mockOptions, reason: `auto: mock, because ${fit.reason}` });
}

/** The mock-only options given, as the user spelled them. */
function mockOnlyOptions(options: SelectOptions): string[] {
  const given: string[] = [];
  if (options.topology !== undefined) given.push('--topology');
  if (options.mockState !== undefined) given.push('--mock-state');
  if (options.profile !== undefined) given.push('--profile');
  return given;
}

/** The profile `--profile` names, aliases resolved (`upstream` is `upstream-7.1`). */
function checkedProfile(profile: string | undefined): MockOptions['profile'] {
  if (profile === undefined) return undefined;
  const name = resolveProfileName(profile);
  if (name === null)
    throw new BackendChoiceError(`unknown profile '${profile}' (choose one of ${profileChoices()})`, 'input');
  return name;
}

function mock(options: MockOptions): Backend {
  try {
    return createMockBackend(options);
  } catch (e) {
    // A topology or state file that does not validate is the user's input.
    if (e instanceof MockConfigError) throw new BackendChoiceError(e.message, 'input');
    throw e;
  }
}
