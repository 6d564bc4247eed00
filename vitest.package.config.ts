import { defineConfig } from 'vitest/config';

// `npm run test:package`: iovh packed and installed into an empty project
// (test/package/). It needs the npm registry, cmake and a compiler, and takes
// minutes, so it is a CI step of its own (.ci/run), not part of `npm test`.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/package/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
