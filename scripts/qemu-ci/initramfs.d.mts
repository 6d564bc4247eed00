// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Module files to insmod, in order, for `names`: `modprobe --show-depends`
 * prints the dependencies first (`insmod <path>`); built-ins print `builtin`.
 * @param {string} modprobe
 * @param {import('./setup.mjs').Manifest} manifest
 * @param {string[]} names
 */
export function insmodOrder(modprobe: string, manifest: import("./setup.mjs").Manifest, names: string[]): string[];
/**
 * Build (or reuse) the initramfs holding every variant's modules. A kernel
 * built from source with iovh's fragment has every driver built in
 * (`manifest: null`): its initramfs holds busybox and /init only.
 * @param {{ paths: import('./paths.mjs').CachePaths, manifest: import('./setup.mjs').Manifest | null, busybox: { path: string, version: string }, variants: import('./variants.mjs').Variant[] }} o
 * @returns {{ path: string, cached: boolean, lists: Record<string, string[]> }}
 */
export function buildInitramfs({ paths, manifest, busybox, variants }: {
    paths: import("./paths.mjs").CachePaths;
    manifest: import("./setup.mjs").Manifest | null;
    busybox: {
        path: string;
        version: string;
    };
    variants: import("./variants.mjs").Variant[];
}): {
    path: string;
    cached: boolean;
    lists: Record<string, string[]>;
};
export const INIT_SCRIPT: import("url").URL;
