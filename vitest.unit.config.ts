import { defineConfig } from "vitest/config";

// Tier 1: pure modules (no Workers imports) in plain Node. Fast and many.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    environment: "node",
    // Property tests do real work; on a loaded 2-core machine each stays well under a third of this.
    testTimeout: 15_000,
  },
});
