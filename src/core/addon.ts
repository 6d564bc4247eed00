// The private surface of the native addon (build/Release/iovh.node, built from
// core/binding.cc over the C core in core/*.c) and its loader.
//
// Nobody but src/backend/native.ts (and bench/, tests) uses this file: the
// public API is DeviceOps (src/backend/types.ts) and the wrappers in
// src/uapi/. Every method here is one system call, 1:1 with a C function in
// core/; retries (region info with capabilities, DRM version strings) and
// policy live in TypeScript above.
//
// Errors: a failed system call throws an Error carrying `errno` (negative),
// `code` (the errno name), `syscall` and, for ioctls, `request` (the ioctl's
// name). Every synchronous system-call entry also has an errno twin,
// `addon.errno.<name>`: same arguments, same result, but a failed call
// returns -errno (a negative number; no success value is one) and
// `addon.errnoSite()` says which call it was. src/backend/native.ts calls the
// twins and builds the SystemError itself, with the device path, so a failure
// costs one Error instead of two (and none in the addon), and a failure the
// caller expects (src/uapi/errors.ts, expectingErrno) costs no stack trace.
// Arguments of the wrong type throw TypeError; out-of-range values (negative
// lengths, mapping bounds) throw RangeError, in both forms. The addon never
// aborts the process on bad input.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IcInfo, IcMapResult, IcVersion, PatternMismatch } from '../backend/types.js';

/** What the binding throws for a failed system call. */
export interface AddonErrno extends Error {
  errno: number;
  code: string;
  syscall: string;
  request?: string;
  /** Set when a signal (SIGBUS) ended a mapping access. */
  signal?: string;
}

export function isAddonErrno(e: unknown): e is AddonErrno {
  return (
    e instanceof Error &&
    typeof (e as Partial<AddonErrno>).errno === 'number' &&
    typeof (e as Partial<AddonErrno>).syscall === 'string'
  );
}

/**
 * An mmap(2) made by the addon. Bounds-checked; every method but unmap()
 * throws after unmap(). An access that meets memory which lost its backing
 * (SIGBUS: a truncated file, a VFIO BAR being reset) throws an AddonErrno
 * with errno EFAULT, syscall 'mmap access' and `signal: 'SIGBUS'`.
 */
export interface AddonMapping {
  readonly length: number;
  readonly address: bigint;
  readonly mapped: boolean;
  /** Copy of [offset, offset + length). */
  read(offset: number, length: number): Uint8Array;
  write(offset: number, data: Uint8Array): void;
  fill(offset: number, length: number, seed: bigint, address: bigint): void;
  verify(offset: number, length: number, seed: bigint, address: bigint): PatternMismatch | null;
  /** munmap(2); a second call does nothing. */
  unmap(): void;
}

export interface AddonGroupStatus {
  argsz: number;
  flags: number;
}

export interface AddonDeviceInfo {
  argsz: number;
  flags: number;
  numRegions: number;
  numIrqs: number;
  capOffset: number;
}

export interface AddonRegionInfo {
  /** argsz as the kernel left it: larger than the argsz passed in when capabilities did not fit. */
  argsz: number;
  flags: number;
  index: number;
  capOffset: number;
  size: bigint;
  offset: bigint;
  /** Bytes [32, min(argsz in, argsz out)) of the buffer: the capability chain when it fit. */
  caps: Uint8Array;
}

export interface AddonDrmVersion {
  major: number;
  minor: number;
  patchlevel: number;
  /** Lengths the kernel reported; strings longer than the buffer were cut to it. */
  nameLen: number;
  dateLen: number;
  descLen: number;
  name: string;
  date: string;
  desc: string;
}

export interface AddonXeSync {
  type: number;
  flags: number;
  handle?: number;
  addr?: bigint;
  timelineValue?: bigint;
}

export interface AddonXeBindOp {
  obj: number;
  patIndex: number;
  objOffset: bigint;
  range: bigint;
  addr: bigint;
  op: number;
  flags: number;
  prefetchMemRegionInstance: number;
}

/** The addon's entry points (core/binding.cc, kEntries), in their throwing form. */
export interface AddonCalls {
  open(path: string, flags: number): number;
  close(fd: number): void;
  pread(fd: number, offset: bigint, length: number): Uint8Array;
  pwrite(fd: number, offset: bigint, data: Uint8Array): number;
  /** mmap(2) MAP_SHARED. */
  mmap(fd: number, offset: bigint, length: number, prot: number): AddonMapping;

