// The two ways bring-up refuses to go on. The CLI maps them onto its own
// errors (src/cli/errors.ts): an InputError is a usage error (exit 2), a
// BringupError an operational failure (exit 1). src/host/ does not import the
// CLI, so that the library can be used without it.
import { normalizeBdf } from '../uapi/bdf.js';
import { clip } from './quote.js';

/** The user's input is wrong: an unknown BDF, a VF where a PF is needed, a size that is not a size. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * The machine is not in a state the operation can start from (a driver not
 * loaded, no IOMMU group, no permission), or the kernel did something other
 * than what was asked (a write clamped or ignored, a device that vanished).
 */
export class BringupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BringupError';
  }
}

/** The canonical sysfs name of a BDF a user typed (src/uapi/bdf.ts), or an InputError naming what is wrong. */
export function requireBdf(text: string, what = 'device'): string {
  const bdf = normalizeBdf(text);
  if (bdf === null) {
    throw new InputError(
      `'${clip(text)}' is not a PCI address for the ${what} (expected DDDD:BB:DD.F or BB:DD.F, e.g. 0000:03:00.0)`,
    );
  }
  return bdf;
}
