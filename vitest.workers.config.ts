import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Tier 2: routing, the Durable Objects, storage and the simulator loop inside workerd (Miniflare).
// DEV_MODE without a Dataspike key: objects stream to the built-in simulator, so no network is used.
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          DEV_MODE: "true",
          CONNECT_TOKEN_SECRET: "workers-test-secret-0123456789",
          ADMIN_API_KEY: "workers-test-admin",
          UPSTREAM_IDLE_CLOSE_MS: "200",
          // Nothing listens there (port 9, discard), so deliveries fail and the retry schedule is observable.
          WEBHOOK_URLS: "http://127.0.0.1:9/hook",
          WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
          WEBHOOK_RETRY_SCHEDULE: "60000,120000",
          WEBHOOK_TIMEOUT_MS: "500",
        },
      },
    }),
  ],
  test: {
    include: ["test/workers/**/*.test.ts"],
    setupFiles: ["test/workers/setup.ts"],
    testTimeout: 30_000,
    // Objects log every join and transition; show logs only for failing tests.
    silent: "passed-only",
  },
});
