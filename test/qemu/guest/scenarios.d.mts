// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {object} Lib  the iovh modules the scenarios use (dist/ in the guest, src/ under vitest)
 * @property {typeof import('../../../src/uapi/vfio.js')} vfio
 * @property {typeof import('../../../src/uapi/drm.js')} drm
 * @property {typeof import('../../../src/uapi/bufinfo.js')} bufinfo
 * @property {typeof import('../../../src/uapi/constants.js')} uapi
 * @property {typeof import('../../../src/harness/tracefs.js')} tracefs
 * @property {typeof import('../../../src/harness/monitors.js')} monitors
 * @property {typeof import('../../../src/uapi/iovh-ic.js')} [iovhIc]  the stand-in importer's uAPI (rules-more.mjs)
 *
 * @typedef {{ status: 'pass' | 'fail' | 'skip' | 'warn' | 'crash', path?: string | null, errno?: string | null, detail: string, observed?: string | null, bugs?: string[], quirks?: string[] }} Outcome
 *   `observed`: a value the kernel chose (an IOVA, an id, IOVA ranges) that the mock must choose too; compared when set
 *   `bugs`, `quirks`: for a result of the harness (`run:<id>`), the known bugs and quirks it named, which the
 *   host judges against the shipped baseline of the kernel's shape (scripts/qemu-ci/verdict.mjs)
 * @typedef {Pick<Ctx, 'backend' | 'lib'>} Kernel  what the helpers below need of a context
 * @typedef {Outcome & { id: string, title: string, ms: number }} Result
 *
 * @typedef {object} Ctx
 * @property {import('../../../src/backend/types.js').Backend} backend
 * @property {Lib} lib
 * @property {string} vf        the VF bound to vfio-pci
 * @property {string} pf
 * @property {import('../../../src/uapi/vfio.js').VfioDevice | null} device  once vfio.open passed
 * @property {import('../../../src/uapi/vfio.js').VfioRegion[]} bars  memory BARs with MMAP, once vfio.regions passed
 * @property {number | null} emptyBar  a BAR index < 6 of size 0, if any
 * @property {import('../../../src/uapi/drm.js').DrmDevice | null} vgem  vgem's render node, once found
 * @property {Map<number, string> | null} fdBaseline
 * @property {bigint | null} kmsgSeq
 * @property {string | null} taint
 */
/**
 * A Node-shaped kernel error (SystemError from either backend).
 * @param {unknown} e
 * @returns {e is { code: string, errno: number, syscall: string, message: string }}
 */
export function sysErr(e: unknown): e is {
    code: string;
    errno: number;
    syscall: string;
    message: string;
};
/**
 * Run `fn`, expecting the kernel to refuse with `code`.
 * @param {Kernel} ctx
 * @param {string} what
 * @param {string} code
 * @param {() => unknown} fn
 * @param {Partial<Outcome>} [extra]
 */
export function expectErrno(ctx: Kernel, what: string, code: string, fn: () => unknown, extra?: Partial<Outcome>): Outcome;
/**
 * Open fds of this process: fd -> link text (`anon_inode:dmabuf`, `/dev/vfio/6`, ...); null when /proc/self/fd cannot be listed.
 * @param {Kernel} ctx
 */
export function fdTable(ctx: Kernel): Map<number, string> | null;
/**
 * Kernel-object fds (dma-bufs, vfio, DRM, udmabuf, memfd) in `now` that are not in `before`.
 * @param {Map<number, string>} before @param {Map<number, string>} now
 */
export function newKernelFds(before: Map<number, string>, now: Map<number, string>): string[];
/** @param {Kernel} ctx */
export function bufinfoObjects(ctx: Kernel): import("../../../src/uapi/bufinfo.js").BufinfoObject[];
/** @param {Kernel} ctx */
export function readTaint(ctx: Kernel): string | null;
/**
 * /dev/kmsg records ("pri,seq,usec,flags;text") after sequence `after`; text only.
 * @param {Kernel} ctx @param {bigint | null} after
 */
