/**
 * End-to-end: the bounded send queue drops the OLDEST frame while the upstream is down (the Python
 * reference dropped the newest). A real `wrangler dev` with a small queue and a fast sampling rate
 * so the test runs in seconds; the fake upstream records which frames arrive after it comes back.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { FakeUpstream, productionVars } from "./harness/fake-upstream.js";
import { startWranglerDev, type WranglerDev } from "./harness/wrangler-dev.js";
import { connectParticipant, makeRgbFrame, mintConnectToken, PixelFormat, VideoSource, type ParticipantClient } from "./harness/client.js";

const API_KEY = "queue-key";
const ADMIN_KEY = "queue-admin-0123456789";
const QUEUE_ITEMS = 4;
const FPS = 5;
const QUEUED_FRAMES = 12;

let fake: FakeUpstream;
let dev: WranglerDev;
let client: ParticipantClient | undefined;

beforeAll(async () => {
  fake = await FakeUpstream.start({ expectedKey: API_KEY });
  dev = await startWranglerDev({
    vars: productionVars(fake, { apiKey: API_KEY, adminKey: ADMIN_KEY }, { VIDEO_NORMAL_FPS: String(FPS), QUEUE_MAX_ITEMS: String(QUEUE_ITEMS) }),
  });
});

afterAll(async () => {
  await client?.close();
  await dev?.stop();
  await fake?.close();
});

it("keeps the newest frames and counts the dropped oldest while the upstream is down", async () => {
  const participantId = "queue-1";
  const { token } = await mintConnectToken(dev.url, ADMIN_KEY, participantId, 600);
  client = await connectParticipant(dev.url, participantId, token);
  await client.waitFor((e) => e.type === "upstream" && e.status === "connected", 15_000);

  fake.setAccepting(false);
  fake.dropAll();
  await client.waitFor((e) => e.type === "upstream" && e.status === "reconnecting", 10_000);

  // Frames carry their index as timestamp_ms, so the upstream tells which ones survived.
  const frame = makeRgbFrame(0, 160, 120);
  for (let i = 1; i <= QUEUED_FRAMES; i++) {
    client.sendVideo({ trackId: "cam", width: 160, height: 120, format: PixelFormat.RGB24, source: VideoSource.CAMERA, data: frame, timestampMs: i });
    await new Promise((r) => setTimeout(r, 1000 / FPS + 20));
  }
  const before = fake.frames.length;
  fake.setAccepting(true);
  await fake.waitFor(() => fake.frames.length >= before + QUEUE_ITEMS, 30_000, "queued frames after reconnect");
  await new Promise((r) => setTimeout(r, 500));
  await fake.settle();

  const delivered = fake.frames.slice(before).map((f) => f.timestampMs);
  console.log(`[measure] queue ${QUEUE_ITEMS}: ${QUEUED_FRAMES} frames sampled while down, delivered after reconnect: [${delivered.join(", ")}]`);
  expect(delivered).toEqual([9, 10, 11, 12]);

  const snapshot = (await (await fetch(`${dev.url}/v1/participants/${participantId}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })).json()) as {
    counters: Record<string, number>;
  };
  expect(snapshot.counters.dropped_by_queue).toBe(QUEUED_FRAMES - QUEUE_ITEMS);
  expect(snapshot.counters.frames_sampled).toBeGreaterThanOrEqual(QUEUED_FRAMES);
});
