#!/usr/bin/env node
// Builds the LiveKit bridge (@deepfake-edge/livekit) into dist/: the library (dist/index.js) and the
// command (dist/cli.js) as ESM with every package left external (the client SDK, @livekit/rtc-node,
// livekit-server-sdk, ws), and type declarations (dist/types). Runs on `npm ci` (`prepare`).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

const pkg = new URL(".", import.meta.url).pathname;
const dist = join(pkg, "dist");
const root = join(pkg, "..", "..");

// The declarations are checked against the SDK's published ones: build the SDK first if npm has not yet.
if (!existsSync(join(root, "src", "client", "dist", "types", "client", "index.d.ts"))) {
  execFileSync(process.execPath, [join(root, "scripts", "build-client.mjs")], { stdio: "inherit" });
}

rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: [join(pkg, "src", "index.ts"), join(pkg, "src", "cli.ts")],
  absWorkingDir: pkg,
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: ["node20"],
  packages: "external",
  sourcemap: true,
  legalComments: "none",
  logLevel: "error",
});
const tsc = join(root, "node_modules", ".bin", "tsc");
execFileSync(tsc, ["-p", join(pkg, "tsconfig.build.json")], { cwd: pkg, stdio: "inherit" });
console.error("[build] @deepfake-edge/livekit -> integrations/livekit/dist");