  vfioGetApiVersion(fd: number): number;
  vfioCheckExtension(fd: number, extension: number): number;
  vfioSetIommu(fd: number, type: number): void;
  vfioGroupGetStatus(fd: number): AddonGroupStatus;
  vfioGroupSetContainer(groupFd: number, containerFd: number): void;
  vfioGroupUnsetContainer(groupFd: number): void;
  vfioGroupGetDeviceFd(groupFd: number, bdf: string): number;
  vfioDeviceGetInfo(fd: number): AddonDeviceInfo;
  vfioDeviceGetRegionInfo(fd: number, index: number, argsz: number): AddonRegionInfo;
  vfioDeviceReset(fd: number): Promise<void>;
  /** Header {argsz, flags} followed by `payload`; returns the ioctl's return value. */
  vfioDeviceFeature(fd: number, flags: number, payload: Uint8Array, argsz: number): number;
  /**
   * VFIO_DEVICE_FEATURE with a vfio_device_feature_dma_buf payload built from
   * `ranges` ([offset0, length0, ...]); every field is passed unchanged. When
   * nrRanges exceeds ranges.length / 2 the array is placed against a
   * PROT_NONE page, so the kernel's copy of the missing ranges faults
   * (EFAULT) instead of reading stray memory.
   */
  vfioDeviceFeatureDmaBuf(
    fd: number,
    featureFlags: number,
    argsz: number,
    regionIndex: number,
    openFlags: number,
    flags: number,
    nrRanges: number,
    ranges: BigUint64Array,
  ): number;
  /** Returns out_devid. */
  vfioDeviceBindIommufd(fd: number, iommufd: number, flags: number): number;
  /** BIND_IOMMUFD with token_uuid_ptr at `token` (16 bytes; empty: a null pointer). */
  vfioDeviceBindIommufdToken(fd: number, iommufd: number, flags: number, token: Uint8Array): number;
  vfioDeviceAttachIommufdPt(fd: number, ptId: number): number;
  vfioDeviceDetachIommufdPt(fd: number): void;
  /** Returns out_ioas_id. */
  iommuIoasAlloc(iommufd: number, flags: number): number;
  iommuDestroy(iommufd: number, id: number): void;
  /**
   * IOMMU_IOAS_IOVA_RANGES with room for `capacity` ranges: ranges as
   * [start0, last0, ...] (at most capacity of them). EMSGSIZE (more ranges
   * than room) is returned, not thrown: `ranges` null and `numIovas` the
   * count the kernel has.
   */
  iommuIoasIovaRanges(
    iommufd: number,
    ioasId: number,
    capacity: number,
  ): { numIovas: number; alignment: bigint; ranges: BigUint64Array | null };
  /** Returns the iova the kernel wrote back. */
  iommuIoasMapFile(
    iommufd: number,
    ioasId: number,
    flags: number,
    fd: number,
    start: bigint,
    length: bigint,
    iova: bigint,
  ): bigint;
  /** Returns the length the kernel wrote back (bytes unmapped). */
  iommuIoasUnmap(iommufd: number, ioasId: number, iova: bigint, length: bigint): bigint;

  drmVersion(fd: number, bufferSize: number): AddonDrmVersion;
  drmGetCap(fd: number, capability: bigint): bigint;
  drmPrimeFdToHandle(fd: number, dmabufFd: number): number;
  drmPrimeHandleToFd(fd: number, handle: number, flags: number): number;
  drmGemClose(fd: number, handle: number): void;
  drmSyncobjCreate(fd: number, flags: number): number;
  drmSyncobjDestroy(fd: number, handle: number): void;
  drmSyncobjWait(fd: number, handles: Uint32Array, timeoutNs: bigint, flags: number): Promise<number>;

  /** size 0 asks for the size; returns {size, data} where data has `size` bytes when size was > 0. */
  xeDeviceQuery(fd: number, query: number, size: number): { size: number; data: Uint8Array };
  xeGemCreate(fd: number, size: bigint, placement: number, flags: number, vmId: number, cpuCaching: number): number;
  xeGemMmapOffset(fd: number, handle: number, flags: number): bigint;
  xeVmCreate(fd: number, flags: number): number;
  xeVmDestroy(fd: number, vmId: number): void;
  xeVmBind(fd: number, vmId: number, execQueueId: number, binds: AddonXeBindOp[], syncs: AddonXeSync[]): void;
  xeExecQueueCreate(
    fd: number,
    vmId: number,
    width: number,
    numPlacements: number,
    flags: number,
    instances: Uint16Array,
  ): number;
  xeExecQueueDestroy(fd: number, execQueueId: number): void;
  xeExec(fd: number, execQueueId: number, address: bigint, numBatchBuffer: number, syncs: AddonXeSync[]): void;
  /** Resolves the timeout field the kernel wrote back. */
  xeWaitUserFence(
    fd: number,
    addr: bigint,
    op: number,
    flags: number,
    value: bigint,
    mask: bigint,
    timeout: bigint,
    execQueueId: number,
  ): Promise<bigint>;

