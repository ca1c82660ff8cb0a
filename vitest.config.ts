import { defineConfig } from 'vitest/config';

// The suite runs real servers, a real ONNX Runtime session and a real Chromium on a 2-core
// machine, so per-test and hook time limits are generous; no test asserts on speed.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'stream/**/*.test.ts', 'pipeline/**/*.test.ts', 'client/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Browser and server tests bind ports and start processes; running files one at a time
    // keeps the 2 cores from being oversubscribed.
    fileParallelism: false,
  },
});
