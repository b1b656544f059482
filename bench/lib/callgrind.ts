/**
 * Instruction counts under `valgrind --tool=callgrind`, for figures where wall-clock time on a
 * loaded machine is too noisy. The running bench bundle re-runs itself under valgrind with
 * BENCH_CALLGRIND=<case>:<iterations>; the marginal cost of one iteration is the difference between
 * two runs with different iteration counts (same warm-up), divided by the difference in iterations,
 * so start-up and JIT warm-up cancel out.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The case this process must run under valgrind, if it is such a child. */
export function callgrindChild(): { name: string; iterations: number } | null {
  const raw = process.env.BENCH_CALLGRIND;
  if (!raw) return null;
  const [name, n] = raw.split(":");
  return { name: name!, iterations: Number(n) };
}

export function valgrindAvailable(): boolean {
  return ["/usr/bin/valgrind", "/usr/local/bin/valgrind"].some((p) => existsSync(p));
}

async function instructions(bundleUrl: string, name: string, iterations: number, timeoutMs: number, nodeArgs: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "bench-callgrind-"));
  try {
    const child = spawn("valgrind", ["--tool=callgrind", `--callgrind-out-file=${join(dir, "out")}`, process.execPath, ...nodeArgs, fileURLToPath(bundleUrl)], {
      env: { ...process.env, BENCH_CALLGRIND: `${name}:${iterations}` },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearTimeout(timer);
    const match = /Collected\s*:\s*(\d+)/.exec(stderr);
    if (code !== 0 || !match) throw new Error(`callgrind run ${name}:${iterations} failed (exit ${code}): ${stderr.slice(-500)}`);
    return Number(match[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Instructions per iteration of `name` (marginal: (I(n2) - I(n1)) / (n2 - n1)). `nodeArgs` go to node
 * before the bundle: `--single-threaded` keeps V8's background compiler and GC threads (whose
 * instructions callgrind counts too, at moments that vary from run to run) out of the figure.
 */
export async function instructionsPerIteration(bundleUrl: string, name: string, n1: number, n2: number, timeoutMs = 300_000, nodeArgs: readonly string[] = []): Promise<number> {
  // Instruction counts do not depend on the machine's load, so both runs go at once.
  const [a, b] = await Promise.all([instructions(bundleUrl, name, n1, timeoutMs, nodeArgs), instructions(bundleUrl, name, n2, timeoutMs, nodeArgs)]);
  return (b - a) / (n2 - n1);
}
