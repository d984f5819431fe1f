import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tensor tests share one tfjs engine per worker; two workers match the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
    // Generous: a test that is slow on a busy machine should not fail for it. Nothing bounds the whole run
    // (.ci/run sets no time limit); a hung test fails only after this timeout.
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
