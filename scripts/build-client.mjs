#!/usr/bin/env node
// Builds the client SDK package (src/client, the npm workspace @deepfake-edge/client) into
// src/client/dist: one ESM bundle (dist/index.js) with the wire contract it shares with the server
// (src/protocol, src/shared, src/config/limits.ts, src/gen) inlined, protobufjs left as the
// package's one dependency, and type declarations (dist/types). Runs on `npm ci` (the workspace's
// `prepare`) and before `npm pack`.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const pkg = join(root, "src", "client");
const dist = join(pkg, "dist");

rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: [join(pkg, "index.ts")],
  absWorkingDir: root,
  outfile: join(dist, "index.js"),
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: ["es2022"],
  // protobufjs is a dependency of the package; `long` is optional for it and unused (int64 as numbers).
  external: ["protobufjs", "protobufjs/*", "long"],
  sourcemap: true,
  legalComments: "none",
  logLevel: "error",
});

// Declarations for every module the SDK reaches, laid out as in src/ (dist/types/client/index.d.ts
// is the entry). The generated protobuf declarations are copied: tsc does not re-emit .d.ts inputs.
const tsc = join(root, "node_modules", ".bin", "tsc");
execFileSync(tsc, ["-p", join(pkg, "tsconfig.build.json")], { cwd: root, stdio: "inherit" });
mkdirSync(join(dist, "types", "gen"), { recursive: true });
for (const name of ["ingest.d.ts"]) copyFileSync(join(root, "src", "gen", name), join(dist, "types", "gen", name));
console.error("[build] @deepfake-edge/client -> src/client/dist");
