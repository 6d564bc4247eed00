#!/usr/bin/env node
// A small program that calls every entry point of the native addon (and every
// method of its Mapping objects), for scripts/valgrind.sh to run under
// memcheck. memcheck over vitest's forked workers is impractical (each worker
// boots Node, vite and vitest under a ~30x slowdown), so this driver makes the
// same calls the native tests make, in one process, and checks each answer:
// it exits non-zero when a call does not behave as test/core expects, so a
// clean valgrind run is also a run that took the paths it claims to.
//
// What it can reach on a machine without VFIO or DRM (this one): success
// paths on a memfd (open, pread/pwrite, ftruncate, seals, mmap and every
// Mapping method, the SIGBUS guard on a truncated memfd, the pattern), and
// every ioctl's argument conversion and struct layout up to the kernel's
// ENOTTY on /dev/null; every function's TypeError path; the async workers'
// rejection path; a Mapping released by the garbage collector.
//
// Usage: node --expose-gc scripts/valgrind-driver.mjs [addon.node]
// (default: IOVH_ADDON, else build/Release/iovh.node).
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = resolve(process.argv[2] ?? process.env.IOVH_ADDON ?? join(root, 'build', 'Release', 'iovh.node'));
const addon = createRequire(import.meta.url)(file);

// x86_64 values (src/uapi/constants.ts, include/uapi/asm-generic/fcntl.h, linux/memfd.h).
const O_RDWR = 2;
const O_CLOEXEC = 0x80000;
const MFD_CLOEXEC = 1;
const MFD_ALLOW_SEALING = 2;
const F_SEAL_SHRINK = 2;
const PROT_RW = 3;

const covered = new Set();
let checks = 0;

function ok(cond, what) {
  checks++;
  if (!cond) throw new Error(`valgrind driver: ${what}`);
}

/** Call addon[name](...args) and expect it to throw an error with `code` (or of class `type`). */
function fails(name, args, expect) {
  covered.add(name);
  let err = null;
  try {
    addon[name](...args);
  } catch (e) {
    err = e;
  }
  ok(err !== null, `${name} was expected to fail`);
  if (typeof expect === 'string')
    ok(err.code === expect, `${name}: expected ${expect}, got ${err.code}: ${err.message}`);
  else ok(err instanceof expect, `${name}: expected ${expect.name}, got ${err}`);
  return err;
}

function call(name, ...args) {
  covered.add(name);
  return addon[name](...args);
}

async function rejects(name, args, code) {
  covered.add(name);
  const err = await addon[name](...args).then(
    () => null,
    (e) => e,
  );
  ok(err !== null && err.code === code, `${name}: expected a rejection with ${code}, got ${err}`);
}

// ------------------------------------------------------------ every function's argument check
// The two that take no arguments (they report state) are called below.
const noArgs = new Set(['errnoSite', 'patternKernels']);
const functions = Object.keys(addon).filter((k) => !noArgs.has(k) && typeof addon[k] === 'function');
const twins = Object.keys(addon.errno);
for (const [name, fn] of [
  ...functions.map((n) => [n, addon[n]]),
  ...twins.map((n) => [`errno.${n}`, addon.errno[n]]),
]) {
  let err = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  ok(err instanceof TypeError, `${name}() without arguments must throw a TypeError, got ${err}`);
}
ok(addon.errnoSite() === null, 'errnoSite() is null before any twin failed');
fails('open', ['/dev/null', 1.5], TypeError);
fails('pread', [0, 0n, 2 ** 31], RangeError);
fails('drmGetCap', [0, -1n], RangeError);
fails('xeVmBind', [0, 1, 0, [{}], []], TypeError);

// ------------------------------------------------------------ files and a memfd
const devnull = call('open', '/dev/null', O_RDWR | O_CLOEXEC);
ok(devnull > 2, 'open /dev/null gives an fd');
fails('open', ['/dev/iovh-valgrind-missing', O_RDWR], 'ENOENT');

