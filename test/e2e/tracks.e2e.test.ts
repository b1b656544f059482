/**
 * End-to-end (docs/DESIGN.md §4): a microphone ALERT ends on its own once the microphone stops feeding the
 * API. A real `wrangler dev` with TRACK_TTL_S=10, a fake Dataspike API that answers the camera
 * CLEAR and the microphone ALERT, and a webhook sink. The person stops speaking but silent audio
 * frames keep arriving: they are not sent upstream, so they do not keep the track alive.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectParticipant, makeRgbFrame, mintConnectToken, PixelFormat, VideoSource, type ParticipantClient } from "./harness/client.js";
import { FakeUpstream, FrameFormat, productionVars } from "./harness/fake-upstream.js";
import { WebhookSink } from "./harness/webhook-sink.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";

const API_KEY = "tracks-key";
const ADMIN_KEY = "tracks-admin-0123456789";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TTL_S = 10;

let fake: FakeUpstream;
let sink: WebhookSink;
let dev: WranglerDev;
let client: ParticipantClient | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  sink = await WebhookSink.start({ secret: SECRET, path: "/hooks" });
  dev = await startWranglerDev({
    vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { TRACK_TTL_S: String(TTL_S), WEBHOOK_URLS: sink.url, WEBHOOK_SECRET: SECRET }),
  });
});

afterAll(async () => {
  await client?.close();
  await dev?.stop();
  await fake?.close();
  await sink?.close();
});

/** 20 ms of 48 kHz mono s16le: a 440 Hz tone, or silence. */
function audioFrame(index: number, tone: boolean): Uint8Array {
  const out = new Uint8Array(960 * 2);
  if (!tone) return out;
  const view = new DataView(out.buffer);
  for (let n = 0; n < 960; n++) view.setInt16(n * 2, Math.round(12_000 * Math.sin((2 * Math.PI * 440 * (index * 960 + n)) / 48_000)), true);
  return out;
}

it("a microphone ALERT followed by silence ends with one track_expired transition on time, on the socket and at the webhook", async () => {
  const id = `ttl-${Date.now().toString(36)}`;
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, id, 600);
  client = await connectParticipant(dev.url, id, token);
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);
  client.sendHello({ client: "e2e-tracks", vad: true });

  // The camera keeps streaming (2 fps in, 0.2 fps upstream) and the API answers it CLEAR.
  const frame = makeRgbFrame(0, 160, 120);
  const camera = setInterval(() => {
    client?.sendVideo({ trackId: "camera", width: 160, height: 120, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data: frame, timestampMs: Date.now() });
  }, 500);
  let answered = 0;
  const answerCamera = setInterval(() => {
    const frames = fake.frames.filter((f) => f.participantId === id && f.trackId === "camera");
    for (; answered < frames.length; answered++) fake.sendResult("CLEAR", id, "camera", "camera looks real");
  }, 100);
  try {
    await fake.waitFor(() => answered >= 1, 15_000, "a camera frame answered");

    // 3.5 s of speech: one 96 000-byte PCM chunk, answered ALERT.
    client.sendMessage({ speaking: { speaking: true } });
    let index = 0;
    for (; index < 175; index++) {
      client.sendMessage({ audio: { trackId: "microphone", sampleRate: 48_000, channels: 1, timestampMs: Date.now(), data: audioFrame(index, true) } });
      if (index % 5 === 4) await sleep(100);
    }
    client.sendMessage({ speaking: { speaking: false } });
    await fake.waitFor(() => fake.frames.some((f) => f.participantId === id && f.format === FrameFormat.PCM), 10_000, "the PCM chunk");
    const lastChunkAt = Math.max(...fake.frames.filter((f) => f.participantId === id && f.format === FrameFormat.PCM).map((f) => f.atMs));
    fake.sendResult("ALERT", id, "microphone", "cloned voice");
    const alert = await client.waitFor((e) => e.type === "deepfake_alert" && e.level === "alert", 10_000);
    expect(alert.event).toMatchObject({ previous_level: "clear", track_id: "microphone", reason: "result", simulated: false });

    // Silent frames keep arriving, 50 a second, until the expiry.
    const silence = setInterval(() => {
      for (let i = 0; i < 5; i++) client?.sendMessage({ audio: { trackId: "microphone", sampleRate: 48_000, channels: 1, timestampMs: Date.now(), data: audioFrame(index++, false) } });
    }, 100);
    try {
      const expired = await client.waitFor((e) => e.type === "deepfake_alert" && e.level === "clear", (TTL_S + 15) * 1000);
      const delayS = (expired.atMs - lastChunkAt) / 1000;
      const hook = await sink.waitForAccepted(String(expired.event.id), 10_000);
      console.log(
        `[measure] TRACK_TTL_S=${TTL_S}: microphone ALERT -> CLEAR (track_expired) ${delayS.toFixed(2)} s after its last PCM chunk went upstream;`,
        `webhook ${((hook.atMs - lastChunkAt) / 1000).toFixed(2)} s; silent frames meanwhile never reached the API`,
      );
      expect(expired.event).toMatchObject({ previous_level: "alert", level: "clear", track_id: "microphone", reason: "track_expired", simulated: false });
      expect(delayS).toBeGreaterThanOrEqual(TTL_S - 0.5);
      expect(delayS).toBeLessThanOrEqual(TTL_S + 8);
      expect(JSON.parse(hook.body)).toMatchObject({ id: expired.event.id, level: "clear", reason: "track_expired", simulated: false });
      expect(hook.verified).toBe(true);
      expect(fake.frames.filter((f) => f.participantId === id && f.format === FrameFormat.PCM)).toHaveLength(1);
      // Exactly one transition each way, and the history says why.
      await sleep(500);
      expect(client.ofType("deepfake_alert").map((e) => `${e.event.previous_level}->${e.event.level}:${e.event.reason}`)).toEqual(["clear->alert:result", "alert->clear:track_expired"]);
      const history = (await (await fetch(`${dev.url}/v1/participants/${id}/events`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as {
        events: Array<{ reason: string; simulated: boolean }>;
      };
      expect(history.events.map((e) => [e.reason, e.simulated])).toEqual([["result", false], ["track_expired", false]]);
    } finally {
      clearInterval(silence);
    }
  } finally {
    clearInterval(camera);
    clearInterval(answerCamera);
  }
});
