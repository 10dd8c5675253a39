import { defineConfig } from 'vitest/config';

// The packaging tests compile the addon (prebuildify, and a from-source
// install), so they run on their own after the main suite rather than
// competing with timing-sensitive tests for the two cores.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/packaging/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    fileParallelism: false,
  },
});
