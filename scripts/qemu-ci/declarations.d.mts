// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * Type-check the JSDoc (scripts/qemu-ci/tsconfig.json) and generate the
 * declarations; returns path -> text for DECLARED. Throws with tsc's output
 * when the check fails.
 */
export function generate(): Map<string, string>;
/** Paths (relative to the checkout) whose committed declaration differs from a fresh one. */
export function stale(): string[];
/** Modules with a committed declaration: every module the tests import. */
export const DECLARED: string[];
