// Backend selection: `auto` picks native when this machine has what iovh
// validates (an SR-IOV PF with VFs enabled, /dev/vfio, and the addon), else the
// mock; it always says which and why (../shared/DESIGN.md, layer 3).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, BackendChoice } from './types.js';
import { loadAddon } from '../native/addon.js';
import { createNativeBackend } from './native.js';
import { createMockBackend, isProfileName, PROFILE_NAMES, MockConfigError, type MockOptions } from '../mock/backend.js';
import { UsageError, CliError } from '../cli/errors.js';

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
}

export interface NativeFitness {
  ok: boolean;
  reason: string;
}

/** Does this machine look like one the native backend should run on? Reads only. */
export function nativeFitness(root = '/'): NativeFitness {
  const addon = loadAddon();
  if (!addon.addon) return { ok: false, reason: `native addon unavailable (${addon.error}); run \`npm rebuild iovh\`` };
  if (!existsSync(join(root, 'dev/vfio/vfio'))) return { ok: false, reason: 'no /dev/vfio/vfio (vfio not loaded, or no IOMMU)' };
  const devices = join(root, 'sys/bus/pci/devices');
  let entries: string[] = [];
  try {
    entries = readdirSync(devices);
  } catch {
    return { ok: false, reason: `cannot list ${devices}` };
  }
  for (const bdf of entries) {
    try {
      const n = Number(readFileSync(join(devices, bdf, 'sriov_numvfs'), 'utf8').trim());
      if (n > 0) return { ok: true, reason: `SR-IOV PF ${bdf} has ${n} VFs enabled and /dev/vfio exists` };
    } catch {
      // not a PF
    }
  }
  return { ok: false, reason: 'no SR-IOV PF with VFs enabled (see `iovh vfs enable`)' };
}

export async function openBackend(options: SelectOptions = {}): Promise<Backend> {
  const choice = options.backend ?? 'auto';
  const profile = options.profile;
  if (profile !== undefined && !isProfileName(profile)) {
    throw new UsageError(`unknown profile '${profile}' (choose one of ${PROFILE_NAMES.join(', ')})`);
  }
  if (choice === 'native' || choice === 'auto') {
    const fit = nativeFitness(options.root);
    if (choice === 'native') {
      const addon = loadAddon();
      if (!addon.addon) throw new CliError(`--backend native: the native addon is unavailable (${addon.error}); run \`npm rebuild iovh\``, 99);
      return createNativeBackend({ root: options.root, reason: fit.ok ? `--backend native: ${fit.reason}` : '--backend native' });
    }
    if (fit.ok) return createNativeBackend({ root: options.root, reason: `auto: ${fit.reason}` });
    return mock({ profile, topology: options.topology, statePath: options.mockState, reason: `auto: mock, because ${fit.reason}` });
  }
  return mock({ profile, topology: options.topology, statePath: options.mockState, reason: '--backend mock' });
}

function mock(options: MockOptions): Backend {
  try {
    return createMockBackend(options);
  } catch (e) {
    // A topology or state file that does not validate is the user's input.
    if (e instanceof MockConfigError) throw new UsageError(e.message);
    throw e;
  }
}
