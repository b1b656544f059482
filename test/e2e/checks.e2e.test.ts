/**
 * End-to-end (DESIGN §13): on-demand checks against a real `wrangler dev` in its default
 * configuration (0.2 fps normal, 1 fps burst, a 60 s audio interval), a fake Dataspike API that
 * answers every frame CLEAR, and a webhook sink.
 * - A participant streams a camera and has spoken once (its microphone counts). A check raises the
 *   camera's upstream rate to about 1 fps, lets a speech chunk through inside the 60 s audio
 *   interval, and completes `answered` once both tracks answered; sockets and webhooks get it.
 * - A participant that sends no media: the check ends `no_media` on the object's alarm.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectParticipant, makeRgbFrame, mintConnectToken, PixelFormat, VideoSource, type ParticipantClient } from "./harness/client.js";
import { FakeUpstream, FrameFormat, productionVars } from "./harness/fake-upstream.js";
import { WebhookSink } from "./harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "checks-key";
const ADMIN_KEY = "checks-admin-key-0123456789";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

let fake: FakeUpstream;
let sink: WebhookSink;
let dev: WranglerDev;
const clients: ParticipantClient[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY, autoRespond: "CLEAR" });
  sink = await WebhookSink.start({ secret: SECRET, path: "/hooks" });
  dev = await startWranglerDev({ vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: SECRET }) });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  await dev?.stop();
  await fake?.close();
  await sink?.close();
});

async function join(id: string): Promise<ParticipantClient> {
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, id, 600);
  const client = await connectParticipant(dev.url, id, token);
  clients.push(client);
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
  return client;
}

function startCheck(id: string, body?: unknown): Promise<Response> {
  return fetch(`${dev.url}/v1/participants/${id}/checks`, {
    method: "POST",
    headers: { ...admin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** `seconds` of a 440 Hz tone as 20 ms AudioFrames at real time, between Speaking markers. */
async function speak(client: ParticipantClient, seconds: number): Promise<void> {
  client.sendMessage({ speaking: { speaking: true } });
  const frames = Math.round(seconds * 50);
  for (let i = 0; i < frames; i++) {
    const data = new Uint8Array(960 * 2);
    const view = new DataView(data.buffer);
    for (let n = 0; n < 960; n++) view.setInt16(n * 2, Math.round(12_000 * Math.sin((2 * Math.PI * 440 * (i * 960 + n)) / 48_000)), true);
    client.sendMessage({ audio: { trackId: "microphone", sampleRate: 48_000, channels: 1, timestampMs: Date.now(), data } });
    if (i % 5 === 4) await sleep(100);
  }
  client.sendMessage({ speaking: { speaking: false } });
}

