#!/usr/bin/env node
// The `deepfake-edge-livekit` command (`npx deepfake-edge-livekit --help`). The package is built by
// `npm ci` at the repository root (its `prepare` script); this launcher only loads the build.
import { existsSync } from "node:fs";

// @livekit/rtc-node logs at debug level unless NODE_ENV is production.
process.env.NODE_ENV ??= "production";
const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  console.error(
    "deepfake-edge-livekit is not built: run `npm ci` at the repository root " +
      "(or `npm run build -w @deepfake-edge/livekit`)",
  );
  process.exit(1);
}
await import(cli.href);
