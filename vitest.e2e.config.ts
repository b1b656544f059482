import { defineConfig } from "vitest/config";

// Tier 3: end-to-end against a real `wrangler dev` process, real `ws` clients and a fake upstream.
// Slow and timing-sensitive, so files run one after another (the CI machine has 2 cores).
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    environment: "node",
    testTimeout: 180_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    // Timing assertions must not be retried into passing.
    retry: 0,
  },
});
