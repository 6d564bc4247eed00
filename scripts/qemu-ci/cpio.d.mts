// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @param {CpioEntry[]} entries  parents before children; paths without a leading slash
 * @returns {Buffer}
 */
export function cpioNewc(entries: CpioEntry[]): Buffer;
/**
 * Entries of a newc archive (for tests and for checking what was built).
 * @param {Uint8Array} buf
 * @returns {{ name: string, mode: number, data: Buffer, rdevmajor: number, rdevminor: number }[]}
 */
export function readNewc(buf: Uint8Array): {
    name: string;
    mode: number;
    data: Buffer;
    rdevmajor: number;
    rdevminor: number;
}[];
export type CpioEntry = {
    type: "dir";
    path: string;
    mode?: number;
} | {
    type: "file";
    path: string;
    data: Uint8Array;
    mode?: number;
} | {
    type: "symlink";
    path: string;
    target: string;
} | {
    type: "chardev";
    path: string;
    major: number;
    minor: number;
    mode?: number;
};