const memfd = call('memfdCreate', 'iovh-valgrind', MFD_CLOEXEC | MFD_ALLOW_SEALING);
call('ftruncate', memfd, 1n << 20n);
ok(call('pwrite', memfd, 4096n, new Uint8Array([1, 2, 3])) === 3, 'pwrite writes 3 bytes');
ok(call('pread', memfd, 4095n, 5).join(',') === '0,1,2,3,0', 'pread reads them back');
ok(call('pread', memfd, (1n << 20n) - 2n, 16).length === 2, 'a short pread returns what was read');
fails('pread', [memfd, 1n << 63n, 8], 'EINVAL');
fails('pwrite', [memfd, 1n << 63n, new Uint8Array(8)], 'EINVAL');

// ------------------------------------------------------------ mappings
const m = call('mmap', memfd, 0n, 1 << 20, PROT_RW);
ok(m.mapped && m.length === 1 << 20 && typeof m.address === 'bigint', 'mmap gives a live mapping');
m.write(8192, new Uint8Array([9, 8, 7]));
ok(m.read(8192, 3).join(',') === '9,8,7', 'mapping write then read');
m.fill(0, 1 << 20, 5n, 0x200000000n);
ok(m.verify(0, 1 << 20, 5n, 0x200000000n) === null, 'fill then verify matches');
m.write(4096 + 24, new Uint8Array([0xff]));
const mm = m.verify(0, 1 << 20, 5n, 0x200000000n);
ok(mm !== null && mm.offset === 4096 + 24, 'verify reports the first changed word');
ok(call('pread', memfd, 4096n + 24n, 1)[0] === 0xff, 'the mapping is shared with the file');
for (const bad of [
  () => m.read(1 << 20, 1),
  () => m.write((1 << 20) - 1, new Uint8Array(2)),
  () => m.fill(0, 12, 1n, 0n),
  () => m.verify(8, 8, 1n, 4n),
]) {
  let err = null;
  try {
    bad();
  } catch (e) {
    err = e;
  }
  ok(err instanceof RangeError, `an out-of-bounds or misaligned mapping access is a RangeError, got ${err}`);
}
m.unmap();
m.unmap();
ok(!m.mapped, 'unmap is idempotent');
let unmapped = null;
try {
  m.read(0, 8);
} catch (e) {
  unmapped = e;
}
ok(unmapped?.code === 'ERR_IOVH_UNMAPPED', 'access after unmap throws ERR_IOVH_UNMAPPED');
fails('mmap', [devnull, 0n, 4096, PROT_RW], 'ENODEV');

// The SIGBUS guard: a mapping whose file shrank under it.
const small = call('memfdCreate', 'iovh-valgrind-sigbus', MFD_CLOEXEC);
call('ftruncate', small, 65536n);
const gone = call('mmap', small, 0n, 65536, PROT_RW);
gone.write(0, new Uint8Array([1]));
call('ftruncate', small, 0n);
for (const access of [
  () => gone.read(4096, 8),
  () => gone.fill(8192, 64, 1n, 0n),
  () => gone.verify(0, 64, 1n, 0n),
  () => gone.write(16384, new Uint8Array(8)),
]) {
  let err = null;
  try {
    access();
  } catch (e) {
    err = e;
  }
  ok(
    err?.code === 'EFAULT' && err.signal === 'SIGBUS',
    `an access past the end of a truncated memfd is EFAULT (SIGBUS), got ${err}`,
  );
}
gone.unmap();
call('close', small);

// A mapping dropped without unmap() is unmapped when its object is collected.
(() => {
  const dropped = call('mmap', memfd, 0n, 65536, PROT_RW);
  dropped.fill(0, 65536, 1n, 0n);
})();
if (typeof globalThis.gc === 'function') {
  globalThis.gc();
  globalThis.gc();
}

// Seals.
call('addSeals', memfd, F_SEAL_SHRINK);
fails('ftruncate', [memfd, 4096n], 'EPERM');
const unsealable = call('memfdCreate', 'iovh-valgrind-noseal', MFD_CLOEXEC);
fails('addSeals', [unsealable, F_SEAL_SHRINK], 'EPERM');
call('close', unsealable);

