#!/usr/bin/env node
// `npm run build:check` (after `wrangler deploy --dry-run --outdir DIR --metafile`, production build):
// prints the Worker bundle's size by part from esbuild's metafile, and fails when development-only
// weight is in it (the simulator's JPEG decoder: @jsquash/jpeg and its mozjpeg WASM; test helpers).
// Standard library only. Usage: node scripts/check-bundle.mjs DIR
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dir = process.argv[2] ?? ".wrangler/dry-run";
const meta = JSON.parse(readFileSync(join(dir, "bundle-meta.json"), "utf8"));
const DEV_ONLY = [/node_modules\/@jsquash\//, /^src\/simulator\/jpeg-decode\.ts$/, /^test\//, /mozjpeg/];

/** The part of the bundle a source file counts towards: its npm package, or its folder under src/. */
function partOf(path) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return `npm ${pkg[1]}`;
  if (path.includes("/generated/")) return `${path.replace(/\/generated\/.*/, "/generated")} (page bundle)`;
  const src = /^src\/([^/]+\/)?/.exec(path);
  return src ? `src/${src[1] ?? "(top level)"}` : path;
}

const parts = new Map();
const devOnly = [];
for (const output of Object.values(meta.outputs)) {
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs ?? {})) {
    parts.set(partOf(path), (parts.get(partOf(path)) ?? 0) + bytesInOutput);
    if (bytesInOutput > 0 && DEV_ONLY.some((re) => re.test(path))) devOnly.push(path);
  }
}
const kib = (bytes) => `${(bytes / 1024).toFixed(1).padStart(7)} KiB`;
const lines = [...parts].sort((a, b) => b[1] - a[1]).map(([part, bytes]) => `${kib(bytes)}  ${part}`);
let total = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") || f.endsWith(".wasm")).sort()) {
  const bytes = readFileSync(join(dir, file));
  total += bytes.length;
  lines.push(`${kib(bytes.length)}  file ${file} (gzip ${kib(gzipSync(bytes).length).trim()})`);
  if (DEV_ONLY.some((re) => re.test(file))) devOnly.push(file);
}
console.log(`Worker bundle by part (JS bytes in output), then the files uploaded:\n${lines.join("\n")}`);
console.log(`${kib(total)}  uploaded in all`);
if (devOnly.length > 0) {
  console.error(`check-bundle: development-only code in the production bundle: ${devOnly.join(", ")}`);
  process.exit(1);
}
