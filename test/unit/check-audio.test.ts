/**
 * An on-demand check's speech chunk (docs/DESIGN.md §13): while a check waits, the participant's next chunk
 * goes upstream even inside AUDIO_INTERVAL_S (60 s by default); one chunk, after which the interval
 * applies again. Real intake (client VAD), a fake upstream sink.
 */
import { describe, expect, it } from "vitest";
import { AUDIO_INTERVAL_S } from "../../src/config/limits";
import { AudioChunker } from "../../src/media/audio/chunker";
import type { ClientInput } from "../../src/protocol/client-messages";
import { MediaIntake, type Feed } from "../../src/session/media-intake";
import { frames, s16le, tone } from "./audio-signals";

const LIMITS = { maxWidth: 1920, maxHeight: 1080, maxPixels: 1920 * 1080 };

function makeIntake() {
  const chunks: Array<{ trackId: string; atMs: number }> = [];
  let nowMs = 0;
  const intake = new MediaIntake({
    participantId: "alice",
    audioIntervalMs: AUDIO_INTERVAL_S * 1000,
    video: { fps: 0.2, jpegQuality: 75, limits: LIMITS, toleranceRatio: 0.25, maxTracks: 8, encode: async () => new Uint8Array(4) },
    outputs: { send: (_bytes, trackId) => chunks.push({ trackId, atMs: nowMs }), count: () => undefined },
  });
  /** `seconds` of speech from one connection (client VAD), 20 ms frames at real time. */
  const speak = async (connectionId: string, startMs: number, seconds: number, trackId = "microphone") => {
    const feed: Feed = { connectionId, clientVad: true, videoFps: 0.2 };
    nowMs = startMs;
    await intake.ingestClientMessage(feed, { kind: "speaking", speaking: true }, nowMs);
    for (const samples of frames(tone(440, 48_000, seconds), 960)) {
      nowMs += 20;
      const input: ClientInput = { kind: "audio", trackId, sampleRate: 48_000, channels: 1, timestampMs: 0, data: s16le(samples) };
      await intake.ingestClientMessage(feed, input, nowMs);
    }
    await intake.ingestClientMessage(feed, { kind: "speaking", speaking: false }, nowMs);
  };
  return { intake, chunks, speak };
}

describe("the check's speech chunk", () => {
  it("goes inside the 60 s interval once, and the interval applies again after it", async () => {
    const { intake, chunks, speak } = makeIntake();
    await speak("a", 0, 3.2); // the first chunk, then the interval starts
    expect(chunks).toHaveLength(1);
    await speak("a", 10_000, 3.2); // 10 s later: inside the interval, nothing goes
    expect(chunks).toHaveLength(1);

    intake.allowCheckChunk(true); // a check starts 20 s after the first chunk
    await speak("a", 20_000, 3.2);
    expect(chunks).toHaveLength(2);
    expect(chunks[1]!.atMs).toBeLessThan(AUDIO_INTERVAL_S * 1000);

    await speak("a", 30_000, 3.2); // the check already had its chunk
    expect(chunks).toHaveLength(2);
    await speak("a", chunks[1]!.atMs + AUDIO_INTERVAL_S * 1000 - 4_000, 3.2); // the interval counts from the check's chunk
    expect(chunks).toHaveLength(2);
    await speak("a", chunks[1]!.atMs + AUDIO_INTERVAL_S * 1000 + 100, 3.2);
    expect(chunks).toHaveLength(3);
  });

  it("is one chunk per participant, whichever connection completes it; a check that ends without one lets nothing through", async () => {
    const { intake, chunks, speak } = makeIntake();
    await speak("a", 0, 3.2);
    await speak("b", 100, 3.2, "mic-b");
    expect(chunks).toHaveLength(2);
    intake.allowCheckChunk(true);
    await speak("b", 20_000, 3.2, "mic-b");
    await speak("a", 25_000, 3.2);
    expect(chunks.map((c) => c.trackId)).toEqual(["microphone", "mic-b", "mic-b"]);

    intake.allowCheckChunk(true);
    intake.allowCheckChunk(false); // the check's window ended in silence
    await speak("a", 30_000, 3.2);
    expect(chunks).toHaveLength(3);
  });

  it("a connection that joins during the check gets the exception too", async () => {
    const { intake, chunks, speak } = makeIntake();
    await speak("a", 0, 3.2);
    intake.allowCheckChunk(true);
    await speak("late", 5_000, 3.2); // a new socket with its own audio path (no chunk of its own yet either)
    await speak("a", 10_000, 3.2);
    expect(chunks.map((c) => c.atMs < 10_000)).toEqual([true, true]);
  });
});

describe("the audio hint during a check", () => {
  it("says speech is wanted while the check waits, and not wanted again for the interval after its chunk", async () => {
    const { intake, chunks, speak } = makeIntake();
    await speak("a", 0, 3.2);
    const firstAt = chunks[0]!.atMs;
    expect(intake.audioHint("a", firstAt + 1)).toMatchObject({ wanted: false, until_ms: firstAt + AUDIO_INTERVAL_S * 1000 });
    intake.allowCheckChunk(true);
    expect(intake.audioHint("a", 20_000)).toEqual({ type: "audio", wanted: true, until_ms: 0, resume_in_ms: 0 });
    await speak("a", 20_000, 3.2);
    const checkAt = chunks[1]!.atMs;
    expect(intake.audioHint("a", checkAt + 1)).toMatchObject({ wanted: false, until_ms: checkAt + AUDIO_INTERVAL_S * 1000 });
  });

  it("a check that ends without speech leaves the pause where it was", async () => {
    const { intake, chunks, speak } = makeIntake();
    await speak("a", 0, 3.2);
    intake.audioHint("a", 100);
    intake.allowCheckChunk(true);
    expect(intake.audioHint("a", 5_000)?.wanted).toBe(true);
    intake.allowCheckChunk(false);
    expect(intake.audioHint("a", 15_000)).toMatchObject({ wanted: false, until_ms: chunks[0]!.atMs + AUDIO_INTERVAL_S * 1000 });
  });
});

describe("AudioChunker.allowNextChunk", () => {
  it("lets one chunk through the interval, then the interval counts from it", () => {
    const chunker = new AudioChunker({ intervalMs: 60_000 });
    const second = new Float32Array(16_000).fill(0.1);
    const threeSeconds = new Float32Array(48_000).fill(0.1);
    expect(chunker.push(threeSeconds, true, 0)).toHaveLength(1);
    expect(chunker.push(threeSeconds, true, 1_000)).toHaveLength(0);
    chunker.allowNextChunk(true);
    expect(chunker.push(second, true, 2_000)).toHaveLength(0);
    expect(chunker.speechEnded(3_000)).toHaveLength(1); // >= 1 s, zero-padded
    expect(chunker.lastEmitMs).toBe(3_000);
    expect(chunker.push(threeSeconds, true, 4_000)).toHaveLength(0);
    expect(chunker.push(threeSeconds, true, 63_000)).toHaveLength(1);
  });
});
