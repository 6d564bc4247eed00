// The scalar forms (core/binding.cc): an entry whose arguments are all
// numbers takes them from a Float64Array shared with the addon instead of
// reading them through Node-API, behind the same name (src/core/addon.ts).
// Callers must not be able to tell: the same results, the same errno and
// errnoSite, the same error messages, and a table that marks exactly the
// entries whose arguments are all numbers.
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadAddon } from '../../src/core/addon.js';
import { itNative } from './support.js';

type Fn = (...args: unknown[]) => unknown;
interface Raw {
  scalar: {
    takeArgs: () => Float64Array;
    arity: Record<string, number>;
    throwing: Record<string, Fn>;
    errno: Record<string, Fn>;
  };
  errno: Record<string, Fn>;
  [name: string]: unknown;
}

/** The addon's own exports, without the loader's wrappers: the plain forms. */
const raw = (): Raw => createRequire(import.meta.url)(loadAddon().path as string) as Raw;

// Every entry whose arguments are all numbers (fd, i32, u32, u16, size), with its arity;
// test/core/types.test.ts has every entry's signature.
const scalarEntries: Record<string, number> = {
  close: 1,
  vfioGetApiVersion: 1,
  vfioCheckExtension: 2,
  vfioSetIommu: 2,
  vfioGroupGetStatus: 1,
  vfioGroupSetContainer: 2,
  vfioGroupUnsetContainer: 1,
  vfioDeviceGetInfo: 1,
  vfioDeviceGetRegionInfo: 3,
  vfioDeviceBindIommufd: 3,
  vfioDeviceAttachIommufdPt: 2,
  vfioDeviceDetachIommufdPt: 1,
  iommuIoasAlloc: 2,
  iommuDestroy: 2,
  iommuIoasIovaRanges: 3,
  drmVersion: 2,
  drmPrimeFdToHandle: 2,
  drmPrimeHandleToFd: 3,
  drmGemClose: 2,
  drmSyncobjCreate: 2,
  drmSyncobjDestroy: 2,
  xeDeviceQuery: 3,
  xeGemMmapOffset: 3,
  xeVmCreate: 2,
  xeVmDestroy: 2,
  xeExecQueueDestroy: 2,
  addSeals: 2,
  iovhIcVersion: 1,
  iovhIcImport: 7,
  iovhIcMap: 2,
  iovhIcInfo: 3,
  iovhIcRelease: 2,
};

let fd = -1;
beforeAll(() => {
  fd = openSync('/dev/null', 'r+');
});
afterAll(() => closeSync(fd));

/** What a call did: its value, or its error's class, message, errno and code. */
function outcome(f: () => unknown): unknown {
  try {
    return { value: f() };
  } catch (e) {
    const x = e as Error & { errno?: number; code?: string; syscall?: string; request?: string };
    return { threw: x.constructor.name, message: x.message, errno: x.errno, code: x.code, request: x.request };
  }
}

