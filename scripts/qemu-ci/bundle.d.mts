// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Bare module specifiers (npm packages) imported by the JavaScript under
 * `dir`: `from 'x'`, `import('x')`, `require('x')`; node: builtins excluded.
 * @param {string} dir
 * @returns {Set<string>}
 */
export function importedPackages(dir: string): Set<string>;
/**
 * Packages needed at run time: `roots` and, transitively, their
 * dependencies and installed optional dependencies, as node_modules folders.
 * @param {string} repo
 * @param {Iterable<string>} roots
 */
export function packageClosure(repo: string, roots: Iterable<string>): Map<string, string>;
/**
 * The bundle's files, relative to the checkout: what the guest program loads.
 * Source maps and declarations stay out.
 * @param {string} repo
 */
export function bundleFiles(repo: string): string[];
/**
 * The bundle as a gzip'd newc archive, its files under BUNDLE_ROOT + repo.
 * @param {string} repo
 * @returns {{ archive: Buffer, files: number, bytes: number }}
 */
export function buildBundle(repo: string): {
    archive: Buffer;
    files: number;
    bytes: number;
};
/** Where the bundle sits in the initramfs; /init bind-mounts BUNDLE_ROOT + <checkout> over /host + <checkout>. */
export const BUNDLE_ROOT: "/iovh-bundle";
