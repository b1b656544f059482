#!/usr/bin/env node
// `npm run bench`: bundles bench/*.bench.ts with esbuild (Node 20 cannot run TypeScript) and runs
// them one after another in this process. Each benchmark prints its figures side by side with a
// baseline and records them; at the end a summary table is printed and bench-results.json written.
//
//   npm run bench                      every benchmark (about 15 minutes on a loaded 2-core machine)
//   npm run bench -- --smoke           every benchmark briefly: checks they still run, not their numbers
//   npm run bench -- latency scale     only the files whose name contains one of the words
//   npm run bench -- scale.bench.ts    only that file
//   npm run bench -- --json out.json   write the results elsewhere (default: bench-results.json)
//
// `.wasm` imports (as wrangler compiles them for the Worker) become WebAssembly.Module values here,
// so the benchmarks run src/media/jpeg.ts exactly as the Worker does, whatever encoder it uses.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const smoke = args.includes("--smoke") || process.env.BENCH_SMOKE === "1";
if (smoke) process.env.BENCH_SMOKE = "1";
const jsonAt = args.indexOf("--json");
const jsonPath = resolve(root, jsonAt >= 0 ? args[jsonAt + 1] : "bench-results.json");
const words = args.filter((a, i) => !a.startsWith("--") && (jsonAt < 0 || i !== jsonAt + 1));

const benchDir = join(root, "bench");
/** A word names one file exactly (`scale.bench.ts`) or is part of file names (`scale`: scale and sfu-scale). */
const matches = (file, word) => (word.endsWith(".ts") ? file === word : file.includes(word));
const entries = readdirSync(benchDir)
  .filter((f) => f.endsWith(".bench.ts") && (words.length === 0 || words.some((w) => matches(f, w))))
  .sort();
const workers = existsSync(join(benchDir, "lib"))
  ? readdirSync(join(benchDir, "lib")).filter((f) => f.endsWith(".worker.ts"))
  : [];
// Inside the project so the bundles resolve packages from node_modules; one directory per run, so
// that two runs at once (say, a baseline checkout sharing node_modules) do not delete each other's.
const out = join(root, "node_modules", ".cache", `bench-${process.pid}`);
mkdirSync(out, { recursive: true });

/** `import wasm from "x.wasm"` -> a compiled WebAssembly.Module, as in the Worker bundle. */
const wasmModules = {
  name: "wasm-modules",
  setup(b) {
    b.onResolve({ filter: /\.wasm$/ }, (a) => {
      const require = createRequire(join(a.resolveDir, "index.js"));
      return {
        path: a.path.startsWith(".") ? resolve(a.resolveDir, a.path) : require.resolve(a.path),
        namespace: "wasm-module",
      };
    });
    b.onLoad({ filter: /.*/, namespace: "wasm-module" }, (a) => ({
      contents:
        `import { readFileSync } from "node:fs";\nexport default new ` +
        `WebAssembly.Module(readFileSync(${JSON.stringify(a.path)}));\n`,
      loader: "js",
      resolveDir: dirname(a.path),
    }));
  },
};

async function bundle(src, outfile) {
  await build({
    entryPoints: [src],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "error",
    plugins: [wasmModules],
  });
}

function git(...a) {
  try {
    return execFileSync("git", a, { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

const machine = {
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? "unknown",
  memory_bytes: totalmem(),
  node: process.version,
  loadavg_at_start: loadavg(),
};
const started = Date.now();
const failures = [];
try {
  for (const w of workers) await bundle(join(benchDir, "lib", w), join(out, w.replace(/\.ts$/, ".mjs")));
  for (const entry of entries) {
    const outfile = join(out, entry.replace(/\.ts$/, ".mjs"));
    await bundle(join(benchDir, entry), outfile);
    console.log(`\n=== ${entry}${smoke ? " (smoke)" : ""} ===`);
    try {
      await import(pathToFileURL(outfile).href);
    } catch (err) {
      failures.push(entry);
      console.error(`\n${entry} failed: ${err?.stack ?? err}`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const figures = globalThis.__benchFigures ?? [];
summary(figures);
const results = {
  mode: smoke ? "smoke" : "full",
  commit: git("rev-parse", "HEAD"),
  dirty: (git("status", "--porcelain") ?? "") !== "",
  started_at: new Date(started).toISOString(),
  wall_s: Math.round((Date.now() - started) / 1000),
  machine: { ...machine, loadavg_at_end: loadavg() },
  failures,
  figures,
};
writeFileSync(jsonPath, JSON.stringify(results, null, 2) + "\n");
console.log(
  `\nwrote ${jsonPath} (${figures.length} figures, ${results.wall_s} s; load average at start ` +
    `${machine.loadavg_at_start.map((l) => l.toFixed(2)).join(" ")}, at end ` +
    `${results.machine.loadavg_at_end.map((l) => l.toFixed(2)).join(" ")})`,
);
if (failures.length > 0) console.error(`failed: ${failures.join(", ")}`);
// Every benchmark has stopped its servers by now; a handle one of them leaves behind (a client
// socket, esbuild's service) must not keep the runner, and so `npm test`, waiting forever.
process.exit(failures.length > 0 ? 1 : 0);

function summary(list) {
  if (list.length === 0) return;
  const number = (v) => {
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(Math.abs(v) >= 1 ? 2 : 3);
  };
  const show = (v, unit) => (typeof v === "number" ? number(v) : String(v)) + (unit ? ` ${unit}` : "");
  const rows = list.map((f) => [
    f.measure,
    show(f.value, f.unit),
    f.baseline ? `${show(f.baseline.value, f.baseline.unit)} (${f.baseline.label})` : "",
    f.goal ?? "",
    f.met === undefined ? "" : f.met ? "met" : "NOT met",
  ]);
  const header = ["measure", "figure", "baseline", "goal", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(`\n=== summary${smoke ? " (smoke run: the numbers mean nothing)" : ""} ===`);
  for (const [n, row] of [header, ...rows].entries()) {
    console.log(
      "  " +
        row
          .map((c, i) => c.padEnd(widths[i]))
          .join("   ")
          .trimEnd(),
    );
    if (n === 0) console.log("  " + widths.map((w) => "-".repeat(w)).join("   "));
  }
}
