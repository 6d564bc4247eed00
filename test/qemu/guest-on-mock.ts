// `iovh qemu`'s guest program (src/qemu/guest.ts runGuest) on the mock instead
// of in a guest: the mock machine booted once from a topology file (its state
// kept under `dir`), then the program run with the mock as its backend, both
// for its own opening and for the `iovh run` it starts. Used by the tests that
// hold the guest program's results against a real guest's.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openBackend } from '../../src/backend/select.js';
import { runGuest } from '../../src/qemu/guest.js';

export interface GuestOnMock {
  /** The topology file the mock boots from. */
  topology: string;
  profile: string;
  /** The QEMU variant the guest program names in its results. */
  variant: string;
  numvfs: number;
  filters: string[];
}

/** Runs the guest program on the mock; its results land in `<dir>/results`. Returns its exit status. */
export async function runGuestOnMock(dir: string, o: GuestOnMock): Promise<{ code: number; results: string }> {
  const mock = {
    backend: 'mock' as const,
    mockState: join(dir, 'mock-state.json'),
    topology: o.topology,
    profile: o.profile,
  };
  (await openBackend(mock)).close();
  const results = join(dir, 'results');
  mkdirSync(results);
  const code = await runGuest(
    {
      out: join(results, 'results.json'),
      nonce: 'n0',
      variant: o.variant,
      numvfs: o.numvfs,
      filters: o.filters,
      timeout: null,
    },
    {
      open: () => openBackend(mock),
      backendArgs: [
        '--backend',
        'mock',
        '--mock-state',
        mock.mockState,
        '--topology',
        o.topology,
        '--profile',
        o.profile,
      ],
    },
  );
  return { code, results };
}
