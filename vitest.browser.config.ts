import { defineConfig } from "vitest/config";

// Tier 3b: the playground in Debian's headless Chromium (playwright-core) against a real `wrangler dev`.
// Slow and timing-sensitive: one file at a time, long timeouts, no retries.
export default defineConfig({
  test: {
    include: ["test/browser/**/*.e2e.test.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    // Timing assertions must not be retried into passing.
    retry: 0,
  },
});
