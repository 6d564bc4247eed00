// Wrong argument types throw TypeError (values out of range RangeError) and
// never reach the kernel or crash the process: every addon function, every
// argument, many wrong values.
import { closeSync, openSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Addon } from '../../src/core/addon.js';
import { itNative } from './support.js';

type Kind =
  | 'fd'
  | 'i32'
  | 'u32'
  | 'u16'
  | 'size'
  | 'u64'
  | 'i64'
  | 'str'
  | 'bytes'
  | 'big64'
  | 'u32arr'
  | 'u16arr'
  | 'arr';

let fd = -1;
beforeAll(() => {
  fd = openSync('/dev/null', 'r+');
});
afterAll(() => closeSync(fd));

function valid(kind: Kind): unknown {
  switch (kind) {
    case 'fd':
      return fd;
    case 'i32':
    case 'u32':
    case 'u16':
    case 'size':
      return 0;
    case 'u64':
    case 'i64':
      return 0n;
    case 'str':
      return 'x';
    case 'bytes':
      return new Uint8Array(8);
    case 'big64':
      return new BigUint64Array(2);
    case 'u32arr':
      return new Uint32Array(1);
    case 'u16arr':
      return new Uint16Array(4);
    case 'arr':
      return [];
  }
}

const numberKinds = new Set<Kind>(['fd', 'i32', 'u32', 'u16', 'size']);

/** Values of the wrong type for a slot; each must give TypeError. */
function wrong(kind: Kind): unknown[] {
  const common: unknown[] = [undefined, null, {}, Symbol('s'), () => 0];
  if (numberKinds.has(kind)) return [...common, '3', 1n, 1.5, NaN, Infinity, [], new Uint8Array(1)];
  if (kind === 'u64' || kind === 'i64') return [...common, 3, '3', [], 1.5];
  if (kind === 'str') return [...common, 3, 1n, []];
  if (kind === 'arr') return [...common, 3, 'x', new Uint8Array(1)];
  return [
    ...common,
    3,
    'x',
    1n,
    [1, 2],
    new Float64Array(2),
    new ArrayBuffer(8),
    kind === 'bytes' ? new Int8Array(8) : new Uint8Array(8),
  ];
}

/** Values of the right type but out of range; each must give RangeError. */
function outOfRange(kind: Kind): unknown[] {
  switch (kind) {
    case 'u32':
      return [-1, 2 ** 32];
    case 'u16':
      return [-1, 65536];
    case 'fd':
    case 'i32':
      return [2 ** 31, -(2 ** 31) - 1];
    case 'size':
      return [-1, 2 ** 53];
    case 'u64':
      return [-1n, 1n << 64n];
    case 'i64':
      return [1n << 63n, -(1n << 63n) - 1n];
    default:
      return [];
  }
}

