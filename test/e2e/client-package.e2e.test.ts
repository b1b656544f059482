/**
 * End-to-end: the client SDK as a user installs it. `npm pack` of the @deepfake-edge/client
 * workspace (src/client), installed into an empty folder with `ws`; a plain Node script there
 * connects to a real `wrangler dev` (development mode) and receives `ready`; a TypeScript file there
 * type-checks against the published declarations alone (strict, no skipLibCheck).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

let dev: WranglerDev;
let app: string;

beforeAll(async () => {
  dev = await startWranglerDev({ vars: { DEV_MODE: "true" } });
  app = mkdtempSync(join(tmpdir(), "deepfake-edge-sdk-app-"));
});

afterAll(async () => {
  await dev?.stop();
  if (app) rmSync(app, { recursive: true, force: true });
});

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string => {
  const stdio: ["ignore", "pipe", "inherit"] = ["ignore", "pipe", "inherit"];
  return execFileSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env }, stdio });
};

const SCRIPT = `
import WebSocket from "ws";
import { DeepfakeEdgeClient, nodeSocketFactory } from "@deepfake-edge/client";

const client = new DeepfakeEdgeClient({
  baseUrl: process.env.BASE_URL,
  participantId: "sdk-package",
  socketFactory: nodeSocketFactory(WebSocket),
  hello: { client: "sdk-package-test" },
});
const ready = await client.connect();
console.log(JSON.stringify(ready));
client.close();
`;

const TYPED = `
import { DeepfakeEdgeClient, AuthError, type DeepfakeAlert, type ReadyEvent } from "@deepfake-edge/client";

const client = new DeepfakeEdgeClient({ baseUrl: "https://edge.example.com", participantId: "a", token: () => "t" });
client.on("deepfake_alert", (alert: DeepfakeAlert) => console.log(alert.level, alert.previous_level));
const ready: Promise<ReadyEvent> = client.connect();
const fps: number | null = client.videoFps;
const result: "sent" | string = client.sendVideo({ width: 2, height: 2, format: "I420", data: new Uint8Array(6) });
export { ready, fps, result, AuthError };
`;

it("npm pack of the SDK installs into an empty folder, where a script connects and receives ready", async () => {
  const pack = ["pack", "--json", "--pack-destination", app, "-w", "@deepfake-edge/client"];
  const packed = JSON.parse(run("npm", pack, REPO_ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const tarball = packed[0]!;
  const files = tarball.files.map((f) => f.path).sort();
  expect(files).toContain("dist/index.js");
  expect(files).toContain("dist/types/client/index.d.ts");
  expect(files).toContain("package.json");
  expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]); // the build, not the sources

  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "sdk-app", private: true, type: "module" }));
  const ws = JSON.parse(readFileSync(join(REPO_ROOT, "node_modules/ws/package.json"), "utf8")) as { version: string };
  const install = ["install", "--no-audit", "--no-fund", "--prefer-offline"];
  run("npm", [...install, join(app, tarball.filename), `ws@${ws.version}`], app);
  writeFileSync(join(app, "connect.mjs"), SCRIPT);
  const ready = JSON.parse(run(process.execPath, ["connect.mjs"], app, { BASE_URL: dev.url }).trim()) as unknown;
  expect(ready).toMatchObject({ type: "ready", participant_id: "sdk-package", level: "clear", simulated: true });

  // The declarations stand on their own: strict, without skipLibCheck.
  writeFileSync(join(app, "typed.ts"), TYPED);
  const tsc = join(REPO_ROOT, "node_modules", ".bin", "tsc");
  const args = ["--noEmit", "--strict", "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext"];
  run(tsc, [...args, "--lib", "es2023,dom", "--types", "", "--ignoreConfig", "typed.ts"], app);
});
