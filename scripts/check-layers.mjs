#!/usr/bin/env node
// Checks the module structure of src/ (hand-written files; src/gen and generated code excepted):
//   - no import cycles;
//   - the leaf layers: src/protocol, src/shared and src/config/limits.ts import only src/gen and
//     each other; the client SDK (src/client) imports only those and itself, so it never pulls in
//     server code;
//   - media and webhooks never import from session;
//   - no hand-written file over 400 lines, and the Durable Object shell at most 250;
//   - no line over 120 characters in a hand-written file, in src/ and scripts/ (docs/DESIGN.md §2.2).
// Exits 1 listing every violation. Standard library only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(new URL("..", import.meta.url).pathname);
const srcDir = join(root, "src");
const MAX_LINES = 400;
const SHELL = "src/session/participant-session.ts";
const SHELL_MAX_LINES = 250;
const MAX_LINE_CHARS = 120;

const generated = (rel) => rel.startsWith("src/gen/") || rel.includes("/generated/");
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

const files = walk(srcDir)
  .map((p) => relative(root, p))
  .filter((rel) => !generated(rel));
const importRe = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|(?:^|\n)\s*import\s+["']([^"']+)["']/g;

/** Relative imports of a file, resolved to repo-relative .ts paths (type-only imports count too). */
function importsOf(rel) {
  const text = readFileSync(join(root, rel), "utf8");
  const out = [];
  for (const match of text.matchAll(importRe)) {
    const spec = match[1] ?? match[2];
    if (!spec.startsWith(".")) continue;
    const target = relative(root, resolve(dirname(join(root, rel)), spec)).replace(/\.js$/, ".ts");
    out.push(target.endsWith(".ts") ? target : `${target}.ts`);
  }
  return out;
}

const graph = new Map(files.map((rel) => [rel, importsOf(rel)]));
const problems = [];

// Layers.
const leaf = (rel) =>
  rel.startsWith("src/protocol/") ||
  rel.startsWith("src/shared/") ||
  rel === "src/config/limits.ts" ||
  rel.startsWith("src/gen/");
for (const [rel, deps] of graph) {
  for (const dep of deps) {
    if (leaf(rel) && !leaf(dep)) problems.push(`${rel} is a leaf layer but imports ${dep}`);
    if (rel.startsWith("src/client/") && !leaf(dep) && !dep.startsWith("src/client/"))
      problems.push(`the SDK file ${rel} imports server code ${dep}`);
    if ((rel.startsWith("src/media/") || rel.startsWith("src/webhooks/")) && dep.startsWith("src/session/"))
      problems.push(`${rel} imports from session: ${dep}`);
  }
}

// Cycles (depth-first search; each cycle reported once by its smallest member).
const seen = new Set();
const cycles = new Set();
function visit(node, stack) {
  const at = stack.indexOf(node);
  if (at >= 0) {
    const cycle = stack.slice(at);
    const start = cycle.indexOf([...cycle].sort()[0]);
    cycles.add([...cycle.slice(start), ...cycle.slice(0, start)].join(" -> "));
    return;
  }
  if (seen.has(node)) return;
  stack.push(node);
  for (const dep of graph.get(node) ?? []) if (graph.has(dep)) visit(dep, stack);
  stack.pop();
  seen.add(node);
}
for (const rel of graph.keys()) visit(rel, []);
for (const cycle of cycles) problems.push(`import cycle: ${cycle}`);

// Sizes: lines per file, characters per line (counted as code points, so "→" is one), for src/ and
// the scripts in scripts/.
const scripts = readdirSync(join(root, "scripts"))
  .filter((name) => name.endsWith(".mjs"))
  .map((name) => `scripts/${name}`);
for (const rel of [...files, ...scripts]) {
  const text = readFileSync(join(root, rel), "utf8").split("\n");
  const lines = text.length - 1;
  const max = rel === SHELL ? SHELL_MAX_LINES : MAX_LINES;
  if (lines > max) problems.push(`${rel} has ${lines} lines (at most ${max})`);
  text.forEach((line, i) => {
    const chars = [...line].length;
    if (chars > MAX_LINE_CHARS) problems.push(`${rel}:${i + 1} has ${chars} characters (at most ${MAX_LINE_CHARS})`);
  });
}

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`check-layers: ${files.length} files, no cycles, layers and sizes ok (and ${scripts.length} scripts)`);