const signatures: Array<[keyof Addon, Kind[]]> = [
  ['open', ['str', 'i32']],
  ['close', ['fd']],
  ['pread', ['fd', 'u64', 'size']],
  ['pwrite', ['fd', 'u64', 'bytes']],
  ['ftruncate', ['fd', 'u64']],
  ['mmap', ['fd', 'u64', 'size', 'i32']],
  ['vfioGetApiVersion', ['fd']],
  ['vfioCheckExtension', ['fd', 'i32']],
  ['vfioSetIommu', ['fd', 'i32']],
  ['vfioGroupGetStatus', ['fd']],
  ['vfioGroupSetContainer', ['fd', 'fd']],
  ['vfioGroupUnsetContainer', ['fd']],
  ['vfioGroupGetDeviceFd', ['fd', 'str']],
  ['vfioDeviceGetInfo', ['fd']],
  ['vfioDeviceGetRegionInfo', ['fd', 'u32', 'u32']],
  ['vfioDeviceReset', ['fd']],
  ['vfioDeviceFeature', ['fd', 'u32', 'bytes', 'u32']],
  ['vfioDeviceFeatureDmaBuf', ['fd', 'u32', 'u32', 'u32', 'u32', 'u32', 'u32', 'big64']],
  ['vfioDeviceBindIommufd', ['fd', 'fd', 'u32']],
  ['vfioDeviceBindIommufdToken', ['fd', 'fd', 'u32', 'bytes']],
  ['vfioDeviceAttachIommufdPt', ['fd', 'u32']],
  ['vfioDeviceDetachIommufdPt', ['fd']],
  ['iommuIoasAlloc', ['fd', 'u32']],
  ['iommuDestroy', ['fd', 'u32']],
  ['iommuIoasIovaRanges', ['fd', 'u32', 'u32']],
  ['iommuIoasMapFile', ['fd', 'u32', 'u32', 'i32', 'u64', 'u64', 'u64']],
  ['iommuIoasUnmap', ['fd', 'u32', 'u64', 'u64']],
  ['drmVersion', ['fd', 'size']],
  ['drmGetCap', ['fd', 'u64']],
  ['drmPrimeFdToHandle', ['fd', 'fd']],
  ['drmPrimeHandleToFd', ['fd', 'u32', 'u32']],
  ['drmGemClose', ['fd', 'u32']],
  ['drmSyncobjCreate', ['fd', 'u32']],
  ['drmSyncobjDestroy', ['fd', 'u32']],
  ['drmSyncobjWait', ['fd', 'u32arr', 'i64', 'u32']],
  ['xeDeviceQuery', ['fd', 'u32', 'u32']],
  ['xeGemCreate', ['fd', 'u64', 'u32', 'u32', 'u32', 'u16']],
  ['xeGemMmapOffset', ['fd', 'u32', 'u32']],
  ['xeVmCreate', ['fd', 'u32']],
  ['xeVmDestroy', ['fd', 'u32']],
  ['xeVmBind', ['fd', 'u32', 'u32', 'arr', 'arr']],
  ['xeExecQueueCreate', ['fd', 'u32', 'u16', 'u16', 'u32', 'u16arr']],
  ['xeExecQueueDestroy', ['fd', 'u32']],
  ['xeExec', ['fd', 'u32', 'u64', 'u16', 'arr']],
  ['xeWaitUserFence', ['fd', 'u64', 'u16', 'u16', 'u64', 'u64', 'i64', 'u32']],
  ['dmaBufSetName', ['fd', 'str']],
  ['dmaBufSync', ['fd', 'u64']],
  ['memfdCreate', ['str', 'u32']],
  ['addSeals', ['fd', 'i32']],
  ['udmabufCreate', ['fd', 'fd', 'u32', 'u64', 'u64']],
  ['iovhIcVersion', ['fd']],
  ['iovhIcImport', ['fd', 'fd', 'u32', 'u32', 'u32', 'u32', 'u32']],
  ['iovhIcMap', ['fd', 'u32']],
  ['iovhIcInfo', ['fd', 'u32', 'u32']],
  ['iovhIcRead', ['fd', 'u32', 'u64', 'size']],
  ['iovhIcWrite', ['fd', 'u32', 'u64', 'bytes']],
  ['iovhIcRelease', ['fd', 'u32']],
  ['patternFill', ['bytes', 'u64', 'u64']],
  ['patternVerify', ['bytes', 'u64', 'u64']],
  ['patternSelect', ['str', 'size']],
  ['patternKernels', []],
];

// Entries without an errno twin (src/core/addon.ts, AddonNoTwin).
const noTwin = new Set<string>([
  'vfioDeviceReset',
  'drmSyncobjWait',
  'xeWaitUserFence',
  'patternFill',
  'patternVerify',
  'patternSelect',
  'patternKernels',
]);

type Fn = (...args: unknown[]) => unknown;
const forms: Array<[string, (a: Addon, name: string) => Fn | undefined]> = [
  ['', (a, name) => (a as unknown as Record<string, Fn>)[name]],
  ['errno.', (a, name) => (noTwin.has(name) ? undefined : (a.errno as unknown as Record<string, Fn>)[name])],
];

