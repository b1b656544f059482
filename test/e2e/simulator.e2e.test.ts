/**
 * End-to-end in local development mode, as `npm start` runs it: DEV_MODE=true and no Dataspike key,
 * so objects stream to the built-in simulator. A `ws` client streams 640x480 camera frames at 15 fps;
 * the simulator's own counters show JPEGs arriving at about 0.2 fps, then about 1 fps once it is
 * steered to SUSPICIOUS.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";
import { connectParticipant, startVideoStream, VideoSource, type ParticipantClient } from "./harness/client.js";

interface SimulatorStats {
  level: string;
  jpeg_frames: number;
  rejected: number;
  last_jpeg: { width: number; height: number } | null;
}

let dev: WranglerDev;
let client: ParticipantClient | undefined;
let stream: { stop(): unknown } | undefined;

beforeAll(async () => {
  dev = await startWranglerDev({ vars: { DEV_MODE: "true" } });
});

afterAll(async () => {
  stream?.stop();
  await client?.close();
  await dev?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stats(participantId: string): Promise<SimulatorStats> {
  return (await fetch(`${dev.url}/v1/dev/simulator/${participantId}`)).json() as Promise<SimulatorStats>;
}

it("streams to the simulator at 0.2 fps, and at 1 fps once steered to SUSPICIOUS", async () => {
  const participantId = "sim-e2e";
  client = await connectParticipant(dev.url, participantId); // dev mode without a secret: no token needed
  const ready = await client.waitFor((e) => e.type === "ready", 10_000);
  expect(ready.event).toMatchObject({ level: "clear", video_fps: 0.2, simulated: true, dev_mode: true });
  expect(String(ready.event.notice)).toContain("SIMULATED");
  // The Worker says so when it starts in development mode.
  expect(dev.logs()).toContain("DEV_MODE=true: development mode");
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 10_000);

  stream = startVideoStream(client, { trackId: "cam", fps: 15, source: VideoSource.CAMERA });
  await sleep(15_500);
  const normal = await stats(participantId);
  // Deadlines at 0, ~3.75, ~8.75, ~13.75 s (the first frame is taken at once, 25 % early tolerance).
  console.log(`[measure] simulator mode, CLEAR: ${normal.jpeg_frames} JPEGs in 15.5 s (${(normal.jpeg_frames / 15.5).toFixed(3)} fps)`);
  expect(normal.jpeg_frames).toBeGreaterThanOrEqual(3);
  expect(normal.jpeg_frames).toBeLessThanOrEqual(5);
  expect(normal.rejected).toBe(0);
  expect(normal.last_jpeg).toMatchObject({ width: 640, height: 480 });

  const steered = await fetch(`${dev.url}/v1/dev/simulator/${participantId}`, { method: "POST", body: JSON.stringify({ level: "suspicious" }) });
  expect(steered.status).toBe(200);
  const rate = await client.waitFor((e) => e.type === "rate" && e.video_fps === 1, 10_000);
  const alert = client.ofType("deepfake_alert")[0]?.event;
  expect(alert).toMatchObject({ level: "suspicious", previous_level: "clear", message: expect.stringContaining("SIMULATED") });
  const before = (await stats(participantId)).jpeg_frames;
  await sleep(Math.max(0, rate.atMs + 10_000 - Date.now()));
  const burst = (await stats(participantId)).jpeg_frames - before;
  console.log(`[measure] simulator mode, SUSPICIOUS: ${burst} JPEGs in the 10 s after the rate event (${(burst / 10).toFixed(2)} fps)`);
  expect(burst).toBeGreaterThanOrEqual(8);
  expect(burst).toBeLessThanOrEqual(12);
});
