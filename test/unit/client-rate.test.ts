/**
 * Client-side rate limiting: the SDK sends video no faster than the rate the server announces
 * (`ready`, then `rate`), on a schedule, so the server's own sampler keeps every frame it sends.
 * A 30 fps camera is simulated on a fake clock; what counts is what reaches the socket.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { DeepfakeEdgeClient } from "../../src/client/client";
import { VideoSampler } from "../../src/shared/sampler";
import { SAMPLER_TOLERANCE_RATIO } from "../../src/config/limits";
import { CLIENT_MAX_BUFFERED_BYTES } from "../../src/client/options";
import { FakeClock, fakeJpeg, fakeServer, type FakeSocket } from "./client-fakes";

const CAMERA_FPS = 30;
const FRAME_MS = 1000 / CAMERA_FPS;
const JPEG = fakeJpeg(20_000);
/** The SDK's schedule takes a frame up to 5 % of a period early (CLIENT_SAMPLER_TOLERANCE_RATIO). */
const EARLY = 0.05;

/** At `fps`, over `durationMs`: about one frame per period, never two closer than 95 % of a period. */
function expectRate(sentAt: number[], fps: number, durationMs: number): void {
  const periodMs = 1000 / fps;
  expect(sentAt.length).toBeGreaterThanOrEqual(Math.floor(durationMs / periodMs));
  expect(sentAt.length).toBeLessThanOrEqual(Math.floor((durationMs + EARLY * periodMs) / periodMs) + 1);
  for (let i = 1; i < sentAt.length; i++) expect(sentAt[i]! - sentAt[i - 1]!).toBeGreaterThanOrEqual((1 - EARLY) * periodMs - 1);
}

let clock: FakeClock;
let server: ReturnType<typeof fakeServer>;

function makeClient(options: { honorRate?: boolean } = {}): DeepfakeEdgeClient {
  return new DeepfakeEdgeClient({
    baseUrl: "http://edge.test",
    participantId: "p1",
    socketFactory: server.factory,
    timers: clock,
    random: () => 0,
    ...options,
  });
}

/** Offers a camera frame every 1/30 s for `durationMs`; returns the clock times of frames that were sent. */
async function runCamera(client: DeepfakeEdgeClient, socket: FakeSocket, durationMs: number, trackId = "camera"): Promise<number[]> {
  const sentAt: number[] = [];
  const start = clock.now();
  for (let i = 0; start + i * FRAME_MS < start + durationMs; i++) {
    const target = start + i * FRAME_MS;
    await clock.advance(target - clock.now());
    const before = socket.raw.length;
    client.sendVideo({ trackId, width: 640, height: 480, format: "JPEG", data: JPEG });
    if (socket.raw.length > before) sentAt.push(Math.round(clock.now()));
  }
  await clock.advance(start + durationMs - clock.now());
  return sentAt;
}

beforeEach(() => {
  clock = new FakeClock();
  server = fakeServer(clock);
});

