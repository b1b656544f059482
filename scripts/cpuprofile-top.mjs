#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof, or the DevTools Profiler domain): the functions with
// the most self time, and the same grouped by source file, so a profile can be quoted as evidence.
//
//   node scripts/cpuprofile-top.mjs <file.cpuprofile> [--top 25] [--json]
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
if (!file) {
  console.error("usage: node scripts/cpuprofile-top.mjs <file.cpuprofile> [--top N] [--json]");
  process.exit(2);
}
const topAt = args.indexOf("--top");
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const profile = JSON.parse(readFileSync(file, "utf8"));
const summary = summarise(profile, top);
if (args.includes("--json")) console.log(JSON.stringify(summary, null, 2));
else print(summary);

export function summarise(p, n = 25) {
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  // Self time per node from the sample timeline.
  const self = new Map();
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < p.samples.length; i++) {
    const dt = deltas[i + 1] ?? deltas[i] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fnTotals = new Map();
  const fileTotals = new Map();
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    const url = shortUrl(f.url);
    const name = f.functionName || (url ? "(anonymous)" : "(program)");
    const key = `${name} ${url}${url ? `:${f.lineNumber + 1}` : ""}`;
    fnTotals.set(key, (fnTotals.get(key) ?? 0) + us);
    const group = url || name;
    fileTotals.set(group, (fileTotals.get(group) ?? 0) + us);
  }
  const rank = (m) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({ key, ms: us / 1000, share: totalUs ? us / totalUs : 0 }));
  return { total_ms: totalUs / 1000, functions: rank(fnTotals), files: rank(fileTotals) };
}

function shortUrl(url) {
  if (!url) return "";
  return url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "node_modules/").replace(/^.*\/(src|bench|test)\//, "$1/");
}

function print(s) {
  console.log(`total sampled: ${s.total_ms.toFixed(0)} ms`);
  for (const [title, rows] of [["self time by function", s.functions], ["self time by file", s.files]]) {
    console.log(`\n${title}:`);
    for (const r of rows) console.log(`  ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.ms.toFixed(1).padStart(9)} ms  ${r.key}`);
  }
}
