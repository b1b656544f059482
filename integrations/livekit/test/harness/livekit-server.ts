/**
 * A real LiveKit server for the tests: the pinned livekit-server (built once by
 * scripts/ensure-livekit-server.mjs, which says what is missing when Go is not installed), started
 * on 127.0.0.1 on free ports (new ones if a port was taken meanwhile) in its own process group, and
 * stopped with the group.
 */
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort, REPO_ROOT, retryOnPortRace } from "../../../../test/e2e/harness/wrangler-dev.js";

export const API_KEY = "e2e-livekit-key";
/** livekit-server refuses secrets shorter than 32 characters outside --dev. */
export const API_SECRET = "e2e-livekit-secret-0123456789abcdefghijklmnop";

export interface LiveKitServerProcess {
  /** ws://127.0.0.1:<port> */
  url: string;
  apiKey: string;
  apiSecret: string;
  logs(): string;
  stop(): Promise<void>;
}

const MAX_LOG_CHARS = 500_000;
const START_TIMEOUT_MS = 30_000;

/** The binary's path; builds it the first time (a few minutes), with the build's output on stderr. */
export function liveKitServerBinary(): string {
  const script = join(REPO_ROOT, "scripts", "ensure-livekit-server.mjs");
  try {
    return execFileSync(process.execPath, [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  } catch {
    throw new Error("livekit-server is not available: see the [setup] line above (scripts/ensure-livekit-server.mjs)");
  }
}

export async function startLiveKitServer(): Promise<LiveKitServerProcess> {
  const binary = liveKitServerBinary();
  return retryOnPortRace(() => startOnce(binary));
}

async function startOnce(binary: string): Promise<LiveKitServerProcess> {
  const [port, tcpPort, udpPort] = [await freePort(), await freePort(), await freePort()];
  const config = [
    `port: ${port}`,
    `bind_addresses: ["127.0.0.1"]`,
    `rtc: { tcp_port: ${tcpPort}, udp_port: ${udpPort}, use_external_ip: false, use_mdns: false }`,
    `keys: { ${API_KEY}: ${API_SECRET} }`,
    `logging: { level: warn }`,
  ].join("\n");
  const child = spawn(binary, ["--config-body", config, "--node-ip", "127.0.0.1"], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let buffer = "";
  const append = (chunk: Buffer): void => {
    buffer = (buffer + chunk.toString()).slice(-MAX_LOG_CHARS);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid!;
  const kill = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  process.once("exit", () => kill("SIGKILL"));
  const stop = async (): Promise<void> => {
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`livekit-server did not start on ${url}\n--- its output ---\n${buffer}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url: `ws://127.0.0.1:${port}`, apiKey: API_KEY, apiSecret: API_SECRET, logs: () => buffer, stop };
}
