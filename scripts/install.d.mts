// Types of scripts/install.mjs for the tests that import it.
import type { createRequire } from 'node:module';

/** The script of package `pkg`'s bin `name`, resolved as `require` would from iovh's directory, or null. */
export function resolveBin(pkg: string, name: string, from?: ReturnType<typeof createRequire>): string | null;
