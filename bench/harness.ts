/** Small helpers for the benchmarks: timing loops and aligned side-by-side tables. */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

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

/** The project's root directory (benchmarks run from a bundle under node_modules/.cache). */
export function projectRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "deepfake-edge") return dir;
    if (dirname(dir) === dir) throw new Error("bench: project root not found");
  }
}


/**
 * ms per call as the median over `rounds` rounds of `perRound` calls each (after one warm-up call):
 * steadier than one long loop on a small shared machine, where another process can take a core
 * for a while. Rounds of several timings may be interleaved by calling this per round.
 */
export async function medianMs(rounds: number, perRound: number, fn: () => unknown): Promise<number> {
  await fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < perRound; i++) await fn();
    samples.push((performance.now() - start) / perRound);
  }
  return median(samples);
}

// ---- run mode, statistics and the results file ---------------------------------------------

/** `npm run bench -- --smoke` or BENCH_SMOKE=1: every benchmark runs briefly, to check it still runs (not its numbers). */
export const SMOKE = process.env.BENCH_SMOKE === "1";

/** `full` in a normal run, `smoke` in smoke mode. */
export function pick<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}

/** Nearest-rank percentile (p in [0, 1]) of an unsorted list; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  return { n: values.length, p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: values.length ? Math.max(...values) : Number.NaN };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One measured figure, next to its baseline and the goal where there is one. */
export interface Figure {
  bench: string;
  measure: string;
  value: number | string;
  unit?: string;
  baseline?: { label: string; value: number | string; unit?: string };
  goal?: string;
  /** Whether the goal is met (undefined: no goal, or smoke mode). */
  met?: boolean;
  detail?: Record<string, unknown>;
}

interface BenchGlobal {
  __benchFigures?: Figure[];
}

/**
 * Records a figure for the summary table and bench-results.json (scripts/bench.mjs prints and writes
 * them). Each bench file is its own bundle, so the list lives on globalThis.
 */
export function record(figure: Figure): void {
  const g = globalThis as BenchGlobal;
  (g.__benchFigures ??= []).push(SMOKE ? { ...figure, met: undefined } : figure);
}

/** Formats a number for tables (same rules as `table`). */
export function fmt(n: number, digits?: number): string {
  if (!Number.isFinite(n)) return String(n);
  return digits === undefined ? formatNumber(n) : n.toFixed(digits);
}
