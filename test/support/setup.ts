// Runs before every test file (vitest.config.ts setupFiles).
import fc from 'fast-check';
import { afterAll } from 'vitest';
import { removeScratch } from './scratch.js';

/**
 * Every fast-check property runs from one fixed seed unless it names its own, so npm test is deterministic and a
 * failure is found again by running the file again (a random seed once failed test/property/parsers.test.ts on
 * '0.1' in one run and not the next). IOVH_FC_SEED=<n> explores other inputs: fast-check prints the seed and the
 * counterexample of a failure (docs/safety.md "Tests").
 */
function propertySeed(fixed: number): number {
  const given = process.env.IOVH_FC_SEED;
  if (given === undefined || given === '') return fixed;
  const n = Number(given);
  if (!Number.isSafeInteger(n)) throw new Error(`IOVH_FC_SEED=${given}: expected an integer`);
  return n;
}

fc.configureGlobal({ seed: propertySeed(0x1f0c) });

afterAll(removeScratch);