it("a check raises the camera to about 1 fps upstream, sends a chunk inside the 60 s audio interval and completes `answered`", async () => {
  const id = `check-a-${Date.now().toString(36)}`;
  const client = await join(id);
  client.sendHello({ client: "e2e-checks", vad: true });
  const frame = makeRgbFrame(0, 160, 120);
  const camera = setInterval(() => {
    client.sendVideo({ trackId: "camera", width: 160, height: 120, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data: frame, timestampMs: Date.now() });
  }, 250); // 4 fps in; the service samples
  const pcm = () => fake.frames.filter((f) => f.participantId === id && f.format === FrameFormat.PCM);
  const jpegs = (fromMs: number, toMs: number) => fake.frames.filter((f) => f.participantId === id && f.format === FrameFormat.JPEG && f.atMs >= fromMs && f.atMs <= toMs);
  try {
    // Before the check: the camera and the microphone both count (each answered CLEAR).
    await speak(client, 3.5);
    await fake.waitFor(() => pcm().length === 1, 10_000, "the first PCM chunk");
    const firstChunkAt = pcm()[0]!.atMs;
    await fake.waitFor(() => jpegs(0, Infinity).length >= 1, 10_000, "a camera frame");
    await client.waitFor((e) => e.type === "audio" && e.wanted === false, 5_000); // the 60 s pause began

    const res = await startCheck(id, { duration_s: 20 });
    expect(res.status).toBe(201);
    const answer = (await res.json()) as { check_id: string; until_ms: number };
    const startedAt = Date.now();
    expect(answer.check_id).toMatch(/^chk_/);
    expect(answer.until_ms).toBeGreaterThanOrEqual(startedAt + 18_000);
    const started = await client.waitFor((e) => e.type === "check_started", 5_000);
    expect(started.event).toEqual({ type: "check_started", check_id: answer.check_id, participant_id: id, room_id: null, until_ms: answer.until_ms });
    await client.waitFor((e) => e.type === "rate" && e.video_fps === 1, 5_000);
    await client.waitFor((e) => e.type === "audio" && e.wanted === true, 5_000); // speech is wanted for the check
    // A second request joins the running check.
    const again = await startCheck(id);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(answer);

    // Let the camera run at the burst rate, then speak: 37 s inside the 60 s interval at most.
    await sleep(6_000);
    await speak(client, 3.5);
    const completed = await client.waitFor((e) => e.type === "check_completed", 15_000);
    const doneAt = Date.now();
    expect(pcm()).toHaveLength(2);
    expect(pcm()[1]!.atMs - firstChunkAt).toBeLessThan(60_000);
    expect(completed.event).toMatchObject({
      type: "check_completed",
      check_id: answer.check_id,
      participant_id: id,
      room_id: null,
      level: "clear",
      outcome: "answered",
      started_ms: expect.any(Number),
      simulated: false,
    });
    const tracks = completed.event.tracks as Array<{ track_id: string; level: string }>;
    expect(tracks.map((t) => t.track_id).sort()).toEqual(["camera", "microphone"]);
    expect(completed.event.results as number).toBeGreaterThanOrEqual(2);
    expect(completed.event.completed_ms as number).toBeLessThan(answer.until_ms);
    // About 1 fps upstream during the window (0.2 fps outside it).
    const windowS = (doneAt - startedAt) / 1000;
    const rate = jpegs(startedAt, doneAt).length / windowS;
    expect(rate, `camera frames upstream per second during the ${windowS.toFixed(1)} s window`).toBeGreaterThan(0.6);
    expect(rate).toBeLessThan(1.6);
    await client.waitFor((e) => e.type === "rate" && e.video_fps === 0.2, 5_000); // back to the normal rate
    // After the check's chunk the interval applies again: more speech sends nothing.
    await speak(client, 3.5);
    await sleep(1_000);
    expect(pcm()).toHaveLength(2);
    // The webhook: signed, type check_completed, the same event.
    const delivery = await sink.waitForAccepted(completed.event.id as string, 15_000);
    expect(delivery.verified).toBe(true);
    expect(JSON.parse(delivery.body)).toEqual(completed.event);
  } finally {
    clearInterval(camera);
  }
}, 90_000);

it("a check of a participant that sends no media ends `no_media` when its window ends; bad requests get clear errors", async () => {
  const id = `check-b-${Date.now().toString(36)}`;
  const client = await join(id);
  const tooLong = await startCheck(id, { duration_s: 61 });
  expect(tooLong.status).toBe(400);
  expect(await tooLong.json()).toMatchObject({ error: "bad_duration", message: expect.stringMatching(/from 1 to 60/) });
  expect((await startCheck("never-connected-participant", { duration_s: 2 })).status).toBe(404);
  expect((await fetch(`${dev.url}/v1/participants/${id}/checks`, { method: "POST" })).status).toBe(401);

  const res = await startCheck(id, { duration_s: 2 });
  expect(res.status).toBe(201);
  const answer = (await res.json()) as { check_id: string; until_ms: number };
  const completed = await client.waitFor((e) => e.type === "check_completed", 10_000);
  expect(completed.event).toMatchObject({ check_id: answer.check_id, outcome: "no_media", results: 0, tracks: [], level: "clear" });
  expect(completed.event.completed_ms as number).toBeGreaterThanOrEqual(answer.until_ms);
  expect(completed.atMs - answer.until_ms).toBeLessThan(3_000);
  const delivery = await sink.waitForAccepted(completed.event.id as string, 15_000);
  expect(JSON.parse(delivery.body)).toMatchObject({ type: "check_completed", outcome: "no_media" });

  // The Check client message starts one too (empty: the default 10 s window).
  client.sendMessage({ check: {} });
  const started = await client.waitFor((e) => e.type === "check_started" && e.check_id !== answer.check_id, 5_000);
  expect((started.event.until_ms as number) - Date.now()).toBeGreaterThan(8_000);
}, 60_000);
