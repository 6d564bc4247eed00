// Shared by the tests that need the native addon. Without it they skip with
// the reason and the fix, except under IOVH_REQUIRE_NATIVE=1 (CI): then a
// missing addon is a failure, never a silent skip.
import { it, type TestContext } from 'vitest';
import { loadAddon, type Addon } from '../../src/core/addon.js';

const load = loadAddon();

export const addon: Addon | null = load.addon;
export const required = process.env.IOVH_REQUIRE_NATIVE === '1';
export const skipReason = `native addon unavailable (${load.error ?? 'unknown'}); build it with \`npm rebuild iovh\` (needs cmake and a C/C++ compiler)`;

/** The addon, or skip (fail under IOVH_REQUIRE_NATIVE=1) the calling test. */
export function needAddon(ctx: TestContext): Addon {
  if (addon) return addon;
  if (required) throw new Error(`IOVH_REQUIRE_NATIVE=1 but ${skipReason}`);
  return ctx.skip(skipReason);
}

/** `it` for a test that needs the addon; the body gets it. */
export function itNative(
  name: string,
  body: (addon: Addon, ctx: TestContext) => unknown | Promise<unknown>,
  timeout?: number,
): void {
  it(name, (ctx) => body(needAddon(ctx), ctx), timeout);
}
