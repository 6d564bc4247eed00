// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * QEMU's verdict on one bad property set: refused, with the expected words. A
 * property set QEMU accepts is a failure ("QEMU started"), not a machine left waiting.
 * @param {string} qemu
 */
export function checkBadProperties(qemu: string): {
    name: string;
    ok: boolean;
    detail: string;
}[];
/**
 * What the boot proved, one result per check.
 * @param {string} log
 */
export function judgeBoot(log: string): Result[];
export namespace MACHINE {
    let vfs: number;
    let device: string;
    let plan: string;
}
/**
 * Bad properties and what QEMU must say (a substring of its message).
 * @type {{ name: string, device: string, port?: string, says: string }[]}
 */
export const BAD_PROPERTIES: {
    name: string;
    device: string;
    port?: string;
    says: string;
}[];
/**
 * One checked fact; a note is reported and not counted.
 */
export type Result = {
    name: string;
    ok: boolean;
    detail: string;
    note?: boolean;
};