export function kmsgSince(ctx: Kernel, after: bigint | null): string[];
/** @param {Kernel} ctx */
export function lastKmsgSeq(ctx: Kernel): bigint | null;
/**
 * Run the scenarios in order. A scenario whose prerequisite did not pass is
 * skipped and names it; that prerequisite's own failure fails the run.
 * @param {{ backend: import('../../../src/backend/types.js').Backend, lib: Lib, vf: string, pf: string, only?: string[], onResult?: (r: Result) => void }} o
 * @returns {Promise<Result[]>}
 */
export function runScenarios(o: {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    vf: string;
    pf: string;
    only?: string[];
    onResult?: (r: Result) => void;
}): Promise<Result[]>;
export function pass(detail: string, extra?: Partial<Outcome>): Outcome;
export function fail(detail: string, extra?: Partial<Outcome>): Outcome;
export function skip(detail: string): Outcome;
/**
 * @typedef {object} Scenario
 * @property {string} id
 * @property {string} title
 * @property {Array<'device' | 'bars' | 'vgem' | 'emptyBar'>} needs
 * @property {(ctx: Ctx) => Outcome | Promise<Outcome>} run
 */
/** @type {Scenario[]} */
export const SCENARIOS: Scenario[];
/**
 * For each scenario, the kernel rule it exercises, as the mock must model it:
 * what the conformance check names when the mock and the real kernel disagree.
 * @type {Record<string, string>}
 */
export const RULES: Record<string, string>;
/**
 * the iovh modules the scenarios use (dist/ in the guest, src/ under vitest)
 */
export type Lib = {
    vfio: typeof import("../../../src/uapi/vfio.js");
    drm: typeof import("../../../src/uapi/drm.js");
    bufinfo: typeof import("../../../src/uapi/bufinfo.js");
    uapi: typeof import("../../../src/uapi/constants.js");
    tracefs: typeof import("../../../src/harness/tracefs.js");
    monitors: typeof import("../../../src/harness/monitors.js");
    /**
     * the stand-in importer's uAPI (rules-more.mjs)
     */
    iovhIc?: typeof import("../../../src/uapi/iovh-ic.js") | undefined;
};
/**
 * `observed`: a value the kernel chose (an IOVA, an id, IOVA ranges) that the mock must choose too; compared when set
 * `bugs`, `quirks`: for a result of the harness (`run:<id>`), the known bugs and quirks it named, which the
 * host judges against the shipped baseline of the kernel's shape (scripts/qemu-ci/verdict.mjs)
 */
export type Outcome = {
    status: "pass" | "fail" | "skip" | "warn" | "crash";
    path?: string | null;
    errno?: string | null;
    detail: string;
    observed?: string | null;
    bugs?: string[];
    quirks?: string[];
};
/**
 * what the helpers below need of a context
 */
export type Kernel = Pick<Ctx, "backend" | "lib">;
export type Result = Outcome & {
    id: string;
    title: string;
    ms: number;
};
export type Ctx = {
    backend: import("../../../src/backend/types.js").Backend;
    lib: Lib;
    /**
     * the VF bound to vfio-pci
     */
    vf: string;
    pf: string;
    /**
     * once vfio.open passed
     */
    device: import("../../../src/uapi/vfio.js").VfioDevice | null;
    /**
     * memory BARs with MMAP, once vfio.regions passed
     */
    bars: import("../../../src/uapi/vfio.js").VfioRegion[];
    /**
     * a BAR index < 6 of size 0, if any
     */
    emptyBar: number | null;
    /**
     * vgem's render node, once found
     */
    vgem: import("../../../src/uapi/drm.js").DrmDevice | null;
    fdBaseline: Map<number, string> | null;
    kmsgSeq: bigint | null;
    taint: string | null;
};
export type Scenario = {
    id: string;
    title: string;
    needs: Array<"device" | "bars" | "vgem" | "emptyBar">;
    run: (ctx: Ctx) => Outcome | Promise<Outcome>;
};