// ------------------------------------------------------------ the pattern on plain buffers
// Every kernel (core/pattern.c), with plain and with streaming stores, at aligned and odd offsets.
const kernels = call('patternKernels');
for (const isa of kernels.available) {
  for (const threshold of [8, 1 << 30]) {
    call('patternSelect', isa, threshold);
    for (const len of [0, 8, 8 * 7, 8 * 37, 256 * 3 + 40, 1 << 16]) {
      for (const skew of [0, 8, 3]) {
        const buf = new Uint8Array(len + skew).subarray(skew);
        call('patternFill', buf, 0x10b5eedn, 0x1000n);
        ok(call('patternVerify', buf, 0x10b5eedn, 0x1000n) === null, `${isa}: pattern of ${len} bytes verifies`);
        if (len > 0) {
          buf[len - 1] ^= 1;
          const bad = call('patternVerify', buf, 0x10b5eedn, 0x1000n);
          ok(
            bad !== null && bad.offset === len - 8,
            `${isa}: pattern of ${len} bytes: the last word's change is found`,
          );
        }
      }
    }
  }
}
call('patternSelect', '', 0);
ok(call('patternKernels').isa === kernels.isa, 'patternSelect restores the best kernel');
fails('patternSelect', ['no-such-kernel', 0], RangeError);
fails('patternFill', [new Uint8Array(12), 1n, 0n], RangeError);
fails('patternVerify', [new Uint8Array(16), 1n, 4n], RangeError);

