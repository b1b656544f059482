/**
 * End-to-end (docs/DESIGN.md §14): the `deepfake-edge-livekit` command as a user runs it, against a real
 * livekit-server and `wrangler dev` in development mode (the built-in simulator, no admin key: the
 * bridge names the room with `?room=`). eve and frank stream cameras in LiveKit room "S".
 * `--on-alert remove` removes eve from the LiveKit room when the simulator answers ALERT for her, and
 * a restarted bridge resumes streaming frank.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DisconnectReason } from "@livekit/rtc-node";
import { RoomServiceClient } from "livekit-server-sdk";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "../../../test/e2e/harness/wrangler-dev.js";
import { startLiveKitServer, type LiveKitServerProcess } from "./harness/livekit-server.js";
import { startPublisher, type Publisher } from "./harness/publisher.js";
import { monitorAllRooms } from "../src/index.js";

const ROOM = "S";
const COMMAND = join(REPO_ROOT, "node_modules", ".bin", "deepfake-edge-livekit");

let dev: WranglerDev;
let livekit: LiveKitServerProcess;
let service: RoomServiceClient;
let eve: Publisher;
let frank: Publisher;
let gina: Publisher | undefined;
let bridge: Bridge | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Bridge {
  child: ChildProcess;
  output(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function startBridge(args: string[]): Bridge {
  const child = spawn(COMMAND, args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      LIVEKIT_URL: livekit.url,
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      DEEPFAKE_EDGE_URL: dev.url,
      DEEPFAKE_EDGE_ADMIN_KEY: "",
    },
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  process.once("exit", () => child.kill("SIGKILL"));
  return {
    child,
    output: () => out,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function until(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}\n${bridge?.output() ?? ""}`);
    await sleep(100);
  }
}

/**
 * The bridge printed `line`: its stdout reaches the test through a pipe, so a line may arrive just
 * after what it reports is visible elsewhere (a muted track, a frame at the simulator).
 */
async function printed(line: string): Promise<void> {
  await until(() => bridge!.output().includes(line), 5_000, `the bridge printing "${line}"`);
}

interface SimulatorStats {
  jpeg_frames: number;
  pcm_chunks: number;
  rejected: number;
  last_jpeg: { at_ms: number } | null;
}

async function simulator(participantId: string): Promise<SimulatorStats> {
  const res = await fetch(`${dev.url}/v1/dev/simulator/${participantId}`);
  return (await res.json()) as SimulatorStats;
}

beforeAll(async () => {
  // One after the other: whichever started is stopped by afterAll even when the other fails.
  livekit = await startLiveKitServer();
  dev = await startWranglerDev({ vars: { DEV_MODE: "true" } });
  service = new RoomServiceClient(livekit.url.replace(/^ws/, "http"), livekit.apiKey, livekit.apiSecret);
  eve = await startPublisher(livekit, ROOM, { identity: "eve", camera: true });
  frank = await startPublisher(livekit, ROOM, { identity: "frank", camera: true });
});

afterAll(async () => {
  await bridge?.stop();
  await eve?.leave();
  await frank?.leave();
  await gina?.leave();
  await livekit?.stop();
  await dev?.stop();
});

it("--on-alert remove: the command removes the participant in ALERT from the LiveKit room", async () => {
  bridge = startBridge(["--room", ROOM, "--on-alert", "remove"]);
  await until(async () => (await simulator("S:eve")).jpeg_frames > 0, 30_000, "eve's first JPEG at the simulator");
  await until(async () => (await simulator("S:frank")).jpeg_frames > 0, 10_000, "frank's first JPEG at the simulator");
  await printed("participant eve joined as S:eve");
  // Without a token the bridge names the room with ?room= (development mode on loopback): room S has both.
  type RoomView = { participants: Array<{ participant_id: string }> };
  const room = (await (await fetch(`${dev.url}/v1/rooms/${ROOM}`)).json()) as RoomView;
  expect(room.participants.map((p) => p.participant_id).sort()).toEqual(["S:eve", "S:frank"]);

  const body = JSON.stringify({ level: "alert" });
  const steer = await fetch(`${dev.url}/v1/dev/simulator/S:eve`, { method: "POST", body });
  expect(steer.status).toBe(200);
  await until(() => eve.disconnectReason !== null, 15_000, "eve removed");
  expect(eve.disconnectReason).toBe(DisconnectReason.PARTICIPANT_REMOVED);
  const left = (await service.listParticipants(ROOM)).map((p) => p.identity);
  expect(left).toContain("frank");
  expect(left).not.toContain("eve");
  await printed("ALERT eve track");
  await printed("--on-alert remove: removed eve from S");
  // frank was not touched and is still streamed.
  expect(frank.disconnectReason).toBeNull();
});