  dmaBufSetName(fd: number, name: string): void;
  dmaBufSync(fd: number, flags: bigint): void;

  memfdCreate(name: string, flags: number): number;
  ftruncate(fd: number, size: bigint): void;
  addSeals(fd: number, seals: number): void;
  udmabufCreate(fd: number, memfd: number, flags: number, offset: bigint, size: bigint): number;

  iovhIcVersion(fd: number): IcVersion;
  iovhIcImport(
    fd: number,
    dmabufFd: number,
    flags: number,
    segment: number,
    bus: number,
    devfn: number,
    bar: number,
  ): { handle: number; negotiated: number; size: bigint };
  iovhIcMap(fd: number, handle: number): IcMapResult;
  iovhIcInfo(fd: number, handle: number, room: number): IcInfo;
  iovhIcRead(fd: number, handle: number, offset: bigint, length: number): Uint8Array;
  iovhIcWrite(fd: number, handle: number, offset: bigint, data: Uint8Array): void;
  iovhIcRelease(fd: number, handle: number): void;

  /** The pattern of src/uapi/pattern.ts over a plain buffer (byte 0 = address `base`). */
  patternFill(buf: Uint8Array, seed: bigint, base: bigint): void;
  patternVerify(buf: Uint8Array, seed: bigint, base: bigint): PatternMismatch | null;
  /**
   * Force the pattern's kernel (one of patternKernels().available; '' for the
   * best this CPU runs) and the size from which fill streams past the cache
   * (0 for the default). Process-wide; for tests and benchmarks.
   */
  patternSelect(isa: string, ntThreshold: number): void;
  /** What fill and verify run now. */
  patternKernels(): { isa: string; available: string[]; ntThreshold: number };
}

/** Entries without an errno twin: the blocking calls (they reject a Promise) and the pattern's (no system call). */
export type AddonNoTwin =
  | 'vfioDeviceReset'
  | 'drmSyncobjWait'
  | 'xeWaitUserFence'
  | 'patternFill'
  | 'patternVerify'
  | 'patternSelect'
  | 'patternKernels';
export type AddonTwinName = Exclude<keyof AddonCalls, AddonNoTwin>;

/**
 * The errno twins: the same calls, returning -errno (a negative number)
 * where the throwing form throws. Success values are never negative numbers
 * (fds, counts and ids are >= 0; the rest are objects, bigints or undefined).
 */
export type AddonErrnoCalls = {
  [K in AddonTwinName]: (...args: Parameters<AddonCalls[K]>) => ReturnType<AddonCalls[K]> | number;
};

export interface Addon extends AddonCalls {
  /** NAPI_VERSION the addon was built for. */
  readonly napiVersion: number;
  readonly errno: AddonErrnoCalls;
  /**
   * The system call whose failure an errno twin returned last on this thread:
   * 'ioctl VFIO_DEVICE_FEATURE', 'fcntl', ...; null before any.
   */
  errnoSite(): string | null;
}

export interface AddonLoad {
  addon: Addon | null;
  /** Why the addon is unavailable (null when it loaded). */
  error: string | null;
  /** The file that loaded, or the places tried. */
  path: string | null;
}

/** The package root: this file is src/core/addon.ts or dist/core/addon.js. */
export function packageRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/**
 * Where the addon may be, in order: cmake-js Release, then Debug (the
 * IOVH_SANITIZE build). IOVH_ADDON names one file instead (e.g. to run the
 * suite against the sanitizer build while a Release build exists).
 */
export function addonCandidates(root = packageRoot(), env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.IOVH_ADDON) return [env.IOVH_ADDON];
  return [join(root, 'build', 'Release', 'iovh.node'), join(root, 'build', 'Debug', 'iovh.node')];
}

