// The two ways bring-up refuses to go on. The CLI maps them onto its own
// errors (src/cli/errors.ts): an InputError is a usage error (exit 2), a
// BringupError an operational failure (exit 1). src/host/ does not import the
// CLI, so that the library can be used without it.

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