it("stops cleanly on SIGTERM, and a restarted bridge (--all-rooms) resumes streaming", async () => {
  const running = (await service.listParticipants(ROOM)).map((p) => p.identity);
  const code = await bridge!.stop();
  expect(code).toBe(0);
  expect(bridge!.output()).toContain("[deepfake-edge-livekit] stopped");
  const after = (await service.listParticipants(ROOM)).map((p) => p.identity);
  // The server lists the hidden bridge while it runs, and not once it left.
  expect(running.filter((id) => id.startsWith("deepfake-edge-"))).toHaveLength(1);
  expect(after).toEqual(["frank"]);

  const stoppedAt = Date.now();
  const before = (await simulator("S:frank")).jpeg_frames;
  bridge = startBridge(["--all-rooms", "--on-alert", "mute", "--speaking", "livekit"]);
  await until(async () => (await simulator("S:frank")).jpeg_frames > before, 20_000, "frank's JPEGs after the restart");
  const resumed = (await simulator("S:frank")).last_jpeg!.at_ms;
  console.log(`[measure] bridge restart: frank streams again ${resumed - stoppedAt} ms after the old bridge stopped`);
  await printed("participant frank joined as S:frank");
});

it("--on-alert mute: the restarted command mutes every track of the participant in ALERT", async () => {
  const body = JSON.stringify({ level: "alert" });
  const steer = await fetch(`${dev.url}/v1/dev/simulator/S:frank`, { method: "POST", body });
  expect(steer.status).toBe(200);
  const tracksOf = async () => (await service.listParticipants(ROOM)).find((p) => p.identity === "frank")?.tracks ?? [];
  await until(async () => (await tracksOf()).some((t) => t.muted), 15_000, "frank's tracks muted");
  const tracks = await tracksOf();
  expect(tracks.map((t) => [t.sid, t.muted])).toEqual([[frank.sids.camera, true]]);
  await printed("--on-alert mute: muted 1 track(s) of frank");
  expect(frank.disconnectReason).toBeNull(); // muted, not removed
});

it("--speaking livekit: LiveKit's active speakers open the gate, so gina's speech reaches the API", async () => {
  gina = await startPublisher(livekit, ROOM, { identity: "gina", microphone: true });
  await until(() => bridge!.output().includes("participant gina joined as S:gina"), 15_000, "gina joined");
  await until(async () => (await simulator("S:gina")).pcm_chunks > 0, 20_000, "gina's first PCM chunk");
  const stats = await simulator("S:gina");
  expect(stats.pcm_chunks).toBeGreaterThanOrEqual(1);
  expect(stats.rejected).toBe(0);
});

it("monitorAllRooms leaves a room that has had no one to monitor, so it never keeps an empty room open", async () => {
  const all = monitorAllRooms({
    livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
    edge: { url: dev.url },
    pollMs: 500,
    idleLeaveMs: 2_000,
  });
  const ivan = await startPublisher(livekit, "T", { identity: "ivan", camera: true });
  try {
    const inT = () => all.rooms().find((m) => m.room === "T");
    const ivanMonitored = () => inT()?.participants().some((p) => p.participantId === "T:ivan") ?? false;
    await until(ivanMonitored, 20_000, "ivan monitored");
    const identity = inT()!.identity;
    await ivan.leave();
    await until(() => inT() === undefined, 15_000, "the idle room left");
    const listed = async () => (await service.listParticipants("T")).map((p) => p.identity);
    await until(async () => !(await listed()).includes(identity), 10_000, "the bridge gone from room T");
    await sleep(1_500); // two more polls: the room (no publisher now) is not joined again
    expect(all.rooms().map((m) => m.room)).not.toContain("T");
    expect(await listed()).not.toContain(identity);
  } finally {
    await ivan.leave();
    await all.stop();
  }
});
