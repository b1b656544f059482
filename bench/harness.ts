/** Small helpers for the benchmarks: timing loops and aligned side-by-side tables. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export function timeMs(iterations: number, fn: () => unknown): number {
  fn(); // warm-up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  return (performance.now() - start) / iterations;
}

export async function timeAsyncMs(iterations: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  return (performance.now() - start) / iterations;
}

export function table(title: string, header: string[], rows: Array<Array<string | number>>): void {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === "number" ? formatNumber(c) : c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  for (const [n, row] of cells.entries()) {
    console.log("  " + row.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join("   "));
    if (n === 0) console.log("  " + widths.map((w) => "-".repeat(w)).join("   "));
  }
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString("en-US");
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toFixed(3);
}

/** Loads a @jsquash/jpeg WASM module from node_modules (wrangler does this at bundle time in the Worker). */
export async function loadJsquashWasm(path: "enc/mozjpeg_enc.wasm" | "dec/mozjpeg_dec.wasm"): Promise<WebAssembly.Module> {
  const require = createRequire(import.meta.url);
  const file = require.resolve(`@jsquash/jpeg/codec/${path}`);
  return WebAssembly.compile(readFileSync(file));
}