describe("video rate limiting", () => {
  it("sends nothing before the server announces a rate, then 0.2 fps in CLEAR: 13 of 1800 frames in a minute", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.open();
    expect(client.sendVideo({ width: 640, height: 480, format: "JPEG", data: JPEG })).toBe("not_ready");
    socket.push({ type: "ready", participant_id: "p1", level: "clear", video_fps: 0.2, simulated: true, dev_mode: true });

    const sentAt = await runCamera(client, socket, 60_000);

    // t = 0, then on a 5 s schedule taken at most 5 % early: 4.77 s, 9.77 s, ... 59.77 s.
    expectRate(sentAt, 0.2, 60_000);
    expect(sentAt).toHaveLength(13);
    expect(client.stats.sent.videoFrames).toBe(13);
    expect(client.stats.dropped.rate_limited).toBe(1800 - 13);
    expect(socket.sentOf("hello")[0]?.hello?.honorsRate).toBe(true);
  });

  it("follows `rate` events: 1 fps while SUSPICIOUS, back to 0.2 fps after", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.accept(0.2);
    const clear = await runCamera(client, socket, 10_000);
    expectRate(clear, 0.2, 10_000);

    socket.push({ type: "rate", video_fps: 1 });
    expect(client.videoFps).toBe(1);
    const burst = await runCamera(client, socket, 10_000);
    expectRate(burst, 1, 10_000);
    expect(burst[0]! - clear[clear.length - 1]!).toBeGreaterThanOrEqual(950);

    socket.push({ type: "rate", video_fps: 0.2 });
    const after = await runCamera(client, socket, 20_000);
    expectRate(after, 0.2, 20_000);
    expect(after[0]! - burst[burst.length - 1]!).toBeGreaterThanOrEqual(4_750);
  });

  it("keeps one schedule per track", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.accept(1);
    for (let i = 0; i < 20; i++) {
      client.sendVideo({ trackId: "cam-a", width: 2, height: 2, format: "RGBA", data: new Uint8Array(16) });
      client.sendVideo({ trackId: "cam-b", width: 2, height: 2, format: "RGB24", data: new Uint8Array(12) });
      await clock.advance(FRAME_MS);
    }
    const tracks = socket.sentOf("video").map((m) => m.video?.trackId);
    expect(tracks).toEqual(["cam-a", "cam-b"]);
  });

  it("a rate of 0 stops video; honorRate: false sends every frame and says so in Hello", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    server.last().accept(0);
    expect(await runCamera(client, server.last(), 5_000)).toHaveLength(0);

    const naive = makeClient({ honorRate: false });
    void naive.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.accept(0.2);
    expect(await runCamera(naive, socket, 2_000)).toHaveLength(60);
    expect(socket.sentOf("hello")[0]?.hello?.honorsRate).toBe(false);
  });

  it("renders (captureVideo) only the frames that are due", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.accept(1);
    let renders = 0;
    const results: string[] = [];
    for (let i = 0; i < 80; i++) {
      results.push(
        await client.captureVideo({ width: 640, height: 480, format: "JPEG" }, async () => {
          renders++;
          return JPEG;
        }),
      );
      await clock.advance(FRAME_MS);
    }
    expect(renders).toBe(3);
    expect(socket.sentOf("video")).toHaveLength(3);
    expect(results.filter((r) => r === "rate_limited")).toHaveLength(77);
  });

  it("under backpressure drops video without using up the slot, then sends when the buffer drains", async () => {
    const client = makeClient();
    void client.connect();
    await clock.advance(0);
    const socket = server.last();
    socket.accept(0.2);
    socket.bufferedAmount = CLIENT_MAX_BUFFERED_BYTES + 1;
    expect(client.sendVideo({ width: 640, height: 480, format: "JPEG", data: JPEG })).toBe("backpressure");
    socket.bufferedAmount = 0;
    expect(client.sendVideo({ width: 640, height: 480, format: "JPEG", data: JPEG })).toBe("sent");
  });

  it("every frame the SDK sends is kept by the server's sampler, with up to 20 % of a period of network jitter", async () => {
    for (const fps of [0.2, 1]) {
      clock = new FakeClock();
      server = fakeServer(clock);
      const client = makeClient();
      void client.connect();
      await clock.advance(0);
      const socket = server.last();
      socket.accept(fps);
      const sentAt = await runCamera(client, socket, 120_000);
      // Deterministic pseudo-random delays in [0, 0.2 period).
      let seed = 7;
      const jitter = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647) * 0.2 * (1000 / fps);
      const serverSampler = new VideoSampler(fps, { toleranceRatio: SAMPLER_TOLERANCE_RATIO });
      const kept = sentAt.filter((t) => serverSampler.offer(t + jitter()));
      expect(kept).toHaveLength(sentAt.length);
      expectRate(sentAt, fps, 120_000);
    }
  });
});
