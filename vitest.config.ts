import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: e2e suites each start Envoy and several Node processes.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