/** Try each candidate; never throws. */
export function loadAddonFrom(candidates: readonly string[]): AddonLoad {
  const require = createRequire(import.meta.url);
  const problems: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the one place the addon is untyped; checked just below
      const addon = require(file) as any;
      if (typeof addon !== 'object' || addon === null || typeof addon.open !== 'function') {
        problems.push(`${file} is not the iovh addon`);
        continue;
      }
      if (typeof addon.errno !== 'object' || addon.errno === null || typeof addon.errnoSite !== 'function') {
        problems.push(`${file} was built from an older core/binding.cc (no errno twins)`);
        continue;
      }
      if (!isScalarForms(addon.scalar)) {
        problems.push(`${file} was built from an older core/binding.cc (no scalar forms)`);
        continue;
      }
      // Copies: the exports object gets its ~50 properties one by one through
      // Node-API, which leaves V8 holding it as a dictionary, so every
      // addon.<call> would be a hash lookup; a spread copy is a fast object.
      const { scalar: forms, ...calls } = addon;
      const scalar: ScalarForms = forms;
      const fast = { ...calls, errno: { ...addon.errno } };
      const args = argsOf(addon, scalar);
      // Without the slots (another caller of the raw exports took them first) the plain forms serve: same results.
      if (args)
        for (const [name, arity] of Object.entries(scalar.arity)) {
          fast[name] = scalarCall(arity, args, scalar.throwing[name], addon[name]);
          fast.errno[name] = scalarCall(arity, args, scalar.errno[name], addon.errno[name]);
        }
      return { addon: fast as Addon, error: null, path: file };
    } catch (e) {
      problems.push(`${file}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  const error =
    problems.length > 0
      ? `cannot load the native addon: ${problems.join('; ')}`
      : `native addon not built (looked for ${candidates.join(', ')})`;
  return { addon: null, error, path: null };
}

/** `addon.scalar`: the argument-less forms of the entries whose arguments are all numbers (core/binding.cc). */
interface ScalarForms {
  /**
   * Where a scalar form reads its arguments: one Float64Array per
   * environment, handed out once (then it throws), so that only this module
   * holds it: no caller of the raw exports can detach it or write into it
   * between a wrapper's stores and its call.
   */
  takeArgs(): Float64Array;
  arity: Record<string, number>;
  throwing: Record<string, () => unknown>;
  errno: Record<string, () => unknown>;
}

function isScalarForms(x: unknown): x is ScalarForms {
  const s = x as Partial<ScalarForms> | null;
  return typeof s === 'object' && s !== null && typeof s.takeArgs === 'function' && typeof s.arity === 'object';
}

/** The slots taken from each raw exports object (require() returns the same one to every loader of a file). */
const slots = new WeakMap<object, Float64Array | null>();

/** The argument slots of these exports, taken once; null when someone else took them. */
function argsOf(addon: object, scalar: ScalarForms): Float64Array | null {
  let args = slots.get(addon);
  if (args === undefined) {
    try {
      args = scalar.takeArgs();
    } catch {
      args = null;
    }
    slots.set(addon, args);
  }
  return args;
}

type Plain = (...args: unknown[]) => unknown;

/**
 * An entry whose arguments are all numbers, as callers see it: numbers go
 * into the shared slots and the argument-less form runs (no
 * napi_get_cb_info, no napi_get_value_double per argument: core/binding.cc
 * says why); anything else goes to the plain entry, whose checks say what
 * was wrong. Nothing runs between the stores and the call, so the slots
 * cannot be overwritten in between. One closure per arity up to 4 (the hot
 * calls), so V8 inlines the stores; longer ones take a rest array.
 */
function scalarCall(arity: number, args: Float64Array, fast: () => unknown, plain: Plain): Plain {
  const num = (v: unknown): v is number => typeof v === 'number';
  switch (arity) {
    case 1:
      return (a) => (num(a) ? ((args[0] = a), fast()) : plain(a));
    case 2:
      return (a, b) => (num(a) && num(b) ? ((args[0] = a), (args[1] = b), fast()) : plain(a, b));
    case 3:
      return (a, b, c) =>
        num(a) && num(b) && num(c) ? ((args[0] = a), (args[1] = b), (args[2] = c), fast()) : plain(a, b, c);
    case 4:
      return (a, b, c, d) =>
        num(a) && num(b) && num(c) && num(d)
          ? ((args[0] = a), (args[1] = b), (args[2] = c), (args[3] = d), fast())
          : plain(a, b, c, d);
    default:
      return (...xs) => {
        for (let i = 0; i < arity; i++) if (!num(xs[i])) return plain(...xs.slice(0, arity));
        for (let i = 0; i < arity; i++) args[i] = xs[i] as number;
        return fast();
      };
  }
}

let cached: AddonLoad | undefined;

/** The addon, loaded once per process. */
export function loadAddon(): AddonLoad {
  cached ??= loadAddonFrom(addonCandidates());
  return cached;
}

/** The fix to print when the addon is unavailable. */
export const ADDON_FIX = 'run `npm rebuild iovh` (needs cmake and a C/C++ compiler)';