// ------------------------------------------------------------ every ioctl, up to the kernel's ENOTTY
const ranges = new BigUint64Array([0n, 4096n, 8192n, 4096n]);
const many = new BigUint64Array(2 * 262_144);
for (let i = 0; i < 262_144; i++) {
  many[2 * i] = BigInt(i) * 4096n;
  many[2 * i + 1] = 4096n;
}
const ioctls = [
  ['vfioGetApiVersion', [devnull]],
  ['vfioCheckExtension', [devnull, 3]],
  ['vfioSetIommu', [devnull, 3]],
  ['vfioGroupGetStatus', [devnull]],
  ['vfioGroupSetContainer', [devnull, devnull]],
  ['vfioGroupUnsetContainer', [devnull]],
  ['vfioGroupGetDeviceFd', [devnull, '0000:03:00.1']],
  ['vfioDeviceGetInfo', [devnull]],
  ['vfioDeviceGetRegionInfo', [devnull, 2, 32]],
  ['vfioDeviceGetRegionInfo', [devnull, 2, 4096]],
  ['vfioDeviceFeature', [devnull, 0x5000b, new Uint8Array(0), 8]],
  ['vfioDeviceFeature', [devnull, 0x1000b, new Uint8Array(40), 48]],
  ['vfioDeviceFeatureDmaBuf', [devnull, 0x1000b, 8 + 16 + 32, 2, O_RDWR, 0, 2, ranges]],
  // nr_ranges beyond the ranges given: the request ends at a PROT_NONE page.
  ['vfioDeviceFeatureDmaBuf', [devnull, 0x1000b, 8 + 16 + 32, 2, O_RDWR, 0, 1000, ranges]],
  ['vfioDeviceFeatureDmaBuf', [devnull, 0x1000b, 8 + 16 + 16 * 262_144, 2, O_RDWR, 0, 262_144, many]],
  ['vfioDeviceBindIommufd', [devnull, devnull, 0]],
  // VFIO_DEVICE_BIND_FLAG_TOKEN: token_uuid_ptr points into the 16 bytes given.
  ['vfioDeviceBindIommufdToken', [devnull, devnull, 1, new Uint8Array(16)]],
  ['vfioDeviceAttachIommufdPt', [devnull, 1]],
  ['vfioDeviceDetachIommufdPt', [devnull]],
  ['iommuIoasAlloc', [devnull, 0]],
  ['iommuDestroy', [devnull, 1]],
  ['iommuIoasIovaRanges', [devnull, 1, 8]],
  ['iommuIoasMapFile', [devnull, 1, 6, devnull, 0n, 4096n, 0n]],
  ['iommuIoasUnmap', [devnull, 1, 0n, (1n << 64n) - 1n]],
  ['drmVersion', [devnull, 64]],
  ['drmGetCap', [devnull, 5n]],
  ['drmPrimeFdToHandle', [devnull, devnull]],
  ['drmPrimeHandleToFd', [devnull, 1, O_CLOEXEC | O_RDWR]],
  ['drmGemClose', [devnull, 1]],
  ['drmSyncobjCreate', [devnull, 0]],
  ['drmSyncobjDestroy', [devnull, 1]],
  ['xeDeviceQuery', [devnull, 0, 0]],
  ['xeDeviceQuery', [devnull, 1, 64]],
  ['xeGemCreate', [devnull, 4096n, 1, 0, 0, 1]],
  ['xeGemMmapOffset', [devnull, 1, 0]],
  ['xeVmCreate', [devnull, 0]],
  ['xeVmDestroy', [devnull, 1]],
  [
    'xeVmBind',
    [
      devnull,
      1,
      0,
      [
        {
          obj: 1,
          patIndex: 2,
          objOffset: 0n,
          range: 4096n,
          addr: 0x100000n,
          op: 0,
          flags: 0,
          prefetchMemRegionInstance: 0,
        },
      ],
      [],
    ],
  ],
  [
    'xeVmBind',
    [
      devnull,
      1,
      0,
      [
        {
          obj: 1,
          patIndex: 2,
          objOffset: 0n,
          range: 4096n,
          addr: 0x100000n,
          op: 0,
          flags: 0,
          prefetchMemRegionInstance: 0,
        },
        {
          obj: 2,
          patIndex: 2,
          objOffset: 0n,
          range: 4096n,
          addr: 0x200000n,
          op: 0,
          flags: 0,
          prefetchMemRegionInstance: 0,
        },
      ],
      [
        { type: 0, flags: 1, handle: 3 },
        { type: 2, flags: 1, addr: 0x300000n, timelineValue: 1n },
      ],
    ],
  ],
  ['xeExecQueueCreate', [devnull, 1, 1, 1, 0, new Uint16Array([1, 0, 0, 0])]],
  ['xeExecQueueDestroy', [devnull, 1]],
  ['xeExec', [devnull, 1, 0x1000n, 1, [{ type: 0, flags: 1, handle: 1 }]]],
  ['dmaBufSetName', [devnull, 'iovh-valgrind']],
  ['dmaBufSync', [devnull, 0n]],
  ['udmabufCreate', [devnull, memfd, 0, 0n, 4096n]],
  // The stand-in importer's /dev/iovh-ic (core/uapi/iovh_ic.h).
  ['iovhIcVersion', [devnull]],
  ['iovhIcImport', [devnull, memfd, 0, 0, 0, 0, 2]],
  ['iovhIcMap', [devnull, 1]],
  ['iovhIcInfo', [devnull, 1, 8]],
  ['iovhIcRead', [devnull, 1, 0n, 4096]],
  ['iovhIcWrite', [devnull, 1, 0n, new Uint8Array(4096)]],
  ['iovhIcRelease', [devnull, 1]],
];
const twinsCovered = new Set();
for (const [name, args] of ioctls) {
  const err = fails(name, args, 'ENOTTY');
  fails(name, [memfd, ...args.slice(1)], 'ENOTTY');
  // The errno twin: the same failure returned, and errnoSite() naming the request.
  twinsCovered.add(name);
  ok(addon.errno[name](...args) === -25, `errno.${name} returns -ENOTTY`);
  ok(addon.errnoSite() === `ioctl ${err.request}`, `errnoSite() after errno.${name}: ${addon.errnoSite()}`);
}
for (const [name, args, errno, site] of [
  ['open', ['/dev/iovh-valgrind-missing', O_RDWR], -2, 'open'],
  ['close', [-1], -9, 'close'],
  ['pread', [memfd, 1n << 63n, 8], -22, 'pread'],
  ['pwrite', [memfd, 1n << 63n, new Uint8Array(8)], -22, 'pwrite'],
  ['ftruncate', [devnull, 0n], -22, 'ftruncate'],
  ['mmap', [devnull, 0n, 4096, PROT_RW], -19, 'mmap'],
  ['memfdCreate', ['x'.repeat(300), 0], -22, 'memfd_create'],
  ['addSeals', [devnull, F_SEAL_SHRINK], -22, 'fcntl'],
]) {
  twinsCovered.add(name);
  ok(addon.errno[name](...args) === errno, `errno.${name} returns ${errno}`);
  ok(addon.errnoSite() === site, `errnoSite() after errno.${name}: ${addon.errnoSite()}`);
}
const twinMissing = twins.filter((t) => !twinsCovered.has(t));
ok(twinMissing.length === 0, `errno twins the driver does not call: ${twinMissing.join(', ')}`);

