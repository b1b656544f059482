#!/usr/bin/env node
// The LiveKit tests run against a real LiveKit server (docs/DESIGN.md §14): the pinned livekit-server,
// built once from the Go module proxy with `go install` into .tools/ (git-ignored) and reused.
//   node scripts/ensure-livekit-server.mjs    build it if missing, print its path
// LIVEKIT_SERVER_BIN=/path/to/livekit-server uses that binary instead. Standard library only.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

export const LIVEKIT_SERVER_VERSION = "v1.9.11";
export const LIVEKIT_SERVER_MODULE = "github.com/livekit/livekit-server/cmd/server";
/** livekit-server v1.9.11 declares go 1.24.0 in its go.mod. */
const GO_MINIMUM = "1.24";

const root = new URL("..", import.meta.url).pathname;
const toolDir = join(root, ".tools", "livekit-server", LIVEKIT_SERVER_VERSION);
export const LIVEKIT_SERVER_PATH = join(toolDir, "server");

function goVersion() {
  const probe = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** The path of a runnable livekit-server, building it first when needed. Throws a clear Error without Go. */
export function ensureLiveKitServer(log = (line) => console.log(line)) {
  const override = process.env.LIVEKIT_SERVER_BIN;
  if (override) {
    if (!existsSync(override)) throw new Error(`LIVEKIT_SERVER_BIN=${override} does not exist`);
    return override;
  }
  if (existsSync(LIVEKIT_SERVER_PATH)) return LIVEKIT_SERVER_PATH;
  const go = goVersion();
  if (go === null) {
    throw new Error(
      `The LiveKit tests need a LiveKit server, built once from source with Go ${GO_MINIMUM} or newer ` +
        `(go install ${LIVEKIT_SERVER_MODULE}@${LIVEKIT_SERVER_VERSION}), but \`go\` is not on PATH.\n` +
        `Install Go (https://go.dev/doc/install), or set LIVEKIT_SERVER_BIN to a livekit-server ` +
        `${LIVEKIT_SERVER_VERSION} binary, then run npm test again.`,
    );
  }
  log(`[setup] building livekit-server ${LIVEKIT_SERVER_VERSION} with ${go} (once, a few minutes) into ${toolDir}`);
  // Built into a scratch folder and moved into place, so an interrupted build is never taken for a finished one.
  const scratch = `${toolDir}.partial-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    execFileSync("go", ["install", `${LIVEKIT_SERVER_MODULE}@${LIVEKIT_SERVER_VERSION}`], {
      cwd: root,
      env: { ...process.env, GOBIN: scratch },
      stdio: ["ignore", "inherit", "inherit"],
    });
    mkdirSync(toolDir, { recursive: true });
    renameSync(join(scratch, "server"), LIVEKIT_SERVER_PATH);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  log(`[setup] livekit-server ${LIVEKIT_SERVER_VERSION} built: ${LIVEKIT_SERVER_PATH}`);
  return LIVEKIT_SERVER_PATH;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureLiveKitServer((line) => console.error(line)));
  } catch (err) {
    console.error(`[setup] ${err.message}`);
    process.exit(1);
  }
}
