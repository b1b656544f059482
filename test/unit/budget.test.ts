/**
 * Per-socket budgets (docs/DESIGN.md §5): token buckets on messages and bytes, audio no faster than
 * 1.5x real time, `rate_limited` answers that are themselves rate-limited, and a 1008 close for a
 * socket that keeps on. The defaults must leave a legitimate heavy client (30 fps 1080p I420 plus
 * 50 audio frames per second) untouched.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  AUDIO_MAX_SPEED_RATIO,
  SOCKET_BUDGET_BYTES_PER_S,
  SOCKET_BUDGET_MESSAGES_PER_S,
  SOCKET_OVER_BUDGET_CLOSE_AFTER,
  SOCKET_RATE_LIMITED_EVENTS_PER_S,
} from "../../src/config/limits";
import { expectedByteLength } from "../../src/protocol/frames";
import { VideoIngest } from "../../src/media/video-ingest";
import { DEFAULT_BUDGET, SocketBudget, audioSeconds, encodeBudgetFor } from "../../src/session/budget";
import { TokenBucket } from "../../src/shared/token-bucket";

const I420_1080P = expectedByteLength("I420", 1920, 1080) + 64;
const AUDIO_FRAME_20MS_48K = 960 * 2;

describe("TokenBucket", () => {
  it("starts full, refills at its rate, never holds more than its burst, and a refusal takes nothing", () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(1, 0)).toBe(true);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.take(1, 99)).toBe(false); // 0.99 tokens
    expect(bucket.take(1, 100)).toBe(true);
    expect(bucket.available(10_000)).toBe(5);
    expect(bucket.take(6, 10_000)).toBe(false);
    expect(bucket.available(10_000)).toBe(5);
  });

  it("admits at most rate x elapsed + burst over any run of requests (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 200 }), fc.integer({ min: 1, max: 20 })), { maxLength: 300 }), (steps) => {
        const bucket = new TokenBucket(50, 30, 0);
        let now = 0;
        let admitted = 0;
        for (const [gapMs, amount] of steps) {
          now += gapMs;
          if (bucket.take(amount, now)) admitted += amount;
        }
        expect(admitted).toBeLessThanOrEqual((50 * now) / 1000 + 30 + 1e-9);
      }),
    );
  });
});

describe("SocketBudget defaults", () => {
  it("admit 60 s of a 30 fps 1080p I420 camera plus 50 audio frames per second without a single refusal", () => {
    const budget = new SocketBudget(0);
    let refused = 0;
    // 20 ms ticks: an audio frame every tick, a video frame every 33.3 ms.
    let nextVideoMs = 0;
    for (let t = 0; t < 60_000; t += 20) {
      if (budget.admitMessage(AUDIO_FRAME_20MS_48K + 32, t) || budget.admitAudio("mic", audioSeconds(AUDIO_FRAME_20MS_48K, 48_000, 1), t)) refused++;
      while (nextVideoMs <= t) {
        if (budget.admitMessage(I420_1080P, t)) refused++;
        nextVideoMs += 1000 / 30;
      }
    }
    expect(refused).toBe(0);
    // And the sustained rates are above that load.
    expect(SOCKET_BUDGET_MESSAGES_PER_S).toBeGreaterThanOrEqual(2 * (30 + 50));
    expect(SOCKET_BUDGET_BYTES_PER_S).toBeGreaterThan(30 * I420_1080P + 50 * AUDIO_FRAME_20MS_48K);
  });

  it("admit real-time audio that arrives in bunches (a 1 s stall then a catch-up), but not 10x real time", () => {
    const budget = new SocketBudget(0);
    const frame = audioSeconds(AUDIO_FRAME_20MS_48K, 48_000, 1);
    let refused = 0;
    for (let t = 0; t < 10_000; t += 20) {
      if (t >= 4_000 && t < 5_000) continue; // stall
      const frames = t === 5_000 ? 51 : 1; // the stalled second arrives at once
      for (let i = 0; i < frames; i++) if (budget.admitAudio("mic", frame, t)) refused++;
    }
    expect(refused).toBe(0);

    const flood = new SocketBudget(0);
    let admittedS = 0;
    let refusedFlood = 0;
    for (let t = 0; t < 10_000; t += 2) {
      if (flood.admitAudio("mic", frame, t)) refusedFlood++;
      else admittedS += frame;
    }
    // 10 s at 10x real time offered 100 s of audio; at most 1.5x real time (plus the burst) got in.
    expect(refusedFlood).toBeGreaterThan(0);
    expect(admittedS).toBeLessThanOrEqual(AUDIO_MAX_SPEED_RATIO * 10 + DEFAULT_BUDGET.audioBurstS + frame);
    expect(admittedS).toBeGreaterThan(AUDIO_MAX_SPEED_RATIO * 10 - 1);
  });
});

describe("SocketBudget refusals", () => {
  it("answer at most SOCKET_RATE_LIMITED_EVENTS_PER_S refusals a second and close after SOCKET_OVER_BUDGET_CLOSE_AFTER in one episode", () => {
    const budget = new SocketBudget(0, { ...DEFAULT_BUDGET, messagesPerS: 10, messagesBurst: 10 });
    for (let i = 0; i < 10; i++) expect(budget.admitMessage(10, 0)).toBeNull();
    let notified = 0;
    let closedAt = -1;
    for (let i = 0; i < SOCKET_OVER_BUDGET_CLOSE_AFTER; i++) {
      const refusal = budget.admitMessage(10, 0);
      expect(refusal).toMatchObject({ kind: "messages" });
      if (refusal?.notify) notified++;
      if (refusal?.close && closedAt < 0) closedAt = i + 1;
    }
    expect(notified).toBe(SOCKET_RATE_LIMITED_EVENTS_PER_S);
    expect(closedAt).toBe(SOCKET_OVER_BUDGET_CLOSE_AFTER);
  });

  it("a socket that backs off starts a new episode and is not closed", () => {
    const budget = new SocketBudget(0, { ...DEFAULT_BUDGET, messagesPerS: 10, messagesBurst: 10, closeAfter: 20 });
    let t = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 25; i++) {
        const refusal = budget.admitMessage(1, t);
        expect(refusal?.close ?? false).toBe(false);
        if (refusal && i >= 15) break; // it notices and backs off
      }
      t += DEFAULT_BUDGET.episodeMs + 1_000;
    }
  });

  it("bytes are refused when a message is bigger than what is left, and refusals cost nothing", () => {
    const budget = new SocketBudget(0, { ...DEFAULT_BUDGET, bytesPerS: 1_000, bytesBurst: 1_000 });
    expect(budget.admitMessage(900, 0)).toBeNull();
    expect(budget.admitMessage(200, 0)).toMatchObject({ kind: "bytes" });
    expect(budget.admitMessage(100, 0)).toBeNull();
  });

  it("audio clocks are per track, with a shared one past the track limit", () => {
    const budget = new SocketBudget(0, { ...DEFAULT_BUDGET, audioBurstS: 1, maxAudioTracks: 2 });
    expect(budget.admitAudio("a", 1, 0)).toBeNull();
    expect(budget.admitAudio("b", 1, 0)).toBeNull();
    expect(budget.admitAudio("a", 0.5, 0)).toMatchObject({ kind: "audio" });
    expect(budget.admitAudio("c", 1, 0)).toBeNull();
    expect(budget.admitAudio("d", 0.5, 0)).toMatchObject({ kind: "audio" }); // c and d share the overflow clock
  });

  it("audioSeconds reads the declared parameters and is 0 for nonsense (validation refuses those)", () => {
    expect(audioSeconds(1920, 48_000, 1)).toBeCloseTo(0.02);
    expect(audioSeconds(3840, 48_000, 2)).toBeCloseTo(0.02);
    for (const [rate, ch] of [[0, 1], [48_000, 0], [Number.NaN, 1], [-1, 2]]) expect(audioSeconds(100, rate!, ch!)).toBe(0);
  });
});

describe("the encode budget (raw pixels converted and JPEG-encoded per socket)", () => {
  // One 8 MB buffer for every raw frame: allocating one per frame made this the slowest unit test.
  const pixels = new Uint8Array(1920 * 1080 * 4);
  const frame = (trackId: string, format: "RGBA" | "JPEG" = "RGBA") => ({
    kind: "video" as const,
    trackId,
    width: 1920,
    height: 1080,
    format,
    source: "camera" as const,
    timestampMs: 0,
    data: format === "JPEG" ? new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 4, 56, 7, 128, 1, 1, 17, 0, 0xff, 0xd9]) : pixels,
  });

  async function run(tracks: number, fps: number, seconds: number) {
    let encodes = 0;
    const video = new VideoIngest({
      fps: 1,
      jpegQuality: 75,
      limits: { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 },
      toleranceRatio: 0.25,
      maxTracks: 8,
      encode: async () => {
        encodes++;
        return new Uint8Array(4);
      },
    });
    const budget = new SocketBudget(0);
    const outcomes: Record<string, number> = {};
    for (let t = 0; t < seconds * 1000; t += 1000 / fps) {
      for (let k = 0; k < tracks; k++) {
        const outcome = await video.process(frame(`t${k}`), t, 1, budget.encode);
        outcomes[outcome.kind] = (outcomes[outcome.kind] ?? 0) + 1;
      }
    }
    return { encodes, outcomes };
  }

  it("a 1080p camera at the 1 fps burst rate is never throttled", async () => {
    const { encodes, outcomes } = await run(1, 30, 10);
    expect(outcomes.throttled ?? 0).toBe(0);
    expect(encodes).toBeGreaterThanOrEqual(10);
  });

  it("8 tracks of 1080p at 30 fps get at most 1.25 encodes a second (+ a burst of 2), and the rest are throttled before any pixel work", async () => {
    const { encodes, outcomes } = await run(8, 30, 10);
    expect(encodes).toBeLessThanOrEqual(1.25 * 10 + 2);
    expect(encodes).toBeGreaterThanOrEqual(1.25 * 10 - 1);
    expect(outcomes.throttled).toBeGreaterThan(0);
  });

  it("follows the deployment: smaller frames or a slower burst rate mean a smaller budget", () => {
    expect(encodeBudgetFor({ normalFps: 0.2, burstFps: 1, maxWidth: 1920, maxHeight: 1080 })).toEqual({ encodePixelsPerS: 1.25 * 1920 * 1080, encodePixelsBurst: 2 * 1920 * 1080 });
    expect(encodeBudgetFor({ normalFps: 0.2, burstFps: 0.5, maxWidth: 640, maxHeight: 480 }).encodePixelsPerS).toBe(0.5 * 640 * 480 * 1.25);
  });
});