// ------------------------------------------------------------ scalar forms
// Entries whose arguments are all numbers also come argument-less, reading
// them from the slots addon.scalar.takeArgs() hands out once (src/core/addon.ts
// takes them and puts the forms behind the plain names): each must answer
// exactly as its plain form, in both failure modes.
const scalar = addon.scalar;
const scalarNames = Object.keys(scalar.arity);
const argSlots = scalar.takeArgs();
const viaSlots = (fn, args) => {
  argSlots.fill(0);
  args.forEach((v, i) => {
    argSlots[i] = v;
  });
  return fn();
};
const outcome = (f) => {
  try {
    return `returned ${f()}`;
  } catch (e) {
    return `threw ${e.constructor.name} ${e.code ?? ''} ${e.message}`;
  }
};
ok(outcome(() => scalar.takeArgs()).startsWith('threw Error'), 'scalar.takeArgs() hands the slots out once');
for (const name of scalarNames) {
  const args = [name === 'close' ? -1 : devnull, ...Array(scalar.arity[name] - 1).fill(0)];
  const plain = outcome(() => addon[name](...args));
  const slots = outcome(() => viaSlots(scalar.throwing[name], args));
  ok(plain === slots, `scalar.throwing.${name}: ${slots}, the plain form ${plain}`);
  const twin = addon.errno[name](...args);
  const twinSite = addon.errnoSite();
  ok(viaSlots(scalar.errno[name], args) === twin, `scalar.errno.${name} returns ${twin}`);
  ok(addon.errnoSite() === twinSite, `errnoSite() after scalar.errno.${name}: ${addon.errnoSite()}`);
}
ok(
  outcome(() => viaSlots(scalar.throwing.vfioDeviceGetRegionInfo, [devnull, -1, 0])) ===
    outcome(() => addon.vfioDeviceGetRegionInfo(devnull, -1, 0)),
  'an out-of-range number through the slots is the plain form RangeError',
);

// ------------------------------------------------------------ blocking calls, off the JS thread
await rejects('vfioDeviceReset', [devnull], 'ENOTTY');
await rejects('drmSyncobjWait', [devnull, new Uint32Array([1, 2]), 0n, 0], 'ENOTTY');
await rejects('xeWaitUserFence', [devnull, 0x1000n, 0, 0, 1n, 0xffffffffffffffffn, 0n, 0], 'ENOTTY');

// ------------------------------------------------------------ closing
call('close', devnull);
call('close', memfd);
fails('close', [devnull], 'EBADF');

const missing = functions.filter((f) => !covered.has(f));
ok(missing.length === 0, `entry points the driver does not call: ${missing.join(', ')}`);
console.log(
  `valgrind driver: ${functions.length} entry points, ${twins.length} errno twins, ${scalarNames.length} scalar forms (both modes) and 8 Mapping members exercised, ${checks} checks passed`,
);
