import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// forks: every test file gets its own process, so fds, mmaps and the addon's
// state die with it, and a native crash kills one file, not the run.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // The package test (npm pack, npm install into an empty project) is its own CI step: npm run test:package.
    exclude: ['test/package/**', '**/node_modules/**'],
    // vitest's default for a run is one worker fewer than the CPUs: one on a 2-core machine, where most files wait
    // on child processes rather than the CPU (npm test took 202 s with one worker, 114 s with two, on 2 idle cores).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Scratch directories are removed after each file; the run fails if anything is left in its TMPDIR.
    setupFiles: ['test/support/setup.ts'],
    globalSetup: ['test/support/global.ts'],
  },
});
