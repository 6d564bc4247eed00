// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/** @param {string} [env] */
export function cacheRoot(env?: string): string;
/** Patch files of a series: DIR/series when present, else DIR's *.patch sorted. @param {string} dir */
export function seriesFiles(dir: string): string[];
/** Build dependencies not met now, each with its package. */
export function missingDeps(): {
    pkg: string;
    why: string;
    target?: "backports";
    check: {
        tool?: string;
        pc?: string;
        py?: string;
        header?: string;
    };
}[];
/**
 * Apply each patch; the first that does not apply is named with its hunk.
 * @param {string} tree @param {string[]} patches
 */
export function applyPatches(tree: string, patches: string[]): void;
/** @param {string[]} patches */
export function buildKey(patches: string[], compiler?: string): string;
/**
 * @param {{ patches?: string, refresh?: boolean, log?: (s: string) => void, jobs?: number }} [o]
 */
export function buildQemu(o?: {
    patches?: string;
    refresh?: boolean;
    log?: (s: string) => void;
    jobs?: number;
}): any;
export namespace QEMU_SOURCE {
    let _package: "qemu";
    export { _package as package };
    export let version: "1:10.0.2+ds-2+deb13u1~bpo12+1";
    export let upstream: "10.0.2";
    export let orig: "qemu_10.0.2+ds.orig.tar.xz";
    export let sha256: "0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1";
    export let dir: "qemu-10.0.2";
}
/**
 * Debian packages the build needs, with what needs them. `check` says how to
 * see the need is met without asking dpkg (a tool on PATH, a pkg-config module).
 * meson >= 1.5 (QEMU 10.0's pythondeps.toml) is in bookworm-backports only.
 * @type {{ pkg: string, why: string, target?: 'backports', check: { tool?: string, pc?: string, py?: string, header?: string } }[]}
 */
export const BUILD_DEPS: {
    pkg: string;
    why: string;
    target?: "backports";
    check: {
        tool?: string;
        pc?: string;
        py?: string;
        header?: string;
    };
}[];
/** Minimum meson version of QEMU 10.0 (pythondeps.toml). */
export const MIN_MESON: number[];
/** The configure line (the prefix only says where the firmware is: the system's QEMU data). */
export const CONFIGURE_ARGS: readonly string[];
export const DEFAULT_PATCHES: string;
/**
 * What went wrong, for callers that report it (`iovh qemu --device mock-gpu`):
 * `input` a patch series that is missing or does not apply (the user's to
 * fix), `deps` build dependencies missing (each named with its Debian
 * package), `build` anything else.
 */
export class BuildError extends Error {
    /** @param {string} message @param {'input' | 'deps' | 'build'} [kind] */
    constructor(message: string, kind?: "input" | "deps" | "build");
    kind: "build" | "input" | "deps";
}