describe('scalar forms', () => {
  itNative('exactly the entries whose arguments are all numbers have them, with their arity', () => {
    const r = raw();
    expect(r.scalar.arity).toEqual(scalarEntries);
    expect(Object.keys(r.scalar.throwing).sort()).toEqual(Object.keys(scalarEntries).sort());
    expect(Object.keys(r.scalar.errno).sort()).toEqual(Object.keys(scalarEntries).sort());
  });

  itNative("the raw exports reach no argument slots: src/core/addon.ts took this environment's", () => {
    const r = raw();
    // Nothing a caller of the raw exports can detach, replace or write between a wrapper's stores and its call.
    const views: string[] = [];
    const walk = (o: object, at: string, seen: Set<object>) => {
      if (seen.has(o)) return;
      seen.add(o);
      for (const [k, v] of Object.entries(o)) {
        if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) views.push(`${at}.${k}`);
        else if (typeof v === 'object' && v !== null) walk(v, `${at}.${k}`, seen);
      }
    };
    walk(r, 'addon', new Set());
    expect(views).toEqual([]);
    expect(() => r.scalar.takeArgs()).toThrow("iovh: the scalar forms' argument slots were handed out already");
  });

  itNative('every one answers as its plain form does, on /dev/null (both forms, both twins)', (a) => {
    const r = raw();
    const calls = a as unknown as Record<string, Fn>;
    const twins = a.errno as unknown as Record<string, Fn>;
    for (const [name, arity] of Object.entries(scalarEntries)) {
      // close() gets an fd of its own per call; the others the same /dev/null (the kernel refuses each ioctl).
      const args = () => [name === 'close' ? openSync('/dev/null', 'r') : fd, ...Array(arity - 1).fill(0)];
      expect(
        outcome(() => calls[name](...args())),
        name,
      ).toEqual(outcome(() => (r[name] as Fn)(...args())));
      const viaScalar = outcome(() => twins[name](...args()));
      const siteScalar = a.errnoSite();
      const viaPlain = outcome(() => r.errno[name](...args()));
      expect(viaScalar, `errno.${name}`).toEqual(viaPlain);
      expect(siteScalar, `errno.${name} site`).toBe(a.errnoSite());
    }
  });

  itNative('out-of-range numbers give the plain form RangeError, word for word', (a) => {
    const r = raw();
    const calls = a as unknown as Record<string, Fn>;
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      const scalar = outcome(() => calls.vfioDeviceGetRegionInfo(fd, bad, 0));
      expect(scalar, String(bad)).toEqual(outcome(() => (r.vfioDeviceGetRegionInfo as Fn)(fd, bad, 0)));
      expect((scalar as { threw?: string }).threw, String(bad)).toMatch(/^(RangeError|TypeError)$/);
    }
  });

  itNative('a non-number argument takes the plain form, which says what was wrong', (a) => {
    const calls = a as unknown as Record<string, Fn>;
    expect(() => calls.addSeals('3', 0)).toThrow(/addSeals: argument 1 must be a file descriptor \(a number\)/);
    expect(() => calls.addSeals(fd)).toThrow(/addSeals: argument 2 must be an int32 \(a number\)/);
    expect(() => calls.iovhIcImport(fd, fd, 0, 0, 0, 0, 1n)).toThrow(/iovhIcImport: argument 7 must be a u32/);
  });

  itNative('a call never sees the numbers of the one before (the slots are rewritten every call)', (a) => {
    // A failing call leaves fd in slot 0; the next, with its own fd, must use its own.
    const other = openSync('/dev/null', 'r');
    try {
      expect(a.errno.vfioGetApiVersion(fd)).toBe(-25);
      expect(a.errno.vfioGetApiVersion(-1)).toBe(-9);
      // the argument-less form reads what the last call left: -1
      expect(raw().scalar.errno.vfioGetApiVersion()).toBe(-9);
      expect(a.errno.vfioGetApiVersion(other)).toBe(-25);
    } finally {
      closeSync(other);
    }
  });

  itNative('a Worker has slots of its own (its environment is not the first one)', async (a) => {
    const path = loadAddon().path as string;
    // The main thread's slot 0 holds a closed fd: a Worker reading these slots would get EBADF, not ENOTTY.
    expect(a.errno.vfioGetApiVersion(-1)).toBe(-9);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const raw = require(workerData.path);
      const args = raw.scalar.takeArgs();
      args[0] = workerData.fd;
      let again = 'handed out';
      try { raw.scalar.takeArgs(); again = 'twice'; } catch {}
      parentPort.postMessage([raw.scalar.errno.vfioGetApiVersion(), args.length, again]);`;
    const w = new Worker(code, { eval: true, workerData: { path, fd } });
    const answer = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    // Room for the longest scalar entry's arguments; each environment takes its slots once.
    expect(answer).toEqual([-25, expect.any(Number), 'handed out']);
    expect((answer as number[])[1]).toBeGreaterThanOrEqual(Math.max(...Object.values(scalarEntries)));
    // The main thread's slots are still its own: slot 0 still holds -1, not the Worker's fd.
    expect(raw().scalar.errno.vfioGetApiVersion()).toBe(-9);
    expect(loadAddon().addon?.errno.vfioGetApiVersion(fd)).toBe(-25);
  });
});
