// The mock kernel's state file (--mock-state FILE / IOVH_MOCK_STATE): what a
// real machine keeps between two commands run against it. Kept: the topology
// and profile it was booted with, every device's driver and driver_override,
// SR-IOV numvfs, autoprobe and the VFs' drivers, overrides and IOMMU groups,
// xe provisioning (quotas with their VRAM blocks, spare, scheduling profile),
// new_id entries, /sys/bus/pci/drivers_autoprobe, taint, the kernel log, the
// clock, kmemleak's unreferenced objects, tracefs probes, instances and
// buffers. Not kept: memory contents and anything a process holds (fds,
// mappings, dma-bufs, imports): they end with the process that made them.
//
// Written atomically and durably (src/outfile.ts: temp file, fsync, rename,
// fsync of the directory). A missing file is a fresh kernel. A symlink is
// followed (the file it points to is the state; the save replaces that file,
// not the link), a link loop or a name that is not a regular file is an
// error. Commands that may change the kernel hold the file's lock
// (<file>.lock, src/lockfile.ts) from before the load until after the save;
// the others never save (docs/safety.md).

import { accessSync, constants, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { codeOf, writeAtomic } from '../outfile.js';
import { LIMITS, parseUserJson, readUserFile, UserFileError } from '../userfile.js';
import type { ProfileName } from './contracts.js';
import type { KernelCoreState } from './kernel.js';
import type { PciState } from './pci.js';
import type { DeviceState } from './platform.js';
import { resolveProfileName } from './profiles.js';
import { MockConfigError, type Topology } from './topology.js';
import { parseUuid } from './vfio.js';

export const STATE_SCHEMA = 'iovh-mock-state/1';

/** The top-level fields saveState writes; a file with others was not written by iovh (or was edited wrongly). */
const STATE_FIELDS = ['schema', 'profile', 'topology', 'nextPid', 'pci', 'devices', 'kernel'];

export interface MockState {
  schema: typeof STATE_SCHEMA;
  profile: ProfileName;
  topology: Topology;
  /** pid of the next process (each CLI invocation is a new process). */
  nextPid: number;
  pci: PciState;
  devices: DeviceState[];
  kernel: KernelCoreState;
}

/** JSON with bigints as decimal strings (the loaders take strings back with BigInt()). */
export function stateJson(state: MockState): string {
  return `${JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

export function saveState(path: string, state: MockState): void {
  writeAtomic(path, stateJson(state));
}

/**
 * The file a --mock-state path names: itself, or where its symlink points
 * (a dangling link: the file it names, created at the first save). Throws
 * MockConfigError for a link loop and for anything but a regular file.
 */
export function stateFilePath(path: string): string {
  const bad = (problem: string): never => {
    throw new MockConfigError(`state file ${path}: ${problem}`);
  };
  let real = resolve(path);
  try {
    real = realpathSync(path);
  } catch (e) {
    const code = codeOf(e);
    if (code === 'ELOOP') return bad('a symbolic link loop (ELOOP)');
    // ENOTDIR, EACCES, ...: checkStateWritable and loadState name the problem.
    if (code !== 'ENOENT') return real;
    try {
      // Dangling: follow the chain by hand to the name that does not exist yet.
      for (let hops = 0; lstatSync(real).isSymbolicLink(); hops++) {
        if (hops > 40) return bad('a symbolic link loop (ELOOP)');
        real = resolve(dirname(real), readlinkSync(real));
      }
    } catch {
      // ENOENT: the end of the chain, the name the first save creates; anything else is named by the load or save.
    }
  }
  const st = statSync(real, { throwIfNoEntry: false });
  if (st?.isDirectory()) bad('it is a directory');
  if (st && !st.isFile()) bad('not a regular file (a device, FIFO or socket cannot hold a kernel state)');
  return real;
}

/**
 * Can the state file be saved at `path`? saveState writes a temporary file
 * next to it and renames it over: the directory must exist and be writable,
 * and the path, when it exists, must not be a directory. Checked when the
 * backend opens, so that a command fails before it changes anything rather
 * than after (a journal would record writes the state never kept).
 */
export function checkStateWritable(path: string): void {
  const bad = (problem: string): never => {
    throw new MockConfigError(`state file ${path}: cannot be saved: ${problem}`);
  };
  const dir = dirname(resolve(path));
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    return bad(
      `its directory ${dir} ${(e as { code?: string }).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(e as { code?: string }).code ?? 'error'})`}`,
    );
  }
  if (!isDir) bad(`${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    bad(`its directory ${dir} is not writable (${(e as { code?: string }).code ?? 'error'})`);
  }
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) bad('it is a directory');
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DECIMAL = /^(0|[1-9][0-9]{0,19})$/;
/** drm_buddy's chunk for xe's VRAM manager: SZ_4K (drivers/gpu/drm/xe/xe_ttm_vram_mgr.c __xe_ttm_vram_mgr_init). */
const VRAM_CHUNK = 4096n;
const SCHED = ['low', 'normal', 'high'];

/**
 * What is wrong with a device's saved xe provisioning (XePfSaved), as [path, problem], or null. Blocks are
 * drm_buddy blocks: a size of chunk * 2^k (a size of 0 made the allocator's order -Infinity and its search
 * never end), an address that is a whole number; whether they fit this VRAM is the allocator's to say
 * (BuddyAllocator.claim) when the machine boots.
 */
function xeProblem(x: unknown): [string, string] | null {
  if (!isObj(x)) return ['', 'expected an object'];
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const decimals = (v: unknown) => Array.isArray(v) && v.every((e) => typeof e === 'string' && DECIMAL.test(e));
  const blocks = (v: unknown, at: string): [string, string] | null => {
    if (!Array.isArray(v)) return [at, 'expected an array of VRAM blocks'];
    for (const [j, b] of v.entries()) {
      if (!isObj(b) || typeof b.dpa !== 'string' || typeof b.size !== 'string' || !DECIMAL.test(b.dpa))
        return [`${at}[${j}]`, 'expected {dpa, size} as decimal strings'];
      const size = DECIMAL.test(b.size) ? BigInt(b.size) : 0n;
      // A power of two at least one chunk: size & (size - 1) is 0 only for powers of two.
      if (size < VRAM_CHUNK || (size & (size - 1n)) !== 0n)
        return [
          `${at}[${j}].size`,
          `${JSON.stringify(b.size).slice(0, 40)} is not a VRAM block size (4096 * 2^k bytes)`,
        ];
    }
    return null;
  };
  const sched = (o: Record<string, unknown>, at: string): [string, string] | null => {
    if (!count(o.execQuantumMs) || !count(o.preemptTimeoutUs) || !SCHED.includes(o.schedPriority as string))
      return [at, 'expected {execQuantumMs, preemptTimeoutUs, schedPriority}'];
    return null;
  };
  if (x.mode !== 'auto' && x.mode !== 'custom') return ['.mode', 'expected "auto" or "custom"'];
  if (!decimals(x.spare)) return ['.spare', 'expected an array of decimal strings'];
  if (!Array.isArray(x.pfBlocks)) return ['.pfBlocks', 'expected an array per tile'];
  for (const [t, bs] of x.pfBlocks.entries()) {
    const p = blocks(bs, `.pfBlocks[${t}]`);
    if (p) return p;
  }
  if (!Array.isArray(x.vfs)) return ['.vfs', 'expected an array'];
  for (const [v, c] of x.vfs.entries()) {
    const at = `.vfs[${v}]`;
    if (!isObj(c) || !Array.isArray(c.lmem)) return [at, 'expected an object with lmem[]'];
    for (const [t, l] of c.lmem.entries()) {
      const p = l === null ? null : blocks(l, `${at}.lmem[${t}]`);
      if (p) return p;
    }
    if (!decimals(c.ggtt)) return [`${at}.ggtt`, 'expected an array of decimal strings'];
    for (const f of ['contexts', 'doorbells'])
      if (!Array.isArray(c[f]) || !(c[f] as unknown[]).every(count))
        return [`${at}.${f}`, 'expected an array of counts'];
    const p = sched(c, at);
    if (p) return p;
  }
  if (!isObj(x.pf)) return ['.pf', 'expected an object'];
  return sched(x.pf, '.pf');
}

/** Read a state file: null when it does not exist; MockConfigError naming the field when it does not validate. */
export function loadState(path: string): MockState | null {
  try {
    statSync(path);
  } catch (e) {
    // Only a name that is not there is a fresh kernel: a link loop or an unreadable directory is not.
    if (codeOf(e) === 'ENOENT') return null;
    throw new MockConfigError(`state file ${path}: cannot be read (${codeOf(e)})`);
  }
  const bad = (field: string, problem: string): never => {
    throw new MockConfigError(`state file ${path}: ${field}: ${problem}`);
  };
  let text: string;
  try {
    text = readUserFile(path, LIMITS.state, 'a mock state file');
  } catch (e) {
    if (e instanceof UserFileError) return bad('(file)', e.message);
    throw e;
  }
  let json: unknown;
  try {
    json = parseUserJson(text);
  } catch (e) {
    if (e instanceof UserFileError) return bad('(file)', e.message);
    throw e;
  }
  if (!isObj(json)) return bad('(root)', 'expected a JSON object');
  for (const key of Object.keys(json))
    if (!STATE_FIELDS.includes(key)) return bad(key, `unknown field (expected ${STATE_FIELDS.join(', ')})`);
  if (json.schema !== STATE_SCHEMA)
    return bad('schema', `expected "${STATE_SCHEMA}", got ${JSON.stringify(json.schema)}`);
  // A state file written before the kernel lines were split says `upstream`: the alias keeps it loading.
  const profile = typeof json.profile === 'string' ? resolveProfileName(json.profile) : null;
  if (profile === null) return bad('profile', `unknown profile ${JSON.stringify(json.profile)}`);
  json.profile = profile;
  if (!isObj(json.topology)) return bad('topology', 'expected an object');
  if (typeof json.nextPid !== 'number' || !Number.isInteger(json.nextPid) || json.nextPid < 2)
    return bad('nextPid', 'expected an integer >= 2');
  if (!isObj(json.pci) || typeof json.pci.autoprobe !== 'boolean' || !isObj(json.pci.dynIds))
    return bad('pci', 'expected {autoprobe, dynIds}');
  if (json.pci.vfioEnableSriov !== undefined && typeof json.pci.vfioEnableSriov !== 'boolean')
    return bad('pci.vfioEnableSriov', 'expected a boolean');
  if (!Array.isArray(json.devices)) return bad('devices', 'expected an array');
  for (const [i, d] of (json.devices as unknown[]).entries()) {
    if (!isObj(d) || typeof d.bdf !== 'string') return bad(`devices[${i}]`, 'expected an object with a bdf');
    if (d.driver !== null && typeof d.driver !== 'string')
      return bad(`devices[${i}].driver`, 'expected a string or null');
    if (d.driverOverride !== null && typeof d.driverOverride !== 'string')
      return bad(`devices[${i}].driverOverride`, 'expected a string or null');
    if (d.sriov !== undefined) {
      const s = d.sriov;
      if (
        !isObj(s) ||
        typeof s.numvfs !== 'number' ||
        typeof s.autoprobe !== 'boolean' ||
        !Array.isArray(s.vfs) ||
        s.vfs.length !== s.numvfs
      ) {
        return bad(`devices[${i}].sriov`, 'expected {numvfs, autoprobe, vfs[numvfs]}');
      }
    }
    if (d.xe !== undefined) {
      const problem = xeProblem(d.xe);
      if (problem) return bad(`devices[${i}].xe${problem[0]}`, problem[1]);
    }
    if (d.vfToken !== undefined && (typeof d.vfToken !== 'string' || parseUuid(d.vfToken) !== d.vfToken))
      return bad(`devices[${i}].vfToken`, 'expected a lower-case UUID');
    if (d.mockGpu !== undefined) {
      const g = d.mockGpu;
      if (
        !isObj(g) ||
        !Array.isArray(g.blocks) ||
        !g.blocks.every((l) => Array.isArray(l) && l.every((b) => Number.isSafeInteger(b) && b >= 0)) ||
        !Array.isArray(g.custom) ||
        !g.custom.every((c) => typeof c === 'boolean') ||
        typeof g.auto !== 'boolean'
      )
        return bad(`devices[${i}].mockGpu`, 'expected {blocks: count[][], custom: boolean[], auto: boolean}');
    }
  }
  const k = json.kernel;
  if (
    !isObj(k) ||
    typeof k.usec !== 'string' ||
    typeof k.taint !== 'number' ||
    !isObj(k.kmsg) ||
    !isObj(k.kmemleak) ||
    !isObj(k.tracefs)
  ) {
    return bad('kernel', 'expected {usec, taint, oopses, kmsg, kmemleak, tracefs}');
  }
  return json as unknown as MockState;
}

/** Canonical form of a topology, to tell whether a state file was made from the same one. */
export function topologyKey(t: Topology): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (isObj(v))
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((key) => [key, sort(v[key])]),
      );
    return v;
  };
  return JSON.stringify(sort(t));
}
