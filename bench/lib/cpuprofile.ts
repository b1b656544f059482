/**
 * Summaries of V8 CPU profiles (`node --cpu-prof`, or the DevTools Profiler domain of workerd's
 * inspector): self time by function, by source file and by part of the per-message path, so a
 * profile can be quoted as evidence.
 *
 * Both the benchmark bundles and wrangler's Worker bundle are esbuild output, which starts each
 * module with a `// path/to/module.ts` comment: a function's line in the bundle is mapped back to its
 * source file by the last such comment above it.
 */

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number; scriptId?: string } }>;
  samples: number[];
  timeDeltas: number[];
  startTime?: number;
  endTime?: number;
}

export interface Ranked {
  key: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  total_ms: number;
  functions: Ranked[];
  files: Ranked[];
  parts: Ranked[];
}

/** Maps a line (0-based) of an esbuild bundle to the module it came from. */
export function bundleLineMap(source: string): (line: number) => string | null {
  const starts: Array<[number, string]> = [];
  const lines = source.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\/\/ ((?:src|bench|test|node_modules|scripts)\/\S+|wasm-module:\S+)$/.exec(lines[i]!);
    if (m) starts.push([i, m[1]!]);
  }
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found: string | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]![0] <= line) {
        found = starts[mid]![1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** The part of the per-message path a source file belongs to. */
export function partOf(file: string, functionName: string): string {
  if (file === "(idle)") return "idle";
  if (file === "(garbage collector)") return "garbage collector";
  if (file === "(program)") return "runtime (native: dispatch, sockets, I/O)";
  if (file.startsWith("wasm") || file.includes("mozjpeg") || file.includes("@jsquash")) return "JPEG encoder (WASM + glue)";
  if (file.startsWith("src/gen/") || file.includes("protobufjs")) return "protobuf encode/decode";
  if (file.startsWith("src/media/audio/") || file === "src/protocol/audio-frames.ts") return "audio chain (validate, mono, resample, gate, chunk)";
  if (file === "src/session/counters.ts") return "counters";
  if (file === "src/shared/log.ts" || functionName === "log" || file.startsWith("node:internal/console")) return "logging";
  if (file === "src/shared/sampler.ts") return "video sampler";
  if (file.startsWith("src/media/")) return "video (pixels, JPEG glue)";
  if (file.startsWith("src/upstream/")) return "upstream link and send queue";
  if (file === "src/protocol/client-messages.ts") return "client message validation";
  if (file.startsWith("src/session/") || file.startsWith("src/protocol/")) return "session (socket messages, connections, intake)";
  if (file.startsWith("src/")) return "other src";
  if (file.startsWith("bench/") || file.startsWith("test/")) return "bench harness / load generator";
  if (file.startsWith("node_modules/ws/") || file.startsWith("node:")) return "Node runtime and ws (bench side)";
  return "other";
}

function shortUrl(url: string): string {
  return url
    .replace(/^file:\/\//, "")
    .replace(/^.*\/node_modules\//, "node_modules/")
    .replace(/^.*\/(src|bench|test)\//, "$1/");
}

/**
 * `fileOf(url, line)` resolves a frame to its source file (e.g. through bundleLineMap); by default the
 * frame's own URL is used.
 */
export interface SummariseOptions {
  top?: number;
  fileOf?: (url: string, line: number, scriptId?: string) => string | null;
  /**
   * Weigh each sample by the time to the next one (default; right for `node --cpu-prof`, which
   * samples at a steady interval), or count each sample as `intervalUs` (workerd's inspector takes
   * samples only while the isolate runs, so the gaps between them are mostly idle time).
   */
  weight?: { samples: number } | "time";
}

export function summarise(p: CpuProfile, options: SummariseOptions = {}): ProfileSummary {
  const top = options.top ?? 20;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const weight = options.weight ?? "time";
  for (let i = 0; i < p.samples.length; i++) {
    const dt = weight === "time" ? (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) : weight.samples;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + Math.max(0, dt));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  const parts = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const name = f.functionName || "(anonymous)";
    const special = ["(idle)", "(program)", "(garbage collector)", "(root)"].includes(f.functionName) ? f.functionName : null;
    const file = special ?? (options.fileOf?.(f.url, f.lineNumber, f.scriptId) ?? (shortUrl(f.url) || "(native)"));
    const mapped = options.fileOf?.(f.url, f.lineNumber, f.scriptId) ?? null;
    // A bundle's line numbers say nothing about the source file: show them only for unmapped frames.
    const key = special ?? `${name}  ${file}${mapped === null && f.url ? `:${f.lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    files.set(file, (files.get(file) ?? 0) + us);
    const part = partOf(file, name);
    parts.set(part, (parts.get(part) ?? 0) + us);
  }
  const rank = (m: Map<string, number>, n: number): Ranked[] =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([key, us]) => ({ key, ms: us / 1000, share: total ? us / total : 0 }));
  return { total_ms: total / 1000, functions: rank(fns, top), files: rank(files, top), parts: rank(parts, 50) };
}

/** Prints a summary; shares are of the busy (non-idle) time. */
export function printSummary(title: string, s: ProfileSummary, top = 15): void {
  const idle = s.parts.find((p) => p.key === "idle")?.ms ?? 0;
  const busy = s.total_ms - idle;
  const pct = (ms: number): string => `${((ms / busy) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\n${title}: ${busy.toFixed(0)} ms busy of ${s.total_ms.toFixed(0)} ms sampled (shares are of the busy time)`);
  console.log("  by part of the path:");
  for (const r of s.parts.filter((p) => p.key !== "idle")) console.log(`    ${pct(r.ms)}  ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`);
  console.log(`  top ${top} functions (self time):`);
  for (const r of s.functions.filter((f) => f.key !== "(idle)").slice(0, top)) console.log(`    ${pct(r.ms)}  ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`);
}

/**
 * What a workerd isolate did around a moment, from its profile: one line per `bucketMs` between
 * `fromMs` and `toMs` (wall clock; `wallStartMs` is when the profiler started) with the number of
 * samples and the functions most sampled. The inspector samples only while the isolate runs, so a
 * bucket with few samples is one where it waited (for I/O, a storage commit, a core).
 */
export function timeline(p: CpuProfile, wallStartMs: number, fromMs: number, toMs: number, bucketMs = 50): string[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const buckets = new Map<number, Map<string, number>>();
  let us = 0;
  for (let i = 0; i < p.samples.length; i++) {
    us += p.timeDeltas[i] ?? 0;
    const wall = wallStartMs + us / 1000;
    if (wall < fromMs || wall > toMs) continue;
    const b = Math.floor((wall - fromMs) / bucketMs);
    const fn = byId.get(p.samples[i]!)?.callFrame.functionName || "(anonymous)";
    const counts = buckets.get(b) ?? new Map<string, number>();
    counts.set(fn, (counts.get(fn) ?? 0) + 1);
    buckets.set(b, counts);
  }
  const lines: string[] = [];
  for (let b = 0; b <= Math.floor((toMs - fromMs) / bucketMs); b++) {
    const counts = buckets.get(b) ?? new Map<string, number>();
    const n = [...counts.values()].reduce((a, c) => a + c, 0);
    const top = [...counts.entries()].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([k, c]) => `${k} ${c}`);
    lines.push(`${((b * bucketMs) / 1000).toFixed(2).padStart(6)} s  ${String(n).padStart(4)} samples  ${top.join(", ")}`);
  }
  return lines;
}
