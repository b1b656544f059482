#!/usr/bin/env node
// `npm run bench`: bundles bench/*.ts with esbuild (Node 20 cannot run TypeScript) and runs them.
// Each benchmark prints its figures side by side with a baseline.
import { build } from "esbuild";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("..", import.meta.url).pathname;
const only = process.argv[2];
const entries = readdirSync(join(root, "bench")).filter((f) => f.endsWith(".bench.ts") && (!only || f.includes(only))).sort();
// Inside the project so the bundles resolve packages from node_modules.
const out = join(root, "node_modules", ".cache", "bench");
mkdirSync(out, { recursive: true });
try {
  for (const entry of entries) {
    const outfile = join(out, entry.replace(/\.ts$/, ".mjs"));
    await build({
      entryPoints: [join(root, "bench", entry)],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      packages: "external",
      logLevel: "error",
    });
    console.log(`\n=== ${entry} ===`);
    await import(pathToFileURL(outfile).href);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
