/**
 * A real LiveKit server for the tests: the pinned livekit-server (built once by
 * scripts/ensure-livekit-server.mjs, which says what is missing when Go is not installed), started
 * on 127.0.0.1 on free ports (new ones if a port was taken meanwhile) in its own process group, and
 * stopped with the group. restart() replaces it with a new process on the same ports and keys, so the
 * clients in its rooms see a server that went away and came back at the same address.
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
  /**
   * Shuts this server down (SIGTERM, then SIGTERM again, which livekit-server takes as "stop now": it
   * tells every participant SERVER_SHUTDOWN, though the process can exit before some of those messages
   * are out) and starts a new one on the same ports and keys, with empty rooms. Resolves once it answers.
   */
  restart(): Promise<void>;
}

interface Ports {
  port: number;
  tcpPort: number;
  udpPort: number;
}

interface ServerRun {
  logs(): string;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<void>;
  stop(): Promise<void>;
}

const MAX_LOG_CHARS = 500_000;
const START_TIMEOUT_MS = 30_000;
/** How long restart() tries the same ports again while one is still taken. */
const RESTART_BIND_TIMEOUT_MS = 10_000;

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
  let ports!: Ports;
  let run = await retryOnPortRace(async () => {
    ports = { port: await freePort(), tcpPort: await freePort(), udpPort: await freePort() };
    return startRun(binary, ports);
  });
  let earlier = "";
  return {
    url: `ws://127.0.0.1:${ports.port}`,
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    logs: () => earlier + run.logs(),
    stop: () => run.stop(),
    async restart() {
      run.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      run.kill("SIGTERM");
      const timer = setTimeout(() => run.kill("SIGKILL"), 5_000);
      await run.exited;
      clearTimeout(timer);
      earlier = (earlier + run.logs() + "\n--- restarted ---\n").slice(-MAX_LOG_CHARS);
      // The same ports: another process may hold one for a moment (the old sockets close asynchronously).
      const deadline = Date.now() + RESTART_BIND_TIMEOUT_MS;
      for (;;) {
        try {
          run = await startRun(binary, ports);
          return;
        } catch (err) {
          const taken = /address already in use/i.test((err as Error).message);
          if (!taken || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}

async function startRun(binary: string, { port, tcpPort, udpPort }: Ports): Promise<ServerRun> {
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
  return { logs: () => buffer, kill, exited, stop };
}
