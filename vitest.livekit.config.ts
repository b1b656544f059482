import { defineConfig } from "vitest/config";

// The LiveKit bridge (integrations/livekit, docs/DESIGN.md §14): its pure modules, and end-to-end tests
// against a real livekit-server (built once by scripts/ensure-livekit-server.mjs in the global
// setup), a real `wrangler dev`, the fake Dataspike API and @livekit/rtc-node publishers. Files run
// one after another (the CI machine has 2 cores).
export default defineConfig({
  test: {
    include: ["integrations/livekit/test/**/*.test.ts"],
    environment: "node",
    globalSetup: ["integrations/livekit/test/harness/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    retry: 0,
    // @livekit/rtc-node logs every FFI callback at debug level unless NODE_ENV is production.
    env: { NODE_ENV: "production" },
  },
});
