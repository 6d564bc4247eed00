// Properties in npm test run with a fixed seed, so a run is deterministic and a failure is found again by running
// the file again. To explore other inputs: IOVH_FC_SEED=<n> npx vitest run test/property/... (fast-check prints the
// seed and the counterexample of a failure; docs/safety.md "Tests").
export function propertySeed(fixed: number): number {
  const given = process.env.IOVH_FC_SEED;
  if (given === undefined || given === '') return fixed;
  const n = Number(given);
  if (!Number.isSafeInteger(n)) throw new Error(`IOVH_FC_SEED=${given}: expected an integer`);
  return n;
}
