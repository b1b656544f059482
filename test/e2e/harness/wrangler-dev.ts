/**
 * Starts a real `wrangler dev` process for end-to-end tests and stops it cleanly.
 *
 * wrangler runs workerd as a child process, so killing only wrangler's PID leaves workerd (and its
 * port) behind. The process is therefore spawned in its own process group and stopped by signalling
 * the whole group.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const WRANGLER_BIN = join(REPO_ROOT, "node_modules/.bin/wrangler");

const HEALTH_TIMEOUT_MS = 75_000;
const HEALTH_POLL_MS = 250;
const STOP_GRACE_MS = 5_000;
/** Keep at most this much of wrangler's output (the tail). */
const MAX_LOG_CHARS = 2_000_000;

export interface WranglerDevOptions {
  /** Passed as `--var KEY:VALUE` (values may contain colons). */
  vars: Record<string, string>;
  /** Local storage directory; a fresh temporary directory (removed on stop) when omitted. */
  persistTo?: string;
  /** Where the fresh temporary storage directory goes when `persistTo` is omitted (the OS temp dir by default). */
  persistUnder?: string;
  /** How long to wait for `GET /healthz` to answer 200. */
  healthTimeoutMs?: number;
  /** The address to listen on (`--ip`): 127.0.0.1 unless given; 0.0.0.0 reaches other interfaces too. */
  ip?: string;
}

export interface WranglerDev {
  /** http://127.0.0.1:<port> (or http://<ip>:<port> when bound to one other address) */
  url: string;
  port: number;
  /** wrangler's PID, which is also its process group id (workerd runs in the same group). */
  pid: number;
  /** The DevTools inspector port wrangler was started with (`--inspector-port`). */
  inspectorPort: number;
  /** Everything wrangler wrote to stdout and stderr so far (tail-capped). */
  logs(): string;
  /** SIGTERM to the process group, SIGKILL after a grace period; resolves once wrangler exited. */
  stop(): Promise<void>;
  /** Immediate SIGKILL of the whole process group (simulates a crash). */
  kill9(): void;
}

/** A port that was free a moment ago, found by listening on port 0. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not determine a free port"));
        return;
      }
      const { port } = address;
      server.close(() => resolvePort(port));
    });
  });
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** If the test runner dies, do not leave wrangler/workerd running. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pgid of liveGroups) signalGroup(pgid, "SIGKILL");
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Attempts when the free port found was taken by another process before wrangler bound it. */
const PORT_RACE_ATTEMPTS = 3;

/**
 * Starts a server on ports from `freePort()`, again on new ports when one was taken between the
 * probe and the server's own bind (the failure's message says "address already in use").
 */
export async function retryOnPortRace<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      const portRace = /address already in use/i.test((err as Error).message);
      if (!portRace || attempt >= PORT_RACE_ATTEMPTS) throw err;
    }
  }
}

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  return retryOnPortRace(() => startOnce(options));
}

async function startOnce(options: WranglerDevOptions): Promise<WranglerDev> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const ownsPersistDir = options.persistTo === undefined;
  const persistTo = options.persistTo ?? mkdtempSync(join(options.persistUnder ?? tmpdir(), "deepfake-edge-e2e-"));
  const ip = options.ip ?? "127.0.0.1";
  const url = `http://${ip === "0.0.0.0" ? "127.0.0.1" : ip}:${port}`;

  const args = [
    "dev",
    "--ip",
    ip,
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    // "log" keeps the Worker's own console.log lines, so the privacy checks read every log line.
    "--log-level",
    "log",
  ];
  for (const [key, value] of Object.entries(options.vars)) args.push("--var", `${key}:${value}`);

  let buffer = "";
  const append = (chunk: Buffer | string): void => {
    buffer += chunk.toString();
    if (buffer.length > MAX_LOG_CHARS) buffer = buffer.slice(buffer.length - MAX_LOG_CHARS);
  };

  const child: ChildProcess = spawn(WRANGLER_BIN, args, {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CI: "true",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
      WRANGLER_LOG_PATH: join(persistTo, "wrangler-logs"),
    },
  });
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);

  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${WRANGLER_BIN}`);
  installExitHook();
  liveGroups.add(pid);

  // A holder object, because the exit callbacks assign it (TS would otherwise narrow it to null).
  const status: { exit: { code: number | null; signal: NodeJS.Signals | null } | null } = { exit: null };
  const exited = new Promise<void>((resolveExit) => {
    child.once("exit", (code, signal) => {
      status.exit = { code, signal };
      resolveExit();
    });
    child.once("error", (err) => {
      append(`\n[harness] spawn error: ${err.message}\n`);
      status.exit = { code: null, signal: null };
      resolveExit();
    });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      signalGroup(pid, "SIGTERM");
      const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_GRACE_MS).then(() => true)]);
      // Signal the group even when wrangler itself exited: workerd may outlive it.
      signalGroup(pid, "SIGKILL");
      if (timedOut) await Promise.race([exited, sleep(STOP_GRACE_MS)]);
      liveGroups.delete(pid);
      if (ownsPersistDir) rmSync(persistTo, { recursive: true, force: true });
    }
  };
  const kill9 = (): void => {
    signalGroup(pid, "SIGKILL");
  };

  const deadline = Date.now() + (options.healthTimeoutMs ?? HEALTH_TIMEOUT_MS);
  let lastProblem = "no attempt yet";
  for (;;) {
    const info = status.exit;
    if (info !== null) {
      await stop();
      throw new Error(
        `wrangler dev exited before /healthz answered (code ${info.code}, signal ${info.signal}).\n--- wrangler logs ---\n${buffer}`,
      );
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      lastProblem = `GET /healthz answered ${res.status}`;
    } catch (err) {
      lastProblem = `GET /healthz failed: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not become healthy at ${url} (${lastProblem}).\n--- wrangler logs ---\n${buffer}`);
    }
    await sleep(HEALTH_POLL_MS);
  }

  return { url, port, pid, inspectorPort, logs: () => buffer, stop, kill9 };
}