describe('argument checking', () => {
  itNative('covers every function the addon exports', (a) => {
    const exported = Object.keys(a).filter(
      (k) => k !== 'errnoSite' && typeof (a as unknown as Record<string, unknown>)[k] === 'function',
    );
    expect(exported.sort()).toEqual(signatures.map(([n]) => n).sort());
  });

  itNative('every synchronous system-call entry, and only those, has an errno twin', (a) => {
    expect(Object.keys(a.errno).sort()).toEqual(
      signatures
        .map(([n]) => n)
        .filter((n) => !noTwin.has(n))
        .sort(),
    );
  });

  for (const [name, kinds] of signatures) {
    itNative(`${name}: wrong types are TypeErrors, out-of-range values RangeErrors (both forms)`, (a) => {
      for (const [prefix, get] of forms) {
        const fn = get(a, name);
        // The twin reads its arguments with the same code (core/binding.cc, Call):
        // undefined and the wrong values particular to each kind show it does.
        if (fn) check(`${prefix}${name}`, fn, kinds, prefix === '');
      }
    });
  }

  /** The cases `fn` gets wrong, as lines (plain checks in the loop: an expect per case would cost more than the calls). */
  function check(name: string, fn: Fn, kinds: Kind[], all: boolean): void {
    const failures: string[] = [];
    const expectThrow = (args: unknown[], type: typeof TypeError | typeof RangeError, what: string) => {
      try {
        fn(...args);
        failures.push(`${what}: did not throw`);
      } catch (e) {
        if (!(e instanceof type)) failures.push(`${what}: threw ${String(e)}, not a ${type.name}`);
      }
    };
    kinds.forEach((kind, i) => {
      for (const bad of wrong(kind).filter((_, k) => all || k === 0 || k >= 5)) {
        const args = kinds.map((k, j) => (j === i ? bad : valid(k)));
        expectThrow(args, TypeError, `${name} argument ${i + 1} = ${String(bad)}`);
      }
      for (const bad of outOfRange(kind)) {
        const args = kinds.map((k, j) => (j === i ? bad : valid(k)));
        expectThrow(args, RangeError, `${name} argument ${i + 1} = ${String(bad)}`);
      }
    });
    // Too few arguments is the same as undefined ones.
    if (kinds.length > 0) expectThrow([], TypeError, `${name}()`);
    expect(failures).toEqual([]);
  }

  itNative('malformed bind ops and syncs are TypeErrors naming the field', (a) => {
    const op = {
      obj: 1,
      patIndex: 2,
      objOffset: 0n,
      range: 4096n,
      addr: 0n,
      op: 0,
      flags: 0,
      prefetchMemRegionInstance: 0,
    };
    expect(() => a.xeVmBind(fd, 1, 0, [{ ...op, range: 4096 } as never], [])).toThrow(
      /binds\[0\]\.range must be a bigint/,
    );
    expect(() => a.xeVmBind(fd, 1, 0, [op, { ...op, obj: 'x' } as never], [])).toThrow(
      /binds\[1\]\.obj must be a number/,
    );
    expect(() => a.xeVmBind(fd, 1, 0, [op], [{ flags: 1 } as never])).toThrow(/syncs\[0\]\.type is required/);
    expect(() => a.xeExec(fd, 1, 0n, 1, [5 as never])).toThrow(/syncs\[0\] must be an object/);
  });

  itNative('exec queue instances must cover width * numPlacements', (a) => {
    expect(() => a.xeExecQueueCreate(fd, 1, 2, 1, 0, new Uint16Array(4))).toThrow(RangeError);
  });

  itNative('an odd number of range values is a RangeError', (a) => {
    expect(() => a.vfioDeviceFeatureDmaBuf(fd, 0x1000b, 24, 2, 2, 0, 1, new BigUint64Array(3))).toThrow(RangeError);
  });
});

describe('errno twins', () => {
  // Each twin against its throwing form, with valid arguments on /dev/null
  // (where nearly every call fails): the same failure, returned instead of
  // thrown, and errnoSite() naming the call the thrown error names.
  for (const [name, kinds] of signatures) {
    if (noTwin.has(name) || name === 'close') continue; // close would release the shared fd
    itNative(`errno.${name} returns what ${name} throws, and errnoSite() names its call`, (a) => {
      const throwing = (a as unknown as Record<string, Fn>)[name]!;
      const twin = (a.errno as unknown as Record<string, Fn>)[name]!;
      // A VF token is a 16-byte uuid_t: a shorter buffer is a RangeError before any call.
      const args = name === 'vfioDeviceBindIommufdToken' ? [fd, fd, 1, new Uint8Array(16)] : kinds.map(valid);
      let thrown: { errno: number; syscall: string; request?: string } | null = null;
      let value: unknown;
      try {
        value = throwing(...args);
      } catch (e) {
        thrown = e as { errno: number; syscall: string; request?: string };
      }
      const got = twin(...args);
      if (thrown) {
        expect(got).toBe(thrown.errno);
        expect(a.errnoSite()).toBe(thrown.request ? `${thrown.syscall} ${thrown.request}` : thrown.syscall);
      } else {
        expect(typeof got).toBe(typeof value);
        if (typeof got === 'number') expect(got).toBeGreaterThanOrEqual(0);
        // memfdCreate succeeds: release both fds.
        if (name === 'memfdCreate') {
          a.close(value as number);
          a.close(got as number);
        }
        if (got && typeof got === 'object' && 'unmap' in got) (got as { unmap(): void }).unmap();
      }
    });
  }
});
