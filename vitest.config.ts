import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Each file gets a fresh module graph, so init() state never leaks between files.
    isolate: true,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
